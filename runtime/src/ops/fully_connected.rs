//! Fully connected layer. See [`crate::FullyConnected`].

use super::{I32s, RequantView};
use crate::quant::{requantize, requantize_wide};
use crate::tensor::Elem;

/// Inputs per i32 partial sum: `128 * 128 * 65535 < 2^31`, so a block of
/// int16 inputs (any zero point) cannot overflow it.
const BLOCK: usize = 128;

/// Reference kernel: `y[o] = rq(bias[o] + sum w[o][i] (x[i] - in_zp)) + out_zp`,
/// saturated to `out_elem`, then raised to `out_zp` if `relu` (the SE's
/// hidden layer). `input` holds `cin` values of `in_elem`, `output` `cout`
/// of `out_elem`. The sum is exact: i32 partial sums over `BLOCK` inputs
/// added in i64, so 1024 int16 inputs cannot overflow it (for int8 inputs
/// it equals the i32 sum of the other kernels).
pub fn fully_connected_reference(
    (input, in_elem): (&[i8], Elem),
    a: &FcArgs<'_>,
    (output, out_elem): (&mut [i8], Elem),
) {
    let cin = input.len() / in_elem.bytes();
    let cout = output.len() / out_elem.bytes();
    for o in 0..cout {
        // Validated to hold `cin` weights per output (no panic if not).
        let row = a.weights.get(o * cin..(o + 1) * cin).unwrap_or(&[]);
        a.store((output, out_elem), o, dot(row, input, in_elem, a.in_zp));
    }
}

/// The operands of a fully connected layer besides its input and output
/// (the layer's, or one of the squeeze-excite's two).
#[derive(Clone, Copy)]
pub struct FcArgs<'a> {
    /// Input zero point.
    pub in_zp: i32,
    /// Weights `[cout][cin]`.
    pub weights: &'a [i8],
    /// Bias per output.
    pub bias: I32s<'a>,
    /// Requantization per output.
    pub requant: RequantView<'a>,
    /// Output zero point.
    pub out_zp: i32,
    /// Whether outputs below `out_zp` are raised to it (the SE's hidden
    /// layer).
    pub relu: bool,
}

impl FcArgs<'_> {
    /// Output `o` from its exact dot product `sum w (x - in_zp)`: bias,
    /// requantization, `out_zp` and the ReLU floor, stored as `out_elem`.
    /// Shared with the fast kernel (`kernels::squeeze_excite`).
    #[inline(always)]
    pub(crate) fn store(&self, (output, out_elem): (&mut [i8], Elem), o: usize, dot: i64) {
        let acc = self.bias.get(o) as i64 + dot;
        let (m, s) = (self.requant.multiplier.get(o), self.requant.shift.get(o));
        // The same value either way; the 32-bit form is the cheap one.
        let mut y = match i32::try_from(acc) {
            Ok(a) => requantize(a, m, s),
            Err(_) => requantize_wide(acc, m, s),
        }
        .saturating_add(self.out_zp);
        if self.relu && y < self.out_zp {
            y = self.out_zp;
        }
        out_elem.store(output, o, y);
    }
}

/// `sum_i w[i] * (x[i] - in_zp)` with the element type decided once: i32
/// sums over blocks of [`BLOCK`] inputs, added in i64.
fn dot(row: &[i8], input: &[i8], elem: Elem, in_zp: i32) -> i64 {
    let mut total = 0i64;
    match elem {
        Elem::I8 => {
            for (ws, xs) in row.chunks(BLOCK).zip(input.chunks(BLOCK)) {
                let part = ws.iter().zip(xs).fold(0i32, |a, (&w, &x)| {
                    a.wrapping_add(w as i32 * (x as i32 - in_zp))
                });
                total += part as i64;
            }
        }
        Elem::I16 => {
            for (ws, xs) in row.chunks(BLOCK).zip(input.chunks(2 * BLOCK)) {
                let part = ws.iter().zip(xs.chunks_exact(2)).fold(0i32, |a, (&w, b)| {
                    let x = match b {
                        &[lo, hi] => i16::from_le_bytes([lo as u8, hi as u8]) as i32,
                        _ => 0,
                    };
                    a.wrapping_add(w as i32 * (x - in_zp))
                });
                total += part as i64;
            }
        }
    }
    total
}
