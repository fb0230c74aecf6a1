//! The schedule executor: validates every layer's spans, splits the arena
//! into input and output views, and calls the kernel the layer names.
#![forbid(unsafe_code)]

use crate::error::Error;
use crate::kernels::depthwise::{self, DepthwiseArgs};
use crate::kernels::grouped::{self, MultiplierArgs};
use crate::kernels::pointwise::{self, PointwiseArgs};
use crate::kernels::stem::{self, DenseArgs, Im2colArgs, StemFirst};
use crate::ops::{self, I32s, RequantView};
use crate::schedule::{Conv, ConvVariant, Layer, Requant, Span, TensorRef};

/// A compiled model: data emitted by codegen (or built in memory by it).
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The weight blob all [`Span`]s point into (16-byte aligned when emitted).
    pub weights: &'a [u8],
    /// The schedule, executed in order.
    pub layers: &'a [Layer],
    /// One name per layer (timm module names), for reports and debugging.
    pub layer_names: &'a [&'a str],
    /// Replaces `layers[0]` in [`Model::run_normalized`]: the stem without the
    /// folded ImageNet normalization, reading a quantized normalized input.
    pub stem_normalized: Layer,
    /// Exact arena size the schedule needs, scratch included.
    pub arena_bytes: usize,
    /// Where the input image lives in the arena (`h x w x 3`).
    pub input: TensorRef,
    /// Zero point of the normalized input accepted by `run_normalized`.
    pub normalized_input_zp: i32,
    /// Where the logits live in the arena (`1 x 1 x classes`).
    pub output: TensorRef,
    /// Zero point of the logits.
    pub output_zp: i32,
}

/// Which entry point is running (decides the first layer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Image,
    Normalized,
}

impl<'a> Model<'a> {
    /// Runs on a camera frame: `image` is u8 RGB, HWC, `h * w * 3` bytes, as
    /// the model's input size. The ImageNet normalization is folded into the
    /// stem. Writes int8 logits (see `output_zp` and the generated scale).
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// // TINY: a one-layer model whose logits are `p0` and `p1 + p2`.
    /// let mut arena = [0i8; 6]; // ARENA_BYTES of a generated model
    /// let mut logits = [0i8; 2];
    /// TINY.run(&mut arena, &[10, 20, 30], &mut logits)?;
    /// assert_eq!(logits, [-118, -78]); // 10 and 20 + 30, zero point -128
    /// // Wrong sizes are errors, never panics:
    /// assert!(TINY.run(&mut arena[..5], &[10, 20, 30], &mut logits).is_err());
    /// # Ok(()) }
    /// ```
    pub fn run(&self, arena: &mut [i8], image: &[u8], logits: &mut [i8]) -> Result<(), Error> {
        self.run_with(arena, image, logits, |_, _| {})
    }

    /// Like [`Model::run`], calling `after_layer(index, arena)` after each
    /// layer: for per-layer profiling markers and for dumping activations.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// let (mut arena, mut logits) = ([0i8; 6], [0i8; 2]);
    /// let mut seen = 0;
    /// TINY.run_with(&mut arena, &[10, 20, 30], &mut logits, |layer, arena| {
    ///     // e.g. a cycle-counter marker, or dump TINY.layers[layer].output()
    ///     let out = TINY.layers[layer].output();
    ///     assert_eq!(&arena[out.offset as usize..out.end()], &[-118, -78]);
    ///     seen += 1;
    /// })?;
    /// assert_eq!(seen, TINY.layers.len());
    /// # Ok(()) }
    /// ```
    pub fn run_with(
        &self,
        arena: &mut [i8],
        image: &[u8],
        logits: &mut [i8],
        after_layer: impl FnMut(usize, &[i8]),
    ) -> Result<(), Error> {
        let dst = self.prepare(arena, image.len(), logits.len())?;
        // u8 pixel p is stored as p - 128 (zero point -128): a sign-bit flip.
        for (d, &p) in dst.iter_mut().zip(image) {
            *d = (p ^ 0x80) as i8;
        }
        self.execute(arena, Entry::Image, logits, after_layer)
    }

