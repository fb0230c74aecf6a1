//! AArch64 NEON tier (A53, A72, A76): four output channels x four pixels per
//! register tile, 16 input channels per step, so every weight vector feeds
//! four pixels and every input vector four channels.
//!
//! * With dotprod (A55/A76, the `fastvit_dotprod` cfg): `SDOT` (16 MACs per
//!   instruction) through `asm!`, as `vdotq_s32` is not stable; 8 loads + 16
//!   `SDOT` per 256 MACs.
//! * Without (A53): `SMULL`/`SMULL2` to i16 products and `SADALP` into i32
//!   lanes (stable `core::arch::aarch64` intrinsics); i16 products cannot
//!   overflow, so no weight range is assumed.
//!
//! Lanes are reduced once per tile with `ADDP`; channels past the last
//! multiple of 16 run scalar. Bit-identical to the portable twin
//! (runtime/tests/fast_kernels.rs, under qemu-aarch64 with and without
//! `+dotprod`).

pub use super::portable::{dot1, dot4, dot_px4, prepare_px4, Px4, StackTile, TILE_WORDS_PER_CIN};

use super::neon_mac::mac16;
use core::arch::aarch64::*;

/// Output channels per tile.
pub const ROWS: usize = 4;

/// One step: `acc[r][p] += w[r] . x[p]` over 16 lanes.
#[inline(always)]
fn step(acc: &mut [[int32x4_t; 4]; 4], w: [int8x16_t; 4], x: [int8x16_t; 4]) {
    for (ar, &wr) in acc.iter_mut().zip(&w) {
        for (a, &xp) in ar.iter_mut().zip(&x) {
            *a = mac16(*a, wr, xp);
        }
    }
}

/// 16 bytes at `*p` as a vector, advancing `*p` by 16: one post-indexed
/// `LD1`. (`vld1q_s8` would do, but the bare-metal targets are
/// `+strict-align`, where LLVM splits an unaligned vector load into 16 byte
/// loads; `LD1` of byte elements is always element-aligned, so it is legal
/// there, MMU on or off.)
///
/// # Safety
/// `*p` must point to 16 readable bytes.
#[inline(always)]
unsafe fn load_next(p: &mut *const i8) -> int8x16_t {
    let v: int8x16_t;
    // SAFETY: the caller guarantees 16 readable bytes at `*p`; byte-element
    // LD1 needs 1-byte alignment only; NEON is baseline on AArch64.
    unsafe {
        core::arch::asm!("ld1 {{{v:v}.16b}}, [{p}], #16", v = out(vreg) v, p = inout(reg) *p,
            options(pure, readonly, nostack, preserves_flags));
    }
    v
}

/// `[r][p] = sum_i w_r[i] * x_p[i]`, wrapping i32: four weight rows (`rows`
/// holds `4 * cin`, row-major) against four pixels.
#[inline]
pub fn dot_rows_px4(p: &Px4<'_>, rows: &[i8]) -> [[i32; 4]; ROWS] {
    let xs = p.rows();
    let cin = xs[0].len();
    let mut out = [[0i32; 4]; ROWS];
    let Some(rows) = rows.get(..ROWS * cin) else {
        return out;
    };
    let (w0, r) = rows.split_at(cin);
    let (w1, r) = r.split_at(cin);
    let (w2, w3) = r.split_at(cin);
    let ws = [w0, w1, w2, w3];
    let body = cin / 16 * 16;
    // SAFETY: NEON is baseline on AArch64; register-only intrinsics.
    let zero = unsafe { vdupq_n_s32(0) };
    let mut acc = [[zero; 4]; 4];
    let mut w = ws.map(<[i8]>::as_ptr);
    let mut x = xs.map(<[i8]>::as_ptr);
    for _ in 0..body / 16 {
        // SAFETY: the eight pointers start at four weight rows and four
        // pixels of `cin >= body` bytes each and advance 16 per step, so
        // step `k < body / 16` reads bytes `16k..16k + 16` of each.
        let (wv, xv) = unsafe {
            (
                w.each_mut().map(|p| load_next(p)),
                x.each_mut().map(|p| load_next(p)),
            )
        };
        step(&mut acc, wv, xv);
    }
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
