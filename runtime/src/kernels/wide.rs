//! Fast forms of the convs with an int16 operand (`codegen --int16`): the
//! residual streams and head stored with 16 bits. Codegen gives those layers
//! the reference execution forms ([`ConvVariant::Reference`],
//! [`ConvVariant::InPlace`], [`ConvVariant::WriteBehind`], the ConvMlp `dw`);
//! the executor runs them here instead when the shape is one of two:
//!
//! - a depthwise conv (`groups == cin`, `cout` a multiple of `cin`) reading
//!   int16 (the RepMixer token mixers in place, the ConvMlp `dw`, the next
//!   stage's downsample writing behind, `final_conv`): per pixel the window
//!   is clipped once, so the tap loops have no padding branches, and each
//!   output channel runs its taps straight off the int16 rows;
//! - a 1x1 conv reading int8 and writing int16 (the downsample `proj.1`
//!   through its int16 table, with its identity tap): four-channel int8 dot
//!   products (plain loops LLVM vectorizes on NEON and Helium) with the
//!   input zero point folded out once per four output channels, then the
//!   reference output step.
//!
//! Every form computes the wrapping i32 sums of
//! [`conv_value`](crate::ops::conv::conv_value) and finishes them with the
//! same output step, so it is bit-identical to the reference op
//! (runtime/tests/fused_kernels/wide.rs). Any other shape (or padding
//! values, or the feature `fast-int16` off) returns `false` and the
//! executor runs the reference op.
//!
//! [`ConvVariant::Reference`]: crate::ConvVariant::Reference
//! [`ConvVariant::InPlace`]: crate::ConvVariant::InPlace
//! [`ConvVariant::WriteBehind`]: crate::ConvVariant::WriteBehind
#![forbid(unsafe_code)]

use super::wide_block::{Block, LANES, MAX_KERNEL};
use crate::arena::save_row;
use crate::ops::conv::{finish, ConvArgs};
use crate::ops::conv_widen::widen_rows;
use crate::ops::conv_write_behind::{output_rows, write_behind_and_ahead};
use crate::schedule::Conv;
use crate::tensor::{Elem, Int8, Storage};
use core::marker::PhantomData;

/// The fast int16 forms are compiled in (feature `fast-int16`, on by
/// default; the 4 MB Pico 2 build leaves them out for flash).
pub const FAST: bool = cfg!(feature = "fast-int16");

/// [`Storage`] of an int16 tensor, fixed at compile time.
#[derive(Clone, Copy, Debug)]
pub struct Int16;

impl Storage for Int16 {
    #[inline(always)]
    fn elem(self) -> Elem {
        Elem::I16
    }
}

/// Whether `p` is a depthwise conv reading int16 that these forms run: one
/// input channel a group, `cout` a multiple of `cin`, no padding values.
pub fn depthwise_fits(p: &Conv, a: &ConvArgs<'_>) -> bool {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    FAST && p.input.elem == Elem::I16
        && cin > 0
        && p.groups as usize == cin
        && cout % cin == 0
        && p.kernel > 0
        && (p.kernel as usize * p.kernel as usize) <= Conv::MAX_WIDE_FAN_IN
        && p.stride > 0
        && a.pad_values.is_empty()
        && (a.identity.is_empty() || same_shape(p))
}

/// Input and output of the same shape: where an identity tap is defined.
fn same_shape(p: &Conv) -> bool {
    (p.input.h, p.input.w, p.input.c) == (p.output.h, p.output.w, p.output.c)
}

/// Whether `p` is a 1x1 conv from int8 to int16 these forms run.
pub fn pointwise_fits(p: &Conv, a: &ConvArgs<'_>) -> bool {
    FAST && p.input.elem == Elem::I8
        && p.output.elem == Elem::I16
        && p.kernel == 1
        && p.stride == 1
        && p.pad == 0
        && p.groups == 1
        && (p.input.h, p.input.w) == (p.output.h, p.output.w)
        && (a.identity.is_empty() || same_shape(p))
}

