//! The NEON tier's shared vector steps: byte-element loads and stores
//! (legal unaligned under `+strict-align`), the vector requantization, the
//! 16-byte narrowing and the 256-byte table lookup.

use crate::kernels::pointwise::PointwiseArgs;
use crate::ops::{I32s, RequantView};
use core::arch::aarch64::*;

/// 16 bytes at `*p` as a vector, advancing `*p` by 16: one post-indexed
/// `LD1`. (`vld1q_s8` would do, but the bare-metal targets are
/// `+strict-align`, where LLVM splits an unaligned vector load into 16 byte
/// loads; `LD1` of byte elements is always element-aligned, so it is legal
/// there, MMU on or off.)
///
/// # Safety
/// `*p` must point to 16 readable bytes.
#[inline(always)]
pub(super) unsafe fn load_next(p: &mut *const i8) -> int8x16_t {
    let v: int8x16_t;
    // SAFETY: the caller guarantees 16 readable bytes at `*p`; byte-element
    // LD1 needs 1-byte alignment only; NEON is baseline on AArch64.
    unsafe {
        core::arch::asm!("ld1 {{{v:v}.16b}}, [{p}], #16", v = out(vreg) v, p = inout(reg) *p,
            options(pure, readonly, nostack, preserves_flags));
    }
    v
}

/// 16 bytes at `*p` as a vector, advancing `*p` by `stride`: one
/// post-indexed `LD1` of byte elements (legal unaligned, see `load_next`).
///
/// # Safety
/// `*p` must point to 16 readable bytes (the advanced pointer is not read).
#[inline(always)]
pub(super) unsafe fn load_stride(p: &mut *const i8, stride: usize) -> int8x16_t {
    let v: int8x16_t;
    // SAFETY: the caller guarantees 16 readable bytes at `*p`; the
    // post-increment is address arithmetic in a register, never a read.
    unsafe {
        core::arch::asm!("ld1 {{{v:v}.16b}}, [{p}], {s}", v = out(vreg) v, p = inout(reg) *p,
            s = in(reg) stride, options(pure, readonly, nostack, preserves_flags));
    }
    v
}

/// Four i32 values `v[o..o + 4]` as one vector (`None` past the end).
#[inline(always)]
pub(super) fn load4(v: I32s<'_>, o: usize) -> Option<int32x4_t> {
    let bytes = v.0.get(4 * o..4 * o + 16)?;
    let mut p = bytes.as_ptr().cast::<i8>();
    // SAFETY: `bytes` is 16 readable bytes; AArch64 is little-endian, so the
    // byte lanes reinterpreted as i32 lanes are the four little-endian values.
    Some(unsafe { vreinterpretq_s32_s8(load_next(&mut p)) })
}

/// The multipliers of channels `o..o + 4`: the tile's only multiplier read,
/// four stored halfwords widened to their Q31 values (`SSHLL #16`).
#[inline(always)]
pub(super) fn multipliers4(r: RequantView<'_>, o: usize) -> Option<int32x4_t> {
    let bytes = r.multiplier.0.get(2 * o..2 * o + 8)?;
    // SAFETY: `bytes` is 8 readable bytes; AArch64 is little-endian, so the
    // byte lanes reinterpreted as i16 lanes are the four stored halfwords.
    Some(unsafe { vshll_n_s16::<16>(vreinterpret_s16_s8(vld1_s8(bytes.as_ptr().cast::<i8>()))) })
}

/// The `SRSHL` amounts `-(t - 31)` (`t = min(31 - shift, 62)`) when every
/// lane takes [`requant4`]: `shift <= -1` (`t >= 32`) and a multiplier
/// other than `i32::MIN` (where `SQDMULH` could saturate).
#[inline(always)]
pub(super) fn vector_shifts(s: int32x4_t, m: int32x4_t) -> Option<int32x4_t> {
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
pub(super) fn requant4(acc: int32x4_t, m: int32x4_t, by: int32x4_t, zp: i32) -> int32x4_t {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe { vqaddq_s32(vrshlq_s32(vqdmulhq_s32(acc, m), by), vdupq_n_s32(zp)) }
}

/// 16 channels' [`requant4`] operands: the multipliers (stored i16, in
/// `m0` and `m1`) as the high halfwords of four i32 vectors (`SSHLL #16`),
/// and the shifts `s` widened to four i32 vectors clamped at -31 (the
/// `SRSHL` amounts of [`vector_shifts`]), for channels checked to take the
/// vector form.
#[inline(always)]
pub(super) fn requant_operands16(
    (m0, m1): (int16x8_t, int16x8_t),
    s: int8x16_t,
) -> ([int32x4_t; 4], [int32x4_t; 4]) {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let m = [
            vshll_n_s16::<16>(vget_low_s16(m0)),
            vshll_high_n_s16::<16>(m0),
            vshll_n_s16::<16>(vget_low_s16(m1)),
            vshll_high_n_s16::<16>(m1),
        ];
        let (s0, s1) = (vmovl_s8(vget_low_s8(s)), vmovl_high_s8(s));
        let lo = vdupq_n_s32(-31);
        let by = [
            vmaxq_s32(vmovl_s16(vget_low_s16(s0)), lo),
            vmaxq_s32(vmovl_high_s16(s0), lo),
            vmaxq_s32(vmovl_s16(vget_low_s16(s1)), lo),
            vmaxq_s32(vmovl_high_s16(s1), lo),
        ];
        (m, by)
    }
}

