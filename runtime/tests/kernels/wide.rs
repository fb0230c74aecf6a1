//! int16 operands: the global pool and the fully connected layer (the head
//! codegen stores with 16 bits), the logits buffer's width, and the refusal
//! of int16 tensors by int8-only layers.

use proptest::collection::vec;
use proptest::prelude::*;
use runtime::{Elem, Error, GlobalAvgPool, Layer, Model, TensorRef};
use testkit::layers_model;

use crate::conv_params::ConvParams;
use crate::harness::*;
use crate::squeeze_excite::{fc_geometry, fc_params};

fn wide(t: TensorRef) -> TensorRef {
    TensorRef {
        elem: Elem::I16,
        ..t
    }
}

fn le_bytes(v: &[i16]) -> Vec<i8> {
    v.iter()
        .flat_map(|x| x.to_le_bytes())
        .map(|b| b as i8)
        .collect()
}

/// Exact model: i64 sums, the i128 requantization, saturation to `elem`.
fn rq_to(acc: i64, m: i32, shift: i32, zp: i32, elem: Elem) -> i32 {
    let (lo, hi) = elem.range();
    (rq(acc, m, shift) + i64::from(zp)).clamp(lo.into(), hi.into()) as i32
}

/// Runs one layer as a model whose output is `output`, into an i16 buffer.
fn run_one(
    blob: &[u8],
    layer: Layer,
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
) -> Result<Vec<i16>, Error> {
    run_layers(blob, &[layer], input, output, arena)
}

/// Runs `layers` as a model whose input is `input` and output
/// `output`, on a copy of `arena`; the logits buffer is i16, so it holds
/// int8 and int16 outputs alike.
pub fn run_layers(
    blob: &[u8],
    layers: &[Layer],
    input: TensorRef,
    output: TensorRef,
    arena: &[i8],
) -> Result<Vec<i16>, Error> {
    let model = layers_model(blob, layers, input, output, arena.len());
    let image = arena[input.offset as usize..input.end()].to_vec();
    let mut work = arena.to_vec();
    let mut out = vec![0i16; output.len()];
    model.run_normalized(&mut work, &image, &mut out, |_, _| {})?;
    Ok(out)
}

/// A fully connected layer from int16 `x` (zero point 0) to int16 logits.
fn fc_case(p: &ConvParams, x: &[i16], seed: u64) -> (Vec<i16>, Vec<i16>) {
    let (off, mut arena) = Layout::fixed(2, seed).place(&[2 * p.g.cin, 2 * p.g.cout]);
    let (i, o) = (
        wide(tensor(off[0], 1, 1, p.g.cin)),
        wide(tensor(off[1], 1, 1, p.g.cout)),
    );
    arena[i.offset as usize..i.end()].copy_from_slice(&le_bytes(x));
    let mut blob = Blob::new();
    let mut p = p.clone();
    p.in_zp = 0;
    let layer = Layer::FullyConnected(p.fully_connected(&mut blob, i, o));
    let got = run_one(&blob.0, layer, i, o, &arena).unwrap();
    let expected = (0..p.g.cout)
        .map(|o| {
            let acc = (0..p.g.cin).fold(i64::from(p.bias[o]), |a, i| {
                a + i64::from(p.weights[o * p.g.cin + i]) * i64::from(x[i])
            });
            rq_to(acc, p.mult[o], p.shift[o], p.out_zp, Elem::I16) as i16
        })
        .collect();
    (expected, got)
}

#[test]
fn fully_connected_int16_in_and_out() {
    // Up to 1024 inputs: full-scale sums leave i32 (the kernel sums in i64).
    let case = (1usize..=1024, 1usize..=8)
        .prop_flat_map(|(cin, cout)| (fc_params(cin, cout), vec(any::<i16>(), cin), any::<u64>()));
    check(96, case, |(p, x, seed)| {
        let (expected, got) = fc_case(&p, &x, seed);
        testkit::prop_same("int16 fully connected", &expected, &got)
    });
}

#[test]
fn fully_connected_int16_saturates_at_the_int16_range() {
    let mut g = Gen::new(7);
    let mut p = ConvParams::seeded(fc_geometry(16, 8), &mut g);
    // A scale of 2^10: most outputs leave the int16 range on either side.
    p.mult.fill(1 << 30);
    p.shift.fill(11);
    p.out_zp = 0;
    let x: Vec<i16> = (0..16)
        .map(|i| if i % 2 == 0 { 32767 } else { -32768 })
        .collect();
    let (expected, got) = fc_case(&p, &x, 1);
    assert_same("saturating int16 fc", &expected, &got);
    assert!(got.iter().any(|&v| v == i16::MAX || v == i16::MIN));
}

