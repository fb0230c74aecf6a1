//! The fused ConvMlp whose internals are int16 (`dw` and `fc2` outputs
//! stored with 16 bits: `codegen --int16 stages.N.mlp`), which the executor
//! runs on `kernels::wide_mlp` where it fits: against the same block run
//! as its four layers apart (reference convs and add, each proven against
//! the exact model in `wide_conv.rs`), on random shapes, zero points,
//! multipliers and extreme inputs, and with `fc1` sums up to the i32 bound
//! (taken fast) and just past it (the i64 reference); and the DSP tier's
//! int16 tile inputs, its channel blocks on them (`fc1`) and with int16
//! outputs (`fc2`), and its channel-vector taps of the int16 depthwise.

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

/// The DSP tier's channel blocks on the int16 ConvMlp's tiles (run here on
/// the software models of their `asm!` loops; the boards run the asm):
/// `dsp::block_px4` over int16 inputs (`prepare_px4_i16`, the `fc1`) and
/// `dsp::block_px4_i16` (int8 inputs, int16 outputs: the `fc2`) are the
/// bias plus the exact dot product, requantized (`quant::requantize`, every
/// shift in `-31..=-2`, stored multipliers including `i16::MIN`), plus the
/// zero point, clamped (and for `fc1` mapped through the table); extreme
/// inputs and weights first; partial blocks of channels; `cin` not a
/// multiple of 16 declined with nothing written.
#[test]
fn dsp_int16_tile_blocks_are_the_reference_output_steps() {
    use runtime::kernels::dsp::{block_px4, block_px4_i16, prepare_px4, prepare_px4_i16};
    use runtime::operands::widen;
    use runtime::quant::requantize;
    let mut g = Gen::new(78);
    for (case, cin) in [16usize, 32, 48, 96, 20, 16, 32, 64]
        .into_iter()
        .enumerate()
    {
        let cout = [1, 33, 70, 5, 8, 32, 64, 17][case];
        let extreme = case < 2;
        let x: Vec<i32> = (0..4 * cin)
            .map(|_| match extreme {
                true => [-32768, 32767][g.range_i32(0, 1) as usize],
                false => g.range_i32(-32768, 32767),
            })
            .collect();
        // Word-aligned weights, as the blob gives them.
        let mut store = vec![0u32; (cout * cin).div_ceil(4)];
        let w: &mut [i8] = &mut bytemuck::cast_slice_mut(&mut store)[..cout * cin];
        for v in w.iter_mut() {
            *v = match extreme {
                true => [-128, 127][g.range_i32(0, 1) as usize],
                false => g.range_i32(-128, 127) as i8,
            };
        }
        let w = &*w;
        let bias: Vec<i32> = (0..cout).map(|_| g.range_i32(-1 << 24, 1 << 24)).collect();
        let m16: Vec<i16> = (0..cout)
            .map(|o| match o % 5 {
                0 => i16::MIN,
                _ => g.range_i32(-32768, 32767) as i16,
            })
            .collect();
        let shift: Vec<i8> = (0..cout).map(|_| g.range_i32(-31, -2) as i8).collect();
        let (zp8, zp16) = (g.range_i32(-128, 127), g.range_i32(-128, 127));
        let table: [i8; 256] = core::array::from_fn(|_| g.range_i32(-128, 127) as i8);
        let b: Vec<u8> = bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let m: Vec<u8> = m16.iter().flat_map(|v| v.to_le_bytes()).collect();
        let takes = cin % 16 == 0;
        let req = |o: usize, acc: i32| requantize(acc, widen(m16[o]), shift[o].into());
        // fc1: int16 inputs, int8 outputs through the table.
        let bytes = encode(&x, Elem::I16);
        let mut words = vec![0u32; 2 * cin];
        let px = prepare_px4_i16(&bytes, cin, &mut words).expect("cin % 4 == 0");
        let mut out = vec![0x55i8; 4 * cout];
        let done = block_px4(&px, cout, w, &b, &m, &shift, zp8, Some(&table), &mut out);
        assert_eq!(done, if takes { cout } else { 0 }, "fc1 cin {cin}");
        for p in 0..4 {
            for o in 0..cout {
                let dot: i64 = (0..cin)
                    .map(|i| i64::from(w[o * cin + i]) * i64::from(x[p * cin + i]))
                    .sum();
                let y = req(o, bias[o].wrapping_add(dot as i32)).saturating_add(zp8);
                let want = table[(y.clamp(-128, 127) as u8 ^ 0x80) as usize];
                let got = out[p * cout + o];
                match takes {
                    true => assert_eq!(got, want, "fc1 cin {cin} pixel {p} channel {o}"),
                    false => assert_eq!(got, 0x55, "fc1 declined but wrote"),
                }
            }
        }
        // fc2: int8 inputs, int16 outputs.
        let x8: Vec<i8> = x.iter().map(|&v| v as i8).collect();
        let px = prepare_px4(&x8, cin, &mut words).expect("cin % 4 == 0");
        let mut out = vec![0x55i8; 8 * cout];
        let done = block_px4_i16(&px, cout, w, &b, &m, &shift, zp16, &mut out);
        assert_eq!(done, if takes { cout } else { 0 }, "fc2 cin {cin}");
        for p in 0..4 {
            for o in 0..cout {
                let dot: i32 = (0..cin)
                    .map(|i| i32::from(w[o * cin + i]) * i32::from(x8[p * cin + i]))
                    .sum();
                let want = req(o, bias[o].wrapping_add(dot)).saturating_add(zp16);
                let want = want.clamp(-32768, 32767) as i16;
                let at = 2 * (p * cout + o);
                let got = i16::from_le_bytes([out[at] as u8, out[at + 1] as u8]);
                match takes {
                    true => assert_eq!(got, want, "fc2 cin {cin} pixel {p} channel {o}"),
                    false => assert_eq!(got, 0x5555, "fc2 declined but wrote"),
                }
            }
        }
    }
}

