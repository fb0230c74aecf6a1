//! The depthwise kernels' 16-lane steps: window runs, the tap-table loop
//! and the vector finish.

use super::vector::*;
use crate::kernels::dsp::lanes::TapRows;
use crate::kernels::pointwise::PointwiseArgs;
use crate::kernels::window::{WindowArgs, MAX_KERNEL};
use core::arch::aarch64::*;

/// `acc[i] += sum_j w[j * ws + i] * x[j * xs + i]` over `n` taps, 16
/// lanes: the in-bounds run of a depthwise window row. Per tap two `LD1`,
/// `SMULL`/`SMULL2` to i16 products (exact: |w * x| <= 2^14) and four
/// `SADDW`/`SADDW2` into the i32 lanes, wrapping as the reference's i32
/// sums. `false` (adding nothing) if either slice is too short.
#[inline(always)]
pub fn depthwise_run16(
    acc: &mut [i32; 16],
    w: &[i8],
    ws: usize,
    x: &[i8],
    xs: usize,
    n: usize,
) -> bool {
    let fits = |len: usize, stride: usize| match n.checked_sub(1) {
        None => true,
        Some(last) => last
            .checked_mul(stride)
            .and_then(|e| e.checked_add(16))
            .is_some_and(|e| e <= len),
    };
    if !fits(w.len(), ws) || !fits(x.len(), xs) {
        return false;
    }
    let (mut pw, mut px) = (w.as_ptr(), x.as_ptr());
    // SAFETY: register-only NEON intrinsics and loads of the local `acc`
    // (64 bytes); the tap loads are in bounds by `fits`: tap `j < n` reads
    // `w[j * ws..j * ws + 16]` and `x[j * xs..j * xs + 16]`.
    unsafe {
        let p = acc.as_mut_ptr();
        let mut a = [0, 4, 8, 12].map(|i| vld1q_s32(p.add(i)));
        for _ in 0..n {
            let (wv, xv) = (load_stride(&mut pw, ws), load_stride(&mut px, xs));
            mac16_i32(&mut a, wv, xv);
        }
        for (i, v) in [0, 4, 8, 12].into_iter().zip(a) {
            vst1q_s32(p.add(i), v);
        }
    }
    true
}

/// The depthwise kernels' 16-lane `finish` (channels `o0..o0 + 16`,
/// contiguous): the 16 shifts and multipliers in one `LD1` each, checked
/// for the vector form at once, [`requant4`] on four vectors, [`narrow16`],
/// [`lut16`], [`store16`]. `false` (nothing written) when a lane's shift or
/// multiplier is outside the vector form or an operand is short: the caller
/// takes the scalar `finish`.
#[inline(always)]
pub fn finish16(acc: &[i32; 16], ch: &PointwiseArgs<'_>, o0: usize, out: &mut [i8]) -> bool {
    let r = ch.requant;
    let (Some(sh), Some(mb)) = (
        r.shift.0.get(o0..o0 + 16),
        r.multiplier.0.get(2 * o0..2 * o0 + 32),
    ) else {
        return false;
    };
    let lut: Option<&[i8; 256]> = match ch.lut.len() {
        0 => None,
        _ => match ch.lut.try_into() {
            Ok(t) => Some(t),
            Err(_) => return false,
        },
    };
    if out.len() < 16 {
        return false;
    }
    // SAFETY: register-only NEON intrinsics, `LD1`s of byte elements of the
    // 16 shift and 32 multiplier bytes just taken, and one `LD1` of the
    // local `acc` (64 bytes).
    let q = unsafe {
        let s = load_next(&mut sh.as_ptr());
        let m = vld1q_s8_x2(mb.as_ptr().cast::<i8>());
        let (m0, m1) = (vreinterpretq_s16_s8(m.0), vreinterpretq_s16_s8(m.1));
        // The vector form: every shift <= -1, no multiplier i16::MIN
        // (widened i32::MIN, where `SQDMULH` could saturate).
        let min = vdupq_n_s16(i16::MIN);
        let bad = vorrq_u16(vceqq_s16(m0, min), vceqq_s16(m1, min));
        if vmaxvq_s8(s) > -1 || vmaxvq_u16(bad) != 0 {
            return false;
        }
        let (m, by) = requant_operands16((m0, m1), s);
        let a = vld1q_s32_x4(acc.as_ptr());
        let a = [a.0, a.1, a.2, a.3];
        narrow16([0, 1, 2, 3].map(|i| requant4(a[i], m[i], by[i], ch.out_zp)))
    };
    let q = match lut {
        Some(t) => lut16(q, t),
        None => q,
    };
    store16(out, q)
}

