//! The 1x1 conv with the dot-product extension: 16 output channels x 4
//! pixels on by-element `SDOT` (`pointwise::pointwise_pixels`).

use super::vector::*;
use crate::kernels::neon_mac::dot_lanes4;
use crate::kernels::pointwise::PointwiseArgs;
use core::arch::aarch64::*;

/// Output channels per tile of [`pointwise_wide`].
pub(super) const WIDE: usize = 16;

/// Columns of a 4 x 4 block of i32 lanes (`TRN1`/`TRN2` on words, then on
/// doublewords): `out[k]` holds lane `k` of `v[0..4]`.
#[inline(always)]
pub(super) fn transpose4(v: [int32x4_t; 4]) -> [int32x4_t; 4] {
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
/// per pixel. When `words` holds `4 * cin` bytes (the fused ConvMlp's tile
/// scratch) the four pixels are transposed once per tile into it (one
/// `ST1` of four vectors per 16 channels) and every channel block reads
/// them back with one `LD1` of four vectors, instead of 4 loads and 8
/// transposes per block. Returns the pixels done, a multiple of four from
/// the start (the caller does the rest): 0 unless `cin` and `cout` are
/// multiples of 16, every channel takes the vector requantization and the
/// operands are in range.
pub fn pointwise_wide(
    a: &PointwiseArgs<'_>,
    cin: usize,
    cout: usize,
    x: &[i8],
    out: &mut [i8],
    words: &mut [u32],
) -> usize {
    if cin == 0 || cin % 16 != 0 || cout == 0 || cout % WIDE != 0 {
        return 0;
    }
    let Some(lut) = tile_table(a, cin, cout) else {
        return 0;
    };
    let tiles = (x.len() / cin).min(out.len() / cout) / 4;
    // `cin` words: the four pixels' `cin` bytes each.
    let staged = words.len() >= cin;
    let st = words.as_mut_ptr().cast::<i8>();
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
    // `all_vector_form`); when `staged`, the `4 * cin` bytes of `words`
    // (`words.len() >= cin`), 64 per 16 input channels. Every access is
    // `LD1`/`ST1` of byte elements (legal unaligned, see `load_next`).
    unsafe {
        let zp = vdupq_n_s32(a.out_zp);
        for t in 0..tiles {
            let xt = x.as_ptr().add(4 * t * cin);
            let ot = out.as_mut_ptr().add(4 * t * cout);
            if staged {
                let mut px = [0, 1, 2, 3].map(|p| xt.add(p * cin));
                for k in 0..cin / 16 {
                    let p = px.each_mut().map(|p| vreinterpretq_s32_s8(load_next(p)));
                    let [x0, x1, x2, x3] = transpose4(p).map(|v| vreinterpretq_s8_s32(v));
                    vst1q_s8_x4(st.add(64 * k), int8x16x4_t(x0, x1, x2, x3));
                }
            }
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
                if staged {
                    let mut s = st.cast_const();
                    for _ in 0..cin / 16 {
                        let v = vld1q_s8_x4(s);
                        s = s.add(64);
                        let xk = [v.0, v.1, v.2, v.3];
                        for a in acc.iter_mut() {
                            *a = dot_lanes4(*a, &xk, load_stride(&mut w, cin));
                        }
                        w = w.wrapping_sub(WIDE * cin - 16);
                    }
                } else {
                    for _ in 0..cin / 16 {
                        let p = px.each_mut().map(|p| vreinterpretq_s32_s8(load_next(p)));
                        let xk = transpose4(p).map(|v| vreinterpretq_s8_s32(v));
                        for a in acc.iter_mut() {
                            *a = dot_lanes4(*a, &xk, load_stride(&mut w, cin));
                        }
                        w = w.wrapping_sub(WIDE * cin - 16);
                    }
                }
                let m = vld1q_s8_x2(mp.add(2 * o));
                let m = (vreinterpretq_s16_s8(m.0), vreinterpretq_s16_s8(m.1));
                let (m, by) = requant_operands16(m, load_next(&mut sp.add(o)));
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
                    store_at(ot.add(p * cout + o), q);
                }
            }
        }
    }
    tiles_done(out, lut, tiles, cout)
}
