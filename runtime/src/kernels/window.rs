//! What the spatial kernels (depthwise, channel multiplier, dense, im2col)
//! share: their operands ([`WindowArgs`]: one conv geometry, the padding,
//! and the per-output-channel operands in the kernel's weight layout) and
//! the clipped window of one output pixel (`Window`).
#![forbid(unsafe_code)]

use super::pointwise::PointwiseArgs;
use crate::schedule::Conv;

/// The geometry of a square-kernel conv over an NHWC input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Square kernel size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on each side.
    pub pad: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
}

impl Geometry {
    /// The geometry of `p`.
    pub fn of(p: &Conv) -> Self {
        Geometry {
            kernel: p.kernel as usize,
            stride: p.stride as usize,
            pad: p.pad as usize,
            h: p.input.h as usize,
            w: p.input.w as usize,
            cin: p.input.c as usize,
            cout: p.output.c as usize,
        }
    }

    /// `(kernel, stride, pad)`, as [`Window::new`] takes them.
    #[inline(always)]
    pub(crate) fn window(&self) -> (usize, usize, usize) {
        (self.kernel, self.stride, self.pad)
    }

    /// Output channels per input channel of a channel-multiplier conv
    /// (`cout / cin`; 0 without input channels).
    #[inline(always)]
    pub fn multiplier(&self) -> usize {
        self.cout.checked_div(self.cin).unwrap_or(0)
    }

    /// Bytes of one [`ConvVariant::Im2col`](crate::ConvVariant::Im2col)
    /// patch ([`Conv::patch_len`]).
    #[inline(always)]
    pub fn patch_len(&self) -> usize {
        Conv::patch_len_of(self.kernel * self.kernel * self.cin)
    }

    /// Bytes of one input row (`w * cin`).
    #[inline(always)]
    pub fn in_row(&self) -> usize {
        self.w * self.cin
    }
}

/// Resolved operands of a conv whose kernel reads a window per output pixel
/// ([`ConvVariant::Depthwise`], [`ConvVariant::Multiplier`],
/// [`ConvVariant::DenseHwio`], [`ConvVariant::Im2col`]). The zero point is
/// folded into the bias by codegen; each kernel documents its weight layout.
///
/// [`ConvVariant::Depthwise`]: crate::ConvVariant::Depthwise
/// [`ConvVariant::Multiplier`]: crate::ConvVariant::Multiplier
/// [`ConvVariant::DenseHwio`]: crate::ConvVariant::DenseHwio
/// [`ConvVariant::Im2col`]: crate::ConvVariant::Im2col
#[derive(Clone, Copy)]
pub struct WindowArgs<'a> {
    /// Weights in the kernel's layout, `bias - in_zp * sum w` (wrapping) per
    /// output channel, requantization, output zero point, table.
    pub channels: PointwiseArgs<'a>,
    /// Padding value per input channel, or empty for `in_zp`.
    pub pad_values: &'a [i8],
    /// Input zero point.
    pub in_zp: i32,
    /// Kernel, stride, padding and shapes.
    pub geometry: Geometry,
}

/// Widest channel count whose zero-point padding row a tap table keeps on
/// the stack ([`WindowArgs::tap_origin`]; FastViT-T8's widest depthwise
/// layer and x2 conv read 384 channels).
pub(crate) const PAD_ROW: usize = 512;

impl WindowArgs<'_> {
    /// Where the tap table of output pixel `(oy, ox)` starts and what its
    /// padded taps read (the depthwise and x2 multiplier `pixel_by_taps`,
    /// the DSP tier's x2 conv): the first input row and column (wrapped
    /// below zero) and the padding row, `pad_values`, none when the whole
    /// window lies inside the input, or else `in_zp` repeated, written to
    /// `zp_row`. `None` for zero-point padding of more than [`PAD_ROW`]
    /// channels.
    #[inline(always)]
    pub(crate) fn tap_origin<'r>(
        &'r self,
        oy: usize,
        ox: usize,
        zp_row: &'r mut Option<[i8; PAD_ROW]>,
    ) -> Option<(usize, usize, &'r [i8])> {
        let g = &self.geometry;
        let k = g.kernel;
        let iy0 = (oy * g.stride).wrapping_sub(g.pad);
        let ix0 = (ox * g.stride).wrapping_sub(g.pad);
        let inside = |i0: usize, n: usize| i0 < n && i0 + k <= n;
        let pad: &[i8] = if !self.pad_values.is_empty() {
            self.pad_values
        } else if inside(iy0, g.h) && inside(ix0, g.w) {
            &[]
        } else if g.cin <= PAD_ROW {
            zp_row.insert([self.in_zp as i8; PAD_ROW])
        } else {
            return None;
        };
        Some((iy0, ix0, pad))
    }
}

/// Largest kernel of the clipped-window fast path (FastViT's largest is 7);
/// larger kernels take the per-tap path.
pub const MAX_KERNEL: usize = 7;

/// The taps of one output pixel that fall inside the input: kernel rows
/// `ky0..ky1` and columns `kx0..kx1`. `rows[ky]` (for `ky` in range) is the
/// in-bounds run of input row `iy`, pixels `kx0..kx1` of the window, `c`
/// bytes each. The taps outside read the padding value. Splitting the
/// window once per pixel leaves the tap loops without bounds branches.
pub(crate) struct Window<'s> {
    pub(crate) rows: [&'s [i8]; MAX_KERNEL],
    pub(crate) ky: (usize, usize),
    pub(crate) kx: (usize, usize),
}

