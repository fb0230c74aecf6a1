//! Deterministic synthetic FastViT checkpoints (any supported variant) with
//! timm's exact layout.
//!
//! Used when no checkpoint is given (so a newcomer sees the pipeline work)
//! and by the tests, which regenerate the exact checkpoints the timm fixture
//! script (`host-tests/scripts/make_fixtures.py`) fed to timm.
//!
//! Fill rule: one [`SplitMix64`] stream from the seed, consumed in timm's
//! state-dict order ([`arch::train_keys`]); each float tensor draws its values
//! in row-major order from the range of its [`arch::Init`]. Conv weights are
//! fan-in scaled and BN statistics and layer scales are randomized so that
//! every branch carries signal (timm's own init would hide fold errors).

use std::collections::HashMap;

use safetensors::tensor::{Dtype, TensorView};

use crate::arch::{self, Init, Variant};
use crate::checkpoint::{DType, Layout, Tensor, TensorMap};
use crate::fold;
use crate::prng::SplitMix64;

/// Train-time tensors (timm names, f32) of `variant` for `seed` and `classes`.
pub fn train_tensors(variant: &'static Variant, seed: u64, classes: usize) -> TensorMap {
    let mut rng = SplitMix64::new(seed);
    let mut out = TensorMap::new();
    for spec in arch::train_keys(variant, classes) {
        let Some((lo, hi)) = spec.init.range() else {
            continue;
        };
        let n: usize = spec.shape.iter().product();
        let data = (0..n).map(|_| rng.uniform(lo, hi)).collect();
        out.insert(spec.name, Tensor::new(spec.shape, data));
    }
    out
}

/// Rounds every value to `dtype` and back, as storing it would.
pub fn round_to(tensors: &mut TensorMap, dtype: DType) {
    for t in tensors.values_mut() {
        for v in &mut t.data {
            *v = match dtype {
                DType::F32 => *v,
                DType::F16 => half::f16::from_f32(*v).to_f32(),
                DType::BF16 => half::bf16::from_f32(*v).to_f32(),
            };
        }
    }
}

/// A deterministic input `[3, h, w]` (channel-major), `U(-2, 2)` from `seed`.
pub fn input(seed: u64, h: usize, w: usize) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..3 * h * w).map(|_| rng.uniform(-2.0, 2.0)).collect()
}

/// Serializes a synthetic checkpoint of the given layout and dtype to
/// safetensors bytes, `num_batches_tracked` included where timm has it.
pub fn checkpoint_bytes(
    variant: &'static Variant,
    seed: u64,
    classes: usize,
    layout: Layout,
    dtype: DType,
) -> Vec<u8> {
    let train = train_tensors(variant, seed, classes);
    let (tensors, keys) = if layout.is_train() {
        (train, arch::train_keys(variant, classes))
    } else {
        (
            fold::timm_reparam(&train),
            arch::reparam_keys(variant, classes),
        )
    };
    let apple = matches!(layout, Layout::AppleTrain | Layout::AppleReparam);
    let mut blobs: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for spec in keys {
        let name = if apple {
            arch::timm_to_apple(&spec.name)
        } else {
            spec.name.clone()
        };
        if spec.init == Init::Counter {
            blobs.push((name, Dtype::I64, vec![], 0i64.to_le_bytes().to_vec()));
            continue;
        }
        let t = &tensors[&spec.name];
        let (dt, bytes): (Dtype, Vec<u8>) = match dtype {
            DType::F32 => (
                Dtype::F32,
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            DType::F16 => (
                Dtype::F16,
                t.data
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect(),
            ),
            DType::BF16 => (
                Dtype::BF16,
                t.data
                    .iter()
                    .flat_map(|v| half::bf16::from_f32(*v).to_le_bytes())
                    .collect(),
            ),
        };
        blobs.push((name, dt, t.shape.clone(), bytes));
    }
    let views: Vec<(String, TensorView<'_>)> = blobs
        .iter()
        .map(|(n, dt, shape, bytes)| {
            (
                n.clone(),
                TensorView::new(*dt, shape.clone(), bytes).expect("consistent synthetic tensor"),
            )
        })
        .collect();
    // One metadata entry only: safetensors writes the map in HashMap order,
    // and the bytes (hence the checksum in generated headers) must not vary.
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(views, &Some(meta)).expect("serializing in-memory tensors")
}

/// FNV-1a 64 over the little-endian f32 bytes of every float tensor in
/// state-dict order: the fingerprint the fixture script records.
pub fn fingerprint(variant: &'static Variant, tensors: &TensorMap, classes: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for spec in arch::train_keys(variant, classes) {
        if let Some(t) = tensors.get(&spec.name) {
            for v in &t.data {
                for b in v.to_le_bytes() {
                    h ^= b as u64;
                    h = h.wrapping_mul(0x100_0000_01b3);
                }
            }
        }
    }
    h
}