/// The 16-channel part of `depthwise::pixel_by_taps` (the MVE tier's
/// `depthwise_taps16` on NEON): channels `0..c / 16 * 16` of the pixel
/// whose taps are `taps` (padded taps read the padding row), 32 (else 16)
/// channels in eight (four) i32 vectors started at the folded bias across
/// every tap: per tap one table load, `LD1` of the inputs and weights,
/// per 16 channels `SMULL`/`SMULL2` (exact i16 products) and four
/// `SADDW`/`SADDW2` (with no weight at -128, taps in pairs: `SMULL` +
/// `SMLAL` and `SMULL2` + `SMLAL2`, exact i16 sums of two products, then
/// the four `SADDW`), no window clipping or per-row calls; then
/// [`finish16`] per 16 channels. The channels done
/// (the caller does the rest four at a time), or `None` (nothing written,
/// the caller takes the window path) if the weights are short or
/// `finish16` declines a chunk.
pub fn depthwise_taps16(a: &WindowArgs<'_>, taps: &TapRows<'_>, out: &mut [i8]) -> Option<usize> {
    let (c, ch) = (a.geometry.cin, &a.channels);
    let ptrs = taps.ptrs();
    let n = ptrs.len();
    let body = c / 16 * 16;
    // Weights `[tap][c]`: tap `t < n`, lanes `c0..c0 + 16` (`c0 + 16 <=
    // body <= c`) end at `(n - 1) * c + body`.
    let w_in = n == 0
        || (n - 1)
            .checked_mul(c)
            .and_then(|e| e.checked_add(body))
            .is_some_and(|e| e <= ch.weights.len());
    if taps.tap_len() < c || !w_in || ch.folded_bias.0.len() < 4 * body || out.len() < c {
        return None;
    }
    // SAFETY: every table entry starts `tap_len() >= c` readable bytes
    // (`TapRows`' invariant), offset 0.
    unsafe { taps16_at(ch, ptrs, 0, c, out) }
}

