//! The fast depthwise convolution ([`ConvVariant::Depthwise`],
//! [`ConvVariant::DepthwiseInPlace`], and the `dw` stage of a fused
//! [`ConvMlp`](crate::ConvMlp) whose `dw` variant is `Depthwise`).
//!
//! One output pixel is computed for all channels at once, `CHUNK` channels
//! at a time in a fixed-size i32 stack accumulator: per tap,
//! `acc[c] += w[tap][c] * x[tap_pixel][c]`, a contiguous loop over channels
//! that LLVM vectorizes (NHWC input, weights laid out tap-major,
//! channel-minor by codegen). The input zero point is folded out: codegen
//! stores `folded_bias[c] = bias[c] - in_zp * sum_tap w[tap][c]` (wrapping),
//! so an in-bounds tap adds `w * x`, and a padded tap adds `w * pad` where
//! `pad` is `pad_values[c]` or `in_zp`. The sum equals the reference
//! `bias + sum w * (x - in_zp)` modulo 2^32, hence bit for bit.
//!
//! [`ConvVariant::Depthwise`]: crate::ConvVariant::Depthwise
//! [`ConvVariant::DepthwiseInPlace`]: crate::ConvVariant::DepthwiseInPlace
#![forbid(unsafe_code)]

use super::dsp::lanes::{self as word_lanes, TapRows};
use super::pointwise::PointwiseArgs;
use super::window::{Window, WindowArgs, MAX_KERNEL, PAD_ROW};
use crate::arena::save_row;
use crate::ops::{widen, I32s, Multipliers, Shifts};
use crate::quant::{lut, requantize_i8};

/// One output pixel `(oy, ox)` of a depthwise or x2 conv and its input
/// rows: the one argument of every tier's pixel kernel (the depthwise and
/// multiplier paths here and their `*_pixel16` hooks), which otherwise all
/// repeat the same five parameters. `row(iy)` returns input row `iy` (`w *
/// cin` bytes) for any in-bounds `iy`.
pub struct Pixel<'p, R: ?Sized> {
    /// The layer's operands and geometry.
    pub a: &'p WindowArgs<'p>,
    /// Output row.
    pub oy: usize,
    /// Output column.
    pub ox: usize,
    /// The input rows.
    pub row: &'p R,
}

// Not derived: a `derive` would ask `R: Copy`, and the row source is only
// borrowed.
impl<R: ?Sized> Clone for Pixel<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R: ?Sized> Copy for Pixel<'_, R> {}

impl<'p, 's, R: Fn(usize) -> &'s [i8] + 'p> Pixel<'p, R> {
    /// The same pixel with its rows behind a `dyn`: a kernel kept out of
    /// line (flash on the 4 MB Pico 2) then has one copy for every caller.
    #[inline(always)]
    pub(crate) fn erased(&self) -> Pixel<'p, dyn Fn(usize) -> &'s [i8] + 'p> {
        Pixel {
            a: self.a,
            oy: self.oy,
            ox: self.ox,
            row: self.row,
        }
    }
}

/// Channels per accumulator chunk: as many i32 accumulators as the tier
/// keeps in registers across all taps of a pixel (Cortex-M DSP: 4, one
/// word of lanes (`dsp::lanes`), which leaves registers for the addresses;
/// NEON, MVE and hosts: 16 lanes = 4 vector registers).
pub const CHUNK: usize = if super::WORD_LANES { 4 } else { 16 };

/// The first `N` values of `s` as an array (`None` if shorter): fixed-size
/// operands let LLVM unroll and vectorize the lane loops completely.
#[inline(always)]
pub(crate) fn lanes<const N: usize>(s: &[i8]) -> Option<&[i8; N]> {
    s.get(..N)?.try_into().ok()
}

#[inline(always)]
fn mac<const N: usize>(acc: &mut [i32; N], w: &[i8], x: &[i8]) {
    let (Some(w), Some(x)) = (lanes::<N>(w), lanes::<N>(x)) else {
        return;
    };
    if super::WORD_LANES && N == 4 {
        if let (Ok(a), Ok(w), Ok(x)) = (
            <&mut [i32; 4]>::try_from(&mut acc[..]),
            <&[i8; 4]>::try_from(&w[..]),
            <&[i8; 4]>::try_from(&x[..]),
        ) {
            return word_lanes::mac4(a, w, x);
        }
    }
    for i in 0..N {
        acc[i] = acc[i].wrapping_add(w[i] as i32 * x[i] as i32);
    }
}