/// The taps of output pixel `(oy, ox)` inside the input: kernel rows
/// `ky0..ky1` and columns `kx0..kx1`, and the input position of tap (0, 0).
#[derive(Clone, Copy)]
struct Window {
    ky0: usize,
    ky1: usize,
    kx0: usize,
    kx1: usize,
    iy: isize,
    ix: isize,
}

impl Window {
    /// The window of output pixel `(oy, ox)` of `p`, clipped to the input.
    #[inline(always)]
    fn of(p: &Conv, oy: usize, ox: usize) -> Self {
        let (k, s, pad) = (p.kernel as isize, p.stride as isize, p.pad as isize);
        let (iy, ix) = (oy as isize * s - pad, ox as isize * s - pad);
        let clip = |i: isize, n: isize| ((-i).clamp(0, k) as usize, (n - i).clamp(0, k) as usize);
        let (ky0, ky1) = clip(iy, p.input.h as isize);
        let (kx0, kx1) = clip(ix, p.input.w as isize);
        Self {
            ky0,
            ky1,
            kx0,
            kx1,
            iy,
            ix,
        }
    }
}

/// Output channel `o` of a depthwise pixel, finished to `out`: bias, the
/// clipped window's taps of input channel `o / (cout / cin)` read from
/// `row(iy)` (input row `iy`, `w * cin` elements of `e`), the identity tap,
/// then [`finish`]. Padded taps contribute `w * (in_zp - in_zp) = 0`.
#[inline(always)]
fn depthwise_value<'r>(
    p: &Conv,
    a: &ConvArgs<'_>,
    (win, oy, ox, o): (&Window, usize, usize, usize),
    out: Elem,
    e: impl Storage,
    row: impl Fn(usize) -> &'r [i8],
) -> i32 {
    let (cin, k) = (p.input.c as usize, p.kernel as usize);
    let m = (p.output.c as usize).checked_div(cin).unwrap_or(1);
    let g = o.checked_div(m).unwrap_or(0);
    let zp = p.in_zp;
    let taps = a.weights.get(o * k * k..(o + 1) * k * k).unwrap_or(&[]);
    let mut acc = a.bias.get(o);
    for ky in win.ky0..win.ky1 {
        let r = row((win.iy + ky as isize) as usize);
        let ws = taps.get(ky * k..(ky + 1) * k).unwrap_or(&[]);
        for kx in win.kx0..win.kx1 {
            let ix = (win.ix + kx as isize) as usize;
            let x = e.get(r, ix * cin + g).unwrap_or(zp);
            let w = ws.get(kx).map_or(0, |&w| w as i32);
            acc = acc.wrapping_add(w.wrapping_mul(x.wrapping_sub(zp)));
        }
    }
    output_step(p, a, acc, (oy, ox, o), out, (e, row))
}

/// The output step of channel `o` at pixel `(oy, ox)` from `acc` (bias
/// and taps): the identity tap (input element `(oy, ox, o)` of `row(oy)`),
/// then [`finish`].
#[inline(always)]
fn output_step<'r>(
    p: &Conv,
    a: &ConvArgs<'_>,
    mut acc: i32,
    (oy, ox, o): (usize, usize, usize),
    out: Elem,
    (e, row): (impl Storage, impl Fn(usize) -> &'r [i8]),
) -> i32 {
    if !a.identity.is_empty() {
        let zp = p.in_zp;
        let x = e.get(row(oy), ox * p.input.c as usize + o).unwrap_or(zp);
        acc = acc.wrapping_add(a.identity.get(o).wrapping_mul(x.wrapping_sub(zp)));
    }
    finish(p, a, acc, o, out)
}

/// Whether a fitting depthwise conv ([`depthwise_fits`]) runs on channel
/// vectors ([`wide_block`](super::wide_block)): at least a block of input
/// channels, kernel up to 7, input zero point 0.
fn block_fits(p: &Conv) -> bool {
    p.input.c as usize >= LANES && (p.kernel as usize) <= MAX_KERNEL && p.in_zp == 0
}

