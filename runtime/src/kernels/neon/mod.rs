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
//! multiple of 16 run scalar. With dotprod, 1x1 convs whose channel counts
//! are multiples of 16 take [`pointwise_wide`] instead (16 channels x 4
//! pixels, by-element `SDOT` on transposed inputs, no lane reductions);
//! the depthwise convs take [`depthwise_taps16`] (a tap table, 32 or 16
//! channels across all taps in registers). Bit-identical to the portable twin
//! (runtime/tests/fast_kernels.rs, under qemu-aarch64 with and without
//! `+dotprod`).

pub use super::portable::{dot1, dot4, dot_px4, prepare_px4, Px4, StackTile, TILE_WORDS_PER_CIN};

use super::dsp::lanes::TapRows;
use super::neon_mac::{dot_lanes4, mac16};
use super::pointwise::PointwiseArgs;
use super::window::WindowArgs;
use crate::ops::{I32s, RequantView};
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

/// The four weight rows of a tile (`rows` holds `4 * cin`, row-major).
#[inline(always)]
fn split_rows(rows: &[i8], cin: usize) -> Option<[&[i8]; ROWS]> {
    let rows = rows.get(..ROWS * cin)?;
    let (w0, r) = rows.split_at(cin);
    let (w1, r) = r.split_at(cin);
    let (w2, w3) = r.split_at(cin);
    Some([w0, w1, w2, w3])
}

/// `acc[r][p]`: the lane sums of row `r` against pixel `p` over the first
/// `cin / 16 * 16` channels (reduced by `ADDP`).
#[inline(always)]
fn acc_rows_px4(ws: [&[i8]; ROWS], xs: [&[i8]; 4], body: usize) -> [[int32x4_t; 4]; ROWS] {
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
/// holds `4 * cin`, row-major) against four pixels.
#[inline]
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

/// Four i32 values `v[o..o + 4]` as one vector (`None` past the end).
#[inline(always)]
fn load4(v: I32s<'_>, o: usize) -> Option<int32x4_t> {
    let bytes = v.0.get(4 * o..4 * o + 16)?;
    let mut p = bytes.as_ptr().cast::<i8>();
    // SAFETY: `bytes` is 16 readable bytes; AArch64 is little-endian, so the
    // byte lanes reinterpreted as i32 lanes are the four little-endian values.
    Some(unsafe { vreinterpretq_s32_s8(load_next(&mut p)) })
}

/// The multipliers of channels `o..o + 4`: the tile's only multiplier read,
/// four stored halfwords widened to their Q31 values (`SSHLL #16`).
#[inline(always)]
fn multipliers4(r: RequantView<'_>, o: usize) -> Option<int32x4_t> {
    let bytes = r.multiplier.0.get(2 * o..2 * o + 8)?;
    // SAFETY: `bytes` is 8 readable bytes; AArch64 is little-endian, so the
    // byte lanes reinterpreted as i16 lanes are the four stored halfwords.
    Some(unsafe { vshll_n_s16::<16>(vreinterpret_s16_s8(vld1_s8(bytes.as_ptr().cast::<i8>()))) })
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

/// 16 bytes at `*p` as a vector, advancing `*p` by `stride`: one
/// post-indexed `LD1` of byte elements (legal unaligned, see `load_next`).
///
/// # Safety
/// `*p` must point to 16 readable bytes (the advanced pointer is not read).
#[inline(always)]
unsafe fn load_stride(p: &mut *const i8, stride: usize) -> int8x16_t {
    let v: int8x16_t;
    // SAFETY: the caller guarantees 16 readable bytes at `*p`; the
    // post-increment is address arithmetic in a register, never a read.
    unsafe {
        core::arch::asm!("ld1 {{{v:v}.16b}}, [{p}], {s}", v = out(vreg) v, p = inout(reg) *p,
            s = in(reg) stride, options(pure, readonly, nostack, preserves_flags));
    }
    v
}

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

/// The `SRSHL` amounts `-(t - 31)` (`t = min(31 - shift, 62)`) when every
/// lane takes [`requant4`]: `shift <= -1` (`t >= 32`) and a multiplier
/// other than `i32::MIN` (where `SQDMULH` could saturate).
#[inline(always)]
fn vector_shifts(s: int32x4_t, m: int32x4_t) -> Option<int32x4_t> {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let min = vdupq_n_s32(i32::MIN);
        let fast = vmaxvq_s32(s) <= -1 && vmaxvq_u32(vceqq_s32(m, min)) == 0;
        fast.then(|| vmaxq_s32(s, vdupq_n_s32(-31)))
    }
}

/// `requantize(acc, m, shift) + zp` (saturating) for four lanes when
/// [`vector_shifts`] gave `by`: `SQDMULH` is `floor(acc * m / 2^31)` and
/// `SRSHL` by `-(t - 31)` the rounding shift in exact arithmetic, so by
/// nested floors the lane is `floor((acc * m + 2^(t-1)) / 2^t)`, the
/// reference's value for `t >= 32`; `SQADD` is its saturating add.
#[inline(always)]
fn requant4(acc: int32x4_t, m: int32x4_t, by: int32x4_t, zp: i32) -> int32x4_t {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe { vqaddq_s32(vrshlq_s32(vqdmulhq_s32(acc, m), by), vdupq_n_s32(zp)) }
}

/// Four i32 vectors to 16 bytes, saturating (`SQXTN` twice: the reference's
/// clamp to i8).
#[inline(always)]
fn narrow16(y: [int32x4_t; 4]) -> int8x16_t {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let h01 = vqmovn_high_s32(vqmovn_s32(y[0]), y[1]);
        let h23 = vqmovn_high_s32(vqmovn_s32(y[2]), y[3]);
        vqmovn_high_s16(vqmovn_s16(h01), h23)
    }
}

