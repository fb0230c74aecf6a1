//! The downsample `proj.1` of `codegen --int16` (the reparameterized
//! MobileOne 1x1 of a PatchEmbed, identity tap and int16 table) on the
//! tier's four-pixel 1x1 tile instead of [`wide`]'s four-channel dots or
//! the reference's i64 sums (issue 19):
//!
//! - [`widen_row`]: one row of the int8 -> int16 1x1 of a
//!   [`ConvVariant::WidenInPlace`] (its input row already in the ring,
//!   `ops::conv_widen::widen_rows` keeps the reference's row order): four
//!   pixels at a time prepared once by the tier's [`super::prepare_px4`],
//!   then [`super::ROWS`] output channels a [`super::dot_rows_px4`] (DSP
//!   `SMLAD`, Helium `VMLADAVA.S8`, NEON `SDOT` or `SMULL` + `SADALP`); the
//!   input zero point folded out once per call (`bias - zp * sum w`, on
//!   the stack), the identity tap and the reference output step per output.
//! - [`conv_in_place_i16`]: the int16 -> int16 1x1 in place
//!   ([`ConvVariant::InPlace`], `kernel == 1`): each row saved into the
//!   ring as the reference does, then four pixels at a time on the tier's
//!   int16-input dots: DSP [`super::prepare_px4_i16`] + [`super::dot_px4`]
//!   (`SMLAD` over halfword pairs), NEON `dot_rows_px4_i16` (`SXTL` +
//!   `SMLAL`/`SMLAL2`, 4 channels x 4 pixels), Helium
//!   [`super::dot_px4_i16`] (`VMLADAVA.S16`), elsewhere
//!   `wide_mlp::dot4_16`. Sums in i32, exact because the form is taken
//!   only when `cin * 2^22 + max |bias| + max |identity| * 2^15 <=
//!   i32::MAX` (input zero point 0, [`fits_i16`]), and for such sums
//!   `finish` equals the reference's `requantize_wide` step.
//!
//! Both are bit-identical to the reference ops
//! (runtime/tests/wide_kernels.rs). Feature `fast-int16`.
//!
//! [`wide`]: super::wide
//! [`ConvVariant::WidenInPlace`]: crate::ConvVariant::WidenInPlace
//! [`ConvVariant::InPlace`]: crate::ConvVariant::InPlace
#![forbid(unsafe_code)]

use super::pointwise::TILE;
use super::wide::{Int16, FAST};
use super::wide_mlp::dot4_16;
use crate::arena::save_row;
use crate::ops::conv::{finish, ConvArgs};
use crate::schedule::Conv;
use crate::tensor::{Elem, Storage};

/// Widest `cin` / `cout` these forms take (FastViT-T8's widest 1x1): the
/// stack tile holds four pixels of it as halfwords.
pub const MAX_C: usize = 384;

/// Four pixels of up to [`MAX_C`] int16 inputs (or the DSP's halfword
/// pairs of them): 3 KiB.
type Tile = [u32; 2 * MAX_C];

/// Per output channel `bias - in_zp * sum w` (wrapping: the reference's
/// i32), computed once per call: 1.5 KiB.
type Base = [i32; MAX_C];

/// The widening form's state for one layer call: the folded biases and
/// the tile scratch (the tier's [`super::StackTile`]), filled in place (a
/// 4.5 KiB value on DSP: never moved).
pub struct Widen {
    base: Base,
    words: super::StackTile,
}

impl Widen {
    /// Zeroed state, for [`Widen::fold`].
    #[inline(always)]
    pub fn new() -> Self {
        let words = [0; core::mem::size_of::<super::StackTile>() / 4];
        Widen {
            base: [0; MAX_C],
            words,
        }
    }