/// The full blocks of a [`block_fits`] conv (`(c0, m, plane)` for
/// [`Block::load`]: input channels `c0..c0 + LANES`, each plane of the
/// channel multiplier `m`), and the first input channel past them.
fn blocks(p: &Conv) -> (impl Iterator<Item = (usize, usize, usize)>, usize) {
    let c = p.input.c as usize;
    let m = (p.output.c as usize).checked_div(c).unwrap_or(1);
    let n = if block_fits(p) { c / LANES } else { 0 };
    let it = (0..n).flat_map(move |b| (0..m).map(move |pl| (b * LANES, m, pl)));
    (it, n * LANES)
}

/// The outputs of pixel `(oy, ox)` of a [`block_fits`] conv for the
/// channels of `blk` (lane `j`: output channel `blk.channel(j)`), for an
/// output of type `out`.
#[inline(always)]
fn block_pixel<'r>(
    p: &Conv,
    a: &ConvArgs<'_>,
    blk: &Block,
    (oy, ox): (usize, usize),
    out: Elem,
    row: impl Fn(usize) -> &'r [i8] + Copy,
) -> [i32; LANES] {
    let win = Window::of(p, oy, ox);
    let geometry = (p.kernel as usize, p.input.c as usize);
    let clip = (win.ky0, win.ky1, win.kx0, win.kx1);
    let sums = blk.sums(geometry, clip, (win.iy, win.ix), row);
    // NEON, DSP: 16 contiguous channels (multiplier 1) finished at once.
    let o0 = blk.channel(0);
    if super::WIDE_FINISH16 && blk.channel(1) == o0 + 1 {
        let x = match a.identity.is_empty() {
            true => None,
            false => row(oy).get(2 * (ox * p.input.c as usize + o0)..),
        };
        if let Some(v) = super::wide_finish16(p, a, (o0, sums), x.unwrap_or(&[]), out) {
            return v;
        }
    }
    let mut v = [0i32; LANES];
    for (j, (v, s)) in v.iter_mut().zip(sums).enumerate() {
        let o = blk.channel(j);
        let acc = a.bias.get(o).wrapping_add(s);
        *v = output_step(p, a, acc, (oy, ox, o), out, (Int16, row));
    }
    v
}

/// Runs `f` on each [`blocks`] block of `p` (its weights loaded); returns
/// the first input channel past them (0 if `p` does not [`block_fits`]).
#[inline(always)]
fn each_block(p: &Conv, a: &ConvArgs<'_>, mut f: impl FnMut(&Block)) -> usize {
    let (it, rest) = blocks(p);
    for b in it {
        f(&Block::load(a.weights, p.kernel as usize, b));
    }
    rest
}

/// The output channels of input channels `g0..` in order (all of them for
/// `g0 == 0`): the ones the blocks leave to [`depthwise_value`].
#[inline(always)]
fn rest_channels(p: &Conv, g0: usize) -> core::ops::Range<usize> {
    let m = (p.output.c as usize)
        .checked_div(p.input.c as usize)
        .unwrap_or(1);
    g0 * m..p.output.c as usize
}

/// [`ConvVariant::Reference`](crate::ConvVariant::Reference) of a fitting
/// conv (`a.input` the input, `output` separate); `false` (nothing written)
/// if it does not fit.
pub fn conv(p: &Conv, a: &ConvArgs<'_>, output: &mut [i8]) -> bool {
    if pointwise_fits(p, a) {
        pointwise(p, a, output, Int16);
        true
    } else if depthwise_fits(p, a) {
        match p.output.elem {
            Elem::I8 => depthwise(p, a, output, Int8),
            Elem::I16 => depthwise(p, a, output, Int16),
        }
        true
    } else {
        false
    }
}

