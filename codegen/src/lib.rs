//! Host-side pipeline: load -> fold -> (calibrate, quantize, plan) -> emit.
//!
//! Every pass is a pure function over typed data; file I/O happens only in
//! [`checkpoint`] (read) and the emitter (write).
#![deny(missing_docs)]

pub mod arch;
pub mod calibrate;
pub mod checkpoint;
pub mod emit;
pub mod equalize;
pub mod error;
pub mod eval;
pub mod float;
pub mod fold;
pub mod images;
pub mod pipeline;
pub mod plan;
pub mod prng;
pub mod quantize;
pub mod synth;
