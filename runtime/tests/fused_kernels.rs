//! Proves the memory-saving execution forms against a naive composition of
//! the existing reference kernels (themselves proven against independent
//! integer models in `kernels.rs`), bit for bit, on random shapes:
//!
//! * `ConvVariant::InPlace` against `ConvVariant::Reference` out of place;
//! * `ConvVariant::WriteBehind`, with its output overlapping its input at the
//!   least lead the contract allows, against `Reference`;
//! * `Layer::Stem`, overlapping its input the same way, against two
//!   `Reference` convs with the intermediate in full;
//! * `Layer::ConvMlp`, in place, against `Conv, Conv, Conv, Add`, with
//!   `fc1`/`fc2` both `Reference` and both `Pointwise`;
//! * `ConvVariant::PointwiseInPlace` against `Reference` out of place;
//! * `ConvVariant::Depthwise` (any kernel, stride, padding, pad values,
//!   tables, channel counts around the 16-channel chunk) against `Reference`,
//!   `ConvVariant::DepthwiseInPlace` against `Reference` out of place, and
//!   the fused ConvMlp with a `Depthwise` dw against `Conv, Conv, Conv, Add`;
//! * `ConvVariant::Multiplier`, `MultiplierWriteBehind` (overlapping at the
//!   least lead) and `DenseHwio` (kernels up to 9, strides up to 3, channel
//!   counts around the chunk sizes) against `Reference`, and the fast
//!   `Layer::Stem` (`DenseHwio` + `Depthwise`) against two `Reference` convs.
//!
//! Every case runs through `Model::run_normalized` on an arena pre-filled
//! with garbage and checks that no byte outside the layer's output and scratch
//! changed. Corrupt fused layers must be rejected with `InvalidLayer`, and
//! random corruption of any field must never panic.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use runtime::{
    Add, Conv, ConvMlp, ConvVariant, Error, Layer, Model, Requant, Span, Stem, TensorRef,
};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// Runs a property over `cases` random cases (`PROPTEST_CASES` overrides).
fn check<T: std::fmt::Debug>(
    cases: u32,
    strategy: impl Strategy<Value = T>,
    test: impl Fn(T) -> Result<(), TestCaseError>,
) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("{e}");
    }
}

/// Fails with the first differing index.
fn same(name: &str, expected: &[i8], got: &[i8]) -> Result<(), TestCaseError> {
    if expected.len() != got.len() {
        return Err(TestCaseError::fail(format!(
            "{name}: {} elements expected, got {}",
            expected.len(),
            got.len()
        )));
    }
    match expected.iter().zip(got).position(|(e, g)| e != g) {
        None => Ok(()),
        Some(i) => Err(TestCaseError::fail(format!(
            "{name}: first difference at {i}: expected {}, got {} ({} of {} differ)",
            expected[i],
            got[i],
            expected.iter().zip(got).filter(|(e, g)| e != g).count(),
            expected.len()
        ))),
    }
}

/// SplitMix64: parameters and arena garbage from a seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.next() as i8).collect()
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn i32s(&mut self, n: usize, lo: i64, hi: i64) -> Vec<i32> {
        (0..n).map(|_| self.range(lo, hi) as i32).collect()
    }

    fn zp(&mut self) -> i32 {
        self.range(-128, 127) as i32
    }
}

/// A weight blob under construction (junk first, so nothing sits at 0).
struct Blob(Vec<u8>);

impl Blob {
    fn new() -> Self {
        Blob(vec![0xA5; 3])
    }

    fn i8s(&mut self, v: &[i8]) -> Span {
        let offset = self.0.len() as u32;
        self.0.extend(v.iter().map(|&x| x as u8));
        Span {
            offset,
            len: v.len() as u32,
        }
    }

    /// Requantization shifts: one byte each.
    fn shifts(&mut self, v: &[i32]) -> Span {
        let offset = self.0.len() as u32;
        self.0.extend(v.iter().map(|&s| s as i8 as u8));
        Span {
            offset,
            len: v.len() as u32,
        }
    }

    fn i32s(&mut self, v: &[i32]) -> Span {
        while self.0.len() % 4 != 0 {
            self.0.push(0xA5);
        }
        let offset = self.0.len() as u32;
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
        Span {
            offset,
            len: 4 * v.len() as u32,
        }
    }
}

fn tensor(offset: usize, h: usize, w: usize, c: usize) -> TensorRef {
    TensorRef {
        offset: offset as u32,
        h: h as u16,
        w: w as u16,
        c: c as u16,
    }
}

fn bytes(t: TensorRef) -> (usize, usize) {
    (t.offset as usize, t.end())
}

/// Runs `layers` through `Model::run_normalized` with `image` written at
/// `input`, on `arena` (garbage elsewhere). Returns the model output and the
/// arena afterwards.
fn run(
    blob: &[u8],
    layers: &[Layer],
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
    image: &[i8],
) -> Result<(Vec<i8>, Vec<i8>), Error> {
    let names = vec!["under_test"; layers.len()];
    let model = Model {
        weights: blob,
        layers,
        layer_names: &names,
        stem_normalized: layers[0],
        arena_bytes: arena.len(),
        input,
        normalized_input_zp: 0,
        output,
        output_zp: 0,
    };
    let mut work = arena.to_vec();
    let mut out = vec![0x3C; output.len()];
    model.run_normalized(&mut work, image, &mut out, |_, _| {})?;
    Ok((out, work))
}