    /// Folds the biases of the int8-input 1x1 `p` (`cout <= MAX_C`,
    /// weights `cout * cin`); `false` (the caller runs its own form) for
    /// any other shape.
    pub fn fold(&mut self, p: &Conv, a: &ConvArgs<'_>) -> bool {
        let (cin, cout) = (p.input.c as usize, p.output.c as usize);
        if !FAST || cout > MAX_C || cin == 0 || cin > MAX_C {
            return false;
        }
        for (o, b) in self.base.iter_mut().enumerate().take(cout) {
            let Some(w) = a.weights.get(o * cin..(o + 1) * cin) else {
                return false;
            };
            let sum = w.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
            *b = a.bias.get(o).wrapping_sub(p.in_zp.wrapping_mul(sum));
        }
        true
    }
}

impl Default for Widen {
    fn default() -> Self {
        Self::new()
    }
}

/// The int8 -> int16 1x1 `p` (int8 input with zero point `p.in_zp`,
/// identity tap if any) of the `n` pixels of `x` (`cin` bytes a pixel)
/// into `d` (`2 * cout` bytes a pixel): full groups of four pixels on the
/// tier's tile; returns the pixels done (the caller runs the rest).
pub fn widen_row(
    p: &Conv,
    a: &ConvArgs<'_>,
    st: &mut Widen,
    (x, n): (&[i8], usize),
    d: &mut [i8],
) -> usize {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    let (Some(w), Some(base)) = (a.weights.get(..cout * cin), st.base.get(..cout)) else {
        return 0;
    };
    let id = !a.identity.is_empty();
    let zp = p.in_zp;
    let table: Option<&[i8; 512]> = a.lut.try_into().ok();
    let mut done = 0;
    while done + TILE <= n {
        let Some(xg) = x.get(done * cin..(done + TILE) * cin) else {
            break;
        };
        let Some(px) = super::prepare_px4(xg, cin, &mut st.words) else {
            break;
        };
        // One output channel's four sums to its four outputs.
        let put = |d: &mut [i8], o: usize, s: [i32; 4]| {
            let b = base.get(o).copied().unwrap_or(0);
            let mut acc = s.map(|s| b.wrapping_add(s));
            if id {
                for (i, acc) in acc.iter_mut().enumerate() {
                    let xo = xg.get(i * cin + o).map_or(zp, |&v| v as i32);
                    *acc = acc.wrapping_add(a.identity.get(o).wrapping_mul(xo.wrapping_sub(zp)));
                }
            }
            for (i, v) in outputs4(p, a, o, acc, table).into_iter().enumerate() {
                Int16.put(d, (done + i) * cout + o, v);
            }
        };
        const R: usize = super::ROWS;
        // Checked row slices (no `chunks_exact`: its assert stayed out of
        // line on the A53, a panic path for the board no-panic check).
        let mut o = 0;
        while o + R <= cout {
            let Some(rows) = w.get(o * cin..(o + R) * cin) else {
                break;
            };
            for (r, s) in super::dot_rows_px4(&px, rows).into_iter().enumerate() {
                put(d, o + r, s);
            }
            o += R;
        }
        // Channels past the last multiple of `ROWS` (none in FastViT-T8).
        while o < cout {
            let Some(row) = w.get(o * cin..(o + 1) * cin) else {
                break;
            };
            put(d, o, super::dot_px4(&px, row));
            o += 1;
        }
        done += TILE;
    }
    done
}

/// Whether [`conv_in_place_i16`] takes `p`: a 1x1 from int16 to int16 of
/// one shape, zero point 0, up to [`MAX_C`] channels, whose i32 sums
/// cannot overflow: `cin * 2^22 + max |bias| + max |identity| * 2^15 <=
/// i32::MAX` (each product at most `32768 * 128`, the identity tap's at
/// most `|identity| * 32768`).
pub fn fits_i16(p: &Conv, a: &ConvArgs<'_>) -> bool {
    let (cin, cout) = (p.input.c as usize, p.output.c as usize);
    let shape = (p.input.h, p.input.w, p.input.c) == (p.output.h, p.output.w, p.output.c);
    let max = |v: crate::ops::I32s<'_>| {
        (0..cout)
            .map(|o| v.get(o).unsigned_abs() as u64)
            .max()
            .unwrap_or(0)
    };
    let id = if a.identity.is_empty() {
        0
    } else {
        max(a.identity)
    };
    FAST && p.input.elem == Elem::I16
        && p.output.elem == Elem::I16
        && p.kernel == 1
        && p.stride == 1
        && p.pad == 0
        && p.groups == 1
        && p.in_zp == 0
        && shape
        && cin > 0
        && cin <= MAX_C
        && (cin as u64) * (32768 * 128) + max(a.bias) + id * 32768 <= i32::MAX as u64
}