#[inline(always)]
pub(crate) fn mac_const<const N: usize>(acc: &mut [i32; N], w: &[i8], v: i32) {
    let Some(w) = lanes::<N>(w) else {
        return;
    };
    if super::WORD_LANES && N == 4 {
        if let (Ok(a), Ok(w)) = (
            <&mut [i32; 4]>::try_from(&mut acc[..]),
            <&[i8; 4]>::try_from(&w[..]),
        ) {
            return word_lanes::mac4_const(a, w, v);
        }
    }
    for i in 0..N {
        acc[i] = acc[i].wrapping_add((w[i] as i32).wrapping_mul(v));
    }
}

/// Weights of one accumulator chunk: tap `t`'s `N` values start at
/// `t * tap_stride + at`.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub(crate) weights: &'a [i8],
    pub(crate) tap_stride: usize,
    pub(crate) at: usize,
}

impl<'a> Plane<'a> {
    #[inline(always)]
    fn tap<const N: usize>(&self, t: usize) -> &'a [i8] {
        let at = t * self.tap_stride + self.at;
        self.weights.get(at..at + N).unwrap_or(&[])
    }
}

/// The i32 sums of channels `c0..c0 + N` of one pixel: `bias` (the folded
/// bias of the chunk) plus `w * x` over in-bounds taps plus `w * pad` over
/// padded taps, `pad` being `pad_values[c]` or `in_zp`. Input channel
/// `c0 + j` feeds lane `j`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn chunk_sums<const N: usize>(
    win: &Window<'_>,
    k: usize,
    c: usize,
    c0: usize,
    plane: Plane<'_>,
    pad_values: &[i8],
    in_zp: i32,
    mut acc: [i32; N],
) -> [i32; N] {
    let pads = pad_values.get(c0..c0 + N);
    let pad_tap = |acc: &mut [i32; N], t: usize| match pads {
        Some(p) => mac(acc, plane.tap::<N>(t), p),
        None => mac_const(acc, plane.tap::<N>(t), in_zp),
    };
    let n = win.kx.1 - win.kx.0;
    win.for_each_tap(k, &mut acc, pad_tap, |acc, t, run| {
        // The in-bounds run: tap `t + i` reads pixel `i` of the run; lanes
        // `c0..` of consecutive taps are `c` (input) and `tap_stride`
        // (weights) bytes apart.
        let xs = run.get(c0..).unwrap_or(&[]);
        let ts = plane.tap_stride;
        let ws = plane.weights.get(t * ts + plane.at..).unwrap_or(&[]);
        if super::WORD_LANES && N == 4 {
            if let Ok(a) = <&mut [i32; 4]>::try_from(&mut acc[..]) {
                word_lanes::run4(a, ws, ts, xs, c, n);
                return;
            }
        }
        // NEON: the run's taps on 16 lanes in registers (`SMULL` + `SADDW`).
        if N == 16 {
            if let Ok(a) = <&mut [i32; 16]>::try_from(&mut acc[..]) {
                if super::depthwise_run16(a, ws, ts, xs, c, n) {
                    return;
                }
            }
        }
        for i in 0..n {
            let (x, w) = (xs.get(i * c..), ws.get(i * ts..));
            mac(acc, w.unwrap_or(&[]), x.unwrap_or(&[]));
        }
    });
    acc
}

