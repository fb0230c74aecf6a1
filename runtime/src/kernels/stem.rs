//! The fast streamed stem ([`Layer::Stem`](crate::Layer::Stem) with
//! `first` = [`ConvVariant::Im2col`](crate::ConvVariant::Im2col) or
//! [`ConvVariant::DenseHwio`](crate::ConvVariant::DenseHwio) and `second` =
//! [`ConvVariant::Depthwise`](crate::ConvVariant::Depthwise)): the loop of
//! [`crate::ops::stem::stem_reference`] over the fast kernels.
#![forbid(unsafe_code)]

use super::dense::{dense_pixel, im2col_row};
use super::depthwise::depthwise_pixel;
use super::window::{input_rows, WindowArgs};
use crate::schedule::Stem;

/// The `first` conv of a fast stem.
#[derive(Clone, Copy)]
pub enum StemFirst<'a> {
    /// [`ConvVariant::Im2col`](crate::ConvVariant::Im2col).
    Im2col(WindowArgs<'a>),
    /// [`ConvVariant::DenseHwio`](crate::ConvVariant::DenseHwio).
    Dense(WindowArgs<'a>),
}

/// The streamed stem with the fast kernels: the loop order, ring and
/// write-behind contract of [`crate::ops::stem::stem_reference`], each
/// `first` row by [`im2col_row`] (or pixel by [`dense_pixel`]), each
/// `second` pixel by
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
    let (a, b) = (&p.first, &p.second);
    let in_row = a.input.w as usize * a.input.c as usize;
    let (mw, mc) = (a.output.w as usize, a.output.c as usize);
    let (oh, ow, oc) = (
        b.output.h as usize,
        b.output.w as usize,
        b.output.c as usize,
    );
    let mid_row = mw * mc;
    let slots = b.kernel as usize;
    if mw == 0 || mc == 0 || oc == 0 || slots == 0 {
        return;
    }
    let mut done = 0;
    for r in 0..oh {
        let (start, end) = p.window(r);
        for j in start.max(done)..end {
            let Some(input) = region.get(input_at..) else {
                return;
            };
            let at = (j % slots) * mid_row;
            let Some(slot) = ring.get_mut(at..at + mid_row) else {
                return;
            };
            let row = input_rows(input, in_row);
            match first {
                StemFirst::Im2col(first) => im2col_row(first, j, mw, row, slot),
                StemFirst::Dense(first) => {
                    for (x, px) in slot.chunks_exact_mut(mc).enumerate() {
                        dense_pixel(first, j, x, row, px);
                    }
                }
            }
        }
        done = done.max(end);
        let ring = &*ring;
        let at = output_at + r * ow * oc;
        let Some(out) = region.get_mut(at..at + ow * oc) else {
            return;
        };
        for (x, px) in out.chunks_exact_mut(oc).enumerate() {
            let row = |iy: usize| {
                let at = (iy % slots) * mid_row;
                ring.get(at..at + mid_row).unwrap_or(&[])
            };
            depthwise_pixel(second, r, x, row, px);
        }
    }
}
