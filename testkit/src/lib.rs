//! The test kit every fastvit-edge test, bench and conformance firmware
//! shares, so the generator, the weight-blob layout and the mismatch
//! messages are written once.
//!
//! * [`SplitMix64`]: the one deterministic generator (`no_std`).
//! * [`bare_conv`]: a conv layer's shape without operands, and
//!   [`bare_tensor`] for its input and output (`no_std`).
//! * [`first_difference`]: the first differing element of two outputs, as a
//!   message (`no_std`, so the board firmware prints the same text).
//! * With `std`: [`Blob`] (a weight blob under construction),
//!   [`tensor`], [`layers_model`], [`run_model`], [`only_changed`] and [`assert_same`].
//! * With `proptest`: [`check`] and [`prop_same`].
#![no_std]

#[cfg(feature = "std")]
extern crate std;

mod compare;
mod conv;
#[cfg(feature = "std")]
mod host;
mod rng;

pub use compare::{first_difference, Mismatch};
pub use conv::{bare_conv, bare_tensor};
#[cfg(feature = "std")]
pub use host::{assert_same, byte_range, layers_model, only_changed, run_model, tensor, Blob, Run};
#[cfg(feature = "proptest")]
pub use host::{check, prop_same};
pub use rng::SplitMix64;