/// Four i32 vectors to 16 bytes, saturating (`SQXTN` twice: the reference's
/// clamp to i8).
#[inline(always)]
pub(super) fn narrow16(y: [int32x4_t; 4]) -> int8x16_t {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let h01 = vqmovn_high_s32(vqmovn_s32(y[0]), y[1]);
        let h23 = vqmovn_high_s32(vqmovn_s32(y[2]), y[3]);
        vqmovn_high_s16(vqmovn_s16(h01), h23)
    }
}

/// A 256-byte table in 16 registers (four `LD1` of four vectors), applied
/// to 16 lanes by [`Table::map`].
pub(super) struct Table([int8x16x4_t; 4]);

impl Table {
    /// `t` in registers.
    #[inline(always)]
    pub(super) fn load(t: &[i8; 256]) -> Self {
        // SAFETY: four `vld1q_s8_x4` (`LD1` of byte elements, legal
        // unaligned) of the 256-byte table.
        unsafe {
            let p = t.as_ptr();
            Self([0, 64, 128, 192].map(|o| vld1q_s8_x4(p.add(o))))
        }
    }

    /// `t[q + 128]` for 16 lanes: `TBL` over the first 64 bytes, `TBX`
    /// over each next 64 with the index lowered by 64 (out-of-range lanes
    /// are left).
    #[inline(always)]
    pub(super) fn map(&self, q: int8x16_t) -> int8x16_t {
        // SAFETY: register-only NEON intrinsics.
        unsafe {
            let idx = veorq_u8(vreinterpretq_u8_s8(q), vdupq_n_u8(0x80));
            let step = vdupq_n_u8(64);
            let i1 = vsubq_u8(idx, step);
            let i2 = vsubq_u8(i1, step);
            let i3 = vsubq_u8(i2, step);
            let [t0, t1, t2, t3] = self.0;
            let y = vqtbl4q_s8(t0, idx);
            let y = vqtbx4q_s8(y, t1, i1);
            let y = vqtbx4q_s8(y, t2, i2);
            vqtbx4q_s8(y, t3, i3)
        }
    }
}

/// `t[q + 128]` for 16 lanes ([`Table::map`], the table loaded here).
#[inline(always)]
pub(super) fn lut16(q: int8x16_t, t: &[i8; 256]) -> int8x16_t {
    Table::load(t).map(q)
}

/// 16 bytes stored at `*p`, advancing `*p` by `stride`: one post-indexed
/// `ST1` of byte elements (legal unaligned, see `load_next`).
///
/// # Safety
/// `*p` must point to 16 writable bytes (the advanced pointer is not
/// written).
#[inline(always)]
pub(super) unsafe fn store_stride(p: &mut *mut i8, stride: usize, v: int8x16_t) {
    // SAFETY: the caller guarantees 16 writable bytes at `*p`; byte-element
    // ST1 needs 1-byte alignment; the post-increment is register arithmetic.
    unsafe {
        core::arch::asm!("st1 {{{v:v}.16b}}, [{p}], {s}", v = in(vreg) v, p = inout(reg) *p,
            s = in(reg) stride, options(nostack, preserves_flags));
    }
}

/// 16 bytes stored at `out[..16]` (`false` if shorter): one `ST1` of byte
/// elements (legal unaligned under `+strict-align`, as `LD1` in `load_next`).
#[inline(always)]
pub(super) fn store16(out: &mut [i8], v: int8x16_t) -> bool {
    let Some(out) = out.get_mut(..16) else {
        return false;
    };
    // SAFETY: `out` is 16 writable bytes.
    unsafe { store_at(out.as_mut_ptr(), v) };
    true
}

