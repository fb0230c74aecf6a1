//! Proves every reference kernel against a naive model of its integer
//! contract (the doc comments in `runtime/src/schedule.rs`), on random shapes
//! and on named edge cases, and checks the executor's error paths.
//!
//! Kernels are driven the way generated code drives them: a weight blob, a
//! `[Layer]` schedule and an arena, run through `Model::run_normalized` (or
//! `Model::run`). The naive models are written independently of the runtime:
//! convolution works on NCHW planes of an explicitly padded copy of the input,
//! every accumulator is i64, and requantization is an exact i128 model of
//! `floor((acc * m + 2^(t-1)) / 2^t)`, `t = 31 - shift`, not `runtime::quant`.

use std::cell::Cell;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use runtime::{
    Add, Conv, ConvVariant, Error, FullyConnected, GlobalAvgPool, Layer, Lut, Model, Requant, Span,
    SqueezeExcite, TensorRef,
};

// ---------------------------------------------------------------------------
// Comparison helpers
// ---------------------------------------------------------------------------

/// Describes the first element where `got` differs from `expected`, if any;
/// with an NHWC `shape`, also as `(y, x, c)`.
fn first_difference(
    expected: &[i8],
    got: &[i8],
    shape: Option<(usize, usize, usize)>,
) -> Option<String> {
    if expected.len() != got.len() {
        return Some(format!(
            "length differs: expected {} elements, got {}",
            expected.len(),
            got.len()
        ));
    }
    let i = expected.iter().zip(got).position(|(e, g)| e != g)?;
    let count = expected.iter().zip(got).filter(|(e, g)| e != g).count();
    let at = match shape {
        Some((_, w, c)) => format!(" = (y, x, c) ({}, {}, {})", i / c / w, i / c % w, i % c),
        None => String::new(),
    };
    Some(format!(
        "first difference at index {i}{at}: expected {}, got {} ({count} of {} elements differ)",
        expected[i],
        got[i],
        expected.len()
    ))
}

/// Asserts equality, reporting the first differing index with both values.
#[track_caller]
fn assert_same(name: &str, expected: &[i8], got: &[i8]) {
    if let Some(why) = first_difference(expected, got, None) {
        panic!("{name}: {why}");
    }
}

/// [`assert_same`] for property tests (a failure lets proptest shrink), with
/// the NHWC shape of the compared tensor.
fn prop_same(
    name: &str,
    shape: (usize, usize, usize),
    expected: &[i8],
    got: &[i8],
) -> Result<(), TestCaseError> {
    match first_difference(expected, got, Some(shape)) {
        Some(why) => Err(TestCaseError::fail(format!("{name}: {why}"))),
        None => Ok(()),
    }
}

/// Runs a property over `cases` random cases (random seed each run;
/// `PROPTEST_CASES` overrides the count for soak runs).
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
        max_shrink_iters: 4096,
        ..Config::default()
    };
    if let Err(e) = TestRunner::new(config).run(&strategy, test) {
        panic!("{e}");
    }
}

/// Counts requantized outputs that were clamped to the int8 range, so a
/// property can assert its random parameters exercised both regimes.
#[derive(Default)]
struct Tally {
    total: Cell<u64>,
    clamped: Cell<u64>,
}

impl Tally {
    fn record(&self, clamped: bool) {
        self.total.set(self.total.get() + 1);
        self.clamped.set(self.clamped.get() + u64::from(clamped));
    }

    /// At least `min_percent`% of outputs were in range and at least one was clamped.
    fn assert_mixed(&self, name: &str, min_percent: u64) {
        let (total, clamped) = (self.total.get(), self.clamped.get());
        eprintln!("{name}: {total} requantized values, {clamped} clamped");
        assert!(total > 0, "{name}: nothing was requantized");
        assert!(
            (total - clamped) * 100 >= total * min_percent,
            "{name}: only {} of {total} outputs are unsaturated",
            total - clamped
        );
        assert!(clamped > 0, "{name}: no output saturated");
    }
}

// ---------------------------------------------------------------------------
// The naive integer model
// ---------------------------------------------------------------------------

/// `floor((acc * m + 2^(t-1)) / 2^t)` with `t = 31 - shift`, exactly in i128,
/// saturated to i32.
fn rq(acc: i64, m: i32, shift: i32) -> i64 {
    let t = 31 - shift;
    assert!(
        (1..=62).contains(&t),
        "shift {shift} is outside the contract"
    );
    let num = i128::from(acc) * i128::from(m) + (1i128 << (t - 1));
    let q = num.div_euclid(1i128 << t);
    q.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i64
}

/// `clamp(rq(acc) + zp, -128, 127)`, recording whether it clamped.
fn rq_i8(acc: i64, m: i32, shift: i32, zp: i32, tally: &Tally) -> i8 {
    let v = rq(acc, m, shift) + i64::from(zp);
    let clamped = v.clamp(-128, 127);
    tally.record(clamped != v);
    clamped as i8
}

/// Accumulators are i32 in the contract: make sure a generator never
/// produces one that overflows (the model itself is exact).
fn acc32(acc: i64) -> i64 {
    assert!(
        i32::try_from(acc).is_ok(),
        "test generator bug: accumulator {acc} overflows i32"
    );
    acc
}

/// 256-entry table indexed by `q + 128` (the sign-bit flip of the byte).
fn look(table: &[i8], q: i8) -> i8 {
    table[usize::from(q as u8 ^ 0x80)]
}

// ---------------------------------------------------------------------------
// Weight blob, arena layout, seeded data
// ---------------------------------------------------------------------------

/// A weight blob under construction. Starts with junk so no real data sits
/// at offset 0, and pads with junk up to each 4-byte aligned i32 span.
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

    fn opt_i8s(&mut self, v: Option<&Vec<i8>>) -> Span {
        v.map_or(Span::NONE, |v| self.i8s(v))
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

    fn requant(&mut self, mult: &[i32], shift: &[i32]) -> Requant {
        Requant {
            multiplier: self.i32s(mult),
            shift: self.shifts(shift),
        }
    }
}

/// SplitMix64: bulk data for named cases and arena garbage.
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

    fn mults(&mut self, n: usize) -> Vec<i32> {
        self.i32s(n, 1 << 30, i32::MAX as i64)
    }

    fn shifts(&mut self, n: usize) -> Vec<i32> {
        self.i32s(n, -12, 0)
    }

    fn biases(&mut self, n: usize) -> Vec<i32> {
        self.i32s(n, -(1 << 14), 1 << 14)
    }
}

/// Where a case's regions go in the arena: in `order`, each preceded by
/// `gap` bytes, everything else filled with garbage from `seed`.
#[derive(Clone, Debug)]
struct Layout {
    order: Vec<usize>,
    gap: usize,
    seed: u64,
}

impl Layout {
    fn fixed(n: usize, seed: u64) -> Self {
        Layout {
            order: (0..n).collect(),
            gap: 3,
            seed,
        }
    }

    /// Offsets of regions of `sizes` and a garbage-filled arena holding them.
    fn place(&self, sizes: &[usize]) -> (Vec<u32>, Vec<i8>) {
        assert_eq!(sizes.len(), self.order.len());
        let mut offsets = vec![0u32; sizes.len()];
        let mut cursor = self.gap;
        for &i in &self.order {
            offsets[i] = cursor as u32;
            cursor += sizes[i] + self.gap;
        }
        (offsets, Gen(self.seed).i8s(cursor))
    }
}

fn tensor(offset: u32, h: usize, w: usize, c: usize) -> TensorRef {
    TensorRef {
        offset,
        h: h as u16,
        w: w as u16,
        c: c as u16,
    }
}

fn range_of(t: TensorRef) -> (usize, usize) {
    (t.offset as usize, t.end())
}

fn write(arena: &mut [i8], t: TensorRef, data: &[i8]) {
    arena[t.offset as usize..t.end()].copy_from_slice(data);
}

