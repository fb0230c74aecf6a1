//! The fast depthwise convolution ([`ConvVariant::Depthwise`],
//! [`ConvVariant::DepthwiseInPlace`], and the `dw` stage of a fused
//! [`ConvMlp`](crate::ConvMlp) whose `dw` variant is `Depthwise`).
//!
//! One output pixel is computed for all channels at once, `CHUNK` channels
//! at a time in a fixed-size i32 stack accumulator: per tap,
//! `acc[c] += w[tap][c] * x[tap_pixel][c]`, a contiguous loop over channels
//! that LLVM vectorizes (NHWC input, weights laid out tap-major,
//! channel-minor by codegen). The input zero point is folded out: codegen
//! stores `folded_bias[c] = bias[c] - in_zp * sum_tap w[tap][c]` (wrapping),
//! so an in-bounds tap adds `w * x`, and a padded tap adds `w * pad` where
//! `pad` is `pad_values[c]` or `in_zp`. The sum equals the reference
//! `bias + sum w * (x - in_zp)` modulo 2^32, hence bit for bit.
//!
//! [`ConvVariant::Depthwise`]: crate::ConvVariant::Depthwise
//! [`ConvVariant::DepthwiseInPlace`]: crate::ConvVariant::DepthwiseInPlace
#![forbid(unsafe_code)]

use crate::ops::{I32s, RequantView};
use crate::quant::{lut, requantize_i8};

/// Channels per accumulator chunk.
pub const CHUNK: usize = 16;

/// Resolved operands of a depthwise conv (`groups == cin == cout`).
#[derive(Clone, Copy)]
pub struct DepthwiseArgs<'a> {
    /// Weights `[k][k][c]` (tap-major, channel-minor).
    pub weights: &'a [i8],
    /// `bias[c] - in_zp * sum_tap w[tap][c]`, wrapping, per channel.
    pub folded_bias: I32s<'a>,
    /// Requantization per channel.
    pub requant: RequantView<'a>,
    /// Padding value per channel, or empty for `in_zp`.
    pub pad_values: &'a [i8],
    /// Activation table, or empty.
    pub lut: &'a [i8],
    /// Input zero point.
    pub in_zp: i32,
    /// Output zero point.
    pub out_zp: i32,
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on each side.
    pub pad: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels.
    pub c: usize,
}

#[inline(always)]
fn mac<const N: usize>(acc: &mut [i32; N], w: &[i8; N], x: &[i8; N]) {
    for i in 0..N {
        acc[i] = acc[i].wrapping_add(w[i] as i32 * x[i] as i32);
    }
}

#[inline(always)]
fn mac_const<const N: usize>(acc: &mut [i32; N], w: &[i8; N], v: i32) {
    for i in 0..N {
        acc[i] = acc[i].wrapping_add((w[i] as i32).wrapping_mul(v));
    }
}

/// `s[at..at + N]` as an array; `None` past the end (the executor sized
/// every operand, so never: it keeps bounds-check panics out of the code).
#[inline(always)]
fn arr<const N: usize>(s: &[i8], at: usize) -> Option<&[i8; N]> {
    s.get(at..at + N)?.try_into().ok()
}

