//! Pass 1, lowering: the folded float graph becomes int8 layers in execution
//! order, each with its quantized weights packed into the blob (the kernel
//! layouts come from [`super::layouts`]), plus the units that the assembly
//! pass may fuse. Nothing is placed in the arena yet.

use std::collections::BTreeMap;

use runtime::{
    Add, Conv, ConvVariant, Elem, FullyConnected, GlobalAvgPool, Layer, Requant, Span,
    SqueezeExcite, TensorRef,
};

use super::layouts::{self, KernelLayout};
use super::{
    normalized_input_range, quantize_multiplier, quantize_multiplier16, QParams, ADD_LEFT_SHIFT,
    ADD_LEFT_SHIFT_WIDE,
};
use crate::arch::{IMAGENET_MEAN, IMAGENET_STD};
use crate::bias_correction::{ConvInputMeans, InputMeans};
use crate::calibrate::Range;
use crate::float::{block_name, gelu, sigmoid};
use crate::fold::{ConvW, Folded};
use crate::plan;
use crate::precision::Precision;

/// An activation during lowering.
#[derive(Clone, Copy)]
pub(super) struct Act {
    pub(super) tensor: usize,
    pub(super) q: QParams,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c: usize,
}

pub(super) struct Pending {
    pub(super) layer: Layer,
    pub(super) ins: Vec<usize>,
    pub(super) out: usize,
    pub(super) scratch: Option<usize>,
}

struct Lowering<'r> {
    ranges: &'r BTreeMap<String, Range>,
    /// Calibration means of each conv's input (bias correction; empty: off).
    input_means: &'r ConvInputMeans,
    int16: &'r Precision,
    blob: Vec<u8>,
    /// (name, bytes) per tensor.
    tensors: Vec<(String, usize)>,
    pending: Vec<Pending>,
    names: Vec<String>,
    float_names: Vec<String>,
    out_q: Vec<QParams>,
}

pub(super) fn tref(a: &Act) -> TensorRef {
    TensorRef {
        elem: a.q.elem,
        ..TensorRef::i8(0, a.h as u16, a.w as u16, a.c as u16)
    }
}

