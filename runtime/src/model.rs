//! The schedule executor: validates every layer's spans, splits the arena
//! into input and output views, and calls the kernel the layer names.
#![forbid(unsafe_code)]

use crate::arena::{behind, bytes, scratch_range, split, split2_mut, split3, split3_mut};
use crate::error::Error;
use crate::kernels::dense;
use crate::kernels::depthwise;
use crate::kernels::multiplier;
use crate::kernels::pointwise;
use crate::kernels::stem::{self, StemFirst};
use crate::ops;
use crate::schedule::{Conv, ConvVariant, Layer, TensorRef};

/// A compiled model: data emitted by codegen (or built in memory by it).
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The weight blob all [`Span`](crate::Span)s point into (16-byte aligned when emitted).
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

    /// The arena's input region (`h x w x 3` HWC; u8 pixel `p` stored as
    /// `p - 128`), to write a frame into in place, e.g. row by row from a
    /// camera, before [`Model::run_in_place`]: no frame buffer besides the
    /// arena.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// let (mut arena, mut logits) = ([0i8; 6], [0i8; 2]);
    /// for (d, p) in TINY.input_mut(&mut arena)?.iter_mut().zip([10u8, 20, 30]) {
    ///     *d = (p ^ 0x80) as i8;
    /// }
    /// TINY.run_in_place(&mut arena, &mut logits)?;
    /// assert_eq!(logits, [-118, -78]); // as TINY.run(&mut arena, &[10, 20, 30], ..)
    /// # Ok(()) }
    /// ```
    pub fn input_mut<'b>(&self, arena: &'b mut [i8]) -> Result<&'b mut [i8], Error> {
        self.prepare(arena, self.input.len(), self.output.len())
    }

    /// [`Model::run`] on the frame already in the arena (see
    /// [`Model::input_mut`]).
    pub fn run_in_place(&self, arena: &mut [i8], logits: &mut [i8]) -> Result<(), Error> {
        self.prepare(arena, self.input.len(), logits.len())?;
        self.execute(arena, Entry::Image, logits, |_, _| {})
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

    /// Validates one layer and runs its kernel; `None` if the layer is corrupt.
    fn run_layer(&self, layer: &Layer, arena: &mut [i8]) -> Option<()> {
        match layer {
            Layer::Conv(p) => {
                // Only the reference forms read OHWI `weights` and `bias`.
                let reference = || self.reference_args(p);
                match p.variant {
                    ConvVariant::Reference => {
                        let args = reference()?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        let args = ops::conv::ConvArgs { input, ..args };
                        ops::conv::conv_reference(p, &args, output);
                    }
                    ConvVariant::InPlace { scratch } => {
                        let args = reference()?;
                        let same = p.input == p.output;
                        if !same || p.stride != 1 || p.kernel % 2 == 0 || p.pad != p.kernel / 2 {
                            return None;
                        }
                        let ring = scratch_range(scratch, layer)?;
                        let (data, ring) = split2_mut(arena, bytes(p.input), ring)?;
                        ops::conv_in_place::conv_in_place(p, &args, data, ring);
                    }
                    ConvVariant::WriteBehind => {
                        let args = reference()?;
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
                        dense::dense(&args, p.output.w as usize, input, output);
                    }
                    ConvVariant::Im2col {
                        weights_rows,
                        folded_bias,
                    } => {
                        let args = self.im2col_args(p, weights_rows, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        dense::im2col(&args, p.output.w as usize, input, output);
                    }
                    ConvVariant::Multiplier {
                        weights_hwc,
                        folded_bias,
                    } => {
                        let args = self.multiplier_args(p, weights_hwc, folded_bias)?;
                        let (input, output) = split(arena, p.input, p.output)?;
                        multiplier::multiplier(&args, p.output.w as usize, input, output);
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
                        multiplier::multiplier_behind(&args, out_hw, region, input_at, output_at);
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
                    None => {
                        let (first, second) = (self.reference_args(a)?, self.reference_args(b)?);
                        ops::stem::stem_reference(
                            p, &first, &second, region, input_at, output_at, ring,
                        )
                    }
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
                let scratch = scratch_range(p.scratch, layer)?;
                match fast {
                    None => {
                        let (dwa, fc1a, fc2a) = (
                            self.reference_args(dw)?,
                            self.reference_args(fc1)?,
                            self.reference_args(fc2)?,
                        );
                        let (data, scratch) = split2_mut(arena, bytes(x), scratch)?;
                        ops::conv_mlp::conv_mlp_reference(p, &dwa, &fc1a, &fc2a, data, scratch);
                    }
                    Some((b1, b2)) => {
                        let (f1, f2) =
                            (self.pointwise_args(fc1, b1)?, self.pointwise_args(fc2, b2)?);
                        let (data, scratch) = split2_mut(arena, bytes(x), scratch)?;
                        match dw_fast {
                            None => {
                                let dwa = self.reference_args(dw)?;
                                crate::kernels::conv_mlp::conv_mlp_pointwise(
                                    p, &dwa, &f1, &f2, data, scratch,
                                )
                            }
                            Some((wh, fb)) => {
                                let d = self.depthwise_args(dw, wh, fb)?;
                                crate::kernels::conv_mlp::conv_mlp_depthwise(
                                    p, &d, &f1, &f2, data, scratch,
                                );
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
                    crate::kernels::add::add_in_place(p, out, b);
                } else if p.output.offset == p.b.offset {
                    let (a, out) = split(arena, p.a, p.output)?;
                    crate::kernels::add::add_in_place_b(p, a, out);
                } else {
                    // Copy-free three-way split: order the regions by offset.
                    let (a, b, out) = split3(arena, p.a, p.b, p.output)?;
                    crate::kernels::add::add(p, a, b, out);
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
