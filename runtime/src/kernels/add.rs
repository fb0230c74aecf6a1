//! The residual add through per-input lookup tables: an int8 input has 256
//! values, so each input's rescale `requantize((q - zp) << left_shift, m, s)`
//! is one load from a table built once per layer (2 KiB, 512
//! requantizations), and only the output requantization is computed per
//! element. Bit-identical to [`add_element`](crate::ops::add::add_element)
//! on every pair of inputs (tested exhaustively below).
#![forbid(unsafe_code)]

use crate::ops::add as reference;
use crate::ops::add::add_reference;
use crate::quant::{requantize, requantize_i8};
use crate::schedule::Add;

/// The two input tables of one [`Add`] and its output requantization.
pub struct AddTables {
    a: [i32; 256],
    b: [i32; 256],
    out_mult: i32,
    out_shift: i32,
    out_zp: i32,
    /// `2^(t-1)` and `t - 32` when `t = 31 - out_shift >= 32`.
    fast: Option<(i64, u32)>,
    /// Every `a + b` fits an i32, so the saturating add is a plain add.
    no_saturation: bool,
}

impl AddTables {
    /// Empty tables, to [`fill`](Self::fill) in place.
    pub const EMPTY: AddTables = AddTables {
        a: [0; 256],
        b: [0; 256],
        out_mult: 0,
        out_shift: 0,
        out_zp: 0,
        fast: None,
        no_saturation: false,
    };

    /// Builds the tables of `p` (indexed by `q as u8`) in place: a
    /// constructor returning the 2 KiB by value left LLVM with a second
    /// copy in the caller's frame.
    pub fn fill(&mut self, p: &Add) {
        let t = (31 - p.out_shift).clamp(1, 62);
        // As `pointwise::Channel`: 2^(t-1) from its two words, no 64-bit shift.
        self.fast = (t >= 32).then(|| {
            let s = (t - 32) as u32;
            let high = (1u32 << s) >> 1;
            let low = u32::from(s == 0) << 31;
            ((((high as u64) << 32) | low as u64) as i64, s)
        });
        (self.out_mult, self.out_shift, self.out_zp) = (p.out_mult, p.out_shift, p.out_zp);
        let mut peak = 0u64;
        for (table, zp, m, s) in [
            (&mut self.a, p.a_zp, p.a_mult, p.a_shift),
            (&mut self.b, p.b_zp, p.b_mult, p.b_shift),
        ] {
            let mut most = 0u64;
            for (i, v) in table.iter_mut().enumerate() {
                *v = requantize(((i as u8 as i8) as i32 - zp) << p.left_shift, m, s);
                most = most.max(v.unsigned_abs() as u64);
            }
            peak += most;
        }
        self.no_saturation = peak <= i32::MAX as u64;
    }

    /// One element: same bits as [`add_element`](crate::ops::add::add_element).
    #[inline(always)]
    pub fn apply(&self, a: i8, b: i8) -> i8 {
        let (ta, tb) = (self.a[a as u8 as usize], self.b[b as u8 as usize]);
        let sum = if self.no_saturation {
            ta.wrapping_add(tb)
        } else {
            ta.saturating_add(tb)
        };
        self.finish(sum)
    }

    /// The output requantization of a rescaled sum.
    #[inline(always)]
    fn finish(&self, sum: i32) -> i8 {
        match self.fast {
            // t >= 32: floor((sum * m + 2^(t-1)) / 2^t) is the high word
            // shifted by t - 32 (nested floors are one floor); the high
            // word is below 2^31 in magnitude, so the reference's i32
            // saturation never engages and adding the zero point cannot
            // overflow.
            Some((round, s)) => {
                let high = ((sum as i64 * self.out_mult as i64 + round) >> 32) as i32;
                ((high >> s) + self.out_zp).clamp(-128, 127) as i8
            }
            None => requantize_i8(sum, self.out_mult, self.out_shift, self.out_zp),
        }
    }

    /// `out[i] = add(a[i], b[i])` over the common length.
    #[inline(always)]
    pub fn run(&self, a: &[i8], b: &[i8], out: &mut [i8]) {
        // MVE: four elements a step where the sums never saturate.
        let done = match self.fast {
            Some((_, s)) if self.no_saturation => {
                let (m, zp) = (self.out_mult, self.out_zp);
                super::add_tables4(&self.a, &self.b, m, s, zp, a, b, out)
            }
            _ => 0,
        };
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b).skip(done) {
            *o = self.apply(x, y);
        }
    }
}

/// Whether this tier adds through [`AddTables`]. Measured at 256x256, the
/// tables save 4.5 % of the M4's instructions and 8.9 % of the M55's; on
/// AArch64, where LLVM vectorizes [`add_element`](crate::ops::add::add_element) with NEON, they cost the
/// A76 1.4 % (and save the A53 0.9 %), so that tier keeps the per-element
/// form.
pub const USE_TABLES: bool = !cfg!(target_arch = "aarch64");

/// The tier's add over separate buffers, [`Layer::Add`](crate::Layer::Add)'s
/// kernel.
pub fn add(p: &Add, a: &[i8], b: &[i8], output: &mut [i8]) {
    if USE_TABLES {
        add_tables(p, a, b, output);
    } else {
        add_reference(p, a, b, output);
    }
}

