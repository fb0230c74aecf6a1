//! Proves the memory-saving execution forms against a naive composition of
//! the existing reference kernels (themselves proven against independent
//! integer models in `kernels/`), bit for bit, on random shapes:
//!
//! * `ConvVariant::InPlace` against `ConvVariant::Reference` out of place;
//! * `ConvVariant::WriteBehind`, with its output overlapping its input at the
//!   least lead the contract allows, against `Reference`;
//! * `Layer::Stem`, overlapping its input the same way, against two
//!   `Reference` convs with the intermediate in full;
//! * `Layer::ConvMlp`, in place, against `Conv, Conv, Conv, Add`, with
//!   `fc1`/`fc2` both `Reference` and both `Pointwise`;
//! * `ConvVariant::PointwiseInPlace` against `Reference` out of place;
//! * `ConvVariant::Depthwise` (any kernel, stride, padding, pad values,
//!   tables, channel counts around the 16-channel chunk) against `Reference`,
//!   `ConvVariant::DepthwiseInPlace` against `Reference` out of place, and
//!   the fused ConvMlp with a `Depthwise` dw against `Conv, Conv, Conv, Add`;
//! * `ConvVariant::Multiplier`, `MultiplierWriteBehind` (overlapping at the
//!   least lead) and `DenseHwio` (kernels up to 9, strides up to 3, channel
//!   counts around the chunk sizes) against `Reference`, and the fast
//!   `Layer::Stem` (`DenseHwio` + `Depthwise`) against two `Reference` convs.
//!
//! Every case runs through `Model::run_normalized` on an arena pre-filled
//! with garbage and checks that no byte outside the layer's output and scratch
//! changed. Corrupt fused layers must be rejected with `InvalidLayer`, and
//! random corruption of any field must never panic.
//!
//! One module per form; `harness` holds what they share.

#[path = "../common/conv.rs"]
mod conv_params;
mod harness;

mod conv_mlp;
mod corrupt;
mod depthwise;
mod fast;
mod in_place;
mod stem;
mod write_behind;
