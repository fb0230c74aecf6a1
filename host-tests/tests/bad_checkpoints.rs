//! Every kind of broken checkpoint is refused with a clear error (the right
//! [`Error`] variant, a message naming the file, the tensor and what was
//! expected), never a panic; valid variations (dtypes, layouts, class counts,
//! optional `num_batches_tracked`) load.
//!
//! Broken files are built in memory from one valid synthetic checkpoint by
//! editing its safetensors header and data ([`St`]).

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::OnceLock;

use codegen::arch;
use codegen::checkpoint::{self, Checkpoint, DType, Layout};
use codegen::error::Error;
use codegen::synth;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------
// Peak-allocation tracking (per thread, so parallel tests do not interfere).

struct PeakAlloc;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Largest single allocation `f` makes on this thread.
fn peak_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    PEAK.with(|p| p.set(0));
    let out = f();
    (out, PEAK.with(|p| p.get()))
}

// ---------------------------------------------------------------------------
// An editable safetensors file.

#[derive(Clone, Debug)]
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// A parsed safetensors file: tests edit entries, then [`St::bytes`]
/// re-serializes with offsets recomputed (or [`St::bytes_with`] lets a test
/// corrupt the JSON header after that).
#[derive(Clone, Debug)]
struct St {
    meta: Option<Value>,
    entries: Vec<Entry>,
}

impl St {
    fn parse(bytes: &[u8]) -> St {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let data = &bytes[8 + n..];
        let mut meta = None;
        let mut entries = Vec::new();
        for (name, v) in header {
            if name == "__metadata__" {
                meta = Some(v);
                continue;
            }
            let offs: Vec<usize> = serde_json::from_value(v["data_offsets"].clone()).unwrap();
            entries.push((
                offs[0],
                Entry {
                    name,
                    dtype: v["dtype"].as_str().unwrap().to_string(),
                    shape: serde_json::from_value(v["shape"].clone()).unwrap(),
                    data: data[offs[0]..offs[1]].to_vec(),
                },
            ));
        }
        entries.sort_by_key(|(o, _)| *o);
        St {
            meta,
            entries: entries.into_iter().map(|(_, e)| e).collect(),
        }
    }

    /// The header with consistent, contiguous offsets in entry order.
    fn header(&self) -> Map<String, Value> {
        let mut h = Map::new();
        if let Some(m) = &self.meta {
            h.insert("__metadata__".into(), m.clone());
        }
        let mut at = 0;
        for e in &self.entries {
            h.insert(
                e.name.clone(),
                json!({"dtype": e.dtype, "shape": e.shape, "data_offsets": [at, at + e.data.len()]}),
            );
            at += e.data.len();
        }
        h
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes_with(|_| {})
    }

    fn bytes_with(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let mut h = self.header();
        edit(&mut h);
        let json = serde_json::to_vec(&h).unwrap();
        let mut out = (json.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&json);
        for e in &self.entries {
            out.extend_from_slice(&e.data);
        }
        out
    }

    fn index(&self, name: &str) -> usize {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .unwrap_or_else(|| panic!("no tensor `{name}` in the test file"))
    }

    fn get(&self, name: &str) -> &Entry {
        &self.entries[self.index(name)]
    }

    fn get_mut(&mut self, name: &str) -> &mut Entry {
        let i = self.index(name);
        &mut self.entries[i]
    }

    fn remove(&mut self, name: &str) -> Entry {
        let i = self.index(name);
        self.entries.remove(i)
    }

    fn push(&mut self, e: Entry) {
        self.entries.push(e);
    }

    /// Replaces a tensor with an F32 one of `shape`, filled with `fill`.
    fn set_f32(&mut self, name: &str, shape: &[usize], fill: f32) {
        let n: usize = shape.iter().product();
        let e = self.get_mut(name);
        e.dtype = "F32".into();
        e.shape = shape.to_vec();
        e.data = std::iter::repeat_n(fill.to_le_bytes(), n)
            .flatten()
            .collect();
    }

    /// Overwrites one F32 element.
    fn poke_f32(&mut self, name: &str, index: usize, v: f32) {
        let e = self.get_mut(name);
        assert_eq!(e.dtype, "F32");
        e.data[4 * index..4 * index + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Copies every tensor under `from` to the same suffix under `to`.
    fn copy_prefix(&mut self, from: &str, to: &str) {
        let copies: Vec<Entry> = self
            .entries
            .iter()
            .filter_map(|e| {
                e.name.strip_prefix(from).map(|rest| Entry {
                    name: format!("{to}{rest}"),
                    ..e.clone()
                })
            })
            .collect();
        assert!(!copies.is_empty(), "nothing under `{from}`");
        self.entries.extend(copies);
    }
}

fn f32_entry(name: &str, shape: &[usize], fill: f32) -> Entry {
    let n: usize = shape.iter().product();
    Entry {
        name: name.into(),
        dtype: "F32".into(),
        shape: shape.to_vec(),
        data: std::iter::repeat_n(fill.to_le_bytes(), n)
            .flatten()
            .collect(),
    }
}

// ---------------------------------------------------------------------------
// Shared valid inputs.

/// The valid timm train-time F32 checkpoint (seed 1, 1000 classes), once.
fn valid() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        synth::checkpoint_bytes(codegen::arch::T8, 1, 1000, Layout::TimmTrain, DType::F32)
    })
}