/// The DSP tier's channel-vector taps (`dsp::wide_sums16`, here on the
/// software model of its `asm!` loop; the boards run the asm, the
/// `kernels` firmware's `wide` suite on the M4 and M33) equal the portable
/// twin `wide_block::sums16`: 1..=7 kernel rows of 1..=7 taps, rows of
/// 16..48 channels (the stride), inputs and weights at their extremes first,
/// and rows too short to take, which neither adds.
#[test]
fn dsp_wide_sums16_equal_the_portable_twin() {
    use runtime::kernels::dsp::wide_sums16;
    use runtime::kernels::wide_block::{sums16, Taps, LANES};
    let mut g = Gen::new(91);
    for case in 0..400 {
        let (rows, nk) = (
            1 + g.range_i32(0, 6) as usize,
            1 + g.range_i32(0, 6) as usize,
        );
        let cin = [16usize, 32, 48][g.range_i32(0, 2) as usize];
        let stride = 2 * cin;
        let extreme = case < 20;
        let mut data: Vec<(Vec<i8>, Vec<i16>)> = Vec::new();
        for r in 0..rows {
            // Row 3 of a case in 8 is one byte short: declined by both.
            let short = case % 8 == 7 && r == 3;
            let v: Vec<i32> = (0..(nk - 1) * cin + LANES)
                .map(|_| match extreme {
                    true => [-32768, 32767][g.range_i32(0, 1) as usize],
                    false => g.range_i32(-32768, 32767),
                })
                .collect();
            let mut xs = encode(&v, Elem::I16);
            if short {
                xs.pop();
            }
            let ws: Vec<i16> = (0..nk * LANES)
                .map(|_| match extreme {
                    true => [-128, 127][g.range_i32(0, 1) as usize],
                    false => g.range_i32(-128, 127) as i16,
                })
                .collect();
            data.push((xs, ws));
        }
        let taps = || Taps::new(data.iter().map(|(x, w)| (&x[..], &w[..])), stride, nk);
        assert_eq!(
            wide_sums16(taps()),
            sums16(taps()),
            "case {case}: {rows} rows x {nk} taps, cin {cin}"
        );
    }
}

