//! The head kernels on NEON: the squeeze-excite scale (with its activation
//! table) and the fully connected dot products (int8 and int16 inputs), the vector forms of
//! the portable steps in `kernels::squeeze_excite` (which take them when
//! they return `true`, else run their own loops): the same wrapping i32
//! sums and the same requantization, so bit-identical to the reference ops
//! (runtime/tests/head_kernels.rs, under qemu-aarch64 with and without
//! `+dotprod`).

use super::vector::*;
use crate::kernels::neon_mac::{mac16, LANE_DOT};
use crate::ops::RequantView;
use crate::tensor::Elem;
use core::arch::aarch64::*;

/// Rows of the fully connected layer per pass: each input vector feeds
/// four rows.
const FC_ROWS: usize = 4;

/// Input steps of 16 per block of i16 weight sums and (int16 inputs
/// without dotprod) i32 product sums: each `SADALP` adds two bytes to a
/// lane (`64 * 2 * 128 = 2^14`), each `SMLAL` lane four products of at
/// most `2^22` a step (`64 * 4 * 2^22 = 2^30`).
const STEPS: usize = 64;

/// `finish(o, sum_i w[o][i] (x[i] - in_zp))` for every row `o < cout` of
/// int8 or int16 `x` (little-endian byte pairs) and a zero point in the
/// input's range, exact (int8: in i32 for `cin <= 65536`, the portable
/// `dot_i8`'s value; int16: in i64, the reference's exact sum), rows in
/// groups of [`FC_ROWS`] sharing each input vector. Per 16 inputs and row
/// one `LD1` of weights and one `SADALP` of them into i16 sums (`sum w`,
/// widened every [`STEPS`]), then
///
/// - int8: the tier's 16-lane MAC (`SDOT`; `SMULL`/`SMULL2` + 2 `SADALP`
///   on the A53);
/// - int16 with dotprod: the inputs split once per 16 by `LD2` into high
///   bytes `h` and low bytes `l` (`x = 256 h + (l ^ 0x80) + 128`, the
///   second as a signed byte), two `SDOT`s;
/// - int16 without: `SXTL`/`SXTL2` of the weights, four `SMLAL`/`SMLAL2`
///   into i32 lanes, widened to i64 every [`STEPS`].
///
/// `false` (nothing called) unless `cin` is a non-zero multiple of 16 up to
/// 65536, `in_zp` lies in the input's range and the operands hold `cin`
/// inputs and `cin * cout` weights.
pub fn fc_dots(
    (input, in_elem): (&[i8], Elem),
    in_zp: i32,
    weights: &[i8],
    (cin, cout): (usize, usize),
    mut finish: impl FnMut(usize, i64),
) -> bool {
    let fits = cin.checked_mul(cout).is_some_and(|n| n <= weights.len());
    let (lo, hi) = in_elem.range();
    let Some(x) = input.get(..cin * in_elem.bytes()) else {
        return false;
    };
    if cin == 0 || cin % 16 != 0 || cin > 1 << 16 || !fits || !(lo..=hi).contains(&in_zp) {
        return false;
    }
    let zp = in_zp as i64;
    let rows = (weights, cin, cout);
    match in_elem {
        Elem::I8 => {
            let dot = |(wx, ws): (i32, i32)| wx.wrapping_sub(ws.wrapping_mul(in_zp)) as i64;
            let (block, one) = (
                |r: &[i8]| dots8::<FC_ROWS>(x, r),
                |r: &[i8]| dots8::<1>(x, r),
            );
            each_row(rows, block, one, |o, d| finish(o, dot(d)));
        }
        Elem::I16 => {
            let dot = |(wx, ws): (i64, i32)| wx - zp * ws as i64;
            let (block, one) = (
                |r: &[i8]| dots16::<FC_ROWS>(x, r),
                |r: &[i8]| dots16::<1>(x, r),
            );
            each_row(rows, block, one, |o, d| finish(o, dot(d)));
        }
    }
    true
}

