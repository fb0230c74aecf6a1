//! Fully connected layer. See [`crate::FullyConnected`].

use super::{I32s, RequantView};
use crate::quant::requantize_wide;
use crate::tensor::Elem;

/// Reference kernel: `y[o] = rq(bias[o] + sum w[o][i] (x[i] - in_zp)) + out_zp`,
/// saturated to `out_elem`, then raised to `out_zp` if `relu` (the SE's
/// hidden layer). `input` holds `cin` values of `in_elem`, `output` `cout`
/// of `out_elem`. The sum is i64 (`SMLAL` on a Cortex-M), so an int16 input
/// cannot overflow it; for int8 inputs it equals the i32 sum of the other
/// kernels.
#[allow(clippy::too_many_arguments)]
pub fn fully_connected_reference(
    (input, in_elem): (&[i8], Elem),
    in_zp: i32,
    weights: &[i8],
    bias: I32s<'_>,
    requant: RequantView<'_>,
    out_zp: i32,
    relu: bool,
    (output, out_elem): (&mut [i8], Elem),
) {
    let cin = input.len() / in_elem.bytes();
    let cout = output.len() / out_elem.bytes();
    for o in 0..cout {
        // Validated to hold `cin` weights per output (no panic if not).
        let row = weights.get(o * cin..(o + 1) * cin).unwrap_or(&[]);
        let mut acc = bias.get(o) as i64;
        for (i, &w) in row.iter().enumerate() {
            acc += w as i64 * (in_elem.load(input, i) - in_zp) as i64;
        }
        let (m, s) = (requant.multiplier.get(o), requant.shift.get(o));
        let mut y = requantize_wide(acc, m, s).saturating_add(out_zp);
        if relu && y < out_zp {
            y = out_zp;
        }
        out_elem.store(output, o, y);
    }
}
