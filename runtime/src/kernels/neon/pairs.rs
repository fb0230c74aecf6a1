//! The 1x1 conv without the dot-product extension (A53, A72) when no weight
//! is -128: products added in pairs in i16 before widening.
//!
//! With `w` in [-127, 127] and `x` in [-128, 127], `|w * x| <= 16,256`, so
//! `w0 * x0 + w1 * x1` fits an i16 exactly: `SMULL` + `SMLAL2` give eight
//! such pair sums and one `SADALP` adds them into the four i32 lanes, 3
//! instructions per 16 MACs against `SMULL`/`SMULL2`/2 `SADALP` (4) of the
//! general tile. Codegen quantizes weights to [-127, 127]; the runtime
//! checks it per layer ([`above_min`], in `Model::pointwise_args`).

use super::vector::*;
use crate::kernels::pointwise::PointwiseArgs;
use core::arch::aarch64::*;

/// No byte of `w` is -128 (`i8::MIN`): 64 bytes a step, `SMIN` into four
/// vectors, one `SMINV` at the end.
pub fn above_min(w: &[i8]) -> bool {
    let chunks = w.chunks_exact(64);
    let tail = chunks.remainder();
    // SAFETY: register-only NEON intrinsics and one `LD1` of four vectors
    // (byte elements, legal unaligned) per 64-byte chunk of `w`.
    let body = unsafe {
        let mut m = [vdupq_n_s8(i8::MAX); 4];
        for c in chunks {
            let v = vld1q_s8_x4(c.as_ptr());
            m = [
                vminq_s8(m[0], v.0),
                vminq_s8(m[1], v.1),
                vminq_s8(m[2], v.2),
                vminq_s8(m[3], v.3),
            ];
        }
        vminvq_s8(vminq_s8(vminq_s8(m[0], m[1]), vminq_s8(m[2], m[3])))
    };
    body > i8::MIN && !tail.contains(&i8::MIN)
}

/// Eight i16 pair sums `w[2i] * x[2i] + w[2i+1] * x[2i+1]`... in the
/// order `SMULL` + `SMLAL2` give (lanes `i` and `i + 8`): exact when no
/// weight is -128.
#[inline(always)]
fn pair(w: int8x16_t, x: int8x16_t) -> int16x8_t {
    // SAFETY: register-only NEON intrinsics (NEON is baseline on AArch64).
    unsafe { vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), w, x) }
}

