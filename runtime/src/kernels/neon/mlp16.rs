//! The int16 ConvMlp's vector steps (`kernels::wide_mlp`, issue 19): a full
//! group of four pixels through `fc1` (int16 in, GELU table out) and `fc2`
//! (int8 in, int16 out) with the output step in vectors, and the block's
//! int16 residual add eight elements a step. Each returns `false` (or
//! nothing done) for a shape it does not take, and the caller runs the
//! portable form; bit-identical to it (runtime/tests/mlp16_neon.rs, under
//! qemu-aarch64 with and without `+dotprod`).
//!
//! - [`mlp_fc1_px4`]: four output channels x four pixels a pass, eight input
//!   channels a step: the weights widened once (`SXTL`) and `SMLAL`/`SMLAL2`
//!   against the four pixels' int16 inputs (exact i32: `wide_mlp::fits`
//!   bounds `cin * 2^22 + |bias|`), lanes reduced by `ADDP`, then
//!   [`requant4`] of 16 channels, `SQXTN` to int8, a 4x4 word transpose to
//!   pixel order and 16-byte stores; the table in one pass at the end.
//! - [`mlp_fc2_px4`]: the int8 4 x 4 tile (`tile::acc_rows_px4`: `SDOT`
//!   or `SMULL` + `SADALP`), the caller's per-channel `bias - zp * sum w`,
//!   [`requant4`], `SQXTN` to int16 (the reference's clamp), 8-byte stores.
//! - [`add16`]: each operand's requantization in vectors, `SQDMULH` +
//!   `SRSHL` where the shift allows ([`requant4`]), else exactly in i64
//!   lanes (`SMULL` + rounding `SSHL` + `SQXTN`), `SQADD`s and the int16
//!   clamp of the reference `add_value`.

use super::tile::{acc_rows_px4, ROWS};
use super::vector::*;
use crate::ops::conv::ConvArgs;
use crate::ops::RequantView;
use crate::schedule::{Add, Conv};
use core::arch::aarch64::*;

/// 8 bytes at `*p` as a vector, advancing `*p` by 8: one post-indexed `LD1`
/// of byte elements (legal unaligned, as `vector::load_next`).
///
/// # Safety
/// `*p` must point to 8 readable bytes.
#[inline(always)]
unsafe fn load8_next(p: &mut *const i8) -> int8x8_t {
    let v: int8x8_t;
    // SAFETY: the caller guarantees 8 readable bytes at `*p`; byte-element
    // LD1 needs 1-byte alignment only.
    unsafe {
        core::arch::asm!("ld1 {{{v:v}.8b}}, [{p}], #8", v = out(vreg) v, p = inout(reg) *p,
            options(pure, readonly, nostack, preserves_flags));
    }
    v
}

/// 8 bytes stored at `p`: one `ST1` of byte elements (legal unaligned).
///
/// # Safety
/// `p` must point to 8 writable bytes.
#[inline(always)]
unsafe fn store8_at(p: *mut i8, v: int8x8_t) {
    // SAFETY: the caller guarantees 8 writable bytes at `p`.
    unsafe {
        core::arch::asm!("st1 {{{v:v}.8b}}, [{p}]", v = in(vreg) v, p = in(reg) p,
            options(nostack, preserves_flags));
    }
}

/// The four stored shifts of channels `o..o + 4` widened to an i32 vector.
#[inline(always)]
pub(super) fn shifts4(r: RequantView<'_>, o: usize) -> Option<int32x4_t> {
    let s: [i8; 4] = r.shift.0.get(o..o + 4)?.try_into().ok()?;
    let word = u32::from_le_bytes(s.map(|s| s as u8)) as u64;
    // SAFETY: register-only NEON intrinsics.
    Some(unsafe { vmovl_s16(vget_low_s16(vmovl_s8(vcreate_s8(word)))) })
}

/// The requantization operands of channels `o..o + 4` (multipliers,
/// `SRSHL` amounts) for channels [`all_vector_form`] admitted.
#[inline(always)]
fn operands4(r: RequantView<'_>, o: usize) -> Option<(int32x4_t, int32x4_t)> {
    let (m, s) = (multipliers4(r, o)?, shifts4(r, o)?);
    Some((m, vector_shifts(s, m)?))
}

