//! Two convs streamed by rows through a ring: see [`crate::Stem`].

use super::conv::{conv_element, ConvArgs};
use crate::schedule::Stem;

/// The ring of `first`'s output rows: row `iy` lives in slot `iy % slots`.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    data: &'a [i8],
    slots: usize,
    row_len: usize,
}

impl<'a> Ring<'a> {
    /// Intermediate row `iy` (`w * c` bytes; empty past the ring, which the
    /// executor sized so that it never is).
    #[inline(always)]
    pub fn row(&self, iy: usize) -> &'a [i8] {
        // `checked_rem`: no divide-by-zero panic path (the no-panic proof).
        let Some(slot) = iy.checked_rem(self.slots) else {
            return &[];
        };
        let at = slot * self.row_len;
        self.data.get(at..at + self.row_len).unwrap_or(&[])
    }
}

/// The streamed stem's loop order, shared by the reference and the fast
/// kernels. `region` holds `first.input` at `input_at` and `second.output`
/// at `output_at` (they may overlap, see [`Stem::write_behind_bytes`]);
/// `ring` holds [`Stem::ring_bytes`] bytes.
///
/// For each output row `r` of `second`: `first_row(j, input, slot)` computes,
/// in increasing order, the rows `j` of `first` in `r`'s window that are not
/// computed yet into ring slot `j % k` (`input`: `region` from `input_at`);
/// then `second_row(r, ring, out)` computes row `r` of `second` into `out`.
#[inline(always)]
pub fn stream(
    p: &Stem,
    region: &mut [i8],
    input_at: usize,
    output_at: usize,
    ring: &mut [i8],
    mut first_row: impl FnMut(usize, &[i8], &mut [i8]),
    mut second_row: impl FnMut(usize, Ring<'_>, &mut [i8]),
) {
    let (a, b) = (&p.first, &p.second);
    let row_len = a.output.w as usize * a.output.c as usize;
    let out_row = b.output.w as usize * b.output.c as usize;
    let slots = b.kernel as usize;
    if row_len == 0 || out_row == 0 || slots == 0 {
        return; // validated (kernel > 0); keeps `% 0` panics out
    }
    let mut done = 0;
    for r in 0..b.output.h as usize {
        let (start, end) = p.window(r);
        for j in start.max(done)..end {
            // The executor sized `region` and `ring`: `get` keeps
            // bounds-check panics out of the code.
            let Some(input) = region.get(input_at..) else {
                return;
            };
            let at = (j % slots) * row_len;
            let Some(slot) = ring.get_mut(at..at + row_len) else {
                return;
            };
            first_row(j, input, slot);
        }
        done = done.max(end);
        let at = output_at + r * out_row;
        let Some(out) = region.get_mut(at..at + out_row) else {
            return;
        };
        let ring = Ring {
            data: ring,
            slots,
            row_len,
        };
        second_row(r, ring, out);
    }
}

/// Reference kernel: [`stream`] with both convs by [`conv_element`].
pub fn stem_reference(
    p: &Stem,
    first: &ConvArgs<'_>,
    second: &ConvArgs<'_>,
    region: &mut [i8],
    input_at: usize,
    output_at: usize,
    ring: &mut [i8],
) {
    let (a, b) = (&p.first, &p.second);
    let (iw, cin) = (a.input.w as usize, a.input.c as usize);
    let mc = a.output.c as usize;
    let oc = b.output.c as usize;
    if mc == 0 || oc == 0 {
        return; // validated; keeps `chunks_exact_mut(0)` panics out
    }
    let first_row = |j, input: &[i8], slot: &mut [i8]| {
        for (x, px) in slot.chunks_exact_mut(mc).enumerate() {
            for (o, d) in px.iter_mut().enumerate() {
                *d = conv_element(a, first, j, x, o, |iy, ix, c| {
                    input.get((iy * iw + ix) * cin + c).copied()
                });
            }
        }
    };
    let second_row = |r, ring: Ring<'_>, out: &mut [i8]| {
        for (x, px) in out.chunks_exact_mut(oc).enumerate() {
            for (o, d) in px.iter_mut().enumerate() {
                *d = conv_element(b, second, r, x, o, |iy, ix, c| {
                    ring.row(iy).get(ix * mc + c).copied()
                });
            }
        }
    };
    stream(p, region, input_at, output_at, ring, first_row, second_row);
}
