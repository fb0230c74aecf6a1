//! Loading a FastViT checkpoint (safetensors; F32, F16 or BF16) of a
//! RepMixer variant (T8, T12, S12) in any of the four layouts, validated
//! against [`crate::arch`], into timm naming.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use safetensors::tensor::Dtype;
use safetensors::{SafeTensorError, SafeTensors};
use sha2::{Digest, Sha256};

use crate::arch::{self, KeySpec, Variant};
use crate::error::{Error, Result};

/// A float tensor (row-major, PyTorch layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor from shape and data (lengths must agree).
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }
}

/// Tensors by timm key.
pub type TensorMap = BTreeMap<String, Tensor>;

/// The four checkpoint layouts the loader recognizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    /// timm train-time (462 entries for T8), the hub file `timm/fastvit_t8.apple_in1k`.
    TimmTrain,
    /// timm `reparameterize_model` / `inference_mode=True` (156 entries for T8).
    TimmReparam,
    /// Apple ml-fastvit unfused naming (`patch_embed`, `network.N`, `rbr_*`).
    AppleTrain,
    /// Apple ml-fastvit reparameterized (`reparam_conv`, `lkb_reparam`).
    AppleReparam,
}

impl Layout {
    /// Whether the tensors still hold the train-time branches.
    pub fn is_train(self) -> bool {
        matches!(self, Layout::TimmTrain | Layout::AppleTrain)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::TimmTrain => "timm train-time",
            Layout::TimmReparam => "timm reparameterized",
            Layout::AppleTrain => "Apple ml-fastvit unfused",
            Layout::AppleReparam => "Apple ml-fastvit reparameterized",
        })
    }
}

/// Storage dtypes the loader reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DType {
    /// IEEE binary32.
    F32,
    /// IEEE binary16.
    F16,
    /// bfloat16.
    BF16,
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A loaded, validated checkpoint in timm naming.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Where it came from (a file path or a description).
    pub path: PathBuf,
    /// Detected variant (from the tensor shapes).
    pub variant: &'static Variant,
    /// Detected layout.
    pub layout: Layout,
    /// Float dtype of the stored tensors (the most common one if mixed).
    pub dtype: DType,
    /// Classes of `head.fc`.
    pub classes: usize,
    /// Float tensors by timm key (`num_batches_tracked` dropped).
    pub tensors: TensorMap,
    /// SHA-256 of the file bytes, hex.
    pub sha256: String,
    /// Entries in the file.
    pub entries: usize,
}

impl Checkpoint {
    /// Parameter count as stored (excluding BN running statistics).
    pub fn parameters(&self) -> usize {
        self.tensors
            .iter()
            .filter(|(k, _)| !k.ends_with("running_mean") && !k.ends_with("running_var"))
            .map(|(_, t)| t.data.len())
            .sum()
    }
}

/// Reads and validates a checkpoint file.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        action: "cannot read checkpoint",
        source,
    })?;
    parse(path, &bytes)
}

fn dtype_name(d: Dtype) -> String {
    format!("{d:?}")
}