/// Runs `layer` as a one-layer model through `Model::run_normalized`, with
/// `input` as the model input and `output` as the model output, on a copy of
/// `arena` followed by a tail the model does not own. Asserts that only the
/// `writable` byte ranges changed and that `after_layer` saw the one layer.
fn run_single(
    weights: &[u8],
    layer: Layer,
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
    writable: &[(usize, usize)],
) -> Result<Vec<i8>, Error> {
    let layers = [layer];
    let model = Model {
        weights,
        layers: &layers,
        layer_names: &["under_test"],
        stem_normalized: layer,
        arena_bytes: arena.len(),
        input,
        normalized_input_zp: 0,
        output,
        output_zp: 0,
    };
    let mut work = arena.to_vec();
    work.extend((0..13).map(|i| 0x55 ^ i as i8));
    let before = work.clone();
    let image = arena[input.offset as usize..input.end()].to_vec();
    let mut out = vec![0x3C; output.len()];
    let mut seen = Vec::new();
    model.run_normalized(&mut work, &image, &mut out, |i, a| seen.push((i, a.len())))?;
    assert_eq!(seen, [(0, arena.len())], "after_layer calls");
    for (i, (b, a)) in before.iter().zip(&work).enumerate() {
        let allowed = writable.iter().any(|&(s, e)| (s..e).contains(&i));
        assert!(
            b == a || allowed,
            "arena byte {i} outside the layer's output and scratch changed: {b} -> {a}"
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Strategies shared by all ops
// ---------------------------------------------------------------------------

fn zp() -> impl Strategy<Value = i32> {
    prop_oneof![1 => Just(-128), 1 => Just(127), 8 => -128i32..=127]
}

/// Mostly uniform in `[2^30, 2^31)`; sometimes 2^30 or 3 * 2^29, whose
/// products with odd accumulators land exactly on rounding ties.
fn multiplier() -> impl Strategy<Value = i32> {
    prop_oneof![6 => (1i32 << 30)..=i32::MAX, 1 => Just(1 << 30), 1 => Just(3 << 29)]
}

fn shift() -> impl Strategy<Value = i32> {
    -12i32..=0
}

fn bias() -> impl Strategy<Value = i32> {
    -(1i32 << 14)..=(1 << 14)
}

fn i8s(n: usize) -> impl Strategy<Value = Vec<i8>> {
    vec(any::<i8>(), n)
}

fn table() -> impl Strategy<Value = Vec<i8>> {
    i8s(256)
}

fn layout(n: usize) -> impl Strategy<Value = Layout> {
    (
        Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
        0usize..8,
        any::<u64>(),
    )
        .prop_map(|(order, gap, seed)| Layout { order, gap, seed })
}

// ---------------------------------------------------------------------------
// Conv
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct ConvShape {
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    groups: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

#[derive(Clone, Debug)]
struct ConvParams {
    s: ConvShape,
    in_zp: i32,
    out_zp: i32,
    weights: Vec<i8>,
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
    pad_values: Option<Vec<i8>>,
    lut: Option<Vec<i8>>,
}

impl ConvShape {
    fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.k) / self.stride + 1,
            (self.w + 2 * self.pad - self.k) / self.stride + 1,
        )
    }

    fn weight_len(&self) -> usize {
        self.cout * self.k * self.k * (self.cin / self.groups)
    }
}

impl ConvParams {
    /// Random parameters from a seed (named cases).
    fn seeded(s: ConvShape, g: &mut Gen) -> Self {
        ConvParams {
            s,
            in_zp: g.zp(),
            out_zp: g.zp(),
            weights: g.i8s(s.weight_len()),
            bias: g.biases(s.cout),
            mult: g.mults(s.cout),
            shift: g.shifts(s.cout),
            pad_values: None,
            lut: None,
        }
    }

    fn input_ref(&self, offset: u32) -> TensorRef {
        tensor(offset, self.s.h, self.s.w, self.s.cin)
    }

    fn output_ref(&self, offset: u32) -> TensorRef {
        let (oh, ow) = self.s.out_hw();
        tensor(offset, oh, ow, self.s.cout)
    }

    fn layer(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        Conv {
            variant: ConvVariant::Reference,
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            kernel: self.s.k as u8,
            stride: self.s.stride as u8,
            pad: self.s.pad as u8,
            groups: self.s.groups as u16,
            weights: blob.i8s(&self.weights),
            bias: blob.i32s(&self.bias),
            requant: blob.requant(&self.mult, &self.shift),
            pad_values: blob.opt_i8s(self.pad_values.as_ref()),
            lut: blob.opt_i8s(self.lut.as_ref()),
        }
    }

    /// Runs the conv alone in an arena laid out by `layout`.
    fn run(&self, input: &[i8], layout: &Layout) -> Result<Vec<i8>, Error> {
        let (oh, ow) = self.s.out_hw();
        let sizes = [input.len(), oh * ow * self.s.cout];
        let (off, mut arena) = layout.place(&sizes);
        let (i, o) = (self.input_ref(off[0]), self.output_ref(off[1]));
        write(&mut arena, i, input);
        let mut blob = Blob::new();
        let layer = Layer::Conv(self.layer(&mut blob, i, o));
        run_single(&blob.0, layer, i, o, &arena, &[range_of(o)])
    }
}

/// The contract, NCHW-style: pad a planar copy of the input explicitly, then
/// for each output channel accumulate whole output planes tap by tap in i64.
fn naive_conv(p: &ConvParams, input: &[i8], tally: &Tally) -> Vec<i8> {
    let s = p.s;
    assert_eq!(input.len(), s.h * s.w * s.cin);
    let (ph, pw) = (s.h + 2 * s.pad, s.w + 2 * s.pad);
    let plane_len = ph * pw;
    let mut planes = vec![0i64; s.cin * plane_len];
    for c in 0..s.cin {
        let border = match &p.pad_values {
            Some(v) => i64::from(v[c]),
            None => i64::from(p.in_zp),
        };
        planes[c * plane_len..(c + 1) * plane_len].fill(border);
    }
    for (i, &v) in input.iter().enumerate() {
        let (pixel, c) = (i / s.cin, i % s.cin);
        let (y, x) = (pixel / s.w, pixel % s.w);
        planes[c * plane_len + (y + s.pad) * pw + x + s.pad] = i64::from(v);
    }
    let (oh, ow) = s.out_hw();
    let (cin_g, cout_g) = (s.cin / s.groups, s.cout / s.groups);
    let w_index = |o: usize, ky: usize, kx: usize, ci: usize| {
        o * s.k * s.k * cin_g + ky * s.k * cin_g + kx * cin_g + ci
    };
    let mut out = vec![0i8; oh * ow * s.cout];
    for o in 0..s.cout {
        let group = o / cout_g;
        let mut acc = vec![i64::from(p.bias[o]); oh * ow];
        for ci in 0..cin_g {
            let plane = &planes[(group * cin_g + ci) * plane_len..][..plane_len];
            for ky in 0..s.k {
                for kx in 0..s.k {
                    let wt = i64::from(p.weights[w_index(o, ky, kx, ci)]);
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let v = plane[(oy * s.stride + ky) * pw + ox * s.stride + kx];
                            acc[oy * ow + ox] += wt * (v - i64::from(p.in_zp));
                        }
                    }
                }
            }
        }
        for (pos, &a) in acc.iter().enumerate() {
            let y = rq_i8(acc32(a), p.mult[o], p.shift[o], p.out_zp, tally);
            out[pos * s.cout + o] = match &p.lut {
                Some(t) => look(t, y),
                None => y,
            };
        }
    }
    out
}

/// The conv configurations of FastViT-T8, plus a generic one.
#[derive(Clone, Copy, Debug)]
enum ConvKind {
    /// Dense 3x3 stride 2 with 3 input channels.
    Stem,
    /// Depthwise (groups = cin = cout).
    Depthwise { k: usize, stride: usize },
    /// groups = cin, cout = 2 * cin.
    Multiplier2 { k: usize, stride: usize },
    /// Dense 1x1.
    Pointwise,
    /// Any groups, kernel 1/3/5/7, stride 1..=3, pad 0..=k/2.
    Generic,
}

const KINDS: [ConvKind; 8] = [
    ConvKind::Stem,
    ConvKind::Depthwise { k: 3, stride: 1 },
    ConvKind::Depthwise { k: 3, stride: 2 },
    ConvKind::Depthwise { k: 7, stride: 1 },
    ConvKind::Multiplier2 { k: 7, stride: 2 },
    ConvKind::Multiplier2 { k: 3, stride: 1 },
    ConvKind::Pointwise,
    ConvKind::Generic,
];

impl ConvKind {
    /// The shape for channel count `c` (meaning depends on the kind) and spatial size.
    fn shape(self, h: usize, w: usize, cin: usize, cout: usize) -> ConvShape {
        let (groups, cout, k, stride) = match self {
            ConvKind::Stem => (1, cout, 3, 2),
            ConvKind::Depthwise { k, stride } => (cin, cin, k, stride),
            ConvKind::Multiplier2 { k, stride } => (cin, 2 * cin, k, stride),
            ConvKind::Pointwise => (1, cout, 1, 1),
            ConvKind::Generic => unreachable!("generic shapes come from the strategy"),
        };
        let cin = if matches!(self, ConvKind::Stem) {
            3
        } else {
            cin
        };
        ConvShape {
            h,
            w,
            cin,
            cout,
            groups,
            k,
            stride,
            pad: k / 2,
        }
    }
}

fn conv_shape(kind: ConvKind) -> BoxedStrategy<ConvShape> {
    match kind {
        ConvKind::Generic => (
            1usize..=4,
            1usize..=6,
            1usize..=6,
            prop_oneof![Just(1usize), Just(3), Just(5), Just(7)],
            1usize..=3,
        )
            .prop_flat_map(|(groups, cin_g, cout_g, k, stride)| {
                (0..=k / 2).prop_flat_map(move |pad| {
                    let min = k.saturating_sub(2 * pad).max(1);
                    (min..=12, min..=12).prop_map(move |(h, w)| ConvShape {
                        h,
                        w,
                        cin: groups * cin_g,
                        cout: groups * cout_g,
                        groups,
                        k,
                        stride,
                        pad,
                    })
                })
            })
            .boxed(),
        ConvKind::Multiplier2 { .. } => (1usize..=12, 1usize..=12, 1usize..=12)
            .prop_map(move |(h, w, c)| kind.shape(h, w, c, 0))
            .boxed(),
        _ => (1usize..=12, 1usize..=12, 1usize..=24, 1usize..=24)
            .prop_map(move |(h, w, cin, cout)| kind.shape(h, w, cin, cout))
            .boxed(),
    }
}

#[derive(Clone, Copy, Debug)]
enum PadValues {
    Never,
    Always,
    Sometimes,
}

#[derive(Clone, Debug)]
struct ConvCase {
    p: ConvParams,
    input: Vec<i8>,
    layout: Layout,
}

fn conv_case(kind: ConvKind, pad_values: PadValues) -> impl Strategy<Value = ConvCase> {
    let with_pad_values = match pad_values {
        PadValues::Never => Just(false).boxed(),
        PadValues::Always => Just(true).boxed(),
        PadValues::Sometimes => any::<bool>().boxed(),
    };
    (conv_shape(kind), with_pad_values).prop_flat_map(|(s, with_pv)| {
        let pad_values = if with_pv {
            i8s(s.cin).prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        };
        (
            (Just(s), zp(), zp(), i8s(s.h * s.w * s.cin)),
            (
                i8s(s.weight_len()),
                vec(bias(), s.cout),
                vec(multiplier(), s.cout),
                vec(shift(), s.cout),
            ),
            (pad_values, proptest::option::of(table()), layout(2)),
        )
            .prop_map(
                |((s, in_zp, out_zp, input), (weights, bias, mult, shift), (pv, lut, layout))| {
                    ConvCase {
                        p: ConvParams {
                            s,
                            in_zp,
                            out_zp,
                            weights,
                            bias,
                            mult,
                            shift,
                            pad_values: pv,
                            lut,
                        },
                        input,
                        layout,
                    }
                },
            )
    })
}

fn conv_property(kind: ConvKind, pad_values: PadValues, cases: u32) {
    let name = format!("conv {kind:?} pad_values {pad_values:?}");
    let tally = Tally::default();
    check(cases, conv_case(kind, pad_values), |case| {
        let expected = naive_conv(&case.p, &case.input, &tally);
        let got = case
            .p
            .run(&case.input, &case.layout)
            .map_err(|e| TestCaseError::fail(format!("{name}: {e:?}")))?;
        let (oh, ow) = case.p.s.out_hw();
        prop_same(&name, (oh, ow, case.p.s.cout), &expected, &got)
    });
    tally.assert_mixed(&name, 20);
}

#[test]
fn conv_stem_with_pad_values() {
    conv_property(ConvKind::Stem, PadValues::Always, 96);
}

#[test]
fn conv_stem_zero_padding() {
    conv_property(ConvKind::Stem, PadValues::Never, 96);
}

#[test]
fn conv_depthwise_3x3_stride_1() {
    conv_property(
        ConvKind::Depthwise { k: 3, stride: 1 },
        PadValues::Sometimes,
        96,
    );
}

#[test]
fn conv_depthwise_3x3_stride_2() {
    conv_property(
        ConvKind::Depthwise { k: 3, stride: 2 },
        PadValues::Sometimes,
        96,
    );
}

#[test]
fn conv_depthwise_7x7_stride_1() {
    conv_property(
        ConvKind::Depthwise { k: 7, stride: 1 },
        PadValues::Sometimes,
        96,
    );
}

#[test]
fn conv_grouped_7x7_stride_2_multiplier_2() {
    conv_property(
        ConvKind::Multiplier2 { k: 7, stride: 2 },
        PadValues::Sometimes,
        96,
    );
}

#[test]
fn conv_grouped_3x3_stride_1_multiplier_2() {
    conv_property(
        ConvKind::Multiplier2 { k: 3, stride: 1 },
        PadValues::Sometimes,
        96,
    );
}

#[test]
fn conv_pointwise_dense() {
    conv_property(ConvKind::Pointwise, PadValues::Sometimes, 96);
}

#[test]
fn conv_generic_groups_kernels_strides_pads() {
    conv_property(ConvKind::Generic, PadValues::Sometimes, 128);
}