/// Readers of per-channel operands: `N` i32 values `v[o0 + j * step]`, a
/// contiguous run (`step == 1`) read as one checked slice of `$size`-byte
/// elements (`$decode` of each), else value by value. A macro rather than
/// a generic over the operand views: each reader keeps its own
/// straight-line code (a shared generic form cost 720 B of the 4 MB Pico
/// 2's flash).
macro_rules! gatherers {
    ($($(#[$doc:meta])* fn $name:ident($view:ident, $size:literal, |$b:ident| $decode:expr);)*) => {$(
        $(#[$doc])*
        #[inline(always)]
        fn $name<const N: usize>(v: $view<'_>, o0: usize, step: usize) -> [i32; N] {
            let mut out = [0i32; N];
            if step == 1 {
                if let Some(b) = v.0.get(o0 * $size..(o0 + N) * $size) {
                    for (o, $b) in out.iter_mut().zip(b.chunks_exact($size)) {
                        *o = $decode;
                    }
                }
                return out;
            }
            for (j, o) in out.iter_mut().enumerate() {
                *o = v.get(o0 + j * step);
            }
            out
        }
    )*};
}

gatherers! {
    /// The folded biases (little-endian i32).
    fn gather(I32s, 4, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    /// The 16-bit multipliers, widened to their Q31 values.
    fn gather_multipliers(Multipliers, 2, |b| widen(i16::from_le_bytes([b[0], b[1]])));
    /// The shift bytes.
    fn gather_shifts(Shifts, 1, |b| b[0] as i32);
}

/// Accumulators to int8 outputs `out[j * step]`: the reference's
/// requantization (channel `o0 + j * step`) and table.
#[inline(always)]
pub(crate) fn finish<const N: usize>(
    acc: &[i32; N],
    ch: &PointwiseArgs<'_>,
    o0: usize,
    step: usize,
    out: &mut [i8],
) {
    // NEON: 16 contiguous channels requantized as four vectors.
    if N == 16 && step == 1 {
        if let Ok(a) = <&[i32; 16]>::try_from(&acc[..]) {
            if super::finish16(a, ch, o0, out) {
                return;
            }
        }
    }
    let (out_zp, table) = (ch.out_zp, ch.lut);
    let mult = gather_multipliers::<N>(ch.requant.multiplier, o0, step);
    let shift = gather_shifts::<N>(ch.requant.shift, o0, step);
    let mut y = [0i8; N];
    // Shifts in -31..=-2 (t = 31 - shift in 33..=62, the usual case) take
    // `requantize`'s high-word path for every lane at once, branch-free so
    // the lane loop vectorizes; the same arithmetic, so the same bits.
    if shift.iter().all(|s| (-31..=-2).contains(s)) {
        for i in 0..N {
            let t = 31 - shift[i];
            let hi = ((acc[i] as i64 * mult[i] as i64) >> 32) as i32;
            let r = hi.wrapping_add(1 << (t - 33)) >> (t - 32);
            y[i] = r.saturating_add(out_zp).clamp(-128, 127) as i8;
        }
    } else {
        for i in 0..N {
            y[i] = requantize_i8(acc[i], mult[i], shift[i], out_zp);
        }
    }
    if !table.is_empty() {
        for v in y.iter_mut() {
            *v = lut(table, *v);
        }
    }
    for (o, &v) in out.iter_mut().step_by(step).zip(&y) {
        *o = v;
    }
}

/// Initial accumulators: the folded bias of channels `o0 + j * step`.
#[inline(always)]
pub(crate) fn bias<const N: usize>(folded: I32s<'_>, o0: usize, step: usize) -> [i32; N] {
    gather::<N>(folded, o0, step)
}

/// Channels `c0..c0 + N` of output pixel `(oy, ox)` by the per-tap path
/// (any kernel size).
#[inline(always)]
fn chunk<'s, const N: usize>(
    px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>,
    c0: usize,
    out: &mut [i8],
) {
    let Pixel { a, oy, ox, row } = *px;
    let (k, c) = (a.geometry.kernel, a.geometry.cin);
    let mut acc = bias::<N>(a.channels.folded_bias, c0, 1);
    for ky in 0..k {
        let iy = (oy * a.geometry.stride + ky).wrapping_sub(a.geometry.pad);
        let row_in = iy < a.geometry.h;
        let r = if row_in { row(iy) } else { &[][..] };
        for kx in 0..k {
            let ix = (ox * a.geometry.stride + kx).wrapping_sub(a.geometry.pad);
            let at = (ky * k + kx) * c + c0;
            let w = a.channels.weights.get(at..at + N).unwrap_or(&[]);
            if row_in && ix < a.geometry.w {
                let at = ix * c + c0;
                mac(&mut acc, w, r.get(at..at + N).unwrap_or(&[]));
            } else if a.pad_values.is_empty() {
                mac_const(&mut acc, w, a.in_zp);
            } else {
                mac(&mut acc, w, a.pad_values.get(c0..c0 + N).unwrap_or(&[]));
            }
        }
    }
    if let Some(out) = out.get_mut(c0..c0 + N) {
        finish(&acc, &a.channels, c0, 1, out);
    }
}

/// Output pixel `(oy, ox)`, all `cin` channels, into `out[..cin]`. `row(iy)`
/// returns input row `iy` (`w * c` bytes) for any in-bounds `iy`.
#[inline]
pub fn depthwise_pixel<'s>(
    a: &WindowArgs<'_>,
    (oy, ox): (usize, usize),
    row: impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) {
    let px = Pixel {
        a,
        oy,
        ox,
        row: &row,
    };
    // MVE: 3x3 and 7x7 kernels, 16 channels at a time, in one asm block.
    if super::depthwise_pixel16(&px, out) {
        return;
    }
    if super::TAP_TABLE && pixel_by_taps(a, oy, ox, &row, out) {
        return;
    }
    pixel_by_window(&px, out);
}

/// [`depthwise_pixel`] by the clipped window ([`Window`], [`chunk_sums`]),
/// [`CHUNK`] channels at a time: the path of every tier but DSP and MVE,
/// and of shapes [`pixel_by_taps`] refuses.
#[inline]
pub(crate) fn pixel_by_window<'s>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) {
    let Pixel { a, oy, ox, row } = *px;
    let c = a.geometry.cin;
    let body = c / CHUNK * CHUNK;
    let geometry = a.geometry.window();
    let win = if a.geometry.kernel <= MAX_KERNEL {
        Window::new((oy, ox), geometry, (a.geometry.h, a.geometry.w, c), row)
    } else {
        None
    };
    let Some(win) = win else {
        let mut c0 = 0;
        while c0 < body {
            chunk::<CHUNK>(px, c0, out);
            c0 += CHUNK;
        }
        while c0 < c {
            chunk::<1>(px, c0, out);
            c0 += 1;
        }
        return;
    };
    let plane = |at| Plane {
        weights: a.channels.weights,
        tap_stride: c,
        at,
    };
    let (k, pv, zp) = (a.geometry.kernel, a.pad_values, a.in_zp);
    let mut c0 = 0;
    while c0 < body {
        let acc = bias::<CHUNK>(a.channels.folded_bias, c0, 1);
        let acc = chunk_sums::<CHUNK>(&win, k, c, c0, plane(c0), pv, zp, acc);
        if let Some(o) = out.get_mut(c0..c0 + CHUNK) {
            finish(&acc, &a.channels, c0, 1, o);
        }
        c0 += CHUNK;
    }
    while c0 < c {
        let acc = bias::<1>(a.channels.folded_bias, c0, 1);
        let acc = chunk_sums::<1>(&win, k, c, c0, plane(c0), pv, zp, acc);
        if let Some(o) = out.get_mut(c0..c0 + 1) {
            finish(&acc, &a.channels, c0, 1, o);
        }
        c0 += 1;
    }
}

