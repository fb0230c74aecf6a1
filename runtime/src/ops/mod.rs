//! Reference kernels, one module per op. Each is the numerical specification
//! of its op: plain loops over validated slices, integer-only.
#![forbid(unsafe_code)]

pub mod add;
pub mod conv;
pub mod conv_in_place;
pub mod conv_mlp;
pub mod conv_widen;
pub mod conv_write_behind;
pub mod fully_connected;
pub mod global_avg_pool;
pub mod lut;
pub mod squeeze_excite;
pub mod stem;

pub use crate::operands::{widen, I32s, Multipliers, RequantView, Shifts};