/// Asserts that only bytes inside `writable` ranges changed.
fn only_changed(
    before: &[i8],
    after: &[i8],
    writable: &[(usize, usize)],
) -> Result<(), TestCaseError> {
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if b != a && !writable.iter().any(|&(s, e)| (s..e).contains(&i)) {
            return Err(TestCaseError::fail(format!(
                "arena byte {i} outside the layer's output and scratch changed: {b} -> {a}"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Conv parameters
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct Geometry {
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    groups: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

impl Geometry {
    fn valid(&self) -> bool {
        self.h + 2 * self.pad >= self.k
            && self.w + 2 * self.pad >= self.k
            && self.cin % self.groups == 0
            && self.cout % self.groups == 0
    }

    fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.k) / self.stride + 1,
            (self.w + 2 * self.pad - self.k) / self.stride + 1,
        )
    }
}

#[derive(Clone, Debug)]
struct ConvParams {
    g: Geometry,
    in_zp: i32,
    out_zp: i32,
    weights: Vec<i8>,
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
    pad_values: Option<Vec<i8>>,
    lut: Option<Vec<i8>>,
}

impl ConvParams {
    /// Random parameters; shifts chosen so outputs are mostly unsaturated.
    fn seeded(g: Geometry, pad_values: bool, lut: bool, r: &mut Gen) -> Self {
        let taps = g.k * g.k * (g.cin / g.groups);
        let weights = r.i8s(g.cout * taps);
        let bias = r.i32s(g.cout, -(1 << 12), 1 << 12);
        let mult = r.i32s(g.cout, 1 << 30, i32::MAX as i64);
        // |acc| is about 2^7 * 2^7 * sqrt(taps); aim the result near 2^6.
        let bits = 64 - (taps as u64).leading_zeros() as i32;
        let shift = (0..g.cout)
            .map(|_| -(8 + bits / 2) + r.range(-2, 2) as i32)
            .collect();
        ConvParams {
            g,
            in_zp: r.zp(),
            out_zp: r.zp(),
            weights,
            bias,
            mult,
            shift,
            pad_values: pad_values.then(|| r.i8s(g.cin)),
            lut: lut.then(|| r.i8s(256)),
        }
    }

    /// The variant-specific data of `ConvVariant::Pointwise`:
    /// `bias[o] - in_zp * sum_i w[o][i]` (dense 1x1 only).
    fn folded_bias(&self) -> Vec<i32> {
        let cin = self.g.cin;
        (0..self.g.cout)
            .map(|o| {
                let wsum: i32 = self.weights[o * cin..(o + 1) * cin]
                    .iter()
                    .map(|&v| v as i32)
                    .sum();
                self.bias[o] - self.in_zp * wsum
            })
            .collect()
    }

    /// The variant-specific data of `ConvVariant::Depthwise` (depthwise
    /// only): the weights tap-major, channel-minor, and
    /// `bias[c] - in_zp * sum_tap w[tap][c]`.
    fn depthwise_layout(&self) -> (Vec<i8>, Vec<i32>) {
        let (c, taps) = (self.g.cout, self.g.k * self.g.k);
        assert!(self.g.groups == c && self.g.cin == c);
        let hwc = (0..taps)
            .flat_map(|t| (0..c).map(move |o| self.weights[o * taps + t]))
            .collect();
        let folded = (0..c)
            .map(|o| {
                let wsum: i32 = self.weights[o * taps..(o + 1) * taps]
                    .iter()
                    .map(|&v| v as i32)
                    .sum();
                self.bias[o] - self.in_zp * wsum
            })
            .collect();
        (hwc, folded)
    }

    /// `conv` with `ConvVariant::Depthwise`.
    fn depthwise(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        let (hwc, folded) = self.depthwise_layout();
        let mut c = self.conv(blob, input, output);
        c.variant = ConvVariant::Depthwise {
            weights_hwc: blob.i8s(&hwc),
            folded_bias: blob.i32s(&folded),
        };
        c
    }

    fn input(&self, offset: usize) -> TensorRef {
        tensor(offset, self.g.h, self.g.w, self.g.cin)
    }

    fn output(&self, offset: usize) -> TensorRef {
        let (oh, ow) = self.g.out_hw();
        tensor(offset, oh, ow, self.g.cout)
    }

    fn conv(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        Conv {
            variant: ConvVariant::Reference,
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            kernel: self.g.k as u8,
            stride: self.g.stride as u8,
            pad: self.g.pad as u8,
            groups: self.g.groups as u16,
            weights: blob.i8s(&self.weights),
            bias: blob.i32s(&self.bias),
            requant: Requant {
                multiplier: blob.i32s(&self.mult),
                shift: blob.shifts(&self.shift),
            },
            pad_values: self.pad_values.as_ref().map_or(Span::NONE, |v| blob.i8s(v)),
            lut: self.lut.as_ref().map_or(Span::NONE, |v| blob.i8s(v)),
        }
    }
}

/// Output channels per group: dense (1 group), depthwise, or multiplier 2.
#[derive(Clone, Copy, Debug)]
enum Grouping {
    Dense,
    Depthwise,
    Multiplier2,
}

fn grouping() -> impl Strategy<Value = Grouping> {
    prop_oneof![
        Just(Grouping::Dense),
        Just(Grouping::Depthwise),
        Just(Grouping::Multiplier2)
    ]
}

impl Grouping {
    fn apply(self, cin: usize) -> (usize, usize) {
        match self {
            Grouping::Dense => (cin, 1),
            Grouping::Depthwise => (cin, cin),
            Grouping::Multiplier2 => (2 * cin, cin),
        }
    }
}

// ---------------------------------------------------------------------------
// ConvVariant::InPlace
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct InPlaceCase {
    g: Geometry,
    pad_values: bool,
    lut: bool,
    ring_first: bool,
    gap: usize,
    seed: u64,
}

fn in_place_case() -> impl Strategy<Value = InPlaceCase> {
    (
        (
            1usize..=9,
            1usize..=9,
            prop_oneof![3 => 1usize..=8, 1 => 14usize..=40],
            prop_oneof![Just(1usize), Just(3), Just(5), Just(7)],
        ),
        any::<bool>(),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0usize..5,
            any::<u64>(),
        ),
    )
        .prop_map(
            |((h, w, c, k), dense, (pv, lut, ring_first, gap, seed))| InPlaceCase {
                g: Geometry {
                    h,
                    w,
                    cin: c,
                    cout: c,
                    groups: if dense { 1 } else { c },
                    k,
                    stride: 1,
                    pad: k / 2,
                },
                pad_values: pv,
                lut,
                ring_first,
                gap,
                seed,
            },
        )
}

fn in_place_property(case: InPlaceCase) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let p = ConvParams::seeded(case.g, case.pad_values, case.lut, &mut r);
    let n = case.g.h * case.g.w * case.g.cin;
    let x = r.i8s(n);

    // Reference: input and output apart.
    let mut blob = Blob::new();
    let (i, o) = (p.input(1), p.output(n + 2));
    let reference = Layer::Conv(p.conv(&mut blob, i, o));
    let arena = r.i8s(2 * n + 3);
    let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();

    // In place, with the ring before or after the tensor.
    let ring_len = Conv::in_place_scratch_bytes(case.g.k, case.g.w, case.g.cin);
    let (t_at, ring_at) = if case.ring_first {
        (ring_len + 2 * case.gap, case.gap)
    } else {
        (case.gap, n + 2 * case.gap)
    };
    let mut blob = Blob::new();
    let t = p.input(t_at);
    let mut conv = p.conv(&mut blob, t, t);
    conv.variant = ConvVariant::InPlace {
        scratch: ring_at as u32,
    };
    let layer = Layer::Conv(conv);
    assert_eq!(layer.scratch_bytes(), ring_len);
    let arena = r.i8s(n + ring_len + 3 * case.gap);
    let (got, after) = run(&blob.0, &[layer], t, t, &arena, &x).unwrap();
    same("in-place conv", &expected, &got)?;
    let mut before = arena.clone();
    before[t_at..t_at + n].copy_from_slice(&x);
    only_changed(&before, &after, &[bytes(t), (ring_at, ring_at + ring_len)])?;

    // Dense 1x1: the fast kernel in place, same ring, same bits.
    if case.g.k == 1 && case.g.groups == 1 {
        let mut blob = Blob::new();
        let mut conv = p.conv(&mut blob, t, t);
        conv.variant = ConvVariant::PointwiseInPlace {
            scratch: ring_at as u32,
            folded_bias: blob.i32s(&p.folded_bias()),
        };
        let layer = Layer::Conv(conv);
        assert_eq!(layer.scratch_bytes(), ring_len);
        let (got, after) = run(&blob.0, &[layer], t, t, &arena, &x).unwrap();
        same("pointwise in place", &expected, &got)?;
        only_changed(&before, &after, &[bytes(t), (ring_at, ring_at + ring_len)])?;
    }

    // Depthwise: the fast depthwise kernel in place, same ring, same bits.
    if case.g.groups == case.g.cin {
        let mut blob = Blob::new();
        let mut conv = p.depthwise(&mut blob, t, t);
        let ConvVariant::Depthwise {
            weights_hwc,
            folded_bias,
        } = conv.variant
        else {
            unreachable!()
        };
        conv.variant = ConvVariant::DepthwiseInPlace {
            scratch: ring_at as u32,
            weights_hwc,
            folded_bias,
        };
        let layer = Layer::Conv(conv);
        assert_eq!(layer.scratch_bytes(), ring_len);
        let (got, after) = run(&blob.0, &[layer], t, t, &arena, &x).unwrap();
        same("depthwise in place", &expected, &got)?;
        only_changed(&before, &after, &[bytes(t), (ring_at, ring_at + ring_len)])?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ConvVariant::Depthwise
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct DepthwiseCase {
    g: Geometry,
    pad_values: bool,
    lut: bool,
    seed: u64,
}

/// Any kernel, stride and padding, 1x1 and tiny spatial sizes, channel
/// counts below, at and above the 16-channel chunk.
fn depthwise_case() -> impl Strategy<Value = DepthwiseCase> {
    (
        (
            1usize..=9,
            1usize..=9,
            prop_oneof![1usize..=8, 15usize..=17, 30usize..=50],
        ),
        (1usize..=7, 1usize..=3, 0usize..=3),
        (any::<bool>(), any::<bool>(), any::<u64>()),
    )
        .prop_filter_map(
            "conv must have an output",
            |((h, w, c), (k, stride, pad), (pad_values, lut, seed))| {
                let g = Geometry {
                    h,
                    w,
                    cin: c,
                    cout: c,
                    groups: c,
                    k,
                    stride,
                    pad: pad.min(k - 1),
                };
                g.valid().then_some(DepthwiseCase {
                    g,
                    pad_values,
                    lut,
                    seed,
                })
            },
        )
}

fn depthwise_property(case: DepthwiseCase) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let p = ConvParams::seeded(case.g, case.pad_values, case.lut, &mut r);
    let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
    let x = r.i8s(n_in);
    let (i, o) = (p.input(1), p.output(n_in + 2));
    let arena = r.i8s(n_in + n_out + 3);

    let mut blob = Blob::new();
    let reference = Layer::Conv(p.conv(&mut blob, i, o));
    let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();

    let mut blob = Blob::new();
    let fast = Layer::Conv(p.depthwise(&mut blob, i, o));
    let (got, after) = run(&blob.0, &[fast], i, o, &arena, &x).unwrap();
    same("depthwise", &expected, &got)?;
    let mut before = arena.clone();
    before[1..1 + n_in].copy_from_slice(&x);
    only_changed(&before, &after, &[bytes(o)])
}

#[test]
fn depthwise_conv_matches_reference() {
    check(400, depthwise_case(), depthwise_property);
}

/// Extreme operands: zero points at both ends, largest weights and inputs,
/// FastViT-T8 channel counts and kernels.
#[test]
fn depthwise_conv_extremes() {
    for (c, k, stride, pad) in [(48, 7, 1, 3), (96, 3, 1, 1), (64, 3, 2, 1), (17, 5, 2, 2)] {
        for in_zp in [-128, 127] {
            for (wv, xv) in [(-128i8, -128i8), (127, -128), (-128, 127)] {
                let g = Geometry {
                    h: 5,
                    w: 6,
                    cin: c,
                    cout: c,
                    groups: c,
                    k,
                    stride,
                    pad,
                };
                let mut r = Gen(c as u64 * 31 + k as u64);
                let mut p = ConvParams::seeded(g, in_zp > 0, false, &mut r);
                p.in_zp = in_zp;
                if in_zp > 0 {
                    let wide = [-31, -2, -1, 0, 1, 30, -12];
                    for (i, s) in p.shift.iter_mut().enumerate() {
                        *s = wide[i % wide.len()];
                    }
                }
                p.weights.iter_mut().for_each(|v| *v = wv);
                let x = vec![xv; p.input(0).len()];
                let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
                let (i, o) = (p.input(1), p.output(n_in + 2));
                let arena = r.i8s(n_in + n_out + 3);
                let mut blob = Blob::new();
                let reference = Layer::Conv(p.conv(&mut blob, i, o));
                let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();
                let mut blob = Blob::new();
                let fast = Layer::Conv(p.depthwise(&mut blob, i, o));
                let (got, _) = run(&blob.0, &[fast], i, o, &arena, &x).unwrap();
                same("depthwise extremes", &expected, &got).unwrap();
            }
        }
    }
}

/// Depthwise variants on convs they do not fit, or with bad data, and a
/// fused dw on the fast kernel without fast fc1/fc2, are rejected.
#[test]
fn depthwise_misuse_is_rejected() {
    let mut r = Gen(7);
    let geo = |groups| Geometry {
        h: 4,
        w: 4,
        cin: 4,
        cout: 4,
        groups,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let (i, o) = (tensor(0, 4, 4, 4), tensor(64, 4, 4, 4));
    let arena = vec![0i8; 200];
    let x = vec![0i8; 64];
    let invalid = Err(Error::InvalidLayer { layer: 0 });
    // Dense conv with a depthwise variant.
    let p = ConvParams::seeded(geo(1), false, false, &mut r);
    let mut blob = Blob::new();
    let mut conv = p.conv(&mut blob, i, o);
    conv.variant = ConvVariant::Depthwise {
        weights_hwc: blob.i8s(&p.weights),
        folded_bias: blob.i32s(&p.bias),
    };
    let got = run(&blob.0, &[Layer::Conv(conv)], i, o, &arena, &x);
    assert_eq!(got.map(|_| ()), invalid);
    // Depthwise weights of the wrong length, folded bias too short.
    let p = ConvParams::seeded(geo(4), false, false, &mut r);
    for (dw, db) in [(1, 0), (0, 1)] {
        let (hwc, folded) = p.depthwise_layout();
        let mut blob = Blob::new();
        let mut conv = p.conv(&mut blob, i, o);
        conv.variant = ConvVariant::Depthwise {
            weights_hwc: blob.i8s(&hwc[dw..]),
            folded_bias: blob.i32s(&folded[db..]),
        };
        let got = run(&blob.0, &[Layer::Conv(conv)], i, o, &arena, &x);
        assert_eq!(got.map(|_| ()), invalid);
    }
    // In place on a conv that is not stride 1 / same padding.
    let mut g = geo(4);
    g.pad = 0;
    let p = ConvParams::seeded(g, false, false, &mut r);
    let mut blob = Blob::new();
    let mut conv = p.depthwise(&mut blob, i, i);
    if let ConvVariant::Depthwise {
        weights_hwc,
        folded_bias,
    } = conv.variant
    {
        conv.variant = ConvVariant::DepthwiseInPlace {
            scratch: 100,
            weights_hwc,
            folded_bias,
        };
    }
    let got = run(&blob.0, &[Layer::Conv(conv)], i, i, &arena, &x);
    assert_eq!(got.map(|_| ()), invalid);
    // Fused dw on the fast kernel with reference fc1/fc2.
    let case = MlpCase {
        h: 3,
        w: 3,
        c: 4,
        hidden: 8,
        k: 3,
        depthwise: true,
        pad_values: false,
        scratch_first: false,
        seed: 1,
    };
    let (m, _) = Mlp::seeded(case);
    let mut blob = Blob::new();
    let mut fused = m.fused(&mut blob, 0, 40);
    fused.dw = m.dw.depthwise(&mut blob, fused.dw.input, fused.dw.output);
    let t = tensor(0, 3, 3, 4);
    let arena = vec![0i8; 200];
    let got = run(&blob.0, &[Layer::ConvMlp(fused)], t, t, &arena, &x[..36]);
    assert_eq!(got.map(|_| ()), invalid);
}

#[test]
fn in_place_conv_matches_reference() {
    check(300, in_place_case(), in_place_property);
}

// ---------------------------------------------------------------------------
// ConvVariant::Multiplier, MultiplierWriteBehind, DenseHwio; the fast stem
// ---------------------------------------------------------------------------

impl ConvParams {
    /// The variant data of `ConvVariant::Multiplier` (`groups == cin`,
    /// `cout = m * cin`): weights `[k][k][m][cin]` and
    /// `bias[o] - in_zp * sum_tap w[o][tap]`.
    fn multiplier_layout(&self) -> (Vec<i8>, Vec<i32>) {
        let (cin, cout, taps) = (self.g.cin, self.g.cout, self.g.k * self.g.k);
        assert!(self.g.groups == cin && cout % cin == 0);
        let m = cout / cin;
        let w = (0..taps)
            .flat_map(|t| (0..cout).map(move |i| (t, i)))
            .map(|(t, i)| self.weights[(m * (i % cin) + i / cin) * taps + t])
            .collect();
        (w, self.folded_per_output(taps))
    }

    /// The variant data of `ConvVariant::DenseHwio` (`groups == 1`): weights
    /// `[k][k][cin][cout]` and `bias[o] - in_zp * sum w[o]`.
    fn dense_layout(&self) -> (Vec<i8>, Vec<i32>) {
        let (cout, per) = (self.g.cout, self.g.k * self.g.k * self.g.cin);
        assert!(self.g.groups == 1);
        let w = (0..per)
            .flat_map(|i| (0..cout).map(move |o| (i, o)))
            .map(|(i, o)| self.weights[o * per + i])
            .collect();
        (w, self.folded_per_output(per))
    }

    fn folded_per_output(&self, per: usize) -> Vec<i32> {
        (0..self.g.cout)
            .map(|o| {
                let s: i32 = self.weights[o * per..(o + 1) * per]
                    .iter()
                    .map(|&v| v as i32)
                    .sum();
                self.bias[o].wrapping_sub(self.in_zp.wrapping_mul(s))
            })
            .collect()
    }

    /// `conv` with `ConvVariant::Multiplier` (or its write-behind twin).
    fn multiplier(
        &self,
        blob: &mut Blob,
        input: TensorRef,
        output: TensorRef,
        behind: bool,
    ) -> Conv {
        let (w, folded) = self.multiplier_layout();
        let mut c = self.conv(blob, input, output);
        let (weights_hwc, folded_bias) = (blob.i8s(&w), blob.i32s(&folded));
        c.variant = if behind {
            ConvVariant::MultiplierWriteBehind {
                weights_hwc,
                folded_bias,
            }
        } else {
            ConvVariant::Multiplier {
                weights_hwc,
                folded_bias,
            }
        };
        c
    }

    /// `conv` with `ConvVariant::Im2col`: the OHWI rows zero-padded to
    /// `patch_len`, the dense folded bias.
    fn im2col(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        let (cout, per) = (self.g.cout, self.g.k * self.g.k * self.g.cin);
        let mut c = self.conv(blob, input, output);
        let patch = c.patch_len();
        let rows: Vec<i8> = (0..cout)
            .flat_map(|o| (0..patch).map(move |i| (o, i)))
            .map(|(o, i)| {
                if i < per {
                    self.weights[o * per + i]
                } else {
                    0
                }
            })
            .collect();
        c.variant = ConvVariant::Im2col {
            weights_rows: blob.i8s(&rows),
            folded_bias: blob.i32s(&self.folded_per_output(per)),
        };
        c
    }

    /// `conv` with `ConvVariant::DenseHwio`.
    fn dense(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        let (w, folded) = self.dense_layout();
        let mut c = self.conv(blob, input, output);
        c.variant = ConvVariant::DenseHwio {
            weights_hwio: blob.i8s(&w),
            folded_bias: blob.i32s(&folded),
        };
        c
    }
}

#[derive(Clone, Debug)]
struct FastConvCase {
    g: Geometry,
    pad_values: bool,
    lut: bool,
    /// Extra bytes between the least write-behind lead and the actual one.
    slack: usize,
    seed: u64,
}

/// Kernels 1..=9 (above 7: the per-tap path), strides 1..=3, padding up to
/// `k - 1`, channel counts around the 8- and 16-channel chunks; `dense`
/// picks `groups == 1` with 1..=5 input channels, otherwise `groups == cin`
/// with a multiplier of 2 or 3.
fn fast_conv_case(dense: bool) -> impl Strategy<Value = FastConvCase> {
    (
        (
            1usize..=9,
            1usize..=9,
            prop_oneof![1usize..=9, 15usize..=17, 30usize..=50],
            2usize..=3,
        ),
        (
            prop_oneof![3 => 1usize..=7, 1 => 8usize..=9],
            1usize..=3,
            0usize..=4,
        ),
        (
            any::<bool>(),
            any::<bool>(),
            prop_oneof![3 => Just(0usize), 1 => 1usize..40],
        ),
        any::<u64>(),
    )
        .prop_filter_map(
            "conv must have an output",
            move |((h, w, c, m), (k, stride, pad), (pad_values, lut, slack), seed)| {
                let (cin, cout, groups) = if dense {
                    (1 + c % 5, c, 1)
                } else {
                    (c, m * c, c)
                };
                let g = Geometry {
                    h,
                    w,
                    cin,
                    cout,
                    groups,
                    k,
                    stride,
                    pad: pad.min(k - 1),
                };
                g.valid().then_some(FastConvCase {
                    g,
                    pad_values,
                    lut,
                    slack,
                    seed,
                })
            },
        )
}

/// The fast variants [`fast_conv_property`] checks.
#[derive(Clone, Copy, PartialEq)]
enum Fast {
    Multiplier,
    Dense,
    Im2col,
}

/// `ConvVariant::Multiplier` (or `DenseHwio`, `Im2col`) == `Reference`,
/// output apart. An `Im2col` window past `Conv::MAX_PATCH` is refused.
fn fast_conv_property(case: FastConvCase, kind: Fast) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let p = ConvParams::seeded(case.g, case.pad_values, case.lut, &mut r);
    let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
    let x = r.i8s(n_in);
    let (i, o) = (p.input(1), p.output(n_in + 2));
    let arena = r.i8s(n_in + n_out + 3);
    let mut blob = Blob::new();
    let reference = Layer::Conv(p.conv(&mut blob, i, o));
    let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();
    let mut blob = Blob::new();
    let fast = match kind {
        Fast::Dense => p.dense(&mut blob, i, o),
        Fast::Im2col => p.im2col(&mut blob, i, o),
        Fast::Multiplier => p.multiplier(&mut blob, i, o, false),
    };
    let ran = run(&blob.0, &[Layer::Conv(fast)], i, o, &arena, &x);
    if kind == Fast::Im2col && fast.patch_len() > Conv::MAX_PATCH {
        prop_assert_eq!(ran.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
        return Ok(());
    }
    let (got, after) = ran.unwrap();
    let name = match kind {
        Fast::Dense => "dense",
        Fast::Im2col => "im2col",
        Fast::Multiplier => "multiplier",
    };
    same(name, &expected, &got)?;
    let mut before = arena.clone();
    before[1..1 + n_in].copy_from_slice(&x);
    only_changed(&before, &after, &[bytes(o)])
}

#[test]
fn multiplier_conv_matches_reference() {
    check(400, fast_conv_case(false), |c| {
        fast_conv_property(c, Fast::Multiplier)
    });
}

#[test]
fn dense_hwio_conv_matches_reference() {
    check(400, fast_conv_case(true), |c| {
        fast_conv_property(c, Fast::Dense)
    });
}

#[test]
fn im2col_conv_matches_reference() {
    check(400, fast_conv_case(true), |c| {
        fast_conv_property(c, Fast::Im2col)
    });
}

/// `MultiplierWriteBehind` with its output `lead + slack` bytes before its
/// input (overlapping it), and entirely after it, == `Reference`; one byte
/// less lead is refused.
fn multiplier_behind_property(case: FastConvCase) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let p = ConvParams::seeded(case.g, case.pad_values, case.lut, &mut r);
    let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
    let x = r.i8s(n_in);
    let mut blob = Blob::new();
    let (i, o) = (p.input(1), p.output(n_in + 2));
    let reference = Layer::Conv(p.conv(&mut blob, i, o));
    let arena = r.i8s(n_in + n_out + 3);
    let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();

    // Output after the input.
    let mut blob = Blob::new();
    let conv = p.multiplier(&mut blob, i, o, true);
    let (got, _) = run(&blob.0, &[Layer::Conv(conv)], i, o, &arena, &x).unwrap();
    same("multiplier behind, output after", &expected, &got)?;

    // Output before, overlapping.
    let mut conv = p.multiplier(&mut blob, p.input(0), p.output(0), true);
    let lead = conv.write_behind_bytes() + case.slack;
    let (o_at, i_at) = (2, 2 + lead);
    conv.input.offset = i_at as u32;
    conv.output.offset = o_at as u32;
    let len = (i_at + n_in).max(o_at + n_out) + 2;
    let arena = r.i8s(len);
    let (got, after) = run(
        &blob.0,
        &[Layer::Conv(conv)],
        conv.input,
        conv.output,
        &arena,
        &x,
    )
    .unwrap();
    same("multiplier behind", &expected, &got)?;
    let mut before = arena.clone();
    before[i_at..i_at + n_in].copy_from_slice(&x);
    only_changed(&before, &after, &[bytes(conv.output)])?;
    if lead > 0 && case.slack == 0 && lead - 1 < n_out {
        conv.input.offset -= 1;
        let r = run(
            &blob.0,
            &[Layer::Conv(conv)],
            conv.input,
            conv.output,
            &arena,
            &x,
        );
        prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    }
    Ok(())
}

#[test]
fn multiplier_write_behind_matches_reference() {
    check(300, fast_conv_case(false), multiplier_behind_property);
}

/// The fast stem (`DenseHwio` or `Im2col`, then `Depthwise`), overlapping
/// its input at the least lead plus slack, == two `Reference` convs.
fn fast_stem_property(case: StemCase, im2col: bool) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let a = ConvParams::seeded(case.first, true, true, &mut r);
    let b = ConvParams::seeded(case.second, r.next() % 2 == 0, r.next() % 2 == 0, &mut r);
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

    let mut blob = Blob::new();
    let first = if im2col {
        a.im2col(&mut blob, a.input(0), a.output(0))
    } else {
        a.dense(&mut blob, a.input(0), a.output(0))
    };
    if im2col && first.patch_len() > Conv::MAX_PATCH {
        return Ok(());
    }
    let mut stem = Stem {
        first,
        second: b.depthwise(&mut blob, a.output(0), b.output(0)),
    };
    let lead = stem.write_behind_bytes() + case.slack;
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
    let (got, after) = run(&blob.0, &[layer], input, output, &arena, &x).unwrap();
    same("fast streamed stem", &expected, &got)?;
    let mut before = arena.clone();
    before[i_at..i_at + n_in].copy_from_slice(&x);
    only_changed(
        &before,
        &after,
        &[bytes(output), (ring_at, ring_at + ring_len)],
    )?;
    // Mixed fast and reference halves are refused.
    let mixed = Stem {
        second: Conv {
            variant: ConvVariant::Reference,
            ..stem.second
        },
        ..stem
    };
    let r = run(&blob.0, &[Layer::Stem(mixed)], input, output, &arena, &x);
    prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    Ok(())
}

#[test]
fn fast_stem_matches_two_reference_convs() {
    let depthwise_second = || {
        stem_case().prop_map(|mut c| {
            c.second.cout = c.second.cin;
            c.second.groups = c.second.cin;
            c
        })
    };
    check(300, depthwise_second(), |c| fast_stem_property(c, false));
    check(300, depthwise_second(), |c| fast_stem_property(c, true));
}

/// FastViT-T8's own shapes at full channel counts (small spatial sizes):
/// the stem (3 -> 48, 3x3/s2, mean-pixel padding, in_zp -128), the x2
/// downsample 7x7/s2 and final_conv 3x3, extreme weights and inputs.
#[test]
fn fast_kernels_on_fastvit_shapes() {
    for (dense, cin, cout, k, stride, pad, h) in [
        (true, 3, 48, 3, 2, 1, 9),
        (false, 48, 96, 7, 2, 3, 10),
        (false, 192, 384, 7, 2, 3, 6),
        (false, 384, 768, 3, 1, 1, 4),
    ] {
        for in_zp in [-128, 127] {
            for (wv, xv) in [
                (None, None),
                (Some(-128i8), Some(-128i8)),
                (Some(127), Some(-128)),
            ] {
                let g = Geometry {
                    h,
                    w: h + 1,
                    cin,
                    cout,
                    groups: if dense { 1 } else { cin },
                    k,
                    stride,
                    pad,
                };
                let mut r = Gen(cin as u64 * 7 + k as u64);
                let mut p = ConvParams::seeded(g, dense, !dense, &mut r);
                p.in_zp = in_zp;
                if in_zp > 0 {
                    // Shifts outside -31..=-2 mixed into the chunks: the
                    // 64-bit requantization path of the lane loops.
                    let wide = [-31, -2, -1, 0, 1, 30, -12];
                    for (i, s) in p.shift.iter_mut().enumerate() {
                        *s = wide[i % wide.len()];
                    }
                }
                if let Some(wv) = wv {
                    p.weights.iter_mut().for_each(|v| *v = wv);
                }
                let x = match xv {
                    Some(xv) => vec![xv; p.input(0).len()],
                    None => r.i8s(p.input(0).len()),
                };
                let case = FastConvCase {
                    g,
                    pad_values: dense,
                    lut: !dense,
                    slack: 0,
                    seed: 0,
                };
                let _ = case;
                let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
                let (i, o) = (p.input(1), p.output(n_in + 2));
                let arena = r.i8s(n_in + n_out + 3);
                let mut blob = Blob::new();
                let reference = Layer::Conv(p.conv(&mut blob, i, o));
                let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();
                let mut blob = Blob::new();
                let fast = if dense {
                    p.dense(&mut blob, i, o)
                } else {
                    p.multiplier(&mut blob, i, o, false)
                };
                let (got, _) = run(&blob.0, &[Layer::Conv(fast)], i, o, &arena, &x).unwrap();
                same("fastvit shapes", &expected, &got).unwrap();
                if dense {
                    let mut blob = Blob::new();
                    let fast = p.im2col(&mut blob, i, o);
                    let (got, _) = run(&blob.0, &[Layer::Conv(fast)], i, o, &arena, &x).unwrap();
                    same("fastvit stem, im2col", &expected, &got).unwrap();
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ConvVariant::WriteBehind
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct BehindCase {
    g: Geometry,
    /// Extra bytes between the least lead and the actual one.
    slack: usize,
    seed: u64,
}

fn behind_case() -> impl Strategy<Value = BehindCase> {
    (
        (1usize..=12, 1usize..=12, 1usize..=5, grouping()),
        (1usize..=7, 1usize..=3, 0usize..=3),
        prop_oneof![3 => Just(0usize), 1 => 1usize..40],
        any::<u64>(),
    )
        .prop_filter_map(
            "conv must have an output",
            |((h, w, cin, grp), (k, stride, pad), slack, seed)| {
                let (cout, groups) = grp.apply(cin);
                let g = Geometry {
                    h,
                    w,
                    cin,
                    cout,
                    groups,
                    k,
                    stride,
                    pad: pad.min(k - 1),
                };
                g.valid().then_some(BehindCase { g, slack, seed })
            },
        )
}

fn behind_property(case: BehindCase) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let p = ConvParams::seeded(case.g, false, r.next() % 2 == 0, &mut r);
    let (n_in, n_out) = (p.input(0).len(), p.output(0).len());
    let x = r.i8s(n_in);

    let mut blob = Blob::new();
    let (i, o) = (p.input(1), p.output(n_in + 2));
    let reference = Layer::Conv(p.conv(&mut blob, i, o));
    let arena = r.i8s(n_in + n_out + 3);
    let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();

    // Output `lead + slack` bytes before the input: they overlap unless the
    // output is shorter than that.
    let mut blob = Blob::new();
    let mut conv = p.conv(&mut blob, p.input(0), p.output(0));
    let lead = conv.write_behind_bytes() + case.slack;
    let (o_at, i_at) = (2, 2 + lead);
    conv.input.offset = i_at as u32;
    conv.output.offset = o_at as u32;
    conv.variant = ConvVariant::WriteBehind;
    let len = (i_at + n_in).max(o_at + n_out) + 2;
    let arena = r.i8s(len);
    let (got, after) = run(
        &blob.0,
        &[Layer::Conv(conv)],
        conv.input,
        conv.output,
        &arena,
        &x,
    )
    .unwrap();
    same("write-behind conv", &expected, &got)?;
    let mut before = arena.clone();
    before[i_at..i_at + n_in].copy_from_slice(&x);
    // The input is consumed: its bytes may change only where the output is.
    only_changed(&before, &after, &[bytes(conv.output)])?;

    // One byte less lead is refused whenever the ranges then overlap.
    if lead > 0 && case.slack == 0 && lead - 1 < n_out {
        conv.input.offset -= 1;
        let r = run(
            &blob.0,
            &[Layer::Conv(conv)],
            conv.input,
            conv.output,
            &arena,
            &x,
        );
        prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    }
    Ok(())
}

#[test]
fn write_behind_conv_matches_reference() {
    check(300, behind_case(), behind_property);
}

/// FastViT's downsampling geometry (7x7/s2/p3, x2 channels) writes 2 input
/// rows behind its read position.
#[test]
fn write_behind_lead_of_the_fastvit_downsample() {
    let conv = Conv {
        variant: ConvVariant::WriteBehind,
        input: tensor(0, 64, 64, 48),
        in_zp: 0,
        output: tensor(0, 32, 32, 96),
        out_zp: 0,
        kernel: 7,
        stride: 2,
        pad: 3,
        groups: 48,
        weights: Span::NONE,
        bias: Span::NONE,
        requant: Requant::default(),
        pad_values: Span::NONE,
        lut: Span::NONE,
    };
    assert_eq!(conv.write_behind_bytes(), 2 * 64 * 48);
}

// ---------------------------------------------------------------------------
// Layer::Stem
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct StemCase {
    first: Geometry,
    second: Geometry,
    slack: usize,
    seed: u64,
}

fn stem_case() -> impl Strategy<Value = StemCase> {
    (
        (2usize..=20, 2usize..=20, 1usize..=3, 1usize..=6),
        (
            prop_oneof![Just(1usize), Just(3), Just(5)],
            1usize..=2,
            0usize..=2,
        ),
        (
            grouping(),
            prop_oneof![Just(1usize), Just(3), Just(5)],
            1usize..=3,
            0usize..=2,
        ),
        prop_oneof![3 => Just(0usize), 1 => 1usize..40],
        any::<u64>(),
    )
        .prop_filter_map(
            "both convs must have outputs",
            |((h, w, cin, mid), (k1, s1, p1), (grp, k2, s2, p2), slack, seed)| {
                let first = Geometry {
                    h,
                    w,
                    cin,
                    cout: mid,
                    groups: 1,
                    k: k1,
                    stride: s1,
                    pad: p1.min(k1 / 2),
                };
                if !first.valid() {
                    return None;
                }
                let (mh, mw) = first.out_hw();
                let (cout, groups) = grp.apply(mid);
                let second = Geometry {
                    h: mh,
                    w: mw,
                    cin: mid,
                    cout,
                    groups,
                    k: k2,
                    stride: s2,
                    pad: p2.min(k2 / 2),
                };
                second.valid().then_some(StemCase {
                    first,
                    second,
                    slack,
                    seed,
                })
            },
        )
}

fn stem_property(case: StemCase) -> Result<(), TestCaseError> {
    let mut r = Gen(case.seed);
    let a = ConvParams::seeded(case.first, true, true, &mut r);
    let b = ConvParams::seeded(case.second, false, r.next() % 2 == 0, &mut r);
    let (n_in, n_mid, n_out) = (a.input(0).len(), a.output(0).len(), b.output(0).len());
    let x = r.i8s(n_in);

    // Reference: two convs, the intermediate in full.
    let mut blob = Blob::new();
    let (i, m, o) = (a.input(1), a.output(n_in + 2), b.output(n_in + n_mid + 3));
    let chain = [
        Layer::Conv(a.conv(&mut blob, i, m)),
        Layer::Conv(b.conv(&mut blob, m, o)),
    ];
    let arena = r.i8s(n_in + n_mid + n_out + 4);
    let (expected, _) = run(&blob.0, &chain, i, o, &arena, &x).unwrap();

    // Streamed: the output `lead + slack` before the input, the ring after.
    let mut blob = Blob::new();
    let mut stem = Stem {
        first: a.conv(&mut blob, a.input(0), a.output(0)),
        second: b.conv(&mut blob, a.output(0), b.output(0)),
    };
    let lead = stem.write_behind_bytes() + case.slack;
    let (o_at, i_at) = (1, 1 + lead);
    let ring_at = (i_at + n_in).max(o_at + n_out) + 3;
    stem.first.input.offset = i_at as u32;
    stem.second.output.offset = o_at as u32;
    stem.first.output.offset = ring_at as u32;
    stem.second.input.offset = ring_at as u32;
    let layer = Layer::Stem(stem);
    let ring_len = layer.scratch_bytes();
    assert_eq!(
        ring_len,
        Stem::ring_bytes(case.second.k, case.second.w, case.second.cin)
    );
    let arena = r.i8s(ring_at + ring_len + 2);
    let (input, output) = (stem.first.input, stem.second.output);
    let (got, after) = run(&blob.0, &[layer], input, output, &arena, &x).unwrap();
    same("streamed stem", &expected, &got)?;
    let mut before = arena.clone();
    before[i_at..i_at + n_in].copy_from_slice(&x);
    only_changed(
        &before,
        &after,
        &[bytes(output), (ring_at, ring_at + ring_len)],
    )?;

    if lead > 0 && case.slack == 0 && lead - 1 < n_out {
        let mut bad = stem;
        bad.first.input.offset -= 1;
        let r = run(
            &blob.0,
            &[Layer::Stem(bad)],
            bad.first.input,
            output,
            &arena,
            &x,
        );
        prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    }
    Ok(())
}

#[test]
fn stem_matches_two_reference_convs() {
    check(300, stem_case(), stem_property);
}

/// FastViT's stem (3x3/s2/p1 twice) at 256x256 needs its output one input
/// row (768 bytes) before the input, and a 3-row ring of 128x48.
#[test]
fn stem_lead_and_ring_of_fastvit() {
    let conv = |input, output, groups| Conv {
        variant: ConvVariant::Reference,
        input,
        in_zp: 0,
        output,
        out_zp: 0,
        kernel: 3,
        stride: 2,
        pad: 1,
        groups,
        weights: Span::NONE,
        bias: Span::NONE,
        requant: Requant::default(),
        pad_values: Span::NONE,
        lut: Span::NONE,
    };
    let mid = tensor(0, 128, 128, 48);
    let stem = Stem {
        first: conv(tensor(0, 256, 256, 3), mid, 1),
        second: conv(mid, tensor(0, 64, 64, 48), 48),
    };
    assert_eq!(stem.write_behind_bytes(), 256 * 3);
    assert_eq!(Layer::Stem(stem).scratch_bytes(), 3 * 128 * 48);
}

// ---------------------------------------------------------------------------
// Layer::ConvMlp
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MlpCase {
    h: usize,
    w: usize,
    c: usize,
    hidden: usize,
    k: usize,
    depthwise: bool,
    pad_values: bool,
    scratch_first: bool,
    seed: u64,
}

fn mlp_case() -> impl Strategy<Value = MlpCase> {
    (
        (
            1usize..=9,
            1usize..=9,
            prop_oneof![3 => 1usize..=6, 1 => 15usize..=34],
            1usize..=20,
        ),
        (
            prop_oneof![Just(1usize), Just(3), Just(5), Just(7)],
            any::<bool>(),
            any::<bool>(),
        ),
        (any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |((h, w, c, hidden), (k, depthwise, pad_values), (scratch_first, seed))| MlpCase {
                h,
                w,
                c,
                hidden,
                k,
                depthwise,
                pad_values,
                scratch_first,
                seed,
            },
        )
}

struct AddParams {
    a_zp: i32,
    b_zp: i32,
    out_zp: i32,
    mults: [i32; 3],
    shifts: [i32; 3],
}

impl AddParams {
    fn seeded(r: &mut Gen) -> Self {
        AddParams {
            a_zp: r.zp(),
            b_zp: r.zp(),
            out_zp: r.zp(),
            mults: [0; 3].map(|_| r.range(1 << 30, i32::MAX as i64) as i32),
            shifts: [
                r.range(-1, 0) as i32,
                r.range(-1, 0) as i32,
                r.range(-24, -18) as i32,
            ],
        }
    }

    fn layer(&self, a: TensorRef, b: TensorRef, output: TensorRef) -> Add {
        Add {
            a,
            a_zp: self.a_zp,
            a_mult: self.mults[0],
            a_shift: self.shifts[0],
            b,
            b_zp: self.b_zp,
            b_mult: self.mults[1],
            b_shift: self.shifts[1],
            output,
            out_zp: self.out_zp,
            out_mult: self.mults[2],
            out_shift: self.shifts[2],
            left_shift: 20,
        }
    }
}

/// The fused layer's parameters and a builder for both schedules.
struct Mlp {
    case: MlpCase,
    dw: ConvParams,
    fc1: ConvParams,
    fc2: ConvParams,
    add: AddParams,
}

impl Mlp {
    fn seeded(case: MlpCase) -> (Self, Gen) {
        let mut r = Gen(case.seed);
        let (h, w, c) = (case.h, case.w, case.c);
        let geo = |cin, cout, groups, k| Geometry {
            h,
            w,
            cin,
            cout,
            groups,
            k,
            stride: 1,
            pad: k / 2,
        };
        let groups = if case.depthwise { c } else { 1 };
        let dw = ConvParams::seeded(geo(c, c, groups, case.k), case.pad_values, false, &mut r);
        let fc1 = ConvParams::seeded(geo(c, case.hidden, 1, 1), false, true, &mut r);
        let fc2 = ConvParams::seeded(geo(case.hidden, c, 1, 1), false, false, &mut r);
        let add = AddParams::seeded(&mut r);
        (
            Mlp {
                case,
                dw,
                fc1,
                fc2,
                add,
            },
            r,
        )
    }

    /// The fused layer with `x` at `x_at` and scratch at `scratch`.
    fn fused(&self, blob: &mut Blob, x_at: usize, scratch: usize) -> ConvMlp {
        let (h, w, c, hid) = (self.case.h, self.case.w, self.case.c, self.case.hidden);
        let x = tensor(x_at, h, w, c);
        let (d, hidden) = (tensor(0, h, w, c), tensor(0, h, w, hid));
        ConvMlp {
            dw: self.dw.conv(blob, x, d),
            fc1: self.fc1.conv(blob, d, hidden),
            fc2: self.fc2.conv(blob, hidden, d),
            add: self.add.layer(x, d, x),
            scratch: scratch as u32,
        }
    }
}

fn mlp_property(case: MlpCase) -> Result<(), TestCaseError> {
    let (m, mut r) = Mlp::seeded(case.clone());
    let (h, w, c, hid) = (case.h, case.w, case.c, case.hidden);
    let n = h * w * c;
    let x = r.i8s(n);

    // Reference: dw, fc1, fc2 and the add as separate layers.
    let mut blob = Blob::new();
    let t = |i: usize, ch| tensor(1 + i * (h * w * hid.max(c) + 1), h, w, ch);
    let (tx, td, th, tf, to) = (t(0, c), t(1, c), t(2, hid), t(3, c), t(4, c));
    let chain = [
        Layer::Conv(m.dw.conv(&mut blob, tx, td)),
        Layer::Conv(m.fc1.conv(&mut blob, td, th)),
        Layer::Conv(m.fc2.conv(&mut blob, th, tf)),
        Layer::Add(m.add.layer(tx, tf, to)),
    ];
    let arena = r.i8s(to.end() + 1);
    let (expected, _) = run(&blob.0, &chain, tx, to, &arena, &x).unwrap();

    // Fused, in place.
    let scratch_len = ConvMlp::scratch_bytes(case.k, w, c, hid);
    let (x_at, s_at) = if case.scratch_first {
        (scratch_len + 3, 1)
    } else {
        (1, n + 2)
    };
    let mut blob = Blob::new();
    let layer = Layer::ConvMlp(m.fused(&mut blob, x_at, s_at));
    assert_eq!(layer.scratch_bytes(), scratch_len);
    let arena = r.i8s(n + scratch_len + 5);
    let tx = tensor(x_at, h, w, c);
    let (got, after) = run(&blob.0, &[layer], tx, tx, &arena, &x).unwrap();
    same("fused ConvMlp", &expected, &got)?;
    let mut before = arena.clone();
    before[x_at..x_at + n].copy_from_slice(&x);
    only_changed(&before, &after, &[bytes(tx), (s_at, s_at + scratch_len)])?;

    // fc1 and fc2 on the fast pointwise kernel: same bits, same scratch.
    let mut blob = Blob::new();
    let mut fused = m.fused(&mut blob, x_at, s_at);
    fused.fc1.variant = ConvVariant::Pointwise {
        folded_bias: blob.i32s(&m.fc1.folded_bias()),
    };
    fused.fc2.variant = ConvVariant::Pointwise {
        folded_bias: blob.i32s(&m.fc2.folded_bias()),
    };
    let layer = Layer::ConvMlp(fused);
    assert_eq!(layer.scratch_bytes(), scratch_len);
    let (got, after) = run(&blob.0, &[layer], tx, tx, &arena, &x).unwrap();
    same("fused ConvMlp, pointwise fc1/fc2", &expected, &got)?;
    only_changed(&before, &after, &[bytes(tx), (s_at, s_at + scratch_len)])?;

    // And dw on the fast depthwise kernel: same bits, same scratch.
    if case.depthwise {
        let mut blob = Blob::new();
        let mut fused = m.fused(&mut blob, x_at, s_at);
        fused.dw = m.dw.depthwise(&mut blob, fused.dw.input, fused.dw.output);
        fused.fc1.variant = ConvVariant::Pointwise {
            folded_bias: blob.i32s(&m.fc1.folded_bias()),
        };
        fused.fc2.variant = ConvVariant::Pointwise {
            folded_bias: blob.i32s(&m.fc2.folded_bias()),
        };
        let layer = Layer::ConvMlp(fused);
        assert_eq!(layer.scratch_bytes(), scratch_len);
        let (got, after) = run(&blob.0, &[layer], tx, tx, &arena, &x).unwrap();
        same(
            "fused ConvMlp, depthwise dw, pointwise fc1/fc2",
            &expected,
            &got,
        )?;
        only_changed(&before, &after, &[bytes(tx), (s_at, s_at + scratch_len)])?;
    }
    Ok(())
}

#[test]
fn conv_mlp_matches_conv_conv_conv_add() {
    check(300, mlp_case(), mlp_property);
}

#[test]
fn macs_of_fused_layers_add_up() {
    let case = MlpCase {
        h: 4,
        w: 5,
        c: 3,
        hidden: 9,
        k: 7,
        depthwise: true,
        pad_values: false,
        scratch_first: false,
        seed: 7,
    };
    let (m, _) = Mlp::seeded(case);
    let l = m.fused(&mut Blob::new(), 0, 0);
    assert_eq!(
        Layer::ConvMlp(l).macs(),
        20 * 3 * 49 + 20 * 9 * 3 + 20 * 3 * 9
    );
}

// ---------------------------------------------------------------------------
// Corrupt fused layers
// ---------------------------------------------------------------------------

/// A layer, its model input and output, and its arena size.
type Valid = (Layer, TensorRef, TensorRef, usize);

/// A small valid schedule of each new form, with its model input/output.
fn valid_layers() -> (Vec<u8>, Vec<Valid>) {
    let mut blob = Blob::new();
    let mut r = Gen(99);
    let mut out = Vec::new();

    let g = Geometry {
        h: 5,
        w: 4,
        cin: 3,
        cout: 3,
        groups: 3,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let p = ConvParams::seeded(g, false, true, &mut r);
    let t = p.input(0);
    let mut conv = p.conv(&mut blob, t, t);
    conv.variant = ConvVariant::InPlace { scratch: 64 };
    out.push((Layer::Conv(conv), t, t, 128));

    let g = Geometry {
        h: 8,
        w: 8,
        cin: 2,
        cout: 4,
        groups: 2,
        k: 7,
        stride: 2,
        pad: 3,
    };
    let p = ConvParams::seeded(g, false, false, &mut r);
    let mut conv = p.conv(&mut blob, p.input(0), p.output(0));
    let lead = conv.write_behind_bytes();
    conv.variant = ConvVariant::WriteBehind;
    conv.input.offset = lead as u32;
    out.push((Layer::Conv(conv), conv.input, conv.output, 256));

    // A 1x1 expansion then a x2-multiplier 3x3: the output grows faster than
    // the input is consumed, so the least lead is large (328 bytes).
    let a = ConvParams::seeded(
        Geometry {
            h: 8,
            w: 8,
            cin: 1,
            cout: 4,
            groups: 1,
            k: 1,
            stride: 1,
            pad: 0,
        },
        true,
        true,
        &mut r,
    );
    let b = ConvParams::seeded(
        Geometry {
            h: 8,
            w: 8,
            cin: 4,
            cout: 8,
            groups: 4,
            k: 3,
            stride: 1,
            pad: 1,
        },
        false,
        true,
        &mut r,
    );
    let mut stem = Stem {
        first: a.conv(&mut blob, a.input(0), a.output(0)),
        second: b.conv(&mut blob, a.output(0), b.output(0)),
    };
    assert_eq!(stem.write_behind_bytes(), 328);
    stem.first.input.offset = 328;
    stem.first.output.offset = 528;
    stem.second.input.offset = 528;
    out.push((Layer::Stem(stem), stem.first.input, stem.second.output, 640));

    let (m, _) = Mlp::seeded(MlpCase {
        h: 4,
        w: 3,
        c: 2,
        hidden: 6,
        k: 3,
        depthwise: true,
        pad_values: false,
        scratch_first: false,
        seed: 5,
    });
    let l = m.fused(&mut blob, 0, 32);
    out.push((Layer::ConvMlp(l), l.dw.input, l.dw.input, 128));
    (blob.0, out)
}

fn run_layer(blob: &[u8], l: Layer, i: TensorRef, o: TensorRef, arena: usize) -> Result<(), Error> {
    let arena = vec![0i8; arena];
    let image = vec![1i8; i.len()];
    run(blob, &[l], i, o, &arena, &image).map(|_| ())
}

#[test]
fn valid_fused_layers_run() {
    let (blob, layers) = valid_layers();
    for (l, i, o, arena) in layers {
        assert_eq!(run_layer(&blob, l, i, o, arena), Ok(()), "{l:?}");
    }
}

#[test]
fn corrupt_fused_layers_are_invalid() {
    let (blob, layers) = valid_layers();
    let invalid = Err(Error::InvalidLayer { layer: 0 });
    let expect = |l: Layer, i, o, arena, what: &str| {
        assert_eq!(run_layer(&blob, l, i, o, arena), invalid, "{what}");
    };
    let conv = |l: &Layer| match l {
        Layer::Conv(c) => *c,
        _ => unreachable!(),
    };

    // In place.
    let (l, i, o, n) = layers[0];
    let c = conv(&l);
    let ip = |f: &dyn Fn(&mut Conv)| {
        let mut c = c;
        f(&mut c);
        Layer::Conv(c)
    };
    expect(ip(&|c| c.output.offset = 16), i, o, n, "output moved");
    expect(ip(&|c| c.stride = 2), i, o, n, "stride 2");
    expect(ip(&|c| c.pad = 0), i, o, n, "pad 0");
    expect(
        ip(&|c| c.variant = ConvVariant::InPlace { scratch: 40 }),
        i,
        o,
        n,
        "ring overlaps the tensor",
    );
    expect(
        ip(&|c| c.variant = ConvVariant::InPlace { scratch: 110 }),
        i,
        o,
        n,
        "ring past the arena",
    );
    expect(
        ip(&|c| c.variant = ConvVariant::InPlace { scratch: u32::MAX }),
        i,
        o,
        n,
        "ring offset overflows",
    );

    // Write behind.
    let (l, i, o, n) = layers[1];
    let c = conv(&l);
    let mut bad = c;
    bad.output.offset = c.input.offset + 1;
    expect(
        Layer::Conv(bad),
        i,
        bad.output,
        n,
        "output ahead of the input",
    );
    let mut bad = c;
    bad.input.offset -= 16;
    expect(Layer::Conv(bad), bad.input, o, n, "lead too small");
    let mut bad = c;
    bad.input.offset = 250;
    expect(Layer::Conv(bad), i, o, n, "input past the arena");

    // Stem.
    let (l, i, o, n) = layers[2];
    let s = match l {
        Layer::Stem(s) => s,
        _ => unreachable!(),
    };
    let st = |f: &dyn Fn(&mut Stem)| {
        let mut s = s;
        f(&mut s);
        Layer::Stem(s)
    };
    expect(
        st(&|s| s.second.input.offset = 544),
        i,
        o,
        n,
        "ring names differ",
    );
    expect(
        st(&|s| {
            s.first.output.offset = 384;
            s.second.input.offset = 384;
        }),
        i,
        o,
        n,
        "ring overlaps the input",
    );
    expect(
        st(&|s| {
            s.first.output.offset = 600;
            s.second.input.offset = 600;
        }),
        i,
        o,
        n,
        "ring past the arena",
    );
    expect(st(&|s| s.second.kernel = 0), i, o, n, "kernel 0");
    expect(
        st(&|s| s.first.variant = ConvVariant::WriteBehind),
        i,
        o,
        n,
        "variant",
    );
    expect(
        st(&|s| {
            s.first.output.offset = 500;
            s.second.input.offset = 500;
        }),
        i,
        o,
        n,
        "ring overlaps the output",
    );
    expect(st(&|s| s.second.input.c = 3), i, o, n, "intermediate shape");
    expect(
        st(&|s| s.first.input.offset -= 16),
        Layer::Stem(s).input(),
        o,
        n,
        "lead too small",
    );

    // ConvMlp.
    let (l, i, o, n) = layers[3];
    let m = match l {
        Layer::ConvMlp(m) => m,
        _ => unreachable!(),
    };
    let ml = |f: &dyn Fn(&mut ConvMlp)| {
        let mut m = m;
        f(&mut m);
        Layer::ConvMlp(m)
    };
    expect(ml(&|m| m.add.output.offset = 48), i, o, n, "out of place");
    expect(ml(&|m| m.add.a.offset = 48), i, o, n, "residual elsewhere");
    expect(ml(&|m| m.dw.stride = 2), i, o, n, "dw stride");
    expect(ml(&|m| m.fc1.kernel = 3), i, o, n, "fc1 not 1x1");
    expect(ml(&|m| m.fc2.output.c = 3), i, o, n, "fc2 width");
    expect(ml(&|m| m.fc1.input.c = 3), i, o, n, "fc1 input width");
    expect(ml(&|m| m.add.left_shift = 24), i, o, n, "left shift");
    expect(ml(&|m| m.scratch = 16), i, o, n, "scratch overlaps x");
    expect(ml(&|m| m.scratch = 120), i, o, n, "scratch past the arena");
    expect(
        ml(&|m| m.fc2.variant = ConvVariant::WriteBehind),
        i,
        o,
        n,
        "variant",
    );
}

/// Random corruption of any numeric field of a fused layer: the executor
/// returns (`Ok` or `InvalidLayer`), it never panics.
#[test]
fn random_corruption_never_panics() {
    let (blob, layers) = valid_layers();
    let mut r = Gen(2024);
    let value = |r: &mut Gen| -> u32 {
        match r.next() % 4 {
            0 => r.next() as u32,
            1 => r.range(0, 8) as u32,
            2 => r.range(0, 300) as u32,
            _ => u32::MAX - r.range(0, 3) as u32,
        }
    };
    fn mutate_tensor(t: &mut TensorRef, field: u64, v: u32) {
        match field % 4 {
            0 => t.offset = v,
            1 => t.h = v as u16,
            2 => t.w = v as u16,
            _ => t.c = v as u16,
        }
    }
    fn mutate_conv(c: &mut Conv, field: u64, v: u32) {
        match field % 12 {
            0..=3 => mutate_tensor(&mut c.input, field / 12, v),
            4..=7 => mutate_tensor(&mut c.output, field / 12, v),
            8 => c.kernel = v as u8,
            9 => c.stride = v as u8,
            10 => c.pad = v as u8,
            _ => c.groups = v as u16,
        }
    }
    for _ in 0..4000 {
        let (l, i, o, n) = layers[(r.next() % layers.len() as u64) as usize];
        let mut l = l;
        let field = r.next();
        let v = value(&mut r);
        match &mut l {
            Layer::Conv(c) => {
                if field % 13 == 12 {
                    c.variant = ConvVariant::InPlace { scratch: v };
                } else {
                    mutate_conv(c, field, v);
                }
            }
            Layer::Stem(s) => {
                if field % 2 == 0 {
                    mutate_conv(&mut s.first, field / 2, v)
                } else {
                    mutate_conv(&mut s.second, field / 2, v)
                }
            }
            Layer::ConvMlp(m) => match field % 6 {
                0 => mutate_conv(&mut m.dw, field / 6, v),
                1 => mutate_conv(&mut m.fc1, field / 6, v),
                2 => mutate_conv(&mut m.fc2, field / 6, v),
                3 => mutate_tensor(&mut m.add.b, field / 6, v),
                4 => m.add.left_shift = v as u8,
                _ => m.scratch = v,
            },
            _ => unreachable!(),
        }
        let _ = run_layer(&blob, l, i, o, n);
    }
}