/// Output pixel `(oy, ox)` through a table of the pixels its taps read
/// ([`TapRows`]; padded taps read a row of padding values: `pad_values`, or
/// `in_zp` repeated): on the MVE tier 16 channels at a time (Helium asm,
/// `mve::taps16` + `mve::finish16`, whose requantization falls back to the
/// scalar `finish` for shifts outside `-31..=-2`), then (and on the DSP
/// tier) four at a time ([`TapRows::taps4`]). A padded tap then adds `w * pad`, as in
/// `chunk_sums`, so the sums and bits are the same. `false` (nothing
/// written) when the shape does not fit the table (channels not a multiple
/// of 4, a kernel above [`MAX_KERNEL`], more than `PAD_ROW` (512) channels with
/// zero-point padding, or short rows): the caller takes the window path.
pub fn pixel_by_taps<'s>(
    a: &WindowArgs<'_>,
    oy: usize,
    ox: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> bool {
    let (c, mut zp_row) = (a.geometry.cin, None);
    let mut taps = TapRows::new(c);
    if !tap_rows(
        &Pixel { a, oy, ox, row },
        1,
        out.len(),
        &mut zp_row,
        &mut taps,
    ) {
        return false;
    }
    // MVE: 16 channels at a time first (the other tiers decline).
    let Some(c0) = super::depthwise_taps16(a, &taps, out) else {
        return false;
    };
    c0 >= c || taps_rest(a, &taps, c0, out)
}

