//! Whole pixels of the depthwise and x2 channel-multiplier convs
//! (`depthwise::depthwise_pixel`, `multiplier::pixel`: FastViT's dw convs,
//! 7x7/s2 `downsample.proj.0` and 3x3 `final_conv`) on one tap table.

use super::depthwise::{finish16, mac16_i32, taps16_at};
use super::vector::*;
use crate::kernels::depthwise::Pixel;
use crate::kernels::window::MAX_KERNEL;
use core::arch::aarch64::*;

/// Widest input whose zero-point padding row stays on the stack
/// (FastViT-T8's widest depthwise and x2 convs read 384 channels).
const PAD_ROW: usize = 512;

/// Taps of the largest kernel.
const MAX_TAPS: usize = MAX_KERNEL * MAX_KERNEL;

/// Output pixel `(oy, ox)` of a conv with multiplier 2 (`[k][k][2][cin]`
/// weights: plane `j` of tap `t` at `(2t + j) * cin`; output channel
/// `2c + j` reads input channel `c`), all `2 * cin` channels into `out`.
/// A table of the `k * k` tap pointers is built once (a padded tap points
/// at the padding row: `pad_values`, or `in_zp` repeated, the values the
/// reference adds), then per 16 input channels eight i32 vectors (both
/// planes) run across every tap: one table load, one `LD1` of the inputs
/// and one of each plane's weights, per plane `SMULL`/`SMULL2` (exact i16
/// products) and four `SADDW`/`SADDW2` (wrapping, as the reference's
/// sums). `ZIP1`/`ZIP2` interleave the planes into output-channel order,
/// the folded bias is added, and [`finish16`] requantizes each 16 outputs.
/// `false` when the shape does not fit (multiplier other than 2, `cin`
/// not a multiple of 16, a kernel above [`MAX_KERNEL`], short operands) or
/// a chunk is outside the vector requantization: the caller then takes its
/// own path, which writes every output again.
pub fn multiplier_pixel16<'s>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) -> bool {
    let (c, ch) = (px.a.geometry.cin, &px.a.channels);
    if px.a.geometry.multiplier() != 2 {
        return false;
    }
    let (mut zp_row, mut table) = (None, [core::ptr::null(); MAX_TAPS]);
    let Some(taps) = tap_table(px, 2, out.len(), &mut zp_row, &mut table) else {
        return false;
    };
    let mut c0 = 0;
    while c0 < c {
        let o0 = 2 * c0;
        let mut acc = [[0i32; 16]; 2];
        // SAFETY: register-only NEON intrinsics; `LD1`s of byte elements
        // (legal unaligned): per tap lanes `c0..c0 + 16` (`<= c`) at the
        // table's pointer (each starts `c` readable bytes: `tap_table`,
        // with `zp_row` alive here) and of both planes' weights (`2 * k * k
        // * c` checked by `tap_table`), 128 bias bytes at `4 * o0` (`8 * c`
        // checked); stores to the local `acc`.
        unsafe {
            let z = vdupq_n_s32(0);
            let (mut v0, mut v1) = ([z; 4], [z; 4]);
            let mut pw = ch.weights.as_ptr().add(c0);
            for &p in taps {
                let x = load_next(&mut p.add(c0));
                let w0 = load_stride(&mut pw, c);
                let w1 = load_stride(&mut pw, c);
                mac16_i32(&mut v0, w0, x);
                mac16_i32(&mut v1, w1, x);
            }
            let pb = ch.folded_bias.0.as_ptr().cast::<i8>().add(4 * o0);
            let (b0, b1) = (vld1q_s8_x4(pb), vld1q_s8_x4(pb.add(64)));
            let b = [b0.0, b0.1, b0.2, b0.3, b1.0, b1.1, b1.2, b1.3];
            let b = b.map(|v| vreinterpretq_s32_s8(v));
            // Output `2(c0 + i) + j` is lane `i` of plane `j`.
            let y = [
                vzip1q_s32(v0[0], v1[0]),
                vzip2q_s32(v0[0], v1[0]),
                vzip1q_s32(v0[1], v1[1]),
                vzip2q_s32(v0[1], v1[1]),
                vzip1q_s32(v0[2], v1[2]),
                vzip2q_s32(v0[2], v1[2]),
                vzip1q_s32(v0[3], v1[3]),
                vzip2q_s32(v0[3], v1[3]),
            ];
            for (i, (y, b)) in y.into_iter().zip(b).enumerate() {
                vst1q_s32(acc[i / 4].as_mut_ptr().add(4 * (i % 4)), vaddq_s32(y, b));
            }
        }
        for (h, acc) in acc.iter().enumerate() {
            let o = o0 + 16 * h;
            let Some(y) = out.get_mut(o..) else {
                return false;
            };
            if !finish16(acc, ch, o, y) {
                return false;
            }
        }
        c0 += 16;
    }
    true
}