/// `finish(o, d)` for every row `o < cout` of `weights` (`cin > 0` bytes
/// each), `d` its sums: [`FC_ROWS`] rows at a time by `block`, the last
/// `cout % FC_ROWS` one at a time by `one`.
#[inline(always)]
fn each_row<D>(
    (weights, cin, cout): (&[i8], usize, usize),
    block: impl Fn(&[i8]) -> [D; FC_ROWS],
    one: impl Fn(&[i8]) -> [D; 1],
    mut finish: impl FnMut(usize, D),
) {
    let blocks = weights.chunks_exact(FC_ROWS * cin).take(cout / FC_ROWS);
    for (o0, rows) in (0..).step_by(FC_ROWS).zip(blocks) {
        for (o, d) in (o0..).zip(block(rows)) {
            finish(o, d);
        }
    }
    let done = cout / FC_ROWS * FC_ROWS;
    let rest = weights.get(done * cin..cout * cin).unwrap_or(&[]);
    for (o, row) in (done..).zip(rest.chunks_exact(cin)) {
        let [d] = one(row);
        finish(o, d);
    }
}

/// The input-step blocking that [`dots8`] and [`dots16`] share: `cin / 16`
/// steps in blocks of at most [`STEPS`], `block(n, ws16)` running `n` of
/// them and adding each row's weights into its i16 sum `ws16` (zeroed per
/// block, so it cannot overflow), which is then widened into the row's i32
/// weight sum. Returns those sums (`N` vectors).
#[inline(always)]
fn weight_blocks<const N: usize>(
    cin: usize,
    mut block: impl FnMut(usize, &mut [int16x8_t; N]),
) -> [int32x4_t; N] {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe {
        let mut ws = [vdupq_n_s32(0); N];
        let mut steps = cin / 16;
        while steps > 0 {
            let n = steps.min(STEPS);
            steps -= n;
            let mut ws16 = [vdupq_n_s16(0); N];
            block(n, &mut ws16);
            for j in 0..N {
                ws[j] = vpadalq_s16(ws[j], ws16[j]);
            }
        }
        ws
    }
}

/// `(sum w x, sum w)` of `N` consecutive weight rows of `x.len()` bytes in
/// `rows` against int8 `x` (a non-zero multiple of 16 bytes, `rows`
/// holding `N * x.len()`; otherwise zeros), wrapping i32 sums.
#[inline(always)]
fn dots8<const N: usize>(x: &[i8], rows: &[i8]) -> [(i32, i32); N] {
    let cin = x.len();
    if cin % 16 != 0 || rows.len() < N * cin {
        return [(0, 0); N];
    }
    // SAFETY: register-only NEON intrinsics and `LD1`s of byte elements
    // (legal unaligned): `x` in 16-byte steps up to `cin`, row `j`'s
    // pointer over `rows[j * cin..(j + 1) * cin]` (in bounds: `rows` holds
    // `N * cin` bytes, checked above).
    unsafe {
        let mut px = x.as_ptr();
        let mut pw: [*const i8; N] = core::array::from_fn(|j| rows.as_ptr().add(j * cin));
        let mut acc = [vdupq_n_s32(0); N];
        let ws = weight_blocks::<N>(cin, |n, ws16| {
            for _ in 0..n {
                let xv = load_next(&mut px);
                for j in 0..N {
                    let wv = load_next(&mut pw[j]);
                    acc[j] = mac16(acc[j], wv, xv);
                    ws16[j] = vpadalq_s8(ws16[j], wv);
                }
            }
        });
        core::array::from_fn(|j| (vaddvq_s32(acc[j]), vaddvq_s32(ws[j])))
    }
}

