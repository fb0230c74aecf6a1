//! The NEON vector steps of the int16 ConvMlp (`kernels::neon::mlp16`, run
//! under qemu-aarch64 by test.sh with and without `+dotprod`) against their
//! reference twins, bit for bit: `mlp_fc1_px4` (int16 in, int8 + table out)
//! and `mlp_fc2_px4` (int8 in, int16 out) against `conv_reference` of the
//! same 1x1 over four pixels, `add16` against `add_value` element by
//! element. Extreme int16 inputs and weights at -128, `fc1` sums at the i32
//! bound, channel counts not a multiple of 16 (declined), every shift
//! regime of the add (`SQDMULH` and the exact i64 lanes), its tails.
#![cfg(all(target_arch = "aarch64", feature = "fast-int16"))]

use runtime::kernels::neon::{add16, mlp_fc1_px4, mlp_fc2_px4};
use runtime::ops::add::add_value;
use runtime::ops::conv::{conv_reference, ConvArgs};
use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
use runtime::{Add, Conv, Elem};
use testkit::{bare_conv, bare_tensor, SplitMix64 as Gen};

/// A 1x1 conv over 1x4 pixels and its operands as owned bytes.
struct Dense {
    p: Conv,
    weights: Vec<i8>,
    bias: Vec<u8>,
    mult: Vec<u8>,
    shift: Vec<i8>,
    lut: Vec<i8>,
}

impl Dense {
    fn args<'a>(&'a self, input: &'a [i8]) -> ConvArgs<'a> {
        ConvArgs {
            input,
            weights: &self.weights,
            bias: I32s(&self.bias),
            requant: RequantView {
                multiplier: Multipliers(&self.mult),
                shift: Shifts(&self.shift),
            },
            pad_values: &[],
            lut: &self.lut,
            identity: I32s(&[]),
        }
    }

    /// The reference outputs of the four pixels `x`.
    fn reference(&self, x: &[i8]) -> Vec<i8> {
        let mut out = vec![0i8; 4 * self.p.output.c as usize * self.p.output.elem.bytes()];
        conv_reference(&self.p, &self.args(x), &mut out);
        out
    }
}