impl Lowering<'_> {
    /// `c`'s input means, when its bias is to be corrected: not for the
    /// first stem conv reading u8 pixels (`x` = [`PIXELS`]; its weights are
    /// rescaled for them by [`fold_normalization`] and its padding is the mean
    /// pixel, while the means are of the normalized image).
    fn means(&self, c: &ConvW, x: QParams) -> Option<&InputMeans> {
        (x != PIXELS).then(|| self.input_means.get(&c.name))?
    }

    fn q(&self, name: &str) -> QParams {
        let r = *self
            .ranges
            .get(name)
            .unwrap_or_else(|| panic!("calibration lacks tensor `{name}`"));
        if self.int16.is_wide(name) {
            QParams::wide(r)
        } else {
            QParams::from_range(r)
        }
    }

    fn align(&mut self) {
        while !self.blob.len().is_multiple_of(plan::ALIGN) {
            self.blob.push(0);
        }
    }

    /// Appends `bytes` at the next aligned offset: the span every typed
    /// store below returns.
    fn store(&mut self, bytes: impl IntoIterator<Item = u8>) -> Span {
        self.align();
        let offset = self.blob.len();
        self.blob.extend(bytes);
        Span {
            offset: offset as u32,
            len: (self.blob.len() - offset) as u32,
        }
    }

    fn i8s(&mut self, v: &[i8]) -> Span {
        self.store(v.iter().map(|&x| x as u8))
    }

    fn i16s(&mut self, v: &[i16]) -> Span {
        self.store(v.iter().flat_map(|x| x.to_le_bytes()))
    }

    fn i32s(&mut self, v: &[i32]) -> Span {
        self.store(v.iter().flat_map(|x| x.to_le_bytes()))
    }

    fn requant(&mut self, reals: &[f64]) -> Requant {
        let (m, s): (Vec<i16>, Vec<i8>) = reals
            .iter()
            .map(|&r| {
                let (m, s) = quantize_multiplier16(r);
                // quantize_multiplier16 keeps shifts in -31..=30.
                (m, s as i8)
            })
            .unzip();
        Requant {
            multiplier: self.i16s(&m),
            shift: self.i8s(&s),
        }
    }

    /// The table of `f` from the int8 `pre` to `post` (256 int16 entries
    /// for an int16 `post`).
    fn lut(&mut self, pre: QParams, post: QParams, f: fn(f32) -> f32) -> Span {
        let real = |q: i32| f(pre.dequantize(q as i8));
        match post.elem {
            runtime::Elem::I8 => {
                let table: Vec<i8> = (-128i32..128).map(|q| post.quantize(real(q))).collect();
                self.i8s(&table)
            }
            runtime::Elem::I16 => {
                let table: Vec<i16> = (-128i32..128)
                    .map(|q| post.quantize_wide(real(q)) as i16)
                    .collect();
                self.i16s(&table)
            }
        }
    }

    fn tensor(&mut self, name: &str, h: usize, w: usize, c: usize, q: QParams) -> Act {
        self.tensors
            .push((name.to_string(), h * w * c * q.elem.bytes()));
        Act {
            tensor: self.tensors.len() - 1,
            q,
            h,
            w,
            c,
        }
    }

    fn push(
        &mut self,
        name: &str,
        float_name: &str,
        layer: Layer,
        ins: Vec<usize>,
        out: &Act,
        scratch: Option<usize>,
    ) {
        self.pending.push(Pending {
            layer,
            ins,
            out: out.tensor,
            scratch,
        });
        self.names.push(name.to_string());
        self.float_names.push(float_name.to_string());
        self.out_q.push(out.q);
    }

    /// Quantizes a conv's weights per output channel and builds its layer,
    /// with the weights also laid out for the kernel that will run it.
    fn conv_layer(
        &mut self,
        c: &ConvW,
        x: &Act,
        out: &Act,
        pre: QParams,
        lut: Span,
        pad_values: &[i8],
    ) -> Conv {
        // Only the reference forms read or write int16, and only they keep
        // the identity tap apart.
        let int8 = x.q.elem == Elem::I8 && out.q.elem == Elem::I8;
        let q = layouts::quantize_per_channel(c, x.q.scale, pre.scale, !int8, self.means(c, x.q));
        let kernel = if int8 {
            layouts::choose(c, &q.weights)
        } else {
            KernelLayout::Reference
        };
        let folded = || layouts::folded_bias(&q.weights, &q.bias, c.fan_in(), x.q.zp);
        let weights = self.i8s(&q.weights);
        let bias = self.i32s(&q.bias);
        let requant = self.requant(&q.reals);
        let pad_values = if pad_values.is_empty() {
            Span::NONE
        } else {
            self.i8s(pad_values)
        };
        let variant = match kernel {
            KernelLayout::Pointwise => ConvVariant::Pointwise {
                folded_bias: self.i32s(&folded()),
            },
            KernelLayout::Relaid(relaid, variant) => {
                // The relaid weights first, then the bias (the blob's order).
                let relaid = self.i8s(&relaid);
                variant(relaid, self.i32s(&folded()))
            }
            KernelLayout::Reference => ConvVariant::Reference,
        };
        Conv {
            variant,
            input: tref(x),
            in_zp: x.q.zp,
            output: tref(out),
            out_zp: pre.zp,
            kernel: c.k as u8,
            stride: c.stride as u8,
            pad: c.pad() as u8,
            groups: c.groups as u16,
            weights,
            bias,
            requant,
            pad_values,
            lut,
            identity: if q.identity.is_empty() {
                Span::NONE
            } else {
                self.i32s(&q.identity)
            },
        }
    }

    /// A conv, optionally followed by GELU (fused as the conv's table).
    fn conv(
        &mut self,
        name: &str,
        c: &ConvW,
        x: &Act,
        gelu_after: bool,
        pad_values: &[i8],
    ) -> (Act, Conv) {
        let pre = self.q(&c.name);
        let (h, w) = (
            (x.h + 2 * c.pad() - c.k) / c.stride + 1,
            (x.w + 2 * c.pad() - c.k) / c.stride + 1,
        );
        let (float_name, out_q, lut) = if gelu_after {
            let fname = format!("{}.act", c.name);
            let post = self.q(&fname);
            let lut = self.lut(pre, post, gelu);
            (fname, post, lut)
        } else {
            (c.name.clone(), pre, Span::NONE)
        };
        let out = self.tensor(&float_name, h, w, c.cout, out_q);
        let layer = self.conv_layer(c, x, &out, pre, lut, pad_values);
        self.push(
            name,
            &float_name,
            Layer::Conv(layer),
            vec![x.tensor],
            &out,
            None,
        );
        (out, layer)
    }

    fn add(&mut self, name: &str, a: &Act, b: &Act) -> Act {
        let q = self.q(name);
        let out = self.tensor(name, a.h, a.w, a.c, q);
        let twice_max = 2.0 * a.q.scale.max(b.q.scale);
        let (a_mult, a_shift) = quantize_multiplier(a.q.scale / twice_max);
        let (b_mult, b_shift) = quantize_multiplier(b.q.scale / twice_max);
        // An int16 input leaves 15 bits of headroom in an i32, not 23.
        let left_shift = if a.q.elem == Elem::I8 && b.q.elem == Elem::I8 {
            ADD_LEFT_SHIFT
        } else {
            ADD_LEFT_SHIFT_WIDE
        };
        let (out_mult, out_shift) =
            quantize_multiplier(twice_max / ((1u64 << left_shift) as f64 * q.scale));
        let layer = Layer::Add(Add {
            a: tref(a),
            a_zp: a.q.zp,
            a_mult,
            a_shift,
            b: tref(b),
            b_zp: b.q.zp,
            b_mult,
            b_shift,
            output: tref(&out),
            out_zp: q.zp,
            out_mult,
            out_shift,
            left_shift,
        });
        self.push(name, name, layer, vec![a.tensor, b.tensor], &out, None);
        out
    }

    fn fc_weights(&mut self, c: &ConvW, x: QParams, out_scale: f64) -> (Span, Span, Requant) {
        let q = layouts::quantize_per_channel(c, x.scale, out_scale, false, self.means(c, x));
        (
            self.i8s(&q.weights),
            self.i32s(&q.bias),
            self.requant(&q.reals),
        )
    }

    fn squeeze_excite(&mut self, f: &Folded, x: &Act) -> Act {
        let pool = self.q("final_conv.se.pool");
        let hid = self.q("final_conv.se.fc1");
        let gate = self.q("final_conv.se.fc2");
        let pre = self.q("final_conv.se");
        let post = self.q("final_conv");
        let hw = (x.h * x.w) as f64;
        let b = &f.bases;
        let pool_reals: Vec<f64> = (0..x.c)
            .map(|c| x.q.scale * (b.se_pool[c] as f64 / b.final_conv[c] as f64) / (hw * pool.scale))
            .collect();
        let pool_requant = self.requant(&pool_reals);
        let (fc1_weights, fc1_bias, fc1_requant) = self.fc_weights(&f.se_fc1, pool, hid.scale);
        let (fc2_weights, fc2_bias, fc2_requant) = self.fc_weights(&f.se_fc2, hid, gate.scale);
        // Gate s + 128 in 0..=255 stands for sigmoid in steps of 1/255.
        let table: Vec<i8> = (-128i32..128)
            .map(|q| {
                let s = sigmoid(gate.dequantize(q as i8)) as f64;
                ((s * 255.0).round() - 128.0).clamp(-128.0, 127.0) as i8
            })
            .collect();
        let sigmoid_span = self.i8s(&table);
        let scale_reals: Vec<f64> = (0..x.c)
            .map(|c| x.q.scale / (b.final_conv[c] as f64 * 255.0 * pre.scale))
            .collect();
        let scale_requant = self.requant(&scale_reals);
        let lut = self.lut(pre, post, gelu);
        let out = self.tensor("final_conv", x.h, x.w, x.c, post);
        let se = SqueezeExcite {
            input: tref(x),
            in_zp: x.q.zp,
            output: tref(&out),
            out_zp: pre.zp,
            reduced: f.se_fc1.cout as u16,
            pool_requant,
            pool_zp: pool.zp,
            fc1_weights,
            fc1_bias,
            fc1_requant,
            hid_zp: hid.zp,
            fc2_weights,
            fc2_bias,
            fc2_requant,
            gate_zp: gate.zp,
            sigmoid: sigmoid_span,
            scale_requant,
            lut,
            scratch: 0,
        };
        let layer = Layer::SqueezeExcite(se);
        let scratch = self.tensors.len();
        self.tensors
            .push(("final_conv.se scratch".into(), layer.scratch_bytes()));
        self.push(
            "final_conv.se",
            "final_conv",
            layer,
            vec![x.tensor],
            &out,
            Some(scratch),
        );
        out
    }
}