/// Channels `c0..c0 + N` of output pixel `(oy, ox)`.
#[inline(always)]
fn chunk<'s, const N: usize>(
    a: &DepthwiseArgs<'_>,
    oy: usize,
    ox: usize,
    c0: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) {
    let (k, c) = (a.kernel, a.c);
    let mut acc = [0i32; N];
    for (j, v) in acc.iter_mut().enumerate() {
        *v = a.folded_bias.get(c0 + j);
    }
    for ky in 0..k {
        let iy = (oy * a.stride + ky).wrapping_sub(a.pad);
        let row_in = iy < a.h;
        let r = if row_in { row(iy) } else { &[][..] };
        for kx in 0..k {
            let ix = (ox * a.stride + kx).wrapping_sub(a.pad);
            let Some(w) = arr::<N>(a.weights, (ky * k + kx) * c + c0) else {
                return;
            };
            if row_in && ix < a.w {
                let Some(x) = arr::<N>(r, ix * c + c0) else {
                    return;
                };
                mac(&mut acc, w, x);
            } else if a.pad_values.is_empty() {
                mac_const(&mut acc, w, a.in_zp);
            } else {
                let Some(x) = arr::<N>(a.pad_values, c0) else {
                    return;
                };
                mac(&mut acc, w, x);
            }
        }
    }
    for (j, &v) in acc.iter().enumerate() {
        let o = c0 + j;
        let y = requantize_i8(
            v,
            a.requant.multiplier.get(o),
            a.requant.shift.get(o),
            a.out_zp,
        );
        if let Some(d) = out.get_mut(o) {
            *d = if a.lut.is_empty() { y } else { lut(a.lut, y) };
        }
    }
}

/// Output pixel `(oy, ox)`, all `a.c` channels, into `out[..a.c]`. `row(iy)`
/// returns input row `iy` (`w * c` bytes) for any in-bounds `iy`.
#[inline]
pub fn depthwise_pixel<'s>(
    a: &DepthwiseArgs<'_>,
    oy: usize,
    ox: usize,
    row: impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) {
    let body = a.c / CHUNK * CHUNK;
    let mut c0 = 0;
    while c0 < body {
        chunk::<CHUNK>(a, oy, ox, c0, &row, out);
        c0 += CHUNK;
    }
    while c0 < a.c {
        chunk::<1>(a, oy, ox, c0, &row, out);
        c0 += 1;
    }
}

/// A depthwise conv, input and output not overlapping: `input` is
/// `h * w * c`, `output` is `oh * ow * c`.
pub fn depthwise(a: &DepthwiseArgs<'_>, oh: usize, ow: usize, input: &[i8], output: &mut [i8]) {
    let (row, c) = (a.w * a.c, a.c);
    if c == 0 {
        return;
    }
    for oy in 0..oh {
        for ox in 0..ow {
            let at = (oy * ow + ox) * c;
            let Some(out) = output.get_mut(at..at + c) else {
                return;
            };
            let row = |iy: usize| input.get(iy * row..(iy + 1) * row).unwrap_or(&[]);
            depthwise_pixel(a, oy, ox, row, out);
        }
    }
}

/// In place, row by row (stride 1, same padding, as
/// [`ConvVariant::InPlace`](crate::ConvVariant::InPlace)): `data` is the
/// tensor, `ring` holds `kernel / 2 + 1` rows.
pub fn depthwise_in_place(a: &DepthwiseArgs<'_>, data: &mut [i8], ring: &mut [i8]) {
    let (h, w, c) = (a.h, a.w, a.c);
    let row = w * c;
    if row == 0 {
        return;
    }
    let slots = a.kernel / 2 + 1;
    for y in 0..h {
        let slot = (y % slots) * row;
        // Checked slicing throughout (the executor sized `data` and `ring`;
        // never taken): keeps bounds-check panics out of the code.
        if let (Some(dst), Some(src)) = (
            ring.get_mut(slot..slot + row),
            data.get(y * row..(y + 1) * row),
        ) {
            dst.copy_from_slice(src);
        }
        let Some((cur, below)) = data.split_at_mut_checked((y + 1) * row) else {
            return;
        };
        let (ring, below) = (&*ring, &*below);
        let Some(out_row) = cur.get_mut(y * row..) else {
            return;
        };
        let rows = |iy: usize| {
            if iy <= y {
                ring.get((iy % slots) * row..(iy % slots + 1) * row)
            } else {
                below.get((iy - y - 1) * row..(iy - y) * row)
            }
            .unwrap_or(&[])
        };
        for x in 0..w {
            let Some(out) = out_row.get_mut(x * c..(x + 1) * c) else {
                return;
            };
            depthwise_pixel(a, y, x, rows, out);
        }
    }
}