/// `fc1` of a ConvMlp with int16 internals for a full group of four pixels
/// (`p`, `a`: the conv and its reference operands): `d` the pixels' int16
/// inputs (`2 * cin` little-endian bytes a pixel, zero point 0), `hid` their
/// int8 outputs (`cout` a pixel), through the layer's table if any. `false`
/// (nothing written) unless `cin` is a multiple of 8, `cout` of 16, every
/// channel takes [`requant4`] and every operand is in range.
pub fn mlp_fc1_px4(p: &Conv, a: &ConvArgs<'_>, d: &[i8], hid: &mut [i8]) -> bool {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    let lut: Option<&[i8; 256]> = match a.lut.len() {
        0 => None,
        _ => match a.lut.try_into() {
            Ok(t) => Some(t),
            Err(_) => return false,
        },
    };
    let ok = cin % 8 == 0
        && cin > 0
        && cout.checked_mul(cin).is_some_and(|n| a.weights.len() >= n)
        && a.bias.0.len() >= 4 * cout
        && d.len() >= 8 * cin
        && hid.len() >= 4 * cout
        && a.identity.is_empty()
        && all_vector_form(a.requant, cout);
    if !ok {
        return false;
    }
    let (w, x) = (a.weights.as_ptr(), d.as_ptr());
    let zp = p.out_zp;
    let mut o = 0;
    while o + 16 <= cout {
        let mut q = [unsafe_zero(); 4];
        for (k, qk) in q.iter_mut().enumerate() {
            let oc = o + 4 * k;
            // SAFETY: rows `oc..oc + 4` of `cin` weight bytes and the four
            // pixels' `2 * cin` input bytes are in range (checked above);
            // each pointer advances 8 (weights) or 16 (inputs) bytes a step
            // for `cin / 8` steps, so it reads only its own row or pixel.
            let acc = unsafe {
                let ws = [0, 1, 2, 3].map(|j| w.add((oc + j) * cin));
                let xs = [0, 1, 2, 3].map(|i| x.add(i * 2 * cin));
                sums_px4(ws, xs, cin / 8)
            };
            let (Some(b), Some((m, by))) = (load4(a.bias, oc), operands4(a.requant, oc)) else {
                return false; // checked above: never taken
            };
            // SAFETY: register-only NEON intrinsics.
            *qk = unsafe {
                let px = |i: usize| {
                    let lo = vpaddq_s32(acc[0][i], acc[1][i]);
                    let hi = vpaddq_s32(acc[2][i], acc[3][i]);
                    requant4(vaddq_s32(vpaddq_s32(lo, hi), b), m, by, zp)
                };
                vreinterpretq_s32_s8(narrow16([px(0), px(1), px(2), px(3)]))
            };
        }
        // SAFETY: register-only NEON intrinsics; then four 16-byte stores at
        // `hid[i * cout + o..][..16]` (`o + 16 <= cout`, `hid` holds `4 *
        // cout`).
        unsafe {
            // `q[k]` word `i`: pixel `i`, channels `o + 4k..`; transposed so
            // `r[i]` holds pixel `i`'s 16 channels.
            let t0 = vtrn1q_s32(q[0], q[1]);
            let t1 = vtrn2q_s32(q[0], q[1]);
            let t2 = vtrn1q_s32(q[2], q[3]);
            let t3 = vtrn2q_s32(q[2], q[3]);
            let s = |v: int32x4_t| vreinterpretq_s64_s32(v);
            let r = [
                vtrn1q_s64(s(t0), s(t2)),
                vtrn1q_s64(s(t1), s(t3)),
                vtrn2q_s64(s(t0), s(t2)),
                vtrn2q_s64(s(t1), s(t3)),
            ];
            for (i, &ri) in r.iter().enumerate() {
                store_at(hid.as_mut_ptr().add(i * cout + o), vreinterpretq_s8_s64(ri));
            }
        }
        o += 16;
    }
    if let (Some(t), Some(h)) = (lut, hid.get_mut(..4 * cout)) {
        lut_pass(h, t);
    }
    true
}

