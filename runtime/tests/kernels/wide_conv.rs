//! int16 operands in the reference conv forms, the add and the fused
//! ConvMlp (a residual stream stored with 16 bits), against an exact model,
//! and the executor's refusals where a kernel cannot take them.

use proptest::collection::vec;
use proptest::prelude::*;
use runtime::{Add, Conv, ConvMlp, ConvVariant, Elem, Error, Layer, TensorRef};

use crate::conv_params::{ConvParams, Geometry};
use crate::harness::*;
use crate::wide::run_layers;

pub(crate) fn with(t: TensorRef, elem: Elem) -> TensorRef {
    TensorRef { elem, ..t }
}

/// Stores `v` as elements of `elem` (little endian for int16).
pub(crate) fn encode(v: &[i32], elem: Elem) -> Vec<i8> {
    let mut out = vec![0i8; v.len() * elem.bytes()];
    for (i, &x) in v.iter().enumerate() {
        elem.store(&mut out, i, x);
    }
    out
}

/// [`run_layers`] with the output's values as i32.
pub(crate) fn run(
    blob: &[u8],
    layers: &[Layer],
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
) -> Result<Vec<i32>, Error> {
    let out = run_layers(blob, layers, input, output, arena)?;
    Ok(out.into_iter().map(i32::from).collect())
}

/// A downsampling conv `p` as `variant` (`WriteBehind` or `WriteAhead`)
/// over int16 `x`, its int8 output overlapping the input in one region.
pub(crate) struct Int16Overlap<'a> {
    p: &'a ConvParams,
    x: &'a [i32],
    variant: ConvVariant,
    /// The input's bytes.
    pub n_in: usize,
    /// The output's bytes.
    pub n_out: usize,
    /// The layer at offset 0, for its `write_behind_bytes` or
    /// `write_ahead_bytes`.
    pub probe: Conv,
}

impl<'a> Int16Overlap<'a> {
    pub(crate) fn new(p: &'a ConvParams, x: &'a [i32], variant: ConvVariant) -> Self {
        let s = p.g;
        let (oh, ow) = s.out_hw();
        let input = with(p.input(0), Elem::I16);
        let probe = Conv {
            variant,
            ..p.conv(&mut Blob::new(), input, p.output(0))
        };
        let (n_in, n_out) = (x.len() * 2, oh * ow * s.cout);
        Int16Overlap {
            p,
            x,
            variant,
            n_in,
            n_out,
            probe,
        }
    }

    /// The model's output with the input at byte `at.0` and the output at
    /// byte `at.1` of a `len`-byte region (`Layout::fixed(1, layout)`).
    pub(crate) fn run(
        &self,
        layout: u64,
        len: usize,
        at: (usize, usize),
    ) -> Result<Vec<i32>, Error> {
        let p = self.p;
        let (off, mut arena) = Layout::fixed(1, layout).place(&[len]);
        let (i, o) = (
            with(p.input(off[0] + at.0), Elem::I16),
            p.output(off[0] + at.1),
        );
        arena[i.offset as usize..i.end()].copy_from_slice(&encode(self.x, Elem::I16));
        let mut blob = Blob::new();
        let c = p.conv_as(&mut blob, i, o, |_| self.variant);
        run(&blob.0, &[Layer::Conv(c)], i, o, &arena)
    }
}

/// The conv contract in i64 on NHWC values, for any input and output type:
/// padded taps add nothing; `table` (as i32 entries) maps the int8
/// pre-table value.
pub(crate) fn exact(p: &ConvParams, x: &[i32], out: Elem, table: Option<&[i32]>) -> Vec<i32> {
    exact_with_identity(p, x, out, table, &[])
}

