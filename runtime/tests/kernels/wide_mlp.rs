//! The fused ConvMlp whose internals are int16 (`dw` and `fc2` outputs
//! stored with 16 bits: `codegen --int16 stages.N.mlp`), which the executor
//! runs on `kernels::wide_mlp` where it fits: against the same block run
//! as its four layers apart (reference convs and add, each proven against
//! the exact model in `wide_conv.rs`), on random shapes, zero points,
//! multipliers and extreme inputs, and with `fc1` sums up to the i32 bound
//! (taken fast) and just past it (the i64 reference); and the DSP tier's
//! int16 tile inputs.

use proptest::prelude::*;
use runtime::kernels::wide_mlp::sums_fit;
use runtime::operands::I32s;
use runtime::{Add, Conv, ConvMlp, Elem, Layer, TensorRef};

use crate::conv_params::{ConvParams, Geometry};
use crate::harness::*;
use crate::wide_conv::{encode, run, with};

/// One block: the stream `x` (int16 or int8), `dw`, `fc1` (table), `fc2`.
#[derive(Clone, Debug)]
struct Case {
    h: usize,
    w: usize,
    c: usize,
    hidden: usize,
    k: usize,
    wide_x: bool,
    identity: bool,
    extremes: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..=5, 1usize..=6),
        prop_oneof![2 => 1usize..=6, 1 => 15usize..=34],
        1usize..=21,
        prop_oneof![Just(1usize), Just(3), Just(5), Just(7)],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(
            |((h, w), c, hidden, k, wide_x, identity, extremes, seed)| Case {
                h,
                w,
                c,
                hidden,
                k,
                wide_x,
                identity,
                extremes,
                seed,
            },
        )
}

/// The block's parts, ready to run.
struct Block {
    dw: ConvParams,
    fc1: ConvParams,
    fc2: ConvParams,
    dw_identity: Vec<i32>,
    x: Vec<i32>,
    add: [i32; 6],
}

impl Block {
    fn seeded(s: &Case) -> Self {
        let mut g = Gen::new(s.seed);
        let (h, w, c, hid) = (s.h, s.w, s.c, s.hidden);
        let geo = |cin, cout, groups, k| {
            Geometry::drawn((h, w), (cin, cout, groups), (k, 1, k / 2)).unwrap()
        };
        let mut dw = ConvParams::seeded(geo(c, c, c, s.k), &mut g);
        let mut fc1 = ConvParams::seeded(geo(c, hid, 1, 1), &mut g);
        let mut fc2 = ConvParams::seeded(geo(hid, c, 1, 1), &mut g);
        if s.wide_x {
            dw.in_zp = 0;
        }
        dw.out_zp = 0;
        fc1.in_zp = 0;
        fc1.lut = Some(g.i8s(256));
        fc2.out_zp = 0;
        // Int16 outputs keep more of the sum: smaller shifts.
        for sh in dw.shift.iter_mut().chain(fc2.shift.iter_mut()) {
            *sh = g.range_i32(-16, -4);
        }
        for sh in fc1.shift.iter_mut() {
            *sh = g.range_i32(-24, -12);
        }
        let lim = if s.wide_x { 32767 } else { 127 };
        let mut x: Vec<i32> = (0..h * w * c).map(|_| g.range_i32(-lim - 1, lim)).collect();
        if s.extremes {
            // Every input, `dw` output and `fc1` weight at an extreme.
            x.iter_mut().for_each(|v| {
                *v = if g.range_i32(0, 1) == 0 {
                    -lim - 1
                } else {
                    lim
                }
            });
            for p in [&mut dw, &mut fc1] {
                p.weights
                    .iter_mut()
                    .for_each(|v| *v = if *v < 0 { -128 } else { 127 });
            }
            dw.shift.iter_mut().for_each(|sh| *sh = -1);
        }
        let dw_identity = if s.identity {
            (0..c)
                .map(|_| g.range_i32(-Conv::MAX_IDENTITY, Conv::MAX_IDENTITY))
                .collect()
        } else {
            vec![]
        };
        let add = [
            g.range_i32(1 << 30, i32::MAX),
            g.range_i32(1 << 30, i32::MAX),
            g.range_i32(1 << 30, i32::MAX),
            g.range_i32(-128, 127),
            g.range_i32(-1, 1),
            0,
        ];
        Block {
            dw,
            fc1,
            fc2,
            dw_identity,
            x,
            add,
        }
    }

