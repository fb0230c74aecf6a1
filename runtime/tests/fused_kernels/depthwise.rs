//! `ConvVariant::Depthwise` and `DepthwiseInPlace` against `Reference`, and
//! their misuse.

use proptest::prelude::*;
use runtime::{ConvVariant, Error, Layer};

use crate::conv_mlp::{Mlp, MlpCase};
use crate::harness::*;

/// Any kernel, stride and padding, 1x1 and tiny spatial sizes, channel
/// counts below, at and above the 16-channel chunk.
pub fn depthwise_case() -> impl Strategy<Value = SeededConv> {
    (
        (
            small_hw(),
            prop_oneof![1usize..=8, 15usize..=17, 30usize..=50],
        ),
        (1usize..=7, 1usize..=3, 0usize..=3),
        (any::<bool>(), any::<bool>(), any::<u64>()),
    )
        .prop_filter_map(
            "conv must have an output",
            |(((h, w), c), (k, stride, pad), (pad_values, lut, seed))| {
                let g = Geometry::drawn((h, w), (c, c, c), (k, stride, pad))?;
                Some(SeededConv {
                    g,
                    pad_values,
                    lut,
                    seed,
                })
            },
        )
}

pub fn depthwise_property(case: SeededConv) -> Result<(), TestCaseError> {
    let (mut p, mut r) = case.params();
    // Half the cases keep every weight off -128 (as codegen does): the
    // NEON tap loop's pair sums.
    if case.seed % 2 == 0 {
        p.weights.iter_mut().for_each(|w| *w = (*w).max(-127));
    }
    let c = Apart::random(&p, &mut r);
    let mut blob = Blob::new();
    let fast = p.depthwise(&mut blob, c.i, c.o);
    c.check("depthwise", &blob, fast)
}

property_tests! {
    depthwise_conv_matches_reference: 400 of depthwise_case() => depthwise_property;
}

/// Extreme operands: zero points at both ends, largest weights and inputs,
/// FastViT-T8 channel counts and kernels.
#[test]
fn depthwise_conv_extremes() {
    for (c, k, stride, pad) in [(48, 7, 1, 3), (96, 3, 1, 1), (64, 3, 2, 1), (17, 5, 2, 2)] {
        for in_zp in [-128, 127] {
            for (wv, xv) in [(-128i8, -128i8), (127, -128), (-128, 127)] {
                let g = Geometry {
                    h: 5,
                    w: 6,
                    cin: c,
                    cout: c,
                    groups: c,
                    k,
                    stride,
                    pad,
                };
                let mut r = Gen::new(c as u64 * 31 + k as u64);
                let mut p = ConvParams::seeded(g, in_zp > 0, false, &mut r);
                p.in_zp = in_zp;
                if in_zp > 0 {
                    let wide = [-31, -2, -1, 0, 1, 30, -12];
                    for (i, s) in p.shift.iter_mut().enumerate() {
                        *s = wide[i % wide.len()];
                    }
                }
                p.weights.iter_mut().for_each(|v| *v = wv);
                let c = Apart::new(&p, vec![xv; p.input(0).len()], &mut r);
                let mut blob = Blob::new();
                let fast = p.depthwise(&mut blob, c.i, c.o);
                c.check("depthwise extremes", &blob, fast).unwrap();
            }
        }
    }
}

/// Depthwise variants on convs they do not fit, or with bad data, and a
/// fused dw on the fast kernel without fast fc1/fc2, are rejected.
#[test]
fn depthwise_misuse_is_rejected() {
    let mut r = Gen::new(7);
    let geo = |groups| Geometry {
        h: 4,
        w: 4,
        cin: 4,
        cout: 4,
        groups,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let (i, o) = (tensor(0, 4, 4, 4), tensor(64, 4, 4, 4));
    let arena = vec![0i8; 200];
    let x = vec![0i8; 64];
    let invalid = Err(Error::InvalidLayer { layer: 0 });
    // Dense conv with a depthwise variant.
    let p = ConvParams::seeded(geo(1), false, false, &mut r);
    let mut blob = Blob::new();
    let mut conv = p.conv(&mut blob, i, o);
    conv.variant = ConvVariant::Depthwise {
        weights_hwc: blob.i8s(&p.weights),
        folded_bias: blob.i32s(&p.bias),
    };
    let got = run(&blob.0, &[Layer::Conv(conv)], i, o, &arena, &x);
    assert_eq!(got.map(|_| ()), invalid);
    // Depthwise weights of the wrong length, folded bias too short.
    let p = ConvParams::seeded(geo(4), false, false, &mut r);
    for (dw, db) in [(1, 0), (0, 1)] {
        let (hwc, folded) = p.depthwise_layout();
        let mut blob = Blob::new();
        let mut conv = p.conv(&mut blob, i, o);
        conv.variant = ConvVariant::Depthwise {
            weights_hwc: blob.i8s(&hwc[dw..]),
            folded_bias: blob.i32s(&folded[db..]),
        };
        let got = run(&blob.0, &[Layer::Conv(conv)], i, o, &arena, &x);
        assert_eq!(got.map(|_| ()), invalid);
    }
    // In place on a conv that is not stride 1 / same padding.
    let mut g = geo(4);
    g.pad = 0;
    let p = ConvParams::seeded(g, false, false, &mut r);
    let mut blob = Blob::new();
    let mut conv = p.depthwise(&mut blob, i, i);
    if let ConvVariant::Depthwise {
        weights_hwc,
        folded_bias,
    } = conv.variant
    {
        conv.variant = ConvVariant::DepthwiseInPlace {
            scratch: 100,
            weights_hwc,
            folded_bias,
        };
    }
    let got = run(&blob.0, &[Layer::Conv(conv)], i, i, &arena, &x);
    assert_eq!(got.map(|_| ()), invalid);
    // Fused dw on the fast kernel with reference fc1/fc2.
    let case = MlpCase {
        h: 3,
        w: 3,
        c: 4,
        hidden: 8,
        k: 3,
        depthwise: true,
        pad_values: false,
        scratch_first: false,
        seed: 1,
    };
    let (m, _) = Mlp::seeded(case);
    let mut blob = Blob::new();
    let mut fused = m.fused(&mut blob, 0, 40);
    fused.dw = m.dw.depthwise(&mut blob, fused.dw.input, fused.dw.output);
    let t = tensor(0, 3, 3, 4);
    let arena = vec![0i8; 200];
    let got = run(&blob.0, &[Layer::ConvMlp(fused)], t, t, &arena, &x[..36]);
    assert_eq!(got.map(|_| ()), invalid);
}
