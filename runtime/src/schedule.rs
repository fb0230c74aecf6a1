//! The schedule format: plain `Copy` data that codegen emits and the executor
//! runs. Nothing here holds a reference, so a generated model is a
//! `static SCHEDULE: [Layer; N]` of struct literals plus one weight blob.
//!
//! Stability rule: new execution forms (fused ConvMlp, streamed stem,
//! per-architecture kernels) are added as new [`Layer`] or [`ConvVariant`]
//! variants; existing variants keep their fields, so older generated code
//! keeps compiling.
#![forbid(unsafe_code)]

pub use crate::tensor::{Elem, Span, TensorRef};

/// Whether `t` is an int8 tensor.
const fn int8(t: TensorRef) -> bool {
    matches!(t.elem, Elem::I8)
}

/// Per-output-channel requantization parameters (see [`crate::quant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Requant {
    /// Multipliers, one little-endian i16 per output channel: the top half
    /// of the normalized Q31 multiplier (see [`crate::quant`]).
    pub multiplier: Span,
    /// i8 shifts, one byte per output channel.
    pub shift: Span,
}

/// Which kernel executes a [`Conv`]. Codegen decides; the runtime dispatches
/// on this tag and never inspects shapes to choose.
///
/// Every variant computes exactly the [`Conv`] contract; they differ only in
/// where the output may be placed relative to the input (memory forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvVariant {
    /// The reference grouped convolution: any kernel, stride, padding, groups.
    /// Input and output must not overlap.
    Reference,
    /// In place, row by row (`ops::conv_in_place`): `output == input` (same
    /// offset and shape), stride 1, odd kernel, `pad = kernel / 2`. Before
    /// output row `y` is written, input row `y` is copied into a ring of
    /// `kernel / 2 + 1` rows at `scratch` ([`Conv::in_place_scratch_bytes`]);
    /// taps on rows `<= y` read the ring, taps on rows `> y` read the arena,
    /// which still holds them unchanged.
    InPlace {
        /// Arena offset of the row ring.
        scratch: u32,
    },
    /// The reference loop order (output rows top to bottom, each row written
    /// while it is computed) on an output that may overlap the input if it
    /// starts at least [`Conv::write_behind_bytes`] before it: output row `r`
    /// then only covers input rows that no output row `>= r` reads
    /// (`ops::conv_write_behind`). Downsampling convs use it to write behind
    /// their read position.
    WriteBehind,
    /// [`ConvVariant::WriteBehind`] mirrored: output rows bottom to top, on an
    /// output that may overlap the input if it starts at least
    /// [`Conv::write_ahead_bytes`] after the input's start (output row `r`
    /// then only covers input rows that no output row `<= r` reads). A
    /// downsampling conv whose input is wider than its output uses it, so
    /// that the chain of buffers steps up rather than down.
    WriteAhead,
    /// A 1x1 conv (`kernel == 1`, `stride == 1`, `pad == 0`, same height and
    /// width) whose output rows are at least as long as its input rows (an
    /// int8 tensor widened to int16), written over its input: both start at
    /// the same offset, or with `end_aligned` both end at the same byte
    /// (`ops::conv_widen`). Input row `y` is copied into a one-row ring at
    /// `scratch` ([`Conv::in_place_scratch_bytes`] with `kernel` 1) before
    /// output row `y` is written, which then covers only input rows already
    /// read: rows run bottom to top from a shared first byte, top to bottom
    /// to a shared last one. The arena needs the output's bytes only.
    WidenInPlace {
        /// Arena offset of the row ring.
        scratch: u32,
        /// Whether the tensors share their last byte (else their first).
        end_aligned: bool,
    },
    /// A dense 1x1 conv (`kernel == 1`, `stride == 1`, `pad == 0`,
    /// `groups == 1`, same height and width), input and output not
    /// overlapping, run by the fast pointwise kernel (`kernels::pointwise`).
    /// `folded_bias` holds `cout` i32 values `bias[o] - in_zp * sum_i w[o][i]`
    /// (wrapping), which codegen computes so the input zero point leaves the
    /// inner loop; the result is bit-identical to `Reference`.
    Pointwise {
        /// Bias with the input zero point folded in.
        folded_bias: Span,
    },
    /// [`ConvVariant::Pointwise`] in place (`output == input`, so
    /// `cin == cout`), row by row: each input row is copied into a one-row
    /// ring at `scratch` ([`Conv::in_place_scratch_bytes`] with `kernel` 1),
    /// then its output is written over it.
    PointwiseInPlace {
        /// Arena offset of the row ring.
        scratch: u32,
        /// As in [`ConvVariant::Pointwise`].
        folded_bias: Span,
    },
    /// A depthwise conv (`groups == cin == cout`, any kernel, stride and
    /// padding), input and output not overlapping, run by the fast depthwise
    /// kernel (`kernels::depthwise`): one output pixel for all channels at
    /// once. `weights_hwc` holds the conv's OHWI weights laid out
    /// tap-major, channel-minor (`[k][k][c]`); `folded_bias` holds `c` i32
    /// values `bias[c] - in_zp * sum_tap w[tap][c]` (wrapping). Padded taps
    /// still read `pad_values` or `in_zp`; the result is bit-identical to
    /// `Reference`.
    Depthwise {
        /// Weights `[k][k][c]`.
        weights_hwc: Span,
        /// Bias with the input zero point folded in.
        folded_bias: Span,
    },
    /// [`ConvVariant::Depthwise`] in place, with the ring and row order of
    /// [`ConvVariant::InPlace`] (same preconditions and scratch).
    DepthwiseInPlace {
        /// Arena offset of the row ring.
        scratch: u32,
        /// As in [`ConvVariant::Depthwise`].
        weights_hwc: Span,
        /// As in [`ConvVariant::Depthwise`].
        folded_bias: Span,
    },
    /// A dense conv (`groups == 1`) with few input channels (the stem's
    /// 3x3/s2 from RGB), input and output not overlapping, run by the dense
    /// kernel of `kernels::stem`: each (tap, input channel) value times a
    /// vector of output channels. `weights_hwio` holds the conv's OHWI weights
    /// laid out `[k][k][cin][cout]`; `folded_bias` holds `cout` i32
    /// values `bias[o] - in_zp * sum w[o]` (wrapping). Padded taps read
    /// `pad_values` or `in_zp`; bit-identical to `Reference`. Also the
    /// `first` conv of a fast [`Stem`].
    DenseHwio {
        /// Weights `[k][k][cin][cout]`.
        weights_hwio: Span,
        /// Bias with the input zero point folded in.
        folded_bias: Span,
    },
    /// A dense conv (`groups == 1`) with a small window (`k * k * cin <=`
    /// [`Conv::MAX_PATCH`]: the stem's 3x3/s2 from RGB has 27 values) run as a
    /// 1x1 conv over im2col patches (`kernels::dense::im2col`): each output
    /// pixel's window, padded taps reading `pad_values` or `in_zp`, is copied
    /// into a patch of [`Conv::patch_len`] bytes (`k * k * cin` rounded up to
    /// a multiple of 16, zero-filled), and the tier's pointwise kernel
    /// multiplies four patches at a time by `weights_rows`,
    /// `[cout][patch_len]` (the OHWI rows, zero-padded). `folded_bias` as in
    /// [`ConvVariant::DenseHwio`]; bit-identical to `Reference`. Also the
    /// `first` conv of a fast [`Stem`].
    Im2col {
        /// Weights `[cout][patch_len]`, each OHWI row zero-padded.
        weights_rows: Span,
        /// Bias with the input zero point folded in.
        folded_bias: Span,
    },
    /// A channel-multiplier conv (`groups == cin`, `cout = m * cin`: output
    /// channel `m * c + j` reads input channel `c`), input and output not
    /// overlapping, run by `kernels::multiplier`. `weights_hwc` holds the
    /// conv's OHWI weights laid out `[k][k][m][cin]` (plane `j` is a
    /// depthwise conv); `folded_bias` holds `cout` i32 values
    /// `bias[o] - in_zp * sum_tap w[o][tap]` (wrapping). Bit-identical to
    /// `Reference`.
    Multiplier {
        /// Weights `[k][k][m][cin]`.
        weights_hwc: Span,
        /// Bias with the input zero point folded in.
        folded_bias: Span,
    },
    /// [`ConvVariant::Multiplier`] with the placement rule of
    /// [`ConvVariant::WriteBehind`]: the output may overlap the input if it
    /// starts at least [`Conv::write_behind_bytes`] before it (FastViT's
    /// downsampling `proj.0`).
    MultiplierWriteBehind {
        /// As in [`ConvVariant::Multiplier`].
        weights_hwc: Span,
        /// As in [`ConvVariant::Multiplier`].
        folded_bias: Span,
    },
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
/// present, `y = lut[y + 128]`. An int16 output without a table is
/// `requantize(acc, ..) + out_zp` saturated to int16 (the reference forms
/// only: [`Layer::elems_supported`]).
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
    /// i8 weights, OHWI. Read by the reference forms (`Reference`,
    /// `InPlace`, `WriteBehind`, `WriteAhead`, `WidenInPlace`) and the pointwise ones (whose layout OHWI
    /// is); the other variants read their own layout and codegen leaves this
    /// empty, so the blob holds each weight once.
    pub weights: Span,
    /// i32 bias per output channel. Read by the reference forms only (every
    /// other variant reads its `folded_bias`); empty otherwise.
    pub bias: Span,
    /// Requantization per output channel.
    pub requant: Requant,
    /// Optional i8 value per input channel used for padded taps (the stem
    /// pads the raw image with the dataset mean so the normalization fold is
    /// exact). Empty: padded taps read `in_zp`.
    pub pad_values: Span,
    /// Optional activation table (GELU) applied after requantization: 256
    /// int8 entries, or for an int16 output 256 little-endian int16 ones
    /// (the pre-table value stays int8, its table entry is int16).
    pub lut: Span,
    /// Optional i32 per output channel: the weight of the identity tap
    /// (input channel `o` at the output pixel) kept apart from the int8
    /// `weights`, so a RepMixer's folded identity does not set the channel's
    /// weight scale. Reference forms only ([`Conv::identity_ok`]); empty
    /// otherwise.
    pub identity: Span,
}

