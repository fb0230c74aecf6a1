//! A whole schedule: `run`, `run_with`, `run_normalized` and the error
//! paths, corrupt layers included.

use runtime::{
    Add, Conv, Error, FullyConnected, GlobalAvgPool, Layer, Lut, Model, Requant, Span,
    SqueezeExcite, TensorRef,
};

use crate::add::*;
use crate::conv::*;
use crate::global_avg_pool::*;
use crate::harness::*;
use crate::lut::naive_lut;
use crate::squeeze_excite::*;

pub const NAMES: [&str; 7] = [
    "stem",
    "stem.act",
    "stages.0.token_mixer",
    "stages.0.add",
    "final_conv.se",
    "head.global_pool",
    "head.fc",
];

/// stem conv (8x8x3 image -> 4x4x8) -> GELU table in place -> depthwise 3x3
/// with table -> residual add into its first operand -> squeeze-excite ->
/// global pool -> fully connected (10 logits).
#[derive(Clone)]
pub struct Sched {
    pub blob: Vec<u8>,
    pub layers: Vec<Layer>,
    pub stem_normalized: Layer,
    pub arena_bytes: usize,
    pub input: TensorRef,
    pub output: TensorRef,
    pub stem: ConvParams,
    pub stem_norm: ConvParams,
    pub gelu: Vec<i8>,
    pub dw: ConvParams,
    pub add: AddParams,
    pub se: SeParams,
    pub gap: GapCase,
    pub fc: ConvParams,
}

impl Sched {
    pub fn new(seed: u64) -> Self {
        let mut g = Gen::new(seed);
        let stem_shape = ConvKind::Stem.shape(8, 8, 3, 8);
        let mut stem = ConvParams::seeded(stem_shape, &mut g);
        stem.in_zp = -128;
        stem.pad_values = Some(vec![-4, -12, -24]);
        let mut stem_norm = ConvParams::seeded(stem_shape, &mut g);
        stem_norm.out_zp = stem.out_zp;
        let gelu = g.i8s(256);
        let mut dw = ConvParams::seeded(
            ConvKind::Depthwise { k: 3, stride: 1 }.shape(4, 4, 8, 8),
            &mut g,
        );
        dw.lut = Some(g.i8s(256));
        let add = AddParams {
            a_zp: dw.out_zp,
            ..add_base()
        };
        let se = SeParams::seeded(4, 4, 8, 2, &mut g);
        let gap = GapCase {
            shape: (4, 4, 8),
            input: Vec::new(),
            in_zp: g.zp(),
            out_zp: g.zp(),
            requant: PerChannel {
                mult: g.mults(8),
                shift: g.i32s(8, -6, -2),
            },
            layout: Layout::fixed(2, 0),
        };
        let fc = ConvParams::seeded(fc_geometry(8, 10), &mut g);

        let sizes = [
            192,
            128,
            128,
            128,
            SqueezeExcite::scratch_bytes(8, 2),
            8,
            10,
        ];
        let (off, arena) = Layout::fixed(sizes.len(), seed).place(&sizes);
        let input = tensor(off[0], 8, 8, 3);
        let t1 = tensor(off[1], 4, 4, 8);
        let t2 = tensor(off[2], 4, 4, 8);
        let t3 = tensor(off[3], 4, 4, 8);
        let t4 = tensor(off[5], 1, 1, 8);
        let output = tensor(off[6], 1, 1, 10);

        let mut blob = Blob::new();
        let layers = vec![
            Layer::Conv(stem.conv(&mut blob, input, t1)),
            Layer::Lut(Lut {
                input: t1,
                output: t1,
                table: blob.i8s(&gelu),
            }),
            Layer::Conv(dw.conv(&mut blob, t1, t2)),
            Layer::Add(Add {
                a: t2,
                a_zp: add.a_zp,
                a_mult: add.a_mult,
                a_shift: add.a_shift,
                b: t1,
                b_zp: add.b_zp,
                b_mult: add.b_mult,
                b_shift: add.b_shift,
                output: t2,
                out_zp: add.out_zp,
                out_mult: add.out_mult,
                out_shift: add.out_shift,
                left_shift: add.left_shift,
            }),
            Layer::SqueezeExcite(se.layer(&mut blob, t2, t3, off[4])),
            Layer::GlobalAvgPool(gap.layer(&mut blob, t3, t4)),
            Layer::FullyConnected(fc.fully_connected(&mut blob, t4, output)),
        ];
        let stem_normalized = Layer::Conv(stem_norm.conv(&mut blob, input, t1));
        Sched {
            blob: blob.0,
            layers,
            stem_normalized,
            arena_bytes: arena.len(),
            input,
            output,
            stem,
            stem_norm,
            gelu,
            dw,
            add,
            se,
            gap,
            fc,
        }
    }

