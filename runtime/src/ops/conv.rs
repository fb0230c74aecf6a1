//! Grouped 2-D convolution, NHWC, OHWI weights. See [`crate::Conv`] for the
//! integer contract.

use super::{I32s, RequantView};
use crate::quant::requantize_i8;
use crate::schedule::Conv;

/// Resolved operands of a [`Conv`].
pub struct ConvArgs<'a> {
    /// Input activations, `h * w * cin` (unused by [`conv_element`], which
    /// reads through a closure, and by the kernels built on it).
    pub input: &'a [i8],
    /// Weights, `cout * k * k * cin/groups`.
    pub weights: &'a [i8],
    /// Bias per output channel.
    pub bias: I32s<'a>,
    /// Requantization per output channel.
    pub requant: RequantView<'a>,
    /// Padding value per input channel, or empty for `in_zp`.
    pub pad_values: &'a [i8],
    /// Activation table, or empty.
    pub lut: &'a [i8],
}

/// One output element `(oy, ox, o)`: the whole [`Conv`] contract in one
/// place. `x(iy, ix, c)` returns the input element at an in-bounds position
/// (`None` if the buffer is too short, which the executor rules out: the
/// output is then 0, with no panic compiled in);
/// taps outside the input read the padding value instead. Every conv kernel
/// (reference, in place, streamed, fused) computes its outputs with this.
#[inline(always)]
pub fn conv_element(
    p: &Conv,
    a: &ConvArgs<'_>,
    oy: usize,
    ox: usize,
    o: usize,
    x: impl Fn(usize, usize, usize) -> Option<i8>,
) -> i8 {
    let (ih, iw, cin) = (p.input.h as i32, p.input.w as i32, p.input.c as usize);
    let cout = p.output.c as usize;
    let (k, stride, pad) = (p.kernel as i32, p.stride as i32, p.pad as i32);
    // Validated non-zero (`Model` checks groups and shapes); `checked_div`
    // keeps a division-by-zero panic out of the code all the same.
    let cin_g = cin.checked_div(p.groups as usize).unwrap_or(0);
    let cout_g = cout.checked_div(p.groups as usize).unwrap_or(0);
    let g = o.checked_div(cout_g).unwrap_or(0);
    let mut acc = a.bias.get(o);
    for ky in 0..k {
        let iy = oy as i32 * stride + ky - pad;
        for kx in 0..k {
            let ix = ox as i32 * stride + kx - pad;
            let inside = iy >= 0 && iy < ih && ix >= 0 && ix < iw;
            let wbase = ((o * k as usize + ky as usize) * k as usize + kx as usize) * cin_g;
            // Checked reads that leave the function on failure (never: the
            // executor validated every operand): no panic compiled in.
            let Some(taps) = a.weights.get(wbase..wbase + cin_g) else {
                return 0;
            };
            for (ci, &w) in taps.iter().enumerate() {
                let c = g * cin_g + ci;
                let v = if inside {
                    let Some(v) = x(iy as usize, ix as usize, c) else {
                        return 0;
                    };
                    v as i32
                } else if a.pad_values.is_empty() {
                    p.in_zp
                } else {
                    let Some(&v) = a.pad_values.get(c) else {
                        return 0;
                    };
                    v as i32
                };
                acc += w as i32 * (v - p.in_zp);
            }
        }
    }
    let mut y = requantize_i8(
        acc,
        a.requant.multiplier.get(o),
        a.requant.shift.get(o),
        p.out_zp,
    );
    if !a.lut.is_empty() {
        y = crate::quant::lut(a.lut, y);
    }
    y
}

/// Reference kernel: loops in output order (y, x, o), taps (ky, kx, ci).
pub fn conv_reference(p: &Conv, a: &ConvArgs<'_>, output: &mut [i8]) {
    let (iw, cin) = (p.input.w as usize, p.input.c as usize);
    let (oh, ow, cout) = (
        p.output.h as usize,
        p.output.w as usize,
        p.output.c as usize,
    );
    // Output order is (y, x, o): one pass over the output slice.
    let mut out = output.iter_mut();
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..cout {
                let Some(dst) = out.next() else { return };
                *dst = conv_element(p, a, oy, ox, o, |iy, ix, c| {
                    a.input.get((iy * iw + ix) * cin + c).copied()
                });
            }
        }
    }
}
