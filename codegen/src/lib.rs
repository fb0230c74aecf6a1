//! Host-side pipeline: load -> fold -> (calibrate, quantize, plan) -> emit.
//!
//! Every pass is a pure function over typed data; file I/O happens only in
//! [`checkpoint`] (read) and the emitter (write).
//!
//! The main job, pass by pass (what `codegen model.safetensors` runs; here on
//! the built-in synthetic checkpoint at a small resolution):
//!
//! ```
//! use codegen::pipeline::{calibration_inputs, load_or_synthesize, quantize, QuantOptions};
//! # fn main() -> codegen::error::Result<()> {
//! let (ck, provenance) = load_or_synthesize(None)?; // or Some(Path::new("model.safetensors"))
//! let opts = QuantOptions { resolution: 64, quiet: true, ..QuantOptions::default() };
//! let (inputs, source) = calibration_inputs(&opts)?; // the built-in calibration crops
//! let (float_graph, model) = quantize(&ck, &inputs, &source, &opts)?;
//! assert_eq!(float_graph.classes(), 1000);
//! // `model` is the int8 schedule the runtime executes, with its exact arena:
//! let image = vec![128u8; 64 * 64 * 3];
//! let mut logits = vec![0i16; 1000]; // int16 logits (int8 ones widen into it too)
//! let mut arena = vec![0i8; model.arena_bytes];
//! model.with_model(|m| m.run(&mut arena, &image, &mut logits)).expect("valid schedule");
//! let out = std::env::temp_dir().join(format!("fastvit-doc-{}", std::process::id()));
//! codegen::emit::write_crate(&out, &model, &provenance)?; // the crate a firmware depends on
//! assert!(out.join("src/lib.rs").exists());
//! # std::fs::remove_dir_all(&out).ok();
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod arch;
pub mod bias_correction;
pub mod budget;
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
pub mod precision;
pub mod prng;
pub mod quantize;
pub mod report;
pub mod strength;
pub mod synth;
