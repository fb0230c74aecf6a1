//! Squeeze-excite and the fully connected layer, restructured for speed:
//! portable safe Rust (every tier), bit-identical to the reference kernels
//! [`squeeze_excite_reference`] and [`fully_connected_reference`], which
//! they fall back to outside the cases below.
//!
//! - The pool sums blocks of [`CH`] channels pixel by pixel (contiguous
//!   rows instead of a channel-strided walk), `x` in i16 over up to 256
//!   pixels, then minus `n * in_zp`: the same wrapping i32 sums.
//! - The fully connected dot product is `sum w x - in_zp sum w`, exact (so
//!   equal to the reference's i64 sum of blocks) when `in_zp` lies in the
//!   input's range and `cin <= 65536`: one i32 sum per row for int8
//!   inputs; for int16 inputs i32 sums over blocks of 256 added in i64,
//!   each block decoded from its byte pairs once per group of 8 rows.
//! - The scale step hoists each channel's gate, multiplier and shift out of
//!   the pixel loop and drops the modulo. With an int8 `in_zp` the product
//!   `(x - in_zp) * s` is below `255 * 255`, and the stored multiplier is
//!   `m16 << 16`, so `(x - in_zp) * s * m16` fits i32 and, for `t = 31 -
//!   shift >= 33` (every FastViT scale requantization), the reference's
//!   `((acc * m) >> 32 + 2^(t-33)) >> (t-32)` is
//!   `(((x - in_zp) * s * m16) >> 16 + 2^(t-33)) >> (t-32)` in i32, one
//!   vectorizable expression per channel lane. The activation table, if
//!   any, is a second pass over the output.
//! - On NEON the scale and table run 16 channels a step and the int8 fully
//!   connected rows (int8 and int16 inputs) four at a time
//!   (`neon::se_scale16`, `neon::fc_dots`, the same values).
#![forbid(unsafe_code)]

use crate::ops::fully_connected::{fully_connected_reference, FcArgs};
use crate::ops::global_avg_pool::global_avg_pool_reference;
use crate::ops::squeeze_excite::{squeeze, squeeze_excite_reference, SeArgs};
use crate::ops::RequantView;
use crate::quant::{lut, requantize};
use crate::schedule::{GlobalAvgPool, SqueezeExcite};

/// The fast forms are compiled in (feature `fast-head`, on by default);
/// without it every call takes the reference op, and the fast code is
/// left out of the binary.
const FAST: bool = cfg!(feature = "fast-head");
use crate::tensor::Elem;

/// Channels per block of the pool and scale loops (stack arrays of i32).
pub const CH: usize = 64;

/// Whether `zp` is an int8 value (the fast paths' exactness bounds).
fn int8_zp(zp: i32) -> bool {
    (-128..=127).contains(&zp)
}

/// [`fully_connected_reference`], bit for bit: int8 inputs with an int8
/// zero point and at most 65536 of them take one exact i32 sum per row.
pub fn fully_connected(
    (input, in_elem): (&[i8], Elem),
    a: &FcArgs<'_>,
    (output, out_elem): (&mut [i8], Elem),
) {
    // A local copy: the operands stay in registers across the rows instead
    // of being read through `a` for every output.
    let a = *a;
    let (in_zp, weights) = (a.in_zp, a.weights);
    let cin = input.len() / in_elem.bytes();
    let cout = output.len() / out_elem.bytes();
    let shape = FAST && cin > 0 && cin <= 1 << 16 && weights.len() >= cin * cout;
    let (lo, hi) = in_elem.range();
    if !shape || !(lo..=hi).contains(&in_zp) {
        fully_connected_reference((input, in_elem), &a, (output, out_elem));
        return;
    }
    let mut finish = |o: usize, dot: i64| a.store((output, out_elem), o, dot);
    // sum w (x - in_zp) = sum w x - in_zp sum w, exact: the reference sum
    // is exact too (its i32 blocks cannot overflow). The tier's vector rows
    // (NEON) first.
    if super::fc_dots((input, in_elem), in_zp, weights, (cin, cout), &mut finish) {
        return;
    }
    match in_elem {
        Elem::I8 => {
            for (o, row) in weights.chunks_exact(cin).take(cout).enumerate() {
                finish(o, dot_i8(row, input, in_zp) as i64);
            }
        }
        Elem::I16 => dots_i16(input, in_zp, weights, (cin, cout), finish),
    }
}

