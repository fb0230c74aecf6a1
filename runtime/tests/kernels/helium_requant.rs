//! The Helium output steps' requantization (`mve::out16`: `VQSHL` by `L =
//! max(32 - t, 0)`, `VQDMULH`, `VRSHL` by `-max(t - 31, 1)`) on a model of
//! the three instructions (the Armv8.1-M pseudocode: saturation to i32,
//! `VQDMULH`'s `(2 a b) >> 32`, `VRSHL`'s rounding right shift computed
//! wide) against the naive exact model `rq`: equal wherever `a << L` does
//! not saturate, and after the clamp to int8/int16 (zero point in int16)
//! for every sum when the multiplier is 0 or at least `2^30` or `t >= 32`,
//! the cases the kernels take. The instructions themselves run in the
//! mps3-an547 `kernels` firmware's `out16` suite.

use crate::harness::*;
use proptest::prelude::*;

/// `VQSHL.S32` by `l >= 0`: the left shift saturated to i32.
fn vqshl(a: i32, l: u32) -> i32 {
    (i64::from(a) << l).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// `VQDMULH.S32`: `(2 a b) >> 32`, saturated (only `a = b = i32::MIN`).
fn vqdmulh(a: i32, b: i32) -> i32 {
    ((2 * i128::from(a) * i128::from(b)) >> 32).clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

/// `VRSHL.S32` by `-r`, `r >= 1`: `(a + 2^(r-1)) >> r` computed wide.
fn vrshr(a: i32, r: u32) -> i32 {
    ((i64::from(a) + (1i64 << (r - 1))) >> r) as i32
}

/// The vector requantization of one lane.
fn helium(acc: i32, m: i32, shift: i32) -> i32 {
    let t = 31 - shift;
    let (l, r) = ((32 - t).max(0) as u32, (t - 31).max(1) as u32);
    vrshr(vqdmulh(vqshl(acc, l), m), r)
}

/// The reference output step's clamp after `+ zp`.
fn out(v: i64, zp: i32, (lo, hi): (i32, i32)) -> i64 {
    (v.clamp(i32::MIN.into(), i32::MAX.into()) + i64::from(zp)).clamp(lo.into(), hi.into())
}

proptest! {
    /// Unsaturated `acc << L`: the exact value, any multiplier.
    #[test]
    fn helium_requantize_is_exact_unsaturated(
        acc in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -3i32..=3],
        m in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), Just(0), Just(1 << 30)],
        shift in -31i32..=30,
    ) {
        let l = (shift + 1).max(0) as u32;
        prop_assume!(i64::from(acc) << l == i64::from(vqshl(acc, l)));
        prop_assert_eq!(i64::from(helium(acc, m, shift)), rq(acc.into(), m, shift));
    }

    /// Any sum, a multiplier codegen emits (`m16 << 16`, `m16` 0 or at
    /// least `2^14`) or `t >= 32`: the same int8 and int16 outputs.
    #[test]
    fn helium_requantize_clamps_alike(
        acc in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -3i32..=3],
        m16 in prop_oneof![Just(0i16), 16384i16..=i16::MAX, any::<i16>()],
        shift in -31i32..=30,
        zp in prop_oneof![Just(-32768i32), Just(32767), -400i32..=400],
    ) {
        let m = i32::from(m16) << 16;
        prop_assume!(shift < 0 || m == 0 || m >= 1 << 30);
        let (got, want) = (i64::from(helium(acc, m, shift)), rq(acc.into(), m, shift));
        for range in [(-128, 127), (-32768, 32767)] {
            prop_assert_eq!(out(got, zp, range), out(want, zp, range));
        }
    }
}

/// Every shift, the sums and multipliers at the ends.
#[test]
fn helium_requantize_edges() {
    let accs = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30),
        -1,
        0,
        1,
        1 << 30,
        i32::MAX,
    ];
    for shift in -31..=30 {
        for m16 in [0i16, 16384, 0x5a5a, i16::MAX] {
            let m = i32::from(m16) << 16;
            for &acc in &accs {
                let (got, want) = (i64::from(helium(acc, m, shift)), rq(acc.into(), m, shift));
                for range in [(-128, 127), (-32768, 32767)] {
                    for zp in [-32768, 0, 32767] {
                        assert_eq!(
                            out(got, zp, range),
                            out(want, zp, range),
                            "{acc} {m} {shift}"
                        );
                    }
                }
            }
        }
    }
}