/// The tier's add in place: `a_out[i] = add(a_out[i], b[i])`.
pub fn add_in_place(p: &Add, a_out: &mut [i8], b: &[i8]) {
    if USE_TABLES {
        add_tables_in_place(p, a_out, b);
    } else {
        reference::add_in_place(p, a_out, b);
    }
}

/// The tier's add in place on the second operand.
pub fn add_in_place_b(p: &Add, a: &[i8], b_out: &mut [i8]) {
    if USE_TABLES {
        add_tables_in_place_b(p, a, b_out);
    } else {
        reference::add_in_place_b(p, a, b_out);
    }
}

/// The fused ConvMlp's residual add: `out[i] = add(saved[i], f[i])` through
/// `t` (filled by [`AddTables::fill`] from `p` where [`USE_TABLES`]), else
/// the per-element form.
#[inline(always)]
pub fn residual(t: &AddTables, p: &Add, saved: &[i8], f: &[i8], out: &mut [i8]) {
    if USE_TABLES {
        t.run(saved, f, out);
    } else {
        add_reference(p, saved, f, out);
    }
}

/// [`add_reference`] through the tables.
pub fn add_tables(p: &Add, a: &[i8], b: &[i8], output: &mut [i8]) {
    let mut t = AddTables::EMPTY;
    t.fill(p);
    t.run(a, b, output);
}

/// [`add_in_place`](crate::ops::add::add_in_place) through the tables.
pub fn add_tables_in_place(p: &Add, a_out: &mut [i8], b: &[i8]) {
    let mut t = AddTables::EMPTY;
    t.fill(p);
    for (o, &y) in a_out.iter_mut().zip(b) {
        *o = t.apply(*o, y);
    }
}

/// [`add_in_place_b`](crate::ops::add::add_in_place_b) through the tables.
pub fn add_tables_in_place_b(p: &Add, a: &[i8], b_out: &mut [i8]) {
    let mut t = AddTables::EMPTY;
    t.fill(p);
    for (o, &x) in b_out.iter_mut().zip(a) {
        *o = t.apply(x, *o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::add::{add_element, add_in_place, add_in_place_b};
    use crate::schedule::TensorRef;
    use proptest::prelude::*;

    fn add(params: (i32, i32, i32, i32, i32, i32, i32, i32, i32, u8)) -> Add {
        let (a_zp, a_mult, a_shift, b_zp, b_mult, b_shift, out_zp, out_mult, out_shift, ls) =
            params;
        let t = TensorRef::i8(0, 1, 1, 1);
        Add {
            a: t,
            a_zp,
            a_mult,
            a_shift,
            b: t,
            b_zp,
            b_mult,
            b_shift,
            output: t,
            out_zp,
            out_mult,
            out_shift,
            left_shift: ls,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Every one of the 65,536 input pairs, for random scales, zero
        /// points and headroom (including shifts off the fast path and
        /// sums that saturate).
        #[test]
        fn tables_equal_add_element_on_every_pair(
            a_zp in -128i32..128, b_zp in -128i32..128, out_zp in -128i32..128,
            a_mult in (1i32 << 30)..i32::MAX, b_mult in (1i32 << 30)..i32::MAX,
            out_mult in (1i32 << 30)..i32::MAX,
            a_shift in -12i32..2, b_shift in -12i32..2, out_shift in -40i32..4,
            left_shift in 0u8..24,
        ) {
            let p = add((a_zp, a_mult, a_shift, b_zp, b_mult, b_shift, out_zp, out_mult, out_shift, left_shift));
            let mut t = AddTables::EMPTY;
            t.fill(&p);
            for a in i8::MIN..=i8::MAX {
                for b in i8::MIN..=i8::MAX {
                    prop_assert_eq!(t.apply(a, b), add_element(&p, a, b), "a={} b={}", a, b);
                }
            }
        }
    }

    #[test]
    fn saturating_sums_take_the_saturating_path() {
        // Both inputs rescaled to near 2^31: the sum saturates in the reference.
        let p = add((0, i32::MAX, 7, 0, i32::MAX, 7, 0, 1 << 30, -24, 23));
        let mut t = AddTables::EMPTY;
        t.fill(&p);
        assert!(!t.no_saturation);
        for (a, b) in [(127, 127), (-128, -128), (127, -128), (100, 90)] {
            assert_eq!(t.apply(a, b), add_element(&p, a, b));
        }
    }

    #[test]
    fn buffer_forms_equal_the_reference_forms() {
        let p = add((
            3,
            1 << 30,
            -1,
            -7,
            1_500_000_000,
            -2,
            5,
            1_200_000_000,
            -19,
            20,
        ));
        let a: [i8; 300] = core::array::from_fn(|i| (i * 37 % 256) as u8 as i8);
        let b: [i8; 300] = core::array::from_fn(|i| (i * 91 % 256 + 11) as u8 as i8);
        let (mut want, mut got) = ([0i8; 300], [0i8; 300]);
        add_reference(&p, &a, &b, &mut want);
        add_tables(&p, &a, &b, &mut got);
        assert_eq!(got, want);
        let (mut want, mut got) = (a, a);
        add_in_place(&p, &mut want, &b);
        add_tables_in_place(&p, &mut got, &b);
        assert_eq!(got, want);
        let (mut want, mut got) = (b, b);
        add_in_place_b(&p, &a, &mut want);
        add_tables_in_place_b(&p, &a, &mut got);
        assert_eq!(got, want);
    }
}
