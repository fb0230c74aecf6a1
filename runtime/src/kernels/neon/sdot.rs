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
