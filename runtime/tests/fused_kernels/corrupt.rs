//! Corrupt fused layers are rejected with `InvalidLayer`; random corruption
//! never panics.

use runtime::{Conv, ConvMlp, ConvVariant, Error, Layer, Stem, TensorRef};

use crate::conv_mlp::{Mlp, MlpCase};
use crate::harness::*;

/// A layer, its model input and output, and its arena size.
pub type Valid = (Layer, TensorRef, TensorRef, usize);

/// A small valid schedule of each new form, with its model input/output.
pub fn valid_layers() -> (Vec<u8>, Vec<Valid>) {
    let mut blob = Blob::new();
    let mut r = Gen::new(99);
    let mut out = Vec::new();

    let g = Geometry {
        h: 5,
        w: 4,
        cin: 3,
        cout: 3,
        groups: 3,
        k: 3,
        stride: 1,
        pad: 1,
    };
    let p = ConvParams::seeded(g, false, true, &mut r);
    let t = p.input(0);
    let mut conv = p.conv(&mut blob, t, t);
    conv.variant = ConvVariant::InPlace { scratch: 64 };
    out.push((Layer::Conv(conv), t, t, 128));

    let g = Geometry {
        h: 8,
        w: 8,
        cin: 2,
        cout: 4,
        groups: 2,
        k: 7,
        stride: 2,
        pad: 3,
    };
    let p = ConvParams::seeded(g, false, false, &mut r);
    let mut conv = p.conv(&mut blob, p.input(0), p.output(0));
    let lead = conv.write_behind_bytes();
    conv.variant = ConvVariant::WriteBehind;
    conv.input.offset = lead as u32;
    out.push((Layer::Conv(conv), conv.input, conv.output, 256));

    // A 1x1 expansion then a x2-multiplier 3x3: the output grows faster than
    // the input is consumed, so the least lead is large (328 bytes).
    let a = ConvParams::seeded(
        Geometry {
            h: 8,
            w: 8,
            cin: 1,
            cout: 4,
            groups: 1,
            k: 1,
            stride: 1,
            pad: 0,
        },
        true,
        true,
        &mut r,
    );
    let b = ConvParams::seeded(
        Geometry {
            h: 8,
            w: 8,
            cin: 4,
            cout: 8,
            groups: 4,
            k: 3,
            stride: 1,
            pad: 1,
        },
        false,
        true,
        &mut r,
    );
    let mut stem = Stem {
        first: a.conv(&mut blob, a.input(0), a.output(0)),
        second: b.conv(&mut blob, a.output(0), b.output(0)),
    };
    assert_eq!(stem.write_behind_bytes(), 328);
    stem.first.input.offset = 328;
    stem.first.output.offset = 528;
    stem.second.input.offset = 528;
    out.push((Layer::Stem(stem), stem.first.input, stem.second.output, 640));

    let (m, _) = Mlp::seeded(MlpCase {
        h: 4,
        w: 3,
        c: 2,
        hidden: 6,
        k: 3,
        depthwise: true,
        pad_values: false,
        scratch_first: false,
        seed: 5,
    });
    let l = m.fused(&mut blob, 0, 32);
    out.push((Layer::ConvMlp(l), l.dw.input, l.dw.input, 128));
    (blob.0, out)
}

pub fn run_layer(
    blob: &[u8],
    l: Layer,
    i: TensorRef,
    o: TensorRef,
    arena: usize,
) -> Result<(), Error> {
    let arena = vec![0i8; arena];
    let image = vec![1i8; i.len()];
    run(blob, &[l], i, o, &arena, &image).map(|_| ())
}

#[test]
fn valid_fused_layers_run() {
    let (blob, layers) = valid_layers();
    for (l, i, o, arena) in layers {
        assert_eq!(run_layer(&blob, l, i, o, arena), Ok(()), "{l:?}");
    }
}

/// `v` after `edit`: one corruption of a valid layer's parameters.
fn edited<T: Copy>(mut v: T, edit: &dyn Fn(&mut T)) -> T {
    edit(&mut v);
    v
}

