//! The fast int16-operand conv forms (`kernels::wide`) against their
//! reference twins (`ops::conv`, `ops::conv_in_place`,
//! `ops::conv_write_behind`, `ops::conv_widen`), called directly on random operands, bit for
//! bit: depthwise convs reading int16 (channel multiplier 1 or 2, kernels
//! 1..=7, strides 1..=3, any padding, int8 or int16 output, tables, the
//! identity tap) and 1x1 convs from int8 to int16 (identity tap, int16
//! table, channel counts around the four-channel pass). Zero points,
//! multipliers and shifts are drawn at random; the int16 inputs span the
//! whole range.

// Without the feature the forms decline every layer (the reference ops run).
#![cfg(feature = "fast-int16")]

use runtime::kernels::wide;
use runtime::ops::conv::{conv_reference, ConvArgs};
use runtime::ops::conv_in_place::conv_in_place;
use runtime::ops::conv_widen::conv_widen_in_place;
use runtime::ops::conv_write_behind::{conv_write_ahead, conv_write_behind};
use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
use runtime::{Conv, Elem, TensorRef};
use testkit::{bare_conv, bare_tensor, SplitMix64 as Gen};

/// A conv's operands as owned bytes.
struct Operands {
    weights: Vec<i8>,
    bias: Vec<u8>,
    mult: Vec<u8>,
    shift: Vec<i8>,
    lut: Vec<i8>,
    identity: Vec<u8>,
}

impl Operands {
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
            identity: I32s(&self.identity),
        }
    }
}

