//! The fused ConvMlp whose internals are int16 (`codegen --int16
//! stages.N.mlp`: the `dw` and `fc2` outputs stored with 16 bits). Codegen
//! gives its three convs [`ConvVariant::Reference`]; the executor runs the
//! block here instead when it [`fits`] (feature `fast-int16`):
//!
//! - `dw` on [`wide`]'s int16 depthwise form (channel vectors of
//!   [`wide_block`](super::wide_block)) writing int16 (so the block input is
//!   an int16 stream: [`wide::depthwise_fits`]);
//! - `fc1` (int16 in, int8 out through the GELU table): the group's int16
//!   `dw` outputs are copied once into the word-aligned tile scratch as
//!   halfwords, then four output channels a pass run plain i16 x i8 dot
//!   products into wrapping i32 sums ([`dot4_16`], loops LLVM vectorizes
//!   on NEON), finished by the reference output step; on Helium a full
//!   group runs one weight row against its four pixels
//!   (`mve::dot_px4_i16`, `VMLADAVA.S16`) and each channel's four outputs
//!   are finished as one vector (`finish_px4`);
//! - `fc2` (int8 in, int16 out) on [`wide`]'s four-channel int8 1x1; on
//!   Helium a full group on the tier's `dot_px4_sum`, each channel's four
//!   int16 outputs finished as one vector (`mve::finish16_px4`);
//! - the residual add by the reference's [`add_with`] (Helium:
//!   `mve::add16` first).
//!
//! On NEON a full group of four pixels takes the tier's vector steps
//! instead (`neon::mlp_fc1_px4`, `neon::mlp_fc2_px4` with `fc2`'s `bias -
//! zp * sum w` folded once per call, `neon::add16`; chosen in
//! `kernels/mod.rs`, the other tiers decline), whatever they decline the
//! forms above. On the DSP tier a full group runs the int8 1x1's `asm!`
//! channel blocks: `fc1` on the int16 tile (`dsp::block_px4`), `fc2` from
//! the folded base with an int16 output step (`dsp::block_px4_i16`); the
//! residual add is `dsp::add16`.
//!
//! The reference sums an int16 input in i64; the i32 sums here equal it
//! exactly because [`fits`] admits only an `fc1` with `cin * 2^22 + max
//! |bias| <= i32::MAX` ([`sums_fit_i32`]; the input zero point is 0, so
//! `|w * (x - zp)| <= 128 * 32768`), and for those sums
//! [`requantize`](crate::quant::requantize) equals
//! [`requantize_wide`](crate::quant::requantize_wide). Every output is thus
//! bit-identical to
//! [`conv_mlp_reference`](crate::ops::conv_mlp::conv_mlp_reference), with
//! the same scratch (runtime/tests/kernels/wide_mlp.rs).
//!
//! [`ConvVariant::Reference`]: crate::ConvVariant::Reference
#![forbid(unsafe_code)]

use super::wide::{self, Int16};
use crate::ops::add::add_with;
use crate::ops::conv::{finish, ConvArgs};
use crate::ops::conv_mlp::drive_elems;
use crate::ops::I32s;
use crate::schedule::{Conv, ConvMlp};
use crate::tensor::{Elem, Storage};

/// Whether the block runs here: int16 `dw` and `fc2` outputs, an `fc1`
/// reading them with zero point 0, no identity tap and i32 sums that
/// cannot overflow ([`sums_fit_i32`]), the hidden vectors int8.
pub fn fits(p: &ConvMlp, fc1: &ConvArgs<'_>) -> bool {
    wide::FAST
        && p.dw.output.elem == Elem::I16
        && p.fc2.output.elem == Elem::I16
        && p.fc1.input.elem == Elem::I16
        && p.fc1.output.elem == Elem::I8
        && p.fc2.input.elem == Elem::I8
        && p.fc1.in_zp == 0
        && p.fc1.groups == 1
        && fc1.identity.is_empty()
        && sums_fit_i32(&p.fc1, fc1)
}