fn depthwise(p: &Conv, a: &ConvArgs<'_>, output: &mut [i8], out: impl Storage) {
    let row = p.input.w as usize * p.input.c as usize * 2;
    let (ow, cout) = (p.output.w as usize, p.output.c as usize);
    let input = a.input;
    let src = Apart::new(move |iy: usize| input.get(iy * row..(iy + 1) * row).unwrap_or(&[]));
    for oy in 0..p.output.h as usize {
        depthwise_row(
            p,
            a,
            (oy, 0, ow),
            out.elem(),
            &src,
            output,
            |output, ox, o, v| out.put(output, (oy * ow + ox) * cout + o, v),
        );
    }
}

/// Output row `y`, pixels `x0..x0 + n`, of a fitting depthwise conv: the
/// one loop of every depthwise form here. The channel vectors
/// `block_fits` takes, then the rest channel by channel
/// ([`depthwise_value`]); each value goes to `put(buf, i, o, v)` (pixel
/// `x0 + i`, channel `o`) as soon as it is computed, and the input rows
/// come through `src` from `buf` as it stands then (the in-place and
/// overlapping forms read where they write).
#[inline(always)]
fn depthwise_row(
    p: &Conv,
    a: &ConvArgs<'_>,
    (y, x0, n): (usize, usize, usize),
    out: Elem,
    src: &impl Source,
    buf: &mut [i8],
    mut put: impl FnMut(&mut [i8], usize, usize, i32),
) {
    let g0 = each_block(p, a, |blk| {
        for i in 0..n {
            let v = {
                let buf = &*buf;
                block_pixel(p, a, blk, (y, x0 + i), out, |iy| src.row(buf, iy))
            };
            for (j, &v) in v.iter().enumerate() {
                put(buf, i, blk.channel(j), v);
            }
        }
    });
    for i in 0..n {
        let win = Window::of(p, y, x0 + i);
        for o in rest_channels(p, g0) {
            let v = {
                let buf = &*buf;
                let rows = |iy| src.row(buf, iy);
                depthwise_value(p, a, (&win, y, x0 + i, o), out, Int16, rows)
            };
            put(buf, i, o, v);
        }
    }
}

/// Where [`depthwise_row`] reads input row `iy` (empty past the buffers):
/// from the buffer it writes (`buf`, between two writes) or from apart.
trait Source {
    fn row<'b>(&'b self, buf: &'b [i8], iy: usize) -> &'b [i8];
}

/// Input rows apart from the output: `f(iy)`.
struct Apart<'r, F>(F, PhantomData<&'r [i8]>);

impl<'r, F: Fn(usize) -> &'r [i8]> Apart<'r, F> {
    fn new(f: F) -> Self {
        Apart(f, PhantomData)
    }
}

impl<'r, F: Fn(usize) -> &'r [i8]> Source for Apart<'r, F> {
    #[inline(always)]
    fn row<'b>(&'b self, _: &'b [i8], iy: usize) -> &'b [i8] {
        (self.0)(iy)
    }
}

/// The rows of an in-place conv at output row `y` ([`ring_row`]).
struct Ring<'r> {
    ring: &'r [i8],
    y: usize,
    slots: usize,
    row: usize,
}

impl Source for Ring<'_> {
    #[inline(always)]
    fn row<'b>(&'b self, data: &'b [i8], iy: usize) -> &'b [i8] {
        ring_row(self.ring, data, (iy, self.y, self.slots, self.row))
    }
}

/// The input rows of `row` bytes from byte `input_at` of the region the
/// output is written into.
struct At {
    input_at: usize,
    row: usize,
}

impl Source for At {
    #[inline(always)]
    fn row<'b>(&'b self, region: &'b [i8], iy: usize) -> &'b [i8] {
        let at = self.input_at + iy * self.row;
        region.get(at..at + self.row).unwrap_or(&[])
    }
}

