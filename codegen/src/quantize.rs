//! Lowering the folded float graph to the int8 schedule (TFLite int8
//! conventions): per-output-channel symmetric int8 weights, per-tensor
//! asymmetric int8 activations, i32 biases, integer multiplier + shift
//! requantization, GELU and sigmoid as 256-entry tables, and the ImageNet
//! normalization folded into the stem.

use std::collections::BTreeMap;

use runtime::{
    Add, Conv, ConvVariant, FullyConnected, GlobalAvgPool, Layer, Requant, Span, SqueezeExcite,
    TensorRef,
};

use crate::arch::{IMAGENET_MEAN, IMAGENET_STD};
use crate::calibrate::{Range, RangeMethod};
use crate::float::{block_name, gelu, sigmoid, Fmap};
use crate::fold::{ConvW, Folded};
use crate::plan::{self, Buffer, Plan};

/// Headroom shift of residual adds (TFLite uses 20 for int8).
pub const ADD_LEFT_SHIFT: u8 = 20;

/// Scale and zero point of an int8 tensor: `real = scale * (q - zp)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct QParams {
    /// Scale.
    pub scale: f64,
    /// Zero point.
    pub zp: i32,
}

impl QParams {
    /// Asymmetric parameters covering `r` (widened to contain 0, so zero is exact).
    pub fn from_range(r: Range) -> Self {
        let (lo, hi) = (r.lo.min(0.0) as f64, r.hi.max(0.0) as f64);
        let scale = if hi - lo > 0.0 {
            (hi - lo) / 255.0
        } else {
            1e-6
        };
        let zp = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i32;
        Self { scale, zp }
    }

    /// Quantizes a real value.
    pub fn quantize(&self, v: f32) -> i8 {
        ((v as f64 / self.scale).round() + self.zp as f64).clamp(-128.0, 127.0) as i8
    }

    /// The real value of `q`.
    pub fn dequantize(&self, q: i8) -> f32 {
        ((q as i32 - self.zp) as f64 * self.scale) as f32
    }
}

/// Encodes a positive real scale as `(multiplier, shift)` with
/// `real = multiplier * 2^(shift - 31)`, multiplier in `[2^30, 2^31)`.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real <= 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (f, mut e) = libm::frexp(real);
    let mut m = (f * (1u64 << 31) as f64).round() as i64;
    if m == 1i64 << 31 {
        m /= 2;
        e += 1;
    }
    if e > 30 {
        return (i32::MAX, 30);
    }
    if e < -31 {
        // Too small for full precision: keep the shift at its floor.
        let m = (real * 2f64.powi(62)).round() as i64;
        return (m as i32, -31);
    }
    (m as i32, e)
}

/// Settings recorded in the generated header.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Settings {
    /// Range estimator.
    pub method: RangeMethod,
    /// Number of calibration inputs.
    pub calibration_inputs: usize,
    /// Where they came from.
    pub calibration_source: String,
    /// Input resolution.
    pub resolution: usize,
    /// Per-channel equalization strength (0 = off; see [`crate::equalize`]).
    pub equalization: f64,
}

/// The quantized model: a weight blob plus the schedule, as codegen runs it
/// in process and as it is emitted.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Weight blob (all spans point into it; every array 16-byte aligned).
    pub weights: Vec<u8>,
    /// The schedule.
    pub layers: Vec<Layer>,
    /// timm module name per layer.
    pub names: Vec<String>,
    /// Float observation name of each layer's output (see `forward_folded`).
    pub float_names: Vec<String>,
    /// Quantization of each layer's output.
    pub out_q: Vec<QParams>,
    /// Stem variant for the normalized entry point.
    pub stem_normalized: Layer,
    /// Quantization of the normalized input.
    pub normalized_input_q: QParams,
    /// Arena bytes.
    pub arena_bytes: usize,
    /// Input image tensor.
    pub input: TensorRef,
    /// Logits tensor.
    pub output: TensorRef,
    /// Quantization of the logits.
    pub output_q: QParams,
    /// Planned buffers (for reports), in tensor order.
    pub buffers: Vec<Buffer>,
    /// The plan.
    pub plan: Plan,
    /// Arena bytes of the naive (one region per tensor) plan, for comparison.
    pub naive_bytes: usize,
    /// Settings.
    pub settings: Settings,
}

