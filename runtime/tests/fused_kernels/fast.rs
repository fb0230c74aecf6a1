//! `ConvVariant::Multiplier`, `MultiplierWriteBehind` and `DenseHwio` (and
//! im2col) against `Reference`; the fast `Layer::Stem` against two
//! `Reference` convs.

use proptest::prelude::*;
use runtime::{Conv, ConvVariant, Error, Layer, Stem, TensorRef};

use crate::harness::*;
use crate::stem::{stem_case, StemCase};

impl ConvParams {
    /// The variant data of `ConvVariant::Multiplier` (`groups == cin`,
    /// `cout = m * cin`): weights `[k][k][m][cin]` and
    /// `bias[o] - in_zp * sum_tap w[o][tap]`.
    pub fn multiplier_layout(&self) -> (Vec<i8>, Vec<i32>) {
        let (cin, cout, taps) = (self.g.cin, self.g.cout, self.g.k * self.g.k);
        assert!(self.g.groups == cin && cout % cin == 0);
        let m = cout / cin;
        let w = (0..taps)
            .flat_map(|t| (0..cout).map(move |i| (t, i)))
            .map(|(t, i)| self.weights[(m * (i % cin) + i / cin) * taps + t])
            .collect();
        (w, self.folded_per_output(taps))
    }

    /// The variant data of `ConvVariant::DenseHwio` (`groups == 1`): weights
    /// `[k][k][cin][cout]` and `bias[o] - in_zp * sum w[o]`.
    pub fn dense_layout(&self) -> (Vec<i8>, Vec<i32>) {
        let (cout, per) = (self.g.cout, self.g.k * self.g.k * self.g.cin);
        assert!(self.g.groups == 1);
        let w = (0..per)
            .flat_map(|i| (0..cout).map(move |o| (i, o)))
            .map(|(i, o)| self.weights[o * per + i])
            .collect();
        (w, self.folded_per_output(per))
    }

    /// `conv` with `ConvVariant::Multiplier` (or its write-behind twin).
    pub fn multiplier(
        &self,
        blob: &mut Blob,
        input: TensorRef,
        output: TensorRef,
        behind: bool,
    ) -> Conv {
        let (w, folded) = self.multiplier_layout();
        self.conv_as(blob, input, output, |b| {
            let (weights_hwc, folded_bias) = (b.i8s(&w), b.i32s(&folded));
            if behind {
                ConvVariant::MultiplierWriteBehind {
                    weights_hwc,
                    folded_bias,
                }
            } else {
                ConvVariant::Multiplier {
                    weights_hwc,
                    folded_bias,
                }
            }
        })
    }

    /// `conv` with `ConvVariant::Im2col`: the OHWI rows zero-padded to
    /// `patch_len`, the dense folded bias.
    pub fn im2col(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        let (cout, per) = (self.g.cout, self.g.k * self.g.k * self.g.cin);
        let mut c = self.conv(blob, input, output);
        let patch = c.patch_len();
        let rows: Vec<i8> = (0..cout)
            .flat_map(|o| (0..patch).map(move |i| (o, i)))
            .map(|(o, i)| {
                if i < per {
                    self.weights[o * per + i]
                } else {
                    0
                }
            })
            .collect();
        c.variant = ConvVariant::Im2col {
            weights_rows: blob.i8s(&rows),
            folded_bias: blob.i32s(&self.folded_per_output(per)),
        };
        c
    }

    /// `conv` with `ConvVariant::DenseHwio`.
    pub fn dense(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        let (w, folded) = self.dense_layout();
        self.conv_as(blob, input, output, |b| ConvVariant::DenseHwio {
            weights_hwio: b.i8s(&w),
            folded_bias: b.i32s(&folded),
        })
    }
}

#[derive(Clone, Debug)]
pub struct FastConvCase {
    pub conv: SeededConv,
    /// Extra bytes between the least write-behind lead and the actual one.
    pub slack: usize,
}

