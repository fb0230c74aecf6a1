//! [`ConvVariant::InPlace`](crate::ConvVariant::InPlace): a stride-1,
//! same-padding conv whose output overwrites its input, row by row, with the
//! input rows later outputs still need saved in a small ring.

use super::conv::{conv_element, ConvArgs};
use crate::arena::save_row;
use crate::schedule::Conv;

/// Reference kernel. `data` is the tensor (input on entry, output on exit,
/// `h * w * c`); `ring` holds [`Conv::in_place_scratch_bytes`] bytes.
///
/// For each row `y`: copy input row `y` into ring slot `y % (k/2 + 1)`, then
/// compute output row `y` (taps on rows `<= y` from the ring, rows `> y`
/// from `data`, which the loop has not written yet) and write it over row `y`.
pub fn conv_in_place(p: &Conv, a: &ConvArgs<'_>, data: &mut [i8], ring: &mut [i8]) {
    let (h, w, c) = (p.input.h as usize, p.input.w as usize, p.input.c as usize);
    let cout = p.output.c as usize;
    let row = w * c;
    let slots = p.kernel as usize / 2 + 1;
    for y in 0..h {
        save_row(ring, data, y, slots, row);
        for x in 0..w {
            for o in 0..cout {
                let v = conv_element(p, a, y, x, o, |iy, ix, ci| {
                    if iy <= y {
                        ring.get((iy % slots) * row + ix * c + ci)
                    } else {
                        data.get(iy * row + ix * c + ci)
                    }
                    .copied()
                });
                if let Some(d) = data.get_mut(y * row + x * cout + o) {
                    *d = v;
                }
            }
        }
    }
}
