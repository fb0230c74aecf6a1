//! Portable dot-product primitives, written so LLVM vectorizes them: equal
//! lengths proven up front (no bounds checks in the loop), i32 wrapping
//! accumulation of i8 x i8 products. This is the reference tier and also the
//! NEON and MVE tiers (see [`super`]).
#![forbid(unsafe_code)]

use super::depthwise::Pixel;
use super::dsp::lanes::TapRows;
use super::pointwise::PointwiseArgs;
use super::wide_block::{LANES, MAX_KERNEL};
use super::window::WindowArgs;
use crate::ops::conv::ConvArgs;
use crate::ops::{I32s, RequantView};
use crate::quant::requantize_i8;
use crate::schedule::{Add, Conv};

/// `[sum_i w[r][i] * x[i]; r in 0..4]`, wrapping i32: four weight rows
/// against one input vector. Every row must be at least `x.len()` long.
#[inline]
pub fn dot4(w: [&[i8]; 4], x: &[i8]) -> [i32; 4] {
    let n = x.len();
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let mut a = [0i32; 4];
    for i in 0..n {
        let xv = x[i] as i32;
        a[0] = a[0].wrapping_add((w0[i] as i32).wrapping_mul(xv));
        a[1] = a[1].wrapping_add((w1[i] as i32).wrapping_mul(xv));
        a[2] = a[2].wrapping_add((w2[i] as i32).wrapping_mul(xv));
        a[3] = a[3].wrapping_add((w3[i] as i32).wrapping_mul(xv));
    }
    a
}

/// `sum_i w[i] * x[i]`, wrapping i32, over `x.len()` elements.
#[inline]
pub fn dot1(w: &[i8], x: &[i8]) -> i32 {
    w[..x.len()].iter().zip(x).fold(0i32, |a, (&w, &x)| {
        a.wrapping_add((w as i32).wrapping_mul(x as i32))
    })
}

/// `table[i] = i - 128`: the table of a layer without one, so the DSP's
/// `block_px4` and `depthwise_taps16` always end in one table load and the
/// Helium vector requantizations in one gather.
pub(crate) static IDENTITY: [i8; 256] = {
    let mut t = [0i8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as i32 - 128) as i8;
        i += 1;
    }
    t
};

/// Tile scratch words per input channel: none, this tier reads the four
/// input rows as they are.
pub const TILE_WORDS_PER_CIN: usize = 0;

/// Tile scratch for the standalone pointwise layers (none here).
pub type StackTile = [u32; 0];

/// Four pixels' inputs, prepared for [`dot_px4`].
pub struct Px4<'a>([&'a [i8]; 4]);

impl<'a> Px4<'a> {
    /// The four pixels, `cin` each.
    pub fn rows(&self) -> [&'a [i8]; 4] {
        self.0
    }
}

/// Splits `x` (at least `4 * cin`, pixel-major) into its four pixels.
#[inline]
pub fn prepare_px4<'a>(x: &'a [i8], cin: usize, _words: &'a mut [u32]) -> Option<Px4<'a>> {
    let x = x.get(..4 * cin)?;
    let (x0, r) = x.split_at_checked(cin)?;
    let (x1, r) = r.split_at_checked(cin)?;
    let (x2, x3) = r.split_at_checked(cin)?;
    Some(Px4([x0, x1, x2, x3]))
}

/// The DSP tier's int16 form of [`prepare_px4`] (`dsp::prepare_px4_i16`);
/// this tier declines (the caller runs its plain int16 loops).
#[inline(always)]
pub fn prepare_px4_i16<'a>(_: &[i8], _: usize, _: &'a mut [u32]) -> Option<Px4<'a>> {
    None
}

/// NEON's vector `fc1` of the int16 ConvMlp (`neon::mlp_fc1_px4`); this
/// tier declines (`wide_mlp` runs its portable loops).
#[inline(always)]
pub fn mlp_fc1_px4(_: &Conv, _: &ConvArgs<'_>, _: &[i8], _: &mut [i8]) -> bool {
    false
}

/// NEON's vector `fc2` of the int16 ConvMlp (`neon::mlp_fc2_px4`); this
/// tier declines.
#[inline(always)]
pub fn mlp_fc2_px4(_: &Conv, _: &ConvArgs<'_>, _: (&[i8], &[i32]), _: &mut [i8]) -> bool {
    false
}

/// The vector output step of the int16 depthwise's channel vectors
/// (`neon::wide_finish16`, `dsp::wide_finish16`, `mve::wide_finish16`);
/// this tier declines (the scalar step runs).
#[inline(always)]
pub fn wide_finish16(
    _: &Conv,
    _: &ConvArgs<'_>,
    _: (usize, [i32; 16]),
    _: &[i8],
    _: crate::tensor::Elem,
) -> Option<[i32; 16]> {
    None
}