/// Pushes the pixels the taps of `px` read to `taps` (an empty
/// [`TapRows`] of `cin` bytes a tap; a padded tap reads `pad_values`, or
/// `in_zp` repeated in `zp_row`), for a conv of `m` weight planes:
/// [`pixel_by_taps`] (`m = 1`), the x2 conv's (`multiplier::pixel_by_taps`,
/// the DSP tier's `multiplier_pixel16`). The table is the caller's (built
/// in place: returned by value it was copied, ~50 instructions a pixel).
/// `false` (the caller takes its window path) when `cin` is not a positive
/// multiple of 4, `m` is 0, the kernel is above [`MAX_KERNEL`], `out_len`
/// is short of the `m * cin` outputs, or the padding row is missing or a
/// tap does not fit.
#[inline(always)]
pub(crate) fn tap_rows<'r, 's: 'r, R: Fn(usize) -> &'s [i8] + ?Sized>(
    px: &Pixel<'r, R>,
    m: usize,
    out_len: usize,
    zp_row: &'r mut Option<[i8; PAD_ROW]>,
    taps: &mut TapRows<'r>,
) -> bool {
    let Pixel { a, oy, ox, row } = *px;
    let (k, c) = (a.geometry.kernel, a.geometry.cin);
    if c == 0 || c % 4 != 0 || k > MAX_KERNEL || m == 0 || out_len < m * c {
        return false;
    }
    let Some((iy0, ix0, pad)) = a.tap_origin(oy, ox, zp_row) else {
        return false;
    };
    for ky in 0..k {
        let iy = iy0.wrapping_add(ky);
        let (r, w) = match iy < a.geometry.h {
            true => (row(iy), a.geometry.w),
            false => (&[][..], 0),
        };
        if !taps.push_row(r, ix0, k, w, pad) {
            return false;
        }
    }
    true
}

/// The channels from `c0` on of [`pixel_by_taps`], four at a time: not
/// generic over the caller's row source and not inlined, so the
/// instantiations of `pixel_by_taps` share one copy (flash on the 4 MB
/// Pico 2; on the DSP tier only a shift outside `-31..=-2` gets here).
#[inline(never)]
fn taps_rest(a: &WindowArgs<'_>, taps: &TapRows<'_>, mut c0: usize, out: &mut [i8]) -> bool {
    let c = a.geometry.cin;
    while c0 < c {
        let mut acc = bias::<4>(a.channels.folded_bias, c0, 1);
        if !taps.taps4(&mut acc, a.channels.weights, c, c0) {
            return false;
        }
        if let Some(o) = out.get_mut(c0..c0 + 4) {
            finish(&acc, &a.channels, c0, 1, o);
        }
        c0 += 4;
    }
    true
}

/// A depthwise conv, input and output not overlapping: `input` is
/// `h * w * c`, `output` is `oh * ow * c`.
pub fn depthwise(a: &WindowArgs<'_>, oh: usize, ow: usize, input: &[i8], output: &mut [i8]) {
    let (row, c) = (a.geometry.in_row(), a.geometry.cin);
    if c == 0 {
        return;
    }
    for oy in 0..oh {
        for ox in 0..ow {
            let at = (oy * ow + ox) * c;
            let Some(out) = output.get_mut(at..at + c) else {
                return;
            };
            let row = |iy: usize| input.get(iy * row..(iy + 1) * row).unwrap_or(&[]);
            depthwise_pixel(a, (oy, ox), row, out);
        }
    }
}

