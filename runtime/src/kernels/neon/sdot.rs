//! NEON's 16-lane multiply-accumulate with the dot-product extension (A55,
//! A76; the `fastvit_dotprod` cfg, selected in [`crate::kernels`]): one
//! `SDOT` through `asm!`, as `vdotq_s32` is not stable.

use core::arch::aarch64::*;

/// `acc[i] += sum_j w[4i + j] * x[4i + j]`, wrapping.
#[inline(always)]
pub fn mac16(acc: int32x4_t, w: int8x16_t, x: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: one register-only SDOT; the `fastvit_dotprod` cfg is set only
    // when the target has the dot-product extension.
    unsafe {
        core::arch::asm!("sdot {a:v}.4s, {w:v}.16b, {x:v}.16b", a = inout(vreg) acc,
            w = in(vreg) w, x = in(vreg) x, options(pure, nomem, nostack, preserves_flags));
    }
    acc
}

/// The lane-indexed `SDOT` is available: [`super::neon::pointwise_wide`]
/// runs (selected in [`crate::kernels`]).
pub const LANE_DOT: bool = true;

/// `acc[p] += sum_k sum_j x[k][4p + j] * w[4k + j]`, wrapping: four
/// by-element `SDOT`s (`x[k]` holds four pixels' bytes `4k..4k + 4`, `w`
/// sixteen bytes of one weight row).
#[inline(always)]
pub fn dot_lanes4(acc: int32x4_t, x: &[int8x16_t; 4], w: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: four register-only SDOTs (by element; a 32-bit index takes
    // any of v0-v31); the `fastvit_dotprod` cfg is set only when the target
    // has the dot-product extension.
    unsafe {
        core::arch::asm!(
            "sdot {a:v}.4s, {x0:v}.16b, {w:v}.4b[0]",
            "sdot {a:v}.4s, {x1:v}.16b, {w:v}.4b[1]",
            "sdot {a:v}.4s, {x2:v}.16b, {w:v}.4b[2]",
            "sdot {a:v}.4s, {x3:v}.16b, {w:v}.4b[3]",
            a = inout(vreg) acc, w = in(vreg) w, x0 = in(vreg) x[0], x1 = in(vreg) x[1],
            x2 = in(vreg) x[2], x3 = in(vreg) x[3],
            options(pure, nomem, nostack, preserves_flags));
    }
    acc
}