/// `(sum w x, sum w)` of `N` consecutive weight rows of `cin` bytes in
/// `rows` against int16 `x` (`2 cin` bytes, `cin` a non-zero multiple of
/// 16, `rows` holding `N * cin`; otherwise zeros), exact. The `SDOT` form
/// with dotprod (`LANE_DOT`), else `SMLAL` (see [`fc_dots`]).
#[inline(always)]
fn dots16<const N: usize>(x: &[i8], rows: &[i8]) -> [(i64, i32); N] {
    let cin = x.len() / 2;
    if cin % 16 != 0 || rows.len() < N * cin {
        return [(0, 0); N];
    }
    // SAFETY: register-only NEON intrinsics and `LD1`/`LD2`s of byte
    // elements (legal unaligned): `x` in 32-byte steps up to `2 cin`, row
    // `j`'s pointer over `rows[j * cin..(j + 1) * cin]` (in bounds: `rows`
    // holds `N * cin` bytes, checked above).
    unsafe {
        let mut px = x.as_ptr();
        let mut pw: [*const i8; N] = core::array::from_fn(|j| rows.as_ptr().add(j * cin));
        // Dotprod: high- and low-byte sums; else two i32 halves, widened
        // into `wide` every block.
        let (mut a, mut b) = ([vdupq_n_s32(0); N], [vdupq_n_s32(0); N]);
        let mut wide = [vdupq_n_s64(0); N];
        let flip = vdupq_n_u8(0x80);
        let ws = weight_blocks::<N>(cin, |n, ws16| {
            for _ in 0..n {
                if LANE_DOT {
                    let v = vld2q_s8(px);
                    px = px.add(32);
                    let l = vreinterpretq_s8_u8(veorq_u8(vreinterpretq_u8_s8(v.0), flip));
                    for j in 0..N {
                        let wv = load_next(&mut pw[j]);
                        a[j] = mac16(a[j], wv, v.1);
                        b[j] = mac16(b[j], wv, l);
                        ws16[j] = vpadalq_s8(ws16[j], wv);
                    }
                } else {
                    let x0 = vreinterpretq_s16_s8(load_next(&mut px));
                    let x1 = vreinterpretq_s16_s8(load_next(&mut px));
                    for j in 0..N {
                        let wv = load_next(&mut pw[j]);
                        let (w0, w1) = (vmovl_s8(vget_low_s8(wv)), vmovl_high_s8(wv));
                        a[j] = vmlal_s16(a[j], vget_low_s16(w0), vget_low_s16(x0));
                        b[j] = vmlal_high_s16(b[j], w0, x0);
                        a[j] = vmlal_s16(a[j], vget_low_s16(w1), vget_low_s16(x1));
                        b[j] = vmlal_high_s16(b[j], w1, x1);
                        ws16[j] = vpadalq_s8(ws16[j], wv);
                    }
                }
            }
            if !LANE_DOT {
                for j in 0..N {
                    wide[j] = vpadalq_s32(vpadalq_s32(wide[j], a[j]), b[j]);
                    (a[j], b[j]) = (vdupq_n_s32(0), vdupq_n_s32(0));
                }
            }
        });
        core::array::from_fn(|j| {
            let ws = vaddvq_s32(ws[j]);
            let wx = if LANE_DOT {
                // x = 256 h + (l ^ 0x80) + 128.
                256 * vaddlvq_s32(a[j]) + vaddlvq_s32(b[j]) + 128 * ws as i64
            } else {
                vaddvq_s64(wide[j])
            };
            (wx, ws)
        })
    }
}

