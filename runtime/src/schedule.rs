//! The schedule format: plain `Copy` data that codegen emits and the executor
//! runs. Nothing here holds a reference, so a generated model is a
//! `static SCHEDULE: [Layer; N]` of struct literals plus one weight blob.
//!
//! Stability rule: new execution forms (fused ConvMlp, streamed stem,
//! per-architecture kernels) are added as new [`Layer`] or [`ConvVariant`]
//! variants; existing variants keep their fields, so older generated code
//! keeps compiling.

/// A byte range inside the model's weight blob (`Model::weights`).
///
/// `offset` is 4-byte aligned for i32 data. A zero `len` means "absent".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    /// Byte offset from the start of the weight blob.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

impl Span {
    /// The empty span, used for optional data.
    pub const NONE: Span = Span { offset: 0, len: 0 };

    /// Whether the span is empty.
    pub const fn is_none(&self) -> bool {
        self.len == 0
    }
}

/// An NHWC int8 tensor living in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TensorRef {
    /// Byte offset of element (0, 0, 0) in the arena.
    pub offset: u32,
    /// Height.
    pub h: u16,
    /// Width.
    pub w: u16,
    /// Channels (innermost).
    pub c: u16,
}

impl TensorRef {
    /// Number of int8 elements (= bytes).
    pub const fn len(&self) -> usize {
        self.h as usize * self.w as usize * self.c as usize
    }

    /// Whether the tensor has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// One past the last byte in the arena.
    pub const fn end(&self) -> usize {
        self.offset as usize + self.len()
    }
}

/// Per-output-channel requantization parameters (see [`crate::quant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Requant {
    /// i32 multipliers, one per output channel.
    pub multiplier: Span,
    /// i32 shifts, one per output channel.
    pub shift: Span,
}

/// Which kernel executes a [`Conv`]. Codegen decides; the runtime dispatches
/// on this tag and never inspects shapes to choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvVariant {
    /// The reference grouped convolution: any kernel, stride, padding, groups.
    Reference,
}

/// Grouped 2-D convolution with bias, per-channel requantization and an
/// optional 256-entry activation table applied to the int8 result.
///
/// Covers every conv of FastViT-T8: the 3x3/s2 stem, depthwise 3x3 (s1, s2)
/// and 7x7, the x2-multiplier grouped 7x7/s2 and 3x3, and 1x1 convs.
///
/// Contract: weights are OHWI `[cout][k][k][cin/groups]`; output channel `o`
/// belongs to group `o / (cout/groups)`. For each output element
/// `acc = bias[o] + sum w * (x - in_zp)`, where taps outside the input read
/// `pad_values[c]` if present, otherwise `in_zp` (so they add nothing). Then
/// `y = requantize_i8(acc, mult[o], shift[o], out_zp)` and, if `lut` is
/// present, `y = lut[y + 128]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Kernel choice.
    pub variant: ConvVariant,
    /// Input tensor.
    pub input: TensorRef,
    /// Input zero point.
    pub in_zp: i32,
    /// Output tensor.
    pub output: TensorRef,
    /// Output zero point (of the pre-table value if `lut` is present).
    pub out_zp: i32,
    /// Square kernel size.
    pub kernel: u8,
    /// Stride (both axes).
    pub stride: u8,
    /// Zero padding on each side, in input pixels.
    pub pad: u8,
    /// Number of groups (`1` dense, `cin` depthwise or channel multiplier).
    pub groups: u16,
    /// i8 weights, OHWI.
    pub weights: Span,
    /// i32 bias per output channel.
    pub bias: Span,
    /// Requantization per output channel.
    pub requant: Requant,
    /// Optional i8 value per input channel used for padded taps (the stem
    /// pads the raw image with the dataset mean so the normalization fold is
    /// exact). Empty: padded taps read `in_zp`.
    pub pad_values: Span,
    /// Optional 256-byte activation table (GELU) applied after requantization.
    pub lut: Span,
}

/// Elementwise table lookup: `out[i] = table[in[i] + 128]`. May run in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lut {
    /// Input tensor.
    pub input: TensorRef,
    /// Output tensor (same shape; may equal `input`).
    pub output: TensorRef,
    /// 256-byte table.
    pub table: Span,
}

/// Residual add with both inputs rescaled (TFLite's integer add).
///
/// `a' = requantize((a - a_zp) << left_shift, a_mult, a_shift)`, likewise `b'`,
/// `out = requantize_i8(a' + b', out_mult, out_shift, out_zp)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Add {
    /// First input.
    pub a: TensorRef,
    /// First input zero point.
    pub a_zp: i32,
    /// First input multiplier.
    pub a_mult: i32,
    /// First input shift.
    pub a_shift: i32,
    /// Second input.
    pub b: TensorRef,
    /// Second input zero point.
    pub b_zp: i32,
    /// Second input multiplier.
    pub b_mult: i32,
    /// Second input shift.
    pub b_shift: i32,
    /// Output (may equal `a` or `b`: the add is elementwise).
    pub output: TensorRef,
    /// Output zero point.
    pub out_zp: i32,
    /// Output multiplier.
    pub out_mult: i32,
    /// Output shift.
    pub out_shift: i32,
    /// Headroom shift applied to both inputs before rescaling.
    pub left_shift: u8,
}