/// The u8 image input: pixel `p` stored as `p - 128`, so `q - zp = p`.
const PIXELS: QParams = QParams {
    scale: 1.0,
    zp: -128,
    elem: runtime::Elem::I8,
};

/// The stem conv with the ImageNet normalization folded in, for u8 input
/// `p` stored as `q = p - 128` (zero point -128, so `q - zp = p`):
/// `w' = w / (255 std_c)`, `b' = b - sum w mean_c / std_c`.
fn fold_normalization(c: &ConvW) -> ConvW {
    let mut f = c.clone();
    let kk = c.k * c.k;
    for o in 0..c.cout {
        let mut shift = 0f64;
        for ch in 0..3 {
            for t in 0..kk {
                let i = (o * 3 + ch) * kk + t;
                shift += c.weight[i] as f64 * IMAGENET_MEAN[ch] as f64 / IMAGENET_STD[ch] as f64;
                f.weight[i] = (c.weight[i] as f64 / (255.0 * IMAGENET_STD[ch] as f64)) as f32;
            }
        }
        f.bias[o] = (c.bias[o] as f64 - shift) as f32;
    }
    f
}

/// Padding for the u8 stem: the mean pixel per channel (as `p - 128`), so a
/// padded tap is (within half a grey level) the zero of the normalized input.
pub fn stem_pad_values() -> [i8; 3] {
    [0, 1, 2].map(|c| ((255.0 * IMAGENET_MEAN[c]).round() - 128.0) as i8)
}

