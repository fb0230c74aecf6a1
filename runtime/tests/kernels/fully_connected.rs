//! `Layer::FullyConnected`.

use proptest::prelude::*;
use runtime::{Error, FullyConnected, Layer, TensorRef};

use crate::harness::*;
use crate::squeeze_excite::{fc_geometry, fc_params, naive_fc};

/// Fully connected layers from [`ConvParams`] of [`fc_geometry`].
impl ConvParams {
    pub fn fully_connected(
        &self,
        blob: &mut Blob,
        input: TensorRef,
        output: TensorRef,
    ) -> FullyConnected {
        FullyConnected {
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            weights: blob.i8s(&self.weights),
            bias: blob.i32s(&self.bias),
            requant: blob.requant(&self.mult, &self.shift),
        }
    }

    /// Runs the fully connected layer alone in an arena laid out by `layout`.
    pub fn run_fc(&self, input: &[i8], layout: &Layout) -> Result<Vec<i8>, Error> {
        let (cin, cout) = (self.g.cin, self.g.cout);
        let (off, mut arena) = layout.place(&[cin, cout]);
        let (i, o) = (tensor(off[0], 1, 1, cin), tensor(off[1], 1, 1, cout));
        write(&mut arena, i, input);
        let mut blob = Blob::new();
        let layer = Layer::FullyConnected(self.fully_connected(&mut blob, i, o));
        run_single(&blob.0, layer, i, o, &arena, &[byte_range(o)])
    }
}

#[test]
fn fully_connected_random() {
    let tally = Tally::default();
    let case = (1usize..=64, 1usize..=32)
        .prop_flat_map(|(cin, cout)| (fc_params(cin, cout), i8s(cin), layout(2)));
    check(128, case, |(p, input, layout)| {
        let got = ran(p.run_fc(&input, &layout))?;
        let expected = naive_fc(&p, &input, false, &tally);
        prop_same("fully connected", (1, 1, p.g.cout), &expected, &got)
    });
    tally.assert_mixed("fully connected", 20);
}

#[test]
fn fully_connected_edge_cases() {
    for (i, &(cin, cout)) in [(1, 1), (1, 17), (17, 1), (768, 10), (3, 1000)]
        .iter()
        .enumerate()
    {
        for (in_zp, out_zp, shift) in [
            (-128, 127, -12),
            (127, -128, -12),
            (0, 0, 30),
            (-128, -128, -31),
        ] {
            let mut g = Gen::new(i as u64);
            let mut p = ConvParams::seeded(fc_geometry(cin, cout), &mut g);
            p.in_zp = in_zp;
            p.out_zp = out_zp;
            p.shift.fill(shift);
            let input = g.i8s(cin);
            let expected = naive_fc(&p, &input, false, &Tally::default());
            let got = p.run_fc(&input, &Layout::fixed(2, i as u64)).unwrap();
            assert_same(
                &format!("fc {cin}->{cout} {in_zp} {out_zp} {shift}"),
                &expected,
                &got,
            );
        }
    }
}