/// Checks the naive model itself (and the kernel) on a hand-computed case:
/// depthwise 3x3/s1/p1, all-ones weights, unit scale, every input `in_zp + 1`,
/// so each output counts its taps inside the image, plus `pv - in_zp` per
/// padded tap when `pad_values` are present.
#[test]
fn conv_hand_computed_borders() {
    let (h, w, c) = (3, 4, 2);
    let in_zp = -7;
    let out_zp = 3;
    let s = ConvShape {
        h,
        w,
        cin: c,
        cout: c,
        groups: c,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let inside = |y: usize, x: usize| {
        let rows = 3 - usize::from(y == 0) - usize::from(y == h - 1);
        let cols = 3 - usize::from(x == 0) - usize::from(x == w - 1);
        (rows * cols) as i32
    };
    for pad_values in [None, Some(vec![(in_zp + 2) as i8, (in_zp - 1) as i8])] {
        let p = ConvParams {
            s,
            in_zp,
            out_zp,
            weights: vec![1; 9 * c],
            bias: vec![0; c],
            // 2^30 * 2^(1 - 31) = 1.0
            mult: vec![1 << 30; c],
            shift: vec![1; c],
            pad_values: pad_values.clone(),
            lut: None,
        };
        let input = vec![(in_zp + 1) as i8; h * w * c];
        let mut expected = Vec::new();
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let n = inside(y, x);
                    let pad_each = pad_values.as_ref().map_or(0, |v| i32::from(v[ch]) - in_zp);
                    expected.push((n + (9 - n) * pad_each + out_zp) as i8);
                }
            }
        }
        let name = format!("hand-computed borders, pad_values {pad_values:?}");
        assert_same(&name, &expected, &naive_conv(&p, &input, &Tally::default()));
        let got = p.run(&input, &Layout::fixed(2, 1)).unwrap();
        assert_same(&name, &expected, &got);
    }
}

/// Runs one seeded conv case, with and without pad values and a LUT.
fn conv_seeded(name: &str, s: ConvShape, seed: u64, tweak: impl Fn(&mut ConvParams)) {
    let mut g = Gen(seed);
    let mut p = ConvParams::seeded(s, &mut g);
    let input = g.i8s(s.h * s.w * s.cin);
    let pad_values = g.i8s(s.cin);
    let lut = g.i8s(256);
    tweak(&mut p);
    for (with_pv, with_lut) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut p = p.clone();
        p.pad_values = with_pv.then(|| pad_values.clone());
        p.lut = with_lut.then(|| lut.clone());
        let expected = naive_conv(&p, &input, &Tally::default());
        let got = p.run(&input, &Layout::fixed(2, seed)).unwrap();
        assert_same(
            &format!("{name} {s:?} pad_values {with_pv} lut {with_lut}"),
            &expected,
            &got,
        );
    }
}

#[test]
fn conv_1x1_spatial_input() {
    for (i, kind) in KINDS.iter().enumerate() {
        if let ConvKind::Generic = kind {
            continue;
        }
        for c in [1, 4, 5] {
            conv_seeded("1x1 input", kind.shape(1, 1, c, c + 2), i as u64, |_| {});
        }
    }
    // Kernels larger than the image with and without stride.
    for (k, stride) in [(7, 1), (7, 2), (7, 3), (5, 2), (3, 3)] {
        let s = ConvShape {
            h: 1,
            w: 1,
            cin: 3,
            cout: 6,
            groups: 3,
            k,
            stride,
            pad: k / 2,
        };
        conv_seeded("1x1 input", s, k as u64, |_| {});
    }
}

#[test]
fn conv_odd_channel_counts() {
    for (i, kind) in KINDS.iter().enumerate() {
        if let ConvKind::Generic = kind {
            continue;
        }
        for (cin, cout) in [(1, 1), (3, 7), (5, 13), (7, 3), (13, 23), (23, 1)] {
            conv_seeded(
                "odd channels",
                kind.shape(5, 6, cin, cout),
                (i * 31 + cin) as u64,
                |_| {},
            );
        }
    }
    for (groups, cin_g, cout_g) in [(3, 3, 5), (5, 1, 3), (7, 3, 1)] {
        let s = ConvShape {
            h: 7,
            w: 5,
            cin: groups * cin_g,
            cout: groups * cout_g,
            groups,
            k: 3,
            stride: 2,
            pad: 1,
        };
        conv_seeded("odd groups", s, groups as u64, |_| {});
    }
}

#[test]
fn conv_padding_borders_without_same_padding() {
    // pad < k/2 (valid-ish) and outputs that do not reach the last row/column.
    for (h, w, k, stride, pad) in [
        (7, 9, 3, 1, 0),
        (8, 8, 3, 2, 0),
        (9, 7, 7, 2, 2),
        (4, 6, 5, 3, 1),
    ] {
        let s = ConvShape {
            h,
            w,
            cin: 4,
            cout: 8,
            groups: 2,
            k,
            stride,
            pad,
        };
        conv_seeded("partial padding", s, (h * w) as u64, |_| {});
    }
}

#[test]
fn conv_extreme_zero_points() {
    for in_zp in [-128, 127] {
        for out_zp in [-128, 127] {
            for (i, kind) in KINDS.iter().enumerate() {
                if let ConvKind::Generic = kind {
                    continue;
                }
                conv_seeded(
                    "extreme zero points",
                    kind.shape(4, 5, 3, 5),
                    i as u64,
                    |p| {
                        p.in_zp = in_zp;
                        p.out_zp = out_zp;
                    },
                );
            }
        }
    }
}

#[test]
fn conv_all_saturating_outputs() {
    // Hand-computed: weights 0, bias +-2^20, the largest scale: every output
    // saturates (past i32 inside requantize, then past int8).
    let s = ConvKind::Depthwise { k: 3, stride: 2 }.shape(5, 5, 6, 6);
    let p = ConvParams {
        s,
        in_zp: 0,
        out_zp: 0,
        weights: vec![0; s.weight_len()],
        bias: (0..6)
            .map(|c| if c % 2 == 0 { 1 << 20 } else { -(1 << 20) })
            .collect(),
        mult: vec![i32::MAX; 6],
        shift: vec![30; 6],
        pad_values: None,
        lut: None,
    };
    let input = Gen(3).i8s(s.h * s.w * s.cin);
    let (oh, ow) = s.out_hw();
    let expected: Vec<i8> = (0..oh * ow * 6)
        .map(|i| if i % 2 == 0 { 127 } else { -128 })
        .collect();
    assert_same(
        "saturating (naive)",
        &expected,
        &naive_conv(&p, &input, &Tally::default()),
    );
    assert_same(
        "saturating",
        &expected,
        &p.run(&input, &Layout::fixed(2, 3)).unwrap(),
    );

    // Random data at the largest and the smallest scales.
    for (i, kind) in KINDS.iter().enumerate() {
        if let ConvKind::Generic = kind {
            continue;
        }
        for shift in [30, 20] {
            conv_seeded("saturating", kind.shape(6, 5, 4, 6), i as u64, |p| {
                p.shift.fill(shift);
                p.bias.iter_mut().for_each(|b| *b |= 1);
            });
        }
    }
}

#[test]
fn conv_requant_extremes() {
    let s = ConvKind::Pointwise.shape(3, 3, 8, 8);
    // Shifts at both ends of the contract (t = 62 and t = 1) and a zero scale.
    conv_seeded("extreme shifts", s, 9, |p| {
        p.shift = vec![-31, 30, -31, 30, -20, 10, 0, -31];
        p.mult = vec![
            1 << 30,
            i32::MAX,
            i32::MAX,
            1 << 30,
            i32::MAX,
            1 << 30,
            0,
            0,
        ];
    });
    // Zero multiplier: output is the zero point everywhere.
    let mut g = Gen(4);
    let mut p = ConvParams::seeded(s, &mut g);
    p.mult.fill(0);
    let input = g.i8s(s.h * s.w * s.cin);
    let got = p.run(&input, &Layout::fixed(2, 4)).unwrap();
    assert_same("zero scale", &vec![p.out_zp as i8; got.len()], &got);
}

// ---------------------------------------------------------------------------
// Lut
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct LutCase {
    shape: (usize, usize, usize),
    input: Vec<i8>,
    table: Vec<i8>,
    in_place: bool,
    layout: Layout,
}

impl LutCase {
    fn run(&self) -> Result<Vec<i8>, Error> {
        let (h, w, c) = self.shape;
        let n = h * w * c;
        let (off, mut arena) = if self.in_place {
            self.layout.place(&[n, 0])
        } else {
            self.layout.place(&[n, n])
        };
        let input = tensor(off[0], h, w, c);
        let output = if self.in_place {
            input
        } else {
            tensor(off[1], h, w, c)
        };
        write(&mut arena, input, &self.input);
        let mut blob = Blob::new();
        let layer = Layer::Lut(Lut {
            input,
            output,
            table: blob.i8s(&self.table),
        });
        run_single(&blob.0, layer, input, output, &arena, &[range_of(output)])
    }
}

fn naive_lut(table: &[i8], input: &[i8]) -> Vec<i8> {
    input.iter().map(|&x| look(table, x)).collect()
}

fn lut_case(in_place: bool) -> impl Strategy<Value = LutCase> {
    (1usize..=12, 1usize..=12, 1usize..=24).prop_flat_map(move |(h, w, c)| {
        (i8s(h * w * c), table(), layout(2)).prop_map(move |(input, table, layout)| LutCase {
            shape: (h, w, c),
            input,
            table,
            in_place,
            layout,
        })
    })
}

#[test]
fn lut_out_of_place() {
    check(96, lut_case(false), |case| {
        let got = case
            .run()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_same(
            "lut",
            case.shape,
            &naive_lut(&case.table, &case.input),
            &got,
        )
    });
}

#[test]
fn lut_in_place() {
    check(96, lut_case(true), |case| {
        let got = case
            .run()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_same(
            "lut in place",
            case.shape,
            &naive_lut(&case.table, &case.input),
            &got,
        )
    });
}

#[test]
fn lut_every_index() {
    // Every int8 value through a table that records its index.
    let table: Vec<i8> = (0..256).map(|i| (i as u8).wrapping_mul(37) as i8).collect();
    let input: Vec<i8> = (-128..=127).collect();
    let expected: Vec<i8> = (0..256).map(|i| (i as u8).wrapping_mul(37) as i8).collect();
    for in_place in [false, true] {
        let case = LutCase {
            shape: (1, 1, 256),
            input: input.clone(),
            table: table.clone(),
            in_place,
            layout: Layout::fixed(2, 5),
        };
        assert_same("lut every index", &expected, &case.run().unwrap());
    }
}