/// [`ConvVariant::InPlace`](crate::ConvVariant::InPlace) of a 1x1 that
/// [`fits_i16`]: `data` the int16 tensor (input on entry, output on exit),
/// `ring` one row of it. Row by row as the reference: row `y` saved into
/// the ring, then its outputs computed from the ring and written over it.
/// `false` (nothing written) if it does not fit.
#[inline(never)]
pub fn conv_in_place_i16(p: &Conv, a: &ConvArgs<'_>, data: &mut [i8], ring: &mut [i8]) -> bool {
    if !fits_i16(p, a) {
        return false;
    }
    let (h, w, c) = (p.input.h as usize, p.input.w as usize, p.input.c as usize);
    let row = w * c * 2;
    let sized = a.weights.len() >= c * c
        && ring.len() >= row
        && data.len() >= h * row
        && (a.identity.is_empty() || a.identity.0.len() >= 4 * c);
    if !sized {
        return false; // the executor sized them: never taken
    }
    let mut tile: Tile = [0; 2 * MAX_C];
    for y in 0..h {
        save_row(ring, data, y, 1, row);
        let (Some(x), Some(out)) = (ring.get(..row), data.get_mut(y * row..(y + 1) * row)) else {
            return true; // checked above: never taken
        };
        row_i16(p, a, (x, w), out, &mut tile);
    }
    true
}