/// In place, row by row (stride 1, same padding, as
/// [`ConvVariant::InPlace`](crate::ConvVariant::InPlace)): `data` is the
/// tensor, `ring` holds `kernel / 2 + 1` rows.
pub fn depthwise_in_place(a: &WindowArgs<'_>, data: &mut [i8], ring: &mut [i8]) {
    let (h, w, c) = (a.geometry.h, a.geometry.w, a.geometry.cin);
    let row = w * c;
    if row == 0 {
        return;
    }
    let slots = a.geometry.kernel / 2 + 1;
    for y in 0..h {
        save_row(ring, data, y, slots, row);
        let Some((cur, below)) = data.split_at_mut_checked((y + 1) * row) else {
            return;
        };
        let (ring, below) = (&*ring, &*below);
        let Some(out_row) = cur.get_mut(y * row..) else {
            return;
        };
        let rows = |iy: usize| {
            if iy <= y {
                let slot = iy.checked_rem(slots).unwrap_or(0);
                ring.get(slot * row..(slot + 1) * row)
            } else {
                below.get((iy - y - 1) * row..(iy - y) * row)
            }
            .unwrap_or(&[])
        };
        // MVE: the unpadded pixels of the row in one asm call.
        let done = super::depthwise_row16(a, y, &rows, out_row);
        for x in (0..w).filter(|x| !done.contains(x)) {
            let Some(out) = out_row.get_mut(x * c..(x + 1) * c) else {
                return;
            };
            depthwise_pixel(a, (y, x), rows, out);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::window::Geometry;
    use super::*;
    use crate::ops::RequantView;
    use proptest::prelude::*;
    use std::{vec, vec::Vec};

    fn i32_bytes(v: &[i32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn i16_bytes(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// `finish`'s branch-free high-word form is `requantize_i8` (then
        /// the table) lane for lane, on both sides of its shift range and
        /// for saturating accumulators, multipliers and zero points.
        #[test]
        fn finish_is_requantize(
            acc in prop::array::uniform4(prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()]),
            mult in prop::array::uniform4(prop_oneof![Just(i16::MAX), Just(1 << 14), 0i16..=i16::MAX]),
            shift in prop::array::uniform4(-33i8..=32),
            vector_range in any::<bool>(),
            out_zp in -128i32..=127,
            table in any::<bool>(),
            seed in any::<u8>(),
        ) {
            // Half the cases keep every lane in the vector form's range.
            let shift = shift.map(|s| if vector_range { s.clamp(-31, -2) } else { s });
            let (m, b) = (i16_bytes(&mult), [0u8; 16]);
            let lut: Vec<i8> = if table { (0..=255u8).map(|i| (i ^ seed) as i8).collect() } else { vec![] };
            let ch = PointwiseArgs {
                weights: &[],
                folded_bias: I32s(&b),
                requant: RequantView { multiplier: Multipliers(&m), shift: Shifts(&shift) },
                out_zp,
                lut: &lut,
                weights_above_min: false,
            };
            let mut got = [0i8; 4];
            finish::<4>(&acc, &ch, 0, 1, &mut got);
            for i in 0..4 {
                let y = requantize_i8(acc[i], widen(mult[i]), shift[i] as i32, out_zp);
                let want = if table { lut[(y as u8 ^ 0x80) as usize] } else { y };
                prop_assert_eq!(got[i], want, "lane {}", i);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// The tap-table path (the DSP and MVE tiers'; here its portable
        /// four-lane loop) gives the window path's bits
        /// on every pixel, border ones included, for both padding kinds.
        #[test]
        fn taps_equal_window(
            (k, s, p) in prop_oneof![Just((3usize, 1usize, 1usize)), Just((3, 2, 1)),
                Just((7, 1, 3)), Just((7, 2, 3)), Just((1, 1, 0)), Just((3, 1, 0))],
            h in 1usize..10,
            w in 1usize..10,
            c4 in 1usize..6,
            seed in any::<u64>(),
            pad_values in any::<bool>(),
            table in any::<bool>(),
            in_zp in -128i32..=127,
            out_zp in -128i32..=127,
        ) {
            prop_assume!(h + 2 * p >= k && w + 2 * p >= k);
            let c = 4 * c4;
            let mut r = seed | 1;
            let mut next = move || { r ^= r << 13; r ^= r >> 7; r ^= r << 17; r };
            let x: Vec<i8> = (0..h * w * c).map(|_| next() as i8).collect();
            let weights: Vec<i8> = (0..k * k * c).map(|_| next() as i8).collect();
            let bias: Vec<i32> = (0..c).map(|_| (next() % 20_001) as i32 - 10_000).collect();
            let mult: Vec<i16> = (0..c).map(|_| (1 << 14) + (next() % (1 << 14)) as i16).collect();
            let shift: Vec<i8> = (0..c).map(|_| -((next() % 12) as i8) - 2).collect();
            let pads: Vec<i8> = if pad_values { (0..c).map(|_| next() as i8).collect() } else { vec![] };
            let lut: Vec<i8> = if table { (0..256).map(|_| next() as i8).collect() } else { vec![] };
            let (b, m) = (i32_bytes(&bias), i16_bytes(&mult));
            let a = WindowArgs {
                channels: PointwiseArgs {
                    weights: &weights,
                    folded_bias: I32s(&b),
                    requant: RequantView { multiplier: Multipliers(&m), shift: Shifts(&shift) },
                    out_zp,
                    lut: &lut,
                    weights_above_min: false,
                },
                pad_values: &pads,
                in_zp,
                geometry: Geometry { kernel: k, stride: s, pad: p, h, w, cin: c, cout: c },
            };
            let row = |iy: usize| x.get(iy * w * c..(iy + 1) * w * c).unwrap_or(&[]);
            let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut want, mut got) = (vec![0i8; c], vec![0i8; c]);
                    let px = Pixel { a: &a, oy, ox, row: &row };
                    pixel_by_window(&px, &mut want);
                    prop_assert!(pixel_by_taps(&a, oy, ox, &row, &mut got));
                    prop_assert_eq!(&want, &got, "pixel ({}, {})", oy, ox);
                }
            }
        }
    }
}
