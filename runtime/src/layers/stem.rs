//! Running a [`Layer::Stem`]: the streamed stem, reference or fast.
#![forbid(unsafe_code)]

use crate::arena::{bytes, overlapping, scratch_range, split2_mut, Lead};
use crate::kernels::stem::{self, StemFirst};
use crate::model::Model;
use crate::ops;
use crate::schedule::{ConvVariant, Layer, Stem};

impl Model<'_> {
    /// Validates a stem layer and runs it.
    pub(crate) fn run_stem(&self, p: &Stem, layer: &Layer, arena: &mut [i8]) -> Option<()> {
        let (a, b) = (&p.first, &p.second);
        // Both reference, or a fast `first` and a depthwise `second`.
        let first = match a.variant {
            ConvVariant::Reference => None,
            ConvVariant::DenseHwio {
                weights_hwio: w,
                folded_bias: fb,
            } => Some(StemFirst::Dense(self.dense_args(a, w, fb)?)),
            ConvVariant::Im2col {
                weights_rows: w,
                folded_bias: fb,
            } => Some(StemFirst::Im2col(self.im2col_args(a, w, fb)?)),
            _ => return None,
        };
        let fast = match (first, b.variant) {
            (None, ConvVariant::Reference) => None,
            (
                Some(first),
                ConvVariant::Depthwise {
                    weights_hwc,
                    folded_bias,
                },
            ) => Some((first, self.depthwise_args(b, weights_hwc, folded_bias)?)),
            _ => return None,
        };
        if a.output != b.input || b.kernel == 0 {
            return None;
        }
        let lead = Lead::Behind(p.write_behind_bytes());
        let ring = scratch_range(a.output.offset, layer)?;
        let (input, output) = (bytes(a.input), bytes(b.output));
        // The ring must not touch the input or the output.
        let (lo, hi) = (input.0.min(output.0), input.1.max(output.1));
        let (region, ring) = split2_mut(arena, (lo, hi), ring)?;
        let (region, input_at, output_at) = overlapping(
            region,
            (input.0 - lo, input.1 - lo),
            (output.0 - lo, output.1 - lo),
            lead,
        )?;
        match fast {
            None => {
                let (first, second) = (self.reference_args(a)?, self.reference_args(b)?);
                ops::stem::stem_reference(p, &first, &second, region, input_at, output_at, ring)
            }
            Some((f, s)) => stem::stem_fast(p, &f, &s, region, input_at, output_at, ring),
        }
        Some(())
    }
}
