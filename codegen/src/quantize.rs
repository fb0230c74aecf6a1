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
use crate::plan::{self, Access, Alias, Buffer, Kind, Operands, Plan};

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
    /// Execution forms and arena use.
    pub memory: MemoryForm,
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
    /// Planned buffers (tensors, rings, scratch) with their layer lifetimes.
    pub buffers: Vec<Buffer>,
    /// Every kernel's reads and writes, in schedule order: what the plan
    /// is proven against ([`plan::check`]).
    pub accesses: Vec<Access>,
    /// Relative placements of in-place and write-behind outputs.
    pub aliases: Vec<Alias>,
    /// The plan.
    pub plan: Plan,
    /// Arena bytes of the naive (one region per tensor, no reuse) plan.
    pub naive_bytes: usize,
    /// Arena bytes of the layer-by-layer form (the unfused plan), for
    /// comparison; equals `arena_bytes` in that form.
    pub layer_by_layer_bytes: usize,
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
        while !self.blob.len().is_multiple_of(plan::ALIGN) {
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
        // Dense 1x1 convs run the fast pointwise kernel, with the input zero
        // point folded into the bias here, once, instead of per MAC.
        let pointwise = c.k == 1 && c.stride == 1 && c.pad() == 0 && c.groups == 1;
        let folded: Vec<i32> = if pointwise {
            (0..c.cout)
                .map(|o| {
                    let wsum: i32 = wq[o * c.cin..(o + 1) * c.cin]
                        .iter()
                        .map(|&v| v as i32)
                        .sum();
                    bias[o].wrapping_sub(x.q.zp.wrapping_mul(wsum))
                })
                .collect()
        } else {
            Vec::new()
        };
        // Depthwise convs run the fast depthwise kernel: the same weights
        // laid out tap-major, channel-minor, and the zero point folded in.
        let depthwise = !pointwise && c.groups == c.cin && c.cin == c.cout;
        let taps = c.k * c.k;
        let (whwc, dw_folded): (Vec<i8>, Vec<i32>) = if depthwise {
            let whwc = (0..taps)
                .flat_map(|t| (0..c.cout).map(move |o| (t, o)))
                .map(|(t, o)| wq[o * taps + t])
                .collect();
            let folded = (0..c.cout)
                .map(|o| {
                    let wsum: i32 = wq[o * taps..(o + 1) * taps].iter().map(|&v| v as i32).sum();
                    bias[o].wrapping_sub(x.q.zp.wrapping_mul(wsum))
                })
                .collect();
            (whwc, folded)
        } else {
            (Vec::new(), Vec::new())
        };
        // Grouped convs with a channel multiplier (FastViT's x2 convs) run the
        // multiplier kernel: weights [k][k][m][cin], zero point folded in.
        let m = if c.groups == c.cin && c.cin > 0 {
            c.cout / c.cin
        } else {
            0
        };
        let multiplier = !depthwise && m >= 2 && c.cout == m * c.cin;
        let (w_mult, mult_folded): (Vec<i8>, Vec<i32>) = if multiplier {
            let w = (0..taps)
                .flat_map(|t| (0..c.cout).map(move |i| (t, i)))
                .map(|(t, i)| {
                    let (j, ci) = (i / c.cin, i % c.cin);
                    wq[(m * ci + j) * taps + t]
                })
                .collect();
            let folded = (0..c.cout)
                .map(|o| {
                    let wsum: i32 = wq[o * taps..(o + 1) * taps].iter().map(|&v| v as i32).sum();
                    bias[o].wrapping_sub(x.q.zp.wrapping_mul(wsum))
                })
                .collect();
            (w, folded)
        } else {
            (Vec::new(), Vec::new())
        };
        // Dense convs from few channels (the stem from RGB), zero point folded
        // in. A window of at most `Conv::MAX_PATCH` values (the stem: 27) runs
        // as a 1x1 conv over im2col patches: the OHWI rows, each padded with
        // zeros to `Conv::patch_len` values; a larger one runs the dense
        // kernel: weights [k][k][cin][cout].
        let dense = !pointwise && c.groups == 1 && c.cin < 16;
        let per = taps * c.cin;
        let patch = Conv::patch_len_of(per);
        let im2col = dense && patch <= Conv::MAX_PATCH;
        let dense_folded: Vec<i32> = if dense {
            (0..c.cout)
                .map(|o| {
                    let wsum: i32 = wq[o * per..(o + 1) * per].iter().map(|&v| v as i32).sum();
                    bias[o].wrapping_sub(x.q.zp.wrapping_mul(wsum))
                })
                .collect()
        } else {
            Vec::new()
        };
        let w_rows: Vec<i8> = if im2col {
            (0..c.cout)
                .flat_map(|o| (0..patch).map(move |i| (o, i)))
                .map(|(o, i)| if i < per { wq[o * per + i] } else { 0 })
                .collect()
        } else {
            Vec::new()
        };
        let w_hwio: Vec<i8> = if dense && !im2col {
            (0..per)
                .flat_map(|i| (0..c.cout).map(move |o| (i, o)))
                .map(|(i, o)| wq[o * per + i])
                .collect()
        } else {
            Vec::new()
        };
        let weights = self.i8s(&wq);
        let bias = self.i32s(&bias);
        let requant = self.requant(&reals);
        let pad_values = if pad_values.is_empty() {
            Span::NONE
        } else {
            self.i8s(pad_values)
        };
        let variant = if pointwise {
            ConvVariant::Pointwise {
                folded_bias: self.i32s(&folded),
            }
        } else if depthwise {
            ConvVariant::Depthwise {
                weights_hwc: self.i8s(&whwc),
                folded_bias: self.i32s(&dw_folded),
            }
        } else if multiplier {
            ConvVariant::Multiplier {
                weights_hwc: self.i8s(&w_mult),
                folded_bias: self.i32s(&mult_folded),
            }
        } else if im2col {
            ConvVariant::Im2col {
                weights_rows: self.i8s(&w_rows),
                folded_bias: self.i32s(&dense_folded),
            }
        } else if dense {
            ConvVariant::DenseHwio {
                weights_hwio: self.i8s(&w_hwio),
                folded_bias: self.i32s(&dense_folded),
            }
        } else {
            ConvVariant::Reference
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

/// How a group of lowered layers may run once fused (see [`MemoryForm`]).
#[derive(Clone, Copy, Debug)]
enum Unit {
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
    fn layers(&self) -> Vec<usize> {
        match *self {
            Unit::Single(i) | Unit::InPlace(i) | Unit::WriteBehind(i) => vec![i],
            Unit::Stem(a, b) => vec![a, b],
            Unit::ConvMlp { dw, fc1, fc2, add } => vec![dw, fc1, fc2, add],
        }
    }
}

/// How the arena is used: the execution forms codegen chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryForm {
    /// Every op reads whole input tensors and writes a whole new output (the
    /// simple form, kept for comparison).
    LayerByLayer,
    /// Streamed stem, in-place 1x1/depthwise convs, write-behind
    /// downsampling and fused in-place ConvMlp blocks.
    #[default]
    Fused,
}

impl std::fmt::Display for MemoryForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MemoryForm::LayerByLayer => "layer-by-layer",
            MemoryForm::Fused => "fused",
        })
    }
}