#[test]
fn corrupt_fused_layers_are_invalid() {
    let (blob, layers) = valid_layers();
    let invalid = Err(Error::InvalidLayer { layer: 0 });
    let expect = |l: Layer, i, o, arena, what: &str| {
        assert_eq!(run_layer(&blob, l, i, o, arena), invalid, "{what}");
    };
    let conv = |l: &Layer| match l {
        Layer::Conv(c) => *c,
        _ => unreachable!(),
    };

    // In place.
    let (l, i, o, n) = layers[0];
    let c = conv(&l);
    let ip = |f: &dyn Fn(&mut Conv)| Layer::Conv(edited(c, f));
    let ip_bad = |f: &dyn Fn(&mut Conv), what: &str| expect(ip(f), i, o, n, what);
    ip_bad(&|c| c.output.offset = 16, "output moved");
    ip_bad(&|c| c.stride = 2, "stride 2");
    ip_bad(&|c| c.pad = 0, "pad 0");
    ip_bad(
        &|c| c.variant = ConvVariant::InPlace { scratch: 40 },
        "ring overlaps the tensor",
    );
    ip_bad(
        &|c| c.variant = ConvVariant::InPlace { scratch: 110 },
        "ring past the arena",
    );
    ip_bad(
        &|c| c.variant = ConvVariant::InPlace { scratch: u32::MAX },
        "ring offset overflows",
    );

    // Write behind.
    let (l, i, o, n) = layers[1];
    let c = conv(&l);
    let mut bad = c;
    bad.output.offset = c.input.offset + 1;
    expect(
        Layer::Conv(bad),
        i,
        bad.output,
        n,
        "output ahead of the input",
    );
    let mut bad = c;
    bad.input.offset -= 16;
    expect(Layer::Conv(bad), bad.input, o, n, "lead too small");
    let mut bad = c;
    bad.input.offset = 250;
    expect(Layer::Conv(bad), i, o, n, "input past the arena");

    // Stem.
    let (l, i, o, n) = layers[2];
    let Layer::Stem(s) = l else { unreachable!() };
    let st = |f: &dyn Fn(&mut Stem)| Layer::Stem(edited(s, f));
    let st_bad = |f: &dyn Fn(&mut Stem), what: &str| expect(st(f), i, o, n, what);
    st_bad(&|s| s.second.input.offset = 544, "ring names differ");
    st_bad(
        &|s| {
            s.first.output.offset = 384;
            s.second.input.offset = 384;
        },
        "ring overlaps the input",
    );
    st_bad(
        &|s| {
            s.first.output.offset = 600;
            s.second.input.offset = 600;
        },
        "ring past the arena",
    );
    st_bad(&|s| s.second.kernel = 0, "kernel 0");
    st_bad(&|s| s.first.variant = ConvVariant::WriteBehind, "variant");
    st_bad(
        &|s| {
            s.first.output.offset = 500;
            s.second.input.offset = 500;
        },
        "ring overlaps the output",
    );
    st_bad(&|s| s.second.input.c = 3, "intermediate shape");
    expect(
        st(&|s| s.first.input.offset -= 16),
        Layer::Stem(s).input(),
        o,
        n,
        "lead too small",
    );

    // ConvMlp.
    let (l, i, o, n) = layers[3];
    let Layer::ConvMlp(m) = l else { unreachable!() };
    let ml = |f: &dyn Fn(&mut ConvMlp)| Layer::ConvMlp(edited(m, f));
    let ml_bad = |f: &dyn Fn(&mut ConvMlp), what: &str| expect(ml(f), i, o, n, what);
    ml_bad(&|m| m.add.output.offset = 48, "out of place");
    ml_bad(&|m| m.add.a.offset = 48, "residual elsewhere");
    ml_bad(&|m| m.dw.stride = 2, "dw stride");
    ml_bad(&|m| m.fc1.kernel = 3, "fc1 not 1x1");
    ml_bad(&|m| m.fc2.output.c = 3, "fc2 width");
    ml_bad(&|m| m.fc1.input.c = 3, "fc1 input width");
    ml_bad(&|m| m.add.left_shift = 24, "left shift");
    ml_bad(&|m| m.scratch = 16, "scratch overlaps x");
    ml_bad(&|m| m.scratch = 120, "scratch past the arena");
    ml_bad(&|m| m.fc2.variant = ConvVariant::WriteBehind, "variant");
}

/// Random corruption of any numeric field of a fused layer: the executor
/// returns (`Ok` or `InvalidLayer`), it never panics.
#[test]
fn random_corruption_never_panics() {
    let (blob, layers) = valid_layers();
    let mut r = Gen::new(2024);
    let value = |r: &mut Gen| -> u32 {
        match r.next_u64() % 4 {
            0 => r.next_u64() as u32,
            1 => r.range(0, 8) as u32,
            2 => r.range(0, 300) as u32,
            _ => u32::MAX - r.range(0, 3) as u32,
        }
    };
    fn mutate_tensor(t: &mut TensorRef, field: u64, v: u32) {
        match field % 4 {
            0 => t.offset = v,
            1 => t.h = v as u16,
            2 => t.w = v as u16,
            _ => t.c = v as u16,
        }
    }
    fn mutate_conv(c: &mut Conv, field: u64, v: u32) {
        match field % 12 {
            0..=3 => mutate_tensor(&mut c.input, field / 12, v),
            4..=7 => mutate_tensor(&mut c.output, field / 12, v),
            8 => c.kernel = v as u8,
            9 => c.stride = v as u8,
            10 => c.pad = v as u8,
            _ => c.groups = v as u16,
        }
    }
    for _ in 0..4000 {
        let (l, i, o, n) = layers[(r.next_u64() % layers.len() as u64) as usize];
        let mut l = l;
        let field = r.next_u64();
        let v = value(&mut r);
        match &mut l {
            Layer::Conv(c) => {
                if field % 13 == 12 {
                    c.variant = ConvVariant::InPlace { scratch: v };
                } else {
                    mutate_conv(c, field, v);
                }
            }
            Layer::Stem(s) => {
                if field % 2 == 0 {
                    mutate_conv(&mut s.first, field / 2, v)
                } else {
                    mutate_conv(&mut s.second, field / 2, v)
                }
            }
            Layer::ConvMlp(m) => match field % 6 {
                0 => mutate_conv(&mut m.dw, field / 6, v),
                1 => mutate_conv(&mut m.fc1, field / 6, v),
                2 => mutate_conv(&mut m.fc2, field / 6, v),
                3 => mutate_tensor(&mut m.add.b, field / 6, v),
                4 => m.add.left_shift = v as u8,
                _ => m.scratch = v,
            },
            _ => unreachable!(),
        }
        let _ = run_layer(&blob, l, i, o, n);
    }
}
