//! Bit-exactness of `kernels::squeeze_excite` (the fast squeeze-excite,
//! fully connected and global pool) against their reference twins in
//! `ops`, called directly on random operands: int8 and int16 inputs and
//! outputs, zero points inside and outside the fast paths' int8/int16
//! bounds (those fall back), biases that push the sum beyond i32, every
//! shift (scale shifts with `t < 33` fall back), ReLU, pools over more than
//! 256 pixels (the i16 partial sums), with and without an
//! activation table. (Through `Model` the same kernels are checked against
//! naive models in tests/kernels/.)
//!
//! `PROPTEST_CASES` overrides the case counts.

use proptest::collection::vec;
use proptest::prelude::*;
use runtime::kernels::squeeze_excite as fast;
use runtime::ops::fully_connected::{fully_connected_reference, FcArgs};
use runtime::ops::global_avg_pool::global_avg_pool_reference;
use runtime::ops::squeeze_excite::{squeeze_excite_reference, SeArgs};
use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
use runtime::{Elem, GlobalAvgPool, Requant, Span, SqueezeExcite, TensorRef};
use testkit::{check, prop_same};

/// Stored operands of one requantization per channel.
#[derive(Clone, Debug)]
struct Rq {
    mult: Vec<u8>,
    shift: Vec<i8>,
}

impl Rq {
    fn view(&self) -> RequantView<'_> {
        RequantView {
            multiplier: Multipliers(&self.mult),
            shift: Shifts(&self.shift),
        }
    }
}

/// A fully connected layer's operands over stored weights `w`, bias bytes
/// `b` and `rq`, with its zero points and ReLU flag.
fn fc<'a>(
    w: &'a [i8],
    b: &'a [u8],
    rq: &'a Rq,
    (in_zp, out_zp, relu): (i32, i32, bool),
) -> FcArgs<'a> {
    FcArgs {
        in_zp,
        weights: w,
        bias: I32s(b),
        requant: rq.view(),
        out_zp,
        relu,
    }
}

fn rq(n: usize, shifts: std::ops::RangeInclusive<i8>) -> impl Strategy<Value = Rq> {
    (vec(any::<i16>(), n), vec(shifts, n)).prop_map(|(m, shift)| Rq {
        mult: m.iter().flat_map(|v| v.to_le_bytes()).collect(),
        shift,
    })
}

fn bias(n: usize) -> impl Strategy<Value = Vec<u8>> {
    let b = prop_oneof![-100_000i32..100_000, any::<i32>()];
    vec(b, n).prop_map(|v| v.iter().flat_map(|b| b.to_le_bytes()).collect())
}

fn elem() -> impl Strategy<Value = Elem> {
    prop_oneof![Just(Elem::I8), Just(Elem::I16)]
}

/// Zero points: mostly int8, some int16 and beyond.
fn zp() -> impl Strategy<Value = i32> {
    prop_oneof![4 => -128i32..=127, 1 => -32768i32..=32767, 1 => -70_000i32..70_000]
}

#[test]
fn fully_connected_matches_reference() {
    // Multiples of 16 (up to 2048: the NEON rows' i16 weight sums widen
    // every 1024 inputs) take the vector rows.
    let cins = prop_oneof![1usize..=600, (1usize..=128).prop_map(|k| 16 * k)];
    let case = (cins, 1usize..=24, elem(), elem()).prop_flat_map(|(cin, cout, ie, oe)| {
        (
            vec(any::<i8>(), cin * ie.bytes()),
            vec(any::<i8>(), cin * cout),
            bias(cout),
            rq(cout, -31..=30),
            (zp(), zp(), any::<bool>()),
            Just((cout, ie, oe)),
        )
    });
    check(
        256,
        case,
        |(x, w, b, r, (in_zp, out_zp, relu), (cout, ie, oe))| {
            let mut want = vec![0i8; cout * oe.bytes()];
            let mut got = vec![0x55i8; cout * oe.bytes()];
            let fc = fc(&w, &b, &r, (in_zp, out_zp, relu));
            fully_connected_reference((&x, ie), &fc, (&mut want, oe));
            fast::fully_connected((&x, ie), &fc, (&mut got, oe));
            prop_same("fully connected", &want, &got)
        },
    );
}

