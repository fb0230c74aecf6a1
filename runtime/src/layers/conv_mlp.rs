//! Running a [`Layer::ConvMlp`]: the fused block, reference or fast.
#![forbid(unsafe_code)]

use crate::arena::{bytes, scratch_range, split2_mut};
use crate::kernels::{conv_mlp, wide_mlp};
use crate::model::Model;
use crate::ops;
use crate::schedule::{Conv, ConvMlp, ConvVariant, Layer, TensorRef};

impl Model<'_> {
    /// Validates a ConvMlp layer (its chain of shapes) and runs it.
    pub(crate) fn run_conv_mlp(&self, p: &ConvMlp, layer: &Layer, arena: &mut [i8]) -> Option<()> {
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
            && add.left_shift <= add.max_left_shift();
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
                // Int16 internals: the fast forms where they fit (feature
                // `fast-int16`), else the reference.
                let args = (&dwa, &fc1a, &fc2a);
                if !(p.d_bytes() == 2 && wide_mlp::conv_mlp_wide_internals(p, args, data, scratch))
                {
                    ops::conv_mlp::conv_mlp_reference(p, &dwa, &fc1a, &fc2a, data, scratch);
                }
            }
            Some((b1, b2)) => {
                let (f1, f2) = (self.pointwise_args(fc1, b1)?, self.pointwise_args(fc2, b2)?);
                let (data, scratch) = split2_mut(arena, bytes(x), scratch)?;
                let fc = (&f1, &f2);
                match dw_fast {
                    None if x.elem != crate::Elem::I8 => {
                        let dwa = self.reference_args(dw)?;
                        conv_mlp::conv_mlp_pointwise_wide(p, &dwa, fc, data, scratch)
                    }
                    None => {
                        let dwa = self.reference_args(dw)?;
                        conv_mlp::conv_mlp_pointwise(p, &dwa, fc, data, scratch)
                    }
                    Some((wh, fb)) => {
                        let d = self.depthwise_args(dw, wh, fb)?;
                        conv_mlp::conv_mlp_pointwise(p, &d, fc, data, scratch);
                    }
                }
            }
        }
        Some(())
    }
}