/// 16 bytes stored at `p`: one `ST1` of byte elements (legal unaligned,
/// see [`store16`]).
///
/// # Safety
/// `p` must point to 16 writable bytes.
#[inline(always)]
pub(super) unsafe fn store_at(p: *mut i8, v: int8x16_t) {
    // SAFETY: the caller guarantees 16 writable bytes at `p`; byte-element
    // ST1 needs 1-byte alignment.
    unsafe {
        core::arch::asm!("st1 {{{v:v}.16b}}, [{p}]", v = in(vreg) v, p = in(reg) p,
            options(nostack, preserves_flags));
    }
}

/// Every channel takes the vector requantization ([`requant4`]): all
/// shifts `<= -1` and no stored multiplier `i16::MIN` (widened `i32::MIN`).
/// Checked once per call, 16 channels a step. `false` also if short.
pub(super) fn all_vector_form(r: RequantView<'_>, cout: usize) -> bool {
    let (Some(s), Some(m)) = (r.shift.0.get(..cout), r.multiplier.0.get(..2 * cout)) else {
        return false;
    };
    // SAFETY: register-only NEON intrinsics and `LD1`s of byte elements of
    // the 16- and 32-byte chunks just taken.
    unsafe {
        let (mut smax, mut bad) = (vdupq_n_s8(i8::MIN), vdupq_n_u16(0));
        let min = vdupq_n_s16(i16::MIN);
        for (s, m) in s.chunks_exact(16).zip(m.chunks_exact(2 * 16)) {
            smax = vmaxq_s8(smax, load_next(&mut s.as_ptr()));
            let m = vld1q_s8_x2(m.as_ptr().cast::<i8>());
            let (m0, m1) = (vreinterpretq_s16_s8(m.0), vreinterpretq_s16_s8(m.1));
            bad = vorrq_u16(bad, vorrq_u16(vceqq_s16(m0, min), vceqq_s16(m1, min)));
        }
        cout % 16 == 0 && vmaxvq_s8(smax) <= -1 && vmaxvq_u16(bad) == 0
    }
}

/// The operand checks of the vector 1x1 tiles (`pointwise_wide`,
/// `pointwise_pairs`): `cout` weight rows of `cin` bytes, `cout` bias words
/// and every channel in the vector form ([`all_vector_form`]). The layer's
/// table (`None` without one), or `None` outside: the tile declines.
pub(super) fn tile_table<'a>(
    a: &PointwiseArgs<'a>,
    cin: usize,
    cout: usize,
) -> Option<Option<&'a [i8; 256]>> {
    let lut = match a.lut.len() {
        0 => None,
        _ => Some(a.lut.try_into().ok()?),
    };
    let ok = cout.checked_mul(cin).is_some_and(|n| a.weights.len() >= n)
        && a.folded_bias.0.len() >= 4 * cout
        && all_vector_form(a.requant, cout);
    ok.then_some(lut)
}

/// The end of a vector 1x1 tile loop: the `4 * tiles` pixels done (of
/// `cout` bytes each from the start of `out`) through the layer's table,
/// if any, in one pass over them all (its 256 bytes stay in registers,
/// not reloaded around the accumulators of every tile). The pixels done.
pub(super) fn tiles_done(
    out: &mut [i8],
    lut: Option<&[i8; 256]>,
    tiles: usize,
    cout: usize,
) -> usize {
    let done = 4 * tiles;
    if let (Some(t), Some(out)) = (lut, out.get_mut(..done * cout)) {
        lut_pass(out, t);
    }
    done
}

/// The table over `out[..n / 16 * 16]` in place, its 256 bytes loaded once
/// into registers ([`Table`]): an `LD1`, a `TBL` + three `TBX` and an
/// `ST1` per 16 bytes.
pub(super) fn lut_pass(out: &mut [i8], t: &[i8; 256]) {
    let t = Table::load(t);
    let mut dst = out.as_mut_ptr();
    let mut src = dst.cast_const();
    for _ in 0..out.len() / 16 {
        // SAFETY: step `i < n / 16` reads and then writes `out[16 i..16 i +
        // 16]` (both pointers advance 16 bytes a step).
        unsafe { store_stride(&mut dst, 16, t.map(load_next(&mut src))) };
    }
}