/// The lowered (unfused) graph: every layer quantized, nothing placed.
struct Lowered {
    blob: Vec<u8>,
    /// (name, bytes) per tensor.
    tensors: Vec<(String, usize)>,
    pending: Vec<Pending>,
    names: Vec<String>,
    float_names: Vec<String>,
    out_q: Vec<QParams>,
    units: Vec<Unit>,
    image: usize,
    logits: usize,
    input: TensorRef,
    output: TensorRef,
    stem_normalized: Conv,
    normalized_input_q: QParams,
    output_q: QParams,
}

fn lower(f: &Folded, ranges: &BTreeMap<String, Range>, res: usize) -> Lowered {
    let mut l = Lowering {
        ranges,
        blob: Vec::new(),
        tensors: Vec::new(),
        pending: Vec::new(),
        names: Vec::new(),
        float_names: Vec::new(),
        out_q: Vec::new(),
    };
    let mut units = Vec::new();
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

/// One layer of an assembled schedule, before offsets are known.
struct Step {
    layer: Layer,
    ops: Operands,
    /// The last lowered layer it covers (its output is the step's output).
    last: usize,
    /// Its name when it fuses ops that are named apart (the stem).
    name: Option<String>,
}

/// A schedule in one memory form: layers, buffers, accesses, aliases, plan.
#[derive(Clone, Debug)]
struct Assembled {
    /// The schedule with arena offsets.
    layers: Vec<Layer>,
    /// Name per layer (a fused layer is named after its last op: its output).
    names: Vec<String>,
    /// Float observation name of each layer's output.
    float_names: Vec<String>,
    /// Quantization of each layer's output.
    out_q: Vec<QParams>,
    /// `layers[0]` for the normalized entry point.
    stem_normalized: Layer,
    /// Buffers with their layer lifetimes.
    buffers: Vec<Buffer>,
    /// Every kernel's reads and writes, in order (what [`plan::check`] replays).
    accesses: Vec<Access>,
    /// Placement constraints of in-place and write-behind forms.
    aliases: Vec<Alias>,
    /// The plan.
    plan: Plan,
    /// Input image tensor.
    input: TensorRef,
    /// Logits tensor.
    output: TensorRef,
}

struct Assembly<'l> {
    lw: &'l Lowered,
    buffers: Vec<Buffer>,
    of_tensor: Vec<Option<usize>>,
    aliases: Vec<Alias>,
    steps: Vec<Step>,
}

