//! [`ConvVariant::WriteBehind`](crate::ConvVariant::WriteBehind): the
//! reference loop order on one region holding both the input and an output
//! that may start before it and overlap it (downsampling convs write behind
//! their read position).

use super::conv::{conv_element, ConvArgs};
use crate::schedule::Conv;

/// Reference kernel. `region` holds the input at `input_at` and the output at
/// `output_at`. Output rows are computed top to bottom and each element is
/// written as soon as it is computed, so if the ranges overlap, the output
/// must start at least [`Conv::write_behind_bytes`] before the input (the
/// executor checks this).
pub fn conv_write_behind(
    p: &Conv,
    a: &ConvArgs<'_>,
    region: &mut [i8],
    input_at: usize,
    output_at: usize,
) {
    let (iw, cin) = (p.input.w as usize, p.input.c as usize);
    let (oh, ow, cout) = (
        p.output.h as usize,
        p.output.w as usize,
        p.output.c as usize,
    );
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..cout {
                // The executor sized `region`; `get` keeps bounds-check
                // panics out of the code.
                let v = conv_element(p, a, oy, ox, o, |iy, ix, c| {
                    region.get(input_at + (iy * iw + ix) * cin + c).copied()
                });
                if let Some(d) = region.get_mut(output_at + (oy * ow + ox) * cout + o) {
                    *d = v;
                }
            }
        }
    }
}