impl Compiled {
    /// Runs `f` with a runtime [`runtime::Model`] borrowing this data.
    pub fn with_model<R>(&self, f: impl FnOnce(&runtime::Model<'_>) -> R) -> R {
        let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
        let model = runtime::Model {
            weights: &self.weights,
            layers: &self.layers,
            layer_names: &names,
            stem_normalized: self.stem_normalized,
            arena_bytes: self.arena_bytes,
            input: self.input,
            normalized_input_zp: self.normalized_input_q.zp,
            output: self.output,
            output_zp: self.output_q.zp,
        };
        f(&model)
    }

    /// Quantizes a normalized CHW input to the HWC int8 layout of
    /// `run_normalized`.
    pub fn quantize_normalized(&self, x: &Fmap) -> Vec<i8> {
        let n = x.h * x.w;
        let mut out = vec![0i8; 3 * n];
        for i in 0..n {
            for c in 0..3 {
                out[i * 3 + c] = self.normalized_input_q.quantize(x.data[c * n + i]);
            }
        }
        out
    }

    /// Dequantized logits.
    pub fn dequantize_logits(&self, q: &[i8]) -> Vec<f32> {
        q.iter().map(|&v| self.output_q.dequantize(v)).collect()
    }

    /// Multiply-accumulates of the schedule.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(|l| l.macs()).sum()
    }
}

/// The real range of the normalized input (ImageNet mean/std over [0, 1]).
pub fn normalized_input_range() -> Range {
    let lo = (0..3)
        .map(|c| -IMAGENET_MEAN[c] / IMAGENET_STD[c])
        .fold(0f32, f32::min);
    let hi = (0..3)
        .map(|c| (1.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])
        .fold(0f32, f32::max);
    Range { lo, hi }
}

/// An activation during lowering.
#[derive(Clone, Copy)]
struct Act {
    tensor: usize,
    q: QParams,
    h: usize,
    w: usize,
    c: usize,
}

struct Pending {
    layer: Layer,
    ins: Vec<usize>,
    out: usize,
    scratch: Option<usize>,
}

struct Lowering<'r> {
    ranges: &'r BTreeMap<String, Range>,
    blob: Vec<u8>,
    /// (name, bytes) per tensor.
    tensors: Vec<(String, usize)>,
    pending: Vec<Pending>,
    names: Vec<String>,
    float_names: Vec<String>,
    out_q: Vec<QParams>,
}

fn tref(a: &Act) -> TensorRef {
    TensorRef {
        offset: 0,
        h: a.h as u16,
        w: a.w as u16,
        c: a.c as u16,
    }
}