/// `t[q + 128]` for 16 lanes: `TBL` over the first 64 bytes, `TBX` over
/// each next 64 with the index lowered by 64 (out-of-range lanes are left).
#[inline(always)]
fn lut16(q: int8x16_t, t: &[i8; 256]) -> int8x16_t {
    // SAFETY: register-only NEON intrinsics, and four `vld1q_s8_x4` (`LD1`
    // of byte elements, legal unaligned) of the 256-byte table.
    unsafe {
        let idx = veorq_u8(vreinterpretq_u8_s8(q), vdupq_n_u8(0x80));
        let step = vdupq_n_u8(64);
        let t0 = vld1q_s8_x4(t.as_ptr());
        let t1 = vld1q_s8_x4(t.as_ptr().add(64));
        let t2 = vld1q_s8_x4(t.as_ptr().add(128));
        let t3 = vld1q_s8_x4(t.as_ptr().add(192));
        let i1 = vsubq_u8(idx, step);
        let i2 = vsubq_u8(i1, step);
        let i3 = vsubq_u8(i2, step);
        let y = vqtbl4q_s8(t0, idx);
        let y = vqtbx4q_s8(y, t1, i1);
        let y = vqtbx4q_s8(y, t2, i2);
        vqtbx4q_s8(y, t3, i3)
    }
}

