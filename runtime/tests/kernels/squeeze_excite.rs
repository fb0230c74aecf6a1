//! `Layer::SqueezeExcite` (pool, two fully connected, hard sigmoid, scale).

use proptest::collection::vec;
use proptest::prelude::*;
use runtime::{Error, Layer, SqueezeExcite, TensorRef};

use crate::conv::conv_params;
use crate::harness::*;

/// The geometry of a fully connected layer's parameters: a 1x1 conv over
/// one pixel ([`ConvParams`], no padding values or table).
pub fn fc_geometry(cin: usize, cout: usize) -> Geometry {
    Geometry::drawn((1, 1), (cin, cout, 1), (1, 1, 0)).expect("a 1x1 conv fits one pixel")
}

/// `y[o] = rq_i8(bias[o] + sum_i w[o][i] (x[i] - in_zp))`, optionally floored at `out_zp`.
pub fn naive_fc(p: &ConvParams, x: &[i8], relu: bool, tally: &Tally) -> Vec<i8> {
    let cin = p.g.cin;
    assert_eq!(x.len(), cin);
    let mut acc: Vec<i64> = p.bias.iter().map(|&b| i64::from(b)).collect();
    for (i, &xi) in x.iter().enumerate() {
        let d = i64::from(xi) - i64::from(p.in_zp);
        for (o, a) in acc.iter_mut().enumerate() {
            *a += i64::from(p.weights[o * cin + i]) * d;
        }
    }
    acc.iter()
        .enumerate()
        .map(|(o, &a)| {
            let y = rq_i8(acc32(a), p.mult[o], p.shift[o], p.out_zp, tally);
            if relu {
                y.max(p.out_zp as i8)
            } else {
                y
            }
        })
        .collect()
}

pub fn fc_params(cin: usize, cout: usize) -> impl Strategy<Value = ConvParams> {
    conv_params(fc_geometry(cin, cout), Just(None), Just(None))
}

#[derive(Clone, Debug)]
pub struct SeParams {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub in_zp: i32,
    /// Pool requantization, one multiplier and shift per channel.
    pub pool: PerChannel,
    /// fc1: `c -> reduced`, `in_zp` = pool_zp, `out_zp` = hid_zp.
    pub fc1: ConvParams,
    /// fc2: `reduced -> c`, `in_zp` = hid_zp, `out_zp` = gate_zp.
    pub fc2: ConvParams,
    pub sigmoid: Vec<i8>,
    /// Output requantization, one multiplier and shift per channel.
    pub scale: PerChannel,
    pub out_zp: i32,
    pub lut: Option<Vec<i8>>,
}

#[derive(Default)]
pub struct SeTally {
    pub pool: Tally,
    pub hidden: Tally,
    pub gate: Tally,
    pub out: Tally,
}

/// The four steps of the contract, channel-major; the pool and output
/// requantizations use channel `ch`'s multiplier and shift.
pub fn naive_se(p: &SeParams, input: &[i8], t: &SeTally) -> Vec<i8> {
    let (c, hw) = (p.c, p.h * p.w);
    assert_eq!(input.len(), hw * c);
    let pooled: Vec<i8> = (0..c)
        .map(|ch| {
            let sum: i64 = (0..hw)
                .map(|px| i64::from(input[px * c + ch]) - i64::from(p.in_zp))
                .sum();
            p.pool.rq_i8(sum, ch, p.fc1.in_zp, &t.pool)
        })
        .collect();
    let hidden = naive_fc(&p.fc1, &pooled, true, &t.hidden);
    let gate: Vec<i64> = naive_fc(&p.fc2, &hidden, false, &t.gate)
        .iter()
        .map(|&g| i64::from(look(&p.sigmoid, g)) + 128)
        .collect();
    let mut out = vec![0i8; input.len()];
    for (ch, &s) in gate.iter().enumerate() {
        for px in 0..hw {
            let i = px * c + ch;
            let d = i64::from(input[i]) - i64::from(p.in_zp);
            let y = p.scale.rq_i8(d * s, ch, p.out_zp, &t.out);
            out[i] = match &p.lut {
                Some(l) => look(l, y),
                None => y,
            };
        }
    }
    out
}

impl SeParams {
    pub fn seeded(h: usize, w: usize, c: usize, reduced: usize, g: &mut Gen) -> Self {
        let fc1 = ConvParams::seeded(fc_geometry(c, reduced), g);
        let mut fc2 = ConvParams::seeded(fc_geometry(reduced, c), g);
        fc2.in_zp = fc1.out_zp;
        SeParams {
            h,
            w,
            c,
            in_zp: g.zp(),
            pool: PerChannel {
                mult: g.mults(c),
                shift: g.i32s(c, -6, -2),
            },
            fc1,
            fc2,
            sigmoid: g.i8s(256),
            scale: PerChannel {
                mult: g.mults(c),
                shift: g.i32s(c, -10, -6),
            },
            out_zp: g.zp(),
            lut: None,
        }
    }