#[test]
fn fully_connected_sums_beyond_i32() {
    // 1024 x 127 x 32767 = 4.26e9 > 2^31: exact only with a wider sum.
    let mut g = Gen::new(9);
    let mut p = ConvParams::seeded(fc_geometry(1024, 2), &mut g);
    p.weights.fill(127);
    p.weights[1024..].fill(-128);
    p.bias.fill(0);
    p.mult.fill(1 << 30);
    p.shift.fill(-20); // a scale of 2^-21
    p.out_zp = 0;
    let (expected, got) = fc_case(&p, &[i16::MAX; 1024], 2);
    assert_same("fc beyond i32", &expected, &got);
    assert_eq!(got, [2032, -2048]); // 4.26e9 / 2^21 and -4.29e9 / 2^21
}

#[test]
fn global_pool_int8_to_int16() {
    let case = (1usize..=8, 1usize..=8, 1usize..=24).prop_flat_map(|(h, w, c)| {
        (
            Just((h, w, c)),
            i8s(h * w * c),
            zp(),
            vec(stored_multiplier(), c),
            vec(-4i32..=12, c),
            any::<u64>(),
        )
    });
    check(96, case, |((h, w, c), x, in_zp, mult, shift, seed)| {
        let (off, mut arena) = Layout::fixed(2, seed).place(&[h * w * c, 2 * c]);
        let (i, o) = (tensor(off[0], h, w, c), wide(tensor(off[1], 1, 1, c)));
        write(&mut arena, i, &x);
        let mut blob = Blob::new();
        let layer = Layer::GlobalAvgPool(GlobalAvgPool {
            input: i,
            in_zp,
            output: o,
            out_zp: 0,
            requant: blob.requant(&mult, &shift),
        });
        let got = ran(run_one(&blob.0, layer, i, o, &arena))?;
        let expected: Vec<i16> = (0..c)
            .map(|ch| {
                let s: i64 = (0..h * w)
                    .map(|p| i64::from(x[p * c + ch]) - i64::from(in_zp))
                    .sum();
                rq_to(s, mult[ch], shift[ch], 0, Elem::I16) as i16
            })
            .collect();
        testkit::prop_same("int8 -> int16 global pool", &expected, &got)
    });
}

#[test]
fn int16_logits_need_an_int16_buffer_and_int8_widen() {
    let mut g = Gen::new(3);
    let p = ConvParams::seeded(fc_geometry(4, 3), &mut g);
    let (off, arena) = Layout::fixed(2, 5).place(&[4, 6]);
    let (i, o) = (tensor(off[0], 1, 1, 4), wide(tensor(off[1], 1, 1, 3)));
    let mut blob = Blob::new();
    let layer = Layer::FullyConnected(p.fully_connected(&mut blob, i, o));
    // The same layer with int8 logits (below).
    let o8 = TensorRef {
        elem: Elem::I8,
        ..o
    };
    let layer8 = Layer::FullyConnected(p.fully_connected(&mut blob, i, o8));
    let layers = [layer];
    let model = layers_model(&blob.0, &layers, i, o, arena.len());
    let image = [1i8, 2, 3, 4];
    let mut narrow = [0i8; 3];
    assert_eq!(
        model.run_normalized(&mut arena.clone(), &image, &mut narrow, |_, _| {}),
        Err(Error::OutputWidth {
            expected: 16,
            got: 8
        })
    );
    let mut logits = [0i16; 3];
    model
        .run_normalized(&mut arena.clone(), &image, &mut logits, |_, _| {})
        .unwrap();
    // int8 logits read into an i16 buffer are widened.
    let model8 = Model {
        weights: &blob.0,
        layers: &[layer8],
        stem_normalized: layer8,
        output: o8,
        ..model
    };
    let (mut a, mut b) = ([0i8; 3], [0i16; 3]);
    model8
        .run_normalized(&mut arena.clone(), &image, &mut a, |_, _| {})
        .unwrap();
    model8
        .run_normalized(&mut arena.clone(), &image, &mut b, |_, _| {})
        .unwrap();
    assert_eq!(a.map(i16::from), b);
}

#[test]
fn int8_only_layers_refuse_int16_tensors() {
    let mut blob = Blob::new();
    let table = blob.i8s(&[0; 256]);
    let (i, o) = (tensor(0, 1, 1, 4), tensor(8, 1, 1, 4));
    for (input, output) in [(wide(i), o), (i, wide(o))] {
        let lut = Layer::Lut(runtime::Lut {
            input,
            output,
            table,
        });
        assert!(!lut.elems_supported());
        let layers = [lut];
        let model = layers_model(&blob.0, &layers, input, output, 16);
        let mut out = [0i16; 4];
        let image = vec![0i8; input.bytes()];
        assert_eq!(
            model.run_normalized(&mut [0i8; 16], &image, &mut out, |_, _| {}),
            Err(Error::InvalidLayer { layer: 0 })
        );
    }
}
