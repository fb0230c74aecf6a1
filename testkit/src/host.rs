//! Host-only helpers: building weight blobs and running one schedule the way
//! generated code does, and the asserts around them.

use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use runtime::{Error, Layer, Model, Requant, Span, TensorRef};

use crate::first_difference;

/// A weight blob under construction. Starts with junk so no real data sits
/// at offset 0, and pads with junk up to each 4-byte aligned i32 span.
pub struct Blob(pub Vec<u8>);

impl Default for Blob {
    fn default() -> Self {
        Self::new()
    }
}

impl Blob {
    pub fn new() -> Self {
        Blob(vec![0xA5; 3])
    }

    pub fn i8s(&mut self, v: &[i8]) -> Span {
        let offset = self.0.len() as u32;
        self.0.extend(v.iter().map(|&x| x as u8));
        Span {
            offset,
            len: v.len() as u32,
        }
    }

    /// [`Span::NONE`] for `None`.
    pub fn opt_i8s(&mut self, v: Option<&[i8]>) -> Span {
        v.map_or(Span::NONE, |v| self.i8s(v))
    }

    pub fn i32s(&mut self, v: &[i32]) -> Span {
        while self.0.len() % 4 != 0 {
            self.0.push(0xA5);
        }
        let offset = self.0.len() as u32;
        self.0.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        Span {
            offset,
            len: 4 * v.len() as u32,
        }
    }

    /// Requantization shifts, one byte each (the schedule's format).
    pub fn shifts(&mut self, v: &[i32]) -> Span {
        let bytes: Vec<i8> = v.iter().map(|&s| s as i8).collect();
        self.i8s(&bytes)
    }

    /// Per-channel multipliers as the schedule stores them: the top 16
    /// bits of each Q31 multiplier, whose low half must be zero (else the
    /// test's own model would use bits the kernels never see).
    pub fn multipliers(&mut self, mult: &[i32]) -> Span {
        while self.0.len() % 2 != 0 {
            self.0.push(0xA5);
        }
        let offset = self.0.len() as u32;
        for &m in mult {
            assert_eq!(m & 0xFFFF, 0, "stored multiplier {m:#x} has a low half");
            self.0.extend(((m >> 16) as i16).to_le_bytes());
        }
        Span {
            offset,
            len: 2 * mult.len() as u32,
        }
    }

    pub fn requant(&mut self, mult: &[i32], shift: &[i32]) -> Requant {
        Requant {
            multiplier: self.multipliers(mult),
            shift: self.shifts(shift),
        }
    }
}

pub fn tensor(offset: usize, h: usize, w: usize, c: usize) -> TensorRef {
    TensorRef::i8(offset as u32, h as u16, w as u16, c as u16)
}

/// The arena bytes `t` occupies.
pub fn byte_range(t: TensorRef) -> (usize, usize) {
    (t.offset as usize, t.end())
}

/// Names for [`layers_model`]'s layers.
static UNDER_TEST: [&str; 64] = ["under_test"; 64];

/// `layers` (at most 64) as a whole model, the way a test runs them: input
/// `input`, output `output`, the first layer also the normalized stem, zero
/// points 0, every layer named `under_test`.
pub fn layers_model<'a>(
    weights: &'a [u8],
    layers: &'a [Layer],
    input: TensorRef,
    output: TensorRef,
    arena_bytes: usize,
) -> Model<'a> {
    Model {
        weights,
        layers,
        layer_names: &UNDER_TEST[..layers.len()],
        stem_normalized: layers[0],
        arena_bytes,
        input,
        normalized_input_zp: 0,
        output,
        output_zp: 0,
    }
}

/// What [`run_model`] saw.
pub struct Run {
    /// The model output.
    pub out: Vec<i8>,
    /// The arena afterwards.
    pub arena: Vec<i8>,
    /// The `after_layer` calls: `(layer index, arena length)`.
    pub seen: Vec<(usize, usize)>,
}

/// Runs `layers` through `Model::run_normalized` with `image` as the model
/// input at `input` and the model output read from `output`, on a copy of
/// `arena` (garbage outside the tensors). The copy is followed by a tail the
/// model does not own, which must come back unchanged.
pub fn run_model(
    weights: &[u8],
    layers: &[Layer],
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
    image: &[i8],
) -> Result<Run, Error> {
    let model = layers_model(weights, layers, input, output, arena.len());
    let tail: Vec<i8> = (0..13).map(|i| 0x55 ^ i as i8).collect();
    let mut work = [arena, &tail].concat();
    let mut out = vec![0x3C; output.len()];
    let mut seen = Vec::new();
    model.run_normalized(&mut work, image, &mut out, |i, a| seen.push((i, a.len())))?;
    assert_eq!(work[arena.len()..], tail, "bytes past the arena changed");
    work.truncate(arena.len());
    Ok(Run {
        out,
        arena: work,
        seen,
    })
}

/// Fails naming the first byte outside the `writable` ranges that changed.
pub fn only_changed(
    before: &[i8],
    after: &[i8],
    writable: &[(usize, usize)],
) -> Result<(), String> {
    for (i, (b, a)) in before.iter().zip(after).enumerate() {
        if b != a && !writable.iter().any(|&(s, e)| (s..e).contains(&i)) {
            return Err(format!(
                "arena byte {i} outside the layer's output and scratch changed: {b} -> {a}"
            ));
        }
    }
    Ok(())
}

/// Asserts equality, reporting the first differing index with both values.
#[track_caller]
pub fn assert_same<T: PartialEq + Copy + core::fmt::Debug>(name: &str, expected: &[T], got: &[T]) {
    if let Some(why) = first_difference(expected, got) {
        panic!("{name}: {why}");
    }
}

/// [`assert_same`] for property tests (a failure lets proptest shrink).
#[cfg(feature = "proptest")]
pub fn prop_same<T: PartialEq + Copy + core::fmt::Debug>(
    name: &str,
    expected: &[T],
    got: &[T],
) -> Result<(), proptest::test_runner::TestCaseError> {
    match first_difference(expected, got) {
        Some(why) => Err(proptest::test_runner::TestCaseError::fail(format!(
            "{name}: {why}"
        ))),
        None => Ok(()),
    }
}

/// Runs a property over `cases` random cases (a random seed each run, no
/// persisted failures; `PROPTEST_CASES` overrides the count for soak runs).
#[cfg(feature = "proptest")]
pub fn check<T: core::fmt::Debug>(
    cases: u32,
    strategy: impl proptest::strategy::Strategy<Value = T>,
    test: impl Fn(T) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    use proptest::test_runner::{Config, TestRunner};
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