impl Assembly<'_> {
    fn buffer(&mut self, name: &str, size: usize) -> usize {
        self.buffers.push(Buffer {
            name: name.to_string(),
            size,
            first: 0,
            last: -1,
        });
        self.buffers.len() - 1
    }

    /// The buffer holding tensor `t` (created on first use).
    fn tensor(&mut self, t: usize) -> usize {
        if let Some(b) = self.of_tensor[t] {
            return b;
        }
        let (name, size) = self.lw.tensors[t].clone();
        let b = self.buffer(&name, size);
        self.of_tensor[t] = Some(b);
        b
    }

    fn alias(&mut self, buffer: usize, base: usize, behind: usize) {
        self.aliases.push(Alias {
            buffer,
            base,
            delta: -(plan::align_up(behind) as i64),
        });
    }

    fn scratch(&mut self, pending: usize, bytes: usize) -> usize {
        let name = format!("{} scratch", self.lw.names[pending]);
        self.buffer(&name, bytes)
    }

    fn conv(&self, i: usize) -> Conv {
        match self.lw.pending[i].layer {
            Layer::Conv(c) => c,
            other => unreachable!("layer {i} is a conv, not {other:?}"),
        }
    }

    /// Whether every lowered layer that reads tensor `t` is in `readers` (so
    /// the fused layer made of them may overwrite it).
    fn sole_reader(&self, t: usize, readers: &[usize]) -> bool {
        self.lw
            .pending
            .iter()
            .enumerate()
            .all(|(i, p)| readers.contains(&i) || !p.ins.contains(&t))
            && t != self.lw.logits
    }

    fn single(&mut self, i: usize) {
        let p = &self.lw.pending[i];
        let (ins, out, scratch) = (p.ins.clone(), p.out, p.scratch);
        let inputs = ins.iter().map(|&t| self.tensor(t)).collect();
        let output = self.tensor(out);
        let scratch = scratch.map(|t| self.tensor(t));
        self.steps.push(Step {
            layer: self.lw.pending[i].layer,
            ops: Operands {
                inputs,
                output,
                scratch,
            },
            last: i,
            name: None,
        });
    }

    fn unit(&mut self, u: Unit) {
        let lw = self.lw;
        match u {
            Unit::Single(i) => self.single(i),
            Unit::InPlace(i)
                if self.sole_reader(lw.pending[i].ins[0], &[i]) && in_place_ok(&self.conv(i)) =>
            {
                let mut c = self.conv(i);
                let (input, output) = (
                    self.tensor(lw.pending[i].ins[0]),
                    self.tensor(lw.pending[i].out),
                );
                let bytes = Conv::in_place_scratch_bytes(
                    c.kernel as usize,
                    c.input.w as usize,
                    c.input.c as usize,
                );
                let scratch = self.scratch(i, bytes);
                c.variant = match c.variant {
                    ConvVariant::Pointwise { folded_bias } => ConvVariant::PointwiseInPlace {
                        scratch: 0,
                        folded_bias,
                    },
                    ConvVariant::Depthwise {
                        weights_hwc,
                        folded_bias,
                    } => ConvVariant::DepthwiseInPlace {
                        scratch: 0,
                        weights_hwc,
                        folded_bias,
                    },
                    _ => ConvVariant::InPlace { scratch: 0 },
                };
                self.alias(output, input, 0);
                self.steps.push(Step {
                    layer: Layer::Conv(c),
                    ops: Operands {
                        inputs: vec![input],
                        output,
                        scratch: Some(scratch),
                    },
                    last: i,
                    name: None,
                });
            }
            Unit::WriteBehind(i) if self.sole_reader(lw.pending[i].ins[0], &[i]) => {
                let mut c = self.conv(i);
                c.variant = match c.variant {
                    ConvVariant::Multiplier {
                        weights_hwc,
                        folded_bias,
                    } => ConvVariant::MultiplierWriteBehind {
                        weights_hwc,
                        folded_bias,
                    },
                    _ => ConvVariant::WriteBehind,
                };
                let (input, output) = (
                    self.tensor(lw.pending[i].ins[0]),
                    self.tensor(lw.pending[i].out),
                );
                self.alias(output, input, c.write_behind_bytes());
                self.steps.push(Step {
                    layer: Layer::Conv(c),
                    ops: Operands {
                        inputs: vec![input],
                        output,
                        scratch: None,
                    },
                    last: i,
                    name: None,
                });
            }
            Unit::Stem(a, b) if self.sole_reader(lw.pending[a].out, &[b]) => {
                let reference = |c: Conv| Conv {
                    variant: ConvVariant::Reference,
                    ..c
                };
                let (first, second) = (self.conv(a), self.conv(b));
                // The fast kernels stream together or not at all.
                let fast = matches!(
                    (first.variant, second.variant),
                    (
                        ConvVariant::DenseHwio { .. } | ConvVariant::Im2col { .. },
                        ConvVariant::Depthwise { .. }
                    )
                );
                let stem = if fast {
                    runtime::Stem { first, second }
                } else {
                    runtime::Stem {
                        first: reference(first),
                        second: reference(second),
                    }
                };
                let ring_bytes = Layer::Stem(stem).scratch_bytes();
                let input = self.tensor(lw.pending[a].ins[0]);
                let ring = self.buffer(&format!("{} ring", lw.names[a]), ring_bytes);
                let output = self.tensor(lw.pending[b].out);
                if self.sole_reader(lw.pending[a].ins[0], &[a]) {
                    self.alias(output, input, stem.write_behind_bytes());
                }
                self.steps.push(Step {
                    layer: Layer::Stem(stem),
                    ops: Operands {
                        inputs: vec![input],
                        output,
                        scratch: Some(ring),
                    },
                    last: b,
                    name: Some(format!("{}+{}", lw.names[a], lw.names[b])),
                });
            }
            Unit::ConvMlp { dw, fc1, fc2, add }
                if self.sole_reader(lw.pending[dw].ins[0], &[dw, add])
                    && lw.pending[add].ins == [lw.pending[dw].ins[0], lw.pending[fc2].out] =>
            {
                let (d, mut f1, mut f2) = (self.conv(dw), self.conv(fc1), self.conv(fc2));
                // fc1 and fc2 run the fast kernel together or not at all.
                let fast = |c: &Conv| matches!(c.variant, ConvVariant::Pointwise { .. });
                let fc_fast = fast(&f1) && fast(&f2);
                if !fc_fast {
                    f1.variant = ConvVariant::Reference;
                    f2.variant = ConvVariant::Reference;
                }
                // dw keeps the fast depthwise kernel only with fast fc1/fc2.
                let d = match d.variant {
                    ConvVariant::Depthwise { .. } if fc_fast => d,
                    _ => Conv {
                        variant: ConvVariant::Reference,
                        ..d
                    },
                };
                let a = match lw.pending[add].layer {
                    Layer::Add(a) => a,
                    other => unreachable!("the block ends in an add, not {other:?}"),
                };
                let virt = |t: TensorRef| TensorRef { offset: 0, ..t };
                let mlp = runtime::ConvMlp {
                    dw: Conv {
                        output: virt(d.output),
                        ..d
                    },
                    fc1: Conv {
                        input: virt(f1.input),
                        output: virt(f1.output),
                        ..f1
                    },
                    fc2: Conv {
                        input: virt(f2.input),
                        output: virt(f2.output),
                        ..f2
                    },
                    add: Add { b: virt(a.b), ..a },
                    scratch: 0,
                };
                let bytes = Layer::ConvMlp(mlp).scratch_bytes();
                let x = self.tensor(lw.pending[dw].ins[0]);
                let output = self.tensor(lw.pending[add].out);
                let scratch = self.scratch(add, bytes);
                self.alias(output, x, 0);
                self.steps.push(Step {
                    layer: Layer::ConvMlp(mlp),
                    ops: Operands {
                        inputs: vec![x],
                        output,
                        scratch: Some(scratch),
                    },
                    last: add,
                    name: None,
                });
            }
            // A fusion whose preconditions fail falls back to layer by layer.
            other => {
                for i in other.layers() {
                    self.single(i);
                }
            }
        }
    }
}

