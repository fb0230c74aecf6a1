//! The last pass: the weight blob keeps only what the final schedule reads.
//!
//! Lowering lays out every conv's weights both as OHWI (for the reference
//! forms) and in its fast kernel's layout, before fusion decides which form
//! runs. Once the schedule is final, a fast conv drops its OHWI weights
//! (unless OHWI is its layout, as for pointwise) and its unfolded bias, and
//! the blob is rebuilt from the spans still referenced, in their original
//! order, so each weight is stored once.

use runtime::{Conv, ConvVariant, Layer, Requant, Span};

use crate::plan::ALIGN;

/// Drops the operands no kernel of `layers` reads, then rebuilds `blob` with
/// just the spans `layers` reference (every array still `ALIGN`-aligned)
/// and points the spans at their new offsets. The result is a whole number
/// of `ALIGN` blocks.
pub(super) fn pack(blob: &[u8], layers: &mut [&mut Layer]) -> Vec<u8> {
    for layer in layers.iter_mut() {
        for_each_conv(layer, &mut drop_unread);
    }
    // Regions of the old blob that are read, merged where they overlap.
    let mut spans = Vec::new();
    for layer in layers.iter_mut() {
        for_each_span(layer, &mut |s| spans.push((s.offset, s.offset + s.len)));
    }
    spans.sort_unstable();
    let mut regions: Vec<(u32, u32)> = Vec::new();
    for (start, end) in spans {
        match regions.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => regions.push((start, end)),
        }
    }
    // Copy each region to its new, aligned place.
    let mut packed = Vec::with_capacity(blob.len());
    let mut moved = Vec::with_capacity(regions.len());
    for &(start, end) in &regions {
        packed.resize(packed.len().next_multiple_of(ALIGN), 0);
        moved.push((start, end, packed.len() as u32));
        packed.extend_from_slice(&blob[start as usize..end as usize]);
    }
    // The emitted blob is a whole number of `ALIGN` blocks.
    packed.resize(packed.len().next_multiple_of(ALIGN), 0);
    for layer in layers.iter_mut() {
        for_each_span(layer, &mut |s| {
            let i = regions.partition_point(|r| r.1 <= s.offset);
            let (start, _, to) = moved[i];
            s.offset = to + (s.offset - start);
        });
    }
    packed
}

/// Empties the OHWI weights and bias of a conv whose kernel reads its own
/// layout (pointwise: OHWI itself) and folded bias.
fn drop_unread(c: &mut Conv) {
    if c.reference_form() {
        return;
    }
    c.bias = Span::NONE;
    if !matches!(
        c.variant,
        ConvVariant::Pointwise { .. } | ConvVariant::PointwiseInPlace { .. }
    ) {
        c.weights = Span::NONE;
    }
}

fn for_each_conv(layer: &mut Layer, f: &mut impl FnMut(&mut Conv)) {
    match layer {
        Layer::Conv(c) => f(c),
        Layer::Stem(s) => {
            f(&mut s.first);
            f(&mut s.second);
        }
        Layer::ConvMlp(m) => {
            f(&mut m.dw);
            f(&mut m.fc1);
            f(&mut m.fc2);
        }
        _ => {}
    }
}

