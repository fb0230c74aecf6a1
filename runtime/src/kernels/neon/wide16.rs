//! The int16 depthwise's channel-vector taps (`kernels::wide_block`): 16
//! channels a tap, the int16 inputs (two byte-element `LD1`, legal
//! unaligned) by the block's i16 weights (two more), `SMLAL`/`SMLAL2` into
//! four i32 vectors that stay in registers across every tap of the pixel:
//! 8 instructions per 16 MACs; and their output step 16 channels at a time
//! ([`wide_finish16`]), the block's taps transposed by [`wide_load16`].
//! Bit-identical to the portable twin
//! `wide_block::sums16` (runtime/tests/wide_kernels.rs, also under
//! qemu-aarch64).

use super::mlp16::shifts4;
use super::vector::{load4, load_next, multipliers4, requant4, vector_shifts};
use crate::kernels::wide_block::{Taps, LANES, MAX_KERNEL};
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

/// `wide_block::Block::load` for kernels of at least 16 taps (the 7x7s):
/// the taps of the 16 output channels `(c0 + j) * m + plane` (OHWI rows of
/// `k * k` bytes, `m * k * k` apart) transposed tap-major and widened into
/// `w` (`w[t * 16 + j]`), 16 taps at a time: 16 `LD1` (one per row), a
/// 16 x 16 byte transpose (`TRN1`/`TRN2` at 8, 16, 32 and 64 bits), `SXTL`
/// and stores; the last 16 taps overlap the previous chunk. `false`
/// (nothing written) for fewer than 16 or more than 49 taps, or rows past
/// the weights.
pub fn wide_load16(
    weights: &[i8],
    k: usize,
    (c0, m, plane): (usize, usize, usize),
    w: &mut [i16; MAX_KERNEL * MAX_KERNEL * LANES],
) -> bool {
    let kk = k * k;
    if !(LANES..=MAX_KERNEL * MAX_KERNEL).contains(&kk) {
        return false;
    }
    let stride = m * kk;
    let first = (c0 * m + plane) * kk;
    let Some(src) = weights.get(first..first + (LANES - 1) * stride + kk) else {
        return false;
    };
    let mut t0 = 0;
    loop {
        let t = t0.min(kk - LANES);
        // SAFETY: row `j`'s bytes `t..t + 16` lie at `j * stride + t + 16 <=
        // 15 * stride + kk = src.len()` (`t + 16 <= kk`); register-only NEON
        // intrinsics; `ST1`s of 8 i16 into the 16-lane chunks of `w`.
        unsafe {
            let mut v = [0usize; LANES].map(|_| vdupq_n_s8(0));
            for (j, v) in v.iter_mut().enumerate() {
                let mut p = src.as_ptr().add(j * stride + t);
                *v = load_next(&mut p);
            }
            transpose16(&mut v);
            for (d, &c) in w.chunks_exact_mut(LANES).skip(t).zip(&v) {
                vst1q_s16(d.as_mut_ptr(), vmovl_s8(vget_low_s8(c)));
                vst1q_s16(d.as_mut_ptr().add(8), vmovl_high_s8(c));
            }
        }
        if t0 + LANES >= kk {
            return true;
        }
        t0 += LANES;
    }
}

/// The 16 x 16 byte matrix `v` (row `j` in `v[j]`) transposed in place:
/// `TRN1`/`TRN2` of rows `i` and `i + d` at element size `8 * d` bits for
/// `d` = 1, 2, 4, 8.
#[inline(always)]
fn transpose16(v: &mut [int8x16_t; LANES]) {
    // SAFETY (each closure): register-only NEON intrinsics.
    let trn = |d: usize, a: int8x16_t, b: int8x16_t| unsafe {
        match d {
            1 => (vtrn1q_s8(a, b), vtrn2q_s8(a, b)),
            2 => {
                let (a, b) = (vreinterpretq_s16_s8(a), vreinterpretq_s16_s8(b));
                let (x, y) = (vtrn1q_s16(a, b), vtrn2q_s16(a, b));
                (vreinterpretq_s8_s16(x), vreinterpretq_s8_s16(y))
            }
            4 => {
                let (a, b) = (vreinterpretq_s32_s8(a), vreinterpretq_s32_s8(b));
                let (x, y) = (vtrn1q_s32(a, b), vtrn2q_s32(a, b));
                (vreinterpretq_s8_s32(x), vreinterpretq_s8_s32(y))
            }
            _ => {
                let (a, b) = (vreinterpretq_s64_s8(a), vreinterpretq_s64_s8(b));
                let (x, y) = (vtrn1q_s64(a, b), vtrn2q_s64(a, b));
                (vreinterpretq_s8_s64(x), vreinterpretq_s8_s64(y))
            }
        }
    };
    for d in [1, 2, 4, 8] {
        for i in 0..LANES {
            if i & d == 0 {
                if let (Some(&a), Some(&b)) = (v.get(i), v.get(i + d)) {
                    let (x, y) = trn(d, a, b);
                    if let Some(s) = v.get_mut(i) {
                        *s = x;
                    }
                    if let Some(s) = v.get_mut(i + d) {
                        *s = y;
                    }
                }
            }
        }
    }
}