/// [`exact`] plus `identity[o] * (x(oy, ox, o) - in_zp)` per output when
/// `identity` is not empty (stride 1, same size: output pixel = input pixel).
pub(crate) fn exact_with_identity(
    p: &ConvParams,
    x: &[i32],
    out: Elem,
    table: Option<&[i32]>,
    identity: &[i32],
) -> Vec<i32> {
    let s = p.g;
    let (oh, ow) = s.out_hw();
    let (cin_g, cout_g) = (s.cin / s.groups, s.cout / s.groups);
    let mut y = Vec::new();
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..s.cout {
                let mut acc = i64::from(p.bias[o]);
                for ky in 0..s.k {
                    for kx in 0..s.k {
                        let (iy, ix) = ((oy * s.stride + ky) as i64, (ox * s.stride + kx) as i64);
                        let (iy, ix) = (iy - s.pad as i64, ix - s.pad as i64);
                        if iy < 0 || ix < 0 || iy >= s.h as i64 || ix >= s.w as i64 {
                            continue;
                        }
                        for ci in 0..cin_g {
                            let c = (o / cout_g) * cin_g + ci;
                            let v = x[(iy as usize * s.w + ix as usize) * s.cin + c];
                            let w = p.weights[((o * s.k + ky) * s.k + kx) * cin_g + ci];
                            acc += i64::from(w) * i64::from(v - p.in_zp);
                        }
                    }
                }
                if let Some(&id) = identity.get(o) {
                    let v = x[(oy * s.w + ox) * s.cin + o];
                    acc += i64::from(id) * i64::from(v - p.in_zp);
                }
                let r = rq(acc, p.mult[o], p.shift[o]) + i64::from(p.out_zp);
                y.push(match table {
                    Some(t) => t[(r.clamp(-128, 127) + 128) as usize],
                    None => {
                        let (lo, hi) = out.range();
                        r.clamp(lo.into(), hi.into()) as i32
                    }
                });
            }
        }
    }
    y
}

/// A drawn case: geometry with at most 64 taps per output, int16 values,
/// parameters, and which of (int16 input, int16 output, table) it uses.
/// (parameters, input values, (int16 input, int16 output, table), table
/// values, arena seed).
type Case = (ConvParams, Vec<i32>, (bool, bool, bool), Vec<i32>, u64);

fn case() -> impl Strategy<Value = Case> {
    let geometry = (1usize..=6, 1usize..=6, 1usize..=6, 1usize..=3, 0usize..=3)
        .prop_flat_map(|(h, w, c, k, pad)| {
            let depthwise = (Just(c), Just(c), Just(c));
            let grouped = (Just(c), Just(2 * c), Just(c));
            let dense = (Just(c), 1usize..=4, Just(1));
            (
                Just((h, w)),
                prop_oneof![depthwise, grouped, dense],
                Just(k),
                1usize..=2,
                Just(pad),
            )
        })
        .prop_filter_map("valid", |(hw, (cin, cout, g), k, stride, pad)| {
            let s = Geometry::drawn(hw, (cin, cout, g), (k, stride, pad))?;
            (k * k * cin / g <= Conv::MAX_WIDE_FAN_IN).then_some(s)
        });
    geometry.prop_flat_map(|s| {
        (
            (
                Just(s),
                -300i32..=300,
                -300i32..=300,
                i8s(s.weight_len()),
                vec(bias(), s.cout),
                vec(stored_multiplier(), s.cout),
                vec(-12i32..=4, s.cout),
            )
                .prop_map(|(g, in_zp, out_zp, weights, bias, mult, shift)| {
                    ConvParams::new(g, (in_zp, out_zp), weights, (bias, mult, shift))
                }),
            vec(-32768i32..=32767, s.h * s.w * s.cin),
            (any::<bool>(), any::<bool>(), any::<bool>()),
            vec(-32768i32..=32767, 256),
            any::<u64>(),
        )
    })
}

