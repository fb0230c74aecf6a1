//! The fused, in-place ConvMlp block: see [`crate::ConvMlp`].

use super::add::add_element;
use super::conv::{conv_element, ConvArgs};
use crate::kernels::depthwise::{depthwise_pixel, DepthwiseArgs};
use crate::kernels::pointwise::{pointwise_pixel, PointwiseArgs};
use crate::schedule::ConvMlp;

/// Reference kernel. `data` is the block input `x` (`h * w * c`), replaced by
/// the block output; `scratch` holds [`ConvMlp::scratch_bytes`] bytes: the
/// row ring, then `c` bytes of `dw` output, then the hidden vector.
///
/// For each row `y`: copy `x` row `y` into ring slot `y % (k/2 + 1)`; then for
/// each pixel: `dw` for all channels (taps on rows `<= y` from the ring, rows
/// `> y` from `data`), `fc1` (+ GELU table) into the hidden vector, and for
/// each output channel `fc2` added to the saved `x`, written over `x`.
pub fn conv_mlp_reference(
    p: &ConvMlp,
    dw: &ConvArgs<'_>,
    fc1: &ConvArgs<'_>,
    fc2: &ConvArgs<'_>,
    data: &mut [i8],
    scratch: &mut [i8],
) {
    let (h, w, c) = (
        p.dw.input.h as usize,
        p.dw.input.w as usize,
        p.dw.input.c as usize,
    );
    let hidden = p.fc1.output.c as usize;
    let row = w * c;
    let slots = p.dw.kernel as usize / 2 + 1;
    let (ring, rest) = scratch.split_at_mut(slots * row);
    let (d, hid) = rest.split_at_mut(c);
    let hid = &mut hid[..hidden];
    for y in 0..h {
        let slot = (y % slots) * row;
        ring[slot..slot + row].copy_from_slice(&data[y * row..(y + 1) * row]);
        for x in 0..w {
            for (o, v) in d.iter_mut().enumerate() {
                *v = conv_element(&p.dw, dw, y, x, o, |iy, ix, ci| {
                    if iy <= y {
                        ring[(iy % slots) * row + ix * c + ci]
                    } else {
                        data[iy * row + ix * c + ci]
                    }
                });
            }
            for (o, v) in hid.iter_mut().enumerate() {
                *v = conv_element(&p.fc1, fc1, y, x, o, |_, _, ci| d[ci]);
            }
            for o in 0..c {
                let f = conv_element(&p.fc2, fc2, y, x, o, |_, _, ci| hid[ci]);
                data[y * row + x * c + o] = add_element(&p.add, ring[slot + x * c + o], f);
            }
        }
    }
}

/// The same block with `fc1` and `fc2` computed by the fast pointwise kernel
/// ([`ConvVariant::Pointwise`](crate::ConvVariant::Pointwise)); bit-identical
/// to [`conv_mlp_reference`] and with the same scratch. `fc2`'s outputs go
/// into the `c` bytes of `dw` output, which are dead once `fc1` has run.
pub fn conv_mlp_pointwise(
    p: &ConvMlp,
    dw: &ConvArgs<'_>,
    fc1: &PointwiseArgs<'_>,
    fc2: &PointwiseArgs<'_>,
    data: &mut [i8],
    scratch: &mut [i8],
) {
    let (h, w, c) = (
        p.dw.input.h as usize,
        p.dw.input.w as usize,
        p.dw.input.c as usize,
    );
    let hidden = p.fc1.output.c as usize;
    let row = w * c;
    let slots = p.dw.kernel as usize / 2 + 1;
    let (ring, rest) = scratch.split_at_mut(slots * row);
    let (d, hid) = rest.split_at_mut(c);
    let hid = &mut hid[..hidden];
    for y in 0..h {
        let slot = (y % slots) * row;
        ring[slot..slot + row].copy_from_slice(&data[y * row..(y + 1) * row]);
        for x in 0..w {
            for (o, v) in d.iter_mut().enumerate() {
                *v = conv_element(&p.dw, dw, y, x, o, |iy, ix, ci| {
                    if iy <= y {
                        ring[(iy % slots) * row + ix * c + ci]
                    } else {
                        data[iy * row + ix * c + ci]
                    }
                });
            }
            pointwise_pixel(fc1, d, hid);
            pointwise_pixel(fc2, hid, d);
            let saved = &ring[slot + x * c..slot + (x + 1) * c];
            let out = &mut data[y * row + x * c..y * row + (x + 1) * c];
            for ((o, &s), &f) in out.iter_mut().zip(saved).zip(d.iter()) {
                *o = add_element(&p.add, s, f);
            }
        }
    }
}

/// [`conv_mlp_pointwise`] with `dw` computed by the fast depthwise kernel
/// ([`ConvVariant::Depthwise`](crate::ConvVariant::Depthwise)); bit-identical
/// to [`conv_mlp_reference`] and with the same scratch.
pub fn conv_mlp_depthwise(
    p: &ConvMlp,
    dw: &DepthwiseArgs<'_>,
    fc1: &PointwiseArgs<'_>,
    fc2: &PointwiseArgs<'_>,
    data: &mut [i8],
    scratch: &mut [i8],
) {
    let (h, w, c) = (
        p.dw.input.h as usize,
        p.dw.input.w as usize,
        p.dw.input.c as usize,
    );
    let hidden = p.fc1.output.c as usize;
    let row = w * c;
    if row == 0 {
        return;
    }
    let slots = p.dw.kernel as usize / 2 + 1;
    let (ring, rest) = scratch.split_at_mut(slots * row);
    let (d, hid) = rest.split_at_mut(c);
    let hid = &mut hid[..hidden];
    for y in 0..h {
        let slot = (y % slots) * row;
        ring[slot..slot + row].copy_from_slice(&data[y * row..(y + 1) * row]);
        for x in 0..w {
            {
                let (ring, data) = (&*ring, &*data);
                depthwise_pixel(
                    dw,
                    y,
                    x,
                    |iy| {
                        if iy <= y {
                            &ring[(iy % slots) * row..(iy % slots + 1) * row]
                        } else {
                            &data[iy * row..(iy + 1) * row]
                        }
                    },
                    d,
                );
            }
            pointwise_pixel(fc1, d, hid);
            pointwise_pixel(fc2, hid, d);
            let saved = &ring[slot + x * c..slot + (x + 1) * c];
            let out = &mut data[y * row + x * c..y * row + (x + 1) * c];
            for ((o, &s), &f) in out.iter_mut().zip(saved).zip(d.iter()) {
                *o = add_element(&p.add, s, f);
            }
        }
    }
}
