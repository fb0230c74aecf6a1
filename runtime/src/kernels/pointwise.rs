//! The fast 1x1 convolution ([`ConvVariant::Pointwise`] and
//! [`ConvVariant::PointwiseInPlace`], and `fc1`/`fc2` of a fused
//! [`ConvMlp`](crate::ConvMlp) whose variants are `Pointwise`).
//!
//! The input zero point is folded out of the inner loop: codegen stores
//! `folded_bias[o] = bias[o] - in_zp * sum_i w[o][i]` (wrapping i32), so
//! `acc = folded_bias[o] + sum_i w[o][i] * x[i]` equals the reference
//! `bias[o] + sum_i w[o][i] * (x[i] - in_zp)` modulo 2^32, hence bit for bit
//! whenever the reference does not overflow (and even then in release
//! builds, where both wrap). The dot products run four output channels at a
//! time ([`super::dot4`]) so each input vector load feeds four rows; the
//! tier's primitive decides the instructions.
//!
//! [`ConvVariant::Pointwise`]: crate::ConvVariant::Pointwise
//! [`ConvVariant::PointwiseInPlace`]: crate::ConvVariant::PointwiseInPlace
#![forbid(unsafe_code)]

use crate::ops::{I32s, Multipliers, RequantView, Shifts};
use crate::quant::{lut, requantize_i8};

/// Resolved operands of a pointwise conv.
#[derive(Clone, Copy)]
pub struct PointwiseArgs<'a> {
    /// Weights `[cout][cin]` (OHWI with a 1x1 kernel).
    pub weights: &'a [i8],
    /// `bias[o] - in_zp * sum_i w[o][i]`, wrapping, per output channel.
    pub folded_bias: I32s<'a>,
    /// Requantization per output channel.
    pub requant: RequantView<'a>,
    /// Output zero point.
    pub out_zp: i32,
    /// Activation table, or empty.
    pub lut: &'a [i8],
    /// No weight is -128, so two products sum exactly in i16 (NEON:
    /// `neon::pointwise_pairs` without dotprod, `neon::depthwise_taps16`);
    /// resolved once per layer.
    pub weights_above_min: bool,
}

impl PointwiseArgs<'_> {
    /// Output channel `o` of the sum `acc` (folded bias included): the
    /// reference's requantization and table.
    #[inline(always)]
    pub(crate) fn output(&self, o: usize, acc: i32) -> i8 {
        let (m, s) = (self.requant.multiplier.get(o), self.requant.shift.get(o));
        let y = requantize_i8(acc, m, s, self.out_zp);
        if self.lut.is_empty() {
            y
        } else {
            lut(self.lut, y)
        }
    }
}

/// Accumulator to output: the folded bias, then [`PointwiseArgs::output`].
#[inline(always)]
fn finish(a: &PointwiseArgs<'_>, o: usize, dot: i32) -> i8 {
    a.output(o, a.folded_bias.get(o).wrapping_add(dot))
}

/// One pixel: `out[o]` for every output channel from the `cin = x.len()`
/// input channels. `a.weights` holds `out.len() * x.len()` values.
pub fn pointwise_pixel(a: &PointwiseArgs<'_>, x: &[i8], out: &mut [i8]) {
    let cin = x.len();
    let cout = out.len();
    let quads = cout / 4;
    // No input channels: every dot product is 0 (and `chunks_exact(0)`
    // would panic).
    if cin == 0 {
        for (o, v) in out.iter_mut().enumerate() {
            *v = finish(a, o, 0);
        }
        return;
    }
    // Checked slicing (the executor validated the weights; never taken):
    // keeps bounds-check panics out of the code.
    let Some((body, tail)) = a
        .weights
        .get(..cout * cin)
        .and_then(|w| w.split_at_checked(quads * 4 * cin))
    else {
        return;
    };
    // Checked splits and a non-zero chunk size: no panic path even where
    // the optimizer cannot prove the bounds (the board no-panic check).
    let Some((out_body, out_tail)) = out.split_at_mut_checked(quads * 4) else {
        return;
    };
    let (Some(chunk), Some(quad)) = (
        core::num::NonZeroUsize::new(cin),
        core::num::NonZeroUsize::new(4 * cin),
    ) else {
        return;
    };
    for (q, (rows, o4)) in body
        .chunks_exact(quad.get())
        .zip(out_body.chunks_exact_mut(4))
        .enumerate()
    {
        let Some([r0, r1, r2, r3]) = split4(rows, cin) else {
            return;
        };
        let acc = super::dot4([r0, r1, r2, r3], x);
        for (j, (v, &d)) in o4.iter_mut().zip(acc.iter()).enumerate() {
            *v = finish(a, 4 * q + j, d);
        }
    }
    for (j, (row, v)) in tail.chunks_exact(chunk.get()).zip(out_tail).enumerate() {
        *v = finish(a, quads * 4 + j, super::dot1(row, x));
    }
}