/// Whether every output channel of the 1x1 `p` (int16 input, zero point 0)
/// sums in i32 without overflow for any input and weights: `cin * 2^22 +
/// max |bias| <= i32::MAX` (every product at most `32768 * 128 = 2^22`
/// in magnitude). Every FastViT-T8 `fc1` (`cin <= 384`) passes with half a
/// billion to spare for the bias; a wider one runs the reference.
pub fn sums_fit_i32(p: &Conv, a: &ConvArgs<'_>) -> bool {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    sums_fit(cin, cout, a.bias)
}

/// [`sums_fit_i32`] of `cout` channels of `cin` inputs with biases `bias`.
pub fn sums_fit(cin: usize, cout: usize, bias: I32s<'_>) -> bool {
    let max_bias = (0..cout)
        .map(|o| bias.get(o).unsigned_abs())
        .max()
        .unwrap_or(0);
    (cin as u64) * (32768 * 128) + max_bias as u64 <= i32::MAX as u64
}

/// The block with int16 internals on the fast forms; `false` (nothing
/// written) if it does not [`fits`] or its `dw` is not one
/// [`wide::depthwise_fits`] takes. Same arguments and scratch as
/// [`conv_mlp_reference`](crate::ops::conv_mlp::conv_mlp_reference).
pub fn conv_mlp_wide_internals(
    p: &ConvMlp,
    (dw, fc1, fc2): (&ConvArgs<'_>, &ConvArgs<'_>, &ConvArgs<'_>),
    data: &mut [i8],
    scratch: &mut [i8],
) -> bool {
    if !fits(p, fc1) {
        return false;
    }
    if !wide::depthwise_fits(&p.dw, dw) {
        return false;
    }
    let (c, hidden) = (p.dw.input.c as usize, p.fc1.output.c as usize);
    // NEON and DSP: fc2's `bias - zp * sum w` once per call (1.5 KiB of
    // stack).
    let mut folded = [0i32; FOLD_MAX];
    let base = fold(&p.fc2, fc2, &mut folded);
    drive_elems(
        p,
        2,
        data,
        scratch,
        |y, x0, rows, d| wide::depthwise_group_i16(&p.dw, dw, (y, x0), |iy| rows.get(iy), d),
        |_, _, n, d, hid, tile| {
            fc1_pixels(&p.fc1, fc1, (c, hidden, n), d, hid, tile);
            let by_base = n == super::pointwise::TILE
                && base.is_some_and(|b| super::mlp_fc2_px4(&p.fc2, fc2, (hid, b), d));
            if !by_base {
                fc2_pixels(&p.fc2, fc2, (hidden, c, n), (hid, base), d, tile);
            }
        },
        |saved, f, out| {
            // The tier's vector elements first (NEON), the rest here.
            let done = 2 * super::add16(&p.add, saved, f, out);
            let (a, b) = (saved.get(done..), f.get(done..));
            if let (Some(a), Some(b), Some(out)) = (a, b, out.get_mut(done..)) {
                add_with(&p.add, (a, Int16), (b, Int16), (out, Int16));
            }
        },
    );
    true
}

/// Output channels of the `fc2` [`fold`] takes (FastViT-T8's widest).
const FOLD_MAX: usize = 384;

/// `base[o] = bias[o] - in_zp * sum w[o]` (wrapping: the reference's i32)
/// of the 1x1 `p` in `buf`, for the tiers whose `fc2` takes it
/// (`FOLD_FC2`) and up to [`FOLD_MAX`] output channels; else `None`.
fn fold<'b>(p: &Conv, a: &ConvArgs<'_>, buf: &'b mut [i32; FOLD_MAX]) -> Option<&'b [i32]> {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    if !super::FOLD_FC2 || cout > FOLD_MAX {
        return None;
    }
    let base = buf.get_mut(..cout)?;
    for (o, b) in base.iter_mut().enumerate() {
        let w = a.weights.get(o * cin..(o + 1) * cin)?;
        let sum = w.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
        *b = a.bias.get(o).wrapping_sub(p.in_zp.wrapping_mul(sum));
    }
    Some(base)
}

/// fc1 of `n` pixels: their int16 inputs `d` (`c` little-endian halfwords
/// a pixel) copied into `tile` as halfwords (word-aligned, so no unaligned
/// access on strict-alignment targets; the scratch holds
/// `ConvMlp::PIXELS * max(c, hidden)` of them), then four output channels
/// a pass into `hid` (`hidden` int8 values a pixel).
#[inline(always)]
fn fc1_pixels(
    p: &Conv,
    a: &ConvArgs<'_>,
    (c, hidden, n): (usize, usize, usize),
    d: &[i8],
    hid: &mut [i8],
    tile: &mut [u32],
) {
    // NEON: a full group with its output step in vectors.
    if n == super::pointwise::TILE && super::mlp_fc1_px4(p, a, d, hid) {
        return;
    }
    let w = |o: usize| a.weights.get(o * c..(o + 1) * c).unwrap_or(&[]);
    let put = |hid: &mut [i8], i: usize, o: usize, dot: i32| {
        let acc = a.bias.get(o).wrapping_add(dot);
        if let Some(h) = hid.get_mut(i * hidden + o) {
            *h = finish(p, a, acc, o, Elem::I8) as i8; // an int8 output: in range
        }
    };
    // The DSP tier: a full group on the 1x1 tile's `SMLAD` loops, whole
    // blocks of channels with their output step in `asm!`
    // (`dsp::block_px4`, as the int8 1x1), else channel by channel.
    if n == super::pointwise::TILE {
        if let Some(px) = super::prepare_px4_i16(d, c, tile) {
            let (mult, shift) = (a.requant.multiplier.0, a.requant.shift.0);
            let lut: Option<&[i8; 256]> = a.lut.try_into().ok();
            let blocks = (lut.is_some() || a.lut.is_empty())
                && super::block_px4_fits(shift, p.out_zp)
                && super::block_px4(
                    &px, hidden, a.weights, a.bias.0, mult, shift, p.out_zp, lut, hid,
                ) == hidden;
            if blocks {
                return;
            }
            for o in 0..hidden {
                let s = super::dot_px4(&px, w(o));
                for (i, &s) in s.iter().enumerate() {
                    put(hid, i, o, s);
                }
            }
            return;
        }
    }
    let xs: &mut [i16] = bytemuck::cast_slice_mut(tile);
    let Some(xs) = xs.get_mut(..n * c) else {
        return; // the executor sized the scratch: never taken
    };
    for (v, b) in xs.iter_mut().zip(d.chunks_exact(2)) {
        *v = match *b {
            [lo, hi] => i16::from_le_bytes([lo as u8, hi as u8]),
            _ => 0,
        };
    }
    let xs = &*xs;
    let mut o = 0;
    // Helium: a full group a weight row (`mve::dot_px4_i16`), a channel's
    // four outputs finished as one vector (`finish_px4`); elsewhere declined.
    let lut: Option<&[i8; 256]> = a.lut.try_into().ok();
    if n == super::pointwise::TILE && (lut.is_some() || a.lut.is_empty()) {
        while o < hidden {
            let Some(s) = super::dot_px4_i16(xs, c, w(o)) else {
                break;
            };
            let (m, sh) = (a.requant.multiplier.get(o), a.requant.shift.get(o));
            if !super::finish_px4(s, a.bias.get(o), m, sh, p.out_zp, lut, hid, o, hidden) {
                for (i, &s) in s.iter().enumerate() {
                    put(hid, i, o, s);
                }
            }
            o += 1;
        }
    }
    // Four output channels a pass; past the last channel the rows repeat
    // it and their sums are dropped (one loop: less code on flash-tight
    // boards).
    while o < hidden {
        let r = |j: usize| w((o + j).min(hidden - 1));
        let rows = [r(0), r(1), r(2), r(3)];
        for i in 0..n {
            let x = xs.get(i * c..(i + 1) * c).unwrap_or(&[]);
            let s = dot4_16(rows, x);
            for (j, &s) in s.iter().enumerate().take(hidden - o) {
                put(hid, i, o + j, s);
            }
        }
        o += 4;
    }
}

/// fc2 of `n` pixels: their int8 hidden vectors `hid` (`hidden` a pixel)
/// to int16 outputs in `d` (`c` a pixel). A full group of four pixels
/// runs the tier's 1x1 tile primitive ([`super::dot_px4`], the inputs
/// prepared once in `tile` by [`super::prepare_px4`]: `SMLAD` on DSP,
/// `VMLADAVA` on Helium), the input zero point folded out per channel
/// (`zp * sum w`, wrapping: the same i32 as the reference's
/// `sum w * (x - zp)`); a shorter group, or a tier that declines the
/// shape, or an identity tap, runs [`wide`]'s four-channel 1x1.
#[inline(always)]
fn fc2_pixels(
    p: &Conv,
    a: &ConvArgs<'_>,
    (hidden, c, n): (usize, usize, usize),
    (hid, base): (&[i8], Option<&[i32]>),
    d: &mut [i8],
    tile: &mut [u32],
) {
    let px = if n == super::pointwise::TILE && a.identity.is_empty() {
        super::prepare_px4(hid, hidden, tile)
    } else {
        None
    };
    let Some(px) = px else {
        wide::pointwise_group_i16(p, a, (hid, n), d);
        return;
    };
    // DSP: whole blocks of channels in `asm!` loops (`dsp::block_px4_i16`:
    // the sums started at the folded `base`, an int16 output step).
    if let Some(b) = base {
        let (mult, shift) = (a.requant.multiplier.0, a.requant.shift.0);
        let blocks = a.lut.is_empty()
            && super::block_px4_fits(shift, p.out_zp)
            && super::block_px4_i16(
                &px,
                c,
                a.weights,
                bytemuck::cast_slice(b),
                mult,
                shift,
                p.out_zp,
                d,
            ) == c;
        if blocks {
            return;
        }
    }
    for o in 0..c {
        let Some(w) = a.weights.get(o * hidden..(o + 1) * hidden) else {
            return; // the executor validated the weights: never taken
        };
        // Folded once per call (NEON, DSP); Helium: the row's sum from the
        // dot loop (`mve::dot_px4_sum`).
        let (dots, base) = match base.and_then(|b| b.get(o)) {
            Some(&b) => (super::dot_px4(&px, w), b),
            None => {
                let (dots, sum) = super::dot_px4_sum(&px, w).unwrap_or_else(|| {
                    let sum = w.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
                    (super::dot_px4(&px, w), sum)
                });
                (dots, a.bias.get(o).wrapping_sub(p.in_zp.wrapping_mul(sum)))
            }
        };
        // Helium: the four outputs as one vector (`mve::finish16_px4`).
        let (m, sh) = (a.requant.multiplier.get(o), a.requant.shift.get(o));
        if a.lut.is_empty() && super::finish16_px4(dots, base, m, sh, p.out_zp, d, o, c) {
            continue;
        }
        for (i, &s) in dots.iter().enumerate() {
            let v = finish(p, a, base.wrapping_add(s), o, Elem::I16);
            Int16.put(d, i * c + o, v);
        }
    }
}

/// `sum_i w_j[i] * x[i]` for the four int8 rows `w_j` and the int16 `x`,
/// wrapping i32, over the shortest length: plain zipped loops (LLVM
/// vectorizes them on NEON and Helium).
#[inline(always)]
pub fn dot4_16(w: [&[i8]; 4], x: &[i16]) -> [i32; 4] {
    let mut a = [0i32; 4];
    let rows = w[0].iter().zip(w[1]).zip(w[2]).zip(w[3]).zip(x);
    for ((((&w0, &w1), &w2), &w3), &x) in rows {
        let x = x as i32;
        a[0] = a[0].wrapping_add((w0 as i32).wrapping_mul(x));
        a[1] = a[1].wrapping_add((w1 as i32).wrapping_mul(x));
        a[2] = a[2].wrapping_add((w2 as i32).wrapping_mul(x));
        a[3] = a[3].wrapping_add((w3 as i32).wrapping_mul(x));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot4_16_sums_every_product() {
        let w: [&[i8]; 4] = [&[-128, 127], &[1, 1], &[0, -1], &[127, 127]];
        let x = [-32768i16, 32767];
        let s = dot4_16(w, &x);
        assert_eq!(s[0], 128 * 32768 + 127 * 32767);
        assert_eq!(s[1], -1);
        assert_eq!(s[2], -32767);
        assert_eq!(s[3], -127);
    }
}
