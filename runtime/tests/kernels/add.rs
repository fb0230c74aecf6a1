//! `Layer::Add`, with the output separate or aliasing either operand.

use proptest::prelude::*;
use runtime::{Add, Error, Layer};

use crate::harness::*;

#[derive(Clone, Copy, Debug)]
pub struct AddParams {
    pub a_zp: i32,
    pub a_mult: i32,
    pub a_shift: i32,
    pub b_zp: i32,
    pub b_mult: i32,
    pub b_shift: i32,
    pub out_zp: i32,
    pub out_mult: i32,
    pub out_shift: i32,
    pub left_shift: u8,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddMode {
    Separate,
    AliasA,
    AliasB,
}

impl AddMode {
    /// The input the output aliases.
    pub fn alias(self) -> Option<usize> {
        match self {
            AddMode::Separate => None,
            AddMode::AliasA => Some(0),
            AddMode::AliasB => Some(1),
        }
    }

    /// `a` and `b` of `shape` placed by `layout` for this mode.
    pub fn at(self, shape: (usize, usize, usize), layout: Layout) -> Elementwise {
        let alias = self.alias();
        Elementwise {
            shape,
            layout,
            alias,
        }
    }
}

#[derive(Clone, Debug)]
pub struct AddCase {
    pub a: Vec<i8>,
    pub b: Vec<i8>,
    pub p: AddParams,
    pub at: Elementwise,
}

impl AddCase {
    pub fn run(&self) -> Result<Vec<i8>, Error> {
        let p = self.p;
        self.at.run(&[&self.a, &self.b], |ab, output, _| {
            Layer::Add(Add {
                a: ab[0],
                a_zp: p.a_zp,
                a_mult: p.a_mult,
                a_shift: p.a_shift,
                b: ab[1],
                b_zp: p.b_zp,
                b_mult: p.b_mult,
                b_shift: p.b_shift,
                output,
                out_zp: p.out_zp,
                out_mult: p.out_mult,
                out_shift: p.out_shift,
                left_shift: p.left_shift,
            })
        })
    }
}

/// `a' = rq((a - a_zp) * 2^left_shift)`, likewise `b'`; the i32 sum saturates.
pub fn naive_add(p: &AddParams, a: &[i8], b: &[i8], tally: &Tally) -> Vec<i8> {
    let scale = 1i64 << p.left_shift;
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let x = rq(
                (i64::from(x) - i64::from(p.a_zp)) * scale,
                p.a_mult,
                p.a_shift,
            );
            let y = rq(
                (i64::from(y) - i64::from(p.b_zp)) * scale,
                p.b_mult,
                p.b_shift,
            );
            let sum = (x + y).clamp(i32::MIN.into(), i32::MAX.into());
            rq_i8(sum, p.out_mult, p.out_shift, p.out_zp, tally)
        })
        .collect()
}

pub fn add_params() -> impl Strategy<Value = AddParams> {
    (
        (zp(), multiplier(), shift()),
        (zp(), multiplier(), shift()),
        (zp(), multiplier(), 0u8..=20, -3i32..=2),
    )
        .prop_map(
            |((a_zp, a_mult, a_shift), (b_zp, b_mult, b_shift), (out_zp, out_mult, ls, d))| {
                AddParams {
                    a_zp,
                    a_mult,
                    a_shift,
                    b_zp,
                    b_mult,
                    b_shift,
                    out_zp,
                    out_mult,
                    // Undo the headroom and the larger input scale, give or take.
                    out_shift: d - i32::from(ls) - a_shift.max(b_shift),
                    left_shift: ls,
                }
            },
        )
}

pub fn add_case(mode: AddMode) -> impl Strategy<Value = AddCase> {
    (1usize..=12, 1usize..=12, 1usize..=24).prop_flat_map(move |(h, w, c)| {
        let n = h * w * c;
        (i8s(n), i8s(n), add_params(), layout(3)).prop_map(move |(a, b, p, layout)| AddCase {
            a,
            b,
            p,
            at: mode.at((h, w, c), layout),
        })
    })
}

pub fn add_property(mode: AddMode) {
    let name = format!("add {mode:?}");
    let tally = Tally::default();
    check(96, add_case(mode), |case| {
        let expected = naive_add(&case.p, &case.a, &case.b, &tally);
        let got = ran(case.run())?;
        prop_same(&name, case.at.shape, &expected, &got)
    });
    tally.assert_mixed(&name, 20);
}

