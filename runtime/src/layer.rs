//! What the executor and codegen's planner ask of a [`Layer`]: its arena
//! scratch, the tensors it reads and writes, whether its kernels take its
//! element types, and its MACs (kept apart from the format in
//! [`crate::schedule`]).
#![forbid(unsafe_code)]

use crate::schedule::{Conv, ConvMlp, ConvVariant, Layer, SqueezeExcite, Stem, TensorRef};
use crate::tensor::Elem;

/// Whether `t` is an int8 tensor.
const fn int8(t: TensorRef) -> bool {
    matches!(t.elem, Elem::I8)
}

/// Whether `c` runs the reference conv form.
const fn reference(c: &Conv) -> bool {
    matches!(c.variant, ConvVariant::Reference)
}

impl Layer {
    /// Arena scratch bytes this layer needs at its `scratch` offset.
    /// (For a [`Stem`], the ring at `first.output.offset`; for
    /// [`ConvVariant::InPlace`], the ring at its `scratch`.)
    pub const fn scratch_bytes(&self) -> usize {
        match self {
            Layer::SqueezeExcite(se) => {
                SqueezeExcite::scratch_bytes(se.input.c as usize, se.reduced as usize)
            }
            Layer::Conv(Conv {
                variant:
                    ConvVariant::InPlace { .. }
                    | ConvVariant::PointwiseInPlace { .. }
                    | ConvVariant::DepthwiseInPlace { .. }
                    | ConvVariant::WidenInPlace { .. },
                kernel,
                input,
                ..
            }) => Conv::in_place_scratch_bytes(
                *kernel as usize,
                input.w as usize,
                input.c as usize * input.elem.bytes(),
            ),
            Layer::Stem(s) => Stem::ring_bytes(
                s.second.kernel as usize,
                s.second.input.w as usize,
                s.second.input.c as usize,
            ),
            Layer::ConvMlp(m) => ConvMlp::scratch_bytes_wide(
                m.dw.kernel as usize,
                m.dw.input.w as usize,
                m.dw.input.c as usize,
                m.fc1.output.c as usize,
                m.dw.input.elem.bytes(),
                m.d_bytes(),
            ),
            _ => 0,
        }
    }

    /// The tensor this layer reads from the arena (the first operand for an
    /// add).
    pub const fn input(&self) -> TensorRef {
        match self {
            Layer::Conv(l) => l.input,
            Layer::Lut(l) => l.input,
            Layer::Add(l) => l.a,
            Layer::SqueezeExcite(l) => l.input,
            Layer::GlobalAvgPool(l) => l.input,
            Layer::FullyConnected(l) => l.input,
            Layer::Stem(l) => l.first.input,
            Layer::ConvMlp(l) => l.dw.input,
        }
    }

    /// Whether this layer's kernels handle the element types of its
    /// tensors. The global pool, the fully connected layer and the add read
    /// and write int8 or int16; so do the reference conv forms
    /// (`Reference`, `InPlace`, `WriteBehind`, `WriteAhead`, `WidenInPlace`) and a
    /// ConvMlp whose `dw` is
    /// `Reference` (its block input and output: the residual stream), or
    /// whose `dw` and `fc2` outputs are int16 too (its internals) when all
    /// three convs are `Reference` (the hidden vectors stay int8). Every
    /// other layer and conv variant is int8 only.
    pub const fn elems_supported(&self) -> bool {
        match self {
            Layer::GlobalAvgPool(_) | Layer::FullyConnected(_) | Layer::Add(_) => true,
            Layer::Conv(c) => (int8(c.input) && int8(c.output)) || c.wide_ok(),
            Layer::Stem(s) => int8(s.first.input) && int8(s.first.output) && int8(s.second.output),
            Layer::ConvMlp(m) => {
                if int8(m.dw.output) && int8(m.fc2.output) {
                    int8(m.dw.input) || reference(&m.dw)
                } else {
                    int8(m.fc1.output) && reference(&m.dw) && reference(&m.fc1) && reference(&m.fc2)
                }
            }
            Layer::Lut(l) => int8(l.input) && int8(l.output),
            Layer::SqueezeExcite(s) => int8(s.input) && int8(s.output),
        }
    }

    /// The tensor this layer writes.
    pub const fn output(&self) -> TensorRef {
        match self {
            Layer::Conv(l) => l.output,
            Layer::Lut(l) => l.output,
            Layer::Add(l) => l.output,
            Layer::SqueezeExcite(l) => l.output,
            Layer::GlobalAvgPool(l) => l.output,
            Layer::FullyConnected(l) => l.output,
            Layer::Stem(l) => l.second.output,
            Layer::ConvMlp(l) => l.add.output,
        }
    }

    /// Multiply-accumulates this layer performs (for reports).
    pub const fn macs(&self) -> u64 {
        match self {
            Layer::Conv(c) => c.macs(),
            Layer::Stem(s) => s.first.macs() + s.second.macs(),
            Layer::ConvMlp(m) => m.dw.macs() + m.fc1.macs() + m.fc2.macs(),
            Layer::SqueezeExcite(se) => {
                let c = se.input.c as u64;
                2 * c * se.reduced as u64 + se.input.len() as u64
            }
            Layer::FullyConnected(f) => f.input.len() as u64 * f.output.len() as u64,
            _ => 0,
        }
    }
}
