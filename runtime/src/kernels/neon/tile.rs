//! The 4-channel x 4-pixel 1x1 tile (`pointwise::tile`): weight rows and
//! pixels 16 channels a step on the tier's `mac16`, lanes reduced by `ADDP`.

use super::Px4;

use super::vector::*;
use crate::kernels::neon_mac::mac16;
use crate::ops::{I32s, RequantView};
use core::arch::aarch64::*;

/// Output channels per tile.
pub const ROWS: usize = 4;

/// One step: `acc[r][p] += w[r] . x[p]` over 16 lanes.
#[inline(always)]
pub(super) fn step(acc: &mut [[int32x4_t; 4]; 4], w: [int8x16_t; 4], x: [int8x16_t; 4]) {
    for (ar, &wr) in acc.iter_mut().zip(&w) {
        for (a, &xp) in ar.iter_mut().zip(&x) {
            *a = mac16(*a, wr, xp);
        }
    }
}

/// The four weight rows of a tile (`rows` holds `4 * cin`, row-major).
#[inline(always)]
pub(super) fn split_rows(rows: &[i8], cin: usize) -> Option<[&[i8]; ROWS]> {
    let rows = rows.get(..ROWS * cin)?;
    let (w0, r) = rows.split_at(cin);
    let (w1, r) = r.split_at(cin);
    let (w2, w3) = r.split_at(cin);
    Some([w0, w1, w2, w3])
}

/// `acc[r][p]`: the lane sums of row `r` against pixel `p` over the first
/// `cin / 16 * 16` channels (reduced by `ADDP`).
#[inline(always)]
pub(super) fn acc_rows_px4(
    ws: [&[i8]; ROWS],
    xs: [&[i8]; 4],
    body: usize,
) -> [[int32x4_t; 4]; ROWS] {
    // SAFETY: NEON is baseline on AArch64; register-only intrinsics.
    let zero = unsafe { vdupq_n_s32(0) };
    let mut acc = [[zero; 4]; 4];
    if ws.iter().chain(&xs).any(|v| v.len() < body) {
        return acc; // the callers split `body <= cin` bytes: never
    }
    let mut w = ws.map(<[i8]>::as_ptr);
    let mut x = xs.map(<[i8]>::as_ptr);
    for _ in 0..body / 16 {
        // SAFETY: the eight pointers start at four weight rows and four
        // pixels of `>= body` bytes each (checked above) and advance 16 per
        // step, so step `k < body / 16` reads bytes `16k..16k + 16` of each.
        let (wv, xv) = unsafe {
            (
                w.each_mut().map(|p| load_next(p)),
                x.each_mut().map(|p| load_next(p)),
            )
        };
        step(&mut acc, wv, xv);
    }
    acc
}

/// `[r][p] = sum_i w_r[i] * x_p[i]`, wrapping i32: four weight rows (`rows`
/// holds `4 * cin`, row-major) against four pixels. Always inlined: with
/// a second caller (`wide_pointwise::widen_row`) LLVM otherwise left it
/// out of line in the int8 1x1 tile (A76 int8 build +0.27 M instructions).
#[inline(always)]
pub fn dot_rows_px4(p: &Px4<'_>, rows: &[i8]) -> [[i32; 4]; ROWS] {
    let xs = p.rows();
    let cin = xs[0].len();
    let mut out = [[0i32; 4]; ROWS];
    let Some(ws) = split_rows(rows, cin) else {
        return out;
    };
    let body = cin / 16 * 16;
    let acc = acc_rows_px4(ws, xs, body);
    for (o, a) in out.iter_mut().zip(&acc) {
        // SAFETY: register-only intrinsics, NEON is baseline.
        unsafe {
            let s = vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]));
            *o = [
                vgetq_lane_s32::<0>(s),
                vgetq_lane_s32::<1>(s),
                vgetq_lane_s32::<2>(s),
                vgetq_lane_s32::<3>(s),
            ];
        }
    }
    for (o, w) in out.iter_mut().zip(ws) {
        for (v, x) in o.iter_mut().zip(xs) {
            let tail = w[body..].iter().zip(&x[body..cin]);
            *v = tail.fold(*v, |s, (&a, &b)| {
                s.wrapping_add((a as i32).wrapping_mul(b as i32))
            });
        }
    }
    out
}

/// Requantizes one output channel's four tile outputs (`bias + dots[p]`)
/// as one vector, for every shift the reference takes: `SMULL`/`SMULL2` to
/// i64 lanes, `+ 2^(t-1)`, `SSHL` by `-t` (an arithmetic, flooring shift),
/// `SQXTN` to i32 (the reference's i32 saturation), `SQADD` of the zero
/// point (its saturating add), `SQXTN` twice to i8 (its clamp): the bits of
/// `quant::requantize_i8`, lane by lane.
#[inline(always)]
pub fn requant_px4(dots: [i32; 4], bias: i32, multiplier: i32, shift: i32, zp: i32) -> [i8; 4] {
    let t = (31 - shift).clamp(1, 62) as i64;
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let d = vsetq_lane_s32::<3>(
            dots[3],
            vsetq_lane_s32::<2>(dots[2], vsetq_lane_s32::<1>(dots[1], vdupq_n_s32(dots[0]))),
        );
        let acc = vaddq_s32(d, vdupq_n_s32(bias));
        let lo = vmull_s32(vget_low_s32(acc), vdup_n_s32(multiplier));
        let hi = vmull_high_s32(acc, vdupq_n_s32(multiplier));
        let round = vdupq_n_s64(1i64 << (t - 1));
        let by = vdupq_n_s64(-t);
        let lo = vshlq_s64(vaddq_s64(lo, round), by);
        let hi = vshlq_s64(vaddq_s64(hi, round), by);
        let q = vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
        let q = vqaddq_s32(q, vdupq_n_s32(zp));
        let n16 = vqmovn_s32(q);
        let n8 = vqmovn_s16(vcombine_s16(n16, n16));
        [
            vget_lane_s8::<0>(n8),
            vget_lane_s8::<1>(n8),
            vget_lane_s8::<2>(n8),
            vget_lane_s8::<3>(n8),
        ]
    }
}