/// A slice, shared or not, split by `split_at(_mut)_checked` (no panic
/// path: the board no-panic check).
trait SplitChecked: Sized {
    fn split_checked(self, at: usize) -> Option<(Self, Self)>;
}

impl SplitChecked for &[i8] {
    #[inline(always)]
    fn split_checked(self, at: usize) -> Option<(Self, Self)> {
        self.split_at_checked(at)
    }
}

impl SplitChecked for &mut [i8] {
    #[inline(always)]
    fn split_checked(self, at: usize) -> Option<(Self, Self)> {
        self.split_at_mut_checked(at)
    }
}

/// `s` as four consecutive parts, the first three of `n` (the weight rows
/// of four channels, or the outputs of a tile's four pixels); `None` if
/// `s` is shorter than `3 * n`.
#[inline(always)]
fn split4<S: SplitChecked>(s: S, n: usize) -> Option<[S; 4]> {
    let (p0, rest) = s.split_checked(n)?;
    let (p1, rest) = rest.split_checked(n)?;
    let (p2, p3) = rest.split_checked(n)?;
    Some([p0, p1, p2, p3])
}

/// Pixels per register tile: every weight row loaded once feeds this many
/// pixels ([`super::dot_px4`]).
pub const TILE: usize = 4;

/// One output channel's requantization, set up once per tile of four
/// outputs.
///
/// For `t = 31 - shift >= 32` (every real scale below 0.5, i.e. every
/// FastViT-T8 layer) `requantize` is `floor((acc * m + 2^(t-1)) / 2^t)`
/// computed as the high word of the 64-bit sum (one `SMLAL` with the
/// rounding constant preloaded) shifted right by `t - 32`: nested floors
/// of divisions by powers of two are one floor, and the high word is below
/// 2^31 in magnitude, so the i32 saturation of the reference never engages
/// and the zero-point add cannot overflow. Other shifts take the reference
/// [`requantize_i8`] itself. Either way the bits are the reference's.
struct Channel<'t> {
    bias: i32,
    multiplier: i32,
    shift: i32,
    /// `2^(t-1)` and `t - 32` when `t >= 32`.
    fast: Option<(i64, u32)>,
    out_zp: i32,
    lut: Option<&'t [i8; 256]>,
}

impl<'t> Channel<'t> {
    #[inline(always)]
    fn new(
        bias: i32,
        multiplier: i32,
        shift: i32,
        out_zp: i32,
        lut: Option<&'t [i8; 256]>,
    ) -> Self {
        let t = (31 - shift).clamp(1, 62);
        // 2^(t-1) as its two words, without a 64-bit shift: high word
        // 2^(s-1) (0 for s = 0), low word 2^31 only for s = 0.
        let fast = (t >= 32).then(|| {
            let s = (t - 32) as u32;
            let high = (1u32 << s) >> 1;
            let low = u32::from(s == 0) << 31;
            ((((high as u64) << 32) | low as u64) as i64, s)
        });
        Channel {
            bias,
            multiplier,
            shift,
            fast,
            out_zp,
            lut,
        }
    }