/// Builds and runs the `Reference` conv of a drawn case; returns (expected,
/// got).
fn conv_case(
    p: &ConvParams,
    x: &[i32],
    (wide_in, wide_out, with_table): (bool, bool, bool),
    table: &[i32],
    seed: u64,
) -> (Vec<i32>, Vec<i32>) {
    let (ie, oe) = (
        if wide_in { Elem::I16 } else { Elem::I8 },
        if wide_out { Elem::I16 } else { Elem::I8 },
    );
    let mut p = p.clone();
    let x: Vec<i32> = if wide_in {
        x.to_vec()
    } else {
        p.in_zp = p.in_zp.clamp(-128, 127);
        x.iter().map(|&v| v.clamp(-128, 127)).collect()
    };
    if !wide_out {
        p.out_zp = p.out_zp.clamp(-128, 127);
    }
    let table: Vec<i32> = table
        .iter()
        .map(|&v| v.clamp(oe.range().0, oe.range().1))
        .collect();
    p.lut = with_table.then(|| encode(&table, oe));
    let (oh, ow) = p.g.out_hw();
    let sizes = [x.len() * ie.bytes(), oh * ow * p.g.cout * oe.bytes()];
    let (off, mut arena) = Layout::fixed(2, seed).place(&sizes);
    let (i, o) = (with(p.input(off[0]), ie), with(p.output(off[1]), oe));
    arena[i.offset as usize..i.end()].copy_from_slice(&encode(&x, ie));
    let mut blob = Blob::new();
    let layer = Layer::Conv(p.conv(&mut blob, i, o));
    let got = run(&blob.0, &[layer], i, o, &arena).unwrap();
    let expected = exact(&p, &x, oe, with_table.then_some(&table[..]));
    (expected, got)
}

#[test]
fn reference_conv_reads_and_writes_int16() {
    check(192, case(), |(p, x, kinds, table, seed)| {
        let (expected, got) = conv_case(&p, &x, kinds, &table, seed);
        testkit::prop_same("int16 reference conv", &expected, &got)
    });
}

#[test]
fn int16_in_place_equals_the_exact_model() {
    check(96, case(), |(mut p, x, _, _, seed)| {
        // In place: same shape, stride 1, odd kernel, same padding, int16
        // in and out.
        p.g.cout = p.g.cin;
        p.g.groups = p.g.cin;
        p.g.stride = 1;
        p.g.k |= 1;
        p.g.pad = p.g.k / 2;
        if p.g.h + 2 * p.g.pad < p.g.k || p.g.w + 2 * p.g.pad < p.g.k {
            return Ok(());
        }
        p.weights.resize(p.g.weight_len(), 3);
        p.bias.resize(p.g.cout, 0);
        p.mult.resize(p.g.cout, 1 << 30);
        p.shift.resize(p.g.cout, 0);
        let n = x.len() * 2;
        let (off, mut arena) = Layout::fixed(2, seed).place(&[n, n * 3]);
        let t = with(p.input(off[0]), Elem::I16);
        arena[t.offset as usize..t.end()].copy_from_slice(&encode(&x, Elem::I16));
        let mut blob = Blob::new();
        let scratch = off[1] as u32;
        let c = p.conv_as(&mut blob, t, t, |_| ConvVariant::InPlace { scratch });
        let got = ran(run(&blob.0, &[Layer::Conv(c)], t, t, &arena))?;
        let expected = exact(&p, &x, Elem::I16, None);
        testkit::prop_same("int16 in place", &expected, &got)
    });
}

#[test]
fn int16_write_behind_equals_the_reference() {
    // A 3x3/s2 depthwise conv reading an int16 tensor and writing int8
    // output rows behind its read position (the downsample's proj.0).
    let mut g = Gen::new(11);
    let s = Geometry::drawn((9, 7), (5, 5, 5), (3, 2, 1)).unwrap();
    let mut p = ConvParams::seeded(s, &mut g);
    p.in_zp = 0;
    let x: Vec<i32> = (0..s.h * s.w * s.cin)
        .map(|i| ((i * 7919) % 65536) as i32 - 32768)
        .collect();
    let conv = Int16Overlap::new(&p, &x, ConvVariant::WriteBehind);
    let lead = conv.probe.write_behind_bytes();
    assert!(lead < conv.n_out, "the output overlaps the input");
    let got = conv.run(5, lead + conv.n_in, (lead, 0)).unwrap();
    assert_same("int16 write-behind", &exact(&p, &x, Elem::I8, None), &got);
}

