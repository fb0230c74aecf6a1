//! The fused, in-place ConvMlp block: see [`crate::ConvMlp`]. The reference
//! kernel and the row-ring driver it shares with the fast forms
//! ([`crate::kernels::conv_mlp`]).

use super::add::add_with;
use super::conv::{conv_value, ConvArgs};
use crate::arena::save_row;
use crate::kernels::pointwise::tile_words;
use crate::schedule::ConvMlp;
use crate::tensor::{Elem, Int8, Storage};

/// Rows of the block input as the fused kernel sees them at output row `y`:
/// rows `<= y` were already overwritten in `data` and come from the ring.
pub struct Rows<'a> {
    ring: &'a [i8],
    data: &'a [i8],
    y: usize,
    slots: usize,
    row: usize,
}

impl<'a> Rows<'a> {
    /// Input row `iy` (`w * c` bytes; empty past the buffers, which the
    /// executor sized so that it never is: `get` keeps panics out).
    #[inline(always)]
    pub fn get(&self, iy: usize) -> &'a [i8] {
        let row = if iy <= self.y {
            let s = iy.checked_rem(self.slots).unwrap_or(0) * self.row;
            self.ring.get(s..s + self.row)
        } else {
            self.data.get(iy * self.row..(iy + 1) * self.row)
        };
        row.unwrap_or(&[])
    }
}