/// A zero vector (for array initializers).
#[inline(always)]
fn unsafe_zero() -> int32x4_t {
    // SAFETY: register-only NEON intrinsic.
    unsafe { vdupq_n_s32(0) }
}

/// `acc[j][i]`: lane sums of int8 weight row `ws[j]` against int16 pixel
/// `xs[i]` over `steps` steps of 8 channels.
///
/// # Safety
/// Each `ws[j]` must point to `8 * steps` readable bytes, each `xs[i]` to
/// `16 * steps`.
#[inline(always)]
pub(super) unsafe fn sums_px4(
    mut ws: [*const i8; 4],
    mut xs: [*const i8; 4],
    steps: usize,
) -> [[int32x4_t; 4]; 4] {
    let mut acc = [[unsafe_zero(); 4]; 4];
    for _ in 0..steps {
        // SAFETY: step `k < steps` reads bytes `8k..8k + 8` of each weight
        // row and `16k..16k + 16` of each pixel (the caller's bounds);
        // AArch64 is little-endian, so the input bytes as i16 lanes are the
        // stored int16 values.
        unsafe {
            let xv = xs.each_mut().map(|p| vreinterpretq_s16_s8(load_next(p)));
            let wv = ws.each_mut().map(|p| vmovl_s8(load8_next(p)));
            for (aj, &wj) in acc.iter_mut().zip(&wv) {
                for (a, &xi) in aj.iter_mut().zip(&xv) {
                    *a = vmlal_s16(*a, vget_low_s16(wj), vget_low_s16(xi));
                    *a = vmlal_high_s16(*a, wj, xi);
                }
            }
        }
    }
    acc
}

/// `fc2` of a ConvMlp with int16 internals for a full group of four pixels:
/// `hid` the int8 inputs (`cin` a pixel), `base[o] = bias[o] - in_zp * sum
/// w[o]` (wrapping, as the reference's sum), `d` the int16 outputs (`2 *
/// cout` bytes a pixel). `false` (nothing written) unless `cin` is a
/// multiple of 16, `cout` of 16, there is no identity tap or table, every
/// channel takes [`requant4`] and every operand is in range.
pub fn mlp_fc2_px4(p: &Conv, a: &ConvArgs<'_>, (hid, base): (&[i8], &[i32]), d: &mut [i8]) -> bool {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    let ok = cin % 16 == 0
        && cin > 0
        && cout.checked_mul(cin).is_some_and(|n| a.weights.len() >= n)
        && base.len() >= cout
        && hid.len() >= 4 * cin
        && d.len() >= 8 * cout
        && a.identity.is_empty()
        && a.lut.is_empty()
        && all_vector_form(a.requant, cout);
    if !ok {
        return false;
    }
    let xs = [0, 1, 2, 3].map(|i| hid.get(i * cin..(i + 1) * cin).unwrap_or(&[]));
    let zp = p.out_zp;
    let mut o = 0;
    while o + ROWS <= cout {
        let ws = [0, 1, 2, 3].map(|j| {
            let r = o + j;
            a.weights.get(r * cin..(r + 1) * cin).unwrap_or(&[])
        });
        let acc = acc_rows_px4(ws, xs, cin);
        let (Some(b), Some((m, by))) = (base.get(o..o + 4), operands4(a.requant, o)) else {
            return false; // checked above: never taken
        };
        // SAFETY: register-only NEON intrinsics, one `LD1` of the four i32
        // of `b`, and 8-byte stores at `d[2 * (i * cout + o)..][..8]` (`o + 4
        // <= cout`, `d` holds `8 * cout`).
        unsafe {
            let b = vld1q_s32(b.as_ptr());
            let [r0, r1, r2, r3] = acc;
            let px = r0.iter().zip(&r1).zip(&r2).zip(&r3).enumerate();
            for (i, (((&a0, &a1), &a2), &a3)) in px {
                let (lo, hi) = (vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
                let y = requant4(vaddq_s32(vpaddq_s32(lo, hi), b), m, by, zp);
                let v = vreinterpret_s8_s16(vqmovn_s32(y));
                store8_at(d.as_mut_ptr().add(2 * (i * cout + o)), v);
            }
        }
        o += ROWS;
    }
    true
}

/// One operand's requantization of [`add16`]: `SQDMULH` + `SRSHL`
/// ([`requant4`]) for `t >= 32` and a multiplier other than `i32::MIN`,
/// else `SMULL`, `+ 2^(t-1)`, `SSHL` by `-t`, `SQXTN` (the reference's
/// `floor((acc * m + 2^(t-1)) / 2^t)` saturated to i32, exact in i64).
#[derive(Clone, Copy)]
struct Rescale {
    m: i32,
    t: i32,
}

impl Rescale {
    fn new(m: i32, shift: i32) -> Self {
        Self {
            m,
            t: (31 - shift).clamp(1, 62),
        }
    }

    #[inline(always)]
    fn apply(self, v: int32x4_t) -> int32x4_t {
        // SAFETY: register-only NEON intrinsics.
        unsafe {
            if self.t >= 32 && self.m != i32::MIN {
                let by = vdupq_n_s32(31 - self.t);
                vrshlq_s32(vqdmulhq_s32(v, vdupq_n_s32(self.m)), by)
            } else {
                let m = vdup_n_s32(self.m);
                let round = vdupq_n_s64(1i64 << (self.t - 1));
                let by = vdupq_n_s64(-(self.t as i64));
                let lo = vshlq_s64(vaddq_s64(vmull_s32(vget_low_s32(v), m), round), by);
                let hi = vshlq_s64(vaddq_s64(vmull_high_s32(v, vdupq_n_s32(self.m)), round), by);
                vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi))
            }
        }
    }
}

