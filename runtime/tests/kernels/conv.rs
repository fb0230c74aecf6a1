//! `Layer::Conv` (`ConvVariant::Reference`) against the naive NCHW model.

use proptest::collection::vec;
use proptest::prelude::*;
use runtime::{Error, Layer};

use crate::harness::*;

impl ConvParams {
    /// Random parameters from a seed (named cases).
    pub fn seeded(s: Geometry, g: &mut Gen) -> Self {
        ConvParams::new(
            s,
            (g.zp(), g.zp()),
            g.i8s(s.weight_len()),
            (g.biases(s.cout), g.mults(s.cout), g.shifts(s.cout)),
        )
    }

    /// Runs the conv alone in an arena laid out by `layout`.
    pub fn run(&self, input: &[i8], layout: &Layout) -> Result<Vec<i8>, Error> {
        let (oh, ow) = self.g.out_hw();
        let sizes = [input.len(), oh * ow * self.g.cout];
        let (off, mut arena) = layout.place(&sizes);
        let (i, o) = (self.input(off[0]), self.output(off[1]));
        write(&mut arena, i, input);
        let mut blob = Blob::new();
        let layer = Layer::Conv(self.conv(&mut blob, i, o));
        run_single(&blob.0, layer, i, o, &arena, &[byte_range(o)])
    }
}

/// The contract, NCHW-style: pad a planar copy of the input explicitly, then
/// for each output channel accumulate whole output planes tap by tap in i64.
pub fn naive_conv(p: &ConvParams, input: &[i8], tally: &Tally) -> Vec<i8> {
    let s = p.g;
    assert_eq!(input.len(), s.h * s.w * s.cin);
    let (ph, pw) = (s.h + 2 * s.pad, s.w + 2 * s.pad);
    let plane_len = ph * pw;
    let mut planes = vec![0i64; s.cin * plane_len];
    for c in 0..s.cin {
        let border = match &p.pad_values {
            Some(v) => i64::from(v[c]),
            None => i64::from(p.in_zp),
        };
        planes[c * plane_len..(c + 1) * plane_len].fill(border);
    }
    for (i, &v) in input.iter().enumerate() {
        let (pixel, c) = (i / s.cin, i % s.cin);
        let (y, x) = (pixel / s.w, pixel % s.w);
        planes[c * plane_len + (y + s.pad) * pw + x + s.pad] = i64::from(v);
    }
    let (oh, ow) = s.out_hw();
    let (cin_g, cout_g) = (s.cin / s.groups, s.cout / s.groups);
    let w_index = |o: usize, ky: usize, kx: usize, ci: usize| {
        o * s.k * s.k * cin_g + ky * s.k * cin_g + kx * cin_g + ci
    };
    let mut out = vec![0i8; oh * ow * s.cout];
    for o in 0..s.cout {
        let group = o / cout_g;
        let mut acc = vec![i64::from(p.bias[o]); oh * ow];
        for ci in 0..cin_g {
            let plane = &planes[(group * cin_g + ci) * plane_len..][..plane_len];
            for ky in 0..s.k {
                for kx in 0..s.k {
                    let wt = i64::from(p.weights[w_index(o, ky, kx, ci)]);
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let v = plane[(oy * s.stride + ky) * pw + ox * s.stride + kx];
                            acc[oy * ow + ox] += wt * (v - i64::from(p.in_zp));
                        }
                    }
                }
            }
        }
        for (pos, &a) in acc.iter().enumerate() {
            let y = rq_i8(acc32(a), p.mult[o], p.shift[o], p.out_zp, tally);
            out[pos * s.cout + o] = match &p.lut {
                Some(t) => look(t, y),
                None => y,
            };
        }
    }
    out
}

/// The conv configurations of FastViT-T8, plus a generic one.
#[derive(Clone, Copy, Debug)]
pub enum ConvKind {
    /// Dense 3x3 stride 2 with 3 input channels.
    Stem,
    /// Depthwise (groups = cin = cout).
    Depthwise { k: usize, stride: usize },
    /// groups = cin, cout = 2 * cin.
    Multiplier2 { k: usize, stride: usize },
    /// Dense 1x1.
    Pointwise,
    /// Any groups, kernel 1/3/5/7, stride 1..=3, pad 0..=k/2.
    Generic,
}

pub const KINDS: [ConvKind; 8] = [
    ConvKind::Stem,
    ConvKind::Depthwise { k: 3, stride: 1 },
    ConvKind::Depthwise { k: 3, stride: 2 },
    ConvKind::Depthwise { k: 7, stride: 1 },
    ConvKind::Multiplier2 { k: 7, stride: 2 },
    ConvKind::Multiplier2 { k: 3, stride: 1 },
    ConvKind::Pointwise,
    ConvKind::Generic,
];