    pub fn model(&self) -> Model<'_> {
        Model {
            weights: &self.blob,
            layers: &self.layers,
            layer_names: &NAMES,
            stem_normalized: self.stem_normalized,
            arena_bytes: self.arena_bytes,
            input: self.input,
            normalized_input_zp: self.stem_norm.in_zp,
            output: self.output,
            output_zp: self.fc.out_zp,
        }
    }

    /// Every layer's output, from the naive model.
    pub fn naive(&self, x0: &[i8], normalized: bool) -> Vec<Vec<i8>> {
        let t = Tally::default();
        let stem = if normalized {
            &self.stem_norm
        } else {
            &self.stem
        };
        let l0 = naive_conv(stem, x0, &t);
        let l1 = naive_lut(&self.gelu, &l0);
        let l2 = naive_conv(&self.dw, &l1, &t);
        let l3 = naive_add(&self.add, &l2, &l1, &t);
        let l4 = naive_se(&self.se, &l3, &SeTally::default());
        let l5 = GapCase {
            input: l4.clone(),
            ..self.gap.clone()
        }
        .naive(&t);
        let l6 = naive_fc(&self.fc, &l5, false, &t);
        vec![l0, l1, l2, l3, l4, l5, l6]
    }

    /// Runs through `run_with` (image) or `run_normalized`, returning the
    /// result, the indices `after_layer` saw, and the logits buffer.
    pub fn go(
        &self,
        normalized: bool,
        arena_len: usize,
        input_len: usize,
        logits_len: usize,
    ) -> (Result<(), Error>, Vec<usize>, Vec<i8>) {
        let mut arena = vec![0x21; arena_len];
        let mut logits = vec![0x7B; logits_len];
        let mut calls = Vec::new();
        let model = self.model();
        let r = if normalized {
            let input: Vec<i8> = Gen::new(1).i8s(input_len);
            model.run_normalized(&mut arena, &input, &mut logits, |i, _| calls.push(i))
        } else {
            let image: Vec<u8> = Gen::new(1)
                .i8s(input_len)
                .iter()
                .map(|&x| x as u8)
                .collect();
            model.run_with(&mut arena, &image, &mut logits, |i, _| calls.push(i))
        };
        (r, calls, logits)
    }

    pub fn go_ok(&self, normalized: bool) -> (Result<(), Error>, Vec<usize>, Vec<i8>) {
        self.go(normalized, self.arena_bytes, 192, 10)
    }
}