/// Whether `c` fits [`ConvVariant::InPlace`]: stride 1, odd kernel, same
/// padding, output shape equal to the input shape.
fn in_place_ok(c: &Conv) -> bool {
    let shape = |t: TensorRef| (t.h, t.w, t.c);
    c.stride == 1 && c.kernel % 2 == 1 && c.pad == c.kernel / 2 && shape(c.input) == shape(c.output)
}

/// Writes a plan's offsets into a layer.
fn place(layer: &mut Layer, ops: &Operands, off: impl Fn(usize) -> u32) {
    let scratch = || off(ops.scratch.expect("layer has scratch"));
    match layer {
        Layer::Conv(c) => {
            c.input.offset = off(ops.inputs[0]);
            c.output.offset = off(ops.output);
            if let ConvVariant::InPlace { scratch: s }
            | ConvVariant::PointwiseInPlace { scratch: s, .. }
            | ConvVariant::DepthwiseInPlace { scratch: s, .. } = &mut c.variant
            {
                *s = scratch();
            }
        }
        Layer::Lut(t) => {
            t.input.offset = off(ops.inputs[0]);
            t.output.offset = off(ops.output);
        }
        Layer::Add(a) => {
            a.a.offset = off(ops.inputs[0]);
            a.b.offset = off(ops.inputs[1]);
            a.output.offset = off(ops.output);
        }
        Layer::SqueezeExcite(s) => {
            s.input.offset = off(ops.inputs[0]);
            s.output.offset = off(ops.output);
            s.scratch = scratch();
        }
        Layer::GlobalAvgPool(g) => {
            g.input.offset = off(ops.inputs[0]);
            g.output.offset = off(ops.output);
        }
        Layer::FullyConnected(fc) => {
            fc.input.offset = off(ops.inputs[0]);
            fc.output.offset = off(ops.output);
        }
        Layer::Stem(s) => {
            s.first.input.offset = off(ops.inputs[0]);
            s.first.output.offset = scratch();
            s.second.input.offset = scratch();
            s.second.output.offset = off(ops.output);
        }
        Layer::ConvMlp(m) => {
            m.dw.input.offset = off(ops.inputs[0]);
            m.add.a.offset = off(ops.inputs[0]);
            m.add.output.offset = off(ops.output);
            m.scratch = scratch();
        }
    }
}

