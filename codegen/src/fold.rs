//! Structural reparameterization (spec §3): the train-time graph collapses
//! into 106 tensors (T8). Two steps, both pure:
//! * [`timm_reparam`]: exactly what `timm.models.reparameterize_model` does
//!   (MobileOne branches, large-kernel branches, RepMixer, BN folds), giving
//!   timm's inference-mode tensor set (156 entries for T8);
//! * [`fold`]: the two exact folds timm leaves out (ConvMlp BatchNorm into the
//!   dw 7x7 conv, block layer scale into fc2), giving a [`Folded`] graph.

use crate::arch::{Variant, BN_EPS};
use crate::checkpoint::{Checkpoint, Tensor, TensorMap};

/// A folded convolution (PyTorch OIHW weights, with bias).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvW {
    /// timm module name of the folded conv (e.g. `stem.0.reparam_conv`).
    pub name: String,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Square kernel size.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Groups.
    pub groups: usize,
    /// `[cout][cin/groups][k][k]`.
    pub weight: Vec<f32>,
    /// `[cout]`.
    pub bias: Vec<f32>,
}

/// timm's static symmetric padding of a `k`x`k` conv of stride `stride`:
/// `((s-1) + (k-1)) / 2`.
pub fn timm_pad(k: usize, stride: usize) -> usize {
    ((stride - 1) + (k - 1)) / 2
}

impl ConvW {
    /// timm's static symmetric padding ([`timm_pad`]).
    pub fn pad(&self) -> usize {
        timm_pad(self.k, self.stride)
    }

    /// Weights per output channel.
    pub fn fan_in(&self) -> usize {
        self.cin / self.groups * self.k * self.k
    }
}

/// One RepMixerBlock after folding.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// RepMixer as one dw 3x3 conv (identity and layer scale included).
    pub token_mixer: ConvW,
    /// ConvMlp dw 7x7 with its BN folded.
    pub mlp_conv: ConvW,
    /// ConvMlp fc1 (1x1), followed by GELU.
    pub fc1: ConvW,
    /// ConvMlp fc2 (1x1) with the block layer scale folded; then `x + .`.
    pub fc2: ConvW,
}

/// One stage after folding.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// PatchEmbed: x2-multiplier grouped 7x7/s2, then 1x1 + GELU.
    pub downsample: Option<[ConvW; 2]>,
    /// Blocks.
    pub blocks: Vec<Block>,
}

/// The fully folded inference graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Folded {
    /// stem.0 (3x3/s2), stem.1 (dw 3x3/s2), stem.2 (1x1); each followed by GELU.
    pub stem: [ConvW; 3],
    /// Four stages.
    pub stages: Vec<Stage>,
    /// Grouped 3x3 x2 multiplier, then SE, then GELU.
    pub final_conv: ConvW,
    /// SE reduce (1x1, 768 -> 48) + ReLU.
    pub se_fc1: ConvW,
    /// SE expand (1x1, 48 -> 768) + sigmoid.
    pub se_fc2: ConvW,
    /// Classifier as a 1x1 conv (768 -> classes).
    pub head: ConvW,
    /// Per-channel storage factors of the tensors around squeeze-excite and
    /// the pool (all ones after folding; see [`crate::equalize`]).
    pub bases: Bases,
    /// Calibration's per-channel means of each conv's input, by conv name,
    /// which the quantizer's bias correction reads (empty after folding:
    /// no correction; see [`crate::bias_correction`]).
    pub input_means: crate::bias_correction::ConvInputMeans,
}

/// Per-channel factors by which tensors are stored (`stored = e * true`)
/// where the producer cannot absorb them into its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Bases {
    /// final_conv output (768).
    pub final_conv: Vec<f32>,
    /// SE pooled vector (768).
    pub se_pool: Vec<f32>,
    /// Head pooled vector (768).
    pub head_pool: Vec<f32>,
}

impl Bases {
    /// No rescaling.
    pub fn ones(c: usize) -> Self {
        Self {
            final_conv: vec![1.0; c],
            se_pool: vec![1.0; c],
            head_pool: vec![1.0; c],
        }
    }
}

impl Folded {
    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.head.cout
    }

    /// Every conv in execution order.
    pub fn convs(&self) -> Vec<&ConvW> {
        let mut v: Vec<&ConvW> = self.stem.iter().collect();
        for s in &self.stages {
            if let Some(d) = &s.downsample {
                v.extend(d.iter());
            }
            for b in &s.blocks {
                v.extend([&b.token_mixer, &b.mlp_conv, &b.fc1, &b.fc2]);
            }
        }
        v.extend([&self.final_conv, &self.se_fc1, &self.se_fc2, &self.head]);
        v
    }

    /// Number of tensors (weights and biases): 106 for FastViT-T8.
    pub fn tensor_count(&self) -> usize {
        self.convs().len() * 2
    }

    /// Number of values (weights + biases).
    pub fn parameters(&self) -> usize {
        self.convs()
            .iter()
            .map(|c| c.weight.len() + c.bias.len())
            .sum()
    }
}