#[test]
fn schedule_matches_naive_chain_layer_by_layer() {
    for seed in 0..8 {
        let s = Sched::new(seed);
        let model = s.model();
        let mut g = Gen::new(seed + 100);
        let image: Vec<u8> = g.i8s(192).iter().map(|&x| x as u8).collect();
        let normalized = g.i8s(192);
        // u8 pixel p enters as p - 128.
        let x0: Vec<i8> = image.iter().map(|&p| (i32::from(p) - 128) as i8).collect();

        for (entry, expected) in [
            ("run_with", s.naive(&x0, false)),
            ("run_normalized", s.naive(&normalized, true)),
        ] {
            let mut arena = Gen::new(seed).i8s(s.arena_bytes + 7);
            let mut logits = vec![0; 10];
            let mut snapshots = Vec::new();
            let record = |i: usize, a: &[i8]| snapshots.push((i, a.to_vec()));
            if entry == "run_with" {
                model
                    .run_with(&mut arena, &image, &mut logits, record)
                    .unwrap();
            } else {
                model
                    .run_normalized(&mut arena, &normalized, &mut logits, record)
                    .unwrap();
            }
            assert_eq!(snapshots.len(), s.layers.len());
            for (i, (idx, a)) in snapshots.iter().enumerate() {
                assert_eq!(*idx, i);
                assert_eq!(
                    a.len(),
                    s.arena_bytes,
                    "after_layer sees exactly arena_bytes"
                );
                let out = s.layers[i].output();
                assert_same(
                    &format!("seed {seed} {entry} layer {i} ({})", NAMES[i]),
                    &expected[i],
                    &a[out.offset as usize..out.end()],
                );
            }
            assert_same(
                &format!("seed {seed} {entry} logits"),
                &expected[6],
                &logits,
            );
        }

        // `run` is `run_with` without the callback.
        let mut arena = vec![0; s.arena_bytes];
        let mut logits = vec![0; 10];
        model.run(&mut arena, &image, &mut logits).unwrap();
        assert_same("run logits", &s.naive(&x0, false)[6], &logits);
    }
}

#[test]
fn arena_too_small() {
    let s = Sched::new(1);
    for normalized in [false, true] {
        for got in [0, 1, s.arena_bytes - 1] {
            let (r, calls, logits) = s.go(normalized, got, 192, 10);
            assert_eq!(
                r,
                Err(Error::ArenaTooSmall {
                    needed: s.arena_bytes,
                    got
                })
            );
            assert!(calls.is_empty());
            assert!(logits.iter().all(|&x| x == 0x7B), "logits written on error");
        }
        // Exactly enough, and more than enough, both work.
        assert_eq!(s.go(normalized, s.arena_bytes, 192, 10).0, Ok(()));
        assert_eq!(s.go(normalized, s.arena_bytes + 100, 192, 10).0, Ok(()));
    }
}

#[test]
fn wrong_input_size() {
    let s = Sched::new(2);
    for normalized in [false, true] {
        for got in [0, 3, 191, 193, 192 * 2] {
            let (r, calls, logits) = s.go(normalized, s.arena_bytes, got, 10);
            assert_eq!(r, Err(Error::InputSize { expected: 192, got }));
            assert!(calls.is_empty());
            assert!(logits.iter().all(|&x| x == 0x7B), "logits written on error");
        }
    }
}

#[test]
fn wrong_output_size() {
    let s = Sched::new(3);
    for normalized in [false, true] {
        for got in [0, 1, 9, 11, 1000] {
            let (r, calls, _) = s.go(normalized, s.arena_bytes, 192, got);
            assert_eq!(r, Err(Error::OutputSize { expected: 10, got }));
            assert!(calls.is_empty());
        }
    }
}

/// `pub fn $name(l: &mut Layer) -> &mut $ty`: the parameters of a layer of
/// that kind, or a panic naming what it is instead.
macro_rules! layer_of {
    ($($name:ident: $variant:ident($ty:ty), $what:literal;)*) => {$(
        pub fn $name(l: &mut Layer) -> &mut $ty {
            match l {
                Layer::$variant(c) => c,
                other => panic!(concat!("expected ", $what, ", found {:?}"), other),
            }
        }
    )*};
}

layer_of! {
    conv_of: Conv(Conv), "a conv";
    lut_of: Lut(Lut), "a lut";
    add_of: Add(Add), "an add";
    se_of: SqueezeExcite(SqueezeExcite), "a squeeze-excite";
    gap_of: GlobalAvgPool(GlobalAvgPool), "a global pool";
    fc_of: FullyConnected(FullyConnected), "a fully connected";
}