/// 16 bytes stored at `out[..16]` (`false` if shorter): one `ST1` of byte
/// elements (legal unaligned under `+strict-align`, as `LD1` in `load_next`).
#[inline(always)]
fn store16(out: &mut [i8], v: int8x16_t) -> bool {
    let Some(out) = out.get_mut(..16) else {
        return false;
    };
    // SAFETY: `out` is 16 writable bytes; byte-element ST1 needs 1-byte
    // alignment.
    unsafe {
        core::arch::asm!("st1 {{{v:v}.16b}}, [{p}]", v = in(vreg) v, p = in(reg) out.as_mut_ptr(),
            options(nostack, preserves_flags));
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

/// Output channels per tile of [`pointwise_wide`].
const WIDE: usize = 16;

/// Columns of a 4 x 4 block of i32 lanes (`TRN1`/`TRN2` on words, then on
/// doublewords): `out[k]` holds lane `k` of `v[0..4]`.
#[inline(always)]
fn transpose4(v: [int32x4_t; 4]) -> [int32x4_t; 4] {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let (t0, t1) = (vtrn1q_s32(v[0], v[1]), vtrn2q_s32(v[0], v[1]));
        let (t2, t3) = (vtrn1q_s32(v[2], v[3]), vtrn2q_s32(v[2], v[3]));
        let d = |a: int32x4_t| vreinterpretq_s64_s32(a);
        let w = |a: int64x2_t| vreinterpretq_s32_s64(a);
        [
            w(vtrn1q_s64(d(t0), d(t2))),
            w(vtrn1q_s64(d(t1), d(t3))),
            w(vtrn2q_s64(d(t0), d(t2))),
            w(vtrn2q_s64(d(t1), d(t3))),
        ]
    }
}

/// Every channel takes the vector requantization ([`requant4`]): all
/// shifts `<= -1` and no stored multiplier `i16::MIN` (widened `i32::MIN`).
/// Checked once per call, 16 channels a step. `false` also if short.
fn all_vector_form(r: RequantView<'_>, cout: usize) -> bool {
    let (Some(s), Some(m)) = (r.shift.0.get(..cout), r.multiplier.0.get(..2 * cout)) else {
        return false;
    };
    // SAFETY: register-only NEON intrinsics and `LD1`s of byte elements of
    // the 16- and 32-byte chunks just taken.
    unsafe {
        let (mut smax, mut bad) = (vdupq_n_s8(i8::MIN), vdupq_n_u16(0));
        let min = vdupq_n_s16(i16::MIN);
        for (s, m) in s.chunks_exact(WIDE).zip(m.chunks_exact(2 * WIDE)) {
            smax = vmaxq_s8(smax, load_next(&mut s.as_ptr()));
            let m = vld1q_s8_x2(m.as_ptr().cast::<i8>());
            let (m0, m1) = (vreinterpretq_s16_s8(m.0), vreinterpretq_s16_s8(m.1));
            bad = vorrq_u16(bad, vorrq_u16(vceqq_s16(m0, min), vceqq_s16(m1, min)));
        }
        cout % WIDE == 0 && vmaxvq_s8(smax) <= -1 && vmaxvq_u16(bad) == 0
    }
}

/// The 1x1 conv with the dot-product extension, 16 output channels x 4
/// pixels per tile on the OHWI weights as stored: each 16 input channels of
/// the four pixels are transposed into four vectors of 4-byte groups
/// (`TRN1`/`TRN2`), and each weight row's 16 bytes feed four by-element
/// `SDOT`s (`neon_mac::dot_lanes4`) into that channel's vector of four
/// pixels: 4 + 16 loads, 8 transposes and 64 `SDOT`s per 1,024 MACs, no
/// lane reductions. Accumulators start at the folded bias (wrapping, as
/// the reference's sum); the tile is transposed back to pixel-major
/// vectors of four channels and requantized as in [`rows_px4_store`]
/// (`SQDMULH` + `SRSHL` + `SQADD`, `SQXTN`, `TBL`), one `ST1` of 16 channels
/// per pixel. Returns the pixels done, a multiple of four from the start
/// (the caller does the rest): 0 unless `cin` and `cout` are multiples of
/// 16, every channel takes the vector requantization and the operands are
/// in range.
pub fn pointwise_wide(
    a: &PointwiseArgs<'_>,
    cin: usize,
    cout: usize,
    x: &[i8],
    out: &mut [i8],
) -> usize {
    if cin == 0 || cin % 16 != 0 || cout == 0 || cout % WIDE != 0 {
        return 0;
    }
    let lut: Option<&[i8; 256]> = match a.lut.len() {
        0 => None,
        _ => match a.lut.try_into() {
            Ok(t) => Some(t),
            Err(_) => return 0,
        },
    };
    let ok = cout.checked_mul(cin).is_some_and(|n| a.weights.len() >= n)
        && a.folded_bias.0.len() >= 4 * cout
        && all_vector_form(a.requant, cout);
    if !ok {
        return 0;
    }
    let tiles = (x.len() / cin).min(out.len() / cout) / 4;
    let (wp, bp) = (a.weights.as_ptr(), a.folded_bias.0.as_ptr().cast::<i8>());
    let (mp, sp) = (
        a.requant.multiplier.0.as_ptr().cast::<i8>(),
        a.requant.shift.0.as_ptr(),
    );
    // SAFETY (whole block): register-only NEON intrinsics, and loads and
    // stores in bounds by the checks above: tile `t < tiles` reads pixels
    // `4t..4t + 4` of `x` (`cin` bytes each, `x.len() >= 4 * tiles * cin`)
    // and writes their `cout` outputs each in `out`; block `o < cout` (a
    // multiple of 16) reads weight rows `o..o + 16` (`cin` bytes each,
    // `weights.len() >= cout * cin`), 64 bias bytes at `4o` (`>= 4 * cout`),
    // 32 multiplier bytes at `2o` and 16 shift bytes at `o` (checked by
    // `all_vector_form`). Every access is `LD1`/`ST1` of byte elements
    // (legal unaligned, see `load_next`).
    unsafe {
        let zp = vdupq_n_s32(a.out_zp);
        for t in 0..tiles {
            let xt = x.as_ptr().add(4 * t * cin);
            let ot = out.as_mut_ptr().add(4 * t * cout);
            for o in (0..cout).step_by(WIDE) {
                let b = vld1q_s8_x4(bp.add(4 * o));
                let b = [b.0, b.1, b.2, b.3].map(|v| vreinterpretq_s32_s8(v));
                let mut acc: [int32x4_t; WIDE] = [
                    vdupq_laneq_s32::<0>(b[0]),
                    vdupq_laneq_s32::<1>(b[0]),
                    vdupq_laneq_s32::<2>(b[0]),
                    vdupq_laneq_s32::<3>(b[0]),
                    vdupq_laneq_s32::<0>(b[1]),
                    vdupq_laneq_s32::<1>(b[1]),
                    vdupq_laneq_s32::<2>(b[1]),
                    vdupq_laneq_s32::<3>(b[1]),
                    vdupq_laneq_s32::<0>(b[2]),
                    vdupq_laneq_s32::<1>(b[2]),
                    vdupq_laneq_s32::<2>(b[2]),
                    vdupq_laneq_s32::<3>(b[2]),
                    vdupq_laneq_s32::<0>(b[3]),
                    vdupq_laneq_s32::<1>(b[3]),
                    vdupq_laneq_s32::<2>(b[3]),
                    vdupq_laneq_s32::<3>(b[3]),
                ];
                let mut px = [0, 1, 2, 3].map(|p| xt.add(p * cin));
                // One pointer down the 16 rows (`LD1` post-indexed by
                // `cin`), back up to the next 16 columns after each step.
                let mut w = wp.add(o * cin);
                for _ in 0..cin / 16 {
                    let p = px.each_mut().map(|p| vreinterpretq_s32_s8(load_next(p)));
                    let xk = transpose4(p).map(|v| vreinterpretq_s8_s32(v));
                    for a in acc.iter_mut() {
                        *a = dot_lanes4(*a, &xk, load_stride(&mut w, cin));
                    }
                    w = w.wrapping_sub(WIDE * cin - 16);
                }
                let m = vld1q_s8_x2(mp.add(2 * o));
                let (m0, m1) = (vreinterpretq_s16_s8(m.0), vreinterpretq_s16_s8(m.1));
                let m = [
                    vshll_n_s16::<16>(vget_low_s16(m0)),
                    vshll_high_n_s16::<16>(m0),
                    vshll_n_s16::<16>(vget_low_s16(m1)),
                    vshll_high_n_s16::<16>(m1),
                ];
                let s = load_next(&mut sp.add(o));
                let (s0, s1) = (vmovl_s8(vget_low_s8(s)), vmovl_high_s8(s));
                let lo = vdupq_n_s32(-31);
                let by = [
                    vmaxq_s32(vmovl_s16(vget_low_s16(s0)), lo),
                    vmaxq_s32(vmovl_high_s16(s0), lo),
                    vmaxq_s32(vmovl_s16(vget_low_s16(s1)), lo),
                    vmaxq_s32(vmovl_high_s16(s1), lo),
                ];
                // y[g][p]: channels o + 4g.. of pixel p, requantized.
                let mut y = [[zp; 4]; 4];
                for (g, y) in y.iter_mut().enumerate() {
                    let c =
                        transpose4([acc[4 * g], acc[4 * g + 1], acc[4 * g + 2], acc[4 * g + 3]]);
                    *y = c.map(|v| requant4(v, m[g], by[g], a.out_zp));
                }
                let [y0, y1, y2, y3] = y;
                let qs = [0, 1, 2, 3].map(|p| narrow16([y0[p], y1[p], y2[p], y3[p]]));
                for (p, q) in qs.into_iter().enumerate() {
                    core::arch::asm!("st1 {{{v:v}.16b}}, [{p}]", v = in(vreg) q,
                        p = in(reg) ot.add(p * cout + o), options(nostack, preserves_flags));
                }
            }
        }
    }
    let done = 4 * tiles;
    // The table over the whole output at once (its 256 bytes stay in
    // registers, not reloaded around the accumulators of every tile).
    if let (Some(t), Some(out)) = (lut, out.get_mut(..done * cout)) {
        for v in out.chunks_exact_mut(16) {
            let mut p = v.as_ptr();
            // SAFETY: `v` is 16 readable bytes.
            let q = unsafe { load_next(&mut p) };
            store16(v, lut16(q, t));
        }
    }
    done
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
fn mac16_i32(v: &mut [int32x4_t; 4], w: int8x16_t, x: int8x16_t) {
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
