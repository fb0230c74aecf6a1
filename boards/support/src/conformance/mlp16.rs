//! The `mlp16` suite (M55 only, features `mve` and `fast-int16`): the
//! Helium primitives of the ConvMlp with int16 internals
//! (`runtime::kernels::wide_mlp`) against exact sums: `mve::dot_px4_i16`
//! (the `fc1`, `VMLADAVA.S16` over int16 inputs) against the i64 dot
//! products of four pixels, and `mve::dot_px4_sum` (the `fc2`, the weight
//! row's sum by `VADDVA.S8` in the dot loop) against the portable
//! `dot_px4` and the plain sum. Channel counts 1..=128 (most not a multiple
//! of 8 or 16, so the scalar tails run too); the first cases put every
//! input at -32768 or 32767 and every weight at -128 or 127.

use super::{Rng, Suite};
use core::fmt::Write;
use runtime::kernels::mve::{dot_px4_i16, dot_px4_sum};
use runtime::kernels::portable;

/// Cases of the suite.
const MLP16_CASES: usize = 120;

/// Widest channel count.
const MAX_C: usize = 128;

/// The extreme cases: (input, weight) everywhere.
const EXTREMES: [(i16, i8); 4] = [(-32768, -128), (-32768, 127), (32767, -128), (32767, 127)];

pub(super) fn mlp16_suite(out: &mut impl Write) -> Suite {
    let mut r = Rng::new(0x3131_6D6C_7016_5EED);
    let mut suite = Suite::new("mlp16");
    let mut xs = [0i16; 4 * MAX_C];
    let mut x8 = [0i8; 4 * MAX_C];
    let mut w = [0i8; MAX_C];
    for case in 0..MLP16_CASES {
        let extreme = EXTREMES.get(case).copied();
        let c = match case {
            0..=3 => [MAX_C, 120, 8, 17][case],
            _ => 1 + r.below(MAX_C),
        };
        for (i, v) in xs[..4 * c].iter_mut().enumerate() {
            *v = match extreme {
                Some((x, _)) => x,
                None => r.range_i32(-32768, 32767) as i16,
            };
            x8[i] = *v as i8;
        }
        for v in w[..c].iter_mut() {
            *v = extreme.map_or_else(|| r.i8(), |(_, w)| w);
        }
        let shape = c;
        match dot_px4_i16(&xs[..4 * c], c, &w[..c]) {
            None => suite.fail(out, "dot_px4_i16", case, &shape, format_args!("declined")),
            Some(got) => {
                for (p, &g) in got.iter().enumerate() {
                    let xp = &xs[p * c..(p + 1) * c];
                    let exact: i64 = w[..c]
                        .iter()
                        .zip(xp)
                        .map(|(&w, &x)| i64::from(w) * i64::from(x))
                        .sum();
                    if i64::from(g) != exact {
                        let what = format_args!("pixel {p}: expected {exact}, got {g}");
                        suite.fail(out, "dot_px4_i16", case, &shape, what);
                    }
                }
            }
        }
        let x8 = &x8[..4 * c];
        let (Some(px), Some(want_px)) = (
            runtime::kernels::prepare_px4(x8, c, &mut []),
            portable::prepare_px4(x8, c, &mut []),
        ) else {
            suite.fail(out, "prepare_px4", case, &shape, format_args!("declined"));
            suite.end_case();
            continue;
        };
        let want = portable::dot_px4(&want_px, &w[..c]);
        let want_sum = w[..c].iter().fold(0i32, |s, &v| s.wrapping_add(v.into()));
        match dot_px4_sum(&px, &w[..c]) {
            None => suite.fail(out, "dot_px4_sum", case, &shape, format_args!("declined")),
            Some((got, sum)) => {
                if (got, sum) != (want, want_sum) {
                    let what = format_args!("expected {want:?} {want_sum}, got {got:?} {sum}");
                    suite.fail(out, "dot_px4_sum", case, &shape, what);
                }
            }
        }
        suite.end_case();
    }
    suite
}

/// Cases of the [`load16_suite`].
const LOAD16_CASES: usize = 60;

/// `mve::load_taps16` (the int16 depthwise block's tap-major weight copy,
/// `VLDRB.S16` + `VSTRH.16` scatter) against the plain transposition: 16
/// channels of `kk` taps (every kernel 1x1..7x7, so `kk % 8` tails of 0..7),
/// channel step 1 or 2 (a channel multiplier) from a random first channel,
/// the first cases every weight at -128 or 127; too short a `w` or
/// `weights` must decline.
pub(super) fn load16_suite(out: &mut impl Write) -> Suite {
    use runtime::kernels::mve::load_taps16;
    const L: usize = 16;
    let mut r = Rng::new(0x7A95_1616_10AD_5EED);
    let mut suite = Suite::new("load16");
    let mut weights = [0i8; 2 * 20 * 49];
    let mut got = [0i16; 49 * L];
    for case in 0..LOAD16_CASES {
        let k = 1 + case % 7;
        let kk = k * k;
        let step = 1 + r.below(2);
        let first = r.below(4);
        for v in weights.iter_mut() {
            *v = match case {
                0..=6 => -128,
                7..=13 => 127,
                _ => r.i8(),
            };
        }
        got.fill(0x5555);
        let shape = kk;
        if !load_taps16(&weights, kk, (first, step), &mut got[..kk * L]) {
            suite.fail(out, "load_taps16", case, &shape, format_args!("declined"));
        }
        for t in 0..kk {
            for j in 0..L {
                let want = i16::from(weights[(first + j * step) * kk + t]);
                if got[t * L + j] != want {
                    let g = got[t * L + j];
                    let what = format_args!("tap {t} lane {j}: expected {want}, got {g}");
                    suite.fail(out, "load_taps16", case, &shape, what);
                }
            }
        }
        if got[kk * L..].iter().any(|&v| v != 0x5555) {
            suite.fail(
                out,
                "load_taps16",
                case,
                &shape,
                format_args!("wrote past kk"),
            );
        }
        suite.end_case();
    }
    // Taps past the block's 49 (`w` too short), or channels past the
    // weights: declined.
    let short = load_taps16(&weights, 50, (0, 1), &mut got);
    if short || load_taps16(&weights[..16 * 49 - 1], 49, (0, 1), &mut got) {
        let what = format_args!("not declined");
        suite.fail(out, "load_taps16", LOAD16_CASES, &49, what);
    }
    suite.end_case();
    suite
}
