//! [`ConvVariant::WidenInPlace`](crate::ConvVariant::WidenInPlace): a 1x1
//! conv whose output rows are at least as long as its input rows (an int8
//! tensor widened to int16) written over its input, from the last row up.

use super::conv::{conv_value, ConvArgs};
use crate::arena::save_row;
use crate::schedule::Conv;
use crate::tensor::Storage;

/// Reference kernel. `data` holds both tensors, which share their first byte
/// (`end_aligned` false) or their last (true); the output is the larger.
/// `ring` holds one input row.
///
/// Each row `y` is copied into the ring, then output row `y` is computed
/// from it and written. Output rows are at least as long as input rows, so
/// from a shared first byte, output row `y` covers only input rows `>= y`
/// and rows run bottom to top; from a shared last byte, it covers only rows
/// `<= y` and rows run top to bottom. Either way those rows have been read.
pub fn conv_widen_in_place(
    p: &Conv,
    a: &ConvArgs<'_>,
    data: &mut [i8],
    ring: &mut [i8],
    end_aligned: bool,
) {
    let (i, out) = (p.input.elem, p.output.elem);
    let (h, w, cin) = (p.input.h as usize, p.input.w as usize, p.input.c as usize);
    let cout = p.output.c as usize;
    let rows = (h, w * cin * i.bytes(), w * cout * out.bytes());
    widen_rows(rows, end_aligned, data, ring, |y, ring, data| {
        for x in 0..w {
            for o in 0..cout {
                let v = conv_value(p, a, (y, x, o), out.elem(), |_, ix, ci| {
                    i.get(ring, ix * cin + ci)
                });
                out.put(data, (y * w + x) * cout + o, v);
            }
        }
    });
}

/// The row loop of both widening forms (this reference and
/// [`crate::kernels::wide::conv_widen_in_place`]): `h` rows of `in_row`
/// input and `out_row` output bytes, in the order above; each input row
/// `y` is copied into `ring`, then `row(y, ring, data)` writes output row
/// `y`.
pub(crate) fn widen_rows(
    (h, in_row, out_row): (usize, usize, usize),
    end_aligned: bool,
    data: &mut [i8],
    ring: &mut [i8],
    mut row: impl FnMut(usize, &[i8], &mut [i8]),
) {
    // Where the input starts in `data` (the output starts at 0).
    let input_at = if end_aligned {
        (h * out_row).saturating_sub(h * in_row)
    } else {
        0
    };
    for r in 0..h {
        let y = if end_aligned { r } else { h - 1 - r };
        if let Some(input) = data.get(input_at..) {
            save_row(ring, input, y, 1, in_row);
        }
        row(y, ring, data);
    }
}