impl Conv {
    /// Largest [`ConvVariant::Im2col`] patch, in bytes.
    pub const MAX_PATCH: usize = 32;

    /// Most taps per output (`k * k * cin / groups`) for which an int16
    /// input's sum stays in i32: 64 products of at most `2^16 * 2^7` sum
    /// below `2^30`, leaving half of the i32 accumulator to the bias. The
    /// fast int16 forms (i32 sums) take only such convs; the reference forms
    /// sum an int16 input in i64 and take any fan-in.
    pub const MAX_WIDE_FAN_IN: usize = 64;

    /// Largest identity weight magnitude ([`Conv::identity`]): `2^14`
    /// times an int16 input stays within `2^29`, so with at most
    /// [`Conv::MAX_WIDE_FAN_IN`] taps the sum keeps half of the i32 range
    /// for the bias.
    pub const MAX_IDENTITY: i32 = 1 << 14;

    /// Whether the variant is a reference form (`Reference`, `InPlace`,
    /// `WriteBehind`, `WriteAhead`, `WidenInPlace`): the only ones that read
    /// OHWI `weights` and the unfolded `bias` (and that a runtime without its
    /// `reference-forms` feature refuses).
    pub const fn reference_form(&self) -> bool {
        matches!(
            self.variant,
            ConvVariant::Reference
                | ConvVariant::InPlace { .. }
                | ConvVariant::WriteBehind
                | ConvVariant::WriteAhead
                | ConvVariant::WidenInPlace { .. }
        )
    }