/// Kernels 1..=9 (above 7: the per-tap path), strides 1..=3, padding up to
/// `k - 1`, channel counts around the 8- and 16-channel chunks; `dense`
/// picks `groups == 1` with 1..=5 input channels, otherwise `groups == cin`
/// with a multiplier of 2 or 3.
pub fn fast_conv_case(dense: bool) -> impl Strategy<Value = FastConvCase> {
    (
        (
            small_hw(),
            prop_oneof![1usize..=9, 15usize..=17, 30usize..=50],
            2usize..=3,
        ),
        (
            prop_oneof![3 => 1usize..=7, 1 => 8usize..=9],
            1usize..=3,
            0usize..=4,
        ),
        (
            any::<bool>(),
            any::<bool>(),
            prop_oneof![3 => Just(0usize), 1 => 1usize..40],
        ),
        any::<u64>(),
    )
        .prop_filter_map(
            "conv must have an output",
            move |(((h, w), c, m), (k, stride, pad), (pad_values, lut, slack), seed)| {
                let (cin, cout, groups) = if dense {
                    (1 + c % 5, c, 1)
                } else {
                    (c, m * c, c)
                };
                let g = Geometry::drawn((h, w), (cin, cout, groups), (k, stride, pad))?;
                let conv = SeededConv {
                    g,
                    pad_values,
                    lut,
                    seed,
                };
                Some(FastConvCase { conv, slack })
            },
        )
}

/// The fast variants [`fast_conv_property`] checks.
#[derive(Clone, Copy, PartialEq)]
pub enum Fast {
    Multiplier,
    Dense,
    Im2col,
}