/// Corruptions of one layer: (layer index, what, edit given blob and arena sizes).
pub type Corruption = (usize, &'static str, fn(&mut Layer, u32, u32));

pub const CORRUPTIONS: &[Corruption] = &[
    // Stem conv.
    (0, "weights past the blob", |l, blob, _| {
        conv_of(l).weights.offset = blob - conv_of(l).weights.len + 1
    }),
    (0, "weights offset overflows", |l, _, _| {
        conv_of(l).weights.offset = u32::MAX - 1
    }),
    (0, "weights one byte short", |l, _, _| {
        conv_of(l).weights.len -= 1
    }),
    (0, "weights one byte long", |l, _, _| {
        conv_of(l).weights.len += 1
    }),
    (0, "kernel 5 with 3x3 weights", |l, _, _| {
        conv_of(l).kernel = 5
    }),
    (0, "bias past the blob", |l, blob, _| {
        conv_of(l).bias.offset = blob
    }),
    (0, "bias one channel short", |l, _, _| {
        conv_of(l).bias.len -= 4
    }),
    (0, "bias not a multiple of 4", |l, _, _| {
        conv_of(l).bias.len += 1
    }),
    (0, "pad values one channel long", |l, _, _| {
        conv_of(l).pad_values.len += 1
    }),
    (0, "lut of 255 entries", |l, _, _| {
        conv_of(l).lut = Span {
            offset: 0,
            len: 255,
        }
    }),
    (0, "lut past the blob", |l, blob, _| {
        conv_of(l).lut = Span {
            offset: blob - 100,
            len: 256,
        }
    }),
    (0, "groups 0", |l, _, _| conv_of(l).groups = 0),
    (0, "groups not dividing channels", |l, _, _| {
        conv_of(l).groups = 2
    }),
    (0, "stride 0", |l, _, _| conv_of(l).stride = 0),
    (0, "output taller than the input allows", |l, _, _| {
        conv_of(l).output.h += 1
    }),
    (0, "output wider than the input allows", |l, _, _| {
        conv_of(l).output.w += 1
    }),
    (0, "output overlaps the input", |l, _, _| {
        conv_of(l).output.offset = conv_of(l).input.offset + 5
    }),
    (0, "output past the arena", |l, _, arena| {
        conv_of(l).output.offset = arena - 10
    }),
    (0, "input past the arena", |l, _, arena| {
        conv_of(l).input.offset = arena - 100
    }),
    // In-place GELU.
    (1, "table absent", |l, _, _| lut_of(l).table = Span::NONE),
    (1, "table of 128 entries", |l, _, _| {
        lut_of(l).table.len = 128
    }),
    (1, "table past the blob", |l, blob, _| {
        lut_of(l).table.offset = blob - 255
    }),
    (1, "output shorter than the input", |l, _, _| {
        lut_of(l).output.c -= 1
    }),
    (1, "output overlaps the input partially", |l, _, _| {
        lut_of(l).output.offset += 1
    }),
    (1, "tensor past the arena", |l, _, arena| {
        let t = lut_of(l);
        t.input.offset = arena - 5;
        t.output.offset = arena - 5;
    }),
    // Depthwise conv.
    (2, "conv in place", |l, _, _| {
        conv_of(l).output.offset = conv_of(l).input.offset
    }),
    (2, "padding removed", |l, _, _| conv_of(l).pad = 0),
    (2, "weights for the wrong group count", |l, _, _| {
        conv_of(l).groups = 4
    }),
    // Residual add.
    (3, "left shift 24 (255 << 24 overflows i32)", |l, _, _| {
        add_of(l).left_shift = 24
    }),
    (3, "left shift 255", |l, _, _| add_of(l).left_shift = 255),
    (3, "b shorter than the output", |l, _, _| add_of(l).b.c -= 1),
    (3, "a longer than the output", |l, _, _| add_of(l).a.h += 1),
    (3, "b overlaps the output partially", |l, _, _| {
        add_of(l).b.offset = add_of(l).output.offset + 1
    }),
    (3, "output past the arena", |l, _, arena| {
        let a = add_of(l);
        a.a.offset = arena - 3;
        a.output.offset = arena - 3;
    }),
    // Squeeze-excite.
    (4, "output is the input", |l, _, _| {
        se_of(l).output = se_of(l).input
    }),
    (4, "output overlaps the input", |l, _, _| {
        se_of(l).output.offset = se_of(l).input.offset + 7
    }),
    (4, "scratch overlaps the input", |l, _, _| {
        se_of(l).scratch = se_of(l).input.offset + 100
    }),
    (4, "scratch overlaps the output", |l, _, _| {
        se_of(l).scratch = se_of(l).output.offset + 2
    }),
    (4, "scratch past the arena", |l, _, arena| {
        se_of(l).scratch = arena - 3
    }),
    (4, "output shape differs", |l, _, _| {
        let o = &mut se_of(l).output;
        o.h = 2;
        o.w = 8;
    }),
    (4, "sigmoid absent", |l, _, _| se_of(l).sigmoid = Span::NONE),
    (4, "fc1 weights one byte short", |l, _, _| {
        se_of(l).fc1_weights.len -= 1
    }),
    (4, "fc2 weights past the blob", |l, blob, _| {
        se_of(l).fc2_weights.offset = blob - 3
    }),
    (4, "fc2 bias one channel short", |l, _, _| {
        se_of(l).fc2_bias.len -= 4
    }),
    (4, "scale requant sized for the reduced width", |l, _, _| {
        let se = se_of(l);
        let len = 4 * u32::from(se.reduced);
        se.scale_requant.multiplier.len = len;
        se.scale_requant.shift.len = len;
    }),
    (4, "reduced width disagrees with fc weights", |l, _, _| {
        se_of(l).reduced += 1
    }),
    (4, "lut of 257 entries", |l, _, _| {
        se_of(l).lut = Span {
            offset: 0,
            len: 257,
        }
    }),
    // Global pool.
    (5, "output length is not the channel count", |l, _, _| {
        gap_of(l).output.c -= 1
    }),
    (5, "input past the arena", |l, _, arena| {
        gap_of(l).input.offset = arena - 20
    }),
    (5, "output overlaps the input", |l, _, _| {
        gap_of(l).output.offset = gap_of(l).input.offset
    }),
    // Fully connected.
    (6, "weights one byte short", |l, _, _| {
        fc_of(l).weights.len -= 1
    }),
    (6, "weights past the blob", |l, blob, _| {
        fc_of(l).weights.offset = blob - 1
    }),
    (6, "bias one channel long", |l, _, _| fc_of(l).bias.len += 4),
    (6, "output overlaps the input", |l, _, _| {
        fc_of(l).output.offset = fc_of(l).input.offset + 1
    }),
];

/// A requantization operand of the schedule: (layer index, which, the
/// operands of that layer).
pub type RequantSite = (usize, &'static str, fn(&mut Layer) -> &mut Requant);

/// Every requantization of the schedule; each is per output channel, and
/// more than one channel.
pub const REQUANTS: &[RequantSite] = &[
    (0, "conv", |l| &mut conv_of(l).requant),
    (2, "depthwise", |l| &mut conv_of(l).requant),
    (4, "pool", |l| &mut se_of(l).pool_requant),
    (4, "fc1", |l| &mut se_of(l).fc1_requant),
    (4, "fc2", |l| &mut se_of(l).fc2_requant),
    (4, "scale", |l| &mut se_of(l).scale_requant),
    (5, "global pool", |l| &mut gap_of(l).requant),
    (6, "fully connected", |l| &mut fc_of(l).requant),
];

/// A corruption of any one of [`REQUANTS`]: (what, edit given the blob size).
pub type RequantCorruption = (&'static str, fn(&mut Requant, u32));

pub const REQUANT_CORRUPTIONS: &[RequantCorruption] = &[
    ("multipliers one channel short", |r, _| {
        r.multiplier.len -= 4
    }),
    ("multipliers one channel long", |r, _| r.multiplier.len += 4),
    ("shifts one channel short", |r, _| r.shift.len -= 1),
    ("shifts one channel long", |r, _| r.shift.len += 1),
    ("a single scalar", |r, _| {
        r.multiplier.len = 4;
        r.shift.len = 1;
    }),
    ("multipliers absent", |r, _| r.multiplier = Span::NONE),
    ("shifts absent", |r, _| r.shift = Span::NONE),
    ("multipliers past the blob", |r, blob| {
        r.multiplier.offset = blob - r.multiplier.len + 4
    }),
    ("shifts past the blob", |r, blob| {
        r.shift.offset = blob - r.shift.len + 1
    }),
    ("multipliers offset overflows", |r, _| {
        r.multiplier.offset = u32::MAX - 3
    }),
    ("shifts offset overflows", |r, _| {
        r.shift.offset = u32::MAX - 3
    }),
];

#[test]
fn corrupt_layers_report_their_index() {
    let s = Sched::new(4);
    assert_eq!(s.go_ok(false).0, Ok(()));
    assert_eq!(s.go_ok(true).0, Ok(()));
    let (blob, arena) = (s.blob.len() as u32, s.arena_bytes as u32);
    for &(index, what, corrupt) in CORRUPTIONS {
        assert_corrupt_layer_reported(&s, index, what, &|l| corrupt(l, blob, arena));
    }
    for &(index, which, requant) in REQUANTS {
        for &(what, corrupt) in REQUANT_CORRUPTIONS {
            let what = format!("{which} requant: {what}");
            assert_corrupt_layer_reported(&s, index, &what, &|l| corrupt(requant(l), blob));
        }
    }
}

/// `corrupt` applied to layer `index` of `s` stops every run at that layer
/// with `InvalidLayer`, after the layers before it ran and before any logit
/// is written.
fn assert_corrupt_layer_reported(
    s: &Sched,
    index: usize,
    what: &str,
    corrupt: &dyn Fn(&mut Layer),
) {
    let mut bad = s.clone();
    corrupt(&mut bad.layers[index]);
    for normalized in [false, true] {
        let (r, calls, logits) = bad.go_ok(normalized);
        let entry = if normalized {
            "run_normalized"
        } else {
            "run_with"
        };
        if index == 0 && normalized {
            // run_normalized replaces layers[0] with the (intact) stem_normalized.
            assert_eq!(r, Ok(()), "{entry}: layer {index}, {what}");
            continue;
        }
        assert_eq!(
            r,
            Err(Error::InvalidLayer { layer: index }),
            "{entry}: layer {index}, {what}"
        );
        assert_eq!(
            calls,
            (0..index).collect::<Vec<_>>(),
            "{entry}: layers run before {what}"
        );
        assert!(
            logits.iter().all(|&x| x == 0x7B),
            "{entry}: logits written on error ({what})"
        );
    }
    if index == 0 {
        // The same corruption in stem_normalized only affects run_normalized.
        let mut bad = s.clone();
        corrupt(&mut bad.stem_normalized);
        assert_eq!(
            bad.go_ok(false).0,
            Ok(()),
            "run_with, stem_normalized {what}"
        );
        assert_eq!(
            bad.go_ok(true).0,
            Err(Error::InvalidLayer { layer: 0 }),
            "run_normalized, stem_normalized {what}"
        );
    }
}

#[test]
fn model_input_or_output_outside_the_arena() {
    let s = Sched::new(5);
    // The logits tensor past the arena: reported after the last layer.
    let mut bad = s.clone();
    bad.output.offset = s.arena_bytes as u32 - 5;
    for normalized in [false, true] {
        let (r, calls, _) = bad.go_ok(normalized);
        assert_eq!(r, Err(Error::InvalidLayer { layer: 7 }));
        assert_eq!(calls, (0..7).collect::<Vec<_>>());
    }
    // The input tensor past the arena: reported as the first layer's fault.
    let mut bad = s.clone();
    bad.input.offset = s.arena_bytes as u32 - 100;
    for normalized in [false, true] {
        let (r, calls, _) = bad.go_ok(normalized);
        assert_eq!(r, Err(Error::InvalidLayer { layer: 0 }));
        assert!(calls.is_empty());
    }
    // Offsets near u32::MAX never wrap into the arena.
    let mut bad = s.clone();
    bad.input.offset = u32::MAX - 10;
    assert_eq!(bad.go_ok(false).0, Err(Error::InvalidLayer { layer: 0 }));
}
