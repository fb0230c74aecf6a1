//! Running a [`Layer::Conv`]: each [`ConvVariant`] on its kernel.
#![forbid(unsafe_code)]

use crate::arena::{bytes, overlapping, scratch_range, split, split2_mut, Lead};
use crate::kernels::{dense, depthwise, multiplier, pointwise, wide};
use crate::model::Model;
use crate::ops;
use crate::schedule::{Conv, ConvVariant, Layer};

impl Model<'_> {
    /// Validates a conv layer and runs the kernel of its variant.
    pub(crate) fn run_conv(&self, p: &Conv, layer: &Layer, arena: &mut [i8]) -> Option<()> {
        // Only the reference forms read OHWI `weights` and `bias`.
        let reference = || self.reference_args(p);
        match p.variant {
            ConvVariant::Reference => {
                let args = reference()?;
                let (input, output) = split(arena, p.input, p.output)?;
                let args = ops::conv::ConvArgs { input, ..args };
                if !wide::conv(p, &args, output) {
                    ops::conv::conv_reference(p, &args, output);
                }
            }
            ConvVariant::InPlace { scratch } => {
                let args = reference()?;
                let (data, ring) = in_place_window(p, layer, scratch, arena)?;
                if !wide::conv_in_place(p, &args, data, ring) {
                    ops::conv_in_place::conv_in_place(p, &args, data, ring);
                }
            }
            ConvVariant::WriteBehind => {
                let args = reference()?;
                let lead = Lead::Behind(p.write_behind_bytes());
                let (region, input_at, output_at) =
                    overlapping(arena, bytes(p.input), bytes(p.output), lead)?;
                if !wide::conv_write_behind(p, &args, region, input_at, output_at) {
                    ops::conv_write_behind::conv_write_behind(
                        p, &args, region, input_at, output_at,
                    );
                }
            }
            ConvVariant::WriteAhead => {
                let args = reference()?;
                let lead = Lead::Ahead(p.write_ahead_bytes());
                let (region, input_at, output_at) =
                    overlapping(arena, bytes(p.input), bytes(p.output), lead)?;
                let at = (input_at, output_at);
                if !wide::conv_write_ahead(p, &args, region, at.0, at.1) {
                    ops::conv_write_behind::conv_write_ahead(p, &args, region, at.0, at.1);
                }
            }
            ConvVariant::WidenInPlace {
                scratch,
                end_aligned,
            } => {
                let args = reference()?;
                let (data, ring) = widen_window(p, layer, scratch, end_aligned, arena)?;
                if !wide::conv_widen_in_place(p, &args, data, ring, end_aligned) {
                    ops::conv_widen::conv_widen_in_place(p, &args, data, ring, end_aligned);
                }
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
                let (c, row) = (p.input.c as usize, p.input.w as usize * p.input.c as usize);
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
                weights_hwio: w,
                folded_bias: b,
            }
            | ConvVariant::Im2col {
                weights_rows: w,
                folded_bias: b,
            }
            | ConvVariant::Multiplier {
                weights_hwc: w,
                folded_bias: b,
            } => {
                // Three window convs on one kernel signature, each with its
                // own weight layout: the operands, then the kernel.
                let args = match p.variant {
                    ConvVariant::DenseHwio { .. } => self.dense_args(p, w, b),
                    ConvVariant::Im2col { .. } => self.im2col_args(p, w, b),
                    _ => self.multiplier_args(p, w, b),
                }?;
                let (input, output) = split(arena, p.input, p.output)?;
                let ow = p.output.w as usize;
                match p.variant {
                    ConvVariant::DenseHwio { .. } => dense::dense(&args, ow, input, output),
                    ConvVariant::Im2col { .. } => dense::im2col(&args, ow, input, output),
                    _ => multiplier::multiplier(&args, ow, input, output),
                }
            }
            ConvVariant::MultiplierWriteBehind {
                weights_hwc,
                folded_bias,
            } => {
                let args = self.multiplier_args(p, weights_hwc, folded_bias)?;
                let lead = Lead::Behind(p.write_behind_bytes());
                let (region, input_at, output_at) =
                    overlapping(arena, bytes(p.input), bytes(p.output), lead)?;
                let out_hw = (p.output.h as usize, p.output.w as usize);
                multiplier::multiplier_behind(&args, out_hw, region, input_at, output_at);
            }
            ConvVariant::DepthwiseInPlace {
                scratch,
                weights_hwc,
                folded_bias,
            } => {
                let args = self.depthwise_args(p, weights_hwc, folded_bias)?;
                let (data, ring) = in_place_window(p, layer, scratch, arena)?;
                depthwise::depthwise_in_place(&args, data, ring);
            }
        }
        Some(())
    }
}

/// The data and ring of a windowed conv run in place (output over its
/// input, stride 1, odd kernel, same padding; its row ring at `scratch`);
/// `None` for any other shape.
fn in_place_window<'b>(
    p: &Conv,
    layer: &Layer,
    scratch: u32,
    arena: &'b mut [i8],
) -> Option<(&'b mut [i8], &'b mut [i8])> {
    let same = p.input == p.output;
    if !same || p.stride != 1 || p.kernel % 2 == 0 || p.pad != p.kernel / 2 {
        return None;
    }
    let ring = scratch_range(scratch, layer)?;
    split2_mut(arena, bytes(p.input), ring)
}

/// The region and ring of a [`ConvVariant::WidenInPlace`] conv: a 1x1,
/// stride 1, same height and width, output rows at least as long as input
/// rows, both tensors starting (or, `end_aligned`, ending) at one byte; the
/// region is the output. `None` for any other shape.
fn widen_window<'b>(
    p: &Conv,
    layer: &Layer,
    scratch: u32,
    end_aligned: bool,
    arena: &'b mut [i8],
) -> Option<(&'b mut [i8], &'b mut [i8])> {
    let (i, o) = (p.input, p.output);
    let row = |t: crate::schedule::TensorRef| t.w as usize * t.c as usize * t.elem.bytes();
    let shape = p.kernel == 1 && p.stride == 1 && p.pad == 0 && i.h == o.h && i.w == o.w;
    let aligned = if end_aligned {
        i.end() == o.end()
    } else {
        i.offset == o.offset
    };
    if !shape || !aligned || row(o) < row(i) {
        return None;
    }
    let ring = scratch_range(scratch, layer)?;
    split2_mut(arena, bytes(o), ring)
}