/// An add of int16 `a` and int8 `b` into int16, as the ConvMlp's residual add.
fn stream_add(a: TensorRef, b: TensorRef, out: TensorRef, g: &mut Gen) -> Add {
    Add {
        a,
        a_zp: 0,
        a_mult: g.range_i32(1 << 30, i32::MAX),
        a_shift: -1,
        b,
        b_zp: g.range_i32(-128, 127),
        b_mult: g.range_i32(1 << 30, i32::MAX),
        b_shift: 0,
        output: out,
        out_zp: 0,
        out_mult: g.range_i32(1 << 30, i32::MAX),
        out_shift: 1,
        left_shift: 15,
    }
}

#[test]
fn int16_add_matches_the_exact_model_in_place_and_apart() {
    let mut g = Gen::new(21);
    let n = 40;
    let a: Vec<i32> = (0..n).map(|_| g.range_i32(-32768, 32767)).collect();
    let b: Vec<i32> = (0..n).map(|_| g.range_i32(-128, 127)).collect();
    let (off, mut arena) = Layout::fixed(3, 4).place(&[2 * n, n, 2 * n]);
    let ta = with(tensor(off[0], 1, 1, n), Elem::I16);
    let tb = tensor(off[1], 1, 1, n);
    arena[ta.offset as usize..ta.end()].copy_from_slice(&encode(&a, Elem::I16));
    arena[tb.offset as usize..tb.end()].copy_from_slice(&encode(&b, Elem::I8));
    let apart = stream_add(ta, tb, with(tensor(off[2], 1, 1, n), Elem::I16), &mut g);
    let p = &apart;
    let expected: Vec<i32> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| {
            let x = rq(i64::from(x - p.a_zp) << 15, p.a_mult, p.a_shift);
            let y = rq(i64::from(y - p.b_zp) << 15, p.b_mult, p.b_shift);
            (rq(x + y, p.out_mult, p.out_shift) + i64::from(p.out_zp)).clamp(-32768, 32767) as i32
        })
        .collect();
    assert!(expected.iter().any(|v| !(-128..=127).contains(v)));
    for layer in [
        apart,
        Add {
            output: ta,
            ..apart
        },
    ] {
        let got = run(&[0u8; 16], &[Layer::Add(layer)], ta, layer.output, &arena).unwrap();
        assert_same("int16 add", &expected, &got);
    }
    // 16 bits of headroom need `left_shift <= 15`.
    let over = Layer::Add(Add {
        left_shift: 16,
        ..apart
    });
    let err = run(&[0u8; 16], &[over], ta, apart.output, &arena);
    assert_eq!(err, Err(Error::InvalidLayer { layer: 0 }));
}