/// The DSP tier's output step of the int16 depthwise's channel vectors
/// (`dsp::wide_finish16`, its `SMULWB` on the software model) is the
/// reference's: bias plus sums plus the identity tap on the int16 inputs,
/// `quant::requantize`, the zero point, the clamp to int8 or int16, for
/// every shift in `-31..=-2`, stored multipliers including `i16::MIN`,
/// sums and inputs at their extremes; it declines a shift outside that
/// range, a table and operands too short.
#[test]
fn dsp_wide_output_step_is_the_reference() {
    use runtime::kernels::dsp::wide_finish16;
    use runtime::ops::conv::ConvArgs;
    use runtime::ops::{widen, Multipliers, RequantView, Shifts};
    use runtime::quant::requantize;
    use testkit::{bare_conv, bare_tensor};
    let mut g = Gen::new(92);
    let le = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|v| v.to_le_bytes()).collect() };
    for case in 0..400 {
        let c = 32;
        let o0 = [0, 16][case % 2];
        let out = [Elem::I8, Elem::I16][(case / 2) % 2];
        let identity = case % 3 != 0;
        let extreme = case < 12;
        let bias: Vec<i32> = (0..c).map(|_| g.range_i32(-1 << 24, 1 << 24)).collect();
        let id: Vec<i32> = (0..c).map(|_| g.range_i32(-128, 127)).collect();
        let m16: Vec<i16> = (0..c)
            .map(|o| match o % 7 {
                0 => i16::MIN,
                _ => g.range_i32(-32768, 32767) as i16,
            })
            .collect();
        let mut shift: Vec<i8> = (0..c).map(|_| g.range_i32(-31, -2) as i8).collect();
        let bad = case % 11 == 10;
        if bad {
            shift[o0 + 5] = [-1, 0, -32][case % 3];
        }
        let sums: [i32; 16] = core::array::from_fn(|_| match extreme {
            true => [i32::MIN / 2, i32::MAX / 2][g.range_i32(0, 1) as usize],
            false => g.range_i32(-1 << 28, 1 << 28),
        });
        let xs: Vec<i32> = (0..16)
            .map(|_| match extreme {
                true => [-32768, 32767][g.range_i32(0, 1) as usize],
                false => g.range_i32(-32768, 32767),
            })
            .collect();
        let x = encode(&xs, Elem::I16);
        let (lo, hi) = out.range();
        let zp = g.range_i32(lo.max(-300), hi.min(300));
        let mut p = bare_conv(
            bare_tensor(4, 4, c, Elem::I16),
            bare_tensor(4, 4, c, out),
            (3, 1, 1),
            c as u16,
        );
        p.out_zp = zp;
        let (b, idb) = (le(&bias), le(&id));
        let m: Vec<u8> = m16.iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = ConvArgs {
            input: &[],
            weights: &[],
            bias: I32s(&b),
            requant: RequantView {
                multiplier: Multipliers(&m),
                shift: Shifts(&shift),
            },
            pad_values: &[],
            lut: &[],
            identity: I32s(if identity { &idb } else { &[] }),
        };
        let got = wide_finish16(&p, &a, (o0, sums), &x, out);
        if bad {
            assert_eq!(got, None, "case {case}: shift {}", shift[o0 + 5]);
            continue;
        }
        let want: [i32; 16] = core::array::from_fn(|j| {
            let o = o0 + j;
            let mut acc = bias[o].wrapping_add(sums[j]);
            if identity {
                acc = acc.wrapping_add(id[o] * xs[j]);
            }
            let r = requantize(acc, widen(m16[o]), shift[o].into());
            r.saturating_add(zp).clamp(lo, hi)
        });
        assert_eq!(got, Some(want), "case {case}: {out:?}, identity {identity}");
    }
    // Declined: a table, operands too short.
    let p = bare_conv(
        bare_tensor(4, 4, 32, Elem::I16),
        bare_tensor(4, 4, 32, Elem::I8),
        (3, 1, 1),
        32,
    );
    let (b, m, s) = (vec![0u8; 128], vec![0u8; 64], vec![-8i8; 32]);
    let table = [0i8; 256];
    let mut a = ConvArgs {
        input: &[],
        weights: &[],
        bias: I32s(&b),
        requant: RequantView {
            multiplier: Multipliers(&m),
            shift: Shifts(&s),
        },
        pad_values: &[],
        lut: &table,
        identity: I32s(&[]),
    };
    assert_eq!(wide_finish16(&p, &a, (0, [0; 16]), &[], Elem::I8), None);
    a.lut = &[];
    assert!(wide_finish16(&p, &a, (16, [0; 16]), &[], Elem::I8).is_some());
    assert_eq!(wide_finish16(&p, &a, (17, [0; 16]), &[], Elem::I8), None);
    a.identity = I32s(&b);
    assert_eq!(
        wide_finish16(&p, &a, (0, [0; 16]), &[0; 31], Elem::I8),
        None
    );
}