    /// Whether this conv may carry [`Conv::identity`] weights: a reference
    /// form, stride 1, same input and output size and channels, and
    /// depthwise or dense 1x1, so output `(y, x, o)` has an identity tap.
    pub const fn identity_ok(&self) -> bool {
        let reference = self.reference_form();
        let c = self.input.c;
        let shape = self.stride == 1
            && self.kernel % 2 == 1
            && self.pad as u16 * 2 + 1 == self.kernel as u16
            && self.input.h == self.output.h
            && self.input.w == self.output.w
            && c == self.output.c;
        let grouping = self.groups == c || (self.kernel == 1 && self.groups == 1);
        reference && shape && grouping
    }

    /// Whether a reference form runs this conv with int16 operands: the
    /// variant is a [reference form](Conv::reference_form). (An int16
    /// input sums in i64 there, so any fan-in.)
    pub const fn wide_ok(&self) -> bool {
        self.reference_form()
    }

    /// Bytes of one [`ConvVariant::Im2col`] patch: the `k * k * cin` window
    /// values rounded up to a multiple of 16, so every tier's pointwise
    /// kernel runs whole steps (DSP 8 lanes, Helium and NEON 16) without a
    /// scalar tail; the stem's 27 values take 32.
    pub const fn patch_len(&self) -> usize {
        let n = self.kernel as usize * self.kernel as usize * self.input.c as usize;
        Self::patch_len_of(n)
    }