fn get<'a>(m: &'a TensorMap, key: &str) -> &'a [f32] {
    // The loader validated the full key set, so absence is a programming error.
    &m.get(key)
        .unwrap_or_else(|| panic!("validated checkpoint lacks `{key}`"))
        .data
}

/// BN as a per-channel affine map `y = t*x + s` (spec §3.1).
fn fold_bn(m: &TensorMap, p: &str) -> (Vec<f32>, Vec<f32>) {
    let (g, b) = (get(m, &format!("{p}.weight")), get(m, &format!("{p}.bias")));
    let (mu, var) = (
        get(m, &format!("{p}.running_mean")),
        get(m, &format!("{p}.running_var")),
    );
    let mut t = Vec::with_capacity(g.len());
    let mut s = Vec::with_capacity(g.len());
    for i in 0..g.len() {
        let std = ((var[i] as f64) + BN_EPS as f64).sqrt();
        t.push((g[i] as f64 / std) as f32);
        s.push((b[i] as f64 - mu[i] as f64 * g[i] as f64 / std) as f32);
    }
    (t, s)
}

/// `ConvNormAct` folded: weights scaled per output channel, BN shift as bias.
fn conv_bn(m: &TensorMap, p: &str) -> (Vec<f32>, Vec<f32>) {
    let w = get(m, &format!("{p}.conv.weight"));
    let (t, s) = fold_bn(m, &format!("{p}.bn"));
    let per = w.len() / t.len();
    let w = w.iter().enumerate().map(|(i, &v)| v * t[i / per]).collect();
    (w, s)
}

/// Adds a `k0 x k0` kernel, zero-padded and centred, into a `k x k` kernel.
fn add_centred(dst: &mut [f32], src: &[f32], k: usize, k0: usize, per_in: usize) {
    let off = (k - k0) / 2;
    let n_out = src.len() / (per_in * k0 * k0);
    for o in 0..n_out {
        for i in 0..per_in {
            for y in 0..k0 {
                for x in 0..k0 {
                    dst[((o * per_in + i) * k + y + off) * k + x + off] +=
                        src[((o * per_in + i) * k0 + y) * k0 + x];
                }
            }
        }
    }
}

/// MobileOneBlock folded to one conv (spec §3.2): sum of conv_kxk, padded
/// conv_scale and the identity BN; absent branches contribute nothing.
fn mobileone(
    m: &TensorMap,
    p: &str,
    cin: usize,
    cout: usize,
    k: usize,
    groups: usize,
) -> (Vec<f32>, Vec<f32>) {
    let per_in = cin / groups;
    let mut w = vec![0f32; cout * per_in * k * k];
    let mut b = vec![0f32; cout];
    let mut i = 0;
    while m.contains_key(&format!("{p}.conv_kxk.{i}.conv.weight")) {
        let (wk, bk) = conv_bn(m, &format!("{p}.conv_kxk.{i}"));
        w.iter_mut().zip(&wk).for_each(|(a, v)| *a += v);
        b.iter_mut().zip(&bk).for_each(|(a, v)| *a += v);
        i += 1;
    }
    if m.contains_key(&format!("{p}.conv_scale.conv.weight")) {
        let (ws, bs) = conv_bn(m, &format!("{p}.conv_scale"));
        add_centred(&mut w, &ws, k, 1, per_in);
        b.iter_mut().zip(&bs).for_each(|(a, v)| *a += v);
    }
    if m.contains_key(&format!("{p}.identity.weight")) {
        let (t, s) = fold_bn(m, &format!("{p}.identity"));
        for o in 0..cout {
            w[((o * per_in + o % per_in) * k + k / 2) * k + k / 2] += t[o];
            b[o] += s[o];
        }
    }
    (w, b)
}

fn put(out: &mut TensorMap, p: &str, shape: Vec<usize>, (w, b): (Vec<f32>, Vec<f32>)) {
    let cout = shape[0];
    out.insert(format!("{p}.weight"), Tensor::new(shape, w));
    out.insert(format!("{p}.bias"), Tensor::new(vec![cout], b));
}

/// The variant of a validated tensor set (see [`Variant::of_shapes`]).
///
/// # Panics
/// If the tensors match no supported variant: they come from
/// [`crate::checkpoint::parse`] or [`crate::synth`], which guarantee one.
pub fn variant_of(m: &TensorMap) -> &'static Variant {
    Variant::of_shapes(|k| m.get(k).map(|t| t.shape.clone()))
        .expect("tensors validated against a supported FastViT variant")
}

