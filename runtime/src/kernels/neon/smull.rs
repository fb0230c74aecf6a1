//! NEON's 16-lane multiply-accumulate without the dot-product extension
//! (A53, selected in [`crate::kernels`]): `SMULL`/`SMULL2` to i16 products,
//! `SADALP` into i32 lanes; i16 products cannot overflow.

use core::arch::aarch64::*;

/// `acc[i] += w[2i] * x[2i] + ...` pairwise into the four lanes, wrapping:
/// the same lane sums as `sdot.rs` after the tile's final `ADDP` reduction.
#[inline(always)]
pub fn mac16(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is baseline on AArch64; register-only intrinsics.
    unsafe {
        let lo = vmull_s8(vget_low_s8(w), vget_low_s8(x));
        let hi = vmull_high_s8(w, x);
        vpadalq_s16(vpadalq_s16(acc, lo), hi)
    }
}

/// No lane-indexed `SDOT`: [`super::neon::pointwise_wide`] is not selected
/// (its data flow still runs in the tests, on [`dot_lanes4`] below).
pub const LANE_DOT: bool = false;

/// `sdot.rs`'s `dot_lanes4` from `SMULL`/`SMULL2` and pairwise adds (the
/// same wrapping sums; exact i16 products), so the A53 test build checks
/// the wide tile's data flow too. Not on a hot path.
#[inline(always)]
pub fn dot_lanes4(acc: int32x4_t, x: &[int8x16_t; 4], w: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is baseline on AArch64; register-only intrinsics and
    // one `ST1` into the local `ws`.
    unsafe {
        // The four weight words, each broadcast to a vector in turn.
        let mut ws = [0i32; 4];
        vst1q_s32(ws.as_mut_ptr(), vreinterpretq_s32_s8(w));
        let mut acc = acc;
        for (&xk, wk) in x.iter().zip(ws) {
            let wk = vreinterpretq_s8_s32(vdupq_n_s32(wk));
            let lo = vpaddlq_s16(vmull_s8(vget_low_s8(xk), vget_low_s8(wk)));
            let hi = vpaddlq_s16(vmull_high_s8(xk, wk));
            acc = vaddq_s32(acc, vpaddq_s32(lo, hi));
        }
        acc
    }
}