/// Builds the schedule of `lw` in memory form `form`, derives every buffer's
/// lifetime from the kernels' access models, plans the arena and proves the
/// plan with [`plan::check`].
fn assemble(lw: &Lowered, form: MemoryForm) -> Assembled {
    let mut a = Assembly {
        lw,
        buffers: Vec::new(),
        of_tensor: vec![None; lw.tensors.len()],
        aliases: Vec::new(),
        steps: Vec::new(),
    };
    for &u in &lw.units {
        match form {
            MemoryForm::LayerByLayer => {
                for i in u.layers() {
                    a.single(i);
                }
            }
            MemoryForm::Fused => a.unit(u),
        }
    }
    let image = a.tensor(lw.image);
    let logits = a.tensor(lw.logits);
    let n = a.steps.len() as i64;
    let mut accesses = vec![Access {
        layer: -1,
        kind: Kind::Write,
        buffer: image,
        start: 0,
        end: lw.input.len(),
    }];
    for (i, s) in a.steps.iter().enumerate() {
        plan::layer_accesses(i as i64, &s.layer, &s.ops, &mut accesses);
    }
    accesses.push(Access {
        layer: n,
        kind: Kind::Read,
        buffer: logits,
        start: 0,
        end: lw.output.len(),
    });
    let mut buffers = a.buffers;
    plan::set_lifetimes(&mut buffers, &accesses);
    let plan = match form {
        MemoryForm::LayerByLayer => plan::plan_greedy(&buffers),
        MemoryForm::Fused => {
            plan::plan_grouped(&buffers, &a.aliases).unwrap_or_else(|e| panic!("fused plan: {e}"))
        }
    };
    if let Err(e) = plan::check(&buffers, &accesses, &plan) {
        panic!("the {form} arena plan is invalid: {e}");
    }
    let off = |b: usize| plan.offsets[b] as u32;
    let mut layers = Vec::with_capacity(a.steps.len());
    for s in &a.steps {
        let mut layer = s.layer;
        place(&mut layer, &s.ops, off);
        layers.push(layer);
    }
    // The normalized entry point: the same first layer with the plain stem conv
    // (same geometry, so the same accesses and plan).
    let stem_normalized = match layers[0] {
        Layer::Conv(c) => Layer::Conv(Conv {
            input: c.input,
            output: c.output,
            ..lw.stem_normalized
        }),
        Layer::Stem(s) => Layer::Stem(runtime::Stem {
            first: Conv {
                input: s.first.input,
                output: s.first.output,
                ..lw.stem_normalized
            },
            ..s
        }),
        other => unreachable!("the schedule starts with the stem, not {other:?}"),
    };
    Assembled {
        names: a
            .steps
            .iter()
            .map(|s| s.name.clone().unwrap_or_else(|| lw.names[s.last].clone()))
            .collect(),
        float_names: a
            .steps
            .iter()
            .map(|s| lw.float_names[s.last].clone())
            .collect(),
        out_q: a.steps.iter().map(|s| lw.out_q[s.last]).collect(),
        stem_normalized,
        input: TensorRef {
            offset: off(image),
            ..lw.input
        },
        output: TensorRef {
            offset: off(logits),
            ..lw.output
        },
        layers,
        buffers,
        accesses,
        aliases: a.aliases,
        plan,
    }
}