    /// [`Conv::patch_len`] of a window of `values` values.
    pub const fn patch_len_of(values: usize) -> usize {
        values.div_ceil(16) * 16
    }

    /// Multiply-accumulates of this conv.
    pub const fn macs(&self) -> u64 {
        let cin_g = self.input.c as u64
            / if self.groups == 0 {
                1
            } else {
                self.groups as u64
            };
        self.output.len() as u64 * cin_g * self.kernel as u64 * self.kernel as u64
    }
}

/// Two convs streamed by rows (`ops::stem`): FastViT's `stem.0 -> stem.1`
/// without the large `stem.0` output ever existing in full.
///
/// Contract: the result is exactly `second(first(input))` with both convs'
/// [`Conv`] contracts. `first.output` and `second.input` are the same tensor
/// (equal `TensorRef`s): the intermediate, of which only a ring of
/// `second.kernel` rows exists, at `first.output.offset`
/// ([`Stem::ring_bytes`]); row `j` lives in slot `j % second.kernel`.
///
/// Order: for each output row `r` of `second`, the not yet computed rows of
/// `first` that row `r` needs are computed into the ring (reading
/// `first.input` from the arena), then row `r` is computed from the ring and
/// written. So `second.output` may overlap `first.input` if it starts at least
/// [`Stem::write_behind_bytes`] before it. Both `variant`s are `Reference`,
/// or `first` is [`ConvVariant::Im2col`] or [`ConvVariant::DenseHwio`] and
/// `second` is
/// [`ConvVariant::Depthwise`] (then the fast kernels compute them, with the
/// same order, ring and bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stem {
    /// The first conv (reads the model input).
    pub first: Conv,
    /// The second conv (reads the ring).
    pub second: Conv,
}

/// FastViT's ConvMlp with its residual add, fused and in place
/// (`ops::conv_mlp`): `x = add(x, fc2(fc1(dw(x))))`, where `fc1` carries the
/// GELU table. The `3C` hidden tensor never exists in full.
///
/// Contract: bit-identical to running `dw`, `fc1`, `fc2` and `add` as
/// separate layers. `dw` is stride 1 with odd `kernel` and `pad = kernel / 2`;
/// `fc1` and `fc2` are 1x1; `add.a == add.output == dw.input` (the block input
/// `x`, updated in place); `add.b` is `fc2`'s output. The intermediates
/// (`dw.output`, `fc1.input`, `fc1.output`, `fc2.input`, `fc2.output`,
/// `add.b`) never exist in the arena: only their shapes are used, their
/// offsets are ignored (codegen writes 0). `fc1` and `fc2` are both
/// `Reference` or both [`ConvVariant::Pointwise`] (then the fast pointwise
/// kernel computes them, bit-identically). `dw` is `Reference`, or
/// [`ConvVariant::Depthwise`] when `fc1` and `fc2` are `Pointwise` (then the
/// fast depthwise kernel computes it, bit-identically). The block input and
/// output (`dw.input`, `add.a`, `add.output`: the residual stream) may be
/// int16 with a `Reference` `dw`; every other tensor is int8.
///
/// Order: row by row; before output row `y` is written, input row `y` is
/// copied into a ring of `kernel / 2 + 1` rows; then [`ConvMlp::PIXELS`]
/// pixels at a time (fewer at the row's end): `dw` per pixel (taps on rows
/// `<= y` from the ring, rows `> y` from the arena), `fc1` and `fc2` for the
/// group, and the add with the saved `x`. Scratch at `scratch`:
/// [`ConvMlp::scratch_bytes`] = ring, then `PIXELS * C` bytes of `dw` output,
/// then `PIXELS` hidden vectors, then the pointwise tile scratch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvMlp {
    /// Depthwise (or any grouped) conv, stride 1, same padding.
    pub dw: Conv,
    /// 1x1 expansion (with the GELU table).
    pub fc1: Conv,
    /// 1x1 projection back to `C` channels.
    pub fc2: Conv,
    /// The residual add, `a` = block input, `b` = fc2 output.
    pub add: Add,
    /// Arena offset of the scratch.
    pub scratch: u32,
}