/// timm's `reparameterize_model`: train-time tensors -> the inference-mode
/// tensor set (156 entries for T8; timm names; ConvMlp BN and layer scales kept).
pub fn timm_reparam(m: &TensorMap) -> TensorMap {
    let v = variant_of(m);
    let w = v.embed_dims[0];
    let mut out = TensorMap::new();
    put(
        &mut out,
        "stem.0.reparam_conv",
        vec![w, 3, 3, 3],
        mobileone(m, "stem.0", 3, w, 3, 1),
    );
    put(
        &mut out,
        "stem.1.reparam_conv",
        vec![w, 1, 3, 3],
        mobileone(m, "stem.1", w, w, 3, w),
    );
    put(
        &mut out,
        "stem.2.reparam_conv",
        vec![w, w, 1, 1],
        mobileone(m, "stem.2", w, w, 1, 1),
    );
    for (s, (&c, &depth)) in v.embed_dims.iter().zip(&v.depths).enumerate() {
        if s > 0 {
            let p = format!("stages.{s}.downsample.proj");
            let (mut wl, mut bl) = conv_bn(m, &format!("{p}.0.large_conv"));
            let (ws, bs) = conv_bn(m, &format!("{p}.0.small_conv"));
            add_centred(&mut wl, &ws, 7, 3, 1);
            bl.iter_mut().zip(&bs).for_each(|(a, v)| *a += v);
            put(
                &mut out,
                &format!("{p}.0.reparam_conv"),
                vec![c, 1, 7, 7],
                (wl, bl),
            );
            put(
                &mut out,
                &format!("{p}.1.reparam_conv"),
                vec![c, c, 1, 1],
                mobileone(m, &format!("{p}.1"), c, c, 1, 1),
            );
        }
        for b in 0..depth {
            let p = format!("stages.{s}.blocks.{b}");
            let tm = format!("{p}.token_mixer");
            let (wm, bm) = mobileone(m, &format!("{tm}.mixer"), c, c, 3, c);
            let (wn, bn) = mobileone(m, &format!("{tm}.norm"), c, c, 3, c);
            let g = get(m, &format!("{tm}.layer_scale.gamma"));
            let mut w = vec![0f32; c * 9];
            let mut bias = vec![0f32; c];
            for o in 0..c {
                for t in 0..9 {
                    let id = if t == 4 { 1.0 } else { 0.0 };
                    w[o * 9 + t] = id + g[o] * (wm[o * 9 + t] - wn[o * 9 + t]);
                }
                bias[o] = g[o] * (bm[o] - bn[o]);
            }
            put(
                &mut out,
                &format!("{tm}.reparam_conv"),
                vec![c, 1, 3, 3],
                (w, bias),
            );
            for key in [
                "mlp.conv.conv.weight",
                "mlp.conv.bn.weight",
                "mlp.conv.bn.bias",
                "mlp.conv.bn.running_mean",
                "mlp.conv.bn.running_var",
                "mlp.fc1.weight",
                "mlp.fc1.bias",
                "mlp.fc2.weight",
                "mlp.fc2.bias",
                "layer_scale.gamma",
            ] {
                let k = format!("{p}.{key}");
                out.insert(k.clone(), m[&k].clone());
            }
        }
    }
    let (last, f) = (v.embed_dims[3], v.final_dim());
    put(
        &mut out,
        "final_conv.reparam_conv",
        vec![f, 1, 3, 3],
        mobileone(m, "final_conv", last, f, 3, last),
    );
    for key in [
        "final_conv.se.fc1.weight",
        "final_conv.se.fc1.bias",
        "final_conv.se.fc2.weight",
        "final_conv.se.fc2.bias",
        "head.fc.weight",
        "head.fc.bias",
    ] {
        out.insert(key.to_string(), m[key].clone());
    }
    out
}

fn conv(
    m: &TensorMap,
    name: &str,
    cin: usize,
    cout: usize,
    k: usize,
    stride: usize,
    groups: usize,
) -> ConvW {
    ConvW {
        name: name.to_string(),
        cin,
        cout,
        k,
        stride,
        groups,
        weight: get(m, &format!("{name}.weight")).to_vec(),
        bias: get(m, &format!("{name}.bias")).to_vec(),
    }
}