/// [`valid`], parsed for editing (a fresh copy per call).
fn st() -> St {
    static ST: OnceLock<St> = OnceLock::new();
    ST.get_or_init(|| St::parse(valid())).clone()
}

/// The valid checkpoint, loaded once (reference values).
fn loaded() -> &'static Checkpoint {
    static CK: OnceLock<Checkpoint> = OnceLock::new();
    CK.get_or_init(|| parse_ok(valid()))
}

const FILE: &str = "bad.safetensors";

fn parse_ok(bytes: &[u8]) -> Checkpoint {
    checkpoint::parse(Path::new(FILE), bytes).unwrap_or_else(|e| panic!("should load: {e}"))
}

fn parse_err(bytes: &[u8]) -> Error {
    match checkpoint::parse(Path::new(FILE), bytes) {
        Ok(c) => panic!(
            "loaded as {} ({} entries) but should fail",
            c.layout, c.entries
        ),
        Err(e) => e,
    }
}

/// The message names the file and contains every fragment.
fn assert_msg(e: &Error, parts: &[&str]) {
    let m = e.to_string();
    assert!(m.contains(FILE), "message does not name the file: {m}");
    for p in parts {
        assert!(m.contains(p), "message lacks {p:?}: {m}");
    }
}

macro_rules! assert_err {
    ($bytes:expr, $pat:pat, $parts:expr) => {{
        let bytes: &[u8] = &$bytes;
        let e = parse_err(bytes);
        assert!(matches!(e, $pat), "wrong variant: {e:?}");
        assert_msg(&e, $parts);
        e
    }};
}

/// `s` is refused as [`Error::UnsupportedDtype`], naming tensor `name`, its
/// `dtype` and the `more` parts.
fn assert_dtype_refused(s: &St, name: &str, dtype: &str, more: &[&str]) {
    let tensor = format!("`{name}`");
    let parts: Vec<&str> = [tensor.as_str(), dtype]
        .into_iter()
        .chain(more.iter().copied())
        .collect();
    assert_err!(s.bytes(), Error::UnsupportedDtype { .. }, &parts);
}

// ---------------------------------------------------------------------------
// Not safetensors / truncated / malformed container.

#[test]
fn empty_and_tiny_files() {
    assert_err!(
        Vec::<u8>::new(),
        Error::NotSafetensors { .. },
        &["has 0 bytes", "8-byte header length"]
    );
    assert_err!(
        *b"\x10\0\0\0\0",
        Error::NotSafetensors { .. },
        &["has 5 bytes"]
    );
    // Exactly the length prefix, declaring nothing.
    assert_err!(
        0u64.to_le_bytes(),
        Error::NotSafetensors { .. },
        &["not a JSON object"]
    );
}

#[test]
fn not_safetensors_at_all() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x02\0\0\0".to_vec();
    assert_err!(
        png,
        Error::NotSafetensors { .. },
        &["truncated file or not safetensors"]
    );
    let text = b"# FastViT-T8\nThis is a README, not a checkpoint.\n".to_vec();
    assert_err!(text, Error::NotSafetensors { .. }, &["not safetensors"]);
    // A plausible length, but the header is not a JSON object.
    let mut arr = 7u64.to_le_bytes().to_vec();
    arr.extend_from_slice(b"[1,2,3]");
    assert_err!(arr, Error::NotSafetensors { .. }, &["not a JSON object"]);
}

#[test]
fn huge_header_length_is_refused_without_allocating() {
    for n in [100_000_000_000u64, u64::MAX, (valid().len() - 7) as u64] {
        let mut b = n.to_le_bytes().to_vec();
        b.extend_from_slice(b"{\"a\":1}");
        let (r, peak) = peak_alloc(|| checkpoint::parse(Path::new(FILE), &b));
        let e = r.expect_err("huge header length");
        assert!(matches!(e, Error::NotSafetensors { .. }), "{e:?}");
        assert_msg(&e, &[&format!("declares {n} bytes"), "truncated"]);
        assert!(
            peak < 64 * 1024,
            "allocated {peak} bytes for a bogus header"
        );
    }
    // The same on a full-size file whose prefix is corrupted.
    let mut b = valid().to_vec();
    b[..8].copy_from_slice(&100_000_000_000u64.to_le_bytes());
    let (r, peak) = peak_alloc(|| checkpoint::parse(Path::new(FILE), &b));
    assert!(matches!(r, Err(Error::NotSafetensors { .. })));
    assert!(
        peak < 64 * 1024,
        "allocated {peak} bytes for a bogus header"
    );
}

