//! `Layer::ConvMlp`, in place, against `Conv, Conv, Conv, Add`.

use proptest::prelude::*;
use runtime::{Add, ConvMlp, ConvVariant, Layer, TensorRef};

use crate::harness::*;

#[derive(Clone, Debug)]
pub struct MlpCase {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub hidden: usize,
    pub k: usize,
    pub depthwise: bool,
    pub pad_values: bool,
    pub scratch_first: bool,
    pub seed: u64,
}

prop_compose! {
    /// A block on a tiny image: channel counts mostly small, sometimes
    /// around the 16-channel chunk; any odd `dw` kernel.
    pub fn mlp_case()(
        (h, w) in small_hw(),
        c in prop_oneof![3 => 1usize..=6, 1 => 15usize..=34],
        hidden in 1usize..=20,
        k in odd_kernel(),
        depthwise: bool,
        pad_values: bool,
        scratch_first: bool,
        seed: u64,
    ) -> MlpCase {
        MlpCase {
            h,
            w,
            c,
            hidden,
            k,
            depthwise,
            pad_values,
            scratch_first,
            seed,
        }
    }
}

pub struct AddParams {
    pub a_zp: i32,
    pub b_zp: i32,
    pub out_zp: i32,
    pub mults: [i32; 3],
    pub shifts: [i32; 3],
}

impl AddParams {
    pub fn seeded(r: &mut Gen) -> Self {
        AddParams {
            a_zp: r.range_i32(-128, 127),
            b_zp: r.range_i32(-128, 127),
            out_zp: r.range_i32(-128, 127),
            mults: [0; 3].map(|_| r.range(1 << 30, i32::MAX as i64) as i32),
            shifts: [
                r.range(-1, 0) as i32,
                r.range(-1, 0) as i32,
                r.range(-24, -18) as i32,
            ],
        }
    }

    pub fn layer(&self, a: TensorRef, b: TensorRef, output: TensorRef) -> Add {
        Add {
            a,
            a_zp: self.a_zp,
            a_mult: self.mults[0],
            a_shift: self.shifts[0],
            b,
            b_zp: self.b_zp,
            b_mult: self.mults[1],
            b_shift: self.shifts[1],
            output,
            out_zp: self.out_zp,
            out_mult: self.mults[2],
            out_shift: self.shifts[2],
            left_shift: 20,
        }
    }
}

/// The fused layer's parameters and a builder for both schedules.
pub struct Mlp {
    pub case: MlpCase,
    pub dw: ConvParams,
    pub fc1: ConvParams,
    pub fc2: ConvParams,
    pub add: AddParams,
}

impl Mlp {
    pub fn seeded(case: MlpCase) -> (Self, Gen) {
        let mut r = Gen::new(case.seed);
        let (h, w, c) = (case.h, case.w, case.c);
        let geo = |cin, cout, groups, k| Geometry {
            h,
            w,
            cin,
            cout,
            groups,
            k,
            stride: 1,
            pad: k / 2,
        };
        let groups = if case.depthwise { c } else { 1 };
        let mut dw = ConvParams::seeded(geo(c, c, groups, case.k), case.pad_values, false, &mut r);
        let mut fc1 = ConvParams::seeded(geo(c, case.hidden, 1, 1), false, true, &mut r);
        let mut fc2 = ConvParams::seeded(geo(case.hidden, c, 1, 1), false, false, &mut r);
        // Half the cases keep every weight off -128, as codegen does, so
        // the NEON pair-sum forms (`weights_above_min`) run.
        if case.seed % 2 == 0 {
            for p in [&mut dw, &mut fc1, &mut fc2] {
                p.weights.iter_mut().for_each(|w| *w = (*w).max(-127));
            }
        }
        let add = AddParams::seeded(&mut r);
        (
            Mlp {
                case,
                dw,
                fc1,
                fc2,
                add,
            },
            r,
        )
    }