/// NEON's transposing load of the int16 depthwise's blocks
/// (`neon::wide_load16`); this tier declines (`wide_block::Block::load`'s
/// loops run).
#[inline(always)]
pub fn wide_load16(
    _: &[i8],
    _: usize,
    _: (usize, usize, usize),
    _: &mut [i16; MAX_KERNEL * MAX_KERNEL * LANES],
) -> bool {
    false
}

/// The int16 add of a faster tier (`neon::add16`, `dsp::add16`,
/// `mve::add16`); this tier does no element.
#[inline(always)]
pub fn add16(_: &Add, _: &[i8], _: &[i8], _: &mut [i8]) -> usize {
    0
}

/// `[sum_i w[i] * x_p[i]; p in 0..4]`, wrapping i32: one weight row (at
/// least `cin` long) against four pixels, each weight load feeding four
/// multiply-accumulates.
#[inline]
pub fn dot_px4(p: &Px4<'_>, w: &[i8]) -> [i32; 4] {
    let [x0, x1, x2, x3] = p.0;
    let n = x0.len();
    let (w, x1, x2, x3) = (&w[..n], &x1[..n], &x2[..n], &x3[..n]);
    let mut a = [0i32; 4];
    for i in 0..n {
        let wv = w[i] as i32;
        a[0] = a[0].wrapping_add(wv.wrapping_mul(x0[i] as i32));
        a[1] = a[1].wrapping_add(wv.wrapping_mul(x1[i] as i32));
        a[2] = a[2].wrapping_add(wv.wrapping_mul(x2[i] as i32));
        a[3] = a[3].wrapping_add(wv.wrapping_mul(x3[i] as i32));
    }
    a
}

/// Output channels per [`dot_rows_px4`] tile.
pub const ROWS: usize = 1;

/// [`dot_px4`] for one row, in the tile shape the NEON tier widens.
#[inline]
pub fn dot_rows_px4(p: &Px4<'_>, rows: &[i8]) -> [[i32; 4]; ROWS] {
    [dot_px4(p, rows)]
}

/// One output channel's four tile outputs requantized: `requantize_i8(bias +
/// dots[p])`, the scalar twin of `neon::requant_px4` (the tier selects
/// it only on aarch64; the tests compare the two).
#[inline(always)]
pub fn requant_px4(dots: [i32; 4], bias: i32, multiplier: i32, shift: i32, zp: i32) -> [i8; 4] {
    dots.map(|d| requantize_i8(bias.wrapping_add(d), multiplier, shift, zp))
}

/// `mve::copy_run` off Helium: `dst[..n] = src[..n]`, `n` the shorter
/// length, a byte at a time.
#[inline(always)]
pub fn copy_run(dst: &mut [i8], src: &[i8]) {
    for (v, &x) in dst.iter_mut().zip(src) {
        *v = x;
    }
}

