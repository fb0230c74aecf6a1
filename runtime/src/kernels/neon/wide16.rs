//! The int16 depthwise's channel-vector taps (`kernels::wide_block`): 16
//! channels a tap, the int16 inputs (two byte-element `LD1`, legal
//! unaligned) by the block's i16 weights (two more), `SMLAL`/`SMLAL2` into
//! four i32 vectors that stay in registers across every tap of the pixel:
//! 8 instructions per 16 MACs. Bit-identical to the portable twin
//! `wide_block::sums16` (runtime/tests/wide_kernels.rs, also under
//! qemu-aarch64).

use super::vector::load_next;
use crate::kernels::wide_block::{Taps, LANES};
use core::arch::aarch64::*;

/// `wide_block::sums16` on NEON.
#[inline(always)]
pub fn wide_sums16<'r>(taps: Taps<impl Iterator<Item = (&'r [i8], &'r [i16])>>) -> [i32; LANES] {
    let (stride, nk) = (taps.stride(), taps.nk());
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    let mut a = unsafe { [vdupq_n_s32(0); 4] };
    for (x, w) in taps.fitting() {
        let (mut px, mut pw) = (x.as_ptr(), w.as_ptr().cast::<i8>());
        for _ in 0..nk {
            // SAFETY: `Taps::fitting`: `x` holds 32 bytes at each of the
            // `nk` taps `stride` apart, `w` 16 i16 (32 bytes) a tap;
            // `load_next` reads 16 bytes and advances by 16. AArch64 is
            // little-endian, so the bytes reinterpreted as i16 lanes are the
            // stored int16 values.
            unsafe {
                let mut q = px;
                let x0 = vreinterpretq_s16_s8(load_next(&mut q));
                let x1 = vreinterpretq_s16_s8(load_next(&mut q));
                let w0 = vreinterpretq_s16_s8(load_next(&mut pw));
                let w1 = vreinterpretq_s16_s8(load_next(&mut pw));
                a[0] = vmlal_s16(a[0], vget_low_s16(x0), vget_low_s16(w0));
                a[1] = vmlal_high_s16(a[1], x0, w0);
                a[2] = vmlal_s16(a[2], vget_low_s16(x1), vget_low_s16(w1));
                a[3] = vmlal_high_s16(a[3], x1, w1);
            }
            px = px.wrapping_add(stride);
        }
    }
    let mut out = [0i32; LANES];
    for (o, v) in out.chunks_exact_mut(4).zip(a) {
        // SAFETY: `o` is 4 writable i32 (16 bytes); `ST1` of 32-bit
        // elements needs 4-byte alignment, which an `[i32]` has.
        unsafe { vst1q_s32(o.as_mut_ptr(), v) };
    }
    out
}
