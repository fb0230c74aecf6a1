//! `ConvVariant::InPlace` against `ConvVariant::Reference` out of place.

use proptest::prelude::*;
use runtime::{Conv, ConvVariant, Layer};

use crate::harness::*;

#[derive(Clone, Debug)]
pub struct InPlaceCase {
    pub conv: SeededConv,
    pub ring_first: bool,
    pub gap: usize,
}

pub fn in_place_case() -> impl Strategy<Value = InPlaceCase> {
    (
        (
            small_hw(),
            prop_oneof![3 => 1usize..=8, 1 => 14usize..=40],
            odd_kernel(),
        ),
        any::<bool>(),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0usize..5,
            any::<u64>(),
        ),
    )
        .prop_map(
            |(((h, w), c, k), dense, (pad_values, lut, ring_first, gap, seed))| {
                let groups = if dense { 1 } else { c };
                let g = Geometry::drawn((h, w), (c, c, groups), (k, 1, k / 2));
                let g = g.expect("same padding, odd k: a valid conv");
                let conv = SeededConv {
                    g,
                    pad_values,
                    lut,
                    seed,
                };
                InPlaceCase {
                    conv,
                    ring_first,
                    gap,
                }
            },
        )
}

pub fn in_place_property(case: InPlaceCase) -> Result<(), TestCaseError> {
    let (mut p, mut r) = case.conv.params();
    // Half the cases keep every weight off -128 (as codegen does): the
    // NEON tap loop's pair sums.
    if case.conv.seed % 2 == 0 {
        p.weights.iter_mut().for_each(|w| *w = (*w).max(-127));
    }
    let g = case.conv.g;
    let n = g.h * g.w * g.cin;
    let x = r.i8s(n);

    // Reference: input and output apart.
    let mut blob = Blob::new();
    let (i, o) = (p.input(1), p.output(n + 2));
    let reference = Layer::Conv(p.conv(&mut blob, i, o));
    let arena = r.i8s(2 * n + 3);
    let (expected, _) = run(&blob.0, &[reference], i, o, &arena, &x).unwrap();

    // In place, with the ring before or after the tensor.
    let ring_len = Conv::in_place_scratch_bytes(g.k, g.w, g.cin);
    let (t_at, ring_at) = if case.ring_first {
        (ring_len + 2 * case.gap, case.gap)
    } else {
        (case.gap, n + 2 * case.gap)
    };
    let t = p.input(t_at);
    let arena = r.i8s(n + ring_len + 3 * case.gap);
    let mut before = arena.clone();
    before[t_at..t_at + n].copy_from_slice(&x);
    // One in-place form: the reference's bits, and only the tensor and the
    // ring written.
    let check_form = |name: &str, blob: Blob, conv: Conv| -> Result<(), TestCaseError> {
        let layer = Layer::Conv(conv);
        assert_eq!(layer.scratch_bytes(), ring_len);
        let (got, after) = run(&blob.0, &[layer], t, t, &arena, &x).unwrap();
        prop_same(name, &expected, &got)?;
        only_changed(
            &before,
            &after,
            &[byte_range(t), (ring_at, ring_at + ring_len)],
        )
    };
    let mut blob = Blob::new();
    let mut conv = p.conv(&mut blob, t, t);
    conv.variant = ConvVariant::InPlace {
        scratch: ring_at as u32,
    };
    check_form("in-place conv", blob, conv)?;

    // Dense 1x1: the fast kernel in place, same ring, same bits.
    if g.k == 1 && g.groups == 1 {
        let mut blob = Blob::new();
        let mut conv = p.conv(&mut blob, t, t);
        conv.variant = ConvVariant::PointwiseInPlace {
            scratch: ring_at as u32,
            folded_bias: blob.i32s(&p.folded_bias()),
        };
        check_form("pointwise in place", blob, conv)?;
    }

    // Depthwise: the fast depthwise kernel in place, same ring, same bits.
    if g.groups == g.cin {
        let mut blob = Blob::new();
        let mut conv = p.depthwise(&mut blob, t, t);
        let ConvVariant::Depthwise {
            weights_hwc,
            folded_bias,
        } = conv.variant
        else {
            unreachable!()
        };
        conv.variant = ConvVariant::DepthwiseInPlace {
            scratch: ring_at as u32,
            weights_hwc,
            folded_bias,
        };
        check_form("depthwise in place", blob, conv)?;
    }
    Ok(())
}

property_tests! {
    in_place_conv_matches_reference: 300 of in_place_case() => in_place_property;
}

/// FastViT-T8's in-place depthwise shapes (the token mixers' 3x3, and a
/// 7x7) with interior rows, where NEON runs whole rows
/// (`neon::depthwise_row16`): weights off -128 or not, table or not,
/// padding values or the zero point, the ring before or after.
#[test]
fn in_place_fastvit_shapes() {
    for (c, k) in [(16, 3), (48, 3), (96, 3), (48, 7)] {
        for seed in 0..4u64 {
            let g = Geometry::drawn((9, 10), (c, c, c), (k, 1, k / 2));
            let conv = SeededConv {
                g: g.expect("same padding, odd k: a valid conv"),
                pad_values: seed & 1 != 0,
                lut: seed & 2 != 0,
                seed,
            };
            let case = InPlaceCase {
                conv,
                ring_first: seed % 3 == 0,
                gap: 1,
            };
            in_place_property(case).unwrap();
        }
    }
}