/// The squeeze-excite scale and activation table, 16 channels a step:
/// `lut(clamp(rq((x - in_zp) * (gate + 128)) + out_zp))` for every byte of
/// `input` (whole pixels of `c = gate.len()` channels) into `output`.
///
/// Per 16 channels, once: `k = (gate + 128) * m16` (the stored multiplier's
/// high half, see the portable `scale`) and the `SRSHL` amount `-(t - 16)`.
/// For `t >= 33` the reference's `((acc * m) >> 32 + 2^(t-33)) >> (t-32)`
/// with `acc * m = acc * k * 2^16` is, by nested floors, the rounding
/// shift of the exact `P = (x - in_zp) * k` (`|P| <= 255 * 255 * 2^15 <
/// 2^31`) by `t - 16`: `SRSHL` (its rounding add is exact; amounts
/// beyond 32 are clamped to 32, where the result is 0 for such `P` either
/// way). Per pixel: `LD1`, `SSUBL`/`SSUBL2` (`x - in_zp`, exact in i16),
/// 4 `SXTL`, 4 `MUL`, 4 `SRSHL`, `SQXTN` to i16, `SQADD` of `out_zp`,
/// `SQXTN` to i8 (the reference's saturating add and clamp: an i16
/// saturated value plus an int8 `out_zp` saturates to the same int8
/// value), the table (`TBL` + 3 `TBX`, its 256 bytes in registers) and
/// `ST1`, pixels `c` bytes apart.
///
/// `false` (nothing written) unless `c` is a non-zero multiple of 16, both
/// zero points are int8, every channel's `t = 31 - shift` is at least 33,
/// `lut` is empty or 256 bytes and `input`/`output` are the same whole
/// number of pixels.
pub fn se_scale16(
    (in_zp, out_zp): (i32, i32),
    rq: RequantView<'_>,
    gate: &[i8],
    input: &[i8],
    output: &mut [i8],
    lut: &[i8],
) -> bool {
    let c = gate.len();
    let int8 = |z: i32| (-128..=127).contains(&z);
    let shapes = c > 0 && c % 16 == 0 && input.len() % c == 0 && output.len() == input.len();
    if !shapes || !int8(in_zp) || !int8(out_zp) {
        return false;
    }
    if (0..c).any(|ch| 31 - rq.shift.get(ch) < 33) {
        return false;
    }
    let table: Option<&[i8; 256]> = match lut.len() {
        0 => None,
        _ => match lut.try_into() {
            Ok(t) => Some(t),
            Err(_) => return false,
        },
    };
    let pixels = input.len() / c;
    for c0 in (0..c).step_by(16) {
        let (mut k, mut by) = ([0i32; 16], [0i32; 16]);
        for (j, (k, by)) in k.iter_mut().zip(&mut by).enumerate() {
            let ch = c0 + j;
            let s = gate.get(ch).map_or(0, |&g| g as i32 + 128);
            let t = (31 - rq.shift.get(ch)).clamp(33, 62);
            *k = s * (rq.multiplier.get(ch) >> 16);
            *by = -(t - 16).min(32);
        }
        // SAFETY: register-only NEON intrinsics, `LD1`s of the local `k`
        // and `by`, and `scale_pixels`' contract: lanes `c0..c0 + 16` of
        // each of the `pixels` pixels of `c` bytes (`c0 + 16 <= c`,
        // `input.len() == output.len() == pixels * c`).
        unsafe {
            let k = vld1q_s32_x4(k.as_ptr());
            let by = vld1q_s32_x4(by.as_ptr());
            let ops = Scale {
                k: [k.0, k.1, k.2, k.3],
                by: [by.0, by.1, by.2, by.3],
                in_zp: vdup_n_s8(in_zp as i8),
                out_zp: vdupq_n_s16(out_zp as i16),
            };
            let src = input.as_ptr().add(c0);
            let dst = output.as_mut_ptr().add(c0);
            match table {
                Some(t) => {
                    let t = Table::load(t);
                    scale_pixels(&ops, (src, dst), (c, pixels), |q| t.map(q));
                }
                None => scale_pixels(&ops, (src, dst), (c, pixels), |q| q),
            }
        }
    }
    true
}

/// One block of 16 channels' scale operands (see [`se_scale16`]).
struct Scale {
    /// `(gate + 128) * m16` per lane.
    k: [int32x4_t; 4],
    /// `SRSHL` amounts `-(t - 16)`.
    by: [int32x4_t; 4],
    /// The input zero point in every byte lane.
    in_zp: int8x8_t,
    /// The output zero point in every i16 lane.
    out_zp: int16x8_t,
}

/// [`se_scale16`]'s pixel loop over one block of 16 channels, then `map`.
///
/// # Safety
/// `src + i * c` must start 16 readable bytes and `dst + i * c` 16
/// writable bytes for every `i < pixels`.
#[inline(always)]
unsafe fn scale_pixels(
    s: &Scale,
    (mut src, mut dst): (*const i8, *mut i8),
    (c, pixels): (usize, usize),
    map: impl Fn(int8x16_t) -> int8x16_t,
) {
    for _ in 0..pixels {
        // SAFETY: the caller's contract for pixel `i` (the pointers advance
        // `c` bytes a pixel); the rest is register-only.
        unsafe {
            let x = load_stride(&mut src, c);
            let d = [
                vsubl_s8(vget_low_s8(x), s.in_zp),
                vsubl_s8(vget_high_s8(x), s.in_zp),
            ];
            let p = [
                vmovl_s16(vget_low_s16(d[0])),
                vmovl_high_s16(d[0]),
                vmovl_s16(vget_low_s16(d[1])),
                vmovl_high_s16(d[1]),
            ];
            let y: [int32x4_t; 4] =
                core::array::from_fn(|i| vrshlq_s32(vmulq_s32(p[i], s.k[i]), s.by[i]));
            let h0 = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(y[0]), y[1]), s.out_zp);
            let h1 = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(y[2]), y[3]), s.out_zp);
            let q = map(vqmovn_high_s16(vqmovn_s16(h0), h1));
            store_stride(&mut dst, c, q);
        }
    }
}