#[test]
fn truncated_files() {
    let v = valid();
    let n = u64::from_le_bytes(v[..8].try_into().unwrap()) as usize;
    let data_len = v.len() - 8 - n;
    for (what, len) in [
        ("inside the length prefix", 3),
        ("right after the length prefix", 8),
        ("one byte into the header", 9),
        ("mid-header", 8 + n / 2),
        ("one byte short of the header", 8 + n - 1),
        ("right after the header", 8 + n),
        ("mid-data", 8 + n + data_len / 2),
        ("one byte short", v.len() - 1),
    ] {
        let e = parse_err(&v[..len]);
        assert!(
            matches!(e, Error::NotSafetensors { .. }),
            "{what}: wrong variant {e:?}"
        );
        let m = e.to_string();
        assert!(m.contains(FILE), "{what}: {m}");
        assert!(
            m.contains("truncated") || m.contains("has 3 bytes"),
            "{what}: message does not suggest truncation: {m}"
        );
    }
    // Mid-data truncation says how much data is missing.
    let e = parse_err(&v[..v.len() - 1]);
    assert_msg(&e, &[&data_len.to_string(), &(data_len - 1).to_string()]);
    // Trailing garbage after the data is also reported.
    let mut long = v.to_vec();
    long.extend_from_slice(b"junk");
    assert_err!(
        long,
        Error::NotSafetensors { .. },
        &[&data_len.to_string(), &(data_len + 4).to_string()]
    );
}

