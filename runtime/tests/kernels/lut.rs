//! `Layer::Lut`, in and out of place, against the table lookup.

use proptest::prelude::*;
use runtime::{Error, Layer, Lut};

use crate::harness::*;

/// A table over `input`, the output apart or (`at.alias`) in place.
#[derive(Clone, Debug)]
pub struct LutCase {
    pub input: Vec<i8>,
    pub table: Vec<i8>,
    pub at: Elementwise,
}

impl LutCase {
    pub fn new(
        input: Vec<i8>,
        table: Vec<i8>,
        in_place: bool,
        (shape, layout): ((usize, usize, usize), Layout),
    ) -> Self {
        let alias = in_place.then_some(0);
        LutCase {
            input,
            table,
            at: Elementwise {
                shape,
                layout,
                alias,
            },
        }
    }

    pub fn run(&self) -> Result<Vec<i8>, Error> {
        self.at.run(&[&self.input], |i, output, blob| {
            Layer::Lut(Lut {
                input: i[0],
                output,
                table: blob.i8s(&self.table),
            })
        })
    }
}

pub fn naive_lut(table: &[i8], input: &[i8]) -> Vec<i8> {
    input.iter().map(|&x| look(table, x)).collect()
}

pub fn lut_case(in_place: bool) -> impl Strategy<Value = LutCase> {
    (1usize..=12, 1usize..=12, 1usize..=24).prop_flat_map(move |(h, w, c)| {
        (i8s(h * w * c), table(), layout(2)).prop_map(move |(input, table, layout)| {
            LutCase::new(input, table, in_place, ((h, w, c), layout))
        })
    })
}

/// Out of place and in place (the output over the input).
#[test]
fn lut_out_of_place_and_in_place() {
    for (in_place, name) in [(false, "lut"), (true, "lut in place")] {
        check(96, lut_case(in_place), |case| {
            let got = ran(case.run())?;
            prop_same(
                name,
                case.at.shape,
                &naive_lut(&case.table, &case.input),
                &got,
            )
        });
    }
}

#[test]
fn lut_every_index() {
    // Every int8 value through a table that records its index.
    let table: Vec<i8> = (0..256).map(|i| (i as u8).wrapping_mul(37) as i8).collect();
    let input: Vec<i8> = (-128..=127).collect();
    let expected: Vec<i8> = (0..256).map(|i| (i as u8).wrapping_mul(37) as i8).collect();
    for in_place in [false, true] {
        let at = ((1, 1, 256), Layout::fixed(2, 5));
        let case = LutCase::new(input.clone(), table.clone(), in_place, at);
        assert_same("lut every index", &expected, &case.run().unwrap());
    }
}