/// A whole 4-channel x 4-pixel tile of the 1x1 conv, from the dot products
/// to the stored bytes: the dots of weight rows `o..o + 4` (`rows`, `4 *
/// cin`) against the four pixels, `+ bias`, requantized, table-mapped and
/// stored as `outs[p][0..4]`. Each pixel's four channels are one vector
/// (`ADDP` of the row accumulators), so the requantization is vector-wide
/// with per-lane multiplier and shift. For `t = 31 - shift >= 32` (every
/// real scale below 0.5) the reference `floor((acc * m + 2^(t-1)) / 2^t)`
/// is `SQDMULH` (`floor(acc * m / 2^31)`; it saturates only for `acc = m =
/// i32::MIN`, excluded) then `SRSHL` by `-(t - 31)` (a rounding shift, in
/// exact arithmetic): nested floors of divisions by powers of two are one
/// floor. Then `SQADD` of the zero point and two `SQXTN` (the reference's
/// saturating add and clamp), the table by four `TBL`/`TBX` over its 256
/// bytes. Other shifts take `requantize_i8` lane by lane. `false` (nothing
/// written) unless `cin` is a multiple of 16 and every operand is in range.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn rows_px4_store(
    p: &Px4<'_>,
    rows: &[i8],
    o: usize,
    bias: I32s<'_>,
    requant: RequantView<'_>,
    out_zp: i32,
    lut: Option<&[i8; 256]>,
    outs: [&mut [i8]; 4],
) -> bool {
    let xs = p.rows();
    let cin = xs[0].len();
    let shifts = requant.shift.0.get(o..o + ROWS);
    let (Some(ws), Some(b), Some(m), Some(sh)) = (
        split_rows(rows, cin),
        load4(bias, o),
        multipliers4(requant, o),
        shifts.and_then(|s| <[i8; 4]>::try_from(s).ok()),
    ) else {
        return false;
    };
    if cin % 16 != 0 || outs.iter().any(|y| y.len() < ROWS) {
        return false;
    }
    let acc = acc_rows_px4(ws, xs, cin);
    // SAFETY (whole block): register-only NEON intrinsics (baseline on
    // AArch64), and `vld1q_s8_x4` (one `LD1` of byte elements, legal
    // unaligned under `+strict-align`) of the 256-byte table.
    unsafe {
        // Pixel `p`'s channel sums: lanes `r` of `acc[r][p]` reduced.
        let px = |a0, a1, a2, a3| {
            let (lo, hi) = (vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
            vaddq_s32(vpaddq_s32(lo, hi), b)
        };
        let [r0, r1, r2, r3] = acc;
        let v = [
            px(r0[0], r1[0], r2[0], r3[0]),
            px(r0[1], r1[1], r2[1], r3[1]),
            px(r0[2], r1[2], r2[2], r3[2]),
            px(r0[3], r1[3], r2[3], r3[3]),
        ];
        let s = vmovl_s16(vget_low_s16(vmovl_s8(vcreate_s8(
            u32::from_le_bytes(sh.map(|s| s as u8)) as u64,
        ))));
        let q = if let Some(by) = vector_shifts(s, m) {
            let y = v.map(|a| requant4(a, m, by, out_zp));
            narrow16(y)
        } else {
            let mut q = [0i8; 16];
            let (ms, bs) = (requant.multiplier, sh);
            for (q, a) in q.chunks_exact_mut(4).zip(v) {
                let mut lanes = [0i32; 4];
                vst1q_s32(lanes.as_mut_ptr(), a);
                let ch = lanes.iter().zip(bs).enumerate();
                for (y, (r, (&acc, s))) in q.iter_mut().zip(ch) {
                    *y = crate::quant::requantize_i8(acc, ms.get(o + r), s as i32, out_zp);
                }
            }
            vld1q_s8(q.as_ptr())
        };
        let q = match lut {
            Some(t) => lut16(q, t),
            None => q,
        };
        let w = vreinterpretq_u32_s8(q);
        let words = [
            vgetq_lane_u32::<0>(w),
            vgetq_lane_u32::<1>(w),
            vgetq_lane_u32::<2>(w),
            vgetq_lane_u32::<3>(w),
        ];
        for (y, w) in outs.into_iter().zip(words) {
            if let Some(y) = y.get_mut(..ROWS) {
                y.copy_from_slice(&w.to_le_bytes().map(|b| b as i8));
            }
        }
    }
    true
}
