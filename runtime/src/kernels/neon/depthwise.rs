//! The depthwise kernels' 16-lane steps: window runs, the tap-table loop
//! and the vector finish.

use super::vector::*;
use crate::kernels::dsp::lanes::TapRows;
use crate::kernels::pointwise::PointwiseArgs;
use crate::kernels::window::WindowArgs;
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
            let lo = vmull_s8(vget_low_s8(wv), vget_low_s8(xv));
            let hi = vmull_high_s8(wv, xv);
            a[0] = vaddw_s16(a[0], vget_low_s16(lo));
            a[1] = vaddw_high_s16(a[1], lo);
            a[2] = vaddw_s16(a[2], vget_low_s16(hi));
            a[3] = vaddw_high_s16(a[3], hi);
        }
        for (i, v) in [0, 4, 8, 12].into_iter().zip(a) {
            vst1q_s32(p.add(i), v);
        }
    }
    true
}

/// The depthwise kernels' 16-lane `finish` (channels `o0..o0 + 16`,
/// contiguous): [`requant4`] on four vectors, [`narrow16`], [`lut16`],
/// [`store16`]. `false` (nothing written) when a lane's shift or
/// multiplier is outside the vector form or an operand is short: the caller
/// takes the scalar `finish`.
#[inline(always)]
pub fn finish16(acc: &[i32; 16], ch: &PointwiseArgs<'_>, o0: usize, out: &mut [i8]) -> bool {
    let Some(sh) = ch.requant.shift.0.get(o0..o0 + 16) else {
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
    let mut y = [None; 4];
    for (i, y) in y.iter_mut().enumerate() {
        let Some(m) = multipliers4(ch.requant, o0 + 4 * i) else {
            return false;
        };
        let Some(s) = sh.get(4 * i..4 * i + 4) else {
            return false;
        };
        let word = s.iter().rev().fold(0u64, |w, &b| (w << 8) | b as u8 as u64);
        // SAFETY: register-only NEON intrinsics and a load of the local
        // `acc` lanes `4i..4i + 4` (in bounds: `i < 4`).
        let (s, a) = unsafe {
            let s = vmovl_s16(vget_low_s16(vmovl_s8(vcreate_s8(word))));
            (s, vld1q_s32(acc.as_ptr().add(4 * i)))
        };
        let Some(by) = vector_shifts(s, m) else {
            return false;
        };
        *y = Some(requant4(a, m, by, ch.out_zp));
    }
    let [Some(y0), Some(y1), Some(y2), Some(y3)] = y else {
        return false;
    };
    let q = narrow16([y0, y1, y2, y3]);
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
/// `SADDW`/`SADDW2`, no window clipping or per-row calls; then
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
    let mut c0 = 0;
    while c0 < body {
        // 32 channels per pass where they fit (one table load and loop step
        // per tap for both halves), else 16.
        let two = c0 + 32 <= body;
        let mut acc = [[0i32; 16]; 2];
        // SAFETY: register-only NEON intrinsics; `LD1`s of byte elements
        // (legal unaligned) of lanes `c0..c0 + 16` (`+ 32` when `two`, `<=
        // body`): 4 bytes per lane of bias (`4 * body` checked), per tap the
        // lanes at `ptrs[t]` (every table entry starts `tap_len() >= c >=
        // body` readable bytes, `TapRows`' invariant) and at `t * c` in the
        // weights (checked by `w_in`); stores to the local `acc`.
        unsafe {
            let pb = ch.folded_bias.0.as_ptr().cast::<i8>().add(4 * c0);
            let b = vld1q_s8_x4(pb);
            let mut v = [b.0, b.1, b.2, b.3].map(|v| vreinterpretq_s32_s8(v));
            let mut pw = ch.weights.as_ptr().add(c0);
            if two {
                let b = vld1q_s8_x4(pb.add(64));
                let mut u = [b.0, b.1, b.2, b.3].map(|v| vreinterpretq_s32_s8(v));
                for &p in ptrs {
                    let x = vld1q_s8_x2(p.add(c0));
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
                for &p in ptrs {
                    let xv = load_next(&mut p.add(c0));
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
