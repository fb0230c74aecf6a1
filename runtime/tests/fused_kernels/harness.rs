//! What the fused-form tests share: the one-schedule runner and conv
//! parameters with their layouts for every variant.

pub use crate::conv_params::{odd_kernel, small_hw, ConvParams, Geometry};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use runtime::{Conv, ConvVariant, Error, Layer, Stem, TensorRef};
use testkit::run_model;
pub use testkit::SplitMix64 as Gen;
pub use testkit::{bare_conv, byte_range, check, prop_same, tensor, Blob};

/// One `#[test] fn` per row, `name: cases of strategy => property;`:
/// [`check`] runs `cases` random cases of the strategy through the property
/// (a function or closure returning `Result<(), TestCaseError>`).
macro_rules! property_tests {
    ($($name:ident: $cases:literal of $case:expr => $property:expr;)*) => {$(
        #[test]
        fn $name() {
            $crate::harness::check($cases, $case, $property);
        }
    )*};
}
pub(crate) use property_tests;

/// [`testkit::run_model`] as `(model output, arena afterwards)`.
pub fn run(
    blob: &[u8],
    layers: &[Layer],
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
    image: &[i8],
) -> Result<(Vec<i8>, Vec<i8>), Error> {
    run_model(blob, layers, input, output, arena, image).map(|r| (r.out, r.arena))
}

/// Fails naming the first byte outside the `writable` ranges that changed.
pub fn only_changed(
    before: &[i8],
    after: &[i8],
    writable: &[(usize, usize)],
) -> Result<(), TestCaseError> {
    testkit::only_changed(before, after, writable).map_err(TestCaseError::fail)
}

/// Runs `conv` (a write-behind form) with its output `slack` bytes more
/// than `conv.write_behind_bytes()` before its input, overlapping it unless
/// the output is shorter, on garbage from `r`: it must compute `c.expected`
/// and change no byte outside its output (the input is consumed); one byte
/// less lead is refused whenever the ranges then overlap.
pub fn check_write_behind(
    name: &str,
    blob: &Blob,
    mut conv: Conv,
    c: &Apart,
    slack: usize,
    r: &mut Gen,
) -> Result<(), TestCaseError> {
    let (blob, x, expected) = (&blob.0, &c.x, &c.expected);
    let (n_in, n_out) = (conv.input.len(), conv.output.len());
    let lead = conv.write_behind_bytes() + slack;
    let (o_at, i_at) = (2, 2 + lead);
    conv.input.offset = i_at as u32;
    conv.output.offset = o_at as u32;
    let arena = r.i8s((i_at + n_in).max(o_at + n_out) + 2);
    let layers = [Layer::Conv(conv)];
    let (got, after) = run(blob, &layers, conv.input, conv.output, &arena, x).unwrap();
    prop_same(name, expected, &got)?;
    let mut before = arena.clone();
    before[i_at..i_at + n_in].copy_from_slice(x);
    only_changed(&before, &after, &[byte_range(conv.output)])?;
    if lead > 0 && slack == 0 && lead - 1 < n_out {
        conv.input.offset -= 1;
        let layers = [Layer::Conv(conv)];
        let r = run(blob, &layers, conv.input, conv.output, &arena, x);
        prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    }
    Ok(())
}

/// One conv's input `x` at offset 1 and its output after it, on garbage,
/// with `Reference`'s output: what every form run out of place is compared
/// with.
pub struct Apart {
    pub x: Vec<i8>,
    pub i: TensorRef,
    pub o: TensorRef,
    pub arena: Vec<i8>,
    pub expected: Vec<i8>,
}

impl Apart {
    /// The arena's garbage from `r`.
    pub fn new(p: &ConvParams, x: Vec<i8>, r: &mut Gen) -> Self {
        let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
        let (i, o) = (p.input(1), p.output(n_in + 2));
        let arena = r.i8s(n_in + n_out + 3);
        let mut blob = Blob::new();
        let reference = Layer::Conv(p.conv(&mut blob, i, o));
        let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();
        Apart {
            x,
            i,
            o,
            arena,
            expected,
        }
    }

    /// `x`, then the arena's garbage, from `r`.
    pub fn random(p: &ConvParams, r: &mut Gen) -> Self {
        let x = r.i8s(p.input(0).len());
        Self::new(p, x, r)
    }

    /// Runs `conv` (its spans in `blob`) on a copy of the arena.
    pub fn run(&self, blob: &Blob, conv: Conv) -> Result<(Vec<i8>, Vec<i8>), Error> {
        let layers = [Layer::Conv(conv)];
        run(&blob.0, &layers, self.i, self.o, &self.arena, &self.x)
    }

    /// `conv` computes `expected` and changes no byte but its output.
    pub fn check(&self, name: &str, blob: &Blob, conv: Conv) -> Result<(), TestCaseError> {
        let (got, after) = self.run(blob, conv).unwrap();
        prop_same(name, &self.expected, &got)?;
        let mut before = self.arena.clone();
        before[1..1 + self.x.len()].copy_from_slice(&self.x);
        only_changed(&before, &after, &[byte_range(self.o)])
    }
}

