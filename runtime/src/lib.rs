//! Heap-free, integer-only executor for int8 FastViT-T8 schedules.
//!
//! `codegen` turns a checkpoint into *data*: a weight blob, a fixed
//! [`Layer`] schedule with arena offsets, and the exact arena size. This crate
//! holds all the logic that executes that data: one reference kernel per op
//! (the numerical specification), the single requantization function
//! ([`quant::requantize`]), and the schedule executor ([`Model::run`]).
//!
//! Tensors are NHWC int8 with a per-tensor zero point (int16 where codegen
//! chose the precision: the head's pooled vector and logits, and the residual
//! streams `--int16` names); weights are int8 with per-output-channel scales
//! (an int16 stream's identity tap kept apart as an i32, [`Conv::identity`]);
//! accumulators are i32. There is no floating point
//! on the inference path, so every target computes the same bits.
#![no_std]
// `unsafe` only in the per-instruction-set kernel folders (`kernels::{dsp,
// mve, neon}`), each block with a `// SAFETY:` comment; everything else
// forbids it.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod arena;
pub mod error;
pub mod kernels;
mod layer;
mod layers;
pub mod model;
pub mod operands;
pub mod ops;
mod placement;
pub mod quant;
mod resolve;
pub mod schedule;
pub mod tensor;

pub use error::Error;

/// Whether this build executes the reference conv forms (feature
/// `reference-forms`, on by default). Without them a layer that needs one is
/// refused at run time as [`Error::InvalidLayer`], and a generated crate
/// whose schedule uses one fails to compile, so it never gets that far.
pub const REFERENCE_FORMS: bool = cfg!(feature = "reference-forms");
pub use model::{Logit, Model};
pub use schedule::{
    Add, Conv, ConvMlp, ConvVariant, Elem, FullyConnected, GlobalAvgPool, Layer, Lut, Requant,
    Span, SqueezeExcite, Stem, TensorRef,
};
