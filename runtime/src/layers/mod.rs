//! The executor's per-layer functions, one module per kind of [`Layer`]
//! (`Model::run_layer` only dispatches): each validates its layer's spans
//! and shapes, splits the arena into the kernel's views, and runs the
//! kernel; `None` if the layer is corrupt.
//!
//! [`Layer`]: crate::Layer

mod conv;
mod conv_mlp;
mod ops;
mod stem;