/// `ConvVariant::Multiplier` (or `DenseHwio`, `Im2col`) == `Reference`,
/// output apart. An `Im2col` window past `Conv::MAX_PATCH` is refused.
pub fn fast_conv_property(case: FastConvCase, kind: Fast) -> Result<(), TestCaseError> {
    let (p, mut r) = case.conv.params();
    let c = Apart::random(&p, &mut r);
    let mut blob = Blob::new();
    let (fast, name) = match kind {
        Fast::Dense => (p.dense(&mut blob, c.i, c.o), "dense"),
        Fast::Im2col => (p.im2col(&mut blob, c.i, c.o), "im2col"),
        Fast::Multiplier => (p.multiplier(&mut blob, c.i, c.o, false), "multiplier"),
    };
    if kind == Fast::Im2col && fast.patch_len() > Conv::MAX_PATCH {
        let ran = c.run(&blob, fast);
        prop_assert_eq!(ran.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
        return Ok(());
    }
    c.check(name, &blob, fast)
}

property_tests! {
    multiplier_conv_matches_reference:
        400 of fast_conv_case(false) => |c| fast_conv_property(c, Fast::Multiplier);
    dense_hwio_conv_matches_reference:
        400 of fast_conv_case(true) => |c| fast_conv_property(c, Fast::Dense);
    im2col_conv_matches_reference:
        400 of fast_conv_case(true) => |c| fast_conv_property(c, Fast::Im2col);
}

/// `MultiplierWriteBehind` with its output `lead + slack` bytes before its
/// input (overlapping it), and entirely after it, == `Reference`; one byte
/// less lead is refused.
pub fn multiplier_behind_property(case: FastConvCase) -> Result<(), TestCaseError> {
    let (p, mut r) = case.conv.params();
    let c = Apart::random(&p, &mut r);

    // Output after the input.
    let mut blob = Blob::new();
    let conv = p.multiplier(&mut blob, c.i, c.o, true);
    let (got, _) = c.run(&blob, conv).unwrap();
    prop_same("multiplier behind, output after", &c.expected, &got)?;

    // Output before, overlapping.
    let conv = p.multiplier(&mut blob, p.input(0), p.output(0), true);
    check_write_behind("multiplier behind", &blob, conv, &c, case.slack, &mut r)
}

property_tests! {
    multiplier_write_behind_matches_reference:
        300 of fast_conv_case(false) => multiplier_behind_property;
}

/// The fast stem (`DenseHwio` or `Im2col`, then `Depthwise`), overlapping
/// its input at the least lead plus slack, == two `Reference` convs.
pub fn fast_stem_property(case: StemCase, im2col: bool) -> Result<(), TestCaseError> {
    let mut r = Gen::new(case.seed);
    let a = ConvParams::seeded(case.first, true, true, &mut r);
    let b = ConvParams::seeded(
        case.second,
        r.next_u64() % 2 == 0,
        r.next_u64() % 2 == 0,
        &mut r,
    );
    let (x, expected) = reference_chain(&a, &b, &mut r);

    let mut blob = Blob::new();
    let first = if im2col {
        a.im2col(&mut blob, a.input(0), a.output(0))
    } else {
        a.dense(&mut blob, a.input(0), a.output(0))
    };
    if im2col && first.patch_len() > Conv::MAX_PATCH {
        return Ok(());
    }
    let stem = Stem {
        first,
        second: b.depthwise(&mut blob, a.output(0), b.output(0)),
    };
    let name = "fast streamed stem";
    let (stem, arena) = check_streamed(name, &blob.0, stem, &x, &expected, case.slack, &mut r)?;
    let (input, output) = (stem.first.input, stem.second.output);
    // Mixed fast and reference halves are refused.
    let mixed = Stem {
        second: Conv {
            variant: ConvVariant::Reference,
            ..stem.second
        },
        ..stem
    };
    let r = run(&blob.0, &[Layer::Stem(mixed)], input, output, &arena, &x);
    prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    Ok(())
}

#[test]
fn fast_stem_matches_two_reference_convs() {
    let depthwise_second = || {
        stem_case().prop_map(|mut c| {
            c.second.cout = c.second.cin;
            c.second.groups = c.second.cin;
            c
        })
    };
    check(300, depthwise_second(), |c| fast_stem_property(c, false));
    check(300, depthwise_second(), |c| fast_stem_property(c, true));
}

/// FastViT-T8's own shapes at full channel counts (small spatial sizes):
/// the stem (3 -> 48, 3x3/s2, mean-pixel padding, in_zp -128), the x2
/// downsample 7x7/s2 and final_conv 3x3, extreme weights and inputs.
#[test]
fn fast_kernels_on_fastvit_shapes() {
    for (dense, cin, cout, k, stride, pad, h) in [
        (true, 3, 48, 3, 2, 1, 9),
        (false, 48, 96, 7, 2, 3, 10),
        (false, 192, 384, 7, 2, 3, 6),
        (false, 384, 768, 3, 1, 1, 4),
    ] {
        for in_zp in [-128, 127] {
            for (wv, xv) in [
                (None, None),
                (Some(-128i8), Some(-128i8)),
                (Some(127), Some(-128)),
            ] {
                let g = Geometry {
                    h,
                    w: h + 1,
                    cin,
                    cout,
                    groups: if dense { 1 } else { cin },
                    k,
                    stride,
                    pad,
                };
                let mut r = Gen::new(cin as u64 * 7 + k as u64);
                let mut p = ConvParams::seeded(g, dense, !dense, &mut r);
                p.in_zp = in_zp;
                if in_zp > 0 {
                    // Shifts outside -31..=-2 mixed into the chunks: the
                    // 64-bit requantization path of the lane loops.
                    let wide = [-31, -2, -1, 0, 1, 30, -12];
                    for (i, s) in p.shift.iter_mut().enumerate() {
                        *s = wide[i % wide.len()];
                    }
                }
                if let Some(wv) = wv {
                    p.weights.iter_mut().for_each(|v| *v = wv);
                }
                let x = match xv {
                    Some(xv) => vec![xv; p.input(0).len()],
                    None => r.i8s(p.input(0).len()),
                };
                let c = Apart::new(&p, x, &mut r);
                let mut blob = Blob::new();
                let fast = if dense {
                    p.dense(&mut blob, c.i, c.o)
                } else {
                    p.multiplier(&mut blob, c.i, c.o, false)
                };
                c.check("fastvit shapes", &blob, fast).unwrap();
                if dense {
                    let mut blob = Blob::new();
                    let fast = p.im2col(&mut blob, c.i, c.o);
                    c.check("fastvit stem, im2col", &blob, fast).unwrap();
                }
            }
        }
    }
}
