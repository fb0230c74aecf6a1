//! The depthwise and x2 channel-multiplier convs' tap tables on Helium: a
//! pixel's ([`depthwise_taps16`], [`depthwise_pixel16`],
//! [`multiplier_pixel16`]) or a row's ([`depthwise_row16`],
//! [`depthwise_span16`]), run by
//! [`taps_asm`].

use super::taps::taps_asm;
use super::{finish16, taps16, Acc16};
use crate::kernels::depthwise::{bias, finish, Pixel};
use crate::kernels::dsp::lanes::TapRows;
use crate::kernels::window::WindowArgs;

/// The 16-channel part of `depthwise::pixel_by_taps`: channels `0..c / 16 *
/// 16` of the pixel whose taps are `taps` by [`taps_asm`], or where it
/// declines chunk by chunk by [`taps16`] and [`finish16`] (the scalar
/// `finish` for shifts outside `-31..=-2`). The channels done, or `None`
/// (the caller takes the window path) if `taps16` declines.
#[inline(always)]
pub fn depthwise_taps16(a: &WindowArgs<'_>, taps: &TapRows<'_>, out: &mut [i8]) -> Option<usize> {
    let mut ptrs = [core::ptr::null(); 49];
    let n = taps.ptrs().len().min(ptrs.len());
    ptrs[..n].copy_from_slice(&taps.ptrs()[..n]);
    // SAFETY: each table pointer starts `tap_len()` readable bytes (the
    // `TapRows` invariant); one pixel.
    if let Some(done) = unsafe { taps_asm::<1>(a, &mut ptrs[..n], taps.tap_len(), 0, out, (1, 0)) }
    {
        return Some(done);
    }
    let (c, ch) = (a.geometry.cin, &a.channels);
    let mut c0 = 0;
    let mut acc = Acc16([0; 16]);
    while c0 + 16 <= c {
        if !taps16(&mut acc, taps.ptrs(), taps.tap_len(), ch.weights, c, c0) {
            return None;
        }
        let o = out.get_mut(c0..c0 + 16)?;
        let (b, m, sh) = (
            ch.folded_bias.0,
            ch.requant.multiplier.0,
            ch.requant.shift.0,
        );
        if !finish16(&acc, b, m, sh, c0, ch.out_zp, ch.lut, o) {
            let mut sums = bias::<16>(ch.folded_bias, c0, 1);
            for (s, v) in sums.iter_mut().zip(acc.0) {
                *s = s.wrapping_add(v);
            }
            finish(&sums, ch, c0, 1, o);
        }
        c0 += 16;
    }
    Some(c0)
}

/// `depthwise::depthwise_pixel` on Helium for 3x3 and 7x7 kernels and
/// channels a multiple of 16 (every FastViT depthwise layer): the tap
/// table built straight from the `K` input rows (one `row` call and one
/// length check per kernel row; `TapRows::push` and its checks cost ~21
/// instructions a tap, as much as the tap's 16-channel MACs), then
/// [`taps_asm`]. `false` (the caller takes `pixel_by_taps`, which rewrites
/// the pixel) for other shapes, short rows or padding, or where
/// [`taps_asm`] declines.
#[inline(always)]
pub fn depthwise_pixel16<'s>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) -> bool {
    pixel16::<1>(px, out)
}

/// The unpadded pixels of output row `y` of a 3x3 or 7x7 depthwise conv
/// (channels a multiple of 16) in one [`taps_asm`] call: the tap table of
/// the first, advanced by `stride * cin` bytes in the asm per pixel, so the
/// per-pixel Rust of [`depthwise_pixel16`] (~300 instructions: the rows,
/// the table, the checks) is paid once a row. `out_row` holds the row's
/// `w_out * cin` outputs. Returns the pixels written (empty when declined:
/// the caller computes them all, overwriting any garbage).
#[inline(always)]
pub fn depthwise_row16<'s>(
    a: &WindowArgs<'_>,
    y: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out_row: &mut [i8],
) -> core::ops::Range<usize> {
    depthwise_span16(a, y, 0, row, out_row)
}