/// Output row of [`conv_in_place_i16`]: the `n` pixels of int16 inputs
/// `x` (`2 * c` bytes a pixel) to int16 outputs in `d`.
#[inline(always)]
fn row_i16(p: &Conv, a: &ConvArgs<'_>, (x, n): (&[i8], usize), d: &mut [i8], tile: &mut Tile) {
    let c = p.input.c as usize;
    let w = |o: usize| a.weights.get(o * c..(o + 1) * c).unwrap_or(&[]);
    let id = !a.identity.is_empty();
    let table: Option<&[i8; 512]> = a.lut.try_into().ok();
    // The accumulator of output `o` of pixel `i` of group `xg` from its sum.
    let acc = |xg: &[i8], i: usize, o: usize, s: i32| {
        let acc = a.bias.get(o).wrapping_add(s);
        match id {
            true => {
                let xo = Int16.get(xg, i * c + o).unwrap_or(0);
                acc.wrapping_add(a.identity.get(o).wrapping_mul(xo))
            }
            false => acc,
        }
    };
    let put = |d: &mut [i8], xg: &[i8], (at, i, o): (usize, usize, usize), s: i32| {
        Int16.put(
            d,
            (at + i) * c + o,
            finish(p, a, acc(xg, i, o, s), o, Elem::I16),
        );
    };
    // Channel `o` of the full group at pixel `at` from its four sums.
    let put4 = |d: &mut [i8], xg: &[i8], (at, o): (usize, usize), s: [i32; 4]| {
        let acc = [0, 1, 2, 3].map(|i| acc(xg, i, o, s[i]));
        for (i, v) in outputs4(p, a, o, acc, table).into_iter().enumerate() {
            Int16.put(d, (at + i) * c + o, v);
        }
    };
    let mut at = 0;
    while at < n {
        let k = (n - at).min(TILE);
        let Some(xg) = x.get(2 * at * c..2 * (at + k) * c) else {
            return;
        };
        if k == TILE {
            // NEON: four channels x four pixels a pass.
            if c % 8 == 0 && super::ROWS_PX4_I16 {
                let mut o = 0;
                while o + 4 <= c {
                    let Some(rows) = a.weights.get(o * c..(o + 4) * c) else {
                        return;
                    };
                    let Some(s) = super::dot_rows_px4_i16(xg, c, rows) else {
                        break;
                    };
                    for (r, &s) in s.iter().enumerate() {
                        put4(d, xg, (at, o + r), s);
                    }
                    o += 4;
                }
                if o == c {
                    at += TILE;
                    continue;
                }
            }
            // DSP: the 1x1 tile's `SMLAD` loop over halfword pairs.
            if let Some(px) = super::prepare_px4_i16(xg, c, tile) {
                for o in 0..c {
                    put4(d, xg, (at, o), super::dot_px4(&px, w(o)));
                }
                at += TILE;
                continue;
            }
        }
        // The group's inputs as halfwords in the word-aligned tile.
        let xs: &mut [i16] = bytemuck::cast_slice_mut(&mut tile[..]);
        let Some(xs) = xs.get_mut(..k * c) else {
            return;
        };
        for (v, b) in xs.iter_mut().zip(xg.chunks_exact(2)) {
            *v = match *b {
                [lo, hi] => i16::from_le_bytes([lo as u8, hi as u8]),
                _ => 0,
            };
        }
        let xs = &*xs;
        let mut o = 0;
        // Helium: one weight row x four pixels (`VMLADAVA.S16`).
        if k == TILE {
            while o < c {
                let Some(s) = super::dot_px4_i16(xs, c, w(o)) else {
                    break;
                };
                put4(d, xg, (at, o), s);
                o += 1;
            }
        }
        // Four output channels a pass, pixel by pixel; past the last
        // channel the rows repeat it and their sums are dropped.
        while o < c {
            let r = |j: usize| w((o + j).min(c - 1));
            let rows = [r(0), r(1), r(2), r(3)];
            for i in 0..k {
                let xi = xs.get(i * c..(i + 1) * c).unwrap_or(&[]);
                let s = dot4_16(rows, xi);
                for (j, &s) in s.iter().enumerate().take(c - o) {
                    put(d, xg, (at, i, o + j), s);
                }
            }
            o += 4;
        }
        at += k;
    }
}

/// The int16 outputs of channel `o` from the accumulators `acc` of four
/// pixels (bias and identity tap included): with an int16 table, the
/// tier's four-lane `requantize_i8` ([`super::requant_px4`], one vector on
/// NEON) and four table reads, which is [`finish`]'s step (its table index
/// is `requantize_i8`'s bits); else [`finish`] lane by lane.
#[inline(always)]
fn outputs4(
    p: &Conv,
    a: &ConvArgs<'_>,
    o: usize,
    acc: [i32; 4],
    table: Option<&[i8; 512]>,
) -> [i32; 4] {
    match table {
        Some(t) => {
            let (m, s) = (a.requant.multiplier.get(o), a.requant.shift.get(o));
            super::requant_px4(acc, 0, m, s, p.out_zp).map(|q| {
                let k = 2 * (q as u8 ^ 0x80) as usize;
                match t.get(k..k + 2) {
                    Some(&[lo, hi]) => i16::from_le_bytes([lo as u8, hi as u8]) as i32,
                    _ => 0, // `k <= 510`: never taken
                }
            })
        }
        None => acc.map(|v| finish(p, a, v, o, Elem::I16)),
    }
}

/// The other tiers' stand-in for NEON's int16-input 4 x 4 tile
/// (`neon::dot_rows_px4_i16`): declined.
pub mod declining {
    /// Declines (`None`): the caller runs the tier's other forms.
    #[inline(always)]
    pub fn dot_rows_px4_i16(_: &[i8], _: usize, _: &[i8]) -> Option<[[i32; 4]; 4]> {
        None
    }
}