// ---------------------------------------------------------------------------
// Add
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
struct AddParams {
    a_zp: i32,
    a_mult: i32,
    a_shift: i32,
    b_zp: i32,
    b_mult: i32,
    b_shift: i32,
    out_zp: i32,
    out_mult: i32,
    out_shift: i32,
    left_shift: u8,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum AddMode {
    Separate,
    AliasA,
    AliasB,
}

#[derive(Clone, Debug)]
struct AddCase {
    shape: (usize, usize, usize),
    a: Vec<i8>,
    b: Vec<i8>,
    p: AddParams,
    mode: AddMode,
    layout: Layout,
}

impl AddCase {
    fn run(&self) -> Result<Vec<i8>, Error> {
        let (h, w, c) = self.shape;
        let n = h * w * c;
        let (off, mut arena) = match self.mode {
            AddMode::Separate => self.layout.place(&[n, n, n]),
            _ => self.layout.place(&[n, n, 0]),
        };
        let (a, b) = (tensor(off[0], h, w, c), tensor(off[1], h, w, c));
        let output = match self.mode {
            AddMode::Separate => tensor(off[2], h, w, c),
            AddMode::AliasA => a,
            AddMode::AliasB => b,
        };
        write(&mut arena, a, &self.a);
        write(&mut arena, b, &self.b);
        let p = self.p;
        let layer = Layer::Add(Add {
            a,
            a_zp: p.a_zp,
            a_mult: p.a_mult,
            a_shift: p.a_shift,
            b,
            b_zp: p.b_zp,
            b_mult: p.b_mult,
            b_shift: p.b_shift,
            output,
            out_zp: p.out_zp,
            out_mult: p.out_mult,
            out_shift: p.out_shift,
            left_shift: p.left_shift,
        });
        run_single(
            &Blob::new().0,
            layer,
            a,
            output,
            &arena,
            &[range_of(output)],
        )
    }
}

/// `a' = rq((a - a_zp) * 2^left_shift)`, likewise `b'`; the i32 sum saturates.
fn naive_add(p: &AddParams, a: &[i8], b: &[i8], tally: &Tally) -> Vec<i8> {
    let scale = 1i64 << p.left_shift;
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let x = rq(
                (i64::from(x) - i64::from(p.a_zp)) * scale,
                p.a_mult,
                p.a_shift,
            );
            let y = rq(
                (i64::from(y) - i64::from(p.b_zp)) * scale,
                p.b_mult,
                p.b_shift,
            );
            let sum = (x + y).clamp(i32::MIN.into(), i32::MAX.into());
            rq_i8(sum, p.out_mult, p.out_shift, p.out_zp, tally)
        })
        .collect()
}

fn add_params() -> impl Strategy<Value = AddParams> {
    (
        (zp(), multiplier(), shift()),
        (zp(), multiplier(), shift()),
        (zp(), multiplier(), 0u8..=20, -3i32..=2),
    )
        .prop_map(
            |((a_zp, a_mult, a_shift), (b_zp, b_mult, b_shift), (out_zp, out_mult, ls, d))| {
                AddParams {
                    a_zp,
                    a_mult,
                    a_shift,
                    b_zp,
                    b_mult,
                    b_shift,
                    out_zp,
                    out_mult,
                    // Undo the headroom and the larger input scale, give or take.
                    out_shift: d - i32::from(ls) - a_shift.max(b_shift),
                    left_shift: ls,
                }
            },
        )
}

fn add_case(mode: AddMode) -> impl Strategy<Value = AddCase> {
    (1usize..=12, 1usize..=12, 1usize..=24).prop_flat_map(move |(h, w, c)| {
        let n = h * w * c;
        (i8s(n), i8s(n), add_params(), layout(3)).prop_map(move |(a, b, p, layout)| AddCase {
            shape: (h, w, c),
            a,
            b,
            p,
            mode,
            layout,
        })
    })
}

fn add_property(mode: AddMode) {
    let name = format!("add {mode:?}");
    let tally = Tally::default();
    check(96, add_case(mode), |case| {
        let expected = naive_add(&case.p, &case.a, &case.b, &tally);
        let got = case
            .run()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_same(&name, case.shape, &expected, &got)
    });
    tally.assert_mixed(&name, 20);
}

#[test]
fn add_separate_buffers() {
    add_property(AddMode::Separate);
}

#[test]
fn add_output_aliases_a() {
    add_property(AddMode::AliasA);
}

#[test]
fn add_output_aliases_b() {
    add_property(AddMode::AliasB);
}

fn add_seeded(name: &str, seed: u64, p: AddParams, all: bool) {
    let mut g = Gen(seed);
    // Include the extreme inputs so |x - zp| reaches 255.
    let (mut a, mut b) = (g.i8s(60), g.i8s(60));
    a[..4].copy_from_slice(&[-128, 127, -128, 127]);
    b[..4].copy_from_slice(&[127, -128, -128, 127]);
    let expected = naive_add(&p, &a, &b, &Tally::default());
    if all {
        assert!(
            expected.iter().all(|&y| y == -128 || y == 127),
            "{name}: expected all-saturated outputs"
        );
    }
    for mode in [AddMode::Separate, AddMode::AliasA, AddMode::AliasB] {
        let case = AddCase {
            shape: (3, 4, 5),
            a: a.clone(),
            b: b.clone(),
            p,
            mode,
            layout: Layout::fixed(3, seed),
        };
        assert_same(
            &format!("{name} {mode:?} {p:?}"),
            &expected,
            &case.run().unwrap(),
        );
    }
}

fn add_base() -> AddParams {
    AddParams {
        a_zp: 5,
        a_mult: 1_500_000_000,
        a_shift: -1,
        b_zp: -9,
        b_mult: 1_200_000_000,
        b_shift: 0,
        out_zp: -3,
        out_mult: 1_800_000_000,
        out_shift: -20,
        left_shift: 20,
    }
}

#[test]
fn add_extreme_zero_points() {
    for a_zp in [-128, 127] {
        for b_zp in [-128, 127] {
            for out_zp in [-128, 127] {
                let p = AddParams {
                    a_zp,
                    b_zp,
                    out_zp,
                    ..add_base()
                };
                add_seeded("add extreme zero points", 7, p, false);
            }
        }
    }
}

#[test]
fn add_all_saturating_outputs() {
    // Output scale 2^30 * 2^(30-31) = 0.5 on values around 2^20: everything clamps
    // except x == zp on both sides; choose zero points no input can hit exactly.
    let p = AddParams {
        out_shift: 30,
        out_mult: 1 << 30,
        ..add_base()
    };
    let mut g = Gen(8);
    let a: Vec<i8> = g
        .i8s(60)
        .iter()
        .map(|&x| if x == 5 { 6 } else { x })
        .collect();
    let b = g.i8s(60);
    let expected = naive_add(&p, &a, &b, &Tally::default());
    let case = AddCase {
        shape: (3, 4, 5),
        a,
        b,
        p,
        mode: AddMode::Separate,
        layout: Layout::fixed(3, 8),
    };
    assert!(expected.iter().all(|&y| y == -128 || y == 127));
    assert_same("add saturating", &expected, &case.run().unwrap());
}