impl Lowering<'_> {
    fn q(&self, name: &str) -> QParams {
        QParams::from_range(
            *self
                .ranges
                .get(name)
                .unwrap_or_else(|| panic!("calibration lacks tensor `{name}`")),
        )
    }

    fn align(&mut self) {
        while self.blob.len() % plan::ALIGN != 0 {
            self.blob.push(0);
        }
    }

    fn i8s(&mut self, v: &[i8]) -> Span {
        self.align();
        let offset = self.blob.len() as u32;
        self.blob.extend(v.iter().map(|&x| x as u8));
        Span {
            offset,
            len: v.len() as u32,
        }
    }

    fn i32s(&mut self, v: &[i32]) -> Span {
        self.align();
        let offset = self.blob.len() as u32;
        self.blob.extend(v.iter().flat_map(|x| x.to_le_bytes()));
        Span {
            offset,
            len: 4 * v.len() as u32,
        }
    }

    fn requant(&mut self, reals: &[f64]) -> Requant {
        let (m, s): (Vec<i32>, Vec<i32>) = reals.iter().map(|&r| quantize_multiplier(r)).unzip();
        Requant {
            multiplier: self.i32s(&m),
            shift: self.i32s(&s),
        }
    }

    fn lut(&mut self, pre: QParams, post: QParams, f: fn(f32) -> f32) -> Span {
        let table: Vec<i8> = (-128i32..128)
            .map(|q| post.quantize(f(pre.dequantize(q as i8))))
            .collect();
        self.i8s(&table)
    }

    fn tensor(&mut self, name: &str, h: usize, w: usize, c: usize, q: QParams) -> Act {
        self.tensors.push((name.to_string(), h * w * c));
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

    /// Quantizes a conv's weights per output channel and builds its layer.
    fn conv_layer(
        &mut self,
        c: &ConvW,
        x: &Act,
        out: &Act,
        pre: QParams,
        lut: Span,
        pad_values: &[i8],
    ) -> Conv {
        let cin_g = c.cin / c.groups;
        let per = c.fan_in();
        let mut wq = Vec::with_capacity(c.weight.len());
        let mut bias = Vec::with_capacity(c.cout);
        let mut reals = Vec::with_capacity(c.cout);
        for o in 0..c.cout {
            let w = &c.weight[o * per..(o + 1) * per];
            let wmax = w.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            let sw = if wmax > 0.0 { wmax / 127.0 } else { 1.0 };
            // OIHW -> OHWI.
            for ky in 0..c.k {
                for kx in 0..c.k {
                    for ci in 0..cin_g {
                        let v = w[(ci * c.k + ky) * c.k + kx] as f64 / sw;
                        wq.push(v.round().clamp(-127.0, 127.0) as i8);
                    }
                }
            }
            let b = (c.bias[o] as f64 / (x.q.scale * sw)).round();
            bias.push(b.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
            reals.push(x.q.scale * sw / pre.scale);
        }
        let weights = self.i8s(&wq);
        let bias = self.i32s(&bias);
        let requant = self.requant(&reals);
        let pad_values = if pad_values.is_empty() {
            Span::NONE
        } else {
            self.i8s(pad_values)
        };
        Conv {
            variant: ConvVariant::Reference,
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
        let (out_mult, out_shift) =
            quantize_multiplier(twice_max / ((1u64 << ADD_LEFT_SHIFT) as f64 * q.scale));
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
            left_shift: ADD_LEFT_SHIFT,
        });
        self.push(name, name, layer, vec![a.tensor, b.tensor], &out, None);
        out
    }

    fn fc_weights(&mut self, c: &ConvW, in_scale: f64, out_scale: f64) -> (Span, Span, Requant) {
        let mut wq = Vec::with_capacity(c.weight.len());
        let mut bias = Vec::new();
        let mut reals = Vec::new();
        for o in 0..c.cout {
            let w = &c.weight[o * c.cin..(o + 1) * c.cin];
            let wmax = w.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            let sw = if wmax > 0.0 { wmax / 127.0 } else { 1.0 };
            wq.extend(
                w.iter()
                    .map(|&v| (v as f64 / sw).round().clamp(-127.0, 127.0) as i8),
            );
            bias.push(
                (c.bias[o] as f64 / (in_scale * sw))
                    .round()
                    .clamp(i32::MIN as f64, i32::MAX as f64) as i32,
            );
            reals.push(in_scale * sw / out_scale);
        }
        (self.i8s(&wq), self.i32s(&bias), self.requant(&reals))
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
        let (fc1_weights, fc1_bias, fc1_requant) =
            self.fc_weights(&f.se_fc1, pool.scale, hid.scale);
        let (fc2_weights, fc2_bias, fc2_requant) =
            self.fc_weights(&f.se_fc2, hid.scale, gate.scale);
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

/// Lowers the folded graph with the calibrated ranges, plans the arena, and
/// returns the compiled model.
pub fn compile(f: &Folded, ranges: &BTreeMap<String, Range>, settings: Settings) -> Compiled {
    let res = settings.resolution;
    let mut l = Lowering {
        ranges,
        blob: Vec::new(),
        tensors: Vec::new(),
        pending: Vec::new(),
        names: Vec::new(),
        float_names: Vec::new(),
        out_q: Vec::new(),
    };
    let image = l.tensor(
        "input",
        res,
        res,
        3,
        QParams {
            scale: 1.0,
            zp: -128,
        },
    );
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
    (x, _) = l.conv("stem.2", &f.stem[2], &x, true, &[]);
    for (s, stage) in f.stages.iter().enumerate() {
        if let Some([p0, p1]) = &stage.downsample {
            (x, _) = l.conv(&format!("stages.{s}.downsample.proj.0"), p0, &x, false, &[]);
            (x, _) = l.conv(&format!("stages.{s}.downsample.proj.1"), p1, &x, true, &[]);
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
            let (y, _) = l.conv(&format!("{block}.mlp.conv"), &b.mlp_conv, &x, false, &[]);
            let (y, _) = l.conv(&format!("{block}.mlp.fc1"), &b.fc1, &y, true, &[]);
            let (y, _) = l.conv(&format!("{block}.mlp.fc2"), &b.fc2, &y, false, &[]);
            x = l.add(&block, &x, &y);
        }
    }
    (x, _) = l.conv("final_conv", &f.final_conv, &x, false, &[]);
    x = l.squeeze_excite(f, &x);
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
    let lq = l.q("head.fc");
    let logits = l.tensor("head.fc", 1, 1, f.head.cout, lq);
    let (weights, bias, requant) = l.fc_weights(&f.head, pq.scale, lq.scale);
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
    l.align();

    // Lifetimes: a tensor lives from the layer that writes it to its last reader.
    let n = l.pending.len() as i64;
    let mut buffers: Vec<Buffer> = l
        .tensors
        .iter()
        .map(|(name, size)| Buffer {
            name: name.clone(),
            size: *size,
            first: -1,
            last: -1,
        })
        .collect();
    for (i, p) in l.pending.iter().enumerate() {
        let i = i as i64;
        buffers[p.out].first = i;
        buffers[p.out].last = buffers[p.out].last.max(i);
        for &t in &p.ins {
            buffers[t].last = buffers[t].last.max(i);
        }
        if let Some(s) = p.scratch {
            buffers[s].first = i;
            buffers[s].last = i;
        }
    }
    buffers[logits.tensor].last = n - 1;
    let plan = plan::plan_greedy(&buffers);
    plan::check(&buffers, &plan).expect("greedy plan is valid");
    let naive_bytes = plan::plan_naive(&buffers).peak;
    let off = |t: usize| plan.offsets[t] as u32;
    let mut layers = Vec::with_capacity(l.pending.len());
    for p in &l.pending {
        let mut layer = p.layer;
        match &mut layer {
            Layer::Conv(c) => {
                c.input.offset = off(p.ins[0]);
                c.output.offset = off(p.out);
            }
            Layer::Lut(t) => {
                t.input.offset = off(p.ins[0]);
                t.output.offset = off(p.out);
            }
            Layer::Add(a) => {
                a.a.offset = off(p.ins[0]);
                a.b.offset = off(p.ins[1]);
                a.output.offset = off(p.out);
            }
            Layer::SqueezeExcite(s) => {
                s.input.offset = off(p.ins[0]);
                s.output.offset = off(p.out);
                s.scratch = off(p.scratch.expect("SE has scratch"));
            }
            Layer::GlobalAvgPool(g) => {
                g.input.offset = off(p.ins[0]);
                g.output.offset = off(p.out);
            }
            Layer::FullyConnected(fc) => {
                fc.input.offset = off(p.ins[0]);
                fc.output.offset = off(p.out);
            }
        }
        layers.push(layer);
    }
    let mut stem_normalized = stem_normalized;
    if let Layer::Conv(c) = layers[0] {
        stem_normalized.input = c.input;
        stem_normalized.output = c.output;
    }
    let input = TensorRef {
        offset: off(image.tensor),
        ..tref(&image)
    };
    let output = TensorRef {
        offset: off(logits.tensor),
        ..tref(&logits)
    };
    Compiled {
        weights: l.blob,
        layers,
        names: l.names,
        float_names: l.float_names,
        out_q: l.out_q,
        stem_normalized: Layer::Conv(stem_normalized),
        normalized_input_q,
        arena_bytes: plan.peak,
        input,
        output,
        output_q: lq,
        buffers,
        plan,
        naive_bytes,
        settings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_round_trips() {
        for real in [
            1e-9,
            3.7e-5,
            0.001,
            0.25,
            0.5,
            0.999_999_9,
            1.0,
            3.5,
            1000.0,
        ] {
            let (m, s) = quantize_multiplier(real);
            let back = m as f64 * 2f64.powi(s - 31);
            assert!(
                (back - real).abs() <= real * 1e-9 + 1e-18,
                "{real}: {m} {s} -> {back}"
            );
            assert!(
                s == -31 || (1 << 30..=i32::MAX).contains(&m),
                "{real}: multiplier {m}"
            );
        }
    }

    #[test]
    fn qparams_represent_zero_exactly() {
        for (lo, hi) in [(-1.0, 3.0), (0.0, 5.0), (-2.5, 0.0), (-0.17, 12.3)] {
            let q = QParams::from_range(Range { lo, hi });
            assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
        }
    }
}