#[test]
fn header_not_json() {
    let body = b"{this is not json}";
    let mut b = (body.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(body);
    assert_err!(b, Error::NotSafetensors { .. }, &["header", "JSON"]);

    // Not UTF-8.
    let body = b"{\"\xff\xfe\": 1}";
    let mut b = (body.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(body);
    assert_err!(b, Error::NotSafetensors { .. }, &["UTF-8"]);

    // Valid JSON, but not a safetensors header: an unknown dtype, a missing field.
    let s = st();
    let b = s.bytes_with(|h| h["head.fc.bias"]["dtype"] = json!("F128"));
    assert_err!(b, Error::NotSafetensors { .. }, &["header", "F128"]);
    let b = s.bytes_with(|h| {
        h["head.fc.bias"].as_object_mut().unwrap().remove("shape");
    });
    assert_err!(b, Error::NotSafetensors { .. }, &["header", "shape"]);

    // The header was cut short but the length prefix was fixed up.
    let v = valid();
    let n = u64::from_le_bytes(v[..8].try_into().unwrap()) as usize;
    let mut b = ((n / 2) as u64).to_le_bytes().to_vec();
    b.extend_from_slice(&v[8..8 + n / 2]);
    assert_err!(b, Error::NotSafetensors { .. }, &["JSON"]);
}

#[test]
fn bad_offsets() {
    let s = st();
    // Overlap: a tensor starts 4 bytes before the previous one ends.
    let victim = s.entries[10].name.clone();
    let prev_end = s.entries[..10].iter().map(|e| e.data.len()).sum::<usize>();
    let len = s.entries[10].data.len();
    let b = s.bytes_with(|h| {
        h[&victim]["data_offsets"] = json!([prev_end - 4, prev_end - 4 + len]);
    });
    assert_err!(
        b,
        Error::NotSafetensors { .. },
        &[&format!("`{victim}`"), "data_offsets", "overlap"]
    );

    // Past the data: the last tensor points beyond the end of the file.
    let last = s.entries.last().unwrap().name.clone();
    let total: usize = s.entries.iter().map(|e| e.data.len()).sum();
    let b = s.bytes_with(|h| {
        h[&last]["data_offsets"] = json!([total + 1000, total + 1000 + 4]);
    });
    assert_err!(
        b,
        Error::NotSafetensors { .. },
        &[&format!("`{last}`"), "data_offsets"]
    );

    // Backwards.
    let first = s.entries[0].name.clone();
    let b = s.bytes_with(|h| h[&first]["data_offsets"] = json!([8, 0]));
    assert_err!(b, Error::NotSafetensors { .. }, &["data_offsets"]);

    // data_offsets inconsistent with shape x dtype size: claim a smaller shape.
    let name = "stages.1.blocks.0.mlp.fc1.weight";
    let b = s.bytes_with(|h| h[name]["shape"] = json!([288, 95]));
    assert_err!(
        b,
        Error::NotSafetensors { .. },
        &[&format!("`{name}`"), "[288, 95]", "F32", "109440", "110592"]
    );
    // ... or a different dtype.
    let b = s.bytes_with(|h| h[name]["dtype"] = json!("F16"));
    assert_err!(
        b,
        Error::NotSafetensors { .. },
        &[&format!("`{name}`"), "F16", "55296"]
    );
    // A shape whose byte size overflows.
    let b = s.bytes_with(|h| h[name]["shape"] = json!([usize::MAX, 2]));
    assert_err!(b, Error::NotSafetensors { .. }, &["overflow"]);
}

// ---------------------------------------------------------------------------
// Key set and shapes.

#[test]
fn missing_tensor_names_it_and_its_shape() {
    // (tensor, its shape as the message gives it): a deep one, the very
    // tensor layout detection looks at first, the head.
    for (name, shape) in [
        ("stages.2.blocks.3.mlp.fc1.weight", "[576, 192, 1, 1]"),
        ("stem.0.conv_kxk.0.conv.weight", "[48, 3, 3, 3]"),
        ("head.fc.weight", "768"),
    ] {
        let mut s = st();
        s.remove(name);
        let quoted = format!("`{name}`");
        assert_err!(
            s.bytes(),
            Error::MissingTensor { .. },
            &[quoted.as_str(), shape]
        );
    }

    // A whole block.
    let mut s = st();
    s.entries
        .retain(|e| !e.name.starts_with("stages.2.blocks.3."));
    assert_err!(
        s.bytes(),
        Error::MissingTensor { .. },
        &["`stages.2.blocks.3."]
    );
}

#[test]
fn wrong_shapes() {
    // A transposed 1x1 conv.
    for (name, t) in [
        ("stages.1.blocks.0.mlp.fc1.weight", vec![96, 288, 1, 1]),
        ("stages.0.blocks.0.mlp.fc1.weight", vec![48, 144, 1, 1]),
        ("stem.0.conv_kxk.0.conv.weight", vec![3, 48, 3, 3]),
        (
            "stages.3.blocks.1.mlp.conv.conv.weight",
            vec![384, 1, 7, 7, 1],
        ),
    ] {
        let mut s = st();
        let e = s.get_mut(name);
        let expected = e.shape.clone();
        e.shape = t.clone();
        let e = assert_err!(
            s.bytes(),
            Error::WrongShape { .. },
            &[
                &format!("`{name}`"),
                &format!("{t:?}"),
                &format!("{expected:?}")
            ]
        );
        let Error::WrongShape { got, .. } = e else {
            unreachable!()
        };
        assert_eq!(got, t);
    }
    // A 1-D tensor given as a scalar and as 2-D.
    let mut s = st();
    s.set_f32("stem.1.conv_kxk.0.bn.weight", &[], 1.0);
    assert_err!(
        s.bytes(),
        Error::WrongShape { .. },
        &["`stem.1.conv_kxk.0.bn.weight`", "[]", "[48]"]
    );
    // The head as a scalar: report the real shape, not a made-up one.
    let mut s = st();
    s.set_f32("head.fc.weight", &[], 1.0);
    assert_err!(
        s.bytes(),
        Error::WrongShape { .. },
        &["`head.fc.weight`", "shape []"]
    );
    // Head weight and bias disagree on the class count.
    let mut s = st();
    s.set_f32("head.fc.bias", &[10], 0.0);
    assert_err!(
        s.bytes(),
        Error::WrongShape { .. },
        &["`head.fc.bias`", "[10]", "[1000]"]
    );
}

#[test]
fn unexpected_extra_tensors() {
    for (name, shape) in [
        ("classifier.weight", vec![1000, 768]),
        ("stages.1.blocks.0.mlp.fc3.weight", vec![96, 96, 1, 1]),
        ("stages.2.blocks.4.mlp.fc1.weight", vec![576, 192, 1, 1]),
        // Absurd indices must not overflow anything.
        (
            "stages.0.blocks.18446744073709551615.mlp.fc1.weight",
            vec![144, 48, 1, 1],
        ),
        (
            "stages.2.blocks.18446744073709551614.mlp.fc1.weight",
            vec![576, 192, 1, 1],
        ),
        ("stages.99999999999999999999.blocks.0.x", vec![1]),
    ] {
        let mut s = st();
        s.push(f32_entry(name, &shape, 0.5));
        assert_err!(
            s.bytes(),
            Error::UnexpectedTensor { .. },
            &[&format!("`{name}`"), "FastViT-T8", "timm train-time"]
        );
    }
    // A reparameterized tensor mixed into a train-time file.
    let mut s = st();
    s.push(f32_entry("stem.0.reparam_conv.weight", &[48, 3, 3, 3], 0.1));
    let e = parse_err(&s.bytes());
    assert!(
        matches!(e, Error::UnexpectedTensor { .. }),
        "wrong variant: {e:?}"
    );
    assert_msg(&e, &["`stem.0.reparam_conv.weight`"]);
}

#[test]
fn unknown_layout() {
    let s = St {
        meta: None,
        entries: vec![
            f32_entry("conv1.weight", &[64, 3, 7, 7], 0.0),
            f32_entry("fc.weight", &[1000, 512], 0.0),
        ],
    };
    assert_err!(
        s.bytes(),
        Error::UnknownLayout { .. },
        &["not a FastViT checkpoint", "`conv1.weight`"]
    );
    let empty = St {
        meta: Some(json!({"format": "pt"})),
        entries: vec![],
    };
    assert_err!(
        empty.bytes(),
        Error::UnknownLayout { .. },
        &["(no tensors)"]
    );
}

// ---------------------------------------------------------------------------
// Dtypes and values.

#[test]
fn unsupported_dtypes() {
    let name = "stages.0.blocks.0.mlp.fc1.bias";
    // F64: same values, 8 bytes each.
    let mut s = st();
    let e = s.get_mut(name);
    e.data = e
        .data
        .chunks_exact(4)
        .flat_map(|b| (f32::from_le_bytes(b.try_into().unwrap()) as f64).to_le_bytes())
        .collect();
    e.dtype = "F64".into();
    assert_dtype_refused(&s, name, "F64", &["F32, F16 and BF16"]);
    // I32 / U8 / BOOL / F8: same bytes reinterpreted (sizes adjusted).
    for (dtype, shape) in [
        ("I32", vec![144]),
        ("U8", vec![144 * 4]),
        ("BOOL", vec![144 * 4]),
        ("F8_E4M3", vec![144 * 4]),
    ] {
        let mut s = st();
        let e = s.get_mut(name);
        e.dtype = dtype.into();
        e.shape = shape.clone();
        // Only the dtype is wrong when the element count matches.
        let expect_dtype_error = shape == [144];
        let err = parse_err(&s.bytes());
        if expect_dtype_error {
            assert!(
                matches!(err, Error::UnsupportedDtype { .. }),
                "{dtype}: {err:?}"
            );
            assert_msg(&err, &[&format!("`{name}`"), dtype]);
        } else {
            assert!(
                matches!(
                    err,
                    Error::UnsupportedDtype { .. } | Error::WrongShape { .. }
                ),
                "{dtype}: {err:?}"
            );
            assert_msg(&err, &[&format!("`{name}`")]);
        }
    }
    // A byte-typed tensor with the right shape names the dtype.
    let mut s = st();
    let e = s.get_mut(name);
    e.dtype = "U8".into();
    e.data.truncate(144);
    assert_dtype_refused(&s, name, "U8", &[]);
}

#[test]
fn num_batches_tracked_is_optional() {
    let reference = loaded();
    // Absent.
    let mut s = st();
    let before = s.entries.len();
    s.entries
        .retain(|e| !e.name.ends_with("num_batches_tracked"));
    assert!(s.entries.len() < before);
    let c = parse_ok(&s.bytes());
    assert_eq!(c.layout, Layout::TimmTrain);
    assert_eq!(c.entries, s.entries.len());
    assert_eq!(c.tensors, reference.tensors);

    // Present as I64 (what timm saves) with a non-zero count, and as I32.
    let mut s = st();
    let name = "stem.0.conv_kxk.0.bn.num_batches_tracked";
    assert_eq!(s.get(name).dtype, "I64");
    s.get_mut(name).data = 123_456i64.to_le_bytes().to_vec();
    let c = parse_ok(&s.bytes());
    assert_eq!(c.entries, 462);
    assert!(!c.tensors.contains_key(name));
    assert_eq!(c.tensors, reference.tensors);
    let e = s.get_mut(name);
    e.dtype = "I32".into();
    e.data = 7i32.to_le_bytes().to_vec();
    parse_ok(&s.bytes());

    // A float counter is refused with a message naming it.
    let e = s.get_mut(name);
    e.dtype = "F64".into();
    e.data = 7f64.to_le_bytes().to_vec();
    assert_dtype_refused(&s, name, "F64", &[]);
}

#[test]
fn non_finite_values() {
    let name = "stem.1.conv_kxk.0.bn.weight";
    for (v, what) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "+Inf"),
        (f32::NEG_INFINITY, "-Inf"),
    ] {
        let mut s = st();
        s.poke_f32(name, 17, v);
        let e = assert_err!(
            s.bytes(),
            Error::NonFinite { .. },
            &[&format!("`{name}`"), what, "index 17"]
        );
        let Error::NonFinite { index, .. } = e else {
            unreachable!()
        };
        assert_eq!(index, 17);
    }
    // Also in a half-precision file (F16 Inf, BF16 NaN).
    let f16 = St::parse(&synth::checkpoint_bytes(
        codegen::arch::T8,
        1,
        10,
        Layout::TimmTrain,
        DType::F16,
    ));
    let mut s = f16.clone();
    let name = "stages.3.blocks.1.layer_scale.gamma";
    s.get_mut(name).data[2..4].copy_from_slice(&0x7c00u16.to_le_bytes()); // f16 +Inf
    assert_err!(
        s.bytes(),
        Error::NonFinite { .. },
        &[&format!("`{name}`"), "+Inf", "index 1"]
    );
    let bf16 = St::parse(&synth::checkpoint_bytes(
        codegen::arch::T8,
        1,
        10,
        Layout::TimmTrain,
        DType::BF16,
    ));
    let mut s = bf16;
    let name = "head.fc.bias";
    s.get_mut(name).data[0..2].copy_from_slice(&0x7fc0u16.to_le_bytes()); // bf16 NaN
    assert_err!(
        s.bytes(),
        Error::NonFinite { .. },
        &[&format!("`{name}`"), "NaN", "index 0"]
    );
}