    pub fn layer(
        &self,
        blob: &mut Blob,
        input: TensorRef,
        output: TensorRef,
        scratch: usize,
    ) -> SqueezeExcite {
        SqueezeExcite {
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            reduced: self.fc1.g.cout as u16,
            pool_requant: self.pool.stored(blob),
            pool_zp: self.fc1.in_zp,
            fc1_weights: blob.i8s(&self.fc1.weights),
            fc1_bias: blob.i32s(&self.fc1.bias),
            fc1_requant: blob.requant(&self.fc1.mult, &self.fc1.shift),
            hid_zp: self.fc1.out_zp,
            fc2_weights: blob.i8s(&self.fc2.weights),
            fc2_bias: blob.i32s(&self.fc2.bias),
            fc2_requant: blob.requant(&self.fc2.mult, &self.fc2.shift),
            gate_zp: self.fc2.out_zp,
            sigmoid: blob.i8s(&self.sigmoid),
            scale_requant: self.scale.stored(blob),
            lut: blob.opt_i8s(self.lut.as_deref()),
            scratch: scratch as u32,
        }
    }

    pub fn run(&self, input: &[i8], layout: &Layout) -> Result<Vec<i8>, Error> {
        let n = self.h * self.w * self.c;
        let scratch_len = SqueezeExcite::scratch_bytes(self.c, self.fc1.g.cout);
        let (off, mut arena) = layout.place(&[n, n, scratch_len]);
        let i = tensor(off[0], self.h, self.w, self.c);
        let o = tensor(off[1], self.h, self.w, self.c);
        write(&mut arena, i, input);
        let mut blob = Blob::new();
        let layer = Layer::SqueezeExcite(self.layer(&mut blob, i, o, off[2]));
        let scratch = (off[2], off[2] + scratch_len);
        run_single(&blob.0, layer, i, o, &arena, &[byte_range(o), scratch])
    }
}

#[derive(Clone, Debug)]
pub struct SeCase {
    pub p: SeParams,
    pub input: Vec<i8>,
    pub layout: Layout,
}

pub fn se_case() -> impl Strategy<Value = SeCase> {
    (1usize..=12, 1usize..=12, 1usize..=24, 1usize..=8).prop_flat_map(|(h, w, c, r)| {
        (
            (
                i8s(h * w * c),
                zp(),
                vec(stored_multiplier(), c),
                vec(-12i32..=-2, c),
            ),
            (fc_params(c, r), fc_params(r, c)),
            (
                table(),
                vec(stored_multiplier(), c),
                vec(-12i32..=-4, c),
                zp(),
            ),
            (proptest::option::of(table()), layout(3)),
        )
            .prop_map(
                move |(
                    (input, in_zp, mult, shift),
                    (fc1, mut fc2),
                    (sigmoid, scale_mult, scale_shift, out_zp),
                    (lut, layout),
                )| {
                    fc2.in_zp = fc1.out_zp;
                    SeCase {
                        p: SeParams {
                            h,
                            w,
                            c,
                            in_zp,
                            pool: PerChannel { mult, shift },
                            fc1,
                            fc2,
                            sigmoid,
                            scale: PerChannel {
                                mult: scale_mult,
                                shift: scale_shift,
                            },
                            out_zp,
                            lut,
                        },
                        input,
                        layout,
                    }
                },
            )
    })
}

#[test]
fn squeeze_excite_random() {
    let t = SeTally::default();
    check(96, se_case(), |case| {
        let expected = naive_se(&case.p, &case.input, &t);
        let got = ran(case.p.run(&case.input, &case.layout))?;
        prop_same(
            "squeeze-excite",
            (case.p.h, case.p.w, case.p.c),
            &expected,
            &got,
        )
    });
    t.pool.assert_mixed("se pool", 20);
    t.hidden.assert_mixed("se fc1", 20);
    t.gate.assert_mixed("se fc2", 20);
    t.out.assert_mixed("se output", 20);
}