/// `sum_i w_j[i] * x[i]` for the four rows `w_j`, wrapping i32, over the
/// shortest length: plain zipped loops (LLVM vectorizes them on NEON and
/// Helium). Not the tiers' `kernels::dot4`: a second caller keeps LLVM from
/// inlining that into the 1x1 tile, where its slicing is proven in bounds.
#[inline(always)]
fn dot4(w: [&[i8]; 4], x: &[i8]) -> [i32; 4] {
    let mut a = [0i32; 4];
    let rows = w[0].iter().zip(w[1]).zip(w[2]).zip(w[3]).zip(x);
    for ((((&w0, &w1), &w2), &w3), &x) in rows {
        let x = x as i32;
        a[0] = a[0].wrapping_add((w0 as i32).wrapping_mul(x));
        a[1] = a[1].wrapping_add((w1 as i32).wrapping_mul(x));
        a[2] = a[2].wrapping_add((w2 as i32).wrapping_mul(x));
        a[3] = a[3].wrapping_add((w3 as i32).wrapping_mul(x));
    }
    a
}

/// The 1x1 int8 conv: four output channels a pass over every pixel, their
/// `in_zp * sum(w)` computed once per pass (wrapping: the same i32 as the
/// reference's `sum(w * (x - in_zp))`).
fn pointwise(p: &Conv, a: &ConvArgs<'_>, output: &mut [i8], out: impl Storage) {
    let pixels = p.input.h as usize * p.input.w as usize;
    pointwise_pixels(p, a, (a.input, pixels), output, out);
}

/// [`pointwise`] over the `pixels` input pixels of `input` (one row of a
/// [`ConvVariant::WidenInPlace`](crate::ConvVariant::WidenInPlace), or the
/// whole tensor), into `output`.
fn pointwise_pixels(
    p: &Conv,
    a: &ConvArgs<'_>,
    (input, pixels): (&[i8], usize),
    output: &mut [i8],
    out: impl Storage,
) {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    let zp = p.in_zp;
    let id = !a.identity.is_empty();
    let w = |o: usize| a.weights.get(o * cin..(o + 1) * cin).unwrap_or(&[]);
    let wsum = |r: &[i8]| r.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
    let mut finish_at = |n: usize, o: usize, sum: i32, x: &[i8]| {
        let mut acc = a.bias.get(o).wrapping_add(sum);
        if id {
            let xo = x.get(o).map_or(zp, |&v| v as i32);
            acc = acc.wrapping_add(a.identity.get(o).wrapping_mul(xo.wrapping_sub(zp)));
        }
        out.put(output, n * cout + o, finish(p, a, acc, o, out.elem()));
    };
    let mut o = 0;
    while o + 4 <= cout {
        let rows = [w(o), w(o + 1), w(o + 2), w(o + 3)];
        if rows.iter().any(|r| r.len() != cin) {
            return; // the executor validated the weights: never taken
        }
        let zs = rows.map(|r| zp.wrapping_mul(wsum(r)));
        for n in 0..pixels {
            // The pixel's `cin` input bytes.
            let Some(x) = input.get(n * cin..).and_then(|x| x.get(..cin)) else {
                return;
            };
            let d = dot4(rows, x);
            for j in 0..4 {
                finish_at(n, o + j, d[j].wrapping_sub(zs[j]), x);
            }
        }
        o += 4;
    }
    for o in o..cout {
        let r = w(o);
        if r.len() != cin {
            return;
        }
        let z = zp.wrapping_mul(wsum(r));
        for n in 0..pixels {
            // The pixel's `cin` input bytes.
            let Some(x) = input.get(n * cin..).and_then(|x| x.get(..cin)) else {
                return;
            };
            finish_at(n, o, dot4([r, r, r, r], x)[0].wrapping_sub(z), x);
        }
    }
}