#[test]
fn negative_running_var() {
    let name = "stages.1.blocks.0.token_mixer.mixer.conv_kxk.0.bn.running_var";
    let mut s = st();
    s.poke_f32(name, 5, -0.25);
    let e = assert_err!(
        s.bytes(),
        Error::NegativeVariance { .. },
        &[&format!("`{name}`"), "channel 5", "-0.25"]
    );
    let Error::NegativeVariance { index, value, .. } = e else {
        unreachable!()
    };
    assert_eq!((index, value), (5, -0.25));
    // Zero (and -0.0) variance is legal.
    let mut s = st();
    s.poke_f32(name, 5, 0.0);
    s.poke_f32(name, 6, -0.0);
    parse_ok(&s.bytes());
}

// ---------------------------------------------------------------------------
// Other FastViT variants.

/// stem width 64 and 6 blocks in stage 2, the rest T8 (timm train-time naming).
fn t12_like() -> St {
    let mut s = st();
    let name = "stem.0.conv_kxk.0.conv.weight";
    s.set_f32(name, &[64, 3, 3, 3], 0.1);
    s.copy_prefix("stages.2.blocks.3.", "stages.2.blocks.4.");
    s.copy_prefix("stages.2.blocks.3.", "stages.2.blocks.5.");
    s
}

