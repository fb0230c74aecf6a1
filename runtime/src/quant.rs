//! The one requantization function and its rounding policy.
//!
//! Every kernel (reference and optimized) and codegen's in-process simulation
//! scale an i32 accumulator back to int8 with [`requantize`]. The real scale
//! `r` is encoded as `multiplier * 2^(shift - 31)` with `multiplier` in
//! `[2^30, 2^31)` (or 0 for a zero scale), which codegen computes once. The
//! blob stores only the multiplier's top 16 bits (codegen rounds it to 15
//! significant bits, low half zero; [`crate::ops::Multipliers`] widens it
//! back): 2 bytes a channel instead of 4, for a 4 MB flash.
#![forbid(unsafe_code)]

/// Scales `acc` by `multiplier * 2^(shift - 31)`, rounding half up (towards
/// +infinity): `floor((acc * multiplier + 2^(t-1)) / 2^t)` with `t = 31 - shift`.
///
/// One rounding step, computed exactly in 64 bits; the result saturates to
/// i32. Contract: `t` in `1..=62` (`shift` in `-31..=30`); codegen never emits
/// anything else, and out-of-range shifts are clamped into it.
///
/// For `t >= 33` (real scales below 1/4: nearly every conv) the
/// rounding constant lies entirely in the high word of the product, so the
/// result is `(hi + 2^(t-33)) >> (t-32)` with `hi` the high 32 bits: one
/// `SMULL`/`SMMUL` and two 32-bit operations on 32-bit cores, and exact (the
/// low word's `lo / 2^t < 2^-(t-32)` cannot carry into the floor; `|hi| <=
/// 2^30`, so nothing overflows or saturates). Other `t` take the 64-bit path.
///
/// ```
/// use runtime::quant::requantize;
/// // 0.75 = (3 * 2^29) * 2^(0 - 31): halves round up, also for negatives.
/// let m = 3 << 29;
/// assert_eq!(requantize(10, m, 0), 8); // 7.5 -> 8
/// assert_eq!(requantize(-10, m, 0), -7); // -7.5 -> -7
/// assert_eq!(requantize(100, 1 << 30, 1), 100); // 2^30 * 2^(1 - 31) = 1.0
/// assert_eq!(requantize(i32::MAX, 1 << 30, 2), i32::MAX); // x2 saturates
/// ```
#[inline(always)]
pub fn requantize(acc: i32, multiplier: i32, shift: i32) -> i32 {
    let t = (31 - shift).clamp(1, 62);
    let prod = acc as i64 * multiplier as i64;
    if t >= 33 {
        let hi = (prod >> 32) as i32;
        return hi.wrapping_add(1 << (t - 33)) >> (t - 32);
    }
    let rounded = (prod + (1i64 << (t - 1))) >> t;
    rounded.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// [`requantize`] of a 64-bit accumulator (the fully connected layer sums
/// in i64, so an int16 input never overflows it): the same
/// `floor((acc * m + 2^(t-1)) / 2^t)`, exact in 128 bits, saturated to i32.
/// Equal to [`requantize`] for every `acc` that fits i32.
///
/// ```
/// use runtime::quant::{requantize, requantize_wide};
/// assert_eq!(requantize_wide(-10, 3 << 29, 0), requantize(-10, 3 << 29, 0));
/// assert_eq!(requantize_wide(1 << 40, 1 << 30, -20), 1 << 19); // 2^40 * 2^-21
/// ```
#[inline(always)]
pub fn requantize_wide(acc: i64, multiplier: i32, shift: i32) -> i32 {
    let t = (31 - shift).clamp(1, 62);
    let rounded = (acc as i128 * multiplier as i128 + (1i128 << (t - 1))) >> t;
    rounded.clamp(i32::MIN as i128, i32::MAX as i128) as i32
}

/// Requantizes to int8: `clamp(requantize(acc, m, s) + zero_point, -128, 127)`.
///
/// ```
/// use runtime::quant::requantize_i8;
/// assert_eq!(requantize_i8(10, 3 << 29, 0, -128), -120);
/// assert_eq!(requantize_i8(1000, 3 << 29, 0, 0), 127); // saturates
/// ```
#[inline(always)]
pub fn requantize_i8(acc: i32, multiplier: i32, shift: i32, zero_point: i32) -> i8 {
    requantize(acc, multiplier, shift)
        .saturating_add(zero_point)
        .clamp(-128, 127) as i8
}

/// Looks up an int8 value in a 256-entry table indexed by `q + 128`. A
/// shorter table (layers are validated to have 256 entries, so this never
/// happens) leaves `q` as it is rather than panicking.
///
/// ```
/// // A ReLU table with zero point -128 (codegen builds GELU/sigmoid tables).
/// let relu: [i8; 256] = core::array::from_fn(|i| (i as i32 - 128).max(0) as i8);
/// assert_eq!(runtime::quant::lut(&relu, -5), 0);
/// assert_eq!(runtime::quant::lut(&relu, 7), 7);
/// ```
#[inline(always)]
pub fn lut(table: &[i8], q: i8) -> i8 {
    match table.get((q as u8 ^ 0x80) as usize) {
        Some(&v) => v,
        None => q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Exact model: floor((acc*m + 2^(t-1)) / 2^t) in 128-bit arithmetic.
    fn exact(acc: i32, m: i32, shift: i32) -> i32 {
        let t = (31 - shift).clamp(1, 62) as u32;
        let num = acc as i128 * m as i128 + (1i128 << (t - 1));
        let q = num.div_euclid(1i128 << t);
        q.clamp(i32::MIN as i128, i32::MAX as i128) as i32
    }

    proptest! {
        #[test]
        fn matches_exact_model(acc in any::<i32>(), m in (1i32 << 30)..i32::MAX, shift in -31i32..=30) {
            prop_assert_eq!(requantize(acc, m, shift), exact(acc, m, shift));
        }
    }

    proptest! {
        /// Any multiplier (also negative), every shift, accumulators at and
        /// near the extremes: the 32-bit fast path and the 64-bit path.
        #[test]
        fn matches_exact_model_any_operands(
            acc in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -3i32..=3],
            m in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX)],
            shift in -31i32..=30,
        ) {
            prop_assert_eq!(requantize(acc, m, shift), exact(acc, m, shift));
        }
    }

    proptest! {
        /// The 64-bit form is the exact model for any i64 accumulator, and
        /// the 32-bit one wherever both apply.
        #[test]
        fn wide_matches_exact_model(
            acc in prop_oneof![any::<i64>(), (i32::MIN as i64)..=(i32::MAX as i64)],
            m in any::<i32>(),
            shift in -31i32..=30,
        ) {
            let t = (31 - shift) as u32;
            let q = (acc as i128 * m as i128 + (1i128 << (t - 1))).div_euclid(1i128 << t);
            let exact = q.clamp(i32::MIN as i128, i32::MAX as i128) as i32;
            prop_assert_eq!(requantize_wide(acc, m, shift), exact);
            if let Ok(a) = i32::try_from(acc) {
                prop_assert_eq!(requantize(a, m, shift), exact);
            }
        }
    }

    proptest! {
        /// A stored 16-bit multiplier `m16` widened to `m16 << 16` scales by
        /// `m16 * 2^(shift - 15)`: the result is the same floor computed
        /// with the 16-bit multiplier and a shift 16 smaller, so the low half
        /// carries nothing (every shift, any accumulator).
        #[test]
        fn widened_16_bit_multiplier(
            acc in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX)],
            m16 in prop_oneof![any::<i16>(), Just(i16::MAX), Just(1i16 << 14)],
            shift in -31i32..=30,
        ) {
            let t = (31 - shift).clamp(1, 62) as u32;
            let prod = acc as i128 * m16 as i128;
            let want = if t > 16 {
                (prod + (1i128 << (t - 17))).div_euclid(1i128 << (t - 16))
            } else {
                prod << (16 - t) // exact: the rounding constant 2^(t-1) floors away
            };
            let want = want.clamp(i32::MIN as i128, i32::MAX as i128) as i32;
            prop_assert_eq!(requantize(acc, crate::ops::widen(m16), shift), want);
        }
    }

    #[test]
    fn fast_path_boundaries() {
        for shift in [-31, -30, -2, -1, 0] {
            for acc in [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX] {
                for m in [i32::MIN, -(1 << 30), 0, 1 << 30, i32::MAX] {
                    assert_eq!(
                        requantize(acc, m, shift),
                        exact(acc, m, shift),
                        "{acc} {m} {shift}"
                    );
                }
            }
        }
    }

    #[test]
    fn rounds_half_up() {
        // multiplier 2^30 with shift 0 is a real scale of 0.5.
        let half = 1 << 30;
        assert_eq!(requantize(3, half, 0), 2); // 1.5 -> 2
        assert_eq!(requantize(-3, half, 0), -1); // -1.5 -> -1
        assert_eq!(requantize(5, half, 0), 3); // 2.5 -> 3
        assert_eq!(requantize(-5, half, 0), -2);
    }

    #[test]
    fn saturates() {
        assert_eq!(requantize(i32::MAX, i32::MAX, 30), i32::MAX);
        assert_eq!(requantize(i32::MIN, i32::MAX, 30), i32::MIN);
        assert_eq!(requantize_i8(1000, 1 << 30, 1, 0), 127);
        assert_eq!(requantize_i8(-1000, 1 << 30, 1, 0), -128);
    }
}
