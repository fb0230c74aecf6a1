//! Errors the executor returns instead of panicking.
#![forbid(unsafe_code)]

use core::fmt;

/// Why a model could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The arena is smaller than the model's `arena_bytes`.
    ArenaTooSmall {
        /// Bytes the model needs.
        needed: usize,
        /// Bytes supplied.
        got: usize,
    },
    /// The input buffer has the wrong length.
    InputSize {
        /// Expected bytes (h * w * 3).
        expected: usize,
        /// Bytes supplied.
        got: usize,
    },
    /// The output buffer has the wrong length.
    OutputSize {
        /// Expected length (number of classes).
        expected: usize,
        /// Length supplied.
        got: usize,
    },
    /// The logits buffer's elements are narrower than the model's logits.
    OutputWidth {
        /// Bits per logit of the model.
        expected: u8,
        /// Bits per element of the buffer supplied.
        got: u8,
    },
    /// A layer refers to weights or arena bytes outside the blob or arena,
    /// or its shapes disagree with its data: the schedule is corrupt.
    InvalidLayer {
        /// Index of the offending layer in the schedule.
        layer: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ArenaTooSmall { needed, got } => {
                write!(
                    f,
                    "arena too small: the model needs {needed} bytes, got {got}"
                )
            }
            Error::InputSize { expected, got } => {
                write!(f, "input has {got} bytes, the model expects {expected}")
            }
            Error::OutputSize { expected, got } => {
                write!(
                    f,
                    "output buffer has {got} entries, the model has {expected} classes"
                )
            }
            Error::OutputWidth { expected, got } => write!(
                f,
                "the model's logits are {expected}-bit; an i{got} buffer cannot hold them"
            ),
            Error::InvalidLayer { layer } => write!(
                f,
                "layer {layer} of the schedule refers to data outside the weights or arena"
            ),
        }
    }
}