#[test]
fn add_separate_buffers() {
    add_property(AddMode::Separate);
}

#[test]
fn add_output_aliases_a() {
    add_property(AddMode::AliasA);
}

#[test]
fn add_output_aliases_b() {
    add_property(AddMode::AliasB);
}

pub fn add_seeded(name: &str, seed: u64, p: AddParams, all: bool) {
    let mut g = Gen::new(seed);
    // Include the extreme inputs so |x - zp| reaches 255.
    let (mut a, mut b) = (g.i8s(60), g.i8s(60));
    a[..4].copy_from_slice(&[-128, 127, -128, 127]);
    b[..4].copy_from_slice(&[127, -128, -128, 127]);
    let expected = naive_add(&p, &a, &b, &Tally::default());
    if all {
        assert!(
            expected.iter().all(|&y| y == -128 || y == 127),
            "{name}: expected all-saturated outputs"
        );
    }
    for mode in [AddMode::Separate, AddMode::AliasA, AddMode::AliasB] {
        let case = AddCase {
            a: a.clone(),
            b: b.clone(),
            p,
            at: mode.at((3, 4, 5), Layout::fixed(3, seed)),
        };
        assert_same(
            &format!("{name} {mode:?} {p:?}"),
            &expected,
            &case.run().unwrap(),
        );
    }
}

pub fn add_base() -> AddParams {
    AddParams {
        a_zp: 5,
        a_mult: 1_500_000_000,
        a_shift: -1,
        b_zp: -9,
        b_mult: 1_200_000_000,
        b_shift: 0,
        out_zp: -3,
        out_mult: 1_800_000_000,
        out_shift: -20,
        left_shift: 20,
    }
}

#[test]
fn add_extreme_zero_points() {
    for a_zp in [-128, 127] {
        for b_zp in [-128, 127] {
            for out_zp in [-128, 127] {
                let p = AddParams {
                    a_zp,
                    b_zp,
                    out_zp,
                    ..add_base()
                };
                add_seeded("add extreme zero points", 7, p, false);
            }
        }
    }
}

#[test]
fn add_all_saturating_outputs() {
    // Output scale 2^30 * 2^(30-31) = 0.5 on values around 2^20: everything clamps
    // except x == zp on both sides; choose zero points no input can hit exactly.
    let p = AddParams {
        out_shift: 30,
        out_mult: 1 << 30,
        ..add_base()
    };
    let mut g = Gen::new(8);
    let a: Vec<i8> = g
        .i8s(60)
        .iter()
        .map(|&x| if x == 5 { 6 } else { x })
        .collect();
    let b = g.i8s(60);
    let expected = naive_add(&p, &a, &b, &Tally::default());
    let case = AddCase {
        a,
        b,
        p,
        at: AddMode::Separate.at((3, 4, 5), Layout::fixed(3, 8)),
    };
    assert!(expected.iter().all(|&y| y == -128 || y == 127));
    assert_same("add saturating", &expected, &case.run().unwrap());
}

#[test]
fn add_left_shift_extremes() {
    // Up to the largest headroom the executor accepts, with |x - zp| up to 255:
    // 255 << 23 still fits an i32 exactly.
    for left_shift in [0u8, 1, 20, 22, 23] {
        for (a_zp, b_zp) in [(-128, 127), (127, -128), (0, 0)] {
            let p = AddParams {
                a_zp,
                b_zp,
                left_shift,
                out_shift: -i32::from(left_shift) + 1,
                ..add_base()
            };
            add_seeded("add left shift", u64::from(left_shift), p, false);
        }
    }
    // 255 << 24 does not fit an i32: the layer is rejected, not wrapped.
    for left_shift in [24u8, 25, 31, 32, 255] {
        for mode in [AddMode::Separate, AddMode::AliasA, AddMode::AliasB] {
            let case = AddCase {
                a: vec![127; 6],
                b: vec![-128; 6],
                p: AddParams {
                    left_shift,
                    ..add_base()
                },
                at: mode.at((1, 2, 3), Layout::fixed(3, 0)),
            };
            assert_eq!(
                case.run(),
                Err(Error::InvalidLayer { layer: 0 }),
                "left shift {left_shift} {mode:?}"
            );
        }
    }
}