/// [`ConvVariant::InPlace`](crate::ConvVariant::InPlace) of a fitting
/// depthwise conv (int16 in and out, the same tensor): the reference's row
/// ring, the fast taps. `false` (nothing written) if it does not fit.
pub fn conv_in_place(p: &Conv, a: &ConvArgs<'_>, data: &mut [i8], ring: &mut [i8]) -> bool {
    // The int16 1x1 (the stage-3 downsample `proj.1`) on the tier's tile.
    if super::wide_pointwise::conv_in_place_i16(p, a, data, ring) {
        return true;
    }
    if !depthwise_fits(p, a) || p.output.elem != Elem::I16 {
        return false;
    }
    let (h, w, c) = (p.input.h as usize, p.input.w as usize, p.input.c as usize);
    let cout = p.output.c as usize;
    let row = w * c * 2;
    let slots = p.kernel as usize / 2 + 1;
    for y in 0..h {
        save_row(ring, data, y, slots, row);
        // Row `y` is read from the ring only: its outputs in any order.
        let src = Ring {
            ring: &*ring,
            y,
            slots,
            row,
        };
        depthwise_row(p, a, (y, 0, w), Elem::I16, &src, data, |data, x, o, v| {
            Int16.put(data, y * w * cout + x * cout + o, v)
        });
    }
    true
}

/// Input row `iy` of an in-place conv at output row `y`: rows `<= y` from
/// the ring of `slots` rows of `row` bytes, later ones from `data`.
#[inline(always)]
fn ring_row<'r>(
    ring: &'r [i8],
    data: &'r [i8],
    (iy, y, slots, row): (usize, usize, usize, usize),
) -> &'r [i8] {
    let r = if iy <= y {
        let s = iy.checked_rem(slots).unwrap_or(0) * row;
        ring.get(s..s + row)
    } else {
        data.get(iy * row..(iy + 1) * row)
    };
    r.unwrap_or(&[])
}

write_behind_and_ahead! {
    written_over -> bool;
    /// [`ConvVariant::WriteBehind`](crate::ConvVariant::WriteBehind) of a
    /// fitting depthwise conv: the reference's order (each output element
    /// written as soon as it is computed), the fast taps. `false` (nothing
    /// written) if it does not fit.
    conv_write_behind: bottom_up = false;
    /// [`ConvVariant::WriteAhead`](crate::ConvVariant::WriteAhead) of a fitting
    /// depthwise conv: [`conv_write_behind`] with output rows bottom to top.
    /// `false` (nothing written) if it does not fit.
    conv_write_ahead: bottom_up = true;
}

/// Both of the above: [`behind`] for the output's type, rows top to bottom
/// or (`bottom_up`) bottom to top; `false` if the conv does not fit.
fn written_over(p: &Conv, a: &ConvArgs<'_>, region: &mut [i8], at: (usize, usize, bool)) -> bool {
    if !depthwise_fits(p, a) {
        return false;
    }
    match p.output.elem {
        Elem::I8 => behind(p, a, region, at, Int8),
        Elem::I16 => behind(p, a, region, at, Int16),
    }
    true
}

/// [`ConvVariant::WidenInPlace`](crate::ConvVariant::WidenInPlace) of a
/// fitting 1x1 ([`pointwise_fits`]): the reference's row order and ring,
/// each row's four-pixel groups on the tier's 1x1 tile
/// (`wide_pointwise::widen_row`), the rest on the four-channel dot
/// products. `data` is the output's bytes (the input at its start, or with
/// `end_aligned` at its end); `false` (nothing written) if it does not
/// fit. Out of line, so its tile and folded biases (4.5 KiB on DSP) are
/// not in the executor's frame.
#[inline(never)]
pub fn conv_widen_in_place(
    p: &Conv,
    a: &ConvArgs<'_>,
    data: &mut [i8],
    ring: &mut [i8],
    end_aligned: bool,
) -> bool {
    if !pointwise_fits(p, a) {
        return false;
    }
    let (h, w) = (p.input.h as usize, p.input.w as usize);
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    let (in_row, out_row) = (w * cin, w * cout * 2);
    // Four-pixel groups on the tier's 1x1 tile (`wide_pointwise`), the
    // rest (and any shape it declines) on the four-channel dots.
    let mut tile = super::wide_pointwise::Widen::new();
    let fits = tile.fold(p, a);
    widen_rows(
        (h, in_row, out_row),
        end_aligned,
        data,
        ring,
        |y, ring, data| {
            if let Some(d) = data.get_mut(y * out_row..(y + 1) * out_row) {
                let done = match fits {
                    true => super::wide_pointwise::widen_row(p, a, &mut tile, (ring, w), d),
                    false => 0,
                };
                let rest = (ring.get(done * cin..), d.get_mut(done * cout * 2..));
                if let (Some(x), Some(d)) = rest {
                    pointwise_pixels(p, a, (x, w - done), d, Int16);
                }
            }
        },
    );
    true
}

