//! What every op's tests share: the comparison, the naive integer model,
//! the arena layout and the one-layer runner, and the shared strategies.

use std::cell::Cell;

pub use crate::conv_params::{odd_kernel, ConvParams, Geometry};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use runtime::{Error, Layer, TensorRef};
pub use testkit::SplitMix64 as Gen;
pub use testkit::{assert_same, byte_range, check, tensor, Blob};
use testkit::{first_difference, only_changed, run_model};

/// A run inside a property: an executor error fails the case.
pub fn ran<T>(r: Result<T, Error>) -> Result<T, TestCaseError> {
    r.map_err(|e| TestCaseError::fail(format!("{e:?}")))
}

/// [`testkit::prop_same`] naming the element as `(y, x, c)` of the NHWC
/// `shape` of the compared tensor.
pub fn prop_same(
    name: &str,
    shape: (usize, usize, usize),
    expected: &[i8],
    got: &[i8],
) -> Result<(), TestCaseError> {
    match first_difference(expected, got) {
        Some(why) => Err(TestCaseError::fail(format!(
            "{name}: {}",
            why.in_nhwc(shape.1, shape.2)
        ))),
        None => Ok(()),
    }
}

/// Counts requantized outputs that were clamped to the int8 range, so a
/// property can assert its random parameters exercised both regimes.
#[derive(Default)]
pub struct Tally {
    pub total: Cell<u64>,
    pub clamped: Cell<u64>,
}

impl Tally {
    pub fn record(&self, clamped: bool) {
        self.total.set(self.total.get() + 1);
        self.clamped.set(self.clamped.get() + u64::from(clamped));
    }

