//! Fully connected layer. See [`crate::FullyConnected`].

use super::{I32s, RequantView};
use crate::quant::requantize_i8;

/// Reference kernel: `y[o] = rq(bias[o] + sum w[o][i] (x[i] - in_zp)) + out_zp`.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_reference(
    input: &[i8],
    in_zp: i32,
    weights: &[i8],
    bias: I32s<'_>,
    requant: RequantView<'_>,
    out_zp: i32,
    relu: bool,
    output: &mut [i8],
) {
    let cin = input.len();
    for (o, out) in output.iter_mut().enumerate() {
        // Validated to hold `cin` weights per output (no panic if not).
        let row = weights.get(o * cin..(o + 1) * cin).unwrap_or(&[]);
        let mut acc = bias.get(o);
        for (&w, &x) in row.iter().zip(input) {
            acc += w as i32 * (x as i32 - in_zp);
        }
        let mut y = requantize_i8(acc, requant.multiplier.get(o), requant.shift.get(o), out_zp);
        if relu && (y as i32) < out_zp {
            y = out_zp as i8;
        }
        *out = y;
    }
}