    /// Runs on an already normalized input (timm's tensor, transposed to HWC
    /// and quantized with the model's normalized-input scale and
    /// `normalized_input_zp`). For testing against float references.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// // TINY's "normalized" input is the same tensor, already quantized.
    /// let (mut arena, mut logits) = ([0i8; 6], [0i8; 2]);
    /// TINY.run_normalized(&mut arena, &[-118, -108, -98], &mut logits, |_, _| {})?;
    /// assert_eq!(logits, [-118, -78]);
    /// # Ok(()) }
    /// ```
    pub fn run_normalized(
        &self,
        arena: &mut [i8],
        input: &[i8],
        logits: &mut [i8],
        after_layer: impl FnMut(usize, &[i8]),
    ) -> Result<(), Error> {
        let dst = self.prepare(arena, input.len(), logits.len())?;
        // Same length (`prepare` checked it); a zip copies without a length assert.
        for (d, &x) in dst.iter_mut().zip(input) {
            *d = x;
        }
        self.execute(arena, Entry::Normalized, logits, after_layer)
    }

    /// Checks sizes and returns the arena's input region.
    fn prepare<'b>(
        &self,
        arena: &'b mut [i8],
        input_len: usize,
        logits_len: usize,
    ) -> Result<&'b mut [i8], Error> {
        if arena.len() < self.arena_bytes {
            return Err(Error::ArenaTooSmall {
                needed: self.arena_bytes,
                got: arena.len(),
            });
        }
        if input_len != self.input.len() {
            return Err(Error::InputSize {
                expected: self.input.len(),
                got: input_len,
            });
        }
        if logits_len != self.output.len() {
            return Err(Error::OutputSize {
                expected: self.output.len(),
                got: logits_len,
            });
        }
        arena
            .get_mut(self.input.offset as usize..self.input.end())
            .ok_or(Error::InvalidLayer { layer: 0 })
    }

    fn execute(
        &self,
        arena: &mut [i8],
        entry: Entry,
        logits: &mut [i8],
        mut after_layer: impl FnMut(usize, &[i8]),
    ) -> Result<(), Error> {
        let arena = arena
            .get_mut(..self.arena_bytes)
            .ok_or(Error::InvalidLayer { layer: 0 })?;
        for (i, layer) in self.layers.iter().enumerate() {
            let layer = if i == 0 && entry == Entry::Normalized {
                &self.stem_normalized
            } else {
                layer
            };
            self.run_layer(layer, arena)
                .ok_or(Error::InvalidLayer { layer: i })?;
            after_layer(i, arena);
        }
        let out = arena
            .get(self.output.offset as usize..self.output.end())
            .ok_or(Error::InvalidLayer {
                layer: self.layers.len(),
            })?;
        // Same length (`prepare` checked it); a zip copies without a length assert.
        for (l, &o) in logits.iter_mut().zip(out) {
            *l = o;
        }
        Ok(())
    }

    fn i8s(&self, s: Span) -> Option<&'a [i8]> {
        let b = self
            .weights
            .get(s.offset as usize..(s.offset as usize).checked_add(s.len as usize)?)?;
        Some(bytemuck::cast_slice(b))
    }

    fn i32s(&self, s: Span, n: usize) -> Option<I32s<'a>> {
        if s.len as usize != n * 4 {
            return None;
        }
        let b = self
            .weights
            .get(s.offset as usize..(s.offset as usize).checked_add(s.len as usize)?)?;
        Some(I32s(b))
    }

    fn requant(&self, r: Requant, n: usize) -> Option<RequantView<'a>> {
        Some(RequantView {
            multiplier: self.i32s(r.multiplier, n)?,
            shift: self.i32s(r.shift, n)?,
        })
    }

    fn table(&self, s: Span) -> Option<&'a [i8]> {
        let t = self.i8s(s)?;
        (t.is_empty() || t.len() == 256).then_some(t)
    }

    /// Validates a conv's shapes and weight-blob operands (not its arena
    /// placement) and resolves them; `input` is left empty.
    fn conv_args(&self, p: &Conv) -> Option<ops::conv::ConvArgs<'a>> {
        let (cin, cout, g) = (p.input.c as usize, p.output.c as usize, p.groups as usize);
        let k = p.kernel as usize;
        if g == 0 || cin % g != 0 || cout % g != 0 || p.stride == 0 {
            return None;
        }
        // Output size must follow from the input size (no reads past the edge).
        let span = |i: u16, o: u16| {
            let reach = (o as usize).checked_sub(1)? * p.stride as usize + k;
            (reach <= i as usize + 2 * p.pad as usize).then_some(())
        };
        span(p.input.h, p.output.h)?;
        span(p.input.w, p.output.w)?;
        let weights = self.i8s(p.weights)?;
        if weights.len() != cout * k * k * (cin / g) {
            return None;
        }
        let pad_values = self.i8s(p.pad_values)?;
        if !pad_values.is_empty() && pad_values.len() != cin {
            return None;
        }
        Some(ops::conv::ConvArgs {
            input: &[],
            weights,
            bias: self.i32s(p.bias, cout)?,
            requant: self.requant(p.requant, cout)?,
            pad_values,
            lut: self.table(p.lut)?,
        })
    }

    /// Validates a [`ConvVariant::Pointwise`]-shaped conv (dense 1x1, stride
    /// 1, no padding, same height and width) and resolves its operands.
    fn pointwise_args(&self, p: &Conv, folded_bias: Span) -> Option<PointwiseArgs<'a>> {
        let dense_1x1 = p.kernel == 1 && p.stride == 1 && p.pad == 0 && p.groups == 1;
        if !dense_1x1 || (p.input.h, p.input.w) != (p.output.h, p.output.w) {
            return None;
        }
        let args = self.conv_args(p)?;
        Some(PointwiseArgs {
            weights: args.weights,
            folded_bias: self.i32s(folded_bias, p.output.c as usize)?,
            requant: args.requant,
            out_zp: p.out_zp,
            lut: args.lut,
        })
    }

    /// Validates a [`ConvVariant::Depthwise`]-shaped conv (`groups == cin ==
    /// cout`) and resolves its operands.
    fn depthwise_args(
        &self,
        p: &Conv,
        weights_hwc: Span,
        folded_bias: Span,
    ) -> Option<DepthwiseArgs<'a>> {
        let (c, g) = (p.input.c as usize, p.groups as usize);
        if g != c || p.output.c as usize != c {
            return None;
        }
        let args = self.conv_args(p)?;
        let weights = self.i8s(weights_hwc)?;
        if weights.len() != args.weights.len() {
            return None;
        }
        Some(DepthwiseArgs {
            weights,
            folded_bias: self.i32s(folded_bias, c)?,
            requant: args.requant,
            pad_values: args.pad_values,
            lut: args.lut,
            in_zp: p.in_zp,
            out_zp: p.out_zp,
            kernel: p.kernel as usize,
            stride: p.stride as usize,
            pad: p.pad as usize,
            h: p.input.h as usize,
            w: p.input.w as usize,
            c,
        })
    }

    /// Validates a [`ConvVariant::Im2col`]-shaped conv (`groups == 1`, a
    /// patch of at most [`Conv::MAX_PATCH`] bytes) and resolves its operands.
    fn im2col_args(
        &self,
        p: &Conv,
        weights_rows: Span,
        folded_bias: Span,
    ) -> Option<Im2colArgs<'a>> {
        let (patch, cout) = (p.patch_len(), p.output.c as usize);
        if p.groups != 1 || patch == 0 || patch > Conv::MAX_PATCH {
            return None;
        }
        let args = self.conv_args(p)?;
        let weights = self.i8s(weights_rows)?;
        if weights.len() != cout * patch {
            return None;
        }
        Some(Im2colArgs {
            rows: PointwiseArgs {
                weights,
                folded_bias: self.i32s(folded_bias, cout)?,
                requant: args.requant,
                out_zp: p.out_zp,
                lut: args.lut,
            },
            pad_values: args.pad_values,
            in_zp: p.in_zp,
            kernel: p.kernel as usize,
            stride: p.stride as usize,
            pad: p.pad as usize,
            h: p.input.h as usize,
            w: p.input.w as usize,
            cin: p.input.c as usize,
            cout,
            patch,
        })
    }

    /// Validates a [`ConvVariant::DenseHwio`]-shaped conv (`groups == 1`)
    /// and resolves its operands.
    fn dense_args(&self, p: &Conv, weights_hwio: Span, folded_bias: Span) -> Option<DenseArgs<'a>> {
        if p.groups != 1 {
            return None;
        }
        let args = self.conv_args(p)?;
        let weights = self.i8s(weights_hwio)?;
        if weights.len() != args.weights.len() {
            return None;
        }
        Some(DenseArgs {
            weights,
            folded_bias: self.i32s(folded_bias, p.output.c as usize)?,
            requant: args.requant,
            pad_values: args.pad_values,
            lut: args.lut,
            in_zp: p.in_zp,
            out_zp: p.out_zp,
            kernel: p.kernel as usize,
            stride: p.stride as usize,
            pad: p.pad as usize,
            h: p.input.h as usize,
            w: p.input.w as usize,
            cin: p.input.c as usize,
            cout: p.output.c as usize,
        })
    }

    /// Validates a [`ConvVariant::Multiplier`]-shaped conv (`groups == cin`,
    /// `cout` a multiple of `cin`) and resolves its operands.
    fn multiplier_args(
        &self,
        p: &Conv,
        weights_hwc: Span,
        folded_bias: Span,
    ) -> Option<MultiplierArgs<'a>> {
        let (cin, cout) = (p.input.c as usize, p.output.c as usize);
        if p.groups as usize != cin || cin == 0 || cout % cin != 0 {
            return None;
        }
        let args = self.conv_args(p)?;
        let weights = self.i8s(weights_hwc)?;
        if weights.len() != args.weights.len() {
            return None;
        }
        Some(MultiplierArgs {
            weights,
            folded_bias: self.i32s(folded_bias, cout)?,
            requant: args.requant,
            pad_values: args.pad_values,
            lut: args.lut,
            in_zp: p.in_zp,
            out_zp: p.out_zp,
            kernel: p.kernel as usize,
            stride: p.stride as usize,
            pad: p.pad as usize,
            h: p.input.h as usize,
            w: p.input.w as usize,
            cin,
            m: cout / cin,
        })
    }

    /// Validates one layer and runs its kernel; `None` if the layer is corrupt.
    fn run_layer(&self, layer: &Layer, arena: &mut [i8]) -> Option<()> {
        match layer {
            Layer::Conv(p) => {
                let args = self.conv_args(p)?;
                match p.variant {
                    ConvVariant::Reference => {
                        let (input, output) = split(arena, p.input, p.output)?;
                        let args = ops::conv::ConvArgs { input, ..args };
                        ops::conv::conv_reference(p, &args, output);
                    }
                    ConvVariant::InPlace { scratch } => {
                        let same = p.input == p.output;
                        if !same || p.stride != 1 || p.kernel % 2 == 0 || p.pad != p.kernel / 2 {
                            return None;
                        }
                        let ring = scratch_range(scratch, layer)?;
                        let (data, ring) = split2_mut(arena, bytes(p.input), ring)?;
                        ops::conv_in_place::conv_in_place(p, &args, data, ring);
                    }
                    ConvVariant::WriteBehind => {
                        let lead = p.write_behind_bytes();
                        let (region, input_at, output_at) =
                            behind(arena, bytes(p.input), bytes(p.output), lead)?;
                        ops::conv_write_behind::conv_write_behind(
                            p, &args, region, input_at, output_at,
                        );
                    }
                    ConvVariant::Pointwise { folded_bias } => {
                        let args = self.pointwise_args(p, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        let (cin, cout) = (p.input.c as usize, p.output.c as usize);
                        pointwise::pointwise(&args, cin, cout, input, output);
                    }
                    ConvVariant::PointwiseInPlace {
                        scratch,
                        folded_bias,
                    } => {
                        let args = self.pointwise_args(p, folded_bias)?;
                        if p.input != p.output {
                            return None;
                        }
                        let ring = scratch_range(scratch, layer)?;
                        let (data, ring) = split2_mut(arena, bytes(p.input), ring)?;
                        let (c, row) =
                            (p.input.c as usize, p.input.w as usize * p.input.c as usize);
                        pointwise::pointwise_in_place(&args, c, row, data, ring);
                    }
                    ConvVariant::Depthwise {
                        weights_hwc,
                        folded_bias,
                    } => {
                        let args = self.depthwise_args(p, weights_hwc, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        let (oh, ow) = (p.output.h as usize, p.output.w as usize);
                        depthwise::depthwise(&args, oh, ow, input, output);
                    }
                    ConvVariant::DenseHwio {
                        weights_hwio,
                        folded_bias,
                    } => {
                        let args = self.dense_args(p, weights_hwio, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        stem::dense(&args, p.output.w as usize, input, output);
                    }
                    ConvVariant::Im2col {
                        weights_rows,
                        folded_bias,
                    } => {
                        let args = self.im2col_args(p, weights_rows, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        stem::im2col(&args, p.output.w as usize, input, output);
                    }
                    ConvVariant::Multiplier {
                        weights_hwc,
                        folded_bias,
                    } => {
                        let args = self.multiplier_args(p, weights_hwc, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        grouped::multiplier(&args, p.output.w as usize, input, output);
                    }
                    ConvVariant::MultiplierWriteBehind {
                        weights_hwc,
                        folded_bias,
                    } => {
                        let args = self.multiplier_args(p, weights_hwc, folded_bias)?;
                        let lead = p.write_behind_bytes();
                        let (region, input_at, output_at) =
                            behind(arena, bytes(p.input), bytes(p.output), lead)?;
                        let out_hw = (p.output.h as usize, p.output.w as usize);
                        grouped::multiplier_behind(&args, out_hw, region, input_at, output_at);
                    }
                    ConvVariant::DepthwiseInPlace {
                        scratch,
                        weights_hwc,
                        folded_bias,
                    } => {
                        let args = self.depthwise_args(p, weights_hwc, folded_bias)?;
                        let same = p.input == p.output;
                        if !same || p.stride != 1 || p.kernel % 2 == 0 || p.pad != p.kernel / 2 {
                            return None;
                        }
                        let ring = scratch_range(scratch, layer)?;
                        let (data, ring) = split2_mut(arena, bytes(p.input), ring)?;
                        depthwise::depthwise_in_place(&args, data, ring);
                    }
                }
            }
            Layer::Stem(p) => {
                let (a, b) = (&p.first, &p.second);
                let fast = match (a.variant, b.variant) {
                    (ConvVariant::Reference, ConvVariant::Reference) => None,
                    (
                        ConvVariant::DenseHwio {
                            weights_hwio,
                            folded_bias,
                        },
                        ConvVariant::Depthwise {
                            weights_hwc,
                            folded_bias: fb2,
                        },
                    ) => Some((
                        StemFirst::Dense(self.dense_args(a, weights_hwio, folded_bias)?),
                        self.depthwise_args(b, weights_hwc, fb2)?,
                    )),
                    (
                        ConvVariant::Im2col {
                            weights_rows,
                            folded_bias,
                        },
                        ConvVariant::Depthwise {
                            weights_hwc,
                            folded_bias: fb2,
                        },
                    ) => Some((
                        StemFirst::Im2col(self.im2col_args(a, weights_rows, folded_bias)?),
                        self.depthwise_args(b, weights_hwc, fb2)?,
                    )),
                    _ => return None,
                };
                if a.output != b.input || b.kernel == 0 {
                    return None;
                }
                let (first, second) = (self.conv_args(a)?, self.conv_args(b)?);
                let lead = p.write_behind_bytes();
                let ring = scratch_range(a.output.offset, layer)?;
                let (input, output) = (bytes(a.input), bytes(b.output));
                // The ring must not touch the input or the output.
                let (lo, hi) = (input.0.min(output.0), input.1.max(output.1));
                let (region, ring) = split2_mut(arena, (lo, hi), ring)?;
                let (region, input_at, output_at) = behind(
                    region,
                    (input.0 - lo, input.1 - lo),
                    (output.0 - lo, output.1 - lo),
                    lead,
                )?;
                match fast {
                    None => ops::stem::stem_reference(
                        p, &first, &second, region, input_at, output_at, ring,
                    ),
                    Some((f, s)) => stem::stem_fast(p, &f, &s, region, input_at, output_at, ring),
                }
            }
            Layer::ConvMlp(p) => {
                let (dw, fc1, fc2, add) = (&p.dw, &p.fc1, &p.fc2, &p.add);
                let shape = |t: TensorRef| (t.h, t.w, t.c);
                let pointwise = |c: &Conv| c.kernel == 1 && c.stride == 1 && c.pad == 0;
                let fast = match (fc1.variant, fc2.variant) {
                    (ConvVariant::Reference, ConvVariant::Reference) => None,
                    (
                        ConvVariant::Pointwise { folded_bias: b1 },
                        ConvVariant::Pointwise { folded_bias: b2 },
                    ) => Some((b1, b2)),
                    _ => return None,
                };
                let dw_fast = match dw.variant {
                    ConvVariant::Reference => None,
                    ConvVariant::Depthwise {
                        weights_hwc,
                        folded_bias,
                    } if fast.is_some() => Some((weights_hwc, folded_bias)),
                    _ => return None,
                };
                if dw.stride != 1 || dw.kernel % 2 == 0 || dw.pad != dw.kernel / 2 {
                    return None;
                }
                if !pointwise(fc1) || !pointwise(fc2) {
                    return None;
                }
                let x = dw.input;
                let chain = shape(dw.output) == shape(x)
                    && shape(fc1.input) == shape(dw.output)
                    && (fc1.output.h, fc1.output.w) == (x.h, x.w)
                    && shape(fc2.input) == shape(fc1.output)
                    && shape(fc2.output) == shape(x)
                    && shape(add.b) == shape(x)
                    && add.a == x
                    && add.output == x
                    && add.left_shift <= 23;
                if !chain {
                    return None;
                }
                let (dwa, fc1a, fc2a) = (
                    self.conv_args(dw)?,
                    self.conv_args(fc1)?,
                    self.conv_args(fc2)?,
                );
                let scratch = scratch_range(p.scratch, layer)?;
                match fast {
                    None => {
                        let (data, scratch) = split2_mut(arena, bytes(x), scratch)?;
                        ops::conv_mlp::conv_mlp_reference(p, &dwa, &fc1a, &fc2a, data, scratch);
                    }
                    Some((b1, b2)) => {
                        let (f1, f2) =
                            (self.pointwise_args(fc1, b1)?, self.pointwise_args(fc2, b2)?);
                        let (data, scratch) = split2_mut(arena, bytes(x), scratch)?;
                        match dw_fast {
                            None => {
                                ops::conv_mlp::conv_mlp_pointwise(p, &dwa, &f1, &f2, data, scratch)
                            }
                            Some((wh, fb)) => {
                                let d = self.depthwise_args(dw, wh, fb)?;
                                ops::conv_mlp::conv_mlp_depthwise(p, &d, &f1, &f2, data, scratch);
                            }
                        }
                    }
                }
            }
            Layer::Lut(p) => {
                let table = self.table(p.table)?;
                if table.is_empty() || p.input.len() != p.output.len() {
                    return None;
                }
                if p.input.offset == p.output.offset {
                    let data = arena.get_mut(p.output.offset as usize..p.output.end())?;
                    ops::lut::lut_in_place(table, data);
                } else {
                    let (input, output) = split(arena, p.input, p.output)?;
                    ops::lut::lut_reference(table, input, output);
                }
            }
            Layer::Add(p) => {
                let n = p.output.len();
                // |x - zp| <= 255 < 2^8, so `<< 23` is the most an i32 holds exactly.
                if p.a.len() != n || p.b.len() != n || p.left_shift > 23 {
                    return None;
                }
                if p.output.offset == p.a.offset {
                    let (b, out) = split(arena, p.b, p.output)?;
                    ops::add::add_in_place(p, out, b);
                } else if p.output.offset == p.b.offset {
                    let (a, out) = split(arena, p.a, p.output)?;
                    ops::add::add_in_place_b(p, a, out);
                } else {
                    // Copy-free three-way split: order the regions by offset.
                    let (a, b, out) = split3(arena, p.a, p.b, p.output)?;
                    ops::add::add_reference(p, a, b, out);
                }
            }
            Layer::SqueezeExcite(p) => {
                let (c, r) = (p.input.c as usize, p.reduced as usize);
                if p.input
                    != (TensorRef {
                        offset: p.input.offset,
                        ..p.output
                    })
                {
                    return None;
                }
                let sigmoid = self.table(p.sigmoid)?;
                let fc1_weights = self.i8s(p.fc1_weights)?;
                let fc2_weights = self.i8s(p.fc2_weights)?;
                if sigmoid.is_empty() || fc1_weights.len() != c * r || fc2_weights.len() != c * r {
                    return None;
                }
                let args = ops::squeeze_excite::SeArgs {
                    pool_requant: self.requant(p.pool_requant, c)?,
                    scale_requant: self.requant(p.scale_requant, c)?,
                    fc1_weights,
                    fc1_bias: self.i32s(p.fc1_bias, r)?,
                    fc1_requant: self.requant(p.fc1_requant, r)?,
                    fc2_weights,
                    fc2_bias: self.i32s(p.fc2_bias, c)?,
                    fc2_requant: self.requant(p.fc2_requant, c)?,
                    sigmoid,
                    lut: self.table(p.lut)?,
                };
                // A byte range, not a TensorRef: 2c + reduced may exceed u16.
                let start = p.scratch as usize;
                let scratch = (start, start + layer.scratch_bytes());
                let (input, scratch, output) =
                    split3_mut(arena, bytes(p.input), scratch, bytes(p.output))?;
                ops::squeeze_excite::squeeze_excite_reference(p, &args, input, scratch, output);
            }
            Layer::GlobalAvgPool(p) => {
                if p.output.len() != p.input.c as usize {
                    return None;
                }
                let rq = self.requant(p.requant, p.input.c as usize)?;
                let (input, output) = split(arena, p.input, p.output)?;
                ops::global_avg_pool::global_avg_pool_reference(p, rq, input, output);
            }
            Layer::FullyConnected(p) => {
                let (cin, cout) = (p.input.len(), p.output.len());
                let weights = self.i8s(p.weights)?;
                if weights.len() != cin * cout {
                    return None;
                }
                let bias = self.i32s(p.bias, cout)?;
                let requant = self.requant(p.requant, cout)?;
                let (input, output) = split(arena, p.input, p.output)?;
                ops::fully_connected::fully_connected_reference(
                    input, p.in_zp, weights, bias, requant, p.out_zp, false, output,
                );
            }
        }
        Some(())
    }
}

/// The byte range `[start, end)` a tensor occupies in the arena.
fn bytes(t: TensorRef) -> (usize, usize) {
    (t.offset as usize, t.end())
}

/// Splits the arena into a read-only input and a disjoint writable output.
///
/// Like every helper here it slices with `get`/`split_at_mut_checked` only:
/// a range that does not fit is `None`, never a panic (the board no-panic
/// check links these into firmware).
fn split(arena: &mut [i8], input: TensorRef, output: TensorRef) -> Option<(&[i8], &mut [i8])> {
    let (i0, i1) = bytes(input);
    let (o0, o1) = bytes(output);
    if i0 < o1 && o0 < i1 {
        return None;
    }
    if i1 <= o0 {
        let (lo, hi) = arena.split_at_mut_checked(o0)?;
        Some((lo.get(i0..i1)?, hi.get_mut(..o1.checked_sub(o0)?)?))
    } else {
        let (lo, hi) = arena.split_at_mut_checked(i0)?;
        Some((hi.get(..i1.checked_sub(i0)?)?, lo.get_mut(o0..o1)?))
    }
}

/// The byte range `[start, end)` of a layer's scratch at `start`.
fn scratch_range(start: u32, layer: &Layer) -> Option<(usize, usize)> {
    let start = start as usize;
    Some((start, start.checked_add(layer.scratch_bytes())?))
}

/// Splits the arena into two disjoint mutable byte ranges `[start, end)`.
fn split2_mut(
    arena: &mut [i8],
    a: (usize, usize),
    b: (usize, usize),
) -> Option<(&mut [i8], &mut [i8])> {
    if a.0 > a.1 || b.0 > b.1 {
        return None;
    }
    if a.1 <= b.0 {
        let (lo, hi) = arena.split_at_mut_checked(b.0)?;
        Some((lo.get_mut(a.0..a.1)?, hi.get_mut(..b.1 - b.0)?))
    } else if b.1 <= a.0 {
        let (lo, hi) = arena.split_at_mut_checked(a.0)?;
        Some((hi.get_mut(..a.1 - a.0)?, lo.get_mut(b.0..b.1)?))
    } else {
        None
    }
}

/// The smallest region of `arena` holding an `input` and an `output` range
/// that are either disjoint or overlap with the output starting at least
/// `lead` bytes before the input (a write-behind kernel's contract). Returns
/// the region and the input's and output's offsets in it.
fn behind(
    arena: &mut [i8],
    input: (usize, usize),
    output: (usize, usize),
    lead: usize,
) -> Option<(&mut [i8], usize, usize)> {
    let overlap = input.0 < output.1 && output.0 < input.1;
    if overlap && output.0.checked_add(lead)? > input.0 {
        return None;
    }
    let (lo, hi) = (input.0.min(output.0), input.1.max(output.1));
    let region = arena.get_mut(lo..hi)?;
    Some((region, input.0 - lo, output.0 - lo))
}

/// Splits the arena into two read-only inputs and one writable output, all
/// pairwise disjoint.
fn split3(
    arena: &mut [i8],
    a: TensorRef,
    b: TensorRef,
    out: TensorRef,
) -> Option<(&[i8], &[i8], &mut [i8])> {
    let (a, b, out) = split3_mut(arena, bytes(a), bytes(b), bytes(out))?;
    Some((a, b, out))
}

/// Splits the arena into three pairwise-disjoint mutable byte ranges
/// `[start, end)`.
fn split3_mut(
    arena: &mut [i8],
    a: (usize, usize),
    b: (usize, usize),
    c: (usize, usize),
) -> Option<(&mut [i8], &mut [i8], &mut [i8])> {
    // Order by (start, end) with three compare-swaps, remembering which is
    // which (no slice sort: its total-order check can panic).
    let mut r = [(a.0, a.1, 0u8), (b.0, b.1, 1), (c.0, c.1, 2)];
    if r[1] < r[0] {
        r.swap(0, 1);
    }
    if r[2] < r[1] {
        r.swap(1, 2);
    }
    if r[1] < r[0] {
        r.swap(0, 1);
    }
    let [(s0, e0, i0), (s1, e1, i1), (s2, e2, i2)] = r;
    if e0 > s1 || e1 > s2 {
        return None;
    }
    let (lo, rest) = arena.split_at_mut_checked(s1)?;
    let (mid, hi) = rest.split_at_mut_checked(s2.checked_sub(s1)?)?;
    let x0 = lo.get_mut(s0..e0)?;
    let x1 = mid.get_mut(..e1.checked_sub(s1)?)?;
    let x2 = hi.get_mut(..e2.checked_sub(s2)?)?;
    // Back in argument order: `ik` says which argument sits at sorted place k.
    match (i0, i1, i2) {
        (0, 1, 2) => Some((x0, x1, x2)),
        (0, 2, 1) => Some((x0, x2, x1)),
        (1, 0, 2) => Some((x1, x0, x2)),
        (1, 2, 0) => Some((x2, x0, x1)),
        (2, 0, 1) => Some((x1, x2, x0)),
        (2, 1, 0) => Some((x2, x1, x0)),
        _ => None,
    }
}