/// The full fold from timm's inference-mode tensors (spec §3.6).
pub fn fold(m: &TensorMap) -> Folded {
    let v = variant_of(m);
    let w = v.embed_dims[0];
    let stem = [
        conv(m, "stem.0.reparam_conv", 3, w, 3, 2, 1),
        conv(m, "stem.1.reparam_conv", w, w, 3, 2, w),
        conv(m, "stem.2.reparam_conv", w, w, 1, 1, 1),
    ];
    let mut stages = Vec::new();
    for (s, (&c, &depth)) in v.embed_dims.iter().zip(&v.depths).enumerate() {
        let downsample = (s > 0).then(|| {
            let p = format!("stages.{s}.downsample.proj");
            let cin = v.embed_dims[s - 1];
            [
                conv(m, &format!("{p}.0.reparam_conv"), cin, c, 7, 2, cin),
                conv(m, &format!("{p}.1.reparam_conv"), c, c, 1, 1, 1),
            ]
        });
        let mut blocks = Vec::new();
        for b in 0..depth {
            let p = format!("stages.{s}.blocks.{b}");
            let (w, bias) = conv_bn(m, &format!("{p}.mlp.conv"));
            let mlp_conv = ConvW {
                name: format!("{p}.mlp.conv.conv"),
                cin: c,
                cout: c,
                k: 7,
                stride: 1,
                groups: c,
                weight: w,
                bias,
            };
            let hidden = v.mlp_ratio * c;
            let mut fc2 = conv(m, &format!("{p}.mlp.fc2"), hidden, c, 1, 1, 1);
            let g = get(m, &format!("{p}.layer_scale.gamma"));
            let per = fc2.weight.len() / c;
            fc2.weight
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v *= g[i / per]);
            fc2.bias.iter_mut().zip(g).for_each(|(v, g)| *v *= g);
            blocks.push(Block {
                token_mixer: conv(m, &format!("{p}.token_mixer.reparam_conv"), c, c, 3, 1, c),
                mlp_conv,
                fc1: conv(m, &format!("{p}.mlp.fc1"), c, hidden, 1, 1, 1),
                fc2,
            });
        }
        stages.push(Stage { downsample, blocks });
    }
    let classes = m["head.fc.weight"].shape[0];
    let (last, f) = (v.embed_dims[3], v.final_dim());
    Folded {
        stem,
        stages,
        final_conv: conv(m, "final_conv.reparam_conv", last, f, 3, 1, last),
        se_fc1: conv(m, "final_conv.se.fc1", f, v.se_dim(), 1, 1, 1),
        se_fc2: conv(m, "final_conv.se.fc2", v.se_dim(), f, 1, 1, 1),
        head: ConvW {
            name: "head.fc".into(),
            cin: f,
            cout: classes,
            k: 1,
            stride: 1,
            groups: 1,
            weight: get(m, "head.fc.weight").to_vec(),
            bias: get(m, "head.fc.bias").to_vec(),
        },
        bases: Bases::ones(f),
        input_means: Default::default(),
    }
}

/// Folds any loaded checkpoint (train-time or already reparameterized).
pub fn fold_checkpoint(ck: &Checkpoint) -> Folded {
    if ck.layout.is_train() {
        fold(&timm_reparam(&ck.tensors))
    } else {
        fold(&ck.tensors)
    }
}

impl Folded {
    /// Multiply-accumulates of every conv at input `res x res`, in execution
    /// order, plus the SE channel scaling: `(conv name, macs)`.
    pub fn macs(&self, res: usize) -> Vec<(String, u64)> {
        let mut hw = res;
        let mut out = Vec::new();
        let mut push = |c: &ConvW, hw: &mut usize| {
            let o = (*hw + 2 * c.pad() - c.k) / c.stride + 1;
            *hw = o;
            out.push((c.name.clone(), (o * o * c.cout * c.fan_in()) as u64));
        };
        for c in &self.stem {
            push(c, &mut hw);
        }
        for s in &self.stages {
            if let Some(d) = &s.downsample {
                d.iter().for_each(|c| push(c, &mut hw));
            }
            for b in &s.blocks {
                for c in [&b.token_mixer, &b.mlp_conv, &b.fc1, &b.fc2] {
                    push(c, &mut hw);
                }
            }
        }
        push(&self.final_conv, &mut hw);
        let spatial = hw * hw;
        let mut one = 1;
        push(&self.se_fc1, &mut one);
        push(&self.se_fc2, &mut one);
        push(&self.head, &mut one);
        out.push((
            "final_conv.se.scale".into(),
            (spatial * self.final_conv.cout) as u64,
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    #[test]
    fn folded_counts_match_spec() {
        let train = synth::train_tensors(crate::arch::T8, 1, 1000);
        let reparam = timm_reparam(&train);
        assert_eq!(reparam.len() + 10 /* num_batches_tracked */, 156);
        let f = fold(&reparam);
        assert_eq!(f.tensor_count(), 106);
        assert_eq!(f.parameters(), 3_992_392);
    }
}
