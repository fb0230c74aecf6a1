//! The portable deterministic generator behind synthetic checkpoints and test
//! inputs. It is implemented identically in `host-tests/scripts/make_fixtures.py`
//! so Rust and timm see bit-identical weights.
//!
//! Specification (all arithmetic modulo 2^64):
//! * SplitMix64: `state += 0x9E3779B97F4A7C15`; `z = state`;
//!   `z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9`;
//!   `z = (z ^ (z >> 27)) * 0x94D049BB133111EB`; output `z ^ (z >> 31)`.
//!   The n-th output (n = 1, 2, ...) therefore depends only on
//!   `seed + n * 0x9E3779B97F4A7C15`, which the Python side vectorizes.
//! * `uniform(lo, hi)`: `u = (next >> 11) * 2^-53` in f64, value
//!   `lo + (hi - lo) * u` in f64, rounded to f32 (round to nearest even).

/// SplitMix64 stream.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Next 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`, computed in f64 and rounded once to f32.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f32 {
        let u = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        (lo + (hi - lo) * u) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same stream as the test kit's generator, whose test holds the
    /// published test vector.
    #[test]
    fn same_stream_as_the_test_kit() {
        for seed in [0, 1, 1234567, u64::MAX] {
            let (mut ours, mut kit) = (SplitMix64::new(seed), testkit::SplitMix64::new(seed));
            for i in 0..10_000 {
                assert_eq!(ours.next_u64(), kit.next_u64(), "seed {seed}, output {i}");
            }
        }
    }

    #[test]
    fn uniform_in_range() {
        let mut r = SplitMix64::new(7);
        for _ in 0..1000 {
            let v = r.uniform(-0.5, 2.0);
            assert!((-0.5..=2.0).contains(&v));
        }
    }
}