/// Runs `stem` placed as the fused plan places it (its output
/// `write_behind_bytes() + slack` bytes before its input, the ring after
/// both) on garbage from `r`: it must compute `expected` and change no byte
/// but its output and ring. Returns the placed stem and the arena, for the
/// caller's further checks.
pub fn check_streamed(
    name: &str,
    blob: &[u8],
    mut stem: Stem,
    x: &[i8],
    expected: &[i8],
    slack: usize,
    r: &mut Gen,
) -> Result<(Stem, Vec<i8>), TestCaseError> {
    let (n_in, n_out) = (stem.first.input.len(), stem.second.output.len());
    let lead = stem.write_behind_bytes() + slack;
    let (o_at, i_at) = (1, 1 + lead);
    let ring_at = (i_at + n_in).max(o_at + n_out) + 3;
    stem.first.input.offset = i_at as u32;
    stem.second.output.offset = o_at as u32;
    stem.first.output.offset = ring_at as u32;
    stem.second.input.offset = ring_at as u32;
    let layer = Layer::Stem(stem);
    let ring_len = layer.scratch_bytes();
    let arena = r.i8s(ring_at + ring_len + 2);
    let (input, output) = (stem.first.input, stem.second.output);
    let (got, after) = run(blob, &[layer], input, output, &arena, x).unwrap();
    prop_same(name, expected, &got)?;
    let mut before = arena.clone();
    before[i_at..i_at + n_in].copy_from_slice(x);
    let ring = (ring_at, ring_at + ring_len);
    only_changed(&before, &after, &[byte_range(output), ring])?;
    Ok((stem, arena))
}

/// `a` then `b` by `Reference`, the intermediate in full, on a random
/// input: `(input, output)`, from `r` (the input, then the arena's garbage).
pub fn reference_chain(a: &ConvParams, b: &ConvParams, r: &mut Gen) -> (Vec<i8>, Vec<i8>) {
    let (n_in, n_mid, n_out) = (a.input(0).len(), a.output(0).len(), b.output(0).len());
    let x = r.i8s(n_in);
    let mut blob = Blob::new();
    let (i, m, o) = (a.input(1), a.output(n_in + 2), b.output(n_in + n_mid + 3));
    let chain = [
        Layer::Conv(a.conv(&mut blob, i, m)),
        Layer::Conv(b.conv(&mut blob, m, o)),
    ];
    let arena = r.i8s(n_in + n_mid + n_out + 4);
    let (expected, _) = run(&blob.0, &chain, i, o, &arena, &x).unwrap();
    (x, expected)
}

/// A conv case a strategy draws: the geometry, whether the conv has padding
/// values and a table, and the seed of its parameters (and the rest of the
/// case).
#[derive(Clone, Debug)]
pub struct SeededConv {
    pub g: Geometry,
    pub pad_values: bool,
    pub lut: bool,
    pub seed: u64,
}

impl SeededConv {
    /// The parameters ([`ConvParams::seeded`]), and the generator that
    /// drew them for the rest of the case.
    pub fn params(&self) -> (ConvParams, Gen) {
        let mut r = Gen::new(self.seed);
        let p = ConvParams::seeded(self.g, self.pad_values, self.lut, &mut r);
        (p, r)
    }
}

impl ConvParams {
    /// Random parameters; shifts chosen so outputs are mostly unsaturated.
    pub fn seeded(g: Geometry, pad_values: bool, lut: bool, r: &mut Gen) -> Self {
        let taps = g.k * g.k * (g.cin / g.groups);
        let weights = r.i8s(g.cout * taps);
        let bias = r.i32s(g.cout, -(1 << 12), 1 << 12);
        // Stored multipliers: the low half zero.
        let mult = r
            .i32s(g.cout, 1 << 30, i32::MAX as i64)
            .into_iter()
            .map(|m| m & !0xFFFF)
            .collect();
        // |acc| is about 2^7 * 2^7 * sqrt(taps); aim the result near 2^6.
        let bits = 64 - (taps as u64).leading_zeros() as i32;
        let shift = (0..g.cout)
            .map(|_| -(8 + bits / 2) + r.range(-2, 2) as i32)
            .collect();
        let zps = (r.range_i32(-128, 127), r.range_i32(-128, 127));
        let p = ConvParams::new(g, zps, weights, (bias, mult, shift));
        ConvParams {
            pad_values: pad_values.then(|| r.i8s(g.cin)),
            lut: lut.then(|| r.i8s(256)),
            ..p
        }
    }

    /// The variant-specific data of `ConvVariant::Depthwise` (depthwise
    /// only): the weights tap-major, channel-minor, and
    /// `bias[c] - in_zp * sum_tap w[tap][c]`.
    pub fn depthwise_layout(&self) -> (Vec<i8>, Vec<i32>) {
        let (c, taps) = (self.g.cout, self.g.k * self.g.k);
        assert!(self.g.groups == c && self.g.cin == c);
        let hwc = (0..taps)
            .flat_map(|t| (0..c).map(move |o| self.weights[o * taps + t]))
            .collect();
        (hwc, self.folded_per_output(taps))
    }

    /// `conv` with `ConvVariant::Depthwise`.
    pub fn depthwise(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        let (hwc, folded) = self.depthwise_layout();
        self.conv_as(blob, input, output, |b| ConvVariant::Depthwise {
            weights_hwc: b.i8s(&hwc),
            folded_bias: b.i32s(&folded),
        })
    }
}

/// Output channels per group: dense (1 group), depthwise, or multiplier 2.
#[derive(Clone, Copy, Debug)]
pub enum Grouping {
    Dense,
    Depthwise,
    Multiplier2,
}

pub fn grouping() -> impl Strategy<Value = Grouping> {
    prop_oneof![
        Just(Grouping::Dense),
        Just(Grouping::Depthwise),
        Just(Grouping::Multiplier2)
    ]
}

impl Grouping {
    pub fn apply(self, cin: usize) -> (usize, usize) {
        match self {
            Grouping::Dense => (cin, 1),
            Grouping::Depthwise => (cin, cin),
            Grouping::Multiplier2 => (2 * cin, cin),
        }
    }
}