    /// Same bits as [`finish`].
    #[inline(always)]
    fn apply(&self, dot: i32) -> i8 {
        let acc = self.bias.wrapping_add(dot);
        let y = match self.fast {
            Some((round, s)) => {
                let high = ((acc as i64 * self.multiplier as i64 + round) >> 32) as i32;
                ((high >> s) + self.out_zp).clamp(-128, 127) as i8
            }
            None => requantize_slow(acc, self.multiplier, self.shift, self.out_zp),
        };
        match self.lut {
            Some(table) => table[(y as u8 ^ 0x80) as usize],
            None => y,
        }
    }
}

/// [`requantize_i8`] out of line: shifts that no FastViT-T8 layer uses, kept
/// off the hot path so its 64-bit shift setup is not hoisted into every
/// channel.
#[cold]
#[inline(never)]
fn requantize_slow(acc: i32, multiplier: i32, shift: i32, zero_point: i32) -> i8 {
    requantize_i8(acc, multiplier, shift, zero_point)
}

/// Little-endian i32 `i` of `b` (0 if `b` is too short).
#[inline(always)]
fn le(b: &[u8], i: usize) -> i32 {
    match b.get(4 * i..4 * i + 4).map(<[u8; 4]>::try_from) {
        Some(Ok(w)) => i32::from_le_bytes(w),
        _ => 0,
    }
}

/// Multiplier `i` of 16-bit little-endian multipliers, widened (0 past the end).
#[inline(always)]
fn le16(b: &[u8], i: usize) -> i32 {
    Multipliers(b).get(i)
}