/// Squeeze-and-excite followed by an optional activation table, as in
/// FastViT's final_conv: `x * sigmoid(fc2(relu(fc1(mean_hw(x)))))`.
///
/// Integer contract:
/// 1. `m[c] = requantize_i8(sum_hw (x - in_zp), pool_rq[c], pool_zp)`
/// 2. `h = requantize_i8(fc1_b + sum w1 * (m - pool_zp), fc1_rq, hid_zp)`,
///    clamped below at `hid_zp` (ReLU);
/// 3. `g = requantize_i8(fc2_b + sum w2 * (h - hid_zp), fc2_rq, gate_zp)`,
///    then `s = sigmoid[g + 128]` (s + 128 in 0..=255 is the gate in 1/256 steps);
/// 4. `y = requantize_i8((x - in_zp) * (s + 128), scale_rq[c], out_zp)`
///    then `lut` if present.
///
/// Needs [`SqueezeExcite::scratch_bytes`] bytes of arena at `scratch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqueezeExcite {
    /// Input tensor.
    pub input: TensorRef,
    /// Input zero point.
    pub in_zp: i32,
    /// Output tensor (same shape; must not overlap the input).
    pub output: TensorRef,
    /// Output zero point (before `lut`).
    pub out_zp: i32,
    /// Squeeze width (fc1 outputs).
    pub reduced: u16,
    /// Per-channel pool requantization (includes 1/(h*w); per channel so
    /// codegen can equalize the pooled vector).
    pub pool_requant: Requant,
    /// Pooled vector zero point.
    pub pool_zp: i32,
    /// fc1 weights `[reduced][c]`.
    pub fc1_weights: Span,
    /// fc1 bias (i32).
    pub fc1_bias: Span,
    /// fc1 requantization.
    pub fc1_requant: Requant,
    /// Hidden zero point (also the ReLU floor).
    pub hid_zp: i32,
    /// fc2 weights `[c][reduced]`.
    pub fc2_weights: Span,
    /// fc2 bias (i32).
    pub fc2_bias: Span,
    /// fc2 requantization.
    pub fc2_requant: Requant,
    /// Zero point of the fc2 output (sigmoid table input).
    pub gate_zp: i32,
    /// 256-byte sigmoid table.
    pub sigmoid: Span,
    /// Per-channel requantization of `(x - in_zp) * gate` (per channel so
    /// the input may be stored equalized).
    pub scale_requant: Requant,
    /// Optional activation table applied to the result.
    pub lut: Span,
    /// Arena offset of the kernel's scratch.
    pub scratch: u32,
}

impl SqueezeExcite {
    /// Scratch bytes needed: pooled vector, hidden vector and gates.
    pub const fn scratch_bytes(channels: usize, reduced: usize) -> usize {
        channels + reduced + channels
    }
}

/// Global average pool to a `[1, 1, C]` tensor:
/// `y[c] = requantize_i8(sum_hw (x - in_zp), rq[c], out_zp)`. Per-channel
/// multipliers let codegen equalize the pooled vector (the consumer's
/// weights absorb the inverse).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalAvgPool {
    /// Input tensor.
    pub input: TensorRef,
    /// Input zero point.
    pub in_zp: i32,
    /// Output tensor, `1 x 1 x C`.
    pub output: TensorRef,
    /// Output zero point.
    pub out_zp: i32,
    /// Per-channel requantization (includes 1/(h*w)).
    pub requant: Requant,
}

/// Fully connected layer on a `1 x 1 x Cin` tensor:
/// `y[o] = requantize_i8(bias[o] + sum w[o][i] * (x[i] - in_zp), rq[o], out_zp)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FullyConnected {
    /// Input tensor.
    pub input: TensorRef,
    /// Input zero point.
    pub in_zp: i32,
    /// Output tensor, `1 x 1 x Cout`.
    pub output: TensorRef,
    /// Output zero point.
    pub out_zp: i32,
    /// i8 weights `[cout][cin]`.
    pub weights: Span,
    /// i32 bias.
    pub bias: Span,
    /// Requantization per output.
    pub requant: Requant,
}

/// One step of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// Convolution (+ optional activation table).
    Conv(Conv),
    /// Elementwise activation table.
    Lut(Lut),
    /// Residual add.
    Add(Add),
    /// Squeeze-and-excite (+ optional activation table).
    SqueezeExcite(SqueezeExcite),
    /// Global average pool.
    GlobalAvgPool(GlobalAvgPool),
    /// Fully connected.
    FullyConnected(FullyConnected),
}

impl Layer {
    /// Arena scratch bytes this layer needs at its `scratch` offset.
    pub const fn scratch_bytes(&self) -> usize {
        match self {
            Layer::SqueezeExcite(se) => {
                SqueezeExcite::scratch_bytes(se.input.c as usize, se.reduced as usize)
            }
            _ => 0,
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
        }
    }

    /// Multiply-accumulates this layer performs (for reports).
    pub const fn macs(&self) -> u64 {
        match self {
            Layer::Conv(c) => {
                let cin_g = c.input.c as u64 / c.groups as u64;
                c.output.len() as u64 * cin_g * c.kernel as u64 * c.kernel as u64
            }
            Layer::SqueezeExcite(se) => {
                let c = se.input.c as u64;
                2 * c * se.reduced as u64 + se.input.len() as u64
            }
            Layer::FullyConnected(f) => f.input.len() as u64 * f.output.len() as u64,
            _ => 0,
        }
    }
}