/// [`depthwise_taps16`]'s channel loop on taps `ptrs[t] + off`: channels
/// `0..c / 16 * 16` of one pixel into `out`. The channels done, or `None`
/// if `finish16` declines a chunk.
///
/// # Safety
/// Every `ptrs[t] + off` must start `c` readable bytes; the weights must
/// hold `(ptrs.len() - 1) * c + c / 16 * 16` bytes and the folded bias
/// `4 * (c / 16 * 16)` (the caller checks both).
#[inline(always)]
pub(super) unsafe fn taps16_at(
    ch: &PointwiseArgs<'_>,
    ptrs: &[*const i8],
    off: usize,
    c: usize,
    out: &mut [i8],
) -> Option<usize> {
    let body = c / 16 * 16;
    let pairs = ch.weights_above_min;
    let mut c0 = 0;
    while c0 < body {
        // 32 channels per pass where they fit (one table load and loop step
        // per tap for both halves), else 16.
        let two = c0 + 32 <= body;
        let mut acc = [[0i32; 16]; 2];
        // SAFETY: register-only NEON intrinsics; `LD1`s of byte elements
        // (legal unaligned) of lanes `c0..c0 + 16` (`+ 32` when `two`, `<=
        // body`): 4 bytes per lane of bias (`4 * body`, the caller's
        // check), per tap the lanes at `ptrs[t] + off` (`c >= body`
        // readable bytes, the caller's contract) and at `t * c` in the
        // weights (the caller's check); stores to the local `acc`.
        unsafe {
            let pb = ch.folded_bias.0.as_ptr().cast::<i8>().add(4 * c0);
            let b = vld1q_s8_x4(pb);
            let mut v = [b.0, b.1, b.2, b.3].map(|v| vreinterpretq_s32_s8(v));
            let mut pw = ch.weights.as_ptr().add(c0);
            if two {
                let b = vld1q_s8_x4(pb.add(64));
                let mut u = [b.0, b.1, b.2, b.3].map(|v| vreinterpretq_s32_s8(v));
                // Taps in pairs (one i16 sum of two products) when no
                // weight is -128; the odd last tap (and every tap
                // otherwise) alone.
                let rest = if pairs {
                    let mut it = ptrs.chunks_exact(2);
                    for pr in &mut it {
                        let [p0, p1] = [pr[0], pr[1]];
                        let (x0, x1) =
                            (vld1q_s8_x2(p0.add(off + c0)), vld1q_s8_x2(p1.add(off + c0)));
                        let (w0, w1) = (vld1q_s8_x2(pw), vld1q_s8_x2(pw.wrapping_add(c)));
                        pw = pw.wrapping_add(2 * c);
                        mac16_pair_i32(&mut v, [w0.0, w1.0], [x0.0, x1.0]);
                        mac16_pair_i32(&mut u, [w0.1, w1.1], [x0.1, x1.1]);
                    }
                    it.remainder()
                } else {
                    ptrs
                };
                for &p in rest {
                    let x = vld1q_s8_x2(p.add(off + c0));
                    let w = vld1q_s8_x2(pw);
                    pw = pw.wrapping_add(c);
                    mac16_i32(&mut v, w.0, x.0);
                    mac16_i32(&mut u, w.1, x.1);
                }
                let pa = acc[1].as_mut_ptr();
                for (i, u) in u.into_iter().enumerate() {
                    vst1q_s32(pa.add(4 * i), u);
                }
            } else {
                let rest = if pairs {
                    let mut it = ptrs.chunks_exact(2);
                    for pr in &mut it {
                        let [p0, p1] = [pr[0], pr[1]];
                        let x = [
                            load_next(&mut p0.add(off + c0)),
                            load_next(&mut p1.add(off + c0)),
                        ];
                        let w = [load_stride(&mut pw, c), load_stride(&mut pw, c)];
                        mac16_pair_i32(&mut v, w, x);
                    }
                    it.remainder()
                } else {
                    ptrs
                };
                for &p in rest {
                    let xv = load_next(&mut p.add(off + c0));
                    let wv = load_stride(&mut pw, c);
                    mac16_i32(&mut v, wv, xv);
                }
            }
            let pa = acc[0].as_mut_ptr();
            for (i, v) in v.into_iter().enumerate() {
                vst1q_s32(pa.add(4 * i), v);
            }
        }
        let halves = if two { &acc[..] } else { &acc[..1] };
        for acc in halves {
            if !finish16(acc, ch, c0, out.get_mut(c0..)?) {
                return None;
            }
            c0 += 16;
        }
    }
    Some(c0)
}