/// [`TILE`] pixels at once: `x` is `TILE * cin` (pixel-major), `out` is
/// `TILE * cout`. The tier prepares the inputs once (on DSP: sign-extended
/// to halfword pairs in `words`), then each weight row feeds all four
/// pixels.
fn tile(
    a: &PointwiseArgs<'_>,
    cin: usize,
    cout: usize,
    x: &[i8],
    out: &mut [i8],
    words: &mut [u32],
    blocks: bool,
) {
    let lut: Option<&[i8; 256]> = match a.lut.len() {
        0 => None,
        _ => match a.lut.try_into() {
            Ok(t) => Some(t),
            Err(_) => return,
        },
    };
    let params = (
        a.weights.get(..cout * cin),
        a.folded_bias.0.get(..4 * cout),
        a.requant.multiplier.0.get(..2 * cout),
        a.requant.shift.0.get(..cout).map(Shifts),
    );
    let (Some(weights), Some(bias), Some(mult), Some(shift)) = params else {
        return;
    };
    let Some(prepared) = super::prepare_px4(x, cin, words) else {
        for (x, out) in x.chunks_exact(cin).zip(out.chunks_exact_mut(cout)) {
            pointwise_pixel(a, x, out);
        }
        return;
    };
    // Helium: requantization, table and stores of a channel's four outputs
    // as one vector (`mve::finish_px4`), the scalar path only for t < 32.
    if super::VECTOR_FINISH_PX4 {
        // Whole blocks of channels in `asm!` loops (`mve::tile_px4`), the
        // rest channel by channel.
        let done = super::tile_px4(
            x, cin, cout, weights, bias, mult, shift.0, a.out_zp, lut, out,
        );
        let params = bias.chunks_exact(4).zip(mult.chunks_exact(2)).zip(shift.0);
        let rows = weights.chunks_exact(cin).zip(params).enumerate().skip(done);
        for (o, (row, ((b, m), &s))) in rows {
            let d = super::dot_px4(&prepared, row);
            let (b, m, s) = (le(b, 0), le16(m, 0), s as i32);
            if !super::finish_px4(d, b, m, s, a.out_zp, lut, out, o, cout) {
                let ch = Channel::new(b, m, s, a.out_zp, lut);
                for (p, &v) in d.iter().enumerate() {
                    if let Some(y) = out.get_mut(p * cout + o) {
                        *y = ch.apply(v);
                    }
                }
            }
        }
        return;
    }
    // DSP: whole blocks of channels in `asm!` loops (`dsp::block_px4`).
    let done = match blocks {
        true => {
            let s = shift.0;
            super::block_px4(&prepared, cout, weights, bias, mult, s, a.out_zp, lut, out)
        }
        false => 0,
    };
    if done == cout {
        return;
    }
    // Checked splits (the caller passes `TILE * cout` bytes): no panic path.
    let Some([o0, o1, o2, o3]) = split4(&mut *out, cout) else {
        return;
    };
    const R: usize = super::ROWS;
    let (o0, o1, o2, o3) = (
        o0.chunks_exact_mut(R),
        o1.chunks_exact_mut(R),
        o2.chunks_exact_mut(R),
        o3.chunks_exact_mut(R),
    );
    let params = bias
        .chunks_exact(4 * R)
        .zip(mult.chunks_exact(2 * R))
        .zip(shift.0.chunks_exact(R).map(Shifts));
    let blocks = weights.chunks_exact(R * cin);
    let rest = blocks.remainder();
    let outs = o0.zip(o1).zip(o2).zip(o3);
    let tiles = blocks.zip(params).zip(outs).enumerate();
    for (q, ((block, ((b, m), s)), (((y0, y1), y2), y3))) in tiles {
        // NEON: the whole tile from dots to stored bytes as vectors.
        let ys = [&mut *y0, &mut *y1, &mut *y2, &mut *y3];
        let (bias, req) = (a.folded_bias, a.requant);
        if super::rows_px4_store(&prepared, block, q * R, bias, req, a.out_zp, lut, ys) {
            continue;
        }
        let d = super::dot_rows_px4(&prepared, block);
        for (r, d) in d.iter().enumerate() {
            // NEON: the four outputs requantized as one vector.
            if super::VECTOR_REQUANT_PX4 {
                let ys = super::requant_px4(*d, le(b, r), le16(m, r), s.get(r), a.out_zp);
                let ys = match lut {
                    Some(t) => ys.map(|y| t[(y as u8 ^ 0x80) as usize]),
                    None => ys,
                };
                for (y, v) in [&mut *y0, &mut *y1, &mut *y2, &mut *y3].into_iter().zip(ys) {
                    if let Some(y) = y.get_mut(r) {
                        *y = v;
                    }
                }
            } else {
                let ch = Channel::new(le(b, r), le16(m, r), s.get(r), a.out_zp, lut);
                for (y, &v) in [&mut *y0, &mut *y1, &mut *y2, &mut *y3].into_iter().zip(d) {
                    if let Some(y) = y.get_mut(r) {
                        *y = ch.apply(v);
                    }
                }
            }
        }
    }
    // Channels past the last multiple of `ROWS` (none in FastViT-T8).
    let first = cout / R * R;
    for (j, row) in rest.chunks_exact(cin).enumerate() {
        let o = first + j;
        let ch = Channel::new(le(bias, o), le16(mult, o), shift.get(o), a.out_zp, lut);
        let d = super::dot_px4(&prepared, row);
        for (p, &v) in d.iter().enumerate() {
            if let Some(y) = out.get_mut(p * cout + o) {
                *y = ch.apply(v);
            }
        }
    }
}