#[test]
fn squeeze_excite_edge_cases() {
    // (h, w, c, reduced)
    for (i, &(h, w, c, r)) in [
        (1, 1, 1, 1),
        (1, 1, 7, 3),
        (12, 12, 24, 8),
        (3, 5, 13, 0),
        (2, 2, 1, 5),
    ]
    .iter()
    .enumerate()
    {
        for (in_zp, out_zp) in [(0, 0), (-128, 127), (127, -128), (-128, -128), (127, 127)] {
            for with_lut in [false, true] {
                let mut g = Gen::new(i as u64);
                let mut p = SeParams::seeded(h, w, c, r, &mut g);
                p.in_zp = in_zp;
                p.out_zp = out_zp;
                p.lut = with_lut.then(|| g.i8s(256));
                let input = g.i8s(h * w * c);
                let expected = naive_se(&p, &input, &SeTally::default());
                let got = p.run(&input, &Layout::fixed(3, i as u64)).unwrap();
                assert_same(
                    &format!("se {h}x{w}x{c} r{r} zp {in_zp}/{out_zp}"),
                    &expected,
                    &got,
                );
            }
        }
    }
}

#[test]
fn squeeze_excite_all_saturating_outputs() {
    let mut g = Gen::new(11);
    let mut p = SeParams::seeded(4, 4, 6, 2, &mut g);
    p.scale.shift.fill(30);
    p.scale.mult.fill(MAX_MULT);
    // Sigmoid of zero is impossible: s + 128 >= 1.
    p.sigmoid = g.i8s(256).iter().map(|&s| s.max(-127)).collect();
    let input: Vec<i8> = g
        .i8s(96)
        .iter()
        .map(|&x| if i32::from(x) == p.in_zp { x ^ 1 } else { x })
        .collect();
    let t = SeTally::default();
    let expected = naive_se(&p, &input, &t);
    assert_eq!(t.out.clamped.get(), 96, "expected every output to saturate");
    assert_same(
        "se saturating",
        &expected,
        &p.run(&input, &Layout::fixed(3, 11)).unwrap(),
    );
}

/// Scratch (2c + reduced bytes) larger than a u16: the layer is valid and must
/// run, or at worst be rejected, never panic.
#[test]
fn squeeze_excite_scratch_over_64k() {
    let (c, r) = (33_000, 1);
    let mut g = Gen::new(12);
    let p = SeParams::seeded(1, 1, c, r, &mut g);
    let input = g.i8s(c);
    let expected = naive_se(&p, &input, &SeTally::default());
    let got = p.run(&input, &Layout::fixed(3, 12)).unwrap();
    assert_same("se with 33000 channels", &expected, &got);
}

/// The output requantization is indexed by channel (not by pixel, not
/// channel 0 for all): gate `s + 128 = 1`, `x - in_zp = 64` everywhere and
/// scale `2^30 * 2^(-ch - 31)` = `2^-(ch + 1)`, so channel `ch` holds
/// `floor(64 / 2^(ch + 1) + 1/2)` at every pixel.
#[test]
fn squeeze_excite_per_channel_scale() {
    let (h, w, c) = (2, 3, 8);
    let mut g = Gen::new(13);
    let mut p = SeParams::seeded(h, w, c, 3, &mut g);
    p.sigmoid = vec![-127; 256];
    p.in_zp = -10;
    p.out_zp = 0;
    p.scale.mult = vec![1 << 30; c];
    p.scale.shift = (0..c).map(|ch| -(ch as i32)).collect();
    let per_pixel = [32i8, 16, 8, 4, 2, 1, 1, 0];
    let expected = per_pixel.repeat(h * w);
    assert_same(
        "se per-channel scale (naive)",
        &expected,
        &naive_se(&p, &vec![54; h * w * c], &SeTally::default()),
    );
    for (i, order) in [vec![0, 1, 2], vec![2, 1, 0]].into_iter().enumerate() {
        let layout = Layout {
            order,
            gap: i,
            seed: 13,
        };
        assert_same(
            "se per-channel scale",
            &expected,
            &p.run(&vec![54; h * w * c], &layout).unwrap(),
        );
    }
}

/// Pool and output requantizations with shifts at both ends of the contract
/// (t = 62 and t = 1) and zero multipliers, mixed across channels.
#[test]
fn squeeze_excite_per_channel_requant_extremes() {
    let (h, w, c) = (3, 2, 8);
    for seed in 0..4 {
        let mut g = Gen::new(20 + seed);
        let mut p = SeParams::seeded(h, w, c, 4, &mut g);
        if seed % 2 == 0 {
            p.pool = PerChannel::extremes();
        } else {
            p.scale = PerChannel::extremes();
        }
        p.lut = (seed >= 2).then(|| g.i8s(256));
        let input = g.i8s(h * w * c);
        let expected = naive_se(&p, &input, &SeTally::default());
        let got = p.run(&input, &Layout::fixed(3, seed)).unwrap();
        assert_same(&format!("se extreme requant, seed {seed}"), &expected, &got);
    }
}