/// The 1x1 conv on 4-channel x 4-pixel tiles of pair sums, 16 channels
/// (four tiles) per block: per 16 input channels 8 `LD1` and 16 x (`SMULL`,
/// `SMLAL2`, `SADALP`), the first step `SADDLP` (no accumulator zeroing);
/// lanes reduced per pixel by `ADDP` (its four channels in one vector),
/// folded bias added, requantized as in [`super::rows_px4_store`]
/// (`SQDMULH` + `SRSHL` + `SQADD`, `SQXTN`), each tile's 16 bytes to a stack
/// block that one `LD4` regroups into four pixels of 16 channels, stored by
/// one `ST1` each. The vector-requantization check runs once per call, the
/// table once over the output. Returns the pixels done, a multiple of four
/// from the start (the caller does the rest): 0 unless no weight is -128
/// (`a.weights_above_min`), `cin` and `cout` are non-zero
/// multiples of 16, every channel takes the vector requantization and the
/// operands are in range.
pub fn pointwise_pairs(
    a: &PointwiseArgs<'_>,
    cin: usize,
    cout: usize,
    x: &[i8],
    out: &mut [i8],
) -> usize {
    if !a.weights_above_min || cin == 0 || cin % 16 != 0 || cout == 0 || cout % 16 != 0 {
        return 0;
    }
    let Some(lut) = tile_table(a, cin, cout) else {
        return 0;
    };
    let tiles = (x.len() / cin).min(out.len() / cout) / 4;
    let (wp, bp) = (a.weights.as_ptr(), a.folded_bias.0.as_ptr().cast::<i8>());
    let (mp, sp) = (
        a.requant.multiplier.0.as_ptr().cast::<i8>(),
        a.requant.shift.0.as_ptr(),
    );
    /// Four tiles' 16 bytes each, as `LD4` reads them back.
    #[repr(align(16))]
    struct Block([i8; 64]);
    let mut block = Block([0; 64]);
    // SAFETY (whole block): register-only NEON intrinsics, and loads and
    // stores in bounds by the checks above: tile `t < tiles` reads pixels
    // `4t..4t + 4` of `x` (`cin` bytes each, `x.len() >= 4 * tiles * cin`)
    // and writes their `cout` outputs each in `out`; block `o < cout` (a
    // multiple of 16) reads weight rows `o..o + 16` (`cin` bytes each,
    // `weights.len() >= cout * cin`), 64 bias bytes at `4o` (`>= 4 *
    // cout`), 32 multiplier bytes at `2o` and 16 shift bytes at `o`
    // (checked by `all_vector_form`). Those accesses are `LD1`/`ST1` of
    // byte elements (legal unaligned, see `load_next`) or 8-byte `LD1`s of
    // bytes; `block` is a local 64 bytes, 16-aligned, for its `ST1`s and
    // `LD4`.
    unsafe {
        let lo = vdupq_n_s32(-31);
        let bk = block.0.as_mut_ptr();
        for t in 0..tiles {
            let xt = x.as_ptr().add(4 * t * cin);
            let ot = out.as_mut_ptr().add(4 * t * cout);
            for o in (0..cout).step_by(16) {
                let s = load_next(&mut sp.add(o));
                let (s0, s1) = (vmovl_s8(vget_low_s8(s)), vmovl_high_s8(s));
                let sh = [
                    vmovl_s16(vget_low_s16(s0)),
                    vmovl_high_s16(s0),
                    vmovl_s16(vget_low_s16(s1)),
                    vmovl_high_s16(s1),
                ];
                for (g, sh) in sh.into_iter().enumerate() {
                    let oc = o + 4 * g;
                    let mut w = [0, 1, 2, 3].map(|r| wp.add((oc + r) * cin));
                    let mut px = [0, 1, 2, 3].map(|p| xt.add(p * cin));
                    let wv = w.each_mut().map(|p| load_next(p));
                    let xv = px.each_mut().map(|p| load_next(p));
                    let mut acc = wv.map(|wr| xv.map(|xp| vpaddlq_s16(pair(wr, xp))));
                    for _ in 1..cin / 16 {
                        let wv = w.each_mut().map(|p| load_next(p));
                        let xv = px.each_mut().map(|p| load_next(p));
                        for (ar, &wr) in acc.iter_mut().zip(&wv) {
                            for (a, &xp) in ar.iter_mut().zip(&xv) {
                                *a = vpadalq_s16(*a, pair(wr, xp));
                            }
                        }
                    }
                    let b = vreinterpretq_s32_s8(load_next(&mut bp.add(4 * oc)));
                    let m = vshll_n_s16::<16>(vreinterpret_s16_s8(vld1_s8(mp.add(2 * oc))));
                    let by = vmaxq_s32(sh, lo);
                    let [r0, r1, r2, r3] = acc;
                    let px = |a0, a1, a2, a3| {
                        let (l, h) = (vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
                        requant4(vaddq_s32(vpaddq_s32(l, h), b), m, by, a.out_zp)
                    };
                    let y = [
                        px(r0[0], r1[0], r2[0], r3[0]),
                        px(r0[1], r1[1], r2[1], r3[1]),
                        px(r0[2], r1[2], r2[2], r3[2]),
                        px(r0[3], r1[3], r2[3], r3[3]),
                    ];
                    vst1q_s8(bk.add(16 * g), narrow16(y));
                }
                // Word `4g + p` of the block is tile `g`'s pixel `p`: `LD4`
                // gives pixel `p` its 16 channels in register `p`.
                let q = vld4q_s32(bk.cast_const().cast::<i32>());
                for (p, q) in [q.0, q.1, q.2, q.3].into_iter().enumerate() {
                    store_at(ot.add(p * cout + o), vreinterpretq_s8_s32(q));
                }
            }
        }
    }
    tiles_done(out, lut, tiles, cout)
}
