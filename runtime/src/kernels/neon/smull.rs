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