    fn add(&self, a: TensorRef, b: TensorRef, output: TensorRef, wide_x: bool) -> Add {
        let [am, bm, om, a_zp, out_shift, _] = self.add;
        Add {
            a,
            a_zp: if wide_x { 0 } else { a_zp },
            a_mult: am,
            a_shift: -1,
            b,
            b_zp: 0,
            b_mult: bm,
            b_shift: 0,
            output,
            out_zp: 0,
            out_mult: om,
            out_shift,
            left_shift: 15,
        }
    }

    /// The fused block and the same four layers apart, run on one arena:
    /// (fused, apart) outputs.
    fn run(&self, s: &Case) -> (Vec<i32>, Vec<i32>) {
        let (h, w, c, hid) = (s.h, s.w, s.c, s.hidden);
        let xe = if s.wide_x { Elem::I16 } else { Elem::I8 };
        let n = h * w * c;
        let scratch = ConvMlp::scratch_bytes_wide(s.k, w, c, hid, xe.bytes(), 2);
        let (off, mut arena) = Layout::fixed(5, s.seed ^ 7).place(&[
            n * xe.bytes(),
            2 * n,
            h * w * hid,
            2 * n,
            scratch,
        ]);
        let xt = with(tensor(off[0], h, w, c), xe);
        arena[xt.offset as usize..xt.end()].copy_from_slice(&encode(&self.x, xe));
        let d = with(tensor(off[1], h, w, c), Elem::I16);
        let hidden = tensor(off[2], h, w, hid);
        let f = with(tensor(off[3], h, w, c), Elem::I16);
        let mut blob = Blob::new();
        let identity = if self.dw_identity.is_empty() {
            runtime::Span::NONE
        } else {
            blob.i32s(&self.dw_identity)
        };
        let (cd, c1, c2) = (
            Conv {
                identity,
                ..self.dw.conv(&mut blob, xt, d)
            },
            self.fc1.conv(&mut blob, d, hidden),
            self.fc2.conv(&mut blob, hidden, f),
        );
        let add = self.add(xt, f, xt, s.wide_x);
        let apart = [
            Layer::Conv(cd),
            Layer::Conv(c1),
            Layer::Conv(c2),
            Layer::Add(add),
        ];
        let expected = run(&blob.0, &apart, xt, xt, &arena).unwrap();
        let fused = Layer::ConvMlp(ConvMlp {
            dw: cd,
            fc1: c1,
            fc2: c2,
            add,
            scratch: off[4] as u32,
        });
        assert_eq!(fused.scratch_bytes(), scratch);
        let got = run(&blob.0, &[fused], xt, xt, &arena).unwrap();
        (got, expected)
    }
}

#[test]
fn int16_internals_equal_the_layers_run_apart() {
    check(256, case(), |s| {
        let (got, expected) = Block::seeded(&s).run(&s);
        testkit::prop_same("ConvMlp, int16 internals", &expected, &got)
    });
}

/// Shapes the NEON tier's vector steps take (`neon::mlp16`: channel
/// counts multiples of 16, groups of four pixels and a shorter last one),
/// on every tier: the same block run apart.
fn vector_case() -> impl Strategy<Value = Case> {
    (
        (1usize..=3, prop_oneof![Just(4usize), Just(5), Just(8)]),
        prop_oneof![Just(16usize), Just(32), Just(48)],
        prop_oneof![Just(16usize), Just(48)],
        prop_oneof![Just(3usize), Just(7)],
        (any::<bool>(), any::<bool>(), any::<u64>()),
    )
        .prop_map(|((h, w), c, hidden, k, (identity, extremes, seed))| Case {
            h,
            w,
            c,
            hidden,
            k,
            wide_x: true,
            identity,
            extremes,
            seed,
        })
}

#[test]
fn vector_shapes_equal_the_layers_run_apart() {
    check(64, vector_case(), |s| {
        let (got, expected) = Block::seeded(&s).run(&s);
        testkit::prop_same("ConvMlp, int16 internals, vector shapes", &expected, &got)
    });
}