    /// At least `min_percent`% of outputs were in range and at least one was clamped.
    pub fn assert_mixed(&self, name: &str, min_percent: u64) {
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

/// `floor((acc * m + 2^(t-1)) / 2^t)` with `t = 31 - shift`, exactly in i128,
/// saturated to i32.
pub fn rq(acc: i64, m: i32, shift: i32) -> i64 {
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
pub fn rq_i8(acc: i64, m: i32, shift: i32, zp: i32, tally: &Tally) -> i8 {
    let v = rq(acc, m, shift) + i64::from(zp);
    let clamped = v.clamp(-128, 127);
    tally.record(clamped != v);
    clamped as i8
}

/// Accumulators are i32 in the contract: make sure a generator never
/// produces one that overflows (the model itself is exact).
pub fn acc32(acc: i64) -> i64 {
    assert!(
        i32::try_from(acc).is_ok(),
        "test generator bug: accumulator {acc} overflows i32"
    );
    acc
}

/// A requantization with one multiplier and shift per channel.
#[derive(Clone, Debug)]
pub struct PerChannel {
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
}

impl PerChannel {
    /// Eight channels with shifts at both ends of the contract (t = 62 and
    /// t = 1) and zero multipliers, mixed.
    pub fn extremes() -> Self {
        let mult = vec![
            1 << 30,
            MAX_MULT,
            MAX_MULT,
            1 << 30,
            0,
            1 << 30,
            0,
            MAX_MULT,
        ];
        let shift = vec![-31, 30, -31, 30, -20, 10, 0, -31];
        PerChannel { mult, shift }
    }

    /// [`rq_i8`] of channel `ch`.
    pub fn rq_i8(&self, acc: i64, ch: usize, zp: i32, tally: &Tally) -> i8 {
        rq_i8(acc, self.mult[ch], self.shift[ch], zp, tally)
    }

    /// Stored in `blob` as the schedule reads it.
    pub fn stored(&self, blob: &mut Blob) -> runtime::Requant {
        blob.requant(&self.mult, &self.shift)
    }
}

/// 256-entry table indexed by `q + 128` (the sign-bit flip of the byte).
pub fn look(table: &[i8], q: i8) -> i8 {
    table[usize::from(q as u8 ^ 0x80)]
}

/// Seeded parameters for named cases, in the ranges the strategies below
/// draw from.
pub trait Seeded {
    fn zp(&mut self) -> i32;
    fn mults(&mut self, n: usize) -> Vec<i32>;
    fn shifts(&mut self, n: usize) -> Vec<i32>;
    fn biases(&mut self, n: usize) -> Vec<i32>;
}

impl Seeded for Gen {
    fn zp(&mut self) -> i32 {
        self.range_i32(-128, 127)
    }

    /// Stored multipliers (low half zero, see [`stored_multiplier`]).
    fn mults(&mut self, n: usize) -> Vec<i32> {
        let m = self.i32s(n, 1 << 30, i32::MAX as i64);
        m.into_iter().map(|m| m & !0xFFFF).collect()
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
pub struct Layout {
    pub order: Vec<usize>,
    pub gap: usize,
    pub seed: u64,
}

impl Layout {
    pub fn fixed(n: usize, seed: u64) -> Self {
        Layout {
            order: (0..n).collect(),
            gap: 3,
            seed,
        }
    }

    /// Offsets of regions of `sizes` and a garbage-filled arena holding them.
    pub fn place(&self, sizes: &[usize]) -> (Vec<usize>, Vec<i8>) {
        assert_eq!(sizes.len(), self.order.len());
        let mut offsets = vec![0; sizes.len()];
        let mut cursor = self.gap;
        for &i in &self.order {
            offsets[i] = cursor;
            cursor += sizes[i] + self.gap;
        }
        (offsets, Gen::new(self.seed).i8s(cursor))
    }
}

pub fn write(arena: &mut [i8], t: TensorRef, data: &[i8]) {
    arena[t.offset as usize..t.end()].copy_from_slice(data);
}

/// An elementwise layer's tensors, all of `shape`: `inputs.len()` inputs
/// holding `inputs`, placed by `layout` with the output after them, or
/// the output in input `alias`'s place. Returns the input tensors, the
/// output and the arena.
pub fn place_elementwise(
    layout: &Layout,
    (h, w, c): (usize, usize, usize),
    inputs: &[&[i8]],
    alias: Option<usize>,
) -> (Vec<TensorRef>, TensorRef, Vec<i8>) {
    let n = h * w * c;
    let mut sizes = vec![n; inputs.len()];
    sizes.push(if alias.is_some() { 0 } else { n });
    let (off, mut arena) = layout.place(&sizes);
    let tensors: Vec<TensorRef> = off.iter().map(|&o| tensor(o, h, w, c)).collect();
    for (&t, data) in tensors.iter().zip(inputs) {
        write(&mut arena, t, data);
    }
    let output = tensors[alias.unwrap_or(inputs.len())];
    (tensors[..inputs.len()].to_vec(), output, arena)
}

/// Where an elementwise case's tensors go ([`place_elementwise`]): each
/// `shape`, placed by `layout`, the output apart or (`alias`) over that
/// input.
#[derive(Clone, Debug)]
pub struct Elementwise {
    pub shape: (usize, usize, usize),
    pub layout: Layout,
    pub alias: Option<usize>,
}

impl Elementwise {
    /// The layer on `inputs` placed here: `layer(inputs, output, blob)`
    /// builds it on their tensors (its operands in `blob`), then
    /// [`run_single`] runs it from the first input with only the output
    /// writable.
    pub fn run(
        &self,
        inputs: &[&[i8]],
        layer: impl FnOnce(&[TensorRef], TensorRef, &mut Blob) -> Layer,
    ) -> Result<Vec<i8>, Error> {
        let (tensors, output, arena) =
            place_elementwise(&self.layout, self.shape, inputs, self.alias);
        let mut blob = Blob::new();
        let layer = layer(&tensors, output, &mut blob);
        let writable = [byte_range(output)];
        run_single(&blob.0, layer, tensors[0], output, &arena, &writable)
    }
}

/// Runs `layer` as a one-layer model ([`testkit::run_model`]) with `input`
/// as the model input and `output` as the model output. Asserts that only
/// the `writable` byte ranges of `arena` changed and that `after_layer` saw
/// the one layer.
pub fn run_single(
    weights: &[u8],
    layer: Layer,
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
    writable: &[(usize, usize)],
) -> Result<Vec<i8>, Error> {
    let image = arena[input.offset as usize..input.end()].to_vec();
    let r = run_model(weights, &[layer], input, output, arena, &image)?;
    assert_eq!(r.seen, [(0, arena.len())], "after_layer calls");
    if let Err(e) = only_changed(arena, &r.arena, writable) {
        panic!("{e}");
    }
    Ok(r.out)
}

pub fn zp() -> impl Strategy<Value = i32> {
    prop_oneof![1 => Just(-128), 1 => Just(127), 8 => -128i32..=127]
}

/// Mostly uniform in `[2^30, 2^31)`; sometimes 2^30 or 3 * 2^29, whose
/// products with odd accumulators land exactly on rounding ties.
pub fn multiplier() -> impl Strategy<Value = i32> {
    prop_oneof![6 => (1i32 << 30)..=i32::MAX, 1 => Just(1 << 30), 1 => Just(3 << 29)]
}

/// The largest multiplier the blob stores (its top 16 bits `0x7FFF`).
pub const MAX_MULT: i32 = 0x7FFF << 16;

/// A per-channel multiplier as the blob stores it: the low half zero.
pub fn stored_multiplier() -> impl Strategy<Value = i32> {
    multiplier().prop_map(|m| m & !0xFFFF)
}

pub fn shift() -> impl Strategy<Value = i32> {
    -12i32..=0
}

pub fn bias() -> impl Strategy<Value = i32> {
    -(1i32 << 14)..=(1 << 14)
}

pub fn i8s(n: usize) -> impl Strategy<Value = Vec<i8>> {
    vec(any::<i8>(), n)
}

pub fn table() -> impl Strategy<Value = Vec<i8>> {
    i8s(256)
}

pub fn layout(n: usize) -> impl Strategy<Value = Layout> {
    (
        Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
        0usize..8,
        any::<u64>(),
    )
        .prop_map(|(order, gap, seed)| Layout { order, gap, seed })
}