#[test]
fn global_pool_matches_reference() {
    let case = (
        prop_oneof![1usize..=40, 200usize..=600],
        1usize..=150,
        elem(),
        elem(),
    )
        .prop_flat_map(|(px, c, ie, oe)| {
            (
                vec(any::<i8>(), px * c * ie.bytes()),
                rq(c, -31..=30),
                (zp(), zp()),
                Just((px, c, ie, oe)),
            )
        });
    check(256, case, |(x, r, (in_zp, out_zp), (px, c, ie, oe))| {
        let p = GlobalAvgPool {
            input: TensorRef {
                offset: 0,
                h: px as u16,
                w: 1,
                c: c as u16,
                elem: ie,
            },
            in_zp,
            output: TensorRef {
                offset: 0,
                h: 1,
                w: 1,
                c: c as u16,
                elem: oe,
            },
            out_zp,
            requant: Requant::default(),
        };
        let mut want = vec![0i8; c * oe.bytes()];
        let mut got = vec![0x55i8; c * oe.bytes()];
        global_avg_pool_reference(&p, r.view(), &x, &mut want);
        fast::global_avg_pool(&p, r.view(), &x, &mut got);
        prop_same("global pool", &want, &got)
    });
}

#[derive(Clone, Debug)]
struct Se {
    x: Vec<i8>,
    pool: Rq,
    scale: Rq,
    w1: Vec<i8>,
    b1: Vec<u8>,
    rq1: Rq,
    w2: Vec<i8>,
    b2: Vec<u8>,
    rq2: Rq,
    sigmoid: Vec<i8>,
    lut: Vec<i8>,
}

#[test]
fn squeeze_excite_matches_reference() {
    // Multiples of 16 channels take the NEON scale; shifts down to -31
    // (t = 62) its clamped rounding shifts.
    let cs = prop_oneof![1usize..=150, (1usize..=10).prop_map(|k| 16 * k)];
    let case = (1usize..=40, cs, 1usize..=12).prop_flat_map(|(px, c, r)| {
        let scale_shifts = prop_oneof![
            3 => Just(-14i8..=-2),
            1 => Just(-31i8..=-2),
            1 => Just(-31i8..=30)
        ];
        let tables = (
            vec(any::<i8>(), 256),
            prop_oneof![Just(vec![]), vec(any::<i8>(), 256)],
        );
        (
            (
                vec(any::<i8>(), px * c),
                rq(c, -8..=-2),
                scale_shifts.prop_flat_map(move |s| rq(c, s)),
            ),
            (vec(any::<i8>(), c * r), bias(r), rq(r, -12..=-4)),
            (vec(any::<i8>(), c * r), bias(c), rq(c, -12..=-4)),
            tables,
            (zp(), zp(), -128i32..=127, -128i32..=127, -128i32..=127),
            Just((px, c, r)),
        )
    });
    check(256, case, |(a, f1, f2, t, zps, (px, c, r))| {
        let ((x, pool, scale), (w1, b1, rq1), (w2, b2, rq2), (sigmoid, lut)) = (a, f1, f2, t);
        let s = Se {
            x,
            pool,
            scale,
            w1,
            b1,
            rq1,
            w2,
            b2,
            rq2,
            sigmoid,
            lut,
        };
        let (in_zp, out_zp, pool_zp, hid_zp, gate_zp) = zps;
        let t = TensorRef {
            offset: 0,
            h: px as u16,
            w: 1,
            c: c as u16,
            elem: Elem::I8,
        };
        let p = SqueezeExcite {
            input: t,
            in_zp,
            output: t,
            out_zp,
            reduced: r as u16,
            pool_requant: Requant::default(),
            pool_zp,
            fc1_weights: Span::default(),
            fc1_bias: Span::default(),
            fc1_requant: Requant::default(),
            hid_zp,
            fc2_weights: Span::default(),
            fc2_bias: Span::default(),
            fc2_requant: Requant::default(),
            gate_zp,
            sigmoid: Span::default(),
            scale_requant: Requant::default(),
            lut: Span::default(),
            scratch: 0,
        };
        let args = SeArgs {
            pool_requant: s.pool.view(),
            scale_requant: s.scale.view(),
            fc1: fc(&s.w1, &s.b1, &s.rq1, (pool_zp, hid_zp, true)),
            fc2: fc(&s.w2, &s.b2, &s.rq2, (hid_zp, gate_zp, false)),
            sigmoid: &s.sigmoid,
            lut: &s.lut,
        };
        let scratch = SqueezeExcite::scratch_bytes(c, r);
        let (mut want, mut got) = (vec![0i8; px * c], vec![0x55i8; px * c]);
        squeeze_excite_reference(&p, &args, &s.x, &mut vec![0; scratch], &mut want);
        fast::squeeze_excite(&p, &args, &s.x, &mut vec![0; scratch], &mut got);
        prop_same("squeeze-excite", &want, &got)
    });
}