/// How a group of lowered layers may run once fused (see [`MemoryForm`]).
#[derive(Clone, Copy, Debug)]
pub(super) enum Unit {
    /// One layer, reading whole inputs, writing a new output.
    Single(usize),
    /// Two convs streamed through a row ring (`stem.0 -> stem.1`).
    Stem(usize, usize),
    /// A same-shape conv that may overwrite its input.
    InPlace(usize),
    /// A downsampling conv that may write behind its read position.
    WriteBehind(usize),
    /// `dw -> fc1 -> fc2 -> + x`, fused and in place.
    ConvMlp {
        dw: usize,
        fc1: usize,
        fc2: usize,
        add: usize,
    },
}

impl Unit {
    pub(super) fn layers(&self) -> Vec<usize> {
        match *self {
            Unit::Single(i) | Unit::InPlace(i) | Unit::WriteBehind(i) => vec![i],
            Unit::Stem(a, b) => vec![a, b],
            Unit::ConvMlp { dw, fc1, fc2, add } => vec![dw, fc1, fc2, add],
        }
    }
}

/// The lowered (unfused) graph: every layer quantized, nothing placed.
pub(super) struct Lowered {
    pub(super) blob: Vec<u8>,
    /// (name, bytes) per tensor.
    pub(super) tensors: Vec<(String, usize)>,
    pub(super) pending: Vec<Pending>,
    pub(super) names: Vec<String>,
    pub(super) float_names: Vec<String>,
    pub(super) out_q: Vec<QParams>,
    pub(super) units: Vec<Unit>,
    pub(super) image: usize,
    pub(super) logits: usize,
    pub(super) input: TensorRef,
    pub(super) output: TensorRef,
    pub(super) stem_normalized: Conv,
    pub(super) normalized_input_q: QParams,
    pub(super) output_q: QParams,
}

