//! Dense convs from few input channels ([`ConvVariant::DenseHwio`] and
//! [`ConvVariant::Im2col`]): FastViT's `stem.0`, the first half of the fast
//! streamed stem ([`super::stem`]).
//!
//! [`ConvVariant::DenseHwio`]: crate::ConvVariant::DenseHwio
//! [`ConvVariant::Im2col`]: crate::ConvVariant::Im2col
//!
//! FastViT's `stem.0` is a 3x3/s2 conv from 3 channels to 48: a per-pixel
//! dot product over only 27 taps, so vectorizing over input channels (as
//! the 1x1 kernel does) has nothing to work on. Instead each of the 27
//! (tap, input channel) values is broadcast against a vector of output
//! channels: codegen lays the weights out `[k][k][cin][cout]` and folds the
//! input zero point into the bias (`bias[o] - in_zp * sum w[o]`). The window
//! is clipped once per pixel (`window::Window`): in-bounds taps multiply the
//! pixel, padded taps the mean-pixel `pad_values` (or `in_zp`), so the sum
//! equals the reference `bias + sum w * (x - in_zp)` modulo 2^32, bit for
//! bit. `stem.1` (depthwise 3x3/s2) reads the ring through
//! [`depthwise_pixel`](super::depthwise::depthwise_pixel).
#![forbid(unsafe_code)]

use super::depthwise::{bias, finish, mac_const, CHUNK};
use super::pointwise::{pointwise_pixels, TILE};
use super::window::{for_each_pixel, input_rows, per_tap_pixel, Window, WindowArgs, MAX_KERNEL};
use super::TILE_WORDS_PER_CIN;
use crate::schedule::Conv;

/// The sums of output channels `o0..o0 + N` over the window.
#[inline(always)]
fn dense_sums<const N: usize>(a: &WindowArgs<'_>, win: &Window<'_>, o0: usize) -> [i32; N] {
    let (k, cin, cout) = (a.geometry.kernel, a.geometry.cin, a.geometry.cout);
    let mut acc = bias::<N>(a.channels.folded_bias, o0, 1);
    let w = |t: usize, ci: usize| {
        let at = (t * cin + ci) * cout + o0;
        a.channels.weights.get(at..at + N).unwrap_or(&[])
    };
    let pad = |ci: usize| a.pad_values.get(ci).map_or(a.in_zp, |&p| p as i32);
    let pad_tap = |acc: &mut [i32; N], t: usize| {
        for ci in 0..cin {
            mac_const(acc, w(t, ci), pad(ci));
        }
    };
    win.for_each_tap(k, &mut acc, pad_tap, |acc, t, run| {
        // The in-bounds run: (kx1 - kx0) * cin values, their weights
        // contiguous rows of `cout`.
        let ws = a.channels.weights.get(t * cin * cout + o0..).unwrap_or(&[]);
        if super::WORD_LANES && N == 4 {
            if let Ok(acc4) = <&mut [i32; 4]>::try_from(&mut acc[..]) {
                super::dsp::lanes::run4_scalar(acc4, ws, cout, run);
                return;
            }
        }
        for (i, &x) in run.iter().enumerate() {
            mac_const(acc, ws.get(i * cout..).unwrap_or(&[]), x as i32);
        }
    });
    acc
}

/// Output pixel `(oy, ox)`, all `cout` channels, into `out`. `row(iy)`
/// returns input row `iy` (`w * cin` bytes) for any in-bounds `iy`.
pub fn dense_pixel<'s>(
    a: &WindowArgs<'_>,
    (oy, ox): (usize, usize),
    row: impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) {
    let geometry = a.geometry.window();
    let win = if a.geometry.kernel <= MAX_KERNEL {
        Window::new(
            (oy, ox),
            geometry,
            (a.geometry.h, a.geometry.w, a.geometry.cin),
            &row,
        )
    } else {
        None
    };
    let Some(win) = win else {
        let (cin, cout) = (a.geometry.cin, a.geometry.cout);
        let weight_at = |t, ci, o| (t * cin + ci) * cout + o;
        return per_tap_pixel(a, (oy, ox), &row, out, |_| 0..cin, weight_at);
    };
    let body = a.geometry.cout / CHUNK * CHUNK;
    let mut o0 = 0;
    while o0 < body {
        let acc = dense_sums::<CHUNK>(a, &win, o0);
        if let Some(o) = out.get_mut(o0..o0 + CHUNK) {
            finish(&acc, &a.channels, o0, 1, o);
        }
        o0 += CHUNK;
    }
    while o0 < a.geometry.cout {
        let acc = dense_sums::<1>(a, &win, o0);
        if let Some(o) = out.get_mut(o0..o0 + 1) {
            finish(&acc, &a.channels, o0, 1, o);
        }
        o0 += 1;
    }
}

/// A dense conv, input and output not overlapping: `input` is
/// `h * w * cin`, `output` is `oh * ow * cout`.
pub fn dense(a: &WindowArgs<'_>, ow: usize, input: &[i8], output: &mut [i8]) {
    let row = input_rows(input, a.geometry.in_row());
    for_each_pixel(a.geometry.cout, ow, output, |oy, ox, px| {
        dense_pixel(a, (oy, ox), row, px)
    });
}

