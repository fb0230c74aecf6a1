//! [`ConvVariant::InPlace`](crate::ConvVariant::InPlace): a stride-1,
//! same-padding conv whose output overwrites its input, row by row, with the
//! input rows later outputs still need saved in a small ring.

use super::conv::{conv_value, ConvArgs};
use crate::arena::save_row;
use crate::schedule::Conv;
use crate::tensor::{Elem, Int8, Storage};

/// Reference kernel. `data` is the tensor (input on entry, output on exit,
/// `h * w * c` elements of the tensor's [`Elem`]); `ring` holds
/// [`Conv::in_place_scratch_bytes`] of the row's bytes.
///
/// For each row `y`: copy input row `y` into ring slot `y % (k/2 + 1)`, then
/// compute output row `y` (taps on rows `<= y` from the ring, rows `> y`
/// from `data`, which the loop has not written yet) and write it over row `y`.
pub fn conv_in_place(p: &Conv, a: &ConvArgs<'_>, data: &mut [i8], ring: &mut [i8]) {
    // The int8 form compiled apart from the one for any element type (the
    // executor checked that input and output are the same tensor).
    match p.input.elem {
        Elem::I8 => run(p, a, data, ring, Int8),
        e => run(p, a, data, ring, e),
    }
}

fn run(p: &Conv, a: &ConvArgs<'_>, data: &mut [i8], ring: &mut [i8], e: impl Storage) {
    let (h, w, c) = (p.input.h as usize, p.input.w as usize, p.input.c as usize);
    let cout = p.output.c as usize;
    let row = w * c;
    let slots = p.kernel as usize / 2 + 1;
    for y in 0..h {
        save_row(ring, data, y, slots, row * e.bytes());
        for x in 0..w {
            for o in 0..cout {
                let v = conv_value(p, a, (y, x, o), e.elem(), |iy, ix, ci| {
                    if iy <= y {
                        e.get(ring, (iy % slots) * row + ix * c + ci)
                    } else {
                        e.get(data, iy * row + ix * c + ci)
                    }
                });
                e.put(data, y * row + x * cout + o, v);
            }
        }
    }
}