fn words(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i16_bytes(v: &[i32]) -> Vec<i8> {
    v.iter()
        .flat_map(|&x| (x as i16).to_le_bytes().map(|b| b as i8))
        .collect()
}

/// A random 1x1 `cin -> cout` of element types `ei -> eo`; `extremes`: every
/// weight at -128 or 127.
fn dense(
    g: &mut Gen,
    (cin, cout): (usize, usize),
    (ei, eo): (Elem, Elem),
    extremes: bool,
) -> Dense {
    let mut p = bare_conv(
        bare_tensor(1, 4, cin, ei),
        bare_tensor(1, 4, cout, eo),
        (1, 1, 0),
        1,
    );
    p.in_zp = if ei == Elem::I8 {
        g.range_i32(-128, 127)
    } else {
        0
    };
    p.out_zp = g.range_i32(-20, 20);
    let mut weights = g.i8s(cout * cin);
    if extremes {
        weights
            .iter_mut()
            .for_each(|v| *v = if *v < 0 { -128 } else { 127 });
    }
    let mult = (0..cout)
        .flat_map(|_| (g.range_i32(1 << 14, i16::MAX as i32) as i16).to_le_bytes())
        .collect();
    let (lo, hi) = if ei == Elem::I16 {
        (-26, -10)
    } else {
        (-18, -1)
    };
    Dense {
        p,
        weights,
        bias: words(&g.i32s(cout, -(1 << 20), 1 << 20)),
        mult,
        shift: (0..cout).map(|_| g.range_i32(lo, hi) as i8).collect(),
        lut: if eo == Elem::I8 && g.below(3) > 0 {
            g.i8s(256)
        } else {
            vec![]
        },
    }
}

fn int16_inputs(g: &mut Gen, n: usize, round: usize) -> Vec<i32> {
    (0..n)
        .map(|_| match round % 3 {
            0 => g.range_i32(-32768, 32767),
            1 => [-32768, 32767][g.below(2)],
            _ => g.range_i32(-300, 300),
        })
        .collect()
}

#[test]
fn fc1_px4_equals_the_reference_conv() {
    let mut g = Gen::new(19);
    for (cin, cout) in [
        (8, 16),
        (16, 16),
        (24, 32),
        (96, 48),
        (104, 16),
        (384, 32),
        (400, 16),
    ] {
        for round in 0..6 {
            let d = dense(&mut g, (cin, cout), (Elem::I16, Elem::I8), round % 2 == 1);
            let x = i16_bytes(&int16_inputs(&mut g, 4 * cin, round));
            let mut got = vec![0i8; 4 * cout];
            assert!(mlp_fc1_px4(&d.p, &d.args(&x), &x, &mut got), "{cin} {cout}");
            assert_eq!(got, d.reference(&x), "cin {cin} cout {cout} round {round}");
        }
    }
}

/// Every input -32768, every weight -128: sums `cin * 2^22 + bias` up to
/// exactly `i32::MAX` (what `wide_mlp::fits` admits).
#[test]
fn fc1_px4_at_the_i32_bound() {
    let mut g = Gen::new(5);
    for cin in [8usize, 96, 384] {
        let mut d = dense(&mut g, (cin, 16), (Elem::I16, Elem::I8), false);
        d.weights.iter_mut().for_each(|v| *v = -128);
        let top = i32::MAX - (cin as i32) * (1 << 22);
        d.bias = words(&[top; 16]);
        d.shift.iter_mut().for_each(|s| *s = -31);
        let x = i16_bytes(&vec![-32768; 4 * cin]);
        let mut got = vec![0i8; 4 * 16];
        assert!(mlp_fc1_px4(&d.p, &d.args(&x), &x, &mut got));
        assert_eq!(got, d.reference(&x), "cin {cin}");
    }
}

#[test]
fn fc1_px4_declines_other_shapes() {
    let mut g = Gen::new(3);
    for (cin, cout, shift) in [(12, 16, -4), (16, 20, -4), (16, 16, 0)] {
        let mut d = dense(&mut g, (cin, cout), (Elem::I16, Elem::I8), false);
        d.shift.iter_mut().for_each(|s| *s = shift);
        let x = vec![0i8; 8 * cin];
        let mut out = vec![7i8; 4 * cout];
        assert!(!mlp_fc1_px4(&d.p, &d.args(&x), &x, &mut out));
        assert!(out.iter().all(|&v| v == 7), "nothing written");
    }
}

#[test]
fn fc2_px4_equals_the_reference_conv() {
    let mut g = Gen::new(23);
    for (cin, cout) in [(16, 16), (32, 48), (288, 96), (48, 32)] {
        for round in 0..6 {
            let mut d = dense(&mut g, (cin, cout), (Elem::I8, Elem::I16), round % 2 == 1);
            if round == 2 {
                d.p.in_zp = -128;
            }
            let x = match round % 3 {
                1 => (0..4 * cin).map(|_| [-128, 127][g.below(2)]).collect(),
                _ => g.i8s(4 * cin),
            };
            let base: Vec<i32> = (0..cout)
                .map(|o| {
                    let w = &d.weights[o * cin..(o + 1) * cin];
                    let s = w.iter().fold(0i32, |s, &v| s.wrapping_add(v as i32));
                    I32s(&d.bias).get(o).wrapping_sub(d.p.in_zp.wrapping_mul(s))
                })
                .collect();
            let mut got = vec![0i8; 8 * cout];
            assert!(mlp_fc2_px4(&d.p, &d.args(&x), (&x, &base), &mut got));
            assert_eq!(got, d.reference(&x), "cin {cin} cout {cout} round {round}");
        }
    }
}

#[test]
fn fc2_px4_declines_other_shapes() {
    let mut g = Gen::new(4);
    for (cin, cout) in [(24, 16), (16, 20)] {
        let d = dense(&mut g, (cin, cout), (Elem::I8, Elem::I16), false);
        let (x, base) = (vec![0i8; 4 * cin], vec![0i32; cout]);
        let mut out = vec![7i8; 8 * cout];
        assert!(!mlp_fc2_px4(&d.p, &d.args(&x), (&x, &base), &mut out));
        assert!(out.iter().all(|&v| v == 7), "nothing written");
    }
}

#[test]
fn add16_equals_add_value() {
    let mut g = Gen::new(31);
    let t = bare_tensor(1, 1, 1, Elem::I16);
    for round in 0..200 {
        let n = [8usize, 16, 23, 64, 5][round % 5];
        let mult = |g: &mut Gen| match g.below(4) {
            0 => i32::MIN,
            1 => i32::MAX,
            _ => g.range_i32(1 << 29, i32::MAX),
        };
        let p = Add {
            a: t,
            a_zp: g.range_i32(-3, 3),
            a_mult: mult(&mut g),
            a_shift: g.range_i32(-24, 3),
            b: t,
            b_zp: g.range_i32(-3, 3),
            b_mult: mult(&mut g),
            b_shift: g.range_i32(-24, 3),
            output: t,
            out_zp: g.range_i32(-100, 100),
            out_mult: mult(&mut g),
            out_shift: g.range_i32(-24, 3),
            left_shift: g.below(16) as u8,
        };
        let (a, b) = (
            int16_inputs(&mut g, n, round),
            int16_inputs(&mut g, n, round / 3),
        );
        let mut out = vec![0i8; 2 * n];
        let done = add16(&p, &i16_bytes(&a), &i16_bytes(&b), &mut out);
        assert_eq!(done, n / 8 * 8);
        let expected: Vec<i32> = (0..done)
            .map(|i| add_value(&p, a[i], b[i]).clamp(-32768, 32767))
            .collect();
        assert_eq!(
            &out[..2 * done],
            &i16_bytes(&expected)[..],
            "round {round} {p:?}"
        );
        assert!(out[2 * done..].iter().all(|&v| v == 0), "tail left");
    }
}
