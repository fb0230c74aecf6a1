//! The fused ConvMlp block on the fast kernels: the row-ring driver of
//! [`crate::ops::conv_mlp`] with `fc1`/`fc2` on the tiled pointwise kernel
//! and, where it applies, `dw` on the fast depthwise kernel, and the
//! residual add through [`AddTables`] (built once per block) where the tier
//! uses them ([`USE_TABLES`]). Each form is
//! bit-identical to [`conv_mlp_reference`](crate::ops::conv_mlp::conv_mlp_reference)
//! with the same scratch.
#![forbid(unsafe_code)]

use super::add::{residual, AddTables, USE_TABLES};
use super::depthwise::depthwise_pixel;
use super::pointwise::{pointwise_pixels, PointwiseArgs};
use super::wide;
use super::window::WindowArgs;
use crate::ops::add::add_with;
use crate::ops::conv::ConvArgs;
use crate::ops::conv_mlp::{drive, drive_elems, dw_reference, dw_value, per_pixel, Rows};
use crate::schedule::ConvMlp;
use crate::tensor::Int8;

/// The `dw` form of a fast block: the reference conv ([`ConvArgs`], pixel
/// by pixel through `conv_element`) or the fast depthwise kernel
/// ([`WindowArgs`],
/// [`ConvVariant::Depthwise`](crate::ConvVariant::Depthwise)).
pub trait GroupDw {
    /// Writes the `dw` outputs of the pixels from `(y, x0)` on into `d`
    /// (`c` bytes a pixel), reading the block input from `rows`.
    fn group(&self, p: &ConvMlp, at: (usize, usize), rows: &Rows<'_>, d: &mut [i8]);
}

impl GroupDw for ConvArgs<'_> {
    #[inline(always)]
    fn group(&self, p: &ConvMlp, (y, x0): (usize, usize), rows: &Rows<'_>, d: &mut [i8]) {
        let c = p.dw.input.c as usize;
        per_pixel(c, |y, x, rows, d| dw_reference(p, self, y, x, rows, d))(y, x0, rows, d)
    }
}

impl GroupDw for WindowArgs<'_> {
    #[inline(always)]
    fn group(&self, _: &ConvMlp, (y, x0): (usize, usize), rows: &Rows<'_>, d: &mut [i8]) {
        dw_group(self, y, x0, rows, d)
    }
}

/// The block with `fc1` and `fc2` computed by the fast pointwise kernel
/// ([`ConvVariant::Pointwise`](crate::ConvVariant::Pointwise)), a pixel
/// group at a time, `dw` by its [`GroupDw`] form, and the residual add
/// through tables built once per block; bit-identical to
/// [`conv_mlp_reference`](crate::ops::conv_mlp::conv_mlp_reference) and with
/// the same scratch.
pub fn conv_mlp_pointwise(
    p: &ConvMlp,
    dw: &impl GroupDw,
    fc: (&PointwiseArgs<'_>, &PointwiseArgs<'_>),
    data: &mut [i8],
    scratch: &mut [i8],
) {
    let mut add = AddTables::EMPTY;
    if USE_TABLES {
        add.fill(&p.add);
    }
    drive(
        p,
        data,
        scratch,
        |y, x0, rows, d| dw.group(p, (y, x0), rows, d),
        |_, _, _, d, hid, tile| mlp(p, fc, d, hid, tile),
        |saved, f, out| residual(&add, &p.add, saved, f, out),
    );
}

/// The fast `dw` of a pixel group (`d`: its pixels from `x0` on): the
/// tier's span kernel for the unpadded ones where it has one (Helium:
/// `mve::depthwise_span16`, one `asm!` call a group), the rest by
/// [`depthwise_pixel`].
#[inline(always)]
fn dw_group(dw: &WindowArgs<'_>, y: usize, x0: usize, rows: &Rows<'_>, d: &mut [i8]) {
    let c = dw.geometry.cin.max(1);
    let row = |iy| rows.get(iy);
    let done = super::depthwise_span16(dw, y, x0, &row, d);
    for (i, di) in d.chunks_exact_mut(c).enumerate() {
        if !done.contains(&(x0 + i)) {
            depthwise_pixel(dw, (y, x0 + i), row, di);
        }
    }
}

/// [`conv_mlp_pointwise`] for an int16 block input (a residual stream
/// stored with 16 bits): `dw` reads int16 through [`wide`] (the reference
/// conv for a shape it does not run), fc1 and fc2 run the fast pointwise
/// kernel on their int8 operands, and the residual add writes int16.
/// Bit-identical to
/// [`conv_mlp_reference`](crate::ops::conv_mlp::conv_mlp_reference) with the
/// same scratch.
pub fn conv_mlp_pointwise_wide(
    p: &ConvMlp,
    dw: &ConvArgs<'_>,
    fc: (&PointwiseArgs<'_>, &PointwiseArgs<'_>),
    data: &mut [i8],
    scratch: &mut [i8],
) {
    let x = p.dw.input.elem;
    let fast_dw = wide::depthwise_fits(&p.dw, dw) && p.dw.output.elem == crate::Elem::I8;
    drive_elems(
        p,
        x.bytes(),
        data,
        scratch,
        |y, x0, rows, d| {
            if fast_dw {
                wide::depthwise_group_i8(&p.dw, dw, (y, x0), |iy| rows.get(iy), d)
            } else {
                per_pixel(p.dw.input.c as usize, |y, i, rows, d| {
                    dw_value(p, dw, (y, i), rows, d, x)
                })(y, x0, rows, d)
            }
        },
        |_, _, _, d, hid, tile| mlp(p, fc, d, hid, tile),
        |saved, f, out| add_with(&p.add, (saved, x), (f, Int8), (out, x)),
    );
}

/// fc1, then fc2, on the tiled pointwise kernel: a pixel group's `dw`
/// output `d` (`c` channels a pixel) to its hidden vectors `hid` and back
/// into `d`.
#[inline(always)]
fn mlp(
    p: &ConvMlp,
    (fc1, fc2): (&PointwiseArgs<'_>, &PointwiseArgs<'_>),
    d: &mut [i8],
    hid: &mut [i8],
    tile: &mut [u32],
) {
    let (c, hidden) = (p.dw.input.c as usize, p.fc1.output.c as usize);
    pointwise_pixels(fc1, c, hidden, d, hid, tile);
    pointwise_pixels(fc2, hidden, c, hid, d, tile);
}
