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

use crate::ops::{I32s, RequantView};
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
}

/// Accumulator to output: the reference's requantization and table.
#[inline(always)]
fn finish(a: &PointwiseArgs<'_>, o: usize, dot: i32) -> i8 {
    let acc = a.folded_bias.get(o).wrapping_add(dot);
    let y = requantize_i8(
        acc,
        a.requant.multiplier.get(o),
        a.requant.shift.get(o),
        a.out_zp,
    );
    if a.lut.is_empty() {
        y
    } else {
        lut(a.lut, y)
    }
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
    let (out_body, out_tail) = out.split_at_mut(quads * 4);
    for (q, (rows, o4)) in body
        .chunks_exact(4 * cin)
        .zip(out_body.chunks_exact_mut(4))
        .enumerate()
    {
        let (r0, rest) = rows.split_at(cin);
        let (r1, rest) = rest.split_at(cin);
        let (r2, r3) = rest.split_at(cin);
        let acc = super::dot4([r0, r1, r2, r3], x);
        for (j, (v, &d)) in o4.iter_mut().zip(acc.iter()).enumerate() {
            *v = finish(a, 4 * q + j, d);
        }
    }
    for (j, (row, v)) in tail.chunks_exact(cin).zip(out_tail).enumerate() {
        *v = finish(a, quads * 4 + j, super::dot1(row, x));
    }
}

/// A pointwise conv over `pixels` pixels: `input` is `pixels * cin`,
/// `output` is `pixels * cout` (not overlapping).
pub fn pointwise(a: &PointwiseArgs<'_>, cin: usize, cout: usize, input: &[i8], output: &mut [i8]) {
    if cout == 0 {
        return;
    }
    if cin == 0 {
        for px in output.chunks_exact_mut(cout) {
            pointwise_pixel(a, &[], px);
        }
        return;
    }
    for (x, out) in input.chunks_exact(cin).zip(output.chunks_exact_mut(cout)) {
        pointwise_pixel(a, x, out);
    }
}

/// In place, row by row, for `cin == cout`: each `row`-byte row of `data` is
/// copied to `ring` (one row) and its output written over it.
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
    for r in data.chunks_exact_mut(row) {
        ring.copy_from_slice(r);
        pointwise(a, c, c, ring, r);
    }
}