/// `sum w (x - in_zp)` of int8 `x` and an int8 `in_zp`, `cin <= 65536`:
/// at most `65536 * 128 * 255 < 2^31` in magnitude, so the wrapping i32
/// arithmetic gives it exactly.
fn dot_i8(row: &[i8], input: &[i8], in_zp: i32) -> i32 {
    let (wx, ws) = row
        .iter()
        .zip(input)
        .fold((0i32, 0i32), |(wx, ws), (&w, &x)| {
            (
                wx.wrapping_add(w as i32 * x as i32),
                ws.wrapping_add(w as i32),
            )
        });
    wx.wrapping_sub(ws.wrapping_mul(in_zp))
}

/// Int16 inputs per i32 block of [`dots_i16`]: `256 * 128 * 32768 = 2^30`.
const BLOCK16: usize = 256;

/// Rows per group of [`dots_i16`]: each decoded input block feeds them all.
const ROWS16: usize = 8;

/// `finish(o, sum w[o] (x - in_zp))` for every row `o` of int16 `x`
/// (little-endian byte pairs), exact: i32 sums of `w x` over blocks of
/// [`BLOCK16`] inputs (decoded once per group of [`ROWS16`] rows) added in
/// i64, minus `in_zp sum w` (`|sum w| <= 2^23`).
fn dots_i16(
    input: &[i8],
    in_zp: i32,
    weights: &[i8],
    (cin, cout): (usize, usize),
    mut finish: impl FnMut(usize, i64),
) {
    for o0 in (0..cout).step_by(ROWS16) {
        let n = ROWS16.min(cout - o0);
        let (mut total, mut ws) = ([0i64; ROWS16], [0i32; ROWS16]);
        for (b, xb) in input.chunks(2 * BLOCK16).enumerate() {
            let mut x16 = [0i16; BLOCK16];
            for (x, pair) in x16.iter_mut().zip(xb.chunks_exact(2)) {
                if let &[lo, hi] = pair {
                    *x = i16::from_le_bytes([lo as u8, hi as u8]);
                }
            }
            let (i0, len) = (b * BLOCK16, xb.len() / 2);
            let rows = total.iter_mut().zip(&mut ws).take(n);
            for (o, (total, ws)) in (o0..).zip(rows) {
                let at = o * cin + i0;
                let wb = weights.get(at..at + len).unwrap_or(&[]);
                let (part, wsum) = wb.iter().zip(&x16).fold((0i32, 0i32), |(a, s), (&w, &x)| {
                    (a.wrapping_add(w as i32 * x as i32), s + w as i32)
                });
                *total += part as i64;
                *ws += wsum;
            }
        }
        for (o, (&total, &ws)) in (o0..).zip(total.iter().zip(&ws)).take(n) {
            finish(o, total - in_zp as i64 * ws as i64);
        }
    }
}

/// [`squeeze_excite_reference`], bit for bit. `scratch` holds
/// `SqueezeExcite::scratch_bytes` bytes.
pub fn squeeze_excite(
    p: &SqueezeExcite,
    a: &SeArgs<'_>,
    input: &[i8],
    scratch: &mut [i8],
    output: &mut [i8],
) {
    let c = p.input.c as usize;
    let fast = FAST
        && int8_zp(p.in_zp)
        && c > 0
        && input.len() % c == 0
        && output.len() == input.len()
        && (0..c).all(|ch| 31 - a.scale_requant.shift.get(ch) >= 33);
    if !fast {
        return squeeze_excite_reference(p, a, input, scratch, output);
    }
    let (zp, rq) = (p.in_zp, a.pool_requant);
    let pool = |pooled: &mut [i8]| pool(input, c, zp, rq, p.pool_zp, (pooled, Elem::I8));
    let Some(gate) = squeeze(p, a, scratch, pool, fully_connected) else {
        return;
    };
    // The tier's vector scale and table (NEON), else the loops below.
    let zps = (p.in_zp, p.out_zp);
    if super::se_scale16(zps, a.scale_requant, gate, input, output, a.lut) {
        return;
    }
    scale(p, a.scale_requant, gate, input, output);
    if let Ok(table) = <&[i8; 256]>::try_from(a.lut) {
        for o in output.iter_mut() {
            *o = table[(*o as u8 ^ 0x80) as usize];
        }
    } else if !a.lut.is_empty() {
        for o in output.iter_mut() {
            *o = lut(a.lut, *o);
        }
    }
}

/// [`global_avg_pool_reference`], bit for bit: int8 inputs with an int8 zero
/// point take `pool`.
pub fn global_avg_pool(p: &GlobalAvgPool, rq: RequantView<'_>, input: &[i8], output: &mut [i8]) {
    let c = p.input.c as usize;
    if !FAST || p.input.elem != Elem::I8 || !int8_zp(p.in_zp) || c == 0 || input.len() % c != 0 {
        return global_avg_pool_reference(p, rq, input, output);
    }
    pool(input, c, p.in_zp, rq, p.out_zp, (output, p.output.elem));
}