impl ConvKind {
    /// The shape for channel count `c` (meaning depends on the kind) and spatial size.
    pub fn shape(self, h: usize, w: usize, cin: usize, cout: usize) -> Geometry {
        let (groups, cout, k, stride) = match self {
            ConvKind::Stem => (1, cout, 3, 2),
            ConvKind::Depthwise { k, stride } => (cin, cin, k, stride),
            ConvKind::Multiplier2 { k, stride } => (cin, 2 * cin, k, stride),
            ConvKind::Pointwise => (1, cout, 1, 1),
            ConvKind::Generic => unreachable!("generic shapes come from the strategy"),
        };
        let cin = if matches!(self, ConvKind::Stem) {
            3
        } else {
            cin
        };
        Geometry {
            h,
            w,
            cin,
            cout,
            groups,
            k,
            stride,
            pad: k / 2,
        }
    }
}

pub fn conv_shape(kind: ConvKind) -> BoxedStrategy<Geometry> {
    match kind {
        ConvKind::Generic => (1usize..=4, 1usize..=6, 1usize..=6, odd_kernel(), 1usize..=3)
            .prop_flat_map(|(groups, cin_g, cout_g, k, stride)| {
                (0..=k / 2).prop_flat_map(move |pad| {
                    let min = k.saturating_sub(2 * pad).max(1);
                    (min..=12, min..=12).prop_map(move |(h, w)| Geometry {
                        h,
                        w,
                        cin: groups * cin_g,
                        cout: groups * cout_g,
                        groups,
                        k,
                        stride,
                        pad,
                    })
                })
            })
            .boxed(),
        ConvKind::Multiplier2 { .. } => (1usize..=12, 1usize..=12, 1usize..=12)
            .prop_map(move |(h, w, c)| kind.shape(h, w, c, 0))
            .boxed(),
        _ => (1usize..=12, 1usize..=12, 1usize..=24, 1usize..=24)
            .prop_map(move |(h, w, cin, cout)| kind.shape(h, w, cin, cout))
            .boxed(),
    }
}

#[derive(Clone, Copy, Debug)]
pub enum PadValues {
    Never,
    Always,
    Sometimes,
}

#[derive(Clone, Debug)]
pub struct ConvCase {
    pub p: ConvParams,
    pub input: Vec<i8>,
    pub layout: Layout,
}

pub fn conv_case(kind: ConvKind, pad_values: PadValues) -> impl Strategy<Value = ConvCase> {
    let with_pad_values = match pad_values {
        PadValues::Never => Just(false).boxed(),
        PadValues::Always => Just(true).boxed(),
        PadValues::Sometimes => any::<bool>().boxed(),
    };
    (conv_shape(kind), with_pad_values).prop_flat_map(|(s, with_pv)| {
        let pad_values = if with_pv {
            i8s(s.cin).prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        };
        let p = conv_params(s, pad_values, proptest::option::of(table()));
        (p, i8s(s.h * s.w * s.cin), layout(2)).prop_map(|(p, input, layout)| ConvCase {
            p,
            input,
            layout,
        })
    })
}

/// Random parameters of a conv of geometry `g` (zero points, weights, bias
/// and requantization from the suite's distributions), its padding values
/// and table drawn from `pad_values` and `lut`.
pub fn conv_params(
    g: Geometry,
    pad_values: impl Strategy<Value = Option<Vec<i8>>>,
    lut: impl Strategy<Value = Option<Vec<i8>>>,
) -> impl Strategy<Value = ConvParams> {
    (
        (zp(), zp(), i8s(g.weight_len())),
        (
            vec(bias(), g.cout),
            vec(stored_multiplier(), g.cout),
            vec(shift(), g.cout),
        ),
        (pad_values, lut),
    )
        .prop_map(
            move |((in_zp, out_zp, weights), requant, (pad_values, lut))| ConvParams {
                pad_values,
                lut,
                ..ConvParams::new(g, (in_zp, out_zp), weights, requant)
            },
        )
}

pub fn conv_property(kind: ConvKind, pad_values: PadValues, cases: u32) {
    let name = format!("conv {kind:?} pad_values {pad_values:?}");
    let tally = Tally::default();
    check(cases, conv_case(kind, pad_values), |case| {
        let expected = naive_conv(&case.p, &case.input, &tally);
        let got = case
            .p
            .run(&case.input, &case.layout)
            .map_err(|e| TestCaseError::fail(format!("{name}: {e:?}")))?;
        let (oh, ow) = case.p.g.out_hw();
        prop_same(&name, (oh, ow, case.p.g.cout), &expected, &got)
    });
    tally.assert_mixed(&name, 20);
}

