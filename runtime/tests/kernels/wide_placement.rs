//! The placements that let a stage's int16 residual stream share the arena
//! with the int8 tensors around it: a widening 1x1 written over its input
//! from either end (`WidenInPlace`) and a narrowing downsampling conv
//! written ahead of its input (`WriteAhead`), against the exact model, and
//! their refusals when the tensors are not where the form needs them.

use runtime::{Conv, ConvVariant, Elem, Error, Layer};

use crate::conv_params::{ConvParams, Geometry};
use crate::harness::*;
use crate::wide_conv::{encode, exact, exact_with_identity, run, with, Int16Overlap};

/// A widening 1x1 (`h x w`, `cin -> cout`, int8 in, int16 out, identity
/// taps when `cin == cout`) run over its input, sharing its first byte or
/// (`end_aligned`) its last.
fn widen(seed: u64, (h, w, cin, cout): (usize, usize, usize, usize), end_aligned: bool) {
    let mut g = Gen::new(seed);
    let s = Geometry::drawn((h, w), (cin, cout, 1), (1, 1, 0)).unwrap();
    let p = ConvParams::seeded(s, &mut g);
    let x: Vec<i32> = (0..h * w * cin).map(|_| g.range_i32(-128, 127)).collect();
    let id: Vec<i32> = if cin == cout {
        (0..cout)
            .map(|_| g.range_i32(-Conv::MAX_IDENTITY, Conv::MAX_IDENTITY))
            .collect()
    } else {
        Vec::new()
    };
    let (n_in, n_out) = (x.len(), h * w * cout * 2);
    let (off, mut arena) = Layout::fixed(2, seed).place(&[n_out, w * cin]);
    let at = off[0] + if end_aligned { n_out - n_in } else { 0 };
    let (i, o) = (p.input(at), with(p.output(off[0]), Elem::I16));
    arena[i.offset as usize..i.end()].copy_from_slice(&encode(&x, Elem::I8));
    let mut blob = Blob::new();
    let identity = blob.i32s(&id);
    let variant = ConvVariant::WidenInPlace {
        scratch: off[1] as u32,
        end_aligned,
    };
    let c = Conv {
        identity,
        ..p.conv_as(&mut blob, i, o, |_| variant)
    };
    let got = run(&blob.0, &[Layer::Conv(c)], i, o, &arena).unwrap();
    let expected = exact_with_identity(&p, &x, Elem::I16, None, &id);
    let what = format!("widened in place, {h}x{w} {cin}->{cout}, end aligned {end_aligned}");
    assert_same(&what, &expected, &got);
}

#[test]
fn widening_1x1_over_its_input_from_either_end() {
    // proj.1's shape in small (cin == cout, rows twice as long), more
    // output channels than input ones, and a single row.
    for (k, shape) in [(5, 7, 6, 6), (4, 3, 4, 10), (1, 9, 3, 3), (6, 1, 8, 8)]
        .into_iter()
        .enumerate()
    {
        for end_aligned in [false, true] {
            widen(60 + k as u64, shape, end_aligned);
        }
    }
}

#[test]
fn narrowing_downsample_written_ahead_of_its_input() {
    // A 3x3/s2 (and a 7x7/s2, proj.0's kernel) depthwise conv reading int16
    // and writing int8 rows ahead of its read position, bottom to top.
    for (seed, k, pad) in [(11u64, 3, 1), (12, 7, 3)] {
        let mut g = Gen::new(seed);
        let s = Geometry::drawn((12, 9), (5, 5, 5), (k, 2, pad)).unwrap();
        let p = ConvParams::seeded(s, &mut g);
        let x: Vec<i32> = (0..s.h * s.w * s.cin)
            .map(|_| g.range_i32(-32768, 32767))
            .collect();
        let conv = Int16Overlap::new(&p, &x, ConvVariant::WriteAhead);
        let ahead = conv.probe.write_ahead_bytes();
        assert!(ahead < conv.n_in, "the output overlaps the input");
        let len = (ahead + conv.n_out).max(conv.n_in);
        let got = conv.run(seed, len, (0, ahead)).unwrap();
        assert_same("int16 write-ahead", &exact(&p, &x, Elem::I8, None), &got);
        // One byte closer and the executor refuses it.
        let refused = conv.run(seed, len, (0, ahead - 1));
        assert!(
            matches!(refused, Err(Error::InvalidLayer { .. })),
            "{refused:?}"
        );
    }
}

#[test]
fn widening_in_place_is_refused_off_its_shared_byte() {
    let mut g = Gen::new(70);
    let s = Geometry::drawn((4, 4), (4, 4, 1), (1, 1, 0)).unwrap();
    let p = ConvParams::seeded(s, &mut g);
    let (n_in, n_out) = (64, 128);
    let (off, arena) = Layout::fixed(2, 70).place(&[n_out + 16, 16]);
    let mut blob = Blob::new();
    // (input offset, output offset, end aligned, input and output types):
    // none shares the byte its flag names, or the output is the narrower.
    let (i8, i16) = (Elem::I8, Elem::I16);
    let cases = [
        (off[0] + 1, off[0], false, i8, i16),
        (off[0] + n_out - n_in, off[0], false, i8, i16),
        (off[0], off[0], true, i8, i16),
        (off[0], off[0], false, i16, i8),
    ];
    for (at, out_at, end_aligned, ie, oe) in cases {
        let (i, o) = (with(p.input(at), ie), with(p.output(out_at), oe));
        let variant = ConvVariant::WidenInPlace {
            scratch: off[1] as u32,
            end_aligned,
        };
        let c = p.conv_as(&mut blob, i, o, |_| variant);
        let refused = run(&blob.0, &[Layer::Conv(c)], i, o, &arena);
        assert!(
            matches!(refused, Err(Error::InvalidLayer { .. })),
            "{at} {out_at} {end_aligned}: {refused:?}"
        );
    }
}