/// The DSP tier's tap-major weight copy of the int16 depthwise's blocks
/// (`dsp::wide_load16`, `SXTB16` and halfword pairing on the software
/// model) is the plain transposition: every kernel 1x1..7x7 (so `k * k %
/// 4` tails of 0..3), channel multiplier 1 or 2 and either plane, a first
/// channel past 0, weights at -128 and 127 first; it writes nothing past
/// the block's taps and declines weights that do not hold every channel.
#[test]
fn dsp_wide_load16_is_the_transposition() {
    use runtime::kernels::dsp::wide_load16;
    use runtime::kernels::wide_block::LANES;
    let mut g = Gen::new(93);
    for case in 0..84 {
        let k = 1 + case % 7;
        let kk = k * k;
        let (m, plane, c0) = (1 + (case / 7) % 2, (case / 14) % 2, 16 * ((case / 28) % 3));
        let plane = plane % m;
        let n = ((c0 + LANES) * m) * kk;
        let weights: Vec<i8> = (0..n)
            .map(|i| match case / 7 {
                0 => [-128, 127][i % 2],
                _ => g.range_i32(-128, 127) as i8,
            })
            .collect();
        let mut w = [0x5555i16; 49 * 16];
        assert!(
            wide_load16(&weights, k, (c0, m, plane), &mut w),
            "case {case}"
        );
        for t in 0..kk {
            for j in 0..LANES {
                let want = i16::from(weights[((c0 + j) * m + plane) * kk + t]);
                assert_eq!(
                    w[t * LANES + j],
                    want,
                    "case {case}: k {k} m {m} tap {t} lane {j}"
                );
            }
        }
        assert!(
            w[kk * LANES..].iter().all(|&v| v == 0x5555),
            "case {case}: wrote past the taps"
        );
        let short = ((c0 + LANES - 1) * m + plane + 1) * kk - 1;
        let declined = !wide_load16(&weights[..short], k, (c0, m, plane), &mut w);
        assert!(declined, "case {case}: short");
    }
}

/// The DSP tier's residual add on int16 (`dsp::add16`) is
/// `ops::add::add_value` clamped to int16, element by element: both
/// requantization paths (`t >= 33` and the 64-bit one) for each operand
/// and the output, multipliers at their extremes, zero points, every
/// `left_shift` it takes (0..=15), int16 inputs at their extremes first;
/// it declines a larger `left_shift` and short operands.
#[test]
fn dsp_add16_is_add_value() {
    use runtime::kernels::dsp::add16;
    use runtime::ops::add::add_value;
    use testkit::bare_tensor;
    let mut g = Gen::new(94);
    let t = bare_tensor(1, 1, 64, Elem::I16);
    for case in 0..300 {
        let mut mult = || match g.range_i32(0, 5) {
            0 => i32::MAX,
            1 => 1 << 30,
            _ => g.range_i32(1 << 29, i32::MAX),
        };
        let (am, bm, om) = (mult(), mult(), mult());
        let p = Add {
            a: t,
            a_zp: g.range_i32(-200, 200),
            a_mult: am,
            a_shift: g.range_i32(-8, 1),
            b: t,
            b_zp: g.range_i32(-200, 200),
            b_mult: bm,
            b_shift: g.range_i32(-8, 1),
            output: t,
            out_zp: g.range_i32(-200, 200),
            out_mult: om,
            out_shift: g.range_i32(-30, -10),
            left_shift: (case % 16) as u8,
        };
        let n = 1 + g.range_i32(0, 63) as usize;
        let v = |g: &mut Gen| -> Vec<i32> {
            (0..n)
                .map(|i| match case < 16 {
                    true => [-32768, 32767][(i + case) % 2],
                    false => g.range_i32(-32768, 32767),
                })
                .collect()
        };
        let (x, y) = (v(&mut g), v(&mut g));
        let (xa, yb) = (encode(&x, Elem::I16), encode(&y, Elem::I16));
        let mut out = vec![0x55i8; 2 * n];
        assert_eq!(add16(&p, &xa, &yb, &mut out), n, "case {case}");
        for i in 0..n {
            let want = add_value(&p, x[i], y[i]).clamp(-32768, 32767) as i16;
            let got = i16::from_le_bytes([out[2 * i] as u8, out[2 * i + 1] as u8]);
            assert_eq!(got, want, "case {case} element {i}: {p:?}");
        }
        assert_eq!(add16(&p, &xa[..2 * n - 1], &yb, &mut out), 0, "short a");
        let wide = Add {
            left_shift: 16,
            ..p
        };
        assert_eq!(add16(&wide, &xa, &yb, &mut out), 0, "left_shift 16");
    }
}