/// The squeeze (and the global pool): per channel the wrapping i32 sum of
/// int8 `x - in_zp` over all pixels, requantized and saturated to the
/// output's type (the reference `pool`), in blocks of [`CH`] channels over
/// contiguous pixel rows. `input` holds whole pixels of `c` channels.
fn pool(
    input: &[i8],
    c: usize,
    in_zp: i32,
    rq: RequantView<'_>,
    out_zp: i32,
    (out, out_elem): (&mut [i8], Elem),
) {
    // The callers checked `c > 0`; said again here, where the optimizer
    // sees it (the squeeze passes this through a closure), to keep the
    // divisions and chunkings below free of panics.
    if c == 0 {
        return;
    }
    // Sums of x in i16 over up to 256 pixels (|sum| <= 256 * 128), added
    // in i32; then minus n * in_zp: the same sum modulo 2^32.
    let zp_total = ((input.len() / c) as i32).wrapping_mul(in_zp);
    for c0 in (0..c).step_by(CH) {
        let n = CH.min(c - c0);
        let mut sums = [0i32; CH];
        for rows in input.chunks(256 * c) {
            let mut part = [0i16; CH];
            for px in rows.chunks_exact(c) {
                let xs = px.get(c0..c0 + n).unwrap_or(&[]);
                for (s, &x) in part.iter_mut().zip(xs) {
                    *s = s.wrapping_add(x as i16);
                }
            }
            for (s, &p) in sums.iter_mut().zip(&part) {
                *s = s.wrapping_add(p as i32);
            }
        }
        for s in sums.iter_mut() {
            *s = s.wrapping_sub(zp_total);
        }
        for (j, &sum) in sums.iter().take(n).enumerate() {
            let ch = c0 + j;
            let y = requantize(sum, rq.multiplier.get(ch), rq.shift.get(ch)).saturating_add(out_zp);
            out_elem.store(out, ch, y);
        }
    }
}

/// The excite: `rq_i8((x - in_zp) * (gate + 128))` per channel, before the
/// activation table. Needs an int8 `in_zp` and every `t >= 33` (see the
/// module docs).
fn scale(p: &SqueezeExcite, rq: RequantView<'_>, gate: &[i8], input: &[i8], output: &mut [i8]) {
    let c = gate.len();
    for c0 in (0..c).step_by(CH) {
        let n = CH.min(c - c0);
        // Per channel: k = s * m16, the rounding term and the final shift.
        let (mut k, mut round, mut shr) = ([0i32; CH], [0i32; CH], [0i32; CH]);
        let lanes = k.iter_mut().zip(&mut round).zip(&mut shr);
        for (ch, ((k, round), shr)) in (c0..c0 + n).zip(lanes) {
            let s = gate.get(ch).map_or(0, |&g| g as i32 + 128);
            let t = (31 - rq.shift.get(ch)).clamp(33, 62);
            *k = s * (rq.multiplier.get(ch) >> 16);
            *round = 1 << (t - 33);
            *shr = t - 32;
        }
        let rows = input.chunks_exact(c).zip(output.chunks_exact_mut(c));
        for (xs, ys) in rows {
            let xs = xs.get(c0..c0 + n).unwrap_or(&[]);
            let ys = ys.get_mut(c0..c0 + n).unwrap_or(&mut []);
            let lanes = k.iter().zip(&round).zip(&shr);
            for ((y, &x), ((&k, &round), &shr)) in ys.iter_mut().zip(xs).zip(lanes) {
                // |(x - in_zp) * k| <= 255 * 255 * 2^15 < 2^31.
                let hi = ((x as i32 - p.in_zp) * k) >> 16;
                let q = (hi + round) >> shr;
                *y = q.saturating_add(p.out_zp).clamp(-128, 127) as i8;
            }
        }
    }
}

/// The vector head steps' stand-ins for the tiers without them (chosen in
/// [`crate::kernels`]): they decline, so the portable loops run. Unused
/// on NEON.
#[allow(dead_code)]
pub(crate) mod declining {
    use crate::ops::RequantView;
    use crate::tensor::Elem;

    crate::kernels::portable::declining_hooks! {
        /// Declines (the NEON tier's `fc_dots`).
        fn fc_dots(
            (&[i8], Elem), i32, &[i8], (usize, usize), impl FnMut(usize, i64),
        ) -> bool = false;

        /// Declines (the NEON tier's `se_scale16`).
        fn se_scale16((i32, i32), RequantView<'_>, &[i8], &[i8], &mut [i8], &[i8]) -> bool = false;
    }
}