/// `[lo, hi)` of kernel taps `t` with `0 <= o * stride + t - pad < n`.
#[inline(always)]
fn clip(o: usize, stride: usize, pad: usize, k: usize, n: usize) -> (usize, usize) {
    let start = o * stride;
    let lo = pad.saturating_sub(start).min(k);
    let hi = (n + pad).saturating_sub(start).min(k).max(lo);
    (lo, hi)
}

impl<'s> Window<'s> {
    /// The window of output pixel `(oy, ox)` of a conv with square `kernel`
    /// (`<= MAX_KERNEL`), `stride`, `pad` over an `h x w x c` input whose row
    /// `iy` is `row(iy)`. `None` if a row is shorter than `w * c`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn new(
        (oy, ox): (usize, usize),
        (kernel, stride, pad): (usize, usize, usize),
        (h, w, c): (usize, usize, usize),
        row: &impl Fn(usize) -> &'s [i8],
    ) -> Option<Self> {
        let ky = clip(oy, stride, pad, kernel, h);
        let kx = clip(ox, stride, pad, kernel, w);
        let mut rows: [&[i8]; MAX_KERNEL] = [&[]; MAX_KERNEL];
        let x0 = (ox * stride + kx.0 - pad) * c;
        let x1 = (ox * stride + kx.1 - pad) * c;
        for (ky, r) in rows.iter_mut().enumerate().take(ky.1).skip(ky.0) {
            *r = row(oy * stride + ky - pad).get(x0..x1)?;
        }
        Some(Window { rows, ky, kx })
    }

    /// Walks a `k x k` window in tap order, the loop every clipped-window
    /// sum shares: `pad(acc, t)` for each padded tap `t` (`ky * k + kx`),
    /// and once per in-bounds row `run(acc, t, rows[ky])`, `t` being the
    /// run's first tap (its `kx1 - kx0` taps read consecutive pixels).
    #[inline(always)]
    pub(crate) fn for_each_tap<A>(
        &self,
        k: usize,
        acc: &mut A,
        pad: impl Fn(&mut A, usize),
        mut run: impl FnMut(&mut A, usize, &'s [i8]),
    ) {
        let (kx0, kx1) = self.kx;
        for ky in 0..k {
            let t0 = ky * k;
            if ky < self.ky.0 || ky >= self.ky.1 {
                for t in t0..t0 + k {
                    pad(acc, t);
                }
                continue;
            }
            for t in t0..t0 + kx0 {
                pad(acc, t);
            }
            run(acc, t0 + kx0, self.rows.get(ky).copied().unwrap_or(&[]));
            for t in t0 + kx1..t0 + k {
                pad(acc, t);
            }
        }
    }
}

/// Output pixel `(oy, ox)`, one tap at a time, scalar: the path of kernels
/// larger than [`MAX_KERNEL`] (none in FastViT). Output channel `o` reads
/// input channels `inputs(o)`, channel `ci` of tap `t` weighted by
/// `weights[weight_at(t, ci, o)]`; padded taps read `pad_values` or `in_zp`.
#[inline(always)]
pub(crate) fn per_tap_pixel<'s>(
    a: &WindowArgs<'_>,
    (oy, ox): (usize, usize),
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
    inputs: impl Fn(usize) -> core::ops::Range<usize>,
    weight_at: impl Fn(usize, usize, usize) -> usize,
) {
    let (g, ch) = (&a.geometry, &a.channels);
    let k = g.kernel;
    for (o, v) in out.iter_mut().enumerate().take(g.cout) {
        let mut acc = ch.folded_bias.get(o);
        for ky in 0..k {
            let iy = (oy * g.stride + ky).wrapping_sub(g.pad);
            for kx in 0..k {
                let ix = (ox * g.stride + kx).wrapping_sub(g.pad);
                for ci in inputs(o) {
                    let at = weight_at(ky * k + kx, ci, o);
                    let w = ch.weights.get(at).copied().unwrap_or(0) as i32;
                    let x = if iy < g.h && ix < g.w {
                        row(iy).get(ix * g.cin + ci).copied().unwrap_or(0) as i32
                    } else {
                        a.pad_values.get(ci).map_or(a.in_zp, |&p| p as i32)
                    };
                    acc = acc.wrapping_add(w.wrapping_mul(x));
                }
            }
        }
        *v = ch.output(o, acc);
    }
}

/// Row `iy` of an NHWC tensor of `in_row`-byte rows (empty past the end):
/// the `row` argument of the pixel kernels over a plain input.
#[inline(always)]
pub(crate) fn input_rows<'s>(input: &'s [i8], in_row: usize) -> impl Fn(usize) -> &'s [i8] + Copy {
    move |iy| input.get(iy * in_row..(iy + 1) * in_row).unwrap_or(&[])
}

/// Calls `pixel(oy, ox, out)` for every output pixel of `output` (rows of
/// `ow` pixels of `cout` channels), in order.
#[inline(always)]
pub(crate) fn for_each_pixel(
    cout: usize,
    ow: usize,
    output: &mut [i8],
    mut pixel: impl FnMut(usize, usize, &mut [i8]),
) {
    if cout == 0 || ow == 0 {
        return;
    }
    // `max(1)` is a no-op here (both are non-zero) that lets the compiler
    // see a non-zero chunk size even if `ow * cout` wrapped: no panic path.
    for (oy, out_row) in output.chunks_exact_mut((ow * cout).max(1)).enumerate() {
        for (ox, px) in out_row.chunks_exact_mut(cout).enumerate() {
            pixel(oy, ox, px);
        }
    }
}