/// The int16 add `out[i] = add_value(p, a[i], b[i])` over separate buffers
/// (`a`, `b`, `out` little-endian int16), eight elements a step; the
/// elements done (`out.len() / 16 * 8`, or 0 for short operands), the rest
/// left to the caller.
pub fn add16(p: &Add, a: &[i8], b: &[i8], out: &mut [i8]) -> usize {
    let n = out.len() / 16;
    if a.len() < 16 * n || b.len() < 16 * n || p.left_shift > 15 {
        return 0;
    }
    let (ra, rb) = (
        Rescale::new(p.a_mult, p.a_shift),
        Rescale::new(p.b_mult, p.b_shift),
    );
    let ro = Rescale::new(p.out_mult, p.out_shift);
    let (mut pa, mut pb, mut po) = (a.as_ptr(), b.as_ptr(), out.as_mut_ptr());
    // SAFETY: register-only NEON intrinsics; step `k < n` reads bytes
    // `16k..16k + 16` of `a` and `b` and writes those of `out` (all hold
    // `16 * n`; the pointers advance 16 a step).
    unsafe {
        let (za, zb, zo) = (
            vdupq_n_s32(p.a_zp),
            vdupq_n_s32(p.b_zp),
            vdupq_n_s32(p.out_zp),
        );
        let ls = vdupq_n_s32(p.left_shift as i32);
        let side = |v: int16x8_t, z: int32x4_t, r: Rescale| {
            let lo = vshlq_s32(vsubq_s32(vmovl_s16(vget_low_s16(v)), z), ls);
            let hi = vshlq_s32(vsubq_s32(vmovl_high_s16(v), z), ls);
            (r.apply(lo), r.apply(hi))
        };
        for _ in 0..n {
            let (a0, a1) = side(vreinterpretq_s16_s8(load_next(&mut pa)), za, ra);
            let (b0, b1) = side(vreinterpretq_s16_s8(load_next(&mut pb)), zb, rb);
            let y0 = vqaddq_s32(ro.apply(vqaddq_s32(a0, b0)), zo);
            let y1 = vqaddq_s32(ro.apply(vqaddq_s32(a1, b1)), zo);
            let y = vqmovn_high_s32(vqmovn_s32(y0), y1);
            store_stride(&mut po, 16, vreinterpretq_s8_s16(y));
        }
    }
    8 * n
}