/// The window of output pixel `(oy, ox)` as one patch: `k * k * cin` values
/// in OHWI order (padded taps read `pad_values` or `in_zp`); a padded window
/// then writes zeros up to `dst.len()`, an unpadded one leaves that tail as
/// it was (the caller's buffer keeps it zero).
#[inline(always)]
fn fill_patch<'s>(
    a: &WindowArgs<'_>,
    (oy, ox): (usize, usize),
    row: &impl Fn(usize) -> &'s [i8],
    dst: &mut [i8],
) {
    let (k, c) = (a.geometry.kernel, a.geometry.cin);
    let used = (k * k * c).min(dst.len());
    // The tail past `used` is left as it is: zero in `im2col_row_n`'s
    // buffer, which starts zeroed and past `used` only gets zeros.
    if fill_inside(a, (oy, ox), row, dst) {
        return;
    }
    let mut vals = dst.chunks_exact_mut(c.max(1));
    for ky in 0..k {
        let iy = (oy * a.geometry.stride + ky).wrapping_sub(a.geometry.pad);
        let r = if iy < a.geometry.h { row(iy) } else { &[] };
        for kx in 0..k {
            let ix = (ox * a.geometry.stride + kx).wrapping_sub(a.geometry.pad);
            let Some(d) = vals.next() else {
                return;
            };
            let src = if iy < a.geometry.h && ix < a.geometry.w {
                r.get(ix * c..ix * c + c)
            } else {
                None
            };
            match src {
                Some(s) => {
                    for (v, &x) in d.iter_mut().zip(s) {
                        *v = x;
                    }
                }
                None => {
                    for (ci, v) in d.iter_mut().enumerate() {
                        *v = a.pad_values.get(ci).copied().unwrap_or(a.in_zp as i8);
                    }
                }
            }
        }
    }
    dst[used..].fill(0);
}

/// [`fill_patch`] for a pixel whose window has no padded tap (most
/// pixels): each kernel row is one run of `k * cin` input bytes, copied
/// whole (per tap and value the general loop cost ~500 instructions a
/// stem pixel). `false` (nothing promised) for a padded window or a short
/// row.
#[inline(always)]
fn fill_inside<'s>(
    a: &WindowArgs<'_>,
    (oy, ox): (usize, usize),
    row: &impl Fn(usize) -> &'s [i8],
    dst: &mut [i8],
) -> bool {
    let g = &a.geometry;
    let (k, c) = (g.kernel, g.cin);
    let iy0 = (oy * g.stride).wrapping_sub(g.pad);
    let ix0 = (ox * g.stride).wrapping_sub(g.pad);
    let inside = |i0: usize, n: usize| i0 < n && i0 + k <= n;
    let run = k * c;
    if run == 0 || !inside(iy0, g.h) || !inside(ix0, g.w) || dst.len() < k * run {
        return false;
    }
    for (ky, d) in dst.chunks_exact_mut(run).take(k).enumerate() {
        let Some(s) = row(iy0 + ky).get(ix0 * c..ix0 * c + run) else {
            return false;
        };
        super::copy_run(d, s);
    }
    true
}

/// Output row `oy` of an im2col conv (`ow` pixels of `cout`) into `out`:
/// [`TILE`] patches at a time through the tier's pointwise kernel.
/// `row(iy)` returns input row `iy` (`w * cin` bytes).
pub fn im2col_row<'s>(
    a: &WindowArgs<'_>,
    oy: usize,
    ow: usize,
    row: impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) {
    // One instance per patch size, so the pointwise kernel is inlined with
    // a constant `cin` (its slice arithmetic then provably cannot panic:
    // the no-panic link check).
    match a.geometry.patch_len() {
        16 => im2col_row_n::<16>(a, oy, ow, row, out),
        32 => im2col_row_n::<32>(a, oy, ow, row, out),
        _ => {} // refused by the executor (`Conv::patch_len`, `MAX_PATCH`)
    }
}

// The sizes `im2col_row` instantiates are every `Conv::patch_len` up to
// `Conv::MAX_PATCH`.
const _: () = assert!(Conv::MAX_PATCH == 32 && Conv::patch_len_of(17) == 32);

/// [`im2col_row`] for patches of `P` bytes.
#[inline(always)]
fn im2col_row_n<'s, const P: usize>(
    a: &WindowArgs<'_>,
    oy: usize,
    ow: usize,
    row: impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) {
    let cout = a.geometry.cout.max(1);
    let mut patches = [0i8; TILE * Conv::MAX_PATCH];
    let mut words = [0u32; TILE_WORDS_PER_CIN * Conv::MAX_PATCH];
    let mut x0 = 0;
    for o in out
        .chunks_mut(cout.saturating_mul(TILE))
        .take(ow.div_ceil(TILE))
    {
        let n = ow.saturating_sub(x0).min(TILE).min(o.len() / cout);
        for (i, dst) in patches.chunks_exact_mut(P).take(n).enumerate() {
            fill_patch(a, (oy, x0 + i), &row, dst);
        }
        let x = patches.get(..n * P).unwrap_or(&[]);
        pointwise_pixels(&a.channels, P, cout, x, o, &mut words);
        x0 += TILE;
    }
}

/// An im2col conv, input and output not overlapping: `input` is
/// `h * w * cin`, `output` is `oh * ow * cout`.
pub fn im2col(a: &WindowArgs<'_>, ow: usize, input: &[i8], output: &mut [i8]) {
    if a.geometry.cout == 0 || ow == 0 {
        return;
    }
    let row = input_rows(input, a.geometry.in_row());
    for (oy, out_row) in output
        .chunks_exact_mut((ow * a.geometry.cout).max(1))
        .enumerate()
    {
        im2col_row(a, oy, ow, row, out_row);
    }
}