/// The one row-ring driver every ConvMlp variant shares. For each row `y`:
/// copy `x` row `y` into ring slot `y % (k/2 + 1)`; then, [`ConvMlp::PIXELS`]
/// pixels at a time (the row's last `< PIXELS` as one shorter group):
/// `dw(y, x0, rows, d)` writes the `n` pixels' dw outputs from `x0` on
/// into `d` (`n * c` bytes; [`per_pixel`] makes one from a per-pixel
/// form); `mlp(y, x0, n, d, hid)` runs fc1 (+ GELU) for the `n` pixels from
/// `x0` into `hid` (with the pointwise kernels' tile scratch, the rest of
/// `scratch`) and leaves fc2's `n * c` outputs in `d` (dead after fc1);
/// and `add(saved, d, out)` writes the residual add of the saved `x` over
/// `x` (the reference per element, the fast forms through tables). Grouping
/// pixels lets every fc weight load feed several pixels.
pub(crate) fn drive(
    p: &ConvMlp,
    data: &mut [i8],
    scratch: &mut [i8],
    dw: impl FnMut(usize, usize, &Rows<'_>, &mut [i8]),
    mlp: impl FnMut(usize, usize, usize, &mut [i8], &mut [i8], &mut [u32]),
    add: impl FnMut(&[i8], &[i8], &mut [i8]),
) {
    drive_elems(p, 1, data, scratch, dw, mlp, add)
}

/// [`drive`] for a block input `x` of `xb` bytes per element: the ring, the
/// rows `dw` reads and the `saved` and `out` slices of `add` hold `x`'s
/// bytes; `d` holds [`ConvMlp::d_bytes`] per element (the hidden vectors
/// stay int8).
pub(crate) fn drive_elems(
    p: &ConvMlp,
    xb: usize,
    data: &mut [i8],
    scratch: &mut [i8],
    mut dw: impl FnMut(usize, usize, &Rows<'_>, &mut [i8]),
    mut mlp: impl FnMut(usize, usize, usize, &mut [i8], &mut [i8], &mut [u32]),
    mut add: impl FnMut(&[i8], &[i8], &mut [i8]),
) {
    let (h, w, c) = (
        p.dw.input.h as usize,
        p.dw.input.w as usize,
        p.dw.input.c as usize,
    );
    let hidden = p.fc1.output.c as usize;
    let (row, cb) = (w * c * xb, c * xb);
    // A pixel's `dw` (and `fc2`) output bytes: `c`, or `2 * c` when the
    // block's internals are int16.
    let db = c * p.d_bytes();
    if row == 0 {
        return;
    }
    let slots = p.dw.kernel as usize / 2 + 1;
    // The executor sized `scratch` and `data`; checked splits and `get`
    // keep bounds-check panics out of the code (never taken).
    let Some((ring, rest)) = scratch.split_at_mut_checked(slots * row) else {
        return;
    };
    let Some((d, rest)) = rest.split_at_mut_checked(ConvMlp::PIXELS * db) else {
        return;
    };
    let Some((hid, tile)) = rest.split_at_mut_checked(ConvMlp::PIXELS * hidden) else {
        return;
    };
    let tile = tile_words(tile);
    for y in 0..h {
        save_row(ring, data, y, slots, row);
        let slot = (y % slots) * row;
        let mut x0 = 0;
        while x0 < w {
            let n = ConvMlp::PIXELS.min(w - x0);
            let rows = Rows {
                ring,
                data,
                y,
                slots,
                row,
            };
            if let Some(dn) = d.get_mut(..n * db) {
                dw(y, x0, &rows, dn);
            }
            let (Some(dn), Some(hn)) = (d.get_mut(..n * db), hid.get_mut(..n * hidden)) else {
                return;
            };
            mlp(y, x0, n, dn, hn, tile);
            let saved = ring
                .get(slot + x0 * cb..slot + (x0 + n) * cb)
                .unwrap_or(&[]);
            let out = data
                .get_mut(y * row + x0 * cb..y * row + (x0 + n) * cb)
                .unwrap_or(&mut []);
            add(saved, dn, out);
            x0 += n;
        }
    }
}

/// A group `dw` for [`drive`] from a per-pixel one: `f(y, x, rows, d)`
/// writes pixel `x`'s `c` outputs into `d`.
#[inline(always)]
pub(crate) fn per_pixel(
    c: usize,
    mut f: impl FnMut(usize, usize, &Rows<'_>, &mut [i8]),
) -> impl FnMut(usize, usize, &Rows<'_>, &mut [i8]) {
    move |y, x0, rows, d| {
        for (i, di) in d.chunks_exact_mut(c.max(1)).enumerate() {
            f(y, x0 + i, rows, di);
        }
    }
}

/// The `dw` conv of pixel `(y, x)` through `conv_element`, reading the block
/// input from `rows`: the reference ConvMlp's and the fast pointwise form's.
#[inline(always)]
pub(crate) fn dw_reference(
    p: &ConvMlp,
    dw: &ConvArgs<'_>,
    y: usize,
    x: usize,
    rows: &Rows<'_>,
    d: &mut [i8],
) {
    dw_value(p, dw, (y, x), rows, d, Int8)
}

/// [`dw_reference`] for a block input of element type `e`.
#[inline(always)]
pub(crate) fn dw_value(
    p: &ConvMlp,
    dw: &ConvArgs<'_>,
    (y, x): (usize, usize),
    rows: &Rows<'_>,
    d: &mut [i8],
    e: impl Storage,
) {
    let c = p.dw.input.c as usize;
    for (o, v) in d.iter_mut().enumerate() {
        let q = conv_value(&p.dw, dw, (y, x, o), Elem::I8, |iy, ix, ci| {
            e.get(rows.get(iy), ix * c + ci)
        });
        *v = q as i8; // an int8 output: in range
    }
}

/// Reference kernel. `data` is the block input `x` (`h * w * c` elements of
/// its [`Elem`]), replaced by the block output; `scratch` holds
/// [`ConvMlp::scratch_bytes_of`] bytes: the row ring, then `PIXELS * c`
/// bytes of `dw` output, then `PIXELS` hidden vectors, then the pointwise
/// tile scratch (unused here). Every element goes through `conv_element`
/// (`conv_value`); the loop structure is this module's shared row-ring
/// driver.
pub fn conv_mlp_reference(
    p: &ConvMlp,
    dw: &ConvArgs<'_>,
    fc1: &ConvArgs<'_>,
    fc2: &ConvArgs<'_>,
    data: &mut [i8],
    scratch: &mut [i8],
) {
    // The int8 form compiled apart from the one for any element type (the
    // executor checked that the add writes the block input's type).
    match p.dw.input.elem {
        Elem::I8 => run(p, (dw, fc1, fc2), data, scratch, Int8),
        e => run(p, (dw, fc1, fc2), data, scratch, e),
    }
}

fn run(
    p: &ConvMlp,
    args: (&ConvArgs<'_>, &ConvArgs<'_>, &ConvArgs<'_>),
    data: &mut [i8],
    scratch: &mut [i8],
    e: impl Storage,
) {
    // Int8 internals compiled apart from the form for any stored types.
    if p.d_bytes() == 1 {
        internals(p, args, data, scratch, (e, Int8, Int8));
    } else {
        let (de, fe) = (p.dw.output.elem, p.fc2.output.elem);
        internals(p, args, data, scratch, (e, de, fe));
    }
}

/// [`run`] with the block input `x` stored as `e`, the `dw` outputs as `de`
/// and the `fc2` ones as `fe` (`d` holds [`ConvMlp::d_bytes`] per element;
/// the hidden vectors stay int8).
fn internals(
    p: &ConvMlp,
    (dw, fc1, fc2): (&ConvArgs<'_>, &ConvArgs<'_>, &ConvArgs<'_>),
    data: &mut [i8],
    scratch: &mut [i8],
    (e, de, fe): (impl Storage, impl Storage, impl Storage),
) {
    let (c, hidden) = (p.dw.input.c as usize, p.fc1.output.c as usize);
    // A pixel's `d` bytes; the pixels are indexed with checked slicing,
    // not `chunks_exact_mut`, whose zero-size check the no-panic link finds
    // reachable in these closures.
    let db = c * p.d_bytes();
    drive_elems(
        p,
        e.bytes(),
        data,
        scratch,
        |y, x0, rows, d| {
            for i in 0..d.len().checked_div(db).unwrap_or(0) {
                let Some(d) = d.get_mut(i * db..(i + 1) * db) else {
                    return;
                };
                for o in 0..c {
                    let v = conv_value(&p.dw, dw, (y, x0 + i, o), de.elem(), |iy, ix, ci| {
                        e.get(rows.get(iy), ix * c + ci)
                    });
                    de.put(d, o, v);
                }
            }
        },
        |y, x0, _, d, hid, _| {
            for i in 0..d.len().checked_div(db).unwrap_or(0) {
                let Some(d) = d.get_mut(i * db..(i + 1) * db) else {
                    return;
                };
                let hid = hid.get_mut(i * hidden..(i + 1) * hidden).unwrap_or(&mut []);
                for (o, v) in hid.iter_mut().enumerate() {
                    let q = conv_value(&p.fc1, fc1, (y, x0 + i, o), Elem::I8, |_, _, ci| {
                        de.get(d, ci)
                    });
                    *v = q as i8; // an int8 output: in range
                }
                for o in 0..c {
                    let v = conv_value(&p.fc2, fc2, (y, x0 + i, o), fe.elem(), |_, _, ci| {
                        hid.get(ci).map(|&h| h as i32)
                    });
                    fe.put(d, o, v);
                }
            }
        },
        |saved, f, out| add_with(&p.add, (saved, e), (f, fe), (out, e)),
    );
}
