//! The int16 depthwise convs of [`wide`](super::wide) on channel vectors:
//! [`LANES`] channels of a pixel at once, every tap one vector
//! multiply-accumulate of `LANES` int16 inputs by `LANES` int8 weights into
//! i32 sums (the tier's `wide_sums16`, chosen in `kernels/mod.rs`: NEON
//! `SMLAL`/`SMLAL2`, Helium `VMULLB`/`VMULLT.S16`, elsewhere the portable
//! twin [`sums16`], plain loops).
//!
//! The schedule keeps these layers' OHWI weights (`[c][k][k]` for a
//! depthwise conv), so a [`Block`] copies the taps of `LANES` channels
//! tap-major (`[k][k][LANES]`, widened to i16) once per output row (per
//! ConvMlp pixel group), then runs every pixel of the row on it. Every
//! form allows that order within a row: out of place, the in-place ring
//! (row `y` is read from the ring), the ConvMlp's `dw` buffer, and the
//! write-behind and write-ahead forms (output row `r` only covers input
//! rows no later row reads).
//!
//! Taken when the conv is a depthwise one (`cout` a multiple of `cin`, at
//! least [`LANES`] input channels, kernel up to 7; with a channel
//! multiplier one block a plane) whose int16 input has zero point 0
//! (what codegen gives every int16 tensor), so the taps need no zero point;
//! input channels past the last multiple of [`LANES`] run the scalar form. The
//! sums are the wrapping i32 sums of
//! [`conv_value`](crate::ops::conv::conv_value), finished by the same
//! output step (bias, identity tap, requantization), so every form is
//! bit-identical to the reference op (runtime/tests/wide_kernels.rs).
#![forbid(unsafe_code)]

use super::{load_taps16, wide_sums16};

/// Channels a block.
pub const LANES: usize = 16;

/// Largest kernel a block holds (7x7).
pub const MAX_KERNEL: usize = 7;

/// The taps of [`LANES`] output channels, tap-major: `w[t * LANES + j]` is
/// the weight at tap `t = ky * k + kx` of output channel `(c0 + j) * m +
/// plane`, which reads input channel `c0 + j` (a depthwise conv with
/// channel multiplier `m`: one block a plane, so the inputs of the lanes
/// are contiguous).
pub struct Block {
    w: [i16; MAX_KERNEL * MAX_KERNEL * LANES],
    c0: usize,
    m: usize,
    plane: usize,
}

impl Block {
    /// The block of input channels `c0..c0 + LANES`, plane `plane` of
    /// multiplier `m`, of OHWI depthwise weights `weights` (`k * k` an
    /// output channel); missing weights read 0 (never: the executor
    /// validated them).
    #[inline(always)]
    pub fn load(weights: &[i8], k: usize, (c0, m, plane): (usize, usize, usize)) -> Self {
        let mut w = [0i16; MAX_KERNEL * MAX_KERNEL * LANES];
        let kk = k * k;
        // NEON: 16 taps at a time by a byte transpose (7x7 kernels).
        if super::wide_load16(weights, k, (c0, m, plane), &mut w) {
            return Self { w, c0, m, plane };
        }
        // Helium: eight taps a channel per widening load and scatter.
        let w16 = w.get_mut(..kk * LANES).unwrap_or(&mut []);
        if load_taps16(weights, kk, (c0 * m + plane, m), w16) {
            return Self { w, c0, m, plane };
        }
        for j in 0..LANES {
            let o = (c0 + j) * m + plane;
            let taps = weights.get(o * kk..(o + 1) * kk).unwrap_or(&[]);
            for (t, &v) in taps.iter().enumerate() {
                if let Some(d) = w.get_mut(t * LANES + j) {
                    *d = v as i16;
                }
            }
        }
        Self { w, c0, m, plane }
    }

    /// Output channel of lane `j`.
    #[inline(always)]
    pub fn channel(&self, j: usize) -> usize {
        (self.c0 + j) * self.m + self.plane
    }