/// The hooks of a faster tier that this tier does not have: each takes the
/// hook's parameters (unused, so only their types are listed) and returns
/// the value that declines, so the caller takes its own path. Also
/// `squeeze_excite::declining`'s.
macro_rules! declining_hooks {
    ($(
        $(#[$doc:meta])*
        fn $name:ident $(<$($g:tt),*>)? ($($ty:ty),* $(,)?) -> $ret:ty = $value:expr;
    )*) => {$(
        $(#[$doc])*
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        pub fn $name $(<$($g),*>)? ($(_: $ty),*) -> $ret {
            $value
        }
    )*};
}
pub(crate) use declining_hooks;

declining_hooks! {
    /// `neon::rows_px4_store` off AArch64: declines (`false`, nothing
    /// written), so the caller takes the channel-by-channel path. Generic over
    /// the tile type, which the DSP tier defines differently.
    fn rows_px4_store<P>(
        &P, &[i8], usize, I32s<'_>, RequantView<'_>, i32, Option<&[i8; 256]>, [&mut [i8]; 4],
    ) -> bool = false;

    /// `neon::depthwise_run16` off AArch64: declines (`false`, nothing added),
    /// so the caller takes the portable lane loop.
    fn depthwise_run16(&mut [i32; 16], &[i8], usize, &[i8], usize, usize) -> bool = false;

    /// `neon::pointwise_wide` off AArch64: declines (0 pixels done).
    fn pointwise_wide(
        &PointwiseArgs<'_>, usize, usize, &[i8], &mut [i8], &mut [u32],
    ) -> usize = 0;

    /// `neon::pointwise_pairs` off AArch64: declines (0 pixels done).
    fn pointwise_pairs(&PointwiseArgs<'_>, usize, usize, &[i8], &mut [i8]) -> usize = 0;

    /// `neon::above_min` off AArch64: not checked (`false`).
    fn above_min(&[i8]) -> bool = false;

    /// `neon::finish16` off AArch64: declines (`false`, nothing written).
    fn finish16(&[i32; 16], &PointwiseArgs<'_>, usize, &mut [i8]) -> bool = false;

    /// `mve::finish_px4` off Helium: declines (`false`, nothing written), so
    /// the caller takes the scalar path.
    fn finish_px4(
        [i32; 4], i32, i32, i32, i32, Option<&[i8; 256]>, &mut [i8], usize, usize,
    ) -> bool = false;

    /// `mve::finish16_px4` off Helium: declines (`false`, nothing written),
    /// so `wide_mlp`'s `fc2` finishes output by output.
    fn finish16_px4([i32; 4], i32, i32, i32, i32, &mut [i8], usize, usize) -> bool = false;

    /// `mve::dot_px4_i16` off Helium: declines (`None`), so `wide_mlp`
    /// runs its plain int16 loops.
    fn dot_px4_i16(&[i16], usize, &[i8]) -> Option<[i32; 4]> = None;

    /// `mve::load_taps16` off Helium: declines (`false`), so
    /// `wide_block::Block::load` copies the taps one by one.
    fn load_taps16(&[i8], usize, (usize, usize), &mut [i16]) -> bool = false;

    /// `mve::dot_px4_sum` off Helium: declines (`None`), so `wide_mlp`
    /// sums the weight row apart. Generic over the tile type, which the
    /// DSP tier defines differently.
    fn dot_px4_sum<P>(&P, &[i8]) -> Option<([i32; 4], i32)> = None;

    /// `mve::tile_px4` off Helium: declines (no channel done), so the caller
    /// takes the channel-by-channel path.
    fn tile_px4(
        &[i8], usize, usize, &[i8], &[u8], &[u8], &[i8], i32, Option<&[i8; 256]>, &mut [i8],
    ) -> usize = 0;

    /// `mve::taps16_sums` off Helium: declines, so the caller takes four
    /// channels at a time.
    fn taps16_sums(&TapRows<'_>, &[i8], usize, usize) -> Option<[i32; 16]> = None;

    /// `mve::depthwise_taps16` off Helium: no channels done, all are left to
    /// the four-channel loop.
    fn depthwise_taps16(&WindowArgs<'_>, &TapRows<'_>, &mut [i8]) -> Option<usize> = Some(0);

    /// `mve::depthwise_pixel16` off Helium: declines (`false`, nothing
    /// written), so the caller takes its own depthwise path.
    fn depthwise_pixel16<'s>(&Pixel<'_, impl Fn(usize) -> &'s [i8]>, &mut [i8]) -> bool = false;

    /// `mve::multiplier_pixel16` off Helium: declines (`false`, nothing
    /// written), so the caller takes its own multiplier path.
    fn multiplier_pixel16<'s>(&Pixel<'_, impl Fn(usize) -> &'s [i8]>, &mut [i8]) -> bool = false;

    /// `mve::add_tables4` off Helium: declines (no element done).
    fn add_tables4(
        &[i32; 256], &[i32; 256], i32, u32, i32, &[i8], &[i8], &mut [i8],
    ) -> usize = 0;

    /// `mve::depthwise_row16` off Helium: declines (no pixel done).
    fn depthwise_row16<'s>(
        &WindowArgs<'_>, usize, &impl Fn(usize) -> &'s [i8], &mut [i8],
    ) -> core::ops::Range<usize> = 0..0;

    /// `mve::depthwise_span16` off Helium: declines (no pixel done).
    fn depthwise_span16<'s>(
        &WindowArgs<'_>, usize, usize, &impl Fn(usize) -> &'s [i8], &mut [i8],
    ) -> core::ops::Range<usize> = 0..0;

    /// `dsp::block_px4` off the DSP cores: declines (no channel done).
    fn block_px4<P>(
        &P, usize, &[i8], &[u8], &[u8], &[i8], i32, Option<&[i8; 256]>, &mut [i8],
    ) -> usize = 0;

    /// `dsp::block_px4_i16` off the DSP cores: declines (no channel done).
    fn block_px4_i16<P>(&P, usize, &[i8], &[u8], &[u8], &[i8], i32, &mut [i8]) -> usize = 0;

    /// `dsp::block_px4_fits` off the DSP cores: never.
    fn block_px4_fits(&[i8], i32) -> bool = false;
}
