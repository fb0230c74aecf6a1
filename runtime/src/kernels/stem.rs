//! The fast streamed stem ([`Layer::Stem`](crate::Layer::Stem) with
//! `first` = [`ConvVariant::Im2col`](crate::ConvVariant::Im2col) or
//! [`ConvVariant::DenseHwio`](crate::ConvVariant::DenseHwio) and `second` =
//! [`ConvVariant::Depthwise`](crate::ConvVariant::Depthwise)): the reference's
//! own loop ([`crate::ops::stem::stream`]) over the fast kernels.
#![forbid(unsafe_code)]

use super::dense::{dense_pixel, im2col_row};
use super::depthwise::depthwise_pixel;
use super::window::{input_rows, WindowArgs};
use crate::ops::stem::{stream, Ring};
use crate::schedule::Stem;

/// The `first` conv of a fast stem.
#[derive(Clone, Copy)]
pub enum StemFirst<'a> {
    /// [`ConvVariant::Im2col`](crate::ConvVariant::Im2col).
    Im2col(WindowArgs<'a>),
    /// [`ConvVariant::DenseHwio`](crate::ConvVariant::DenseHwio).
    Dense(WindowArgs<'a>),
}

/// The streamed stem with the fast kernels: [`stream`] (the loop order,
/// ring and write-behind contract of [`crate::ops::stem::stem_reference`]),
/// each `first` row by [`im2col_row`] (or pixel by [`dense_pixel`]), each
/// `second` row's unpadded pixels by the tier's row kernel where it has one
/// (Helium: `mve::depthwise_row16`, one `asm!` call a row) and the rest by
/// [`depthwise_pixel`].
pub fn stem_fast(
    p: &Stem,
    first: &StemFirst<'_>,
    second: &WindowArgs<'_>,
    region: &mut [i8],
    input_at: usize,
    output_at: usize,
    ring: &mut [i8],
) {
    let in_row = p.first.input.w as usize * p.first.input.c as usize;
    let (mw, mc) = (p.first.output.w as usize, p.first.output.c as usize);
    let oc = p.second.output.c as usize;
    if mc == 0 || oc == 0 {
        return; // validated; keeps `chunks_exact_mut(0)` panics out
    }
    let first_row = |j, input: &[i8], slot: &mut [i8]| {
        let row = input_rows(input, in_row);
        match first {
            StemFirst::Im2col(first) => im2col_row(first, j, mw, row, slot),
            StemFirst::Dense(first) => {
                for (x, px) in slot.chunks_exact_mut(mc).enumerate() {
                    dense_pixel(first, (j, x), row, px);
                }
            }
        }
    };
    let second_row = |r, ring: Ring<'_>, out: &mut [i8]| {
        let rows = |iy| ring.row(iy);
        // Helium: the unpadded pixels of the row in one asm call (empty
        // elsewhere).
        let done = super::depthwise_row16(second, r, &rows, out);
        for (x, px) in out.chunks_exact_mut(oc).enumerate() {
            if !done.contains(&x) {
                depthwise_pixel(second, (r, x), rows, px);
            }
        }
    };
    stream(p, region, input_at, output_at, ring, first_row, second_row);
}