pub(super) fn lower(
    f: &Folded,
    ranges: &BTreeMap<String, Range>,
    res: usize,
    int16: &Precision,
) -> Lowered {
    let mut l = Lowering {
        ranges,
        input_means: &f.input_means,
        int16,
        blob: Vec::new(),
        tensors: Vec::new(),
        pending: Vec::new(),
        names: Vec::new(),
        float_names: Vec::new(),
        out_q: Vec::new(),
    };
    let mut units = Vec::new();
    let image = l.tensor("input", res, res, 3, PIXELS);
    let stem0 = fold_normalization(&f.stem[0]);
    let (mut x, _) = l.conv("stem.0", &stem0, &image, true, &stem_pad_values());
    let normalized_input_q = QParams::from_range(normalized_input_range());
    let norm_in = Act {
        q: normalized_input_q,
        ..image
    };
    let pre0 = l.q(&f.stem[0].name);
    let lut0 = match l.pending[0].layer {
        Layer::Conv(c) => c.lut,
        _ => unreachable!("stem.0 is a conv"),
    };
    let stem_normalized = l.conv_layer(&f.stem[0], &norm_in, &x, pre0, lut0, &[]);
    (x, _) = l.conv("stem.1", &f.stem[1], &x, true, &[]);
    units.push(Unit::Stem(0, 1));
    (x, _) = l.conv("stem.2", &f.stem[2], &x, true, &[]);
    units.push(Unit::InPlace(2));
    for (s, stage) in f.stages.iter().enumerate() {
        if let Some([p0, p1]) = &stage.downsample {
            (x, _) = l.conv(&format!("stages.{s}.downsample.proj.0"), p0, &x, false, &[]);
            units.push(Unit::WriteBehind(l.pending.len() - 1));
            (x, _) = l.conv(&format!("stages.{s}.downsample.proj.1"), p1, &x, true, &[]);
            units.push(Unit::InPlace(l.pending.len() - 1));
        }
        for b in &stage.blocks {
            let block = block_name(b).to_string();
            (x, _) = l.conv(
                &format!("{block}.token_mixer"),
                &b.token_mixer,
                &x,
                false,
                &[],
            );
            units.push(Unit::InPlace(l.pending.len() - 1));
            let dw = l.pending.len();
            let (y, _) = l.conv(&format!("{block}.mlp.conv"), &b.mlp_conv, &x, false, &[]);
            let (y, _) = l.conv(&format!("{block}.mlp.fc1"), &b.fc1, &y, true, &[]);
            let (y, _) = l.conv(&format!("{block}.mlp.fc2"), &b.fc2, &y, false, &[]);
            x = l.add(&block, &x, &y);
            units.push(Unit::ConvMlp {
                dw,
                fc1: dw + 1,
                fc2: dw + 2,
                add: dw + 3,
            });
        }
    }
    (x, _) = l.conv("final_conv", &f.final_conv, &x, false, &[]);
    units.push(Unit::Single(l.pending.len() - 1));
    x = l.squeeze_excite(f, &x);
    units.push(Unit::Single(l.pending.len() - 1));
    let pq = l.q("head.global_pool");
    let pooled = l.tensor("head.global_pool", 1, 1, x.c, pq);
    let gap_reals: Vec<f64> = (0..x.c)
        .map(|c| x.q.scale * f.bases.head_pool[c] as f64 / ((x.h * x.w) as f64 * pq.scale))
        .collect();
    let requant = l.requant(&gap_reals);
    let gap = Layer::GlobalAvgPool(GlobalAvgPool {
        input: tref(&x),
        in_zp: x.q.zp,
        output: tref(&pooled),
        out_zp: pq.zp,
        requant,
    });
    l.push(
        "head.global_pool",
        "head.global_pool",
        gap,
        vec![x.tensor],
        &pooled,
        None,
    );
    units.push(Unit::Single(l.pending.len() - 1));
    let lq = l.q("head.fc");
    let logits = l.tensor("head.fc", 1, 1, f.head.cout, lq);
    let (weights, bias, requant) = l.fc_weights(&f.head, pq, lq.scale);
    let fc = Layer::FullyConnected(FullyConnected {
        input: tref(&pooled),
        in_zp: pq.zp,
        output: tref(&logits),
        out_zp: lq.zp,
        weights,
        bias,
        requant,
    });
    l.push("head.fc", "head.fc", fc, vec![pooled.tensor], &logits, None);
    units.push(Unit::Single(l.pending.len() - 1));
    l.align();
    let covered: Vec<usize> = units.iter().flat_map(Unit::layers).collect();
    assert_eq!(
        covered,
        (0..l.pending.len()).collect::<Vec<_>>(),
        "units cover the lowered layers in order"
    );
    Lowered {
        blob: l.blob,
        tensors: l.tensors,
        pending: l.pending,
        names: l.names,
        float_names: l.float_names,
        out_q: l.out_q,
        units,
        image: image.tensor,
        logits: logits.tensor,
        input: tref(&image),
        output: tref(&logits),
        stem_normalized,
        normalized_input_q,
        output_q: lq,
    }
}