/// A pointwise conv over the `x.len() / cin` pixels of `x` into `out`
/// (`cout` per pixel, not overlapping), [`TILE`] pixels at a time, the last
/// `< TILE` one by one. `words` is the tier's tile scratch
/// ([`super::TILE_WORDS_PER_CIN`] `* cin` words; shorter: pixel by pixel).
pub fn pointwise_pixels(
    a: &PointwiseArgs<'_>,
    cin: usize,
    cout: usize,
    x: &[i8],
    out: &mut [i8],
    words: &mut [u32],
) {
    if cout == 0 {
        return;
    }
    if cin == 0 {
        for px in out.chunks_exact_mut(cout) {
            pointwise_pixel(a, &[], px);
        }
        return;
    }
    // DSP: the channel-block tile when every shift allows it (checked
    // once here, not per tile).
    let blocks = super::BLOCK_TILE && super::block_px4_fits(a.requant.shift.0, a.out_zp);
    // NEON: 16-channel x 4-pixel tiles first (with dotprod, else on pair
    // sums); the rest below.
    let done = if super::WIDE_TILE {
        super::pointwise_wide(a, cin, cout, x, out, words)
    } else if super::PAIR_TILE {
        super::pointwise_pairs(a, cin, cout, x, out)
    } else {
        0
    };
    let (Some(x), Some(out)) = (
        x.get(done.wrapping_mul(cin)..),
        out.get_mut(done.wrapping_mul(cout)..),
    ) else {
        return;
    };
    // `max(1)`: non-zero even if the product wrapped (no panic path).
    let tiles = x.chunks_exact(cin.wrapping_mul(TILE).max(1));
    let tail = tiles.remainder();
    let mut outs = out.chunks_exact_mut(cout.wrapping_mul(TILE).max(1));
    for (xt, ot) in tiles.zip(&mut outs) {
        tile(a, cin, cout, xt, ot, words, blocks);
    }
    let out_tail = outs.into_remainder();
    for (x, out) in tail.chunks_exact(cin).zip(out_tail.chunks_exact_mut(cout)) {
        pointwise_pixel(a, x, out);
    }
}

/// The tile scratch as words: the word-aligned part of `bytes` (which may
/// start anywhere in the arena).
pub fn tile_words(bytes: &mut [i8]) -> &mut [u32] {
    let skip = bytes.as_ptr().align_offset(4).min(bytes.len());
    let bytes = &mut bytes[skip..];
    let n = bytes.len() / 4;
    bytemuck::try_cast_slice_mut(&mut bytes[..4 * n]).unwrap_or_default()
}

/// A pointwise conv over `pixels` pixels: `input` is `pixels * cin`,
/// `output` is `pixels * cout` (not overlapping). The tile scratch is on the
/// stack ([`super::StackTile`]); never inlined, so the caller's frame does
/// not hold this tile and [`pointwise_in_place`]'s at once.
#[inline(never)]
pub fn pointwise(a: &PointwiseArgs<'_>, cin: usize, cout: usize, input: &[i8], output: &mut [i8]) {
    let mut words: super::StackTile = [0; core::mem::size_of::<super::StackTile>() / 4];
    pointwise_pixels(a, cin, cout, input, output, &mut words);
}

/// In place, row by row, for `cin == cout`: each `row`-byte row of `data` is
/// copied to `ring` (one row) and its output written over it. The tile
/// scratch is on the stack, as in [`pointwise`].
#[inline(never)]
pub fn pointwise_in_place(
    a: &PointwiseArgs<'_>,
    c: usize,
    row: usize,
    data: &mut [i8],
    ring: &mut [i8],
) {
    if row == 0 {
        return;
    }
    let Some(ring) = ring.get_mut(..row) else {
        return; // sized by the executor: never
    };
    let mut words: super::StackTile = [0; core::mem::size_of::<super::StackTile>() / 4];
    for r in data.chunks_exact_mut(row) {
        ring.copy_from_slice(r);
        pointwise_pixels(a, c, c, ring, r, &mut words);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// `Channel::apply` (the tile kernels' requantization, one `SMLAL`
        /// with the rounding preloaded for `t >= 32`) is the folded bias
        /// plus `requantize_i8`, then the table, for every shift.
        #[test]
        fn channel_is_requantize(
            bias in prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()],
            dot in any::<i32>(),
            multiplier in prop_oneof![Just(i32::MAX), Just(1 << 30), 0i32..=i32::MAX],
            shift in -33i32..=32,
            out_zp in -128i32..=127,
            table in any::<bool>(),
            seed in any::<u8>(),
        ) {
            let t: [i8; 256] = core::array::from_fn(|i| (i as u8 ^ seed) as i8);
            let ch = Channel::new(bias, multiplier, shift, out_zp, table.then_some(&t));
            let y = requantize_i8(bias.wrapping_add(dot), multiplier, shift, out_zp);
            let want = if table { lut(&t, y) } else { y };
            prop_assert_eq!(ch.apply(dot), want);
        }
    }
}
