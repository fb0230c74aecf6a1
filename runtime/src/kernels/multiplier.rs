//! The fast channel-multiplier convolution ([`ConvVariant::Multiplier`] and
//! [`ConvVariant::MultiplierWriteBehind`]): `groups == cin`, `cout = m *
//! cin`, so output channel `m * c + j` reads input channel `c` only. These
//! are FastViT's x2 convs: the 7x7/s2 `downsample.proj.0` and the 3x3
//! `final_conv`.
//!
//! Codegen lays the weights out tap-major, then multiplier plane, then input
//! channel (`[k][k][m][cin]`), so plane `j` is a depthwise conv over the
//! input: the kernel runs the depthwise chunk loop once per plane (input
//! loads are shared by the planes through the cache, weights stream
//! contiguously) and stores lane `i` of plane `j` at output channel
//! `m * (c0 + i) + j`. The zero point is folded into the bias exactly as in
//! [`super::depthwise`], so the result is bit-identical to the reference.
//!
//! [`ConvVariant::Multiplier`]: crate::ConvVariant::Multiplier
//! [`ConvVariant::MultiplierWriteBehind`]: crate::ConvVariant::MultiplierWriteBehind
#![forbid(unsafe_code)]

use super::depthwise::{bias, chunk_sums, finish, tap_rows, Pixel, Plane, CHUNK};
use super::dsp::lanes::TapRows;
use super::window::{for_each_pixel, input_rows, per_tap_pixel, Window, WindowArgs, MAX_KERNEL};

/// Output pixel `px` through a table of the pixels its taps read
/// ([`tap_rows`], as `depthwise::pixel_by_taps`; MVE, see
/// [`super::MULTIPLIER_TAPS`]): plane `j` reads the weights from `j * cin`
/// on with tap stride `m * cin`; on MVE 16 channels a step
/// (`mve::taps16`), then four
/// ([`TapRows::taps4`]), each chunk
/// requantized by `finish` at output stride `m`. A padded tap reads a row
/// of padding values (`pad_values`, or `in_zp` repeated), as the window
/// path adds them, so the bits are the same. `false` when the shape does
/// not fit the table: the caller then takes the window path, which writes
/// every output again. Not generic and not inlined (`row` is a `dyn`):
/// one copy for both callers, as flash is tight on the 4 MB Pico 2.
#[inline(never)]
fn pixel_by_taps<'s>(px: &Pixel<'_, dyn Fn(usize) -> &'s [i8] + '_>, out: &mut [i8]) -> bool {
    let (c, m) = (px.a.geometry.cin, px.a.geometry.multiplier());
    let (mut zp_row, mut taps) = (None, TapRows::new(c));
    if !tap_rows(px, m, out.len(), &mut zp_row, &mut taps) {
        return false;
    }
    let ch = &px.a.channels;
    for j in 0..m {
        let Some(w) = ch.weights.get(j * c..) else {
            return false;
        };
        let mut c0 = 0;
        while c0 + 16 <= c {
            let o0 = c0 * m + j;
            // MVE only (the other tiers decline).
            let Some(sums) = super::taps16_sums(&taps, w, m * c, c0) else {
                break;
            };
            let mut acc = bias::<16>(ch.folded_bias, o0, m);
            for (a, v) in acc.iter_mut().zip(sums) {
                *a = a.wrapping_add(v);
            }
            if let Some(o) = out.get_mut(o0..) {
                finish(&acc, ch, o0, m, o);
            }
            c0 += 16;
        }
        while c0 < c {
            let o0 = c0 * m + j;
            let mut acc = bias::<4>(ch.folded_bias, o0, m);
            if !taps.taps4(&mut acc, w, m * c, c0) {
                return false;
            }
            if let Some(o) = out.get_mut(o0..) {
                finish(&acc, ch, o0, m, o);
            }
            c0 += 4;
        }
    }
    true
}