#[test]
fn add_left_shift_extremes() {
    // Up to the largest headroom the executor accepts, with |x - zp| up to 255:
    // 255 << 23 still fits an i32 exactly.
    for left_shift in [0u8, 1, 20, 22, 23] {
        for (a_zp, b_zp) in [(-128, 127), (127, -128), (0, 0)] {
            let p = AddParams {
                a_zp,
                b_zp,
                left_shift,
                out_shift: -i32::from(left_shift) + 1,
                ..add_base()
            };
            add_seeded("add left shift", u64::from(left_shift), p, false);
        }
    }
    // 255 << 24 does not fit an i32: the layer is rejected, not wrapped.
    for left_shift in [24u8, 25, 31, 32, 255] {
        for mode in [AddMode::Separate, AddMode::AliasA, AddMode::AliasB] {
            let case = AddCase {
                shape: (1, 2, 3),
                a: vec![127; 6],
                b: vec![-128; 6],
                p: AddParams {
                    left_shift,
                    ..add_base()
                },
                mode,
                layout: Layout::fixed(3, 0),
            };
            assert_eq!(
                case.run(),
                Err(Error::InvalidLayer { layer: 0 }),
                "left shift {left_shift} {mode:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// SqueezeExcite
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct FcParams {
    cin: usize,
    cout: usize,
    in_zp: i32,
    out_zp: i32,
    /// `[cout][cin]`.
    weights: Vec<i8>,
    bias: Vec<i32>,
    mult: Vec<i32>,
    shift: Vec<i32>,
}

/// `y[o] = rq_i8(bias[o] + sum_i w[o][i] (x[i] - in_zp))`, optionally floored at `out_zp`.
fn naive_fc(p: &FcParams, x: &[i8], relu: bool, tally: &Tally) -> Vec<i8> {
    assert_eq!(x.len(), p.cin);
    let mut acc: Vec<i64> = p.bias.iter().map(|&b| i64::from(b)).collect();
    for (i, &xi) in x.iter().enumerate() {
        let d = i64::from(xi) - i64::from(p.in_zp);
        for (o, a) in acc.iter_mut().enumerate() {
            *a += i64::from(p.weights[o * p.cin + i]) * d;
        }
    }
    acc.iter()
        .enumerate()
        .map(|(o, &a)| {
            let y = rq_i8(acc32(a), p.mult[o], p.shift[o], p.out_zp, tally);
            if relu {
                y.max(p.out_zp as i8)
            } else {
                y
            }
        })
        .collect()
}

fn fc_params(cin: usize, cout: usize) -> impl Strategy<Value = FcParams> {
    (
        i8s(cin * cout),
        vec(bias(), cout),
        vec(multiplier(), cout),
        vec(shift(), cout),
        zp(),
        zp(),
    )
        .prop_map(
            move |(weights, bias, mult, shift, in_zp, out_zp)| FcParams {
                cin,
                cout,
                in_zp,
                out_zp,
                weights,
                bias,
                mult,
                shift,
            },
        )
}

impl FcParams {
    fn seeded(cin: usize, cout: usize, g: &mut Gen) -> Self {
        FcParams {
            cin,
            cout,
            in_zp: g.zp(),
            out_zp: g.zp(),
            weights: g.i8s(cin * cout),
            bias: g.biases(cout),
            mult: g.mults(cout),
            shift: g.shifts(cout),
        }
    }
}

#[derive(Clone, Debug)]
struct SeParams {
    h: usize,
    w: usize,
    c: usize,
    in_zp: i32,
    /// Pool requantization, one multiplier and shift per channel.
    pool_mult: Vec<i32>,
    pool_shift: Vec<i32>,
    /// fc1: `c -> reduced`, `in_zp` = pool_zp, `out_zp` = hid_zp.
    fc1: FcParams,
    /// fc2: `reduced -> c`, `in_zp` = hid_zp, `out_zp` = gate_zp.
    fc2: FcParams,
    sigmoid: Vec<i8>,
    /// Output requantization, one multiplier and shift per channel.
    scale_mult: Vec<i32>,
    scale_shift: Vec<i32>,
    out_zp: i32,
    lut: Option<Vec<i8>>,
}

#[derive(Default)]
struct SeTally {
    pool: Tally,
    hidden: Tally,
    gate: Tally,
    out: Tally,
}

/// The four steps of the contract, channel-major; the pool and output
/// requantizations use channel `ch`'s multiplier and shift.
fn naive_se(p: &SeParams, input: &[i8], t: &SeTally) -> Vec<i8> {
    let (c, hw) = (p.c, p.h * p.w);
    assert_eq!(input.len(), hw * c);
    let pooled: Vec<i8> = (0..c)
        .map(|ch| {
            let sum: i64 = (0..hw)
                .map(|px| i64::from(input[px * c + ch]) - i64::from(p.in_zp))
                .sum();
            rq_i8(sum, p.pool_mult[ch], p.pool_shift[ch], p.fc1.in_zp, &t.pool)
        })
        .collect();
    let hidden = naive_fc(&p.fc1, &pooled, true, &t.hidden);
    let gate: Vec<i64> = naive_fc(&p.fc2, &hidden, false, &t.gate)
        .iter()
        .map(|&g| i64::from(look(&p.sigmoid, g)) + 128)
        .collect();
    let mut out = vec![0i8; input.len()];
    for (ch, &s) in gate.iter().enumerate() {
        for px in 0..hw {
            let i = px * c + ch;
            let d = i64::from(input[i]) - i64::from(p.in_zp);
            let (m, sh) = (p.scale_mult[ch], p.scale_shift[ch]);
            let y = rq_i8(d * s, m, sh, p.out_zp, &t.out);
            out[i] = match &p.lut {
                Some(l) => look(l, y),
                None => y,
            };
        }
    }
    out
}

impl SeParams {
    fn seeded(h: usize, w: usize, c: usize, reduced: usize, g: &mut Gen) -> Self {
        let fc1 = FcParams::seeded(c, reduced, g);
        let mut fc2 = FcParams::seeded(reduced, c, g);
        fc2.in_zp = fc1.out_zp;
        SeParams {
            h,
            w,
            c,
            in_zp: g.zp(),
            pool_mult: g.mults(c),
            pool_shift: g.i32s(c, -6, -2),
            fc1,
            fc2,
            sigmoid: g.i8s(256),
            scale_mult: g.mults(c),
            scale_shift: g.i32s(c, -10, -6),
            out_zp: g.zp(),
            lut: None,
        }
    }

    fn layer(
        &self,
        blob: &mut Blob,
        input: TensorRef,
        output: TensorRef,
        scratch: u32,
    ) -> SqueezeExcite {
        SqueezeExcite {
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            reduced: self.fc1.cout as u16,
            pool_requant: blob.requant(&self.pool_mult, &self.pool_shift),
            pool_zp: self.fc1.in_zp,
            fc1_weights: blob.i8s(&self.fc1.weights),
            fc1_bias: blob.i32s(&self.fc1.bias),
            fc1_requant: blob.requant(&self.fc1.mult, &self.fc1.shift),
            hid_zp: self.fc1.out_zp,
            fc2_weights: blob.i8s(&self.fc2.weights),
            fc2_bias: blob.i32s(&self.fc2.bias),
            fc2_requant: blob.requant(&self.fc2.mult, &self.fc2.shift),
            gate_zp: self.fc2.out_zp,
            sigmoid: blob.i8s(&self.sigmoid),
            scale_requant: blob.requant(&self.scale_mult, &self.scale_shift),
            lut: blob.opt_i8s(self.lut.as_ref()),
            scratch,
        }
    }

    fn run(&self, input: &[i8], layout: &Layout) -> Result<Vec<i8>, Error> {
        let n = self.h * self.w * self.c;
        let scratch_len = SqueezeExcite::scratch_bytes(self.c, self.fc1.cout);
        let (off, mut arena) = layout.place(&[n, n, scratch_len]);
        let i = tensor(off[0], self.h, self.w, self.c);
        let o = tensor(off[1], self.h, self.w, self.c);
        write(&mut arena, i, input);
        let mut blob = Blob::new();
        let layer = Layer::SqueezeExcite(self.layer(&mut blob, i, o, off[2]));
        let scratch = (off[2] as usize, off[2] as usize + scratch_len);
        run_single(&blob.0, layer, i, o, &arena, &[range_of(o), scratch])
    }
}

#[derive(Clone, Debug)]
struct SeCase {
    p: SeParams,
    input: Vec<i8>,
    layout: Layout,
}

fn se_case() -> impl Strategy<Value = SeCase> {
    (1usize..=12, 1usize..=12, 1usize..=24, 1usize..=8).prop_flat_map(|(h, w, c, r)| {
        (
            (
                i8s(h * w * c),
                zp(),
                vec(multiplier(), c),
                vec(-12i32..=-2, c),
            ),
            (fc_params(c, r), fc_params(r, c)),
            (table(), vec(multiplier(), c), vec(-12i32..=-4, c), zp()),
            (proptest::option::of(table()), layout(3)),
        )
            .prop_map(
                move |(
                    (input, in_zp, pool_mult, pool_shift),
                    (fc1, mut fc2),
                    (sigmoid, scale_mult, scale_shift, out_zp),
                    (lut, layout),
                )| {
                    fc2.in_zp = fc1.out_zp;
                    SeCase {
                        p: SeParams {
                            h,
                            w,
                            c,
                            in_zp,
                            pool_mult,
                            pool_shift,
                            fc1,
                            fc2,
                            sigmoid,
                            scale_mult,
                            scale_shift,
                            out_zp,
                            lut,
                        },
                        input,
                        layout,
                    }
                },
            )
    })
}

#[test]
fn squeeze_excite_random() {
    let t = SeTally::default();
    check(96, se_case(), |case| {
        let expected = naive_se(&case.p, &case.input, &t);
        let got = case
            .p
            .run(&case.input, &case.layout)
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_same(
            "squeeze-excite",
            (case.p.h, case.p.w, case.p.c),
            &expected,
            &got,
        )
    });
    t.pool.assert_mixed("se pool", 20);
    t.hidden.assert_mixed("se fc1", 20);
    t.gate.assert_mixed("se fc2", 20);
    t.out.assert_mixed("se output", 20);
}

#[test]
fn squeeze_excite_edge_cases() {
    // (h, w, c, reduced)
    for (i, &(h, w, c, r)) in [
        (1, 1, 1, 1),
        (1, 1, 7, 3),
        (12, 12, 24, 8),
        (3, 5, 13, 0),
        (2, 2, 1, 5),
    ]
    .iter()
    .enumerate()
    {
        for (in_zp, out_zp) in [(0, 0), (-128, 127), (127, -128), (-128, -128), (127, 127)] {
            for with_lut in [false, true] {
                let mut g = Gen(i as u64);
                let mut p = SeParams::seeded(h, w, c, r, &mut g);
                p.in_zp = in_zp;
                p.out_zp = out_zp;
                p.lut = with_lut.then(|| g.i8s(256));
                let input = g.i8s(h * w * c);
                let expected = naive_se(&p, &input, &SeTally::default());
                let got = p.run(&input, &Layout::fixed(3, i as u64)).unwrap();
                assert_same(
                    &format!("se {h}x{w}x{c} r{r} zp {in_zp}/{out_zp}"),
                    &expected,
                    &got,
                );
            }
        }
    }
}

#[test]
fn squeeze_excite_all_saturating_outputs() {
    let mut g = Gen(11);
    let mut p = SeParams::seeded(4, 4, 6, 2, &mut g);
    p.scale_shift.fill(30);
    p.scale_mult.fill(i32::MAX);
    // Sigmoid of zero is impossible: s + 128 >= 1.
    p.sigmoid = g.i8s(256).iter().map(|&s| s.max(-127)).collect();
    let input: Vec<i8> = g
        .i8s(96)
        .iter()
        .map(|&x| if i32::from(x) == p.in_zp { x ^ 1 } else { x })
        .collect();
    let t = SeTally::default();
    let expected = naive_se(&p, &input, &t);
    assert_eq!(t.out.clamped.get(), 96, "expected every output to saturate");
    assert_same(
        "se saturating",
        &expected,
        &p.run(&input, &Layout::fixed(3, 11)).unwrap(),
    );
}

/// Scratch (2c + reduced bytes) larger than a u16: the layer is valid and must
/// run, or at worst be rejected, never panic.
#[test]
fn squeeze_excite_scratch_over_64k() {
    let (c, r) = (33_000, 1);
    let mut g = Gen(12);
    let p = SeParams::seeded(1, 1, c, r, &mut g);
    let input = g.i8s(c);
    let expected = naive_se(&p, &input, &SeTally::default());
    let got = p.run(&input, &Layout::fixed(3, 12)).unwrap();
    assert_same("se with 33000 channels", &expected, &got);
}

/// The output requantization is indexed by channel (not by pixel, not
/// channel 0 for all): gate `s + 128 = 1`, `x - in_zp = 64` everywhere and
/// scale `2^30 * 2^(-ch - 31)` = `2^-(ch + 1)`, so channel `ch` holds
/// `floor(64 / 2^(ch + 1) + 1/2)` at every pixel.
#[test]
fn squeeze_excite_per_channel_scale() {
    let (h, w, c) = (2, 3, 8);
    let mut g = Gen(13);
    let mut p = SeParams::seeded(h, w, c, 3, &mut g);
    p.sigmoid = vec![-127; 256];
    p.in_zp = -10;
    p.out_zp = 0;
    p.scale_mult = vec![1 << 30; c];
    p.scale_shift = (0..c).map(|ch| -(ch as i32)).collect();
    let per_pixel = [32i8, 16, 8, 4, 2, 1, 1, 0];
    let expected = per_pixel.repeat(h * w);
    assert_same(
        "se per-channel scale (naive)",
        &expected,
        &naive_se(&p, &vec![54; h * w * c], &SeTally::default()),
    );
    for (i, order) in [vec![0, 1, 2], vec![2, 1, 0]].into_iter().enumerate() {
        let layout = Layout {
            order,
            gap: i,
            seed: 13,
        };
        assert_same(
            "se per-channel scale",
            &expected,
            &p.run(&vec![54; h * w * c], &layout).unwrap(),
        );
    }
}

/// Pool and output requantizations with shifts at both ends of the contract
/// (t = 62 and t = 1) and zero multipliers, mixed across channels.
#[test]
fn squeeze_excite_per_channel_requant_extremes() {
    let (h, w, c) = (3, 2, 8);
    let shifts = vec![-31, 30, -31, 30, -20, 10, 0, -31];
    let mults = vec![
        1 << 30,
        i32::MAX,
        i32::MAX,
        1 << 30,
        0,
        1 << 30,
        0,
        i32::MAX,
    ];
    for seed in 0..4 {
        let mut g = Gen(20 + seed);
        let mut p = SeParams::seeded(h, w, c, 4, &mut g);
        if seed % 2 == 0 {
            p.pool_shift = shifts.clone();
            p.pool_mult = mults.clone();
        } else {
            p.scale_shift = shifts.clone();
            p.scale_mult = mults.clone();
        }
        p.lut = (seed >= 2).then(|| g.i8s(256));
        let input = g.i8s(h * w * c);
        let expected = naive_se(&p, &input, &SeTally::default());
        let got = p.run(&input, &Layout::fixed(3, seed)).unwrap();
        assert_same(&format!("se extreme requant, seed {seed}"), &expected, &got);
    }
}

// ---------------------------------------------------------------------------
// GlobalAvgPool
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct GapCase {
    shape: (usize, usize, usize),
    input: Vec<i8>,
    in_zp: i32,
    out_zp: i32,
    /// One multiplier and shift per channel.
    mult: Vec<i32>,
    shift: Vec<i32>,
    layout: Layout,
}

impl GapCase {
    fn run(&self) -> Result<Vec<i8>, Error> {
        let (h, w, c) = self.shape;
        let (off, mut arena) = self.layout.place(&[h * w * c, c]);
        let (i, o) = (tensor(off[0], h, w, c), tensor(off[1], 1, 1, c));
        write(&mut arena, i, &self.input);
        let mut blob = Blob::new();
        let layer = Layer::GlobalAvgPool(self.layer(&mut blob, i, o));
        run_single(&blob.0, layer, i, o, &arena, &[range_of(o)])
    }

    fn layer(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> GlobalAvgPool {
        GlobalAvgPool {
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            requant: blob.requant(&self.mult, &self.shift),
        }
    }

    fn naive(&self, tally: &Tally) -> Vec<i8> {
        let (h, w, c) = self.shape;
        let mut sums = vec![0i64; c];
        for y in 0..h {
            for x in 0..w {
                for (ch, s) in sums.iter_mut().enumerate() {
                    *s += i64::from(self.input[(y * w + x) * c + ch]) - i64::from(self.in_zp);
                }
            }
        }
        sums.iter()
            .enumerate()
            .map(|(ch, &s)| rq_i8(s, self.mult[ch], self.shift[ch], self.out_zp, tally))
            .collect()
    }
}

fn gap_case() -> impl Strategy<Value = GapCase> {
    (1usize..=12, 1usize..=12, 1usize..=24).prop_flat_map(|(h, w, c)| {
        (
            i8s(h * w * c),
            zp(),
            zp(),
            vec(multiplier(), c),
            vec(shift(), c),
            layout(2),
        )
            .prop_map(move |(input, in_zp, out_zp, mult, shift, layout)| GapCase {
                shape: (h, w, c),
                input,
                in_zp,
                out_zp,
                mult,
                shift,
                layout,
            })
    })
}

#[test]
fn global_avg_pool_random() {
    let tally = Tally::default();
    check(128, gap_case(), |case| {
        let got = case
            .run()
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let c = case.shape.2;
        prop_same("global avg pool", (1, 1, c), &case.naive(&tally), &got)
    });
    tally.assert_mixed("global avg pool", 20);
}

#[test]
fn global_avg_pool_edge_cases() {
    for (i, &(h, w, c)) in [(1, 1, 1), (1, 1, 24), (12, 12, 7), (1, 12, 3), (12, 1, 5)]
        .iter()
        .enumerate()
    {
        for (in_zp, out_zp, shift) in [
            (-128, 127, -6),
            (127, -128, -6),
            (-128, -128, 30),
            (127, 127, 30),
            (0, 0, -31),
        ] {
            let mut g = Gen(i as u64);
            let case = GapCase {
                shape: (h, w, c),
                input: g.i8s(h * w * c),
                in_zp,
                out_zp,
                mult: g.mults(c),
                shift: vec![shift; c],
                layout: Layout::fixed(2, i as u64),
            };
            let expected = case.naive(&Tally::default());
            assert_same(
                &format!("gap {h}x{w}x{c} {in_zp} {out_zp} {shift}"),
                &expected,
                &case.run().unwrap(),
            );
        }
    }
}

/// The requantization is indexed by channel: `x - in_zp = 16` at both pixels
/// (sum 32) and scale `2^-(ch + 2)` in channel `ch` (hand-computed), then
/// shifts at both ends of the contract and zero multipliers mixed across
/// channels (against the naive model).
#[test]
fn global_avg_pool_per_channel_requant() {
    let (h, w, c) = (2, 1, 8);
    let case = GapCase {
        shape: (h, w, c),
        input: vec![9; h * w * c],
        in_zp: -7,
        out_zp: 0,
        mult: vec![1 << 30; c],
        shift: (0..c).map(|ch| -1 - ch as i32).collect(),
        layout: Layout::fixed(2, 14),
    };
    let expected = [8i8, 4, 2, 1, 1, 0, 0, 0];
    assert_same(
        "gap per-channel (naive)",
        &expected,
        &case.naive(&Tally::default()),
    );
    assert_same("gap per-channel", &expected, &case.run().unwrap());

    let mut g = Gen(15);
    let case = GapCase {
        shape: (5, 4, c),
        input: g.i8s(5 * 4 * c),
        in_zp: g.zp(),
        out_zp: g.zp(),
        mult: vec![
            1 << 30,
            i32::MAX,
            i32::MAX,
            1 << 30,
            0,
            1 << 30,
            0,
            i32::MAX,
        ],
        shift: vec![-31, 30, -31, 30, -20, 10, 0, -31],
        layout: Layout::fixed(2, 15),
    };
    assert_same(
        "gap extreme per-channel requant",
        &case.naive(&Tally::default()),
        &case.run().unwrap(),
    );
}

// ---------------------------------------------------------------------------
// FullyConnected
// ---------------------------------------------------------------------------

impl FcParams {
    fn layer(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> FullyConnected {
        FullyConnected {
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            weights: blob.i8s(&self.weights),
            bias: blob.i32s(&self.bias),
            requant: blob.requant(&self.mult, &self.shift),
        }
    }

    fn run(&self, input: &[i8], layout: &Layout) -> Result<Vec<i8>, Error> {
        let (off, mut arena) = layout.place(&[self.cin, self.cout]);
        let (i, o) = (
            tensor(off[0], 1, 1, self.cin),
            tensor(off[1], 1, 1, self.cout),
        );
        write(&mut arena, i, input);
        let mut blob = Blob::new();
        let layer = Layer::FullyConnected(self.layer(&mut blob, i, o));
        run_single(&blob.0, layer, i, o, &arena, &[range_of(o)])
    }
}

#[test]
fn fully_connected_random() {
    let tally = Tally::default();
    let case = (1usize..=64, 1usize..=32)
        .prop_flat_map(|(cin, cout)| (fc_params(cin, cout), i8s(cin), layout(2)));
    check(128, case, |(p, input, layout)| {
        let got = p
            .run(&input, &layout)
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        let expected = naive_fc(&p, &input, false, &tally);
        prop_same("fully connected", (1, 1, p.cout), &expected, &got)
    });
    tally.assert_mixed("fully connected", 20);
}

#[test]
fn fully_connected_edge_cases() {
    for (i, &(cin, cout)) in [(1, 1), (1, 17), (17, 1), (768, 10), (3, 1000)]
        .iter()
        .enumerate()
    {
        for (in_zp, out_zp, shift) in [
            (-128, 127, -12),
            (127, -128, -12),
            (0, 0, 30),
            (-128, -128, -31),
        ] {
            let mut g = Gen(i as u64);
            let mut p = FcParams::seeded(cin, cout, &mut g);
            p.in_zp = in_zp;
            p.out_zp = out_zp;
            p.shift.fill(shift);
            let input = g.i8s(cin);
            let expected = naive_fc(&p, &input, false, &Tally::default());
            let got = p.run(&input, &Layout::fixed(2, i as u64)).unwrap();
            assert_same(
                &format!("fc {cin}->{cout} {in_zp} {out_zp} {shift}"),
                &expected,
                &got,
            );
        }
    }
}

// ---------------------------------------------------------------------------
// A whole schedule: `run`, `run_with`, `run_normalized` and the error paths
// ---------------------------------------------------------------------------

const NAMES: [&str; 7] = [
    "stem",
    "stem.act",
    "stages.0.token_mixer",
    "stages.0.add",
    "final_conv.se",
    "head.global_pool",
    "head.fc",
];

/// stem conv (8x8x3 image -> 4x4x8) -> GELU table in place -> depthwise 3x3
/// with table -> residual add into its first operand -> squeeze-excite ->
/// global pool -> fully connected (10 logits).
#[derive(Clone)]
struct Sched {
    blob: Vec<u8>,
    layers: Vec<Layer>,
    stem_normalized: Layer,
    arena_bytes: usize,
    input: TensorRef,
    output: TensorRef,
    stem: ConvParams,
    stem_norm: ConvParams,
    gelu: Vec<i8>,
    dw: ConvParams,
    add: AddParams,
    se: SeParams,
    gap: GapCase,
    fc: FcParams,
}

impl Sched {
    fn new(seed: u64) -> Self {
        let mut g = Gen(seed);
        let stem_shape = ConvKind::Stem.shape(8, 8, 3, 8);
        let mut stem = ConvParams::seeded(stem_shape, &mut g);
        stem.in_zp = -128;
        stem.pad_values = Some(vec![-4, -12, -24]);
        let mut stem_norm = ConvParams::seeded(stem_shape, &mut g);
        stem_norm.out_zp = stem.out_zp;
        let gelu = g.i8s(256);
        let mut dw = ConvParams::seeded(
            ConvKind::Depthwise { k: 3, stride: 1 }.shape(4, 4, 8, 8),
            &mut g,
        );
        dw.lut = Some(g.i8s(256));
        let add = AddParams {
            a_zp: dw.out_zp,
            ..add_base()
        };
        let se = SeParams::seeded(4, 4, 8, 2, &mut g);
        let gap = GapCase {
            shape: (4, 4, 8),
            input: Vec::new(),
            in_zp: g.zp(),
            out_zp: g.zp(),
            mult: g.mults(8),
            shift: g.i32s(8, -6, -2),
            layout: Layout::fixed(2, 0),
        };
        let fc = FcParams::seeded(8, 10, &mut g);

        let sizes = [
            192,
            128,
            128,
            128,
            SqueezeExcite::scratch_bytes(8, 2),
            8,
            10,
        ];
        let (off, arena) = Layout::fixed(sizes.len(), seed).place(&sizes);
        let input = tensor(off[0], 8, 8, 3);
        let t1 = tensor(off[1], 4, 4, 8);
        let t2 = tensor(off[2], 4, 4, 8);
        let t3 = tensor(off[3], 4, 4, 8);
        let t4 = tensor(off[5], 1, 1, 8);
        let output = tensor(off[6], 1, 1, 10);

        let mut blob = Blob::new();
        let layers = vec![
            Layer::Conv(stem.layer(&mut blob, input, t1)),
            Layer::Lut(Lut {
                input: t1,
                output: t1,
                table: blob.i8s(&gelu),
            }),
            Layer::Conv(dw.layer(&mut blob, t1, t2)),
            Layer::Add(Add {
                a: t2,
                a_zp: add.a_zp,
                a_mult: add.a_mult,
                a_shift: add.a_shift,
                b: t1,
                b_zp: add.b_zp,
                b_mult: add.b_mult,
                b_shift: add.b_shift,
                output: t2,
                out_zp: add.out_zp,
                out_mult: add.out_mult,
                out_shift: add.out_shift,
                left_shift: add.left_shift,
            }),
            Layer::SqueezeExcite(se.layer(&mut blob, t2, t3, off[4])),
            Layer::GlobalAvgPool(gap.layer(&mut blob, t3, t4)),
            Layer::FullyConnected(fc.layer(&mut blob, t4, output)),
        ];
        let stem_normalized = Layer::Conv(stem_norm.layer(&mut blob, input, t1));
        Sched {
            blob: blob.0,
            layers,
            stem_normalized,
            arena_bytes: arena.len(),
            input,
            output,
            stem,
            stem_norm,
            gelu,
            dw,
            add,
            se,
            gap,
            fc,
        }
    }

    fn model(&self) -> Model<'_> {
        Model {
            weights: &self.blob,
            layers: &self.layers,
            layer_names: &NAMES,
            stem_normalized: self.stem_normalized,
            arena_bytes: self.arena_bytes,
            input: self.input,
            normalized_input_zp: self.stem_norm.in_zp,
            output: self.output,
            output_zp: self.fc.out_zp,
        }
    }

    /// Every layer's output, from the naive model.
    fn naive(&self, x0: &[i8], normalized: bool) -> Vec<Vec<i8>> {
        let t = Tally::default();
        let stem = if normalized {
            &self.stem_norm
        } else {
            &self.stem
        };
        let l0 = naive_conv(stem, x0, &t);
        let l1 = naive_lut(&self.gelu, &l0);
        let l2 = naive_conv(&self.dw, &l1, &t);
        let l3 = naive_add(&self.add, &l2, &l1, &t);
        let l4 = naive_se(&self.se, &l3, &SeTally::default());
        let l5 = GapCase {
            input: l4.clone(),
            ..self.gap.clone()
        }
        .naive(&t);
        let l6 = naive_fc(&self.fc, &l5, false, &t);
        vec![l0, l1, l2, l3, l4, l5, l6]
    }

    /// Runs through `run_with` (image) or `run_normalized`, returning the
    /// result, the indices `after_layer` saw, and the logits buffer.
    fn go(
        &self,
        normalized: bool,
        arena_len: usize,
        input_len: usize,
        logits_len: usize,
    ) -> (Result<(), Error>, Vec<usize>, Vec<i8>) {
        let mut arena = vec![0x21; arena_len];
        let mut logits = vec![0x7B; logits_len];
        let mut calls = Vec::new();
        let model = self.model();
        let r = if normalized {
            let input: Vec<i8> = Gen(1).i8s(input_len);
            model.run_normalized(&mut arena, &input, &mut logits, |i, _| calls.push(i))
        } else {
            let image: Vec<u8> = Gen(1).i8s(input_len).iter().map(|&x| x as u8).collect();
            model.run_with(&mut arena, &image, &mut logits, |i, _| calls.push(i))
        };
        (r, calls, logits)
    }

    fn go_ok(&self, normalized: bool) -> (Result<(), Error>, Vec<usize>, Vec<i8>) {
        self.go(normalized, self.arena_bytes, 192, 10)
    }
}

#[test]
fn schedule_matches_naive_chain_layer_by_layer() {
    for seed in 0..8 {
        let s = Sched::new(seed);
        let model = s.model();
        let mut g = Gen(seed + 100);
        let image: Vec<u8> = g.i8s(192).iter().map(|&x| x as u8).collect();
        let normalized = g.i8s(192);
        // u8 pixel p enters as p - 128.
        let x0: Vec<i8> = image.iter().map(|&p| (i32::from(p) - 128) as i8).collect();

        for (entry, expected) in [
            ("run_with", s.naive(&x0, false)),
            ("run_normalized", s.naive(&normalized, true)),
        ] {
            let mut arena = Gen(seed).i8s(s.arena_bytes + 7);
            let mut logits = vec![0; 10];
            let mut snapshots = Vec::new();
            let record = |i: usize, a: &[i8]| snapshots.push((i, a.to_vec()));
            if entry == "run_with" {
                model
                    .run_with(&mut arena, &image, &mut logits, record)
                    .unwrap();
            } else {
                model
                    .run_normalized(&mut arena, &normalized, &mut logits, record)
                    .unwrap();
            }
            assert_eq!(snapshots.len(), s.layers.len());
            for (i, (idx, a)) in snapshots.iter().enumerate() {
                assert_eq!(*idx, i);
                assert_eq!(
                    a.len(),
                    s.arena_bytes,
                    "after_layer sees exactly arena_bytes"
                );
                let out = s.layers[i].output();
                assert_same(
                    &format!("seed {seed} {entry} layer {i} ({})", NAMES[i]),
                    &expected[i],
                    &a[out.offset as usize..out.end()],
                );
            }
            assert_same(
                &format!("seed {seed} {entry} logits"),
                &expected[6],
                &logits,
            );
        }

        // `run` is `run_with` without the callback.
        let mut arena = vec![0; s.arena_bytes];
        let mut logits = vec![0; 10];
        model.run(&mut arena, &image, &mut logits).unwrap();
        assert_same("run logits", &s.naive(&x0, false)[6], &logits);
    }
}

#[test]
fn arena_too_small() {
    let s = Sched::new(1);
    for normalized in [false, true] {
        for got in [0, 1, s.arena_bytes - 1] {
            let (r, calls, logits) = s.go(normalized, got, 192, 10);
            assert_eq!(
                r,
                Err(Error::ArenaTooSmall {
                    needed: s.arena_bytes,
                    got
                })
            );
            assert!(calls.is_empty());
            assert!(logits.iter().all(|&x| x == 0x7B), "logits written on error");
        }
        // Exactly enough, and more than enough, both work.
        assert_eq!(s.go(normalized, s.arena_bytes, 192, 10).0, Ok(()));
        assert_eq!(s.go(normalized, s.arena_bytes + 100, 192, 10).0, Ok(()));
    }
}

#[test]
fn wrong_input_size() {
    let s = Sched::new(2);
    for normalized in [false, true] {
        for got in [0, 3, 191, 193, 192 * 2] {
            let (r, calls, logits) = s.go(normalized, s.arena_bytes, got, 10);
            assert_eq!(r, Err(Error::InputSize { expected: 192, got }));
            assert!(calls.is_empty());
            assert!(logits.iter().all(|&x| x == 0x7B), "logits written on error");
        }
    }
}

#[test]
fn wrong_output_size() {
    let s = Sched::new(3);
    for normalized in [false, true] {
        for got in [0, 1, 9, 11, 1000] {
            let (r, calls, _) = s.go(normalized, s.arena_bytes, 192, got);
            assert_eq!(r, Err(Error::OutputSize { expected: 10, got }));
            assert!(calls.is_empty());
        }
    }
}

fn conv_of(l: &mut Layer) -> &mut Conv {
    match l {
        Layer::Conv(c) => c,
        other => panic!("expected a conv, found {other:?}"),
    }
}

fn lut_of(l: &mut Layer) -> &mut Lut {
    match l {
        Layer::Lut(c) => c,
        other => panic!("expected a lut, found {other:?}"),
    }
}

fn add_of(l: &mut Layer) -> &mut Add {
    match l {
        Layer::Add(c) => c,
        other => panic!("expected an add, found {other:?}"),
    }
}

fn se_of(l: &mut Layer) -> &mut SqueezeExcite {
    match l {
        Layer::SqueezeExcite(c) => c,
        other => panic!("expected a squeeze-excite, found {other:?}"),
    }
}

fn gap_of(l: &mut Layer) -> &mut GlobalAvgPool {
    match l {
        Layer::GlobalAvgPool(c) => c,
        other => panic!("expected a global pool, found {other:?}"),
    }
}

fn fc_of(l: &mut Layer) -> &mut FullyConnected {
    match l {
        Layer::FullyConnected(c) => c,
        other => panic!("expected a fully connected, found {other:?}"),
    }
}

/// Corruptions of one layer: (layer index, what, edit given blob and arena sizes).
type Corruption = (usize, &'static str, fn(&mut Layer, u32, u32));

const CORRUPTIONS: &[Corruption] = &[
    // Stem conv.
    (0, "weights past the blob", |l, blob, _| {
        conv_of(l).weights.offset = blob - conv_of(l).weights.len + 1
    }),
    (0, "weights offset overflows", |l, _, _| {
        conv_of(l).weights.offset = u32::MAX - 1
    }),
    (0, "weights one byte short", |l, _, _| {
        conv_of(l).weights.len -= 1
    }),
    (0, "weights one byte long", |l, _, _| {
        conv_of(l).weights.len += 1
    }),
    (0, "kernel 5 with 3x3 weights", |l, _, _| {
        conv_of(l).kernel = 5
    }),
    (0, "bias past the blob", |l, blob, _| {
        conv_of(l).bias.offset = blob
    }),
    (0, "bias one channel short", |l, _, _| {
        conv_of(l).bias.len -= 4
    }),
    (0, "bias not a multiple of 4", |l, _, _| {
        conv_of(l).bias.len += 1
    }),
    (0, "multipliers one channel long", |l, _, _| {
        conv_of(l).requant.multiplier.len += 4
    }),
    (0, "shifts offset overflows", |l, _, _| {
        conv_of(l).requant.shift.offset = u32::MAX - 3
    }),
    (0, "shifts absent", |l, _, _| {
        conv_of(l).requant.shift = Span::NONE
    }),
    (0, "pad values one channel long", |l, _, _| {
        conv_of(l).pad_values.len += 1
    }),
    (0, "lut of 255 entries", |l, _, _| {
        conv_of(l).lut = Span {
            offset: 0,
            len: 255,
        }
    }),
    (0, "lut past the blob", |l, blob, _| {
        conv_of(l).lut = Span {
            offset: blob - 100,
            len: 256,
        }
    }),
    (0, "groups 0", |l, _, _| conv_of(l).groups = 0),
    (0, "groups not dividing channels", |l, _, _| {
        conv_of(l).groups = 2
    }),
    (0, "stride 0", |l, _, _| conv_of(l).stride = 0),
    (0, "output taller than the input allows", |l, _, _| {
        conv_of(l).output.h += 1
    }),
    (0, "output wider than the input allows", |l, _, _| {
        conv_of(l).output.w += 1
    }),
    (0, "output overlaps the input", |l, _, _| {
        conv_of(l).output.offset = conv_of(l).input.offset + 5
    }),
    (0, "output past the arena", |l, _, arena| {
        conv_of(l).output.offset = arena - 10
    }),
    (0, "input past the arena", |l, _, arena| {
        conv_of(l).input.offset = arena - 100
    }),
    // In-place GELU.
    (1, "table absent", |l, _, _| lut_of(l).table = Span::NONE),
    (1, "table of 128 entries", |l, _, _| {
        lut_of(l).table.len = 128
    }),
    (1, "table past the blob", |l, blob, _| {
        lut_of(l).table.offset = blob - 255
    }),
    (1, "output shorter than the input", |l, _, _| {
        lut_of(l).output.c -= 1
    }),
    (1, "output overlaps the input partially", |l, _, _| {
        lut_of(l).output.offset += 1
    }),
    (1, "tensor past the arena", |l, _, arena| {
        let t = lut_of(l);
        t.input.offset = arena - 5;
        t.output.offset = arena - 5;
    }),
    // Depthwise conv.
    (2, "conv in place", |l, _, _| {
        conv_of(l).output.offset = conv_of(l).input.offset
    }),
    (2, "padding removed", |l, _, _| conv_of(l).pad = 0),
    (2, "weights for the wrong group count", |l, _, _| {
        conv_of(l).groups = 4
    }),
    // Residual add.
    (3, "left shift 24 (255 << 24 overflows i32)", |l, _, _| {
        add_of(l).left_shift = 24
    }),
    (3, "left shift 255", |l, _, _| add_of(l).left_shift = 255),
    (3, "b shorter than the output", |l, _, _| add_of(l).b.c -= 1),
    (3, "a longer than the output", |l, _, _| add_of(l).a.h += 1),
    (3, "b overlaps the output partially", |l, _, _| {
        add_of(l).b.offset = add_of(l).output.offset + 1
    }),
    (3, "output past the arena", |l, _, arena| {
        let a = add_of(l);
        a.a.offset = arena - 3;
        a.output.offset = arena - 3;
    }),
    // Squeeze-excite.
    (4, "output is the input", |l, _, _| {
        se_of(l).output = se_of(l).input
    }),
    (4, "output overlaps the input", |l, _, _| {
        se_of(l).output.offset = se_of(l).input.offset + 7
    }),
    (4, "scratch overlaps the input", |l, _, _| {
        se_of(l).scratch = se_of(l).input.offset + 100
    }),
    (4, "scratch overlaps the output", |l, _, _| {
        se_of(l).scratch = se_of(l).output.offset + 2
    }),
    (4, "scratch past the arena", |l, _, arena| {
        se_of(l).scratch = arena - 3
    }),
    (4, "output shape differs", |l, _, _| {
        let o = &mut se_of(l).output;
        o.h = 2;
        o.w = 8;
    }),
    (4, "sigmoid absent", |l, _, _| se_of(l).sigmoid = Span::NONE),
    (4, "fc1 weights one byte short", |l, _, _| {
        se_of(l).fc1_weights.len -= 1
    }),
    (4, "fc2 weights past the blob", |l, blob, _| {
        se_of(l).fc2_weights.offset = blob - 3
    }),
    (4, "fc2 bias one channel short", |l, _, _| {
        se_of(l).fc2_bias.len -= 4
    }),
    (4, "fc1 shifts absent", |l, _, _| {
        se_of(l).fc1_requant.shift = Span::NONE
    }),
    (4, "pool multipliers one channel short", |l, _, _| {
        se_of(l).pool_requant.multiplier.len -= 4
    }),
    (4, "pool shifts one channel long", |l, _, _| {
        se_of(l).pool_requant.shift.len += 4
    }),
    (4, "pool requant a single scalar", |l, _, _| {
        let rq = &mut se_of(l).pool_requant;
        rq.multiplier.len = 4;
        rq.shift.len = 4;
    }),
    (4, "pool shifts absent", |l, _, _| {
        se_of(l).pool_requant.shift = Span::NONE
    }),
    (4, "pool multipliers past the blob", |l, blob, _| {
        se_of(l).pool_requant.multiplier.offset = blob - 4
    }),
    (4, "scale multipliers one channel long", |l, _, _| {
        se_of(l).scale_requant.multiplier.len += 4
    }),
    (4, "scale shifts one channel short", |l, _, _| {
        se_of(l).scale_requant.shift.len -= 4
    }),
    (4, "scale requant sized for the reduced width", |l, _, _| {
        let se = se_of(l);
        let len = 4 * u32::from(se.reduced);
        se.scale_requant.multiplier.len = len;
        se.scale_requant.shift.len = len;
    }),
    (4, "scale multipliers absent", |l, _, _| {
        se_of(l).scale_requant.multiplier = Span::NONE
    }),
    (4, "scale shifts offset overflows", |l, _, _| {
        se_of(l).scale_requant.shift.offset = u32::MAX - 3
    }),
    (4, "reduced width disagrees with fc weights", |l, _, _| {
        se_of(l).reduced += 1
    }),
    (4, "lut of 257 entries", |l, _, _| {
        se_of(l).lut = Span {
            offset: 0,
            len: 257,
        }
    }),
    // Global pool.
    (5, "output length is not the channel count", |l, _, _| {
        gap_of(l).output.c -= 1
    }),
    (5, "input past the arena", |l, _, arena| {
        gap_of(l).input.offset = arena - 20
    }),
    (5, "output overlaps the input", |l, _, _| {
        gap_of(l).output.offset = gap_of(l).input.offset
    }),
    (5, "multipliers one channel short", |l, _, _| {
        gap_of(l).requant.multiplier.len -= 4
    }),
    (5, "shifts one channel long", |l, _, _| {
        gap_of(l).requant.shift.len += 4
    }),
    (5, "requant a single scalar", |l, _, _| {
        let rq = &mut gap_of(l).requant;
        rq.multiplier.len = 4;
        rq.shift.len = 4;
    }),
    (5, "multipliers absent", |l, _, _| {
        gap_of(l).requant.multiplier = Span::NONE
    }),
    (5, "shifts past the blob", |l, blob, _| {
        gap_of(l).requant.shift.offset = blob - 4
    }),
    (5, "multipliers offset overflows", |l, _, _| {
        gap_of(l).requant.multiplier.offset = u32::MAX - 3
    }),
    // Fully connected.
    (6, "weights one byte short", |l, _, _| {
        fc_of(l).weights.len -= 1
    }),
    (6, "weights past the blob", |l, blob, _| {
        fc_of(l).weights.offset = blob - 1
    }),
    (6, "bias one channel long", |l, _, _| fc_of(l).bias.len += 4),
    (6, "multipliers offset overflows", |l, _, _| {
        fc_of(l).requant.multiplier.offset = u32::MAX
    }),
    (6, "output overlaps the input", |l, _, _| {
        fc_of(l).output.offset = fc_of(l).input.offset + 1
    }),
];

#[test]
fn corrupt_layers_report_their_index() {
    let s = Sched::new(4);
    assert_eq!(s.go_ok(false).0, Ok(()));
    assert_eq!(s.go_ok(true).0, Ok(()));
    let (blob, arena) = (s.blob.len() as u32, s.arena_bytes as u32);
    for &(index, what, corrupt) in CORRUPTIONS {
        let mut bad = s.clone();
        corrupt(&mut bad.layers[index], blob, arena);
        for normalized in [false, true] {
            let (r, calls, logits) = bad.go_ok(normalized);
            let entry = if normalized {
                "run_normalized"
            } else {
                "run_with"
            };
            if index == 0 && normalized {
                // run_normalized replaces layers[0] with the (intact) stem_normalized.
                assert_eq!(r, Ok(()), "{entry}: layer {index}, {what}");
                continue;
            }
            assert_eq!(
                r,
                Err(Error::InvalidLayer { layer: index }),
                "{entry}: layer {index}, {what}"
            );
            assert_eq!(
                calls,
                (0..index).collect::<Vec<_>>(),
                "{entry}: layers run before {what}"
            );
            assert!(
                logits.iter().all(|&x| x == 0x7B),
                "{entry}: logits written on error ({what})"
            );
        }
        if index == 0 {
            // The same corruption in stem_normalized only affects run_normalized.
            let mut bad = s.clone();
            corrupt(&mut bad.stem_normalized, blob, arena);
            assert_eq!(
                bad.go_ok(false).0,
                Ok(()),
                "run_with, stem_normalized {what}"
            );
            assert_eq!(
                bad.go_ok(true).0,
                Err(Error::InvalidLayer { layer: 0 }),
                "run_normalized, stem_normalized {what}"
            );
        }
    }
}

#[test]
fn model_input_or_output_outside_the_arena() {
    let s = Sched::new(5);
    // The logits tensor past the arena: reported after the last layer.
    let mut bad = s.clone();
    bad.output.offset = s.arena_bytes as u32 - 5;
    for normalized in [false, true] {
        let (r, calls, _) = bad.go_ok(normalized);
        assert_eq!(r, Err(Error::InvalidLayer { layer: 7 }));
        assert_eq!(calls, (0..7).collect::<Vec<_>>());
    }
    // The input tensor past the arena: reported as the first layer's fault.
    let mut bad = s.clone();
    bad.input.offset = s.arena_bytes as u32 - 100;
    for normalized in [false, true] {
        let (r, calls, _) = bad.go_ok(normalized);
        assert_eq!(r, Err(Error::InvalidLayer { layer: 0 }));
        assert!(calls.is_empty());
    }
    // Offsets near u32::MAX never wrap into the arena.
    let mut bad = s.clone();
    bad.input.offset = u32::MAX - 10;
    assert_eq!(bad.go_ok(false).0, Err(Error::InvalidLayer { layer: 0 }));
}

#[test]
fn naive_requantize_model() {
    // 2^30 * 2^(0 - 31) = 0.5: ties round up (towards +infinity).
    let half = 1 << 30;
    assert_eq!(rq(3, half, 0), 2);
    assert_eq!(rq(-3, half, 0), -1);
    assert_eq!(rq(5, half, 0), 3);
    assert_eq!(rq(-5, half, 0), -2);
    assert_eq!(rq(-4, half, 0), -2);
    // Saturation to i32 before the zero point.
    assert_eq!(rq(i64::from(i32::MAX), i32::MAX, 30), i64::from(i32::MAX));
    assert_eq!(rq(i64::from(i32::MIN), i32::MAX, 30), i64::from(i32::MIN));
    let t = Tally::default();
    assert_eq!(rq_i8(1000, half, 1, 0, &t), 127);
    assert_eq!(rq_i8(-1000, half, 1, 0, &t), -128);
    assert_eq!(rq_i8(100, half, 1, 27, &t), 127);
    assert_eq!(rq_i8(100, half, 1, -27, &t), 73);
    assert_eq!((t.total.get(), t.clamped.get()), (4, 2));
    assert_eq!(
        look(&(0..=255).map(|i: u8| i as i8).collect::<Vec<_>>(), -128),
        0
    );
}

/// Exact ties (`x.5`) round up, towards +infinity, in every kernel that
/// requantizes: scale 0.5 (`2^30 * 2^(0 - 31)`) on odd accumulators.
#[test]
fn rounding_ties_go_up_in_every_kernel() {
    const HALF: i32 = 1 << 30;
    let odd = [-7, -5, -3, -1, 1, 3, 5, 7];
    // floor(v / 2 + 1 / 2)
    let expected = [-3i8, -2, -1, 0, 1, 2, 3, 4];

    // Conv: zero weights, the accumulator is the bias.
    let s = ConvKind::Pointwise.shape(2, 1, 3, 8);
    let conv = ConvParams {
        s,
        in_zp: 0,
        out_zp: 0,
        weights: vec![0; s.weight_len()],
        bias: odd.to_vec(),
        mult: vec![HALF; 8],
        shift: vec![0; 8],
        pad_values: None,
        lut: None,
    };
    let got = conv.run(&[1, 2, 3, 4, 5, 6], &Layout::fixed(2, 0)).unwrap();
    assert_same("conv ties", &[expected, expected].concat(), &got);

    // Fully connected: same, through the bias.
    let fc = FcParams {
        cin: 2,
        cout: 8,
        in_zp: 0,
        out_zp: 0,
        weights: vec![0; 16],
        bias: odd.to_vec(),
        mult: vec![HALF; 8],
        shift: vec![0; 8],
    };
    assert_same(
        "fc ties",
        &expected,
        &fc.run(&[9, -9], &Layout::fixed(2, 0)).unwrap(),
    );

    // Global pool over one pixel: the accumulator is x - in_zp.
    let gap = GapCase {
        shape: (1, 1, 8),
        input: odd.iter().map(|&v| (v + 3) as i8).collect(),
        in_zp: 3,
        out_zp: 0,
        mult: vec![HALF; 8],
        shift: vec![0; 8],
        layout: Layout::fixed(2, 0),
    };
    assert_same("global pool ties", &expected, &gap.run().unwrap());

    // Add: a' = rq(a - a_zp) at scale 0.5 ties, b' = 0, out scale 1.
    let add = AddCase {
        shape: (1, 1, 8),
        a: odd.iter().map(|&v| v as i8).collect(),
        b: vec![0; 8],
        p: AddParams {
            a_zp: 0,
            a_mult: HALF,
            a_shift: 0,
            b_zp: 0,
            b_mult: HALF,
            b_shift: 0,
            out_zp: 0,
            out_mult: HALF,
            out_shift: 1,
            left_shift: 0,
        },
        mode: AddMode::Separate,
        layout: Layout::fixed(3, 0),
    };
    assert_same("add ties", &expected, &add.run().unwrap());

    // Squeeze-excite output step: gate s + 128 = 1, so the accumulator is x - in_zp.
    let mut g = Gen(0);
    let mut se = SeParams::seeded(1, 1, 8, 1, &mut g);
    se.sigmoid = vec![-127; 256];
    se.in_zp = 0;
    se.out_zp = 0;
    se.scale_mult = vec![HALF; 8];
    se.scale_shift = vec![0; 8];
    let input: Vec<i8> = odd.iter().map(|&v| v as i8).collect();
    assert_same(
        "se ties",
        &expected,
        &se.run(&input, &Layout::fixed(3, 0)).unwrap(),
    );
}