/// A synthetic checkpoint of `variant` (10 classes).
fn variant_st(variant: &str, layout: Layout) -> St {
    let v = codegen::arch::Variant::by_name(variant).unwrap();
    St::parse(&synth::checkpoint_bytes(v, 1, 10, layout, DType::F32))
}

/// Adds stage-3 attention tensors (timm `Attention`: qkv + proj) as SA12 has.
fn add_attention(s: &mut St, prefix: &str) {
    s.push(f32_entry(
        &format!("{prefix}.token_mixer.qkv.weight"),
        &[1536, 512],
        0.0,
    ));
    s.push(f32_entry(
        &format!("{prefix}.token_mixer.proj.weight"),
        &[512, 512],
        0.0,
    ));
}

#[test]
fn repmixer_variants_are_detected_from_shapes() {
    for name in ["fastvit_t12", "fastvit_s12"] {
        for layout in [
            Layout::TimmTrain,
            Layout::TimmReparam,
            Layout::AppleTrain,
            Layout::AppleReparam,
        ] {
            let c = parse_ok(&variant_st(name, layout).bytes());
            assert_eq!((c.variant.name, c.layout), (name, layout));
        }
    }
    // A T8 with a T12's stem width and depth is taken for a damaged T12 and
    // its first tensor of the wrong width named.
    assert_err!(
        t12_like().bytes(),
        Error::WrongShape { .. },
        &["has shape [768]", "expected [1024]"]
    );
}