/// The unpadded pixels of output row `y` of a stride-1 depthwise conv
/// (`depthwise::depthwise_in_place`'s row hook, the MVE tier's
/// `depthwise_row16` on NEON): the `k * k` tap pointers are set once for
/// the row's first such pixel and every next pixel reads them `c` bytes
/// further ([`depthwise_taps16`]'s channel loop at an offset), so there
/// is no per-pixel table, padding or bounds work. The pixels written (the
/// caller does the others); empty (nothing written) unless the stride is
/// 1, `c` is a multiple of 16, the kernel is at most [`MAX_KERNEL`], the
/// window rows of `y` are all inside and long enough, the operands are in
/// range and every channel takes the vector requantization.
pub fn depthwise_row16<'s>(
    a: &WindowArgs<'_>,
    y: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out_row: &mut [i8],
) -> core::ops::Range<usize> {
    let g = &a.geometry;
    let (k, c, p) = (g.kernel, g.cin, g.pad);
    let ch = &a.channels;
    if g.stride != 1 || c == 0 || c % 16 != 0 || k == 0 || k > MAX_KERNEL {
        return 0..0;
    }
    let iy0 = y.wrapping_sub(p);
    if !(iy0 < g.h && iy0 + k <= g.h) || g.w + p < k {
        return 0..0;
    }
    // Pixels `x` with `x >= p` and `x - p + k <= w`.
    let (lo, hi) = (p, (g.w + p + 1 - k).min(out_row.len() / c));
    let n = k * k;
    let lut_ok = ch.lut.is_empty() || ch.lut.len() == 256;
    let fits = n * c <= ch.weights.len() && ch.folded_bias.0.len() >= 4 * c;
    if lo >= hi || !lut_ok || !fits || !all_vector_form(ch.requant, c) {
        return 0..0;
    }
    let row_len = g.w * c;
    let mut ok = true;
    let mut table = [core::ptr::null::<i8>(); MAX_KERNEL * MAX_KERNEL];
    for (ky, taps) in table.chunks_exact_mut(k).take(k).enumerate() {
        let r = row(iy0 + ky);
        ok &= r.len() >= row_len;
        for (kx, t) in taps.iter_mut().enumerate() {
            *t = r.as_ptr().wrapping_add(kx * c);
        }
    }
    if !ok {
        return 0..0;
    }
    let ptrs = &table[..n];
    for x in lo..hi {
        let Some(out) = out_row.get_mut(x * c..(x + 1) * c) else {
            return lo..x;
        };
        // SAFETY: tap `(ky, kx)` of pixel `x` is input pixel `x - p + kx <
        // w` (`x < hi <= w + p + 1 - k`) of row `iy0 + ky` (`>= w * c`
        // bytes, checked by `ok`), so `ptrs[t] + (x - p) * c` starts `c`
        // readable bytes; weights `n * c` and bias `4 * c` checked by
        // `fits`.
        match unsafe { taps16_at(ch, ptrs, (x - p) * c, c, out) } {
            Some(_) => {}
            None => return lo..x,
        }
    }
    lo..hi
}

/// `v[..] += w * x` on 16 lanes into four i32 vectors: `SMULL`/`SMULL2`
/// (exact i16 products) and four `SADDW`/`SADDW2`, wrapping.
#[inline(always)]
pub(super) fn mac16_i32(v: &mut [int32x4_t; 4], w: int8x16_t, x: int8x16_t) {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
        let hi = vmull_high_s8(w, x);
        v[0] = vaddw_s16(v[0], vget_low_s16(lo));
        v[1] = vaddw_high_s16(v[1], lo);
        v[2] = vaddw_s16(v[2], vget_low_s16(hi));
        v[3] = vaddw_high_s16(v[3], hi);
    }
}

/// `v[..] += w[0] * x[0] + w[1] * x[1]` on 16 lanes: `SMULL` + `SMLAL`,
/// `SMULL2` + `SMLAL2` (the pair's i16 sum, exact when no weight is -128:
/// `2 * 127 * 128 < 2^15`) and four `SADDW`/`SADDW2`, wrapping.
#[inline(always)]
fn mac16_pair_i32(v: &mut [int32x4_t; 4], w: [int8x16_t; 2], x: [int8x16_t; 2]) {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let lo = vmull_s8(vget_low_s8(w[0]), vget_low_s8(x[0]));
        let lo = vmlal_s8(lo, vget_low_s8(w[1]), vget_low_s8(x[1]));
        let hi = vmlal_high_s8(vmull_high_s8(w[0], x[0]), w[1], x[1]);
        v[0] = vaddw_s16(v[0], vget_low_s16(lo));
        v[1] = vaddw_high_s16(v[1], lo);
        v[2] = vaddw_s16(v[2], vget_low_s16(hi));
        v[3] = vaddw_high_s16(v[3], hi);
    }
}