#[test]
fn int16_conv_mlp_equals_its_layers_run_apart() {
    // x (int16) -> dw 3x3 (int8) -> fc1 + table (int8) -> fc2 (int8) -> x +.
    let (h, w, c, hidden) = (5, 6, 4, 8);
    let mut g = Gen::new(31);
    let dw = ConvParams {
        in_zp: 0,
        ..ConvParams::seeded(
            Geometry::drawn((h, w), (c, c, c), (3, 1, 1)).unwrap(),
            &mut g,
        )
    };
    let mut fc1 = ConvParams::seeded(
        Geometry::drawn((h, w), (c, hidden, 1), (1, 1, 0)).unwrap(),
        &mut g,
    );
    fc1.lut = Some(g.i8s(256));
    let fc2 = ConvParams::seeded(
        Geometry::drawn((h, w), (hidden, c, 1), (1, 1, 0)).unwrap(),
        &mut g,
    );
    let x: Vec<i32> = (0..h * w * c).map(|_| g.range_i32(-32768, 32767)).collect();
    let n = h * w * c;
    let scratch = ConvMlp::scratch_bytes_of(3, w, c, hidden, 2);
    let (off, mut arena) =
        Layout::fixed(5, 8).place(&[2 * n, n, h * w * hidden, n, scratch.max(2 * n)]);
    let xt = with(tensor(off[0], h, w, c), Elem::I16);
    arena[xt.offset as usize..xt.end()].copy_from_slice(&encode(&x, Elem::I16));
    let (d, hid, f) = (
        tensor(off[1], h, w, c),
        tensor(off[2], h, w, hidden),
        tensor(off[3], h, w, c),
    );
    let mut blob = Blob::new();
    // The dw keeps its identity taps apart, as codegen builds it.
    let identity = blob.i32s(&[-Conv::MAX_IDENTITY, 700, 3, Conv::MAX_IDENTITY]);
    let (cd, c1, c2) = (
        Conv {
            identity,
            ..dw.conv(&mut blob, xt, d)
        },
        fc1.conv(&mut blob, d, hid),
        fc2.conv(&mut blob, hid, f),
    );
    let add = stream_add(xt, f, xt, &mut g);
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
    let got = run(&blob.0, &[fused], xt, xt, &arena).unwrap();
    assert_same("int16 ConvMlp", &expected, &got);
    assert!(got.iter().any(|v| !(-128..=127).contains(v)));
    // fc1 and fc2 on the fast pointwise kernel (their operands are int8).
    let pointwise = |p: &ConvParams, c: Conv, blob: &mut Blob| Conv {
        variant: ConvVariant::Pointwise {
            folded_bias: blob.i32s(&p.folded_bias()),
        },
        ..c
    };
    let fast = Layer::ConvMlp(ConvMlp {
        dw: cd,
        fc1: pointwise(&fc1, c1, &mut blob),
        fc2: pointwise(&fc2, c2, &mut blob),
        add,
        scratch: off[4] as u32,
    });
    let got = run(&blob.0, &[fast], xt, xt, &arena).unwrap();
    assert_same("int16 ConvMlp, pointwise fc1/fc2", &expected, &got);
}

/// A drawn conv with an identity tap: depthwise or dense 1x1, `cin ==
/// cout`, stride 1, odd kernel with same padding; identity weights up to
/// `Conv::MAX_IDENTITY`. (parameters, input, identity, int16 input, arena
/// seed).
fn identity_case() -> impl Strategy<Value = (ConvParams, Vec<i32>, Vec<i32>, bool, u64)> {
    let geometry = (
        1usize..=6,
        1usize..=6,
        1usize..=6,
        0usize..=1,
        any::<bool>(),
    )
        .prop_filter_map("valid", |(h, w, c, half, depthwise)| {
            let k = if depthwise { 2 * half + 1 } else { 1 };
            let groups = if depthwise { c } else { 1 };
            Geometry::drawn((h, w), (c, c, groups), (k, 1, k / 2))
        });
    (geometry, any::<bool>(), any::<u64>()).prop_flat_map(|(s, wide_in, seed)| {
        let m = Conv::MAX_IDENTITY;
        (
            (
                i8s(s.weight_len()),
                vec(bias(), s.cout),
                vec(stored_multiplier(), s.cout),
                vec(-12i32..=4, s.cout),
                -128i32..=127,
                -128i32..=127,
            )
                .prop_map(move |(weights, bias, mult, shift, in_zp, out_zp)| {
                    let in_zp = if wide_in { 0 } else { in_zp };
                    ConvParams::new(s, (in_zp, out_zp), weights, (bias, mult, shift))
                }),
            vec(
                if wide_in {
                    -32768i32..=32767
                } else {
                    -128i32..=127
                },
                s.h * s.w * s.cin,
            ),
            vec(prop_oneof![Just(-m), Just(m), -m..=m], s.cout),
            Just(wide_in),
            Just(seed),
        )
    })
}