/// [`depthwise_row16`] for the pixels of row `y` from `x0` on that `out`
/// holds (`out.len() / cin` of them, `out` starting at pixel `x0`): the
/// fused ConvMlp's groups of [`ConvMlp::PIXELS`](crate::ConvMlp::PIXELS).
/// Returns the pixels written (absolute `x`; empty when declined).
#[inline(always)]
pub fn depthwise_span16<'s>(
    a: &WindowArgs<'_>,
    y: usize,
    x0: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> core::ops::Range<usize> {
    let g = &a.geometry;
    let c = g.cin;
    if c == 0 || c % 16 != 0 || g.stride == 0 {
        return 0..0;
    }
    let first = Pixel {
        a,
        oy: y,
        ox: x0,
        row,
    };
    match g.kernel {
        3 => span_k::<3>(&first, out),
        7 => span_k::<7>(&first, out),
        _ => 0..0,
    }
}

/// [`depthwise_span16`] for a `K x K` kernel, from its `first` pixel on.
#[inline(always)]
fn span_k<'s, const K: usize>(
    first: &Pixel<'_, impl Fn(usize) -> &'s [i8]>,
    out_span: &mut [i8],
) -> core::ops::Range<usize> {
    let Pixel {
        a,
        oy: y,
        ox: x0,
        row,
    } = *first;
    let g = &a.geometry;
    let (c, s, p) = (g.cin, g.stride, g.pad);
    let iy0 = (y * s).wrapping_sub(p);
    if !(iy0 < g.h && iy0 + K <= g.h) || g.w + p < K {
        return 0..0;
    }
    // Pixels `x` with `x * s >= p` and `x * s - p + K <= w`, of the span.
    let lo = p.div_ceil(s).max(x0);
    let hi = ((g.w + p - K) / s + 1).min(x0.saturating_add(out_span.len() / c));
    if lo >= hi {
        return 0..0;
    }
    let mut ok = true;
    let mut table = unpadded_table::<K>(row, (iy0, lo * s - p), g.w * c, c, &mut ok);
    let Some(out) = out_span.get_mut((lo - x0) * c..) else {
        return 0..0;
    };
    // SAFETY (with `ok`): pixel `x` in `lo..hi` reads input pixels
    // `x * s - p + kx < w` (`hi` bounds them) of rows of at least `w * c`
    // bytes borrowed for this call: the table of pixel `lo`, advanced by
    // `(x - lo) * s * c` bytes.
    let run = (hi - lo, s * c);
    let done =
        ok && unsafe { taps_asm::<1>(a, table.as_flattened_mut(), c, 0, out, run) }.is_some();
    if done {
        lo..hi
    } else {
        0..0
    }
}

/// [`depthwise_pixel16`] for the x2 channel-multiplier conv
/// (`multiplier::pixel`; `[k][k][m][cin]` weights, so plane `j` is a
/// depthwise conv at tap stride `2 * cin` from `j * cin` on, written to
/// output channels `2 * c + j`). `false` for other multipliers.
#[inline(always)]
pub fn multiplier_pixel16<'s>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) -> bool {
    px.a.geometry.multiplier() == 2 && pixel16::<2>(px, out)
}

/// [`depthwise_pixel16`] with `M` planes.
#[inline(always)]
fn pixel16<'s, const M: usize>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) -> bool {
    let c = px.a.geometry.cin;
    if c == 0 || c % 16 != 0 {
        return false;
    }
    match px.a.geometry.kernel {
        3 => pixel_k::<3, M>(px, out),
        7 => pixel_k::<7, M>(px, out),
        _ => false,
    }
}