#[test]
fn attention_variants_are_refused_with_what_is_missing() {
    for ratio4 in [false, true] {
        let mut s = variant_st(
            if ratio4 { "fastvit_s12" } else { "fastvit_t12" },
            Layout::TimmTrain,
        );
        add_attention(&mut s, "stages.3.blocks.0");
        let e = assert_err!(
            s.bytes(),
            Error::OtherVariant {
                variant: "fastvit_sa12",
                ..
            },
            &[
                "fastvit_sa12",
                "[2, 2, 6, 2]",
                "attention",
                "RepConditionalPosEnc",
                "not implemented",
                "fastvit_t8, fastvit_t12 and fastvit_s12"
            ]
        );
        assert!(
            e.to_string()
                .contains(&format!("ratio {}", 3 + ratio4 as usize)),
            "{e}"
        );
    }
    // SA24/SA36 depths; MA36's 76-wide stem.
    let mut s = variant_st("fastvit_s12", Layout::TimmTrain);
    s.copy_prefix("stages.0.blocks.1.", "stages.0.blocks.2.");
    s.copy_prefix("stages.0.blocks.1.", "stages.0.blocks.3.");
    s.copy_prefix("stages.1.blocks.1.", "stages.1.blocks.2.");
    s.copy_prefix("stages.1.blocks.1.", "stages.1.blocks.3.");
    for b in 6..12 {
        s.copy_prefix("stages.2.blocks.5.", &format!("stages.2.blocks.{b}."));
    }
    s.copy_prefix("stages.3.blocks.1.", "stages.3.blocks.2.");
    s.copy_prefix("stages.3.blocks.1.", "stages.3.blocks.3.");
    add_attention(&mut s, "stages.3.blocks.0");
    assert_err!(
        s.bytes(),
        Error::OtherVariant {
            variant: "fastvit_sa24",
            ..
        },
        &["fastvit_sa24", "[4, 4, 12, 4]", "attention"]
    );
    s.set_f32("stem.0.conv_kxk.0.conv.weight", &[76, 3, 3, 3], 0.1);
    for b in 12..18 {
        s.copy_prefix("stages.2.blocks.5.", &format!("stages.2.blocks.{b}."));
    }
    for (st, from, to) in [(0, 4, 6), (1, 4, 6), (3, 4, 6)] {
        for b in from..to {
            s.copy_prefix(
                &format!("stages.{st}.blocks.1."),
                &format!("stages.{st}.blocks.{b}."),
            );
        }
    }
    assert_err!(
        s.bytes(),
        Error::OtherVariant {
            variant: "fastvit_ma36",
            ..
        },
        &["fastvit_ma36", "stem width 76", "attention"]
    );

    // The same in the timm reparameterized and Apple layouts.
    for (layout, block) in [
        (Layout::TimmReparam, "stages.3.blocks.0"),
        (Layout::AppleTrain, "network.6.0"),
    ] {
        let mut s = variant_st("fastvit_s12", layout);
        add_attention(&mut s, block);
        assert_err!(
            s.bytes(),
            Error::OtherVariant {
                variant: "fastvit_sa12",
                ..
            },
            &["not supported"]
        );
    }
}

// ---------------------------------------------------------------------------
// Apple naming.

#[test]
fn apple_layout_errors_use_apple_names() {
    let apple = St::parse(&synth::checkpoint_bytes(
        codegen::arch::T8,
        1,
        1000,
        Layout::AppleTrain,
        DType::F32,
    ));
    let name = arch::timm_to_apple("stages.2.blocks.3.mlp.fc1.weight");
    assert_eq!(name, "network.4.3.convffn.fc1.weight");
    let mut s = apple.clone();
    s.remove(&name);
    assert_err!(
        s.bytes(),
        Error::MissingTensor { .. },
        &[&format!("`{name}`"), "[576, 192, 1, 1]"]
    );

    for name in [
        "head.weight",
        "patch_embed.0.rbr_conv.0.conv.weight",
        "network.0.0.layer_scale",
    ] {
        let mut s = apple.clone();
        s.remove(name);
        let e = assert_err!(
            s.bytes(),
            Error::MissingTensor { .. },
            &[&format!("`{name}`")]
        );
        assert!(!e.to_string().contains("head.fc"), "{e}");
    }

    let mut s = apple.clone();
    s.get_mut("network.1.proj.0.lkb_origin.conv.weight").shape = vec![96, 7, 7, 1];
    assert_err!(
        s.bytes(),
        Error::WrongShape { .. },
        &["`network.1.proj.0.lkb_origin.conv.weight`", "[96, 1, 7, 7]"]
    );

    let mut s = apple.clone();
    s.push(f32_entry("network.0.0.foo.weight", &[4], 0.0));
    assert_err!(
        s.bytes(),
        Error::UnexpectedTensor { .. },
        &["`network.0.0.foo.weight`", "Apple ml-fastvit"]
    );
    // A timm key in an Apple file.
    let mut s = apple.clone();
    s.push(f32_entry(
        "stem.0.conv_kxk.0.conv.weight",
        &[48, 3, 3, 3],
        0.0,
    ));
    assert_err!(
        s.bytes(),
        Error::UnexpectedTensor { .. },
        &["`stem.0.conv_kxk.0.conv.weight`", "Apple ml-fastvit"]
    );
    // Two Apple spellings of one tensor: ambiguous, refused.
    let mut s = apple.clone();
    let mut dup = s.get("network.0.0.layer_scale").clone();
    dup.name = "network.0.0.layer_scale.gamma".into();
    s.push(dup);
    assert_err!(
        s.bytes(),
        Error::UnexpectedTensor { .. },
        &["network.0.0.layer_scale"]
    );

    let mut s = apple;
    s.poke_f32("patch_embed.1.rbr_conv.0.bn.weight", 2, f32::NAN);
    assert_err!(
        s.bytes(),
        Error::NonFinite { .. },
        &["`patch_embed.1.rbr_conv.0.bn.weight`", "NaN"]
    );
}