#[test]
fn identity_taps_in_every_reference_form() {
    // `Conv::identity` (a RepMixer's identity kept apart from the int8
    // weights) in `Reference`, `InPlace` and `WriteBehind`, int8 or int16
    // input, against the exact model.
    check(128, identity_case(), |(p, x, id, wide_in, seed)| {
        let ie = if wide_in { Elem::I16 } else { Elem::I8 };
        let expected = exact_with_identity(&p, &x, Elem::I16, None, &id);
        let n = x.len();
        let (off, mut arena) = Layout::fixed(3, seed).place(&[2 * n, 2 * n, 6 * n + 64]);
        let i = with(p.input(off[0]), ie);
        let mut blob = Blob::new();
        let identity = blob.i32s(&id);
        let mut forms = vec![(ConvVariant::Reference, with(p.output(off[1]), Elem::I16))];
        if wide_in && p.g.groups == p.g.cin {
            let scratch = off[2] as u32;
            forms.push((ConvVariant::InPlace { scratch }, i));
        }
        for (variant, o) in forms {
            arena[i.offset as usize..i.end()].copy_from_slice(&encode(&x, ie));
            let c = Conv {
                identity,
                ..p.conv_as(&mut blob, i, o, |_| variant)
            };
            let got = ran(run(&blob.0, &[Layer::Conv(c)], i, o, &arena))?;
            testkit::prop_same("identity taps", &expected, &got)?;
        }
        Ok(())
    });
}

#[test]
fn identity_taps_written_behind_the_input() {
    // The widening 1x1 of `stem.2`: int8 in, int16 out written behind its
    // input, its identity taps apart.
    let mut g = Gen::new(51);
    let s = Geometry::drawn((5, 7), (6, 6, 1), (1, 1, 0)).unwrap();
    let p = ConvParams::seeded(s, &mut g);
    let id: Vec<i32> = (0..6)
        .map(|_| g.range_i32(-Conv::MAX_IDENTITY, Conv::MAX_IDENTITY))
        .collect();
    let x: Vec<i32> = (0..s.h * s.w * s.cin)
        .map(|_| g.range_i32(-128, 127))
        .collect();
    let mut blob = Blob::new();
    let identity = blob.i32s(&id);
    let probe = p.conv_as(&mut blob, p.input(0), with(p.output(0), Elem::I16), |_| {
        ConvVariant::WriteBehind
    });
    let (n_in, lead) = (x.len(), probe.write_behind_bytes());
    let (off, mut arena) = Layout::fixed(1, 9).place(&[lead + 2 * n_in]);
    let (i, o) = (p.input(off[0] + lead), with(p.output(off[0]), Elem::I16));
    arena[i.offset as usize..i.end()].copy_from_slice(&encode(&x, Elem::I8));
    let c = Conv {
        identity,
        ..p.conv_as(&mut blob, i, o, |_| ConvVariant::WriteBehind)
    };
    let got = run(&blob.0, &[Layer::Conv(c)], i, o, &arena).unwrap();
    let expected = exact_with_identity(&p, &x, Elem::I16, None, &id);
    assert_same("identity taps, write-behind", &expected, &got);
    assert!(expected.iter().any(|v| !(-128..=127).contains(v)));
}

/// The seeded 4x4x4 depthwise 3x3 of the refusal tests, with the generator
/// after it (for more), and two 256-byte tensors' offsets and their arena.
fn refusal_case(seed: u64) -> (Gen, ConvParams, Vec<usize>, Vec<i8>) {
    let mut g = Gen::new(seed);
    let s = Geometry::drawn((4, 4), (4, 4, 4), (3, 1, 1)).unwrap();
    let p = ConvParams::seeded(s, &mut g);
    let (off, arena) = Layout::fixed(2, 3).place(&[256, 256]);
    (g, p, off, arena)
}