/// One property test per conv family: `name: kind, pad values, cases;`.
macro_rules! conv_properties {
    ($($name:ident: $kind:expr, $pad_values:ident, $cases:literal;)*) => {
        $(
            #[test]
            fn $name() {
                conv_property($kind, PadValues::$pad_values, $cases);
            }
        )*
    };
}

conv_properties! {
    conv_stem_with_pad_values: ConvKind::Stem, Always, 96;
    conv_stem_zero_padding: ConvKind::Stem, Never, 96;
    conv_depthwise_3x3_stride_1: ConvKind::Depthwise { k: 3, stride: 1 }, Sometimes, 96;
    conv_depthwise_3x3_stride_2: ConvKind::Depthwise { k: 3, stride: 2 }, Sometimes, 96;
    conv_depthwise_7x7_stride_1: ConvKind::Depthwise { k: 7, stride: 1 }, Sometimes, 96;
    conv_grouped_7x7_stride_2_multiplier_2: ConvKind::Multiplier2 { k: 7, stride: 2 }, Sometimes, 96;
    conv_grouped_3x3_stride_1_multiplier_2: ConvKind::Multiplier2 { k: 3, stride: 1 }, Sometimes, 96;
    conv_pointwise_dense: ConvKind::Pointwise, Sometimes, 96;
    conv_generic_groups_kernels_strides_pads: ConvKind::Generic, Sometimes, 128;
}

/// Checks the naive model itself (and the kernel) on a hand-computed case:
/// depthwise 3x3/s1/p1, all-ones weights, unit scale, every input `in_zp + 1`,
/// so each output counts its taps inside the image, plus `pv - in_zp` per
/// padded tap when `pad_values` are present.
#[test]
fn conv_hand_computed_borders() {
    let (h, w, c) = (3, 4, 2);
    let in_zp = -7;
    let out_zp = 3;
    let s = Geometry {
        h,
        w,
        cin: c,
        cout: c,
        groups: c,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let inside = |y: usize, x: usize| {
        let rows = 3 - usize::from(y == 0) - usize::from(y == h - 1);
        let cols = 3 - usize::from(x == 0) - usize::from(x == w - 1);
        (rows * cols) as i32
    };
    for pad_values in [None, Some(vec![(in_zp + 2) as i8, (in_zp - 1) as i8])] {
        let p = ConvParams {
            pad_values: pad_values.clone(),
            // 2^30 * 2^(1 - 31) = 1.0
            ..ConvParams::new(
                s,
                (in_zp, out_zp),
                vec![1; 9 * c],
                (vec![0; c], vec![1 << 30; c], vec![1; c]),
            )
        };
        let input = vec![(in_zp + 1) as i8; h * w * c];
        let mut expected = Vec::new();
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let n = inside(y, x);
                    let pad_each = pad_values.as_ref().map_or(0, |v| i32::from(v[ch]) - in_zp);
                    expected.push((n + (9 - n) * pad_each + out_zp) as i8);
                }
            }
        }
        let name = format!("hand-computed borders, pad_values {pad_values:?}");
        assert_same(&name, &expected, &naive_conv(&p, &input, &Tally::default()));
        let got = p.run(&input, &Layout::fixed(2, 1)).unwrap();
        assert_same(&name, &expected, &got);
    }
}

/// Runs one seeded conv case, with and without pad values and a LUT.
pub fn conv_seeded(name: &str, s: Geometry, seed: u64, tweak: impl Fn(&mut ConvParams)) {
    let mut g = Gen::new(seed);
    let mut p = ConvParams::seeded(s, &mut g);
    let input = g.i8s(s.h * s.w * s.cin);
    let pad_values = g.i8s(s.cin);
    let lut = g.i8s(256);
    tweak(&mut p);
    for (with_pv, with_lut) in [(false, false), (true, false), (false, true), (true, true)] {
        let mut p = p.clone();
        p.pad_values = with_pv.then(|| pad_values.clone());
        p.lut = with_lut.then(|| lut.clone());
        let expected = naive_conv(&p, &input, &Tally::default());
        let got = p.run(&input, &Layout::fixed(2, seed)).unwrap();
        assert_same(
            &format!("{name} {s:?} pad_values {with_pv} lut {with_lut}"),
            &expected,
            &got,
        );
    }
}

#[test]
fn conv_1x1_spatial_input() {
    for (i, kind) in KINDS.iter().enumerate() {
        if let ConvKind::Generic = kind {
            continue;
        }
        for c in [1, 4, 5] {
            conv_seeded("1x1 input", kind.shape(1, 1, c, c + 2), i as u64, |_| {});
        }
    }
    // Kernels larger than the image with and without stride.
    for (k, stride) in [(7, 1), (7, 2), (7, 3), (5, 2), (3, 3)] {
        let s = Geometry {
            h: 1,
            w: 1,
            cin: 3,
            cout: 6,
            groups: 3,
            k,
            stride,
            pad: k / 2,
        };
        conv_seeded("1x1 input", s, k as u64, |_| {});
    }
}

