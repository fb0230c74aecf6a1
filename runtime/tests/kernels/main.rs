//! Proves every reference kernel against a naive model of its integer
//! contract (the doc comments in `runtime/src/schedule.rs`), on random shapes
//! and on named edge cases, and checks the executor's error paths.
//!
//! Kernels are driven the way generated code drives them: a weight blob, a
//! `[Layer]` schedule and an arena, run through `Model::run_normalized` (or
//! `Model::run`). The naive models are written independently of the runtime:
//! convolution works on NCHW planes of an explicitly padded copy of the input,
//! every accumulator is i64, and requantization is an exact i128 model of
//! `floor((acc * m + 2^(t-1)) / 2^t)`, `t = 31 - shift`, not `runtime::quant`.
//!
//! One module per op; `harness` holds what they share.

#[path = "../common/conv.rs"]
mod conv_params;
mod harness;

mod add;
mod conv;
mod fully_connected;
mod global_avg_pool;
mod helium_requant;
mod lut;
mod requantize;
mod schedule;
mod squeeze_excite;
mod wide;
mod wide_conv;
mod wide_mlp;
mod wide_placement;
