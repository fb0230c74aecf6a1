//! Errors of the host pipeline. Every message names the file and, where there
//! is one, the tensor, and says what was expected.

use std::path::PathBuf;

/// A codegen failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// OS error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (or is truncated).
    #[error("{path}: not a valid safetensors file: {why}")]
    NotSafetensors {
        /// File.
        path: PathBuf,
        /// Parser diagnosis.
        why: String,
    },
    /// A required tensor is absent.
    #[error("{path}: tensor `{name}` is missing (expected shape {shape:?}); is this a FastViT-T8, -T12 or -S12 checkpoint in timm or Apple ml-fastvit naming?")]
    MissingTensor {
        /// File.
        path: PathBuf,
        /// timm key.
        name: String,
        /// Expected shape.
        shape: Vec<usize>,
    },
    /// A tensor has the wrong shape.
    #[error("{path}: tensor `{name}` has shape {got:?}, expected {expected:?}")]
    WrongShape {
        /// File.
        path: PathBuf,
        /// Key as stored in the file.
        name: String,
        /// Found.
        got: Vec<usize>,
        /// Expected.
        expected: Vec<usize>,
    },
    /// A tensor is stored in a dtype the loader does not read.
    #[error("{path}: tensor `{name}` has dtype {dtype}; supported are F32, F16 and BF16 (I64 only for num_batches_tracked). Convert the checkpoint to float32, e.g. with safetensors in Python.")]
    UnsupportedDtype {
        /// File.
        path: PathBuf,
        /// Key.
        name: String,
        /// Found dtype.
        dtype: String,
    },
    /// A tensor holds NaN or infinity.
    #[error("{path}: tensor `{name}` contains {what} at flat index {index}; the checkpoint is corrupt or was saved mid-divergence")]
    NonFinite {
        /// File.
        path: PathBuf,
        /// Key.
        name: String,
        /// "NaN", "+Inf" or "-Inf".
        what: &'static str,
        /// First offending element.
        index: usize,
    },
    /// A BatchNorm running variance is negative.
    #[error("{path}: BatchNorm running variance `{name}` is negative ({value}) at channel {index}; a variance must be >= 0")]
    NegativeVariance {
        /// File.
        path: PathBuf,
        /// Key.
        name: String,
        /// Channel.
        index: usize,
        /// Value.
        value: f32,
    },
    /// The checkpoint is another FastViT variant.
    #[error("{path}: this checkpoint looks like {variant} ({why}), which is not supported: {missing}. Supported are the RepMixer variants fastvit_t8, fastvit_t12 and fastvit_s12")]
    OtherVariant {
        /// File.
        path: PathBuf,
        /// Closest known variant.
        variant: &'static str,
        /// What gave it away.
        why: String,
        /// What the pipeline lacks for it.
        missing: &'static str,
    },
    /// A tensor the model does not have.
    #[error("{path}: unexpected tensor `{name}` for a {layout} checkpoint")]
    UnexpectedTensor {
        /// File.
        path: PathBuf,
        /// Key.
        name: String,
        /// Detected variant and layout (`FastViT-T8 timm train-time`).
        layout: String,
    },
    /// No known layout matches.
    #[error("{path}: not a FastViT checkpoint: found none of `stem.0.conv_kxk.0.conv.weight` (timm), `stem.0.reparam_conv.weight` (timm reparameterized) or `patch_embed.0.*` (Apple ml-fastvit); first keys: {first_keys}")]
    UnknownLayout {
        /// File.
        path: PathBuf,
        /// A few keys from the file.
        first_keys: String,
    },
    /// Bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// An input (image or .npy) could not be used.
    #[error("{path}: {why}")]
    Input {
        /// File.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that a resolution is usable: a positive multiple of 32.
pub fn check_resolution(r: usize) -> Result<()> {
    if r == 0 || !r.is_multiple_of(32) || r > 2048 {
        return Err(Error::Usage(format!(
            "resolution {r} is not supported: use a multiple of 32 between 32 and 2048 (the model downsamples by 32; default 256)"
        )));
    }
    Ok(())
}
