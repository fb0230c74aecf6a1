//! [`ConvVariant::WriteBehind`](crate::ConvVariant::WriteBehind): the
//! reference loop order on one region holding both the input and an output
//! that may start before it and overlap it (downsampling convs write behind
//! their read position), and [`ConvVariant::WriteAhead`](crate::ConvVariant::WriteAhead),
//! the same bottom to top on an output that may start after the input.

use super::conv::{conv_value, ConvArgs};
use crate::schedule::Conv;
use crate::tensor::{Elem, Int8, Storage};

/// Defines a kernel family's two region forms on one
/// `$over(p, a, region, (input_at, output_at, bottom_up))`: `conv_write_behind`
/// (rows top to bottom, `bottom_up` false) and `conv_write_ahead` (bottom to
/// top). The reference here and the fast forms in [`crate::kernels::wide`]
/// take the same arguments and differ only in that order, so their
/// signatures are written once, here; each keeps its own docs.
macro_rules! write_behind_and_ahead {
    ($over:ident -> $ret:ty; $($(#[$doc:meta])* $name:ident: bottom_up = $up:literal;)*) => {$(
        $(#[$doc])*
        pub fn $name(
            p: &Conv,
            a: &ConvArgs<'_>,
            region: &mut [i8],
            input_at: usize,
            output_at: usize,
        ) -> $ret {
            $over(p, a, region, (input_at, output_at, $up))
        }
    )*};
}
pub(crate) use write_behind_and_ahead;

write_behind_and_ahead! {
    written_over -> ();
    /// Reference kernel. `region` holds the input at byte `input_at` and the
    /// output at byte `output_at`. Output rows are computed top to bottom and
    /// each element is written as soon as it is computed, so if the ranges
    /// overlap, the output must start at least [`Conv::write_behind_bytes`]
    /// before the input (the executor checks this).
    conv_write_behind: bottom_up = false;
    /// Reference kernel of [`ConvVariant::WriteAhead`](crate::ConvVariant::WriteAhead):
    /// [`conv_write_behind`] with output rows computed bottom to top, so if the
    /// ranges overlap, the output must start at least [`Conv::write_ahead_bytes`]
    /// after the input (the executor checks this). Any element types.
    conv_write_ahead: bottom_up = true;
}

/// Both of the above, rows top to bottom or (`bottom_up`) bottom to top.
#[inline(always)]
fn written_over(p: &Conv, a: &ConvArgs<'_>, region: &mut [i8], at: (usize, usize, bool)) {
    let (input_at, output_at, bottom_up) = at;
    let at = (input_at, output_at);
    // The int8 write-behind form compiled apart from the one for any element
    // types.
    if !bottom_up && p.input.elem == Elem::I8 && p.output.elem == Elem::I8 {
        run(p, a, region, at, Int8, Int8, false);
    } else {
        run(p, a, region, at, p.input.elem, p.output.elem, bottom_up);
    }
}

fn run(
    p: &Conv,
    a: &ConvArgs<'_>,
    region: &mut [i8],
    (input_at, output_at): (usize, usize),
    i: impl Storage,
    out: impl Storage,
    bottom_up: bool,
) {
    let (iw, cin) = (p.input.w as usize, p.input.c as usize);
    let (ow, cout) = (p.output.w as usize, p.output.c as usize);
    for oy in output_rows(p, bottom_up) {
        for ox in 0..ow {
            for o in 0..cout {
                // The executor sized `region`; `get` keeps bounds-check
                // panics out of the code.
                let v = conv_value(p, a, (oy, ox, o), out.elem(), |iy, ix, c| {
                    i.get(region.get(input_at..)?, (iy * iw + ix) * cin + c)
                });
                if let Some(d) = region.get_mut(output_at..) {
                    out.put(d, (oy * ow + ox) * cout + o, v);
                }
            }
        }
    }
}

/// The output rows top to bottom, or (`bottom_up`) bottom to top: the order
/// of [`conv_write_behind`], or of [`conv_write_ahead`] (and of their fast
/// forms in [`crate::kernels::wide`]).
pub(crate) fn output_rows(p: &Conv, bottom_up: bool) -> impl Iterator<Item = usize> {
    let oh = p.output.h as usize;
    (0..oh).map(move |r| if bottom_up { oh - 1 - r } else { r })
}