/// [`pixel16`] for a `K x K` kernel.
#[inline(always)]
fn pixel_k<'s, const K: usize, const M: usize>(
    px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>,
    out: &mut [i8],
) -> bool {
    let Pixel { a, oy, ox, row } = *px;
    let g = &a.geometry;
    let c = g.cin;
    let iy0 = (oy * g.stride).wrapping_sub(g.pad);
    let ix0 = (ox * g.stride).wrapping_sub(g.pad);
    let inside = |i0: usize, n: usize| i0 < n && i0 + K <= n;
    let row_len = g.w * c;
    let mut ok = true;
    let mut table: [[*const i8; K]; K] = if inside(iy0, g.h) && inside(ix0, g.w) {
        // No padded tap (most pixels): two instructions a tap.
        unpadded_table::<K>(row, (iy0, ix0), row_len, c, &mut ok)
    } else {
        let zp_row: [i8; PAD_ROW];
        let pad: &[i8] = if !a.pad_values.is_empty() {
            a.pad_values
        } else if c <= PAD_ROW {
            zp_row = [a.in_zp as i8; PAD_ROW];
            &zp_row
        } else {
            return false;
        };
        let mut table: [[*const i8; K]; K] = core::array::from_fn(|ky| {
            let iy = iy0.wrapping_add(ky);
            let r = if iy < g.h { row(iy) } else { &[] };
            let row_in = iy < g.h && r.len() >= row_len;
            ok &= iy >= g.h || row_in;
            core::array::from_fn(|kx| {
                let ix = ix0.wrapping_add(kx);
                if row_in && ix < g.w {
                    r.as_ptr().wrapping_add(ix * c)
                } else {
                    ok &= pad.len() >= c;
                    pad.as_ptr()
                }
            })
        });
        // SAFETY (with `ok`): every pointer starts `c` readable bytes, an
        // in-bounds pixel `ix < w` of a row of at least `w * c` bytes or
        // the padding (`c` bytes or more), both borrowed for this call.
        return ok && unsafe { run_planes::<M>(a, table.as_flattened_mut(), out) };
    };
    // SAFETY (with `ok`): every pointer is pixel `ix0 + kx < w` (`inside`)
    // of a row of at least `w * c` bytes, borrowed for this call.
    ok && unsafe { run_planes::<M>(a, table.as_flattened_mut(), out) }
}

/// The tap table of a window without padded taps: tap `(ky, kx)` at pixel
/// `ix0 + kx` of input row `iy0 + ky` (`cin` bytes a pixel); `ok` is
/// cleared if a row is shorter than `row_len` (the pointers are then not
/// to be read).
#[inline(always)]
fn unpadded_table<'s, const K: usize>(
    row: &impl Fn(usize) -> &'s [i8],
    (iy0, ix0): (usize, usize),
    row_len: usize,
    c: usize,
    ok: &mut bool,
) -> [[*const i8; K]; K] {
    core::array::from_fn(|ky| {
        let r = row(iy0.wrapping_add(ky));
        *ok &= r.len() >= row_len;
        let at = r.as_ptr().wrapping_add(ix0 * c);
        core::array::from_fn(|kx| at.wrapping_add(kx * c))
    })
}

/// The `M` planes of one pixel through [`taps_asm`].
///
/// # Safety
///
/// Each of `ptrs` must start `cin` readable bytes.
#[inline(always)]
unsafe fn run_planes<const M: usize>(
    a: &WindowArgs<'_>,
    ptrs: &mut [*const i8],
    out: &mut [i8],
) -> bool {
    let c = a.geometry.cin;
    // SAFETY: the caller's contract.
    (0..M).all(|j| unsafe { taps_asm::<M>(a, ptrs, c, j, out, (1, 0)) }.is_some())
}

/// Widest channel count whose zero-point padding row [`depthwise_pixel16`]
/// keeps on the stack, as `depthwise::pixel_by_taps`.
const PAD_ROW: usize = 512;