impl ConvMlp {
    /// Bytes per element of the `dw` and `fc2` outputs in the scratch: 2
    /// when either is int16, else 1.
    pub const fn d_bytes(&self) -> usize {
        let (a, b) = (self.dw.output.elem.bytes(), self.fc2.output.elem.bytes());
        if a > b {
            a
        } else {
            b
        }
    }

    /// Pixels the fused kernel carries through `fc1` and `fc2` together, so
    /// each weight load feeds that many pixels.
    pub const PIXELS: usize = 4;

    /// Scratch bytes: a ring of `kernel / 2 + 1` rows of `w * c`, then the
    /// `c` outputs of `dw` and the `hidden` outputs of `fc1` for each of
    /// [`ConvMlp::PIXELS`] pixels, then the fast pointwise kernel's tile
    /// scratch: `PIXELS` inputs of `max(c, hidden)` channels as halfwords,
    /// word-aligned (+3 bytes). The same for every kernel tier, so one
    /// schedule serves every target.
    pub const fn scratch_bytes(kernel: usize, w: usize, c: usize, hidden: usize) -> usize {
        Self::scratch_bytes_of(kernel, w, c, hidden, 1)
    }

    /// [`ConvMlp::scratch_bytes`] for a block input of `bytes` bytes per
    /// element (its ring rows are that much wider).
    pub const fn scratch_bytes_of(
        kernel: usize,
        w: usize,
        c: usize,
        hidden: usize,
        bytes: usize,
    ) -> usize {
        Self::scratch_bytes_wide(kernel, w, c, hidden, bytes, 1)
    }

    /// [`ConvMlp::scratch_bytes_of`] with `dw` and `fc2` outputs of
    /// `d_bytes` bytes per element (2 when either is int16: the block's
    /// internals stored with 16 bits), so the `dw` output part is that much
    /// wider.
    pub const fn scratch_bytes_wide(
        kernel: usize,
        w: usize,
        c: usize,
        hidden: usize,
        bytes: usize,
        d_bytes: usize,
    ) -> usize {
        let widest = if c > hidden { c } else { hidden };
        (kernel / 2 + 1)
            .saturating_mul(w)
            .saturating_mul(c)
            .saturating_mul(bytes)
            .saturating_add(Self::PIXELS.saturating_mul(c.saturating_mul(d_bytes)))
            .saturating_add(Self::PIXELS.saturating_mul(hidden))
            .saturating_add((2 * Self::PIXELS).saturating_mul(widest).saturating_add(3))
    }
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
/// `out = requantize_i8(a' + b', out_mult, out_shift, out_zp)` (saturated
/// to int16 instead for an int16 output). Any operand may be int16; then
/// `left_shift` is at most 15 ([`Add::max_left_shift`]).
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

impl Add {
    /// The largest `left_shift` an i32 holds exactly: `|x - zp| < 2^8` for
    /// int8 inputs (23), `< 2^16` with an int16 input (15).
    pub const fn max_left_shift(&self) -> u8 {
        if int8(self.a) && int8(self.b) {
            23
        } else {
            15
        }
    }
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
/// `y[c] = requantize_to(sum_hw (x - in_zp), rq[c], out_zp)`, saturated to the
/// output's element type (either tensor int8 or int16). Per-channel
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
/// `y[o] = requantize(bias[o] + sum w[o][i] * (x[i] - in_zp), rq[o]) + out_zp`,
/// saturated to the output's element type (either tensor int8 or int16). The
/// sum is i64 ([`crate::quant::requantize_wide`]): an int16 input cannot
/// overflow it.
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
    /// Two convs streamed through a row ring (the stem).
    Stem(Stem),
    /// Fused, in-place ConvMlp with its residual add.
    ConvMlp(ConvMlp),
}