/// Calls `f` on every non-empty weight-blob span of `layer`.
fn for_each_span(layer: &mut Layer, f: &mut impl FnMut(&mut Span)) {
    let mut g = |s: &mut Span| {
        if !s.is_none() {
            f(s)
        }
    };
    match layer {
        Layer::Conv(_) | Layer::Stem(_) | Layer::ConvMlp(_) => {
            for_each_conv(layer, &mut |c| {
                affine([&mut c.weights, &mut c.bias], &mut c.requant, &mut g);
                g(&mut c.pad_values);
                g(&mut c.lut);
                g(&mut c.identity);
                variant_spans(&mut c.variant, &mut g);
            });
        }
        Layer::Lut(l) => g(&mut l.table),
        Layer::Add(_) => {}
        Layer::SqueezeExcite(s) => {
            requant(&mut s.pool_requant, &mut g);
            affine(
                [&mut s.fc1_weights, &mut s.fc1_bias],
                &mut s.fc1_requant,
                &mut g,
            );
            affine(
                [&mut s.fc2_weights, &mut s.fc2_bias],
                &mut s.fc2_requant,
                &mut g,
            );
            g(&mut s.sigmoid);
            requant(&mut s.scale_requant, &mut g);
            g(&mut s.lut);
        }
        Layer::GlobalAvgPool(p) => requant(&mut p.requant, &mut g),
        Layer::FullyConnected(p) => affine([&mut p.weights, &mut p.bias], &mut p.requant, &mut g),
    }
}

/// A weighted layer's weights, bias and requantization, in that order.
fn affine(weights_bias: [&mut Span; 2], r: &mut Requant, g: &mut dyn FnMut(&mut Span)) {
    for s in weights_bias {
        g(s);
    }
    requant(r, g);
}

fn requant(r: &mut Requant, g: &mut dyn FnMut(&mut Span)) {
    g(&mut r.multiplier);
    g(&mut r.shift);
}

fn variant_spans(v: &mut ConvVariant, g: &mut dyn FnMut(&mut Span)) {
    match v {
        ConvVariant::Reference
        | ConvVariant::InPlace { .. }
        | ConvVariant::WriteBehind
        | ConvVariant::WriteAhead
        | ConvVariant::WidenInPlace { .. } => {}
        ConvVariant::Pointwise { folded_bias }
        | ConvVariant::PointwiseInPlace { folded_bias, .. } => g(folded_bias),
        // The relaid weights, then the folded bias.
        ConvVariant::Depthwise {
            weights_hwc: w,
            folded_bias,
        }
        | ConvVariant::DepthwiseInPlace {
            weights_hwc: w,
            folded_bias,
            ..
        }
        | ConvVariant::Multiplier {
            weights_hwc: w,
            folded_bias,
        }
        | ConvVariant::MultiplierWriteBehind {
            weights_hwc: w,
            folded_bias,
        }
        | ConvVariant::DenseHwio {
            weights_hwio: w,
            folded_bias,
        }
        | ConvVariant::Im2col {
            weights_rows: w,
            folded_bias,
        } => {
            g(w);
            g(folded_bias);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::{FullyConnected, TensorRef};

    fn span(offset: u32, len: u32) -> Span {
        Span { offset, len }
    }

    #[test]
    fn only_referenced_spans_survive_and_move_together() {
        let mut blob: Vec<u8> = (0..96).collect();
        blob[80] = 200;
        let fc = |w: Span, b: Span| {
            Layer::FullyConnected(FullyConnected {
                input: TensorRef::default(),
                in_zp: 0,
                output: TensorRef::default(),
                out_zp: 0,
                weights: w,
                bias: b,
                requant: Requant {
                    multiplier: Span::NONE,
                    shift: Span::NONE,
                },
            })
        };
        // Bytes 16..32 are never read; 64..72 is read twice, 66..70 inside it.
        let mut a = fc(span(0, 8), span(64, 8));
        let mut b = fc(span(66, 4), span(80, 1));
        let packed = pack(&blob, &mut [&mut a, &mut b]);
        let Layer::FullyConnected(a) = a else {
            unreachable!()
        };
        let Layer::FullyConnected(b) = b else {
            unreachable!()
        };
        assert_eq!(a.weights, span(0, 8));
        assert_eq!(a.bias, span(16, 8));
        assert_eq!(b.weights, span(18, 4));
        assert_eq!(b.bias, span(32, 1));
        assert_eq!(packed.len(), 48);
        assert_eq!(&packed[16..24], &blob[64..72]);
        assert_eq!(packed[32], 200);
    }
}