/// Lowers the folded graph with the calibrated ranges, assembles the schedule
/// in `settings.memory` form, plans and checks the arena, and returns the
/// compiled model. The layer-by-layer form is always planned too, for the
/// comparison figure.
pub fn compile(f: &Folded, ranges: &BTreeMap<String, Range>, settings: Settings) -> Compiled {
    let lw = lower(f, ranges, settings.resolution);
    let lbl = assemble(&lw, MemoryForm::LayerByLayer);
    let layer_by_layer_bytes = lbl.plan.peak;
    let naive_bytes = plan::plan_naive(&lbl.buffers).peak;
    let chosen = match settings.memory {
        MemoryForm::LayerByLayer => lbl,
        MemoryForm::Fused => assemble(&lw, MemoryForm::Fused),
    };
    Compiled {
        weights: lw.blob,
        layers: chosen.layers,
        names: chosen.names,
        float_names: chosen.float_names,
        out_q: chosen.out_q,
        stem_normalized: chosen.stem_normalized,
        normalized_input_q: lw.normalized_input_q,
        arena_bytes: chosen.plan.peak,
        input: chosen.input,
        output: chosen.output,
        output_q: lw.output_q,
        buffers: chosen.buffers,
        accesses: chosen.accesses,
        aliases: chosen.aliases,
        plan: chosen.plan,
        naive_bytes,
        layer_by_layer_bytes,
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