/// The `k * k` tap pointers of output pixel `px`, row-major, in `table`:
/// in-bounds taps at their input pixel, padded taps at the padding row
/// (`pad_values`, or `in_zp` repeated in `zp_row`, filled only for a pixel
/// with padded taps). Each starts `cin` readable bytes while `zp_row` and
/// the rows live. First the shape both kernels here need for `m` weight
/// planes of 16-channel chunks: `None` unless `cin` is a multiple of 16,
/// the kernel is in `1..=MAX_KERNEL`, the weights hold the `m * k * k *
/// cin` of `[k][k][m][cin]` (tap `t`, plane `j`, lanes `c0..c0 + 16` end at
/// `(m * t + j) * cin + c0 + 16`), the folded bias the 4 bytes of each of
/// `m * cin` outputs and `out_len` those outputs; also `None` when a row
/// is short or the padding row is missing or short.
#[inline(always)]
fn tap_table<'t, 's>(
    px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>,
    m: usize,
    out_len: usize,
    zp_row: &mut Option<[i8; PAD_ROW]>,
    table: &'t mut [*const i8; MAX_TAPS],
) -> Option<&'t [*const i8]> {
    let Pixel { a, oy, ox, row } = *px;
    let g = &a.geometry;
    let (k, c, ch) = (g.kernel, g.cin, &a.channels);
    let fits = m * k * k * c <= ch.weights.len() && ch.folded_bias.0.len() >= 4 * m * c;
    if c == 0 || c % 16 != 0 || k == 0 || k > MAX_KERNEL || !fits || out_len < m * c {
        return None;
    }
    let iy0 = (oy * g.stride).wrapping_sub(g.pad);
    let ix0 = (ox * g.stride).wrapping_sub(g.pad);
    let inside = |i0: usize, len: usize| i0 < len && i0 + k <= len;
    let row_len = g.w * c;
    let mut ok = true;
    if inside(iy0, g.h) && inside(ix0, g.w) {
        // No padded tap (most pixels): one row call per kernel row.
        for (ky, taps) in table.chunks_exact_mut(k).take(k).enumerate() {
            let r = row(iy0 + ky);
            ok &= r.len() >= row_len;
            let at = r.as_ptr().wrapping_add(ix0 * c);
            for (kx, t) in taps.iter_mut().enumerate() {
                *t = at.wrapping_add(kx * c);
            }
        }
    } else {
        let pad: &[i8] = if !a.pad_values.is_empty() {
            a.pad_values
        } else if c <= PAD_ROW {
            zp_row.insert([a.in_zp as i8; PAD_ROW])
        } else {
            return None;
        };
        for (ky, taps) in table.chunks_exact_mut(k).take(k).enumerate() {
            let iy = iy0.wrapping_add(ky);
            let r = if iy < g.h { row(iy) } else { &[] };
            let row_in = iy < g.h && r.len() >= row_len;
            ok &= iy >= g.h || row_in;
            for (kx, t) in taps.iter_mut().enumerate() {
                let ix = ix0.wrapping_add(kx);
                *t = if row_in && ix < g.w {
                    r.as_ptr().wrapping_add(ix * c)
                } else {
                    ok &= pad.len() >= c;
                    pad.as_ptr()
                };
            }
        }
    }
    // `get`: no slice-index panic path (the no-panic proof).
    table.get(..k * k).filter(|_| ok)
}

/// Output pixel `(oy, ox)` of a depthwise conv (`depthwise::depthwise_pixel`'s
/// hook, the MVE tier's `depthwise_pixel16` on NEON) when `cin` is a
/// multiple of 16: the tap table built with one row call per kernel row
/// ([`tap_table`], instead of `TapRows`' checked pushes), then
/// [`super::depthwise_taps16`]'s channel loop. `false` (the caller takes
/// its own path, which writes every output again) when the shape or an
/// operand does not fit or a chunk is outside the vector requantization.
pub fn depthwise_pixel16<'s>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) -> bool {
    let (c, ch) = (px.a.geometry.cin, &px.a.channels);
    let (mut zp_row, mut table) = (None, [core::ptr::null(); MAX_TAPS]);
    let Some(taps) = tap_table(px, 1, out.len(), &mut zp_row, &mut table) else {
        return false;
    };
    // SAFETY: every table entry starts `c` readable bytes (`tap_table`,
    // `zp_row` alive here); weights `k * k * c` and bias `4 * c` checked by
    // `tap_table`.
    unsafe { taps16_at(ch, taps, 0, c, out) }.is_some()
}