    /// The fused layer with `x` at `x_at` and scratch at `scratch`.
    pub fn fused(&self, blob: &mut Blob, x_at: usize, scratch: usize) -> ConvMlp {
        let (h, w, c, hid) = (self.case.h, self.case.w, self.case.c, self.case.hidden);
        let x = tensor(x_at, h, w, c);
        let (d, hidden) = (tensor(0, h, w, c), tensor(0, h, w, hid));
        ConvMlp {
            dw: self.dw.conv(blob, x, d),
            fc1: self.fc1.conv(blob, d, hidden),
            fc2: self.fc2.conv(blob, hidden, d),
            add: self.add.layer(x, d, x),
            scratch: scratch as u32,
        }
    }
}

pub fn mlp_property(case: MlpCase) -> Result<(), TestCaseError> {
    let (m, mut r) = Mlp::seeded(case.clone());
    let (h, w, c, hid) = (case.h, case.w, case.c, case.hidden);
    let n = h * w * c;
    let x = r.i8s(n);

    // Reference: dw, fc1, fc2 and the add as separate layers.
    let mut blob = Blob::new();
    let t = |i: usize, ch| tensor(1 + i * (h * w * hid.max(c) + 1), h, w, ch);
    let (tx, td, th, tf, to) = (t(0, c), t(1, c), t(2, hid), t(3, c), t(4, c));
    let chain = [
        Layer::Conv(m.dw.conv(&mut blob, tx, td)),
        Layer::Conv(m.fc1.conv(&mut blob, td, th)),
        Layer::Conv(m.fc2.conv(&mut blob, th, tf)),
        Layer::Add(m.add.layer(tx, tf, to)),
    ];
    let arena = r.i8s(to.end() + 1);
    let (expected, _) = run(&blob.0, &chain, tx, to, &arena, &x).unwrap();

    // Fused, in place.
    let scratch_len = ConvMlp::scratch_bytes(case.k, w, c, hid);
    let (x_at, s_at) = if case.scratch_first {
        (scratch_len + 3, 1)
    } else {
        (1, n + 2)
    };
    let arena = r.i8s(n + scratch_len + 5);
    let tx = tensor(x_at, h, w, c);
    let mut before = arena.clone();
    before[x_at..x_at + n].copy_from_slice(&x);
    // The reference fc1/fc2, then on the fast pointwise kernel, then with dw
    // on the fast depthwise kernel too: same bits, same scratch.
    let forms = [
        ("fused ConvMlp", false, false),
        ("fused ConvMlp, pointwise fc1/fc2", true, false),
        ("fused ConvMlp, depthwise dw, pointwise fc1/fc2", true, true),
    ];
    for (name, pointwise, depthwise) in forms {
        if depthwise && !case.depthwise {
            continue;
        }
        let mut blob = Blob::new();
        let mut fused = m.fused(&mut blob, x_at, s_at);
        if depthwise {
            fused.dw = m.dw.depthwise(&mut blob, fused.dw.input, fused.dw.output);
        }
        if pointwise {
            fused.fc1.variant = ConvVariant::Pointwise {
                folded_bias: blob.i32s(&m.fc1.folded_bias()),
            };
            fused.fc2.variant = ConvVariant::Pointwise {
                folded_bias: blob.i32s(&m.fc2.folded_bias()),
            };
        }
        let layer = Layer::ConvMlp(fused);
        assert_eq!(layer.scratch_bytes(), scratch_len);
        let (got, after) = run(&blob.0, &[layer], tx, tx, &arena, &x).unwrap();
        prop_same(name, &expected, &got)?;
        let writable = [byte_range(tx), (s_at, s_at + scratch_len)];
        only_changed(&before, &after, &writable)?;
    }
    Ok(())
}

property_tests! {
    conv_mlp_matches_conv_conv_conv_add: 300 of mlp_case() => mlp_property;
}

#[test]
fn macs_of_fused_layers_add_up() {
    let case = MlpCase {
        h: 4,
        w: 5,
        c: 3,
        hidden: 9,
        k: 7,
        depthwise: true,
        pad_values: false,
        scratch_first: false,
        seed: 7,
    };
    let (m, _) = Mlp::seeded(case);
    let l = m.fused(&mut Blob::new(), 0, 0);
    assert_eq!(
        Layer::ConvMlp(l).macs(),
        20 * 3 * 49 + 20 * 9 * 3 + 20 * 3 * 9
    );
}