/// `fc1` with every input at -32768 and every weight at -128: each sum is
/// `c * 2^22` plus the bias. With the bias at `i32::MAX - c * 2^22` the sum
/// is exactly `i32::MAX` (the fast i32 form); one more and it is past i32
/// (the executor falls back to the reference's i64 sum). Both equal the
/// layers run apart.
#[test]
fn fc1_sums_at_the_i32_bound() {
    let cases = [
        (16, false),
        (16, true),
        (33, false),
        (33, true),
        (3, true),
        (32, false),
    ];
    for (c, over) in cases {
        let s = Case {
            h: 2,
            w: if c == 32 { 4 } else { 3 },
            c,
            hidden: if c == 32 { 16 } else { 5 },
            k: 3,
            wide_x: true,
            identity: false,
            extremes: false,
            seed: 11 + c as u64,
        };
        let mut b = Block::seeded(&s);
        // A `dw` that passes the input through at full scale: one tap of
        // 1 at the centre, multiplier 2^30, shift 1 (times 1).
        b.dw.weights.iter_mut().enumerate().for_each(|(i, v)| {
            *v = i8::from(i % 9 == 4);
        });
        b.dw.bias.iter_mut().for_each(|v| *v = 0);
        b.dw.mult.iter_mut().for_each(|m| *m = 1 << 30);
        b.dw.shift.iter_mut().for_each(|sh| *sh = 1);
        b.x.iter_mut().for_each(|v| *v = -32768);
        b.fc1.weights.iter_mut().for_each(|v| *v = -128);
        let top = i32::MAX - (c as i32) * (1 << 22);
        let bias = if over { top + 1 } else { top };
        b.fc1.bias.iter_mut().for_each(|v| *v = bias);
        b.fc1.shift.iter_mut().for_each(|sh| *sh = -24);
        let bytes: Vec<u8> = b.fc1.bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            sums_fit(c, s.hidden, I32s(&bytes)),
            !over,
            "c {c} over {over}"
        );
        let (got, expected) = b.run(&s);
        assert_same("fc1 at the i32 bound", &expected, &got);
    }
}

#[test]
fn the_i32_bound_takes_the_largest_bias() {
    let bias = |v: &[i32]| v.iter().flat_map(|b| b.to_le_bytes()).collect::<Vec<u8>>();
    let limit = i32::MAX as i64;
    // 511 inputs fit with a bias up to 2^22 - 1, 512 with none.
    let top = (limit - 511 * (1 << 22)) as i32;
    assert_eq!(top, (1 << 22) - 1);
    assert!(sums_fit(511, 3, I32s(&bias(&[0, top, -top]))));
    assert!(!sums_fit(511, 3, I32s(&bias(&[0, top + 1, 0]))));
    assert!(!sums_fit(511, 3, I32s(&bias(&[0, 0, -top - 1]))));
    assert!(!sums_fit(512, 1, I32s(&bias(&[0]))));
    assert!(!sums_fit(1, 1, I32s(&bias(&[i32::MIN]))));
    // FastViT-T8's widest fc1 (384 inputs) with a large bias.
    assert!(sums_fit(384, 2, I32s(&bias(&[500_000_000, -3]))));
}

/// The DSP tier's int16 tile inputs (`dsp::prepare_px4_i16`, run here on
/// the software models of its instructions; the boards run the asm):
/// `dsp::dot_px4` over them is the exact dot product of int16 inputs and
/// int8 weights, extremes included, for every `cin` multiple of 4 (other
/// `cin` are declined).
#[test]
fn dsp_int16_tile_inputs_give_the_exact_dot() {
    use runtime::kernels::dsp::{dot_px4, prepare_px4_i16};
    let mut g = Gen::new(77);
    for cin in [4usize, 8, 12, 16, 20, 44, 96, 100] {
        for round in 0..4 {
            let x: Vec<i32> = (0..4 * cin)
                .map(|_| match round {
                    0 => -32768,
                    1 => [-32768, 32767][g.range_i32(0, 1) as usize],
                    _ => g.range_i32(-32768, 32767),
                })
                .collect();
            let w: Vec<i8> = (0..cin)
                .map(|_| {
                    if round == 0 {
                        -128
                    } else {
                        g.range_i32(-128, 127) as i8
                    }
                })
                .collect();
            let bytes = encode(&x, Elem::I16);
            let mut words = vec![0u32; 2 * cin + 3];
            let px = prepare_px4_i16(&bytes, cin, &mut words).expect("cin % 4 == 0");
            let got = dot_px4(&px, &w);
            for (p, &s) in got.iter().enumerate() {
                let exact: i64 = (0..cin)
                    .map(|i| i64::from(w[i]) * i64::from(x[p * cin + i]))
                    .sum();
                assert_eq!(i64::from(s), exact, "cin {cin} round {round} pixel {p}");
            }
        }
    }
    let mut words = vec![0u32; 64];
    assert!(prepare_px4_i16(&[0; 48], 6, &mut words).is_none());
    assert!(prepare_px4_i16(&[0; 64], 8, &mut words[..15]).is_none());
}
