//! SplitMix64 (Steele, Lea and Flood 2014): one 64-bit state, a fixed
//! increment and a finalizer; small, fast and good enough for test data.

/// SplitMix64 stream from a seed.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; modulo bias is irrelevant here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in `lo..=hi`.
    pub fn range_i32(&mut self, lo: i32, hi: i32) -> i32 {
        self.range(lo.into(), hi.into()) as i32
    }

    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }

    pub fn fill_i8(&mut self, v: &mut [i8]) {
        v.iter_mut().for_each(|x| *x = self.i8());
    }

    #[cfg(feature = "std")]
    pub fn i8s(&mut self, n: usize) -> std::vec::Vec<i8> {
        (0..n).map(|_| self.i8()).collect()
    }

    /// `n` values uniform in `lo..=hi`.
    #[cfg(feature = "std")]
    pub fn i32s(&mut self, n: usize, lo: i64, hi: i64) -> std::vec::Vec<i32> {
        (0..n).map(|_| self.range(lo, hi) as i32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn published_test_vector() {
        // The reference implementation's first outputs for seed 1234567
        // (codegen's own copy, which ships, checks it gives this stream).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }
}