    /// The i32 tap sums of the block's channels at one pixel: kernel rows
    /// `ky0..ky1` and columns `kx0..kx1` (a window clipped to the input),
    /// input row `iy0 + ky` read from `row`, input column `ix0 + kx`;
    /// `cin` channels a pixel, int16 elements, zero point 0.
    #[inline(always)]
    pub fn sums<'r>(
        &self,
        (k, cin): (usize, usize),
        (ky0, ky1, kx0, kx1): (usize, usize, usize, usize),
        (iy0, ix0): (isize, isize),
        row: impl Fn(usize) -> &'r [i8],
    ) -> [i32; LANES] {
        let nk = kx1.saturating_sub(kx0);
        let first = ((ix0 + kx0 as isize) as usize * cin + self.c0) * 2;
        let rows = (ky0..ky1).map(|ky| {
            let r = row((iy0 + ky as isize) as usize);
            let x = r.get(first..).unwrap_or(&[]);
            let w = self.w.get((ky * k + kx0) * LANES..).unwrap_or(&[]);
            (x, w)
        });
        wide_sums16(Taps::new(rows, cin * 2, nk))
    }
}

/// One pixel's taps for the tier's `wide_sums16`: for each `(x, w)` of
/// `rows` (a kernel row: `x` the int16 input bytes of the row's first tap,
/// channels `c0` on; `w` that tap's [`LANES`] weights, then the next
/// taps'), `nk` taps `stride` bytes apart.
pub struct Taps<I> {
    rows: I,
    stride: usize,
    nk: usize,
}

impl<'r, I: Iterator<Item = (&'r [i8], &'r [i16])>> Taps<I> {
    /// `nk` taps a row of `rows`, `stride` bytes apart ([`Block::sums`]
    /// builds them; public for the tiers' tests).
    #[inline(always)]
    pub fn new(rows: I, stride: usize, nk: usize) -> Self {
        Self { rows, stride, nk }
    }

    /// Bytes from one tap's inputs to the next's.
    #[inline(always)]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Taps a row.
    #[inline(always)]
    pub fn nk(&self) -> usize {
        self.nk
    }

    /// The rows every tier may read without a further check: `x` holds
    /// `2 * LANES` bytes at each of the `nk >= 1` taps, `w` the `nk *
    /// LANES` weights. A shorter row (never: the callers clip the window),
    /// and every row when `nk` is 0, adds nothing.
    #[inline(always)]
    pub fn fitting(self) -> impl Iterator<Item = (&'r [i8], &'r [i16])> {
        let (stride, nk) = (self.stride, self.nk);
        self.rows.filter(move |(x, w)| {
            nk > 0 && x.len() >= (nk - 1) * stride + 2 * LANES && w.len() >= nk * LANES
        })
    }
}

/// The portable twin of the tiers' `wide_sums16`: the [`Taps::fitting`]
/// rows' taps summed per lane in wrapping i32.
#[inline(always)]
pub fn sums16<'r>(taps: Taps<impl Iterator<Item = (&'r [i8], &'r [i16])>>) -> [i32; LANES] {
    let (stride, nk) = (taps.stride(), taps.nk());
    let mut acc = [0i32; LANES];
    for (x, w) in taps.fitting() {
        for t in 0..nk {
            let xs = x.get(t * stride..t * stride + 2 * LANES).unwrap_or(&[]);
            let ws = w.get(t * LANES..(t + 1) * LANES).unwrap_or(&[]);
            for ((a, xb), &wv) in acc.iter_mut().zip(xs.chunks_exact(2)).zip(ws) {
                let xv = match *xb {
                    [lo, hi] => i16::from_le_bytes([lo as u8, hi as u8]) as i32,
                    _ => 0,
                };
                *a = a.wrapping_add((wv as i32).wrapping_mul(xv));
            }
        }
    }
    acc
}