fn behind(
    p: &Conv,
    a: &ConvArgs<'_>,
    region: &mut [i8],
    (input_at, output_at, bottom_up): (usize, usize, bool),
    out: impl Storage,
) {
    let row = p.input.w as usize * p.input.c as usize * 2;
    let src = At { input_at, row };
    let (ow, cout) = (p.output.w as usize, p.output.c as usize);
    for oy in output_rows(p, bottom_up) {
        // Output row `oy` covers only input rows no later row reads: its
        // outputs in any order.
        depthwise_row(
            p,
            a,
            (oy, 0, ow),
            out.elem(),
            &src,
            region,
            |r, ox, o, v| {
                if let Some(d) = r.get_mut(output_at..) {
                    out.put(d, (oy * ow + ox) * cout + o, v);
                }
            },
        );
    }
}

/// The int8 outputs of the depthwise pixels `(y, x0..)` of a fitting conv
/// ([`depthwise_fits`]) into `d` (`cout` bytes a pixel), reading int16
/// input rows from `row`: the ConvMlp `dw` on an int16 stream, on channel
/// vectors where it fits them (`block_fits`).
#[inline(always)]
pub fn depthwise_group_i8<'r>(
    p: &Conv,
    a: &ConvArgs<'_>,
    at: (usize, usize),
    row: impl Fn(usize) -> &'r [i8] + Copy,
    d: &mut [i8],
) {
    depthwise_group(p, a, at, &row, d, Elem::I8);
}

/// [`depthwise_group_i8`] for int16 outputs (`2 * cout` bytes a pixel in
/// `d`): the `dw` of a ConvMlp whose internals are int16.
#[inline(always)]
pub fn depthwise_group_i16<'r>(
    p: &Conv,
    a: &ConvArgs<'_>,
    at: (usize, usize),
    row: impl Fn(usize) -> &'r [i8] + Copy,
    d: &mut [i8],
) {
    depthwise_group(p, a, at, &row, d, Elem::I16);
}

/// The one compiled form of [`depthwise_group_i8`] and
/// [`depthwise_group_i16`] (out of line, rows through a `dyn` reference,
/// the output type a value: one copy of the tap loops for both, which the
/// flash of the Cortex-M55 board needs; a row fetch per kernel row is
/// noise beside the taps).
#[inline(never)]
fn depthwise_group<'r>(
    p: &Conv,
    a: &ConvArgs<'_>,
    (y, x0): (usize, usize),
    row: &dyn Fn(usize) -> &'r [i8],
    d: &mut [i8],
    out: Elem,
) {
    // Opaque to the optimizer, so it does not specialize this function
    // back into one copy per output type.
    let out = core::hint::black_box(out);
    let c = (p.output.c as usize).max(1);
    let n = d.len() / (c * out.bytes());
    let src = Apart::new(row);
    depthwise_row(p, a, (y, x0, n), out, &src, d, |d, i, o, v| {
        out.put(d, i * c + o, v)
    });
}

/// The 1x1 int8 -> int16 conv ([`pointwise_fits`]'s form) of the `n`
/// pixels of `input` into `output` (`2 * cout` bytes a pixel): the `fc2`
/// of a ConvMlp whose internals are int16.
#[inline(always)]
pub fn pointwise_group_i16(
    p: &Conv,
    a: &ConvArgs<'_>,
    (input, n): (&[i8], usize),
    output: &mut [i8],
) {
    pointwise_pixels(p, a, (input, n), output, Int16);
}