/// Output pixel `px`, all `m * cin` channels, into `out`.
fn pixel<'s>(px: &Pixel<'_, impl Fn(usize) -> &'s [i8]>, out: &mut [i8]) {
    // MVE, DSP and NEON: x2 on a tap table, 16 (DSP: 4) channels a step.
    if super::multiplier_pixel16(px, out) {
        return;
    }
    if super::MULTIPLIER_TAPS && pixel_by_taps(&px.erased(), out) {
        return;
    }
    let Pixel { a, oy, ox, row } = *px;
    let (k, c, m) = (a.geometry.kernel, a.geometry.cin, a.geometry.multiplier());
    let geometry = a.geometry.window();
    let win = if k <= MAX_KERNEL {
        Window::new((oy, ox), geometry, (a.geometry.h, a.geometry.w, c), row)
    } else {
        None
    };
    let Some(win) = win else {
        // Output `o` reads input channel `o / m` (`m > 0` whenever there are
        // outputs), weight plane `o % m`.
        let ci = |o: usize| o.checked_div(m).unwrap_or(0);
        let weight_at = |t, ci, o: usize| (t * m + o.checked_rem(m).unwrap_or(0)) * c + ci;
        return per_tap_pixel(a, (oy, ox), row, out, |o| ci(o)..ci(o) + 1, weight_at);
    };
    let body = c / CHUNK * CHUNK;
    let (pv, zp) = (a.pad_values, a.in_zp);
    for j in 0..m {
        let plane = |c0| Plane {
            weights: a.channels.weights,
            tap_stride: m * c,
            at: j * c + c0,
        };
        let mut c0 = 0;
        while c0 < body {
            let o0 = c0 * m + j;
            let acc = bias::<CHUNK>(a.channels.folded_bias, o0, m);
            let acc = chunk_sums::<CHUNK>(&win, k, c, c0, plane(c0), pv, zp, acc);
            if let Some(o) = out.get_mut(o0..) {
                finish(&acc, &a.channels, o0, m, o);
            }
            c0 += CHUNK;
        }
        while c0 < c {
            let o0 = c0 * m + j;
            let acc = bias::<1>(a.channels.folded_bias, o0, m);
            let acc = chunk_sums::<1>(&win, k, c, c0, plane(c0), pv, zp, acc);
            if let Some(o) = out.get_mut(o0..) {
                finish(&acc, &a.channels, o0, m, o);
            }
            c0 += 1;
        }
    }
}

/// Input and output not overlapping: `input` is `h * w * cin`, `output` is
/// `oh * ow * m * cin`.
pub fn multiplier(a: &WindowArgs<'_>, ow: usize, input: &[i8], output: &mut [i8]) {
    let row = input_rows(input, a.geometry.in_row());
    for_each_pixel(a.geometry.cout, ow, output, |oy, ox, out| {
        pixel(
            &Pixel {
                a,
                oy,
                ox,
                row: &row,
            },
            out,
        )
    });
}

/// Write-behind order on one `region` (as
/// [`ConvVariant::WriteBehind`](crate::ConvVariant::WriteBehind)): the input
/// at `input_at`, the output at `output_at`, either entirely after the input
/// or starting at least [`Conv::write_behind_bytes`](crate::Conv::write_behind_bytes)
/// before it (the executor checks this). Output row `oy` then lies before the
/// first input row it reads, so the region splits there.
pub fn multiplier_behind(
    a: &WindowArgs<'_>,
    (oh, ow): (usize, usize),
    region: &mut [i8],
    input_at: usize,
    output_at: usize,
) {
    let (in_row, cout) = (a.geometry.in_row(), a.geometry.cout);
    let out_row = ow * cout;
    if cout == 0 || ow == 0 {
        return;
    }
    let in_end = input_at + a.geometry.h * in_row;
    for oy in 0..oh {
        let out_at = output_at + oy * out_row;
        // Rows read by output row `oy` start at input row `first`.
        let first = (oy * a.geometry.stride)
            .saturating_sub(a.geometry.pad)
            .min(a.geometry.h);
        let (split, first) = if output_at >= in_end {
            (output_at, 0)
        } else {
            (input_at + first * in_row, first)
        };
        if split > region.len() {
            return;
        }
        let (lo, hi) = region.split_at_mut(split);
        let (input, out) = if output_at >= in_end {
            let at = out_at - split;
            (lo.get(input_at..), hi.get_mut(at..at + out_row))
        } else {
            (Some(&*hi), lo.get_mut(out_at..out_at + out_row))
        };
        let (Some(input), Some(out)) = (input, out) else {
            return;
        };
        for (ox, px) in out.chunks_exact_mut(cout).enumerate() {
            let row = |iy: usize| {
                let at = iy.wrapping_sub(first) * in_row;
                input.get(at..at + in_row).unwrap_or(&[])
            };
            pixel(
                &Pixel {
                    a,
                    oy,
                    ox,
                    row: &row,
                },
                px,
            );
        }
    }
}