#[test]
fn conv_odd_channel_counts() {
    for (i, kind) in KINDS.iter().enumerate() {
        if let ConvKind::Generic = kind {
            continue;
        }
        for (cin, cout) in [(1, 1), (3, 7), (5, 13), (7, 3), (13, 23), (23, 1)] {
            conv_seeded(
                "odd channels",
                kind.shape(5, 6, cin, cout),
                (i * 31 + cin) as u64,
                |_| {},
            );
        }
    }
    for (groups, cin_g, cout_g) in [(3, 3, 5), (5, 1, 3), (7, 3, 1)] {
        let s = Geometry {
            h: 7,
            w: 5,
            cin: groups * cin_g,
            cout: groups * cout_g,
            groups,
            k: 3,
            stride: 2,
            pad: 1,
        };
        conv_seeded("odd groups", s, groups as u64, |_| {});
    }
}

#[test]
fn conv_padding_borders_without_same_padding() {
    // pad < k/2 (valid-ish) and outputs that do not reach the last row/column.
    for (h, w, k, stride, pad) in [
        (7, 9, 3, 1, 0),
        (8, 8, 3, 2, 0),
        (9, 7, 7, 2, 2),
        (4, 6, 5, 3, 1),
    ] {
        let s = Geometry {
            h,
            w,
            cin: 4,
            cout: 8,
            groups: 2,
            k,
            stride,
            pad,
        };
        conv_seeded("partial padding", s, (h * w) as u64, |_| {});
    }
}

#[test]
fn conv_extreme_zero_points() {
    for in_zp in [-128, 127] {
        for out_zp in [-128, 127] {
            for (i, kind) in KINDS.iter().enumerate() {
                if let ConvKind::Generic = kind {
                    continue;
                }
                conv_seeded(
                    "extreme zero points",
                    kind.shape(4, 5, 3, 5),
                    i as u64,
                    |p| {
                        p.in_zp = in_zp;
                        p.out_zp = out_zp;
                    },
                );
            }
        }
    }
}

#[test]
fn conv_all_saturating_outputs() {
    // Hand-computed: weights 0, bias +-2^20, the largest scale: every output
    // saturates (past i32 inside requantize, then past int8).
    let s = ConvKind::Depthwise { k: 3, stride: 2 }.shape(5, 5, 6, 6);
    let bias = (0..6)
        .map(|c| if c % 2 == 0 { 1 << 20 } else { -(1 << 20) })
        .collect();
    let p = ConvParams::new(
        s,
        (0, 0),
        vec![0; s.weight_len()],
        (bias, vec![MAX_MULT; 6], vec![30; 6]),
    );
    let input = Gen::new(3).i8s(s.h * s.w * s.cin);
    let (oh, ow) = s.out_hw();
    let expected: Vec<i8> = (0..oh * ow * 6)
        .map(|i| if i % 2 == 0 { 127 } else { -128 })
        .collect();
    assert_same(
        "saturating (naive)",
        &expected,
        &naive_conv(&p, &input, &Tally::default()),
    );
    assert_same(
        "saturating",
        &expected,
        &p.run(&input, &Layout::fixed(2, 3)).unwrap(),
    );

    // Random data at the largest and the smallest scales.
    for (i, kind) in KINDS.iter().enumerate() {
        if let ConvKind::Generic = kind {
            continue;
        }
        for shift in [30, 20] {
            conv_seeded("saturating", kind.shape(6, 5, 4, 6), i as u64, |p| {
                p.shift.fill(shift);
                p.bias.iter_mut().for_each(|b| *b |= 1);
            });
        }
    }
}

#[test]
fn conv_requant_extremes() {
    let s = ConvKind::Pointwise.shape(3, 3, 8, 8);
    // Shifts at both ends of the contract (t = 62 and t = 1) and a zero scale.
    conv_seeded("extreme shifts", s, 9, |p| {
        p.shift = vec![-31, 30, -31, 30, -20, 10, 0, -31];
        p.mult = vec![
            1 << 30,
            MAX_MULT,
            MAX_MULT,
            1 << 30,
            MAX_MULT,
            1 << 30,
            0,
            0,
        ];
    });
    // Zero multiplier: output is the zero point everywhere.
    let mut g = Gen::new(4);
    let mut p = ConvParams::seeded(s, &mut g);
    p.mult.fill(0);
    let input = g.i8s(s.h * s.w * s.cin);
    let got = p.run(&input, &Layout::fixed(2, 4)).unwrap();
    assert_same("zero scale", &vec![p.out_zp as i8; got.len()], &got);
}