#[test]
fn identity_taps_are_refused_where_no_identity_or_kernel_takes_them() {
    let (mut g, p, off, arena) = refusal_case(61);
    let (i, o) = (
        with(p.input(off[0]), Elem::I16),
        with(p.output(off[1]), Elem::I16),
    );
    let mut blob = Blob::new();
    let ok = blob.i32s(&[Conv::MAX_IDENTITY, -Conv::MAX_IDENTITY, 1, 0]);
    let over = blob.i32s(&[Conv::MAX_IDENTITY + 1, 0, 0, 0]);
    let short = blob.i32s(&[1, 1, 1]);
    let reference = p.conv(&mut blob, i, o);
    let with_id = |identity| {
        Layer::Conv(Conv {
            identity,
            ..reference
        })
    };
    // Accepted as drawn; refused past the bound or with one per channel
    // missing.
    assert!(run(&blob.0, &[with_id(ok)], i, o, &arena).is_ok());
    // A fast kernel does not read identity taps.
    let fast = Conv {
        variant: ConvVariant::Depthwise {
            weights_hwc: blob.i8s(&p.weights),
            folded_bias: blob.i32s(&p.bias),
        },
        input: p.input(off[0]),
        output: p.output(off[1]),
        identity: ok,
        ..reference
    };
    // A strided conv has no identity tap.
    let s2 = Geometry::drawn((4, 4), (4, 4, 4), (3, 2, 1)).unwrap();
    let p2 = ConvParams::seeded(s2, &mut g);
    let o2 = with(p2.output(off[1]), Elem::I16);
    let strided = Conv {
        identity: ok,
        ..p2.conv(&mut blob, i, o2)
    };
    for (layer, output) in [
        (with_id(over), o),
        (with_id(short), o),
        (Layer::Conv(fast), p.output(off[1])),
        (Layer::Conv(strided), o2),
    ] {
        let input = layer.input();
        assert_eq!(
            run(&blob.0, &[layer], input, output, &arena),
            Err(Error::InvalidLayer { layer: 0 })
        );
    }
}

#[test]
fn int16_operands_are_refused_where_no_kernel_takes_them() {
    let (_, p, off, arena) = refusal_case(41);
    let (i, o) = (with(p.input(off[0]), Elem::I16), p.output(off[1]));
    let mut blob = Blob::new();
    // A fast variant reads int8 only.
    let fast = p.conv_as(&mut blob, i, o, |b| ConvVariant::Depthwise {
        weights_hwc: b.i8s(&p.weights),
        folded_bias: b.i32s(&p.bias),
    });
    assert_eq!(
        run(&blob.0, &[Layer::Conv(fast)], i, o, &arena),
        Err(Error::InvalidLayer { layer: 0 })
    );
}

/// A dense conv reading int16 with more taps per output than an i32 sum
/// holds ([`Conv::MAX_WIDE_FAN_IN`]; the ConvMlp `fc1` of an int16 `dw`
/// output has `c` of them): the reference sums in i64, so inputs and
/// weights at their extremes still give the exact result.
#[test]
fn int16_inputs_sum_in_i64_at_any_fan_in() {
    let geometry = (1usize..=2, 65usize..=400, 1usize..=3, 1usize..=2)
        .prop_filter_map("valid", |(hw, cin, cout, k)| {
            Geometry::drawn((hw + 1, hw + 1), (cin, cout, 1), (k, 1, 0))
        });
    let cases = geometry.prop_flat_map(|s| {
        (
            Just(s),
            vec(
                prop_oneof![Just(-127i8), Just(127i8), any::<i8>()],
                s.weight_len(),
            ),
            vec(
                prop_oneof![
                    Just(-32768i32),
                    Just(32767i32),
                    any::<i16>().prop_map(i32::from)
                ],
                s.h * s.w * s.cin,
            ),
            vec(-20i32..=-10, s.cout),
            any::<u64>(),
        )
    });
    // All taps at their extremes: 1,600 x 127 x 32,767 is past i32.
    let s = Geometry::drawn((2, 2), (400, 2, 1), (2, 1, 0)).unwrap();
    let p = ConvParams::new(
        s,
        (0, 0),
        vec![127; s.weight_len()],
        (vec![0; 2], vec![1 << 30; 2], vec![-20; 2]),
    );
    let x = vec![32767; s.h * s.w * s.cin];
    let (expected, got) = conv_case(&p, &x, (true, true, false), &[], 7);
    assert_eq!(got, expected);
    assert!(expected[0] > 3000, "{expected:?}"); // 6.7e9 / 2^21
    check(48, cases, |(s, weights, x, shift, seed)| {
        let n = s.cout;
        let p = ConvParams::new(s, (0, 0), weights, (vec![0; n], vec![1 << 30; n], shift));
        let (expected, got) = conv_case(&p, &x, (true, true, false), &[], seed);
        testkit::prop_same("int16 dense past the i32 fan-in", &expected, &got)
    });
}
