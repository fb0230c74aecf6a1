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
use super::pointwise::PointwiseArgs;
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