/// Parses and validates checkpoint bytes; `path` is used in messages.
///
/// ```
/// use std::path::Path;
/// let err = codegen::checkpoint::parse(Path::new("t8.safetensors"), b"not a checkpoint")
///     .unwrap_err();
/// // Every error names the file and says what was expected.
/// assert!(err.to_string().contains("t8.safetensors"), "{err}");
/// ```
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
    let p = || path.to_path_buf();
    check_header(path, bytes)?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::NotSafetensors {
        path: p(),
        why: explain(bytes, e),
    })?;
    let mut raw: Vec<(String, safetensors::tensor::TensorView<'_>)> = st.tensors();
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    let entries = raw.len();

    // Detect the naming family, then rename Apple keys to timm keys.
    let apple = raw.iter().any(|(k, _)| {
        k.starts_with("patch_embed.") || k.starts_with("network.") || k.starts_with("conv_exp.")
    });
    let mut named = Vec::with_capacity(raw.len());
    for (k, v) in raw {
        let timm = if apple {
            arch::apple_to_timm(&k).ok_or_else(|| Error::UnexpectedTensor {
                path: p(),
                name: k.clone(),
                layout: "FastViT Apple ml-fastvit".into(),
            })?
        } else {
            k.clone()
        };
        named.push((timm, k, v));
    }
    let variant = detect_variant(
        path,
        &named
            .iter()
            .map(|(t, _, v)| (t.as_str(), v.shape().to_vec()))
            .collect::<Vec<_>>(),
    )?;
    // The layout is the key table whose own keys (those the other table
    // lacks) the file has more of, so a file missing any one tensor is still
    // recognized and the missing tensor reported.
    let names = |specs: Vec<KeySpec>| specs.into_iter().map(|s| s.name).collect::<BTreeSet<_>>();
    let (train_names, reparam_names) = (
        names(arch::train_keys(variant, 1)),
        names(arch::reparam_keys(variant, 1)),
    );
    let own = |of: &BTreeSet<String>, not: &BTreeSet<String>| {
        named
            .iter()
            .filter(|(t, _, _)| of.contains(t) && !not.contains(t))
            .count()
    };
    let n_train = own(&train_names, &reparam_names);
    let n_reparam = own(&reparam_names, &train_names);
    let layout = match (apple, n_reparam >= n_train, n_train + n_reparam > 0) {
        (false, true, true) => Layout::TimmReparam,
        (false, false, true) => Layout::TimmTrain,
        (true, true, true) => Layout::AppleReparam,
        (true, false, true) => Layout::AppleTrain,
        (_, _, false) => {
            let first_keys = named
                .iter()
                .take(4)
                .map(|(_, k, _)| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::UnknownLayout {
                path: p(),
                first_keys: if first_keys.is_empty() {
                    "(no tensors)".into()
                } else {
                    first_keys
                },
            });
        }
    };

    // Classes come from the head; everything else is fixed by the architecture.
    let (head_name, head_shape) = named
        .iter()
        .find(|(t, _, _)| t == "head.fc.weight")
        .map(|(_, k, v)| (k.clone(), v.shape().to_vec()))
        .ok_or_else(|| Error::MissingTensor {
            path: p(),
            name: if apple {
                "head.weight"
            } else {
                "head.fc.weight"
            }
            .into(),
            shape: vec![arch::DEFAULT_CLASSES, variant.final_dim()],
        })?;
    let classes = head_shape.first().copied().unwrap_or(0);
    if classes == 0 {
        return Err(Error::WrongShape {
            path: p(),
            name: head_name,
            got: head_shape,
            expected: vec![arch::DEFAULT_CLASSES, variant.final_dim()],
        });
    }
    let specs: Vec<KeySpec> = if layout.is_train() {
        arch::train_keys(variant, classes)
    } else {
        arch::reparam_keys(variant, classes)
    };
    let layout_name = format!("{} {layout}", variant.title());
    let spec_by_name: BTreeMap<&str, &KeySpec> =
        specs.iter().map(|s| (s.name.as_str(), s)).collect();

    let mut tensors = TensorMap::new();
    let mut dtype_counts = [0usize; 3];
    for (timm, stored, view) in &named {
        let Some(spec) = spec_by_name.get(timm.as_str()) else {
            return Err(Error::UnexpectedTensor {
                path: p(),
                name: stored.clone(),
                layout: layout_name.clone(),
            });
        };
        if timm.ends_with("num_batches_tracked") {
            // An int64 counter; its value is irrelevant for inference.
            if !matches!(view.dtype(), Dtype::I64 | Dtype::I32) {
                return Err(Error::UnsupportedDtype {
                    path: p(),
                    name: stored.clone(),
                    dtype: dtype_name(view.dtype()),
                });
            }
            continue;
        }
        if view.shape() != spec.shape.as_slice() {
            return Err(Error::WrongShape {
                path: p(),
                name: stored.clone(),
                got: view.shape().to_vec(),
                expected: spec.shape.clone(),
            });
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => {
                dtype_counts[0] += 1;
                data.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            }
            Dtype::F16 => {
                dtype_counts[1] += 1;
                data.chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect()
            }
            Dtype::BF16 => {
                dtype_counts[2] += 1;
                data.chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect()
            }
            other => {
                return Err(Error::UnsupportedDtype {
                    path: p(),
                    name: stored.clone(),
                    dtype: dtype_name(other),
                })
            }
        };
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            let v = values[index];
            return Err(Error::NonFinite {
                path: p(),
                name: stored.clone(),
                what: if v.is_nan() {
                    "NaN"
                } else if v > 0.0 {
                    "+Inf"
                } else {
                    "-Inf"
                },
                index,
            });
        }
        if timm.ends_with("running_var") {
            if let Some(index) = values.iter().position(|&v| v < 0.0) {
                return Err(Error::NegativeVariance {
                    path: p(),
                    name: stored.clone(),
                    index,
                    value: values[index],
                });
            }
        }
        if tensors.contains_key(timm) {
            // Two Apple spellings (`layer_scale`, `layer_scale.gamma`) of one tensor.
            return Err(Error::UnexpectedTensor {
                path: p(),
                name: stored.clone(),
                layout: layout_name.clone(),
            });
        }
        tensors.insert(timm.clone(), Tensor::new(spec.shape.clone(), values));
    }
    for spec in &specs {
        if !spec.name.ends_with("num_batches_tracked") && !tensors.contains_key(&spec.name) {
            let name = if apple {
                arch::timm_to_apple(&spec.name)
            } else {
                spec.name.clone()
            };
            return Err(Error::MissingTensor {
                path: p(),
                name,
                shape: spec.shape.clone(),
            });
        }
    }
    let dtype =
        [DType::F32, DType::F16, DType::BF16][(0..3).max_by_key(|&i| dtype_counts[i]).unwrap_or(0)];
    Ok(Checkpoint {
        path: p(),
        variant,
        layout,
        dtype,
        classes,
        tensors,
        sha256: hex(&Sha256::digest(bytes)),
        entries,
    })
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Says what is wrong for a header the parser refused (its errors print as
/// bare variant names), naming the tensor to blame where there is one.
/// Called after [`check_header`], so the header length fits the file.
fn explain(bytes: &[u8], e: SafeTensorError) -> String {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header = bytes.get(8..n.saturating_add(8)).unwrap_or_default();
    let available = bytes.len() - 8 - header.len();
    let meta =
        std::str::from_utf8(header).map(serde_json::from_str::<safetensors::tensor::Metadata>);
    let meta_ok = meta.as_ref().ok().and_then(|m| m.as_ref().ok());
    match e {
        SafeTensorError::InvalidHeader => "the JSON header is not valid UTF-8".into(),
        SafeTensorError::InvalidHeaderDeserialization => match meta {
            Ok(Err(json)) => format!("the header is not valid safetensors JSON: {json}"),
            _ => "the header is not valid safetensors JSON".into(),
        },
        SafeTensorError::HeaderTooLarge => {
            format!("the header declares {n} bytes of JSON, more than the 100 MB safetensors allows")
        }
        SafeTensorError::InvalidOffset(name) => format!(
            "tensor `{name}` has data_offsets that overlap another tensor, leave a gap, run backwards or point past the data (each tensor must start where the previous one ends)"
        ),
        SafeTensorError::TensorInvalidInfo => {
            // The parser stops at the first tensor in offset order.
            let bad = meta_ok.and_then(|m| {
                m.tensors()
                    .into_iter()
                    .filter_map(|(name, t)| {
                        let (s, e) = t.data_offsets;
                        let want = t.shape.iter().try_fold(t.dtype.size(), |a, &d| a.checked_mul(d));
                        (want != e.checked_sub(s)).then_some((name, t, want))
                    })
                    .min_by_key(|(_, t, _)| t.data_offsets)
            });
            match bad {
                Some((name, t, want)) => {
                    let (s, e) = t.data_offsets;
                    format!(
                        "tensor `{name}` ({:?}, shape {:?}) needs {} bytes but its data_offsets [{s}, {e}] span {} bytes",
                        t.dtype,
                        t.shape,
                        want.map_or("an overflowing number of".into(), |w| w.to_string()),
                        e.saturating_sub(s)
                    )
                }
                None => "a tensor's data_offsets disagree with its shape and dtype".into(),
            }
        }
        SafeTensorError::MetadataIncompleteBuffer => {
            let end = meta_ok
                .and_then(|m| m.tensors().values().map(|t| t.data_offsets.1).max())
                .unwrap_or(0);
            if end > available {
                format!("the header's tensors need {end} bytes of data but only {available} bytes follow the header (truncated file)")
            } else {
                format!("the header's tensors end at byte {end} of the data but {available} bytes follow the header (trailing bytes, or tensors missing from the header)")
            }
        }
        SafeTensorError::ValidationOverflow => {
            "a tensor's shape is so large that its byte size overflows".into()
        }
        other => other.to_string(),
    }
}

/// Checks the 8-byte header length against the file size before anything
/// is parsed or allocated, so a header claiming gigabytes is refused cheaply.
fn check_header(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |why: String| Error::NotSafetensors {
        path: path.to_path_buf(),
        why,
    };
    if bytes.len() < 8 {
        return Err(err(format!(
            "the file has {} bytes; a safetensors file starts with an 8-byte header length",
            bytes.len()
        )));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let available = bytes.len() as u64 - 8;
    if n > available {
        return Err(err(format!(
            "the header declares {n} bytes of JSON but only {available} bytes follow (truncated file or not safetensors)"
        )));
    }
    if bytes.get(8) != Some(&b'{') {
        return Err(err("the header is not a JSON object".into()));
    }
    Ok(())
}

/// The variant a file's shapes describe (stem width, blocks per stage, MLP
/// ratio, attention keys), so that key-by-key validation runs against the
/// right table; variants with attention are refused here with what they need.
/// A damaged file (a missing or extra block, a transposed weight) is matched
/// to the closest supported variant and its bad tensor reported by that check.
fn detect_variant(path: &Path, keys: &[(&str, Vec<usize>)]) -> Result<&'static Variant> {
    let mut depths = [0usize; 4];
    let mut attention = false;
    for (k, _) in keys {
        if k.contains(".attn.") || k.contains("token_mixer.qkv") || k.contains("pos_emb") {
            attention = true;
        }
        if let Some(rest) = k.strip_prefix("stages.") {
            let mut it = rest.split('.');
            if let (Some(s), Some("blocks"), Some(b)) = (it.next(), it.next(), it.next()) {
                if let (Ok(s), Ok(b)) = (s.parse::<usize>(), b.parse::<usize>()) {
                    // No FastViT has 64 blocks in a stage; absurd indices are
                    // left to the key-by-key check (and must not overflow).
                    if s < 4 && b < 64 {
                        depths[s] = depths[s].max(b + 1);
                    }
                }
            }
        }
    }
    let shape_of = |name: &str| {
        keys.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, s)| s.clone())
    };
    let width = shape_of("stem.0.conv_kxk.0.conv.weight")
        .or_else(|| shape_of("stem.0.reparam_conv.weight"))
        .and_then(|s| s.first().copied())
        .unwrap_or(0);
    let ratio = shape_of("stages.0.blocks.0.mlp.fc1.weight")
        .and_then(|s| (s.len() >= 2 && s[1] > 0).then(|| s[0] / s[1]))
        .unwrap_or(0);
    let variant = arch::closest_variant(width, depths, ratio, attention);
    if variant.supported() {
        return Ok(variant);
    }
    // Missing widths/depths (partial files) are left to the key-by-key check.
    if width == 0 || depths.iter().all(|&d| d == 0) {
        return Ok(arch::T8);
    }
    Err(Error::OtherVariant {
        path: path.to_path_buf(),
        variant: variant.name,
        why: format!(
            "stem width {width}, blocks per stage {depths:?}, mlp ratio {ratio}{}",
            if attention { ", attention layers" } else { "" }
        ),
        missing: variant.attention,
    })
}
