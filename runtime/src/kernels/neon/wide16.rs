//! The int16 depthwise's channel-vector taps (`kernels::wide_block`): 16
//! channels a tap, the int16 inputs (two byte-element `LD1`, legal
//! unaligned) by the block's i16 weights (two more), `SMLAL`/`SMLAL2` into
//! four i32 vectors that stay in registers across every tap of the pixel:
//! 8 instructions per 16 MACs; and their output step 16 channels at a time
//! ([`wide_finish16`]). Bit-identical to the portable twin
//! `wide_block::sums16` (runtime/tests/wide_kernels.rs, also under
//! qemu-aarch64).

use super::mlp16::shifts4;
use super::vector::{load4, load_next, multipliers4, requant4, vector_shifts};
use crate::kernels::wide_block::{Taps, LANES};
use crate::ops::conv::ConvArgs;
use crate::schedule::Conv;
use crate::tensor::Elem;
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

/// The output step of 16 contiguous output channels `o0..o0 + 16` of the
/// int16 depthwise (`wide::block_pixel`, channel multiplier 1) in vectors:
/// `bias + sums`, the identity tap `identity[o] * x[o]` (`x`: the pixel's
/// int16 inputs of those channels, zero point 0) when the layer has one,
/// `SQDMULH` + `SRSHL` requantization, `SQADD` of the output zero point and
/// the clamp to `out` (the reference `finish`, lane by lane). `None` (the
/// caller's scalar step) for a table, a channel outside the vector form
/// ([`vector_shifts`]) or short operands.
#[inline(always)]
pub fn wide_finish16(
    p: &Conv,
    a: &ConvArgs<'_>,
    (o0, sums): (usize, [i32; LANES]),
    x: &[i8],
    out: Elem,
) -> Option<[i32; LANES]> {
    if !a.lut.is_empty() {
        return None;
    }
    let identity = !a.identity.is_empty();
    let xs = if identity {
        Some(x.get(..2 * LANES)?)
    } else {
        None
    };
    let (lo, hi) = out.range();
    let mut v = [0i32; LANES];
    // SAFETY: register-only NEON intrinsics, `LD1`s of the 16 i32 of
    // `sums` and of the 32 bytes of `xs`, `ST1`s of 16 i32 into `v`.
    unsafe {
        let x = xs.map(|x| {
            let mut q = x.as_ptr();
            let x0 = vreinterpretq_s16_s8(load_next(&mut q));
            let x1 = vreinterpretq_s16_s8(load_next(&mut q));
            [
                vmovl_s16(vget_low_s16(x0)),
                vmovl_high_s16(x0),
                vmovl_s16(vget_low_s16(x1)),
                vmovl_high_s16(x1),
            ]
        });
        let (vlo, vhi) = (vdupq_n_s32(lo), vdupq_n_s32(hi));
        for (k, (s, y)) in sums.chunks_exact(4).zip(v.chunks_exact_mut(4)).enumerate() {
            let o = o0 + 4 * k;
            let (m, sh) = (multipliers4(a.requant, o)?, shifts4(a.requant, o)?);
            let by = vector_shifts(sh, m)?;
            let mut acc = vaddq_s32(vld1q_s32(s.as_ptr()), load4(a.bias, o)?);
            if let Some(x) = x {
                let xk = *x.get(k)?;
                acc = vmlaq_s32(acc, load4(a.identity, o)?, xk);
            }
            let r = requant4(acc, m, by, p.out_zp);
            vst1q_s32(y.as_mut_ptr(), vminq_s32(vmaxq_s32(r, vlo), vhi));
        }
    }
    Some(v)
}