// ---------------------------------------------------------------------------
// Classes, dtypes, layouts.

#[test]
fn class_counts() {
    for classes in [10, 1] {
        let c = parse_ok(&synth::checkpoint_bytes(
            codegen::arch::T8,
            1,
            classes,
            Layout::TimmTrain,
            DType::F32,
        ));
        assert_eq!(c.classes, classes);
        assert_eq!(c.tensors["head.fc.weight"].shape, [classes, 768]);
        assert_eq!(c.tensors["head.fc.bias"].shape, [classes]);
    }
    // Timm's naming, and Apple's for the head too.
    let apple = St::parse(&synth::checkpoint_bytes(
        codegen::arch::T8,
        1,
        1,
        Layout::AppleReparam,
        DType::F32,
    ));
    for (mut s, head) in [(st(), "head.fc"), (apple, "head")] {
        s.set_f32(&format!("{head}.weight"), &[0, 768], 0.0);
        s.set_f32(&format!("{head}.bias"), &[0], 0.0);
        assert_err!(
            s.bytes(),
            Error::WrongShape { .. },
            &[&format!("`{head}.weight`"), "[0, 768]"]
        );
    }
}

#[test]
fn half_precision_round_trips() {
    let mut reference = synth::train_tensors(codegen::arch::T8, 1, 1000);
    for dtype in [DType::F16, DType::BF16] {
        let c = parse_ok(&synth::checkpoint_bytes(
            codegen::arch::T8,
            1,
            1000,
            Layout::TimmTrain,
            dtype,
        ));
        assert_eq!(c.dtype, dtype);
        assert_eq!(c.layout, Layout::TimmTrain);
        assert_eq!(c.classes, 1000);
        let mut expected = reference.clone();
        synth::round_to(&mut expected, dtype);
        assert_eq!(c.tensors, expected, "{dtype} values");
        // Rounding changed something (so the comparison is meaningful).
        assert_ne!(c.tensors, reference);
    }
    synth::round_to(&mut reference, DType::F32);
    assert_eq!(loaded().tensors, reference);
    assert_eq!(loaded().dtype, DType::F32);
}

#[test]
fn every_layout_loads() {
    let train = loaded();
    let mut reparam = None;
    for (layout, entries) in [
        (Layout::TimmTrain, 462),
        (Layout::TimmReparam, 156),
        (Layout::AppleTrain, 462),
        (Layout::AppleReparam, 156),
    ] {
        let c = parse_ok(&synth::checkpoint_bytes(
            codegen::arch::T8,
            1,
            1000,
            layout,
            DType::F32,
        ));
        assert_eq!(c.layout, layout);
        assert_eq!(c.entries, entries);
        assert_eq!(c.classes, 1000);
        assert_eq!(c.path, Path::new(FILE));
        assert_eq!(c.sha256.len(), 64);
        if layout.is_train() {
            assert_eq!(c.tensors, train.tensors, "{layout}");
        } else if let Some(r) = &reparam {
            assert_eq!(&c.tensors, r, "{layout}");
        } else {
            reparam = Some(c.tensors);
        }
    }
}

// ---------------------------------------------------------------------------
// load() on the file system.

#[test]
fn load_io_errors() {
    let missing = Path::new("/nonexistent/dir/fastvit_t8.safetensors");
    let e = checkpoint::load(missing).expect_err("no such file");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("/nonexistent/dir/fastvit_t8.safetensors"), "{m}");
    assert!(m.contains("cannot read checkpoint"), "{m}");

    let dir = std::env::temp_dir();
    let e = checkpoint::load(&dir).expect_err("a directory");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains(&*dir.to_string_lossy()), "{e}");

    // And a real file round-trips through load().
    let path = std::env::temp_dir().join(format!(
        "fastvit-edge-bad-checkpoints-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&path, b"\x01\0\0\0").unwrap();
    let e = checkpoint::load(&path).expect_err("tiny file");
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(e, Error::NotSafetensors { .. }), "{e:?}");
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
}
