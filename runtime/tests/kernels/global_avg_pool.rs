//! `Layer::GlobalAvgPool`.

use proptest::collection::vec;
use proptest::prelude::*;
use runtime::{Error, GlobalAvgPool, Layer, TensorRef};

use crate::harness::*;

#[derive(Clone, Debug)]
pub struct GapCase {
    pub shape: (usize, usize, usize),
    pub input: Vec<i8>,
    pub in_zp: i32,
    pub out_zp: i32,
    pub requant: PerChannel,
    pub layout: Layout,
}

impl GapCase {
    pub fn run(&self) -> Result<Vec<i8>, Error> {
        let (h, w, c) = self.shape;
        let (off, mut arena) = self.layout.place(&[h * w * c, c]);
        let (i, o) = (tensor(off[0], h, w, c), tensor(off[1], 1, 1, c));
        write(&mut arena, i, &self.input);
        let mut blob = Blob::new();
        let layer = Layer::GlobalAvgPool(self.layer(&mut blob, i, o));
        run_single(&blob.0, layer, i, o, &arena, &[byte_range(o)])
    }

    pub fn layer(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> GlobalAvgPool {
        GlobalAvgPool {
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            requant: self.requant.stored(blob),
        }
    }

    pub fn naive(&self, tally: &Tally) -> Vec<i8> {
        let (h, w, c) = self.shape;
        let mut sums = vec![0i64; c];
        for y in 0..h {
            for x in 0..w {
                for (ch, s) in sums.iter_mut().enumerate() {
                    *s += i64::from(self.input[(y * w + x) * c + ch]) - i64::from(self.in_zp);
                }
            }
        }
        sums.iter()
            .enumerate()
            .map(|(ch, &s)| self.requant.rq_i8(s, ch, self.out_zp, tally))
            .collect()
    }
}

pub fn gap_case() -> impl Strategy<Value = GapCase> {
    (1usize..=12, 1usize..=12, 1usize..=24).prop_flat_map(|(h, w, c)| {
        (
            i8s(h * w * c),
            zp(),
            zp(),
            vec(stored_multiplier(), c),
            vec(shift(), c),
            layout(2),
        )
            .prop_map(move |(input, in_zp, out_zp, mult, shift, layout)| GapCase {
                shape: (h, w, c),
                input,
                in_zp,
                out_zp,
                requant: PerChannel { mult, shift },
                layout,
            })
    })
}

#[test]
fn global_avg_pool_random() {
    let tally = Tally::default();
    check(128, gap_case(), |case| {
        let got = ran(case.run())?;
        let c = case.shape.2;
        prop_same("global avg pool", (1, 1, c), &case.naive(&tally), &got)
    });
    tally.assert_mixed("global avg pool", 20);
}

#[test]
fn global_avg_pool_edge_cases() {
    for (i, &(h, w, c)) in [(1, 1, 1), (1, 1, 24), (12, 12, 7), (1, 12, 3), (12, 1, 5)]
        .iter()
        .enumerate()
    {
        for (in_zp, out_zp, shift) in [
            (-128, 127, -6),
            (127, -128, -6),
            (-128, -128, 30),
            (127, 127, 30),
            (0, 0, -31),
        ] {
            let mut g = Gen::new(i as u64);
            let case = GapCase {
                shape: (h, w, c),
                input: g.i8s(h * w * c),
                in_zp,
                out_zp,
                requant: PerChannel {
                    mult: g.mults(c),
                    shift: vec![shift; c],
                },
                layout: Layout::fixed(2, i as u64),
            };
            let expected = case.naive(&Tally::default());
            assert_same(
                &format!("gap {h}x{w}x{c} {in_zp} {out_zp} {shift}"),
                &expected,
                &case.run().unwrap(),
            );
        }
    }
}

/// The requantization is indexed by channel: `x - in_zp = 16` at both pixels
/// (sum 32) and scale `2^-(ch + 2)` in channel `ch` (hand-computed), then
/// shifts at both ends of the contract and zero multipliers mixed across
/// channels (against the naive model).
#[test]
fn global_avg_pool_per_channel_requant() {
    let (h, w, c) = (2, 1, 8);
    let case = GapCase {
        shape: (h, w, c),
        input: vec![9; h * w * c],
        in_zp: -7,
        out_zp: 0,
        requant: PerChannel {
            mult: vec![1 << 30; c],
            shift: (0..c).map(|ch| -1 - ch as i32).collect(),
        },
        layout: Layout::fixed(2, 14),
    };
    let expected = [8i8, 4, 2, 1, 1, 0, 0, 0];
    assert_same(
        "gap per-channel (naive)",
        &expected,
        &case.naive(&Tally::default()),
    );
    assert_same("gap per-channel", &expected, &case.run().unwrap());

    let mut g = Gen::new(15);
    let case = GapCase {
        shape: (5, 4, c),
        input: g.i8s(5 * 4 * c),
        in_zp: g.zp(),
        out_zp: g.zp(),
        requant: PerChannel::extremes(),
        layout: Layout::fixed(2, 15),
    };
    assert_same(
        "gap extreme per-channel requant",
        &case.naive(&Tally::default()),
        &case.run().unwrap(),
    );
}