fn words(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Random operands for `p`; a table with probability 1/3 (int16 entries
/// for an int16 output), identity weights with probability 1/2 where the
/// shape allows them.
fn operands(p: &Conv, r: &mut Gen) -> Operands {
    let (cin, cout, k) = (p.input.c as usize, p.output.c as usize, p.kernel as usize);
    let cin_g = cin / p.groups as usize;
    let mult: Vec<u8> = (0..cout)
        .flat_map(|_| (r.range_i32(1 << 14, i16::MAX as i32) as i16).to_le_bytes())
        .collect();
    let table = r.below(3) == 0;
    let lut = match (table, p.output.elem) {
        (false, _) => vec![],
        (true, e) => r.i8s(256 * e.bytes()),
    };
    let same = (p.input.h, p.input.w) == (p.output.h, p.output.w);
    let identity = if cin == cout && same && r.below(2) == 0 {
        words(&r.i32s(cout, -(1 << 14), 1 << 14))
    } else {
        vec![]
    };
    Operands {
        weights: r.i8s(cout * k * k * cin_g),
        bias: words(&r.i32s(cout, -(1 << 16), 1 << 16)),
        mult,
        shift: (0..cout).map(|_| r.range_i32(-14, 2) as i8).collect(),
        lut,
        identity,
    }
}

fn elem(r: &mut Gen) -> Elem {
    if r.below(2) == 0 {
        Elem::I8
    } else {
        Elem::I16
    }
}

/// How [`random_depthwise`] draws a conv's shape.
struct DepthwiseDraws {
    /// The channel count.
    channels: fn(&mut Gen) -> usize,
    /// Input sides are drawn from `1..=side`.
    side: usize,
    /// Strides out of place are drawn from `1..=strides`.
    strides: usize,
    /// The input zero point is drawn (else 0, as codegen gives it to the
    /// channel-vector form).
    in_zp: bool,
}

/// A random depthwise conv reading int16 drawn as `d` says: `(conv, in
/// place?)`. In place: stride 1, same padding, int16 output; otherwise
/// kernels 1..=7, any padding, channel multiplier 1 or 2, int8 or int16
/// output. Both wide suites draw their convs here.
fn random_depthwise(r: &mut Gen, d: &DepthwiseDraws) -> (Conv, bool) {
    let in_place = r.below(2) == 0;
    let c = (d.channels)(r);
    let (h, w) = (1 + r.below(d.side), 1 + r.below(d.side));
    let (k, stride, pad, m, out) = if in_place {
        let k = 1 + 2 * r.below(4);
        (k, 1, k / 2, 1, Elem::I16)
    } else {
        let k = 1 + r.below(7);
        (
            k,
            1 + r.below(d.strides),
            r.below(k / 2 + 2),
            1 + r.below(2),
            elem(r),
        )
    };
    if h + 2 * pad < k || w + 2 * pad < k {
        return random_depthwise(r, d);
    }
    let (oh, ow) = (
        (h + 2 * pad - k) / stride + 1,
        (w + 2 * pad - k) / stride + 1,
    );
    let mut p = bare_conv(
        bare_tensor(h, w, c, Elem::I16),
        bare_tensor(oh, ow, c * m, out),
        (k as u8, stride as u8, pad as u8),
        c as u16,
    );
    if d.in_zp {
        p.in_zp = r.range_i32(-400, 400);
    }
    p.out_zp = match out {
        Elem::I8 => r.range_i32(-128, 127),
        Elem::I16 => r.range_i32(-400, 400),
    };
    (p, in_place)
}

/// A random depthwise conv reading int16 (1..=20 channels, strides 1..=3,
/// any input zero point): `(conv, in place?)`.
fn depthwise(r: &mut Gen) -> (Conv, bool) {
    let d = DepthwiseDraws {
        channels: |r| 1 + r.below(20),
        side: 9,
        strides: 3,
        in_zp: true,
    };
    random_depthwise(r, &d)
}

fn random_input(t: TensorRef, r: &mut Gen) -> Vec<i8> {
    let n = t.len();
    let mut v = vec![0i8; t.bytes()];
    for i in 0..n {
        t.elem.store(&mut v, i, r.range_i32(-32768, 32767));
    }
    v
}

/// The conv out of place (`Reference`) by the reference and by
/// [`wide::conv`], which must take it and agree; the output.
fn out_of_place(p: &Conv, a: &ConvArgs<'_>, case: usize) -> Vec<i8> {
    let mut expected = vec![0i8; p.output.bytes()];
    conv_reference(p, a, &mut expected);
    let mut got = vec![0i8; p.output.bytes()];
    assert!(wide::conv(p, a, &mut got), "case {case}: declined {p:?}");
    assert_eq!(expected, got, "case {case}: {p:?}");
    expected
}

/// The depthwise conv `p` by every wide form, each against its reference
/// op and the out-of-place output: out of place, then in place (if
/// `in_place`) or written behind and ahead of the input `x` at the least
/// distances. Returns the out-of-place output.
fn every_form(p: &Conv, a: &ConvArgs<'_>, x: &[i8], in_place: bool, case: usize) -> Vec<i8> {
    let expected = out_of_place(p, a, case);
    if in_place {
        let (k, w, c) = (p.kernel as usize, p.input.w as usize, p.input.c as usize);
        let ring_len = Conv::in_place_scratch_bytes(k, w, 2 * c);
        let (mut d0, mut d1) = (x.to_vec(), x.to_vec());
        let (mut r0, mut r1) = (vec![0i8; ring_len], vec![0i8; ring_len]);
        conv_in_place(p, a, &mut d0, &mut r0);
        assert!(wide::conv_in_place(p, a, &mut d1, &mut r1));
        assert_eq!(d0, d1, "case {case} in place: {p:?}");
        assert_eq!(expected, d1, "case {case} in place vs apart: {p:?}");
    } else {
        // Write-behind: the output at the least lead before the input.
        let lead = p.write_behind_bytes();
        let n = (lead + x.len()).max(p.output.bytes());
        let mut g0 = vec![7i8; n];
        g0[lead..lead + x.len()].copy_from_slice(x);
        let mut g1 = g0.clone();
        conv_write_behind(p, a, &mut g0, lead, 0);
        assert!(wide::conv_write_behind(p, a, &mut g1, lead, 0));
        assert_eq!(g0, g1, "case {case} write-behind: {p:?}");
        let behind = &g1[..expected.len()];
        assert_eq!(expected, behind, "case {case} behind vs apart: {p:?}");
        // Write-ahead: the output at the least distance after the input.
        let ahead = p.write_ahead_bytes();
        let n = (ahead + p.output.bytes()).max(x.len());
        let mut g0 = vec![7i8; n];
        g0[..x.len()].copy_from_slice(x);
        let mut g1 = g0.clone();
        conv_write_ahead(p, a, &mut g0, 0, ahead);
        assert!(wide::conv_write_ahead(p, a, &mut g1, 0, ahead));
        assert_eq!(g0, g1, "case {case} write-ahead: {p:?}");
        let got = &g1[ahead..ahead + expected.len()];
        assert_eq!(expected, got, "case {case} ahead vs apart: {p:?}");
    }
    expected
}

/// `cases` random depthwise convs from `draw` on random operands and
/// inputs (generator seeded with `seed`), each through [`every_form`];
/// `more` then checks a case further, given the generator, the case index,
/// the conv, its arguments and the out-of-place output.
fn depthwise_cases(
    seed: u64,
    cases: usize,
    draw: fn(&mut Gen) -> (Conv, bool),
    mut more: impl FnMut(&mut Gen, usize, &Conv, &ConvArgs<'_>, &[i8]),
) {
    let mut r = Gen::new(seed);
    for case in 0..cases {
        let (p, in_place) = draw(&mut r);
        let ops = operands(&p, &mut r);
        let x = random_input(p.input, &mut r);
        let a = ops.args(&x);
        let expected = every_form(&p, &a, &x, in_place, case);
        more(&mut r, case, &p, &a, &expected);
    }
}

#[test]
fn depthwise_int16_equals_the_reference() {
    depthwise_cases(0x1616, 1500, depthwise, |_, _, _, _, _| {});
}

#[test]
fn pointwise_int8_to_int16_equals_the_reference() {
    let mut r = Gen::new(0x0816);
    for case in 0..600 {
        let (h, w) = (1 + r.below(6), 1 + r.below(6));
        let cin = 1 + r.below(40);
        let cout = if r.below(2) == 0 {
            cin
        } else {
            1 + r.below(13)
        };
        let mut p = bare_conv(
            bare_tensor(h, w, cin, Elem::I8),
            bare_tensor(h, w, cout, Elem::I16),
            (1, 1, 0),
            1,
        );
        p.in_zp = r.range_i32(-128, 127);
        p.out_zp = r.range_i32(-400, 400);
        let ops = operands(&p, &mut r);
        let x = r.i8s(h * w * cin);
        let a = ops.args(&x);
        let expected = out_of_place(&p, &a, case);
        // Over its input, from either end, where output rows are the longer.
        if 2 * cout >= cin {
            for end_aligned in [false, true] {
                let at = if end_aligned {
                    expected.len() - x.len()
                } else {
                    0
                };
                let mut d0 = vec![5i8; expected.len()];
                d0[at..at + x.len()].copy_from_slice(&x);
                let mut d1 = d0.clone();
                let (mut r0, mut r1) = (vec![0i8; w * cin], vec![0i8; w * cin]);
                conv_widen_in_place(&p, &a, &mut d0, &mut r0, end_aligned);
                assert!(wide::conv_widen_in_place(
                    &p,
                    &a,
                    &mut d1,
                    &mut r1,
                    end_aligned
                ));
                assert_eq!(d0, d1, "case {case} widened, end aligned {end_aligned}");
                assert_eq!(expected, d1, "case {case} widened vs apart");
            }
        }
    }
}

#[test]
fn other_shapes_are_declined() {
    // int8 in and out: the executor's own fast variants.
    let p = bare_conv(
        bare_tensor(4, 4, 8, Elem::I8),
        bare_tensor(4, 4, 8, Elem::I8),
        (3, 1, 1),
        8,
    );
    let ops = Operands {
        weights: vec![1; 72],
        bias: vec![0; 32],
        mult: vec![0; 16],
        shift: vec![0; 8],
        lut: vec![],
        identity: vec![],
    };
    let x = vec![0i8; 128];
    assert!(!wide::conv(&p, &ops.args(&x), &mut [0i8; 128]));
    // A dense 3x3 conv reading int16.
    let mut q = p;
    q.input.elem = Elem::I16;
    q.groups = 1;
    assert!(!wide::conv(&q, &ops.args(&x), &mut [0i8; 128]));
}

/// A random plain depthwise conv on the channel-vector form
/// (`kernels::wide_block`): int16 input with zero point 0, channel counts
/// around the 16-channel blocks, multiplier 1 or 2, kernels 1..=7:
/// `(conv, in place?)`.
fn block_depthwise(r: &mut Gen) -> (Conv, bool) {
    let d = DepthwiseDraws {
        channels: |r| [16, 17, 31, 32, 33, 48][r.below(6)],
        side: 8,
        strides: 2,
        in_zp: false,
    };
    random_depthwise(r, &d)
}

/// The channel-vector form (NEON `SMLAL`, Helium `VMULL`, portable loops:
/// whichever tier this test runs on) against the reference op: every tap
/// of a clipped window, the identity tap and the padding (a wrong tap
/// weight, a missed border or a dropped identity weight changes outputs of
/// these random operands), out of place, in place, written behind or ahead
/// of the input and as the ConvMlp `dw`.
#[test]
fn depthwise_int16_blocks_equal_the_reference() {
    depthwise_cases(0x1617, 600, block_depthwise, |r, case, p, a, expected| {
        // The ConvMlp `dw` form: int8 output, groups of up to four pixels.
        if p.output.elem == Elem::I8 && p.stride == 1 && p.output.c == p.input.c {
            let (w, c) = (p.input.w as usize, p.input.c as usize);
            let row = |iy: usize| &a.input[iy * w * c * 2..(iy + 1) * w * c * 2];
            for y in 0..p.output.h as usize {
                let ow = p.output.w as usize;
                let mut x0 = 0;
                while x0 < ow {
                    let n = (ow - x0).min(1 + r.below(4));
                    let mut d = vec![0i8; n * c];
                    wide::depthwise_group_i8(p, a, (y, x0), row, &mut d);
                    let at = (y * ow + x0) * c;
                    assert_eq!(expected[at..at + n * c], d, "case {case} dw group: {p:?}");
                    x0 += n;
                }
            }
        }
    });
}

/// Named edge cases of the channel-vector form: a single non-zero weight
/// (each tap of a 7x7 and a 3x3 window in turn) on a 16-channel input of
/// extreme values, at the corners (every border clipped), with and without
/// an identity weight: a tap read from the wrong row, column or channel,
/// or a padded tap that is not skipped, shows up as a wrong output.
#[test]
fn depthwise_int16_blocks_one_tap_at_a_time() {
    let mut r = Gen::new(0x0007);
    for k in [3usize, 7] {
        let (h, w, c) = (5usize, 6usize, 16usize);
        let mut p = bare_conv(
            bare_tensor(h, w, c, Elem::I16),
            bare_tensor(h, w, c, Elem::I16),
            (k as u8, 1, (k / 2) as u8),
            c as u16,
        );
        p.in_zp = 0;
        let x: Vec<i8> = (0..h * w * c)
            .flat_map(|i| {
                let v = [i16::MIN, i16::MAX, -1, 1][i % 4].wrapping_add((i / 4) as i16);
                v.to_le_bytes().map(|b| b as i8)
            })
            .collect();
        for t in 0..k * k {
            for with_identity in [false, true] {
                let mut ops = operands(&p, &mut r);
                ops.lut.clear();
                ops.weights = vec![0; c * k * k];
                for o in 0..c {
                    ops.weights[o * k * k + t] = if o % 2 == 0 { 127 } else { -128 };
                }
                ops.identity = if with_identity {
                    words(&vec![1 << 12; c])
                } else {
                    vec![]
                };
                let a = ops.args(&x);
                let mut expected = vec![0i8; p.output.bytes()];
                conv_reference(&p, &a, &mut expected);
                let mut got = vec![0i8; p.output.bytes()];
                assert!(wide::conv(&p, &a, &mut got));
                assert_eq!(expected, got, "k {k} tap {t} identity {with_identity}");
                let ring_len = Conv::in_place_scratch_bytes(k, w, 2 * c);
                let (mut d, mut ring) = (x.clone(), vec![0i8; ring_len]);
                assert!(wide::conv_in_place(&p, &a, &mut d, &mut ring));
                assert_eq!(
                    expected, d,
                    "k {k} tap {t} identity {with_identity} in place"
                );
            }
        }
    }
}

/// The channel-vector form with every shift <= -1, no table half the time
/// and identity weights at their extremes a third of the time: the output
/// step the NEON tier takes 16 channels at a time (`neon::wide_finish16`),
/// against the reference op in every form.
#[test]
fn depthwise_int16_blocks_vector_output_step() {
    let mut r = Gen::new(0x1619);
    for case in 0..300 {
        let (p, in_place) = block_depthwise(&mut r);
        let mut ops = operands(&p, &mut r);
        ops.shift
            .iter_mut()
            .for_each(|s| *s = r.range_i32(-20, -1) as i8);
        if r.below(2) == 0 {
            ops.lut.clear();
        }
        if !ops.identity.is_empty() && r.below(3) == 0 {
            let c = p.output.c as usize;
            let m = Conv::MAX_IDENTITY;
            ops.identity = words(&(0..c).map(|o| [m, -m][o % 2]).collect::<Vec<_>>());
        }
        let x = random_input(p.input, &mut r);
        every_form(&p, &ops.args(&x), &x, in_place, case);
    }
}

/// The widening 1x1 on the tier's four-pixel tile
/// (`kernels::wide_pointwise::widen_row`, the stage-1/2 downsample
/// `proj.1`): channel counts around the tiles (multiples of 4, 8 and 16,
/// FastViT-T8's 96 and 192, odd ones the tile declines), rows of 1..=9
/// pixels (groups of four and tails), extreme inputs and weights, the
/// identity tap and int16 table; over its input from either end, against
/// the reference `conv_widen_in_place` bit for bit.
#[test]
fn pointwise_widen_tile_equals_the_reference() {
    let mut r = Gen::new(0x1f16);
    let sizes: [usize; 13] = [4, 8, 12, 16, 20, 32, 48, 96, 100, 192, 384, 3, 17];
    for case in 0..160 {
        let cin = sizes[case % sizes.len()];
        let cout = if r.below(3) == 0 {
            cin.div_ceil(2) + r.below(cin)
        } else {
            cin
        };
        let (h, w) = (1 + r.below(3), 1 + r.below(9));
        let mut p = bare_conv(
            bare_tensor(h, w, cin, Elem::I8),
            bare_tensor(h, w, cout, Elem::I16),
            (1, 1, 0),
            1,
        );
        p.in_zp = r.range_i32(-128, 127);
        p.out_zp = r.range_i32(-400, 400);
        let mut ops = operands(&p, &mut r);
        let mut x = r.i8s(h * w * cin);
        if case % 5 == 0 {
            // Extremes: every product at its largest magnitude.
            ops.weights.iter_mut().for_each(|v| *v = -128);
            x.iter_mut()
                .for_each(|v| *v = if r.below(2) == 0 { -128 } else { 127 });
        }
        let a = ops.args(&x);
        let expected = out_of_place(&p, &a, case);
        for end_aligned in [false, true] {
            let at = if end_aligned {
                expected.len() - x.len()
            } else {
                0
            };
            let mut d0 = vec![5i8; expected.len()];
            d0[at..at + x.len()].copy_from_slice(&x);
            let mut d1 = d0.clone();
            let (mut r0, mut r1) = (vec![0i8; w * cin], vec![0i8; w * cin]);
            conv_widen_in_place(&p, &a, &mut d0, &mut r0, end_aligned);
            assert!(wide::conv_widen_in_place(
                &p,
                &a,
                &mut d1,
                &mut r1,
                end_aligned
            ));
            assert_eq!(
                d0, d1,
                "case {case} ({cin} -> {cout}, w {w}), end aligned {end_aligned}"
            );
            assert_eq!(expected, d1, "case {case} widened vs apart");
        }
    }
}

/// The int16 -> int16 1x1 in place (`kernels::wide_pointwise`, the
/// stage-3 downsample `proj.1`) against the reference `conv_in_place`
/// (i64 sums) bit for bit, taken exactly when its i32 bound holds: channel
/// counts around every tier's step (multiples of 4 and 8, odd ones,
/// FastViT-T8's 384), rows of 1..=9 pixels, the int16 range with its
/// extremes, weights at -128, the identity tap and int16 table, sums at
/// the bound.
#[test]
fn pointwise_int16_in_place_equals_the_reference() {
    use runtime::kernels::wide_pointwise::{fits_i16, MAX_C};
    let mut r = Gen::new(0x1616_0001);
    let sizes: [usize; 14] = [8, 16, 24, 32, 96, 384, 4, 12, 20, 1, 3, 9, 17, 40];
    let mut taken = 0;
    for case in 0..200 {
        let c = sizes[case % sizes.len()];
        let (h, w) = (1 + r.below(3), 1 + r.below(9));
        let mut p = bare_conv(
            bare_tensor(h, w, c, Elem::I16),
            bare_tensor(h, w, c, Elem::I16),
            (1, 1, 0),
            1,
        );
        p.out_zp = r.range_i32(-400, 400);
        let mut ops = operands(&p, &mut r);
        // Half the identity weights' range for the widest (else the bound
        // declines most of them).
        if c == MAX_C && !ops.identity.is_empty() {
            ops.identity = words(&r.i32s(c, -(1 << 12), 1 << 12));
        }
        let mut x = random_input(p.input, &mut r);
        if case % 4 == 0 {
            // Extremes: weights -128, inputs -32768 or 32767, and the bias
            // up to what the bound leaves (the i32 sums reach it).
            ops.weights.iter_mut().for_each(|v| *v = -128);
            for i in 0..p.input.len() {
                let v = if r.below(4) == 0 { 32767 } else { -32768 };
                Elem::I16.store(&mut x, i, v);
            }
            if ops.identity.is_empty() {
                let room = i32::MAX as i64 - (c as i64) * (1 << 22);
                let b: Vec<i32> = (0..c)
                    .map(|o| {
                        if o % 2 == 0 {
                            room as i32
                        } else {
                            -(room as i32)
                        }
                    })
                    .collect();
                ops.bias = words(&b);
            }
        }
        let a = ops.args(&x);
        let row = w * 2 * c;
        let (mut d0, mut d1) = (x.clone(), x.clone());
        let (mut r0, mut r1) = (vec![0i8; row], vec![0i8; row]);
        conv_in_place(&p, &a, &mut d0, &mut r0);
        let fits = fits_i16(&p, &a);
        let done = wide::conv_in_place(&p, &a, &mut d1, &mut r1);
        // `c == 1` is also a depthwise conv, which `wide` takes anyway.
        assert!(
            done == fits || c == 1,
            "case {case}: taken {done}, fits {fits}"
        );
        if !done {
            conv_in_place(&p, &a, &mut d1, &mut r1);
        }
        taken += usize::from(fits);
        assert_eq!(d0, d1, "case {case}: {c} channels, w {w}, fits {fits}");
    }
    assert!(taken > 150, "only {taken} cases took the fast form");
}

/// [`fits_i16`](runtime::kernels::wide_pointwise::fits_i16) declines what
/// its i32 sums cannot take: a bias one past the bound, a nonzero input
/// zero point, more than `MAX_C` channels, an int8 input or output.
#[test]
fn pointwise_int16_in_place_declines() {
    use runtime::kernels::wide_pointwise::{fits_i16, MAX_C};
    let c = 32;
    let p = bare_conv(
        bare_tensor(2, 4, c, Elem::I16),
        bare_tensor(2, 4, c, Elem::I16),
        (1, 1, 0),
        1,
    );
    let room = i32::MAX - (c as i32) * (1 << 22);
    let ops = |bias: i32, identity: Vec<u8>| Operands {
        weights: vec![-128; c * c],
        bias: words(&vec![bias; c]),
        mult: vec![0x40; 2 * c],
        shift: vec![-3; c],
        lut: vec![],
        identity,
    };
    let x = vec![0i8; 2 * 8 * c];
    assert!(fits_i16(&p, &ops(room, vec![]).args(&x)));
    assert!(fits_i16(&p, &ops(-room, vec![]).args(&x)));
    assert!(!fits_i16(&p, &ops(room + 1, vec![]).args(&x)));
    let id = words(&vec![room / 32768; c]);
    assert!(fits_i16(&p, &ops(0, id).args(&x)));
    let id = words(&vec![room / 32768 + 1; c]);
    assert!(!fits_i16(&p, &ops(0, id).args(&x)));
    let mut q = p;
    q.in_zp = 1;
    assert!(!fits_i16(&q, &ops(0, vec![]).args(&x)));
    for e in [(Elem::I8, Elem::I16), (Elem::I16, Elem::I8)] {
        let mut q = p;
        (q.input.elem, q.output.elem) = e;
        assert!(!fits_i16(&q, &ops(0, vec![]).args(&x)));
    }
    let wide_c = MAX_C + 4;
    let q = bare_conv(
        bare_tensor(1, 4, wide_c, Elem::I16),
        bare_tensor(1, 4, wide_c, Elem::I16),
        (1, 1, 0),
        1,
    );
    let o = Operands {
        weights: vec![0; wide_c * wide_c],
        bias: words(&vec![0; wide_c]),
        mult: vec![0x40; 2 * wide_c],
        shift: vec![-3; wide_c],
        lut: vec![],
        identity: vec![],
    };
    assert!(!fits_i16(&q, &o.args(&x)));
}
