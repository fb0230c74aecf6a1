//! Float32 reference executor (host only): runs the train-time graph branch
//! by branch, and the folded graph. GELU is the exact erf form. All int8 work
//! is judged against it.

use crate::arch::BN_EPS;
use crate::checkpoint::TensorMap;
use crate::fold::{timm_pad, ConvW, Folded};

/// A CHW feature map.
#[derive(Clone, Debug, PartialEq)]
pub struct Fmap {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// `[c][h][w]`.
    pub data: Vec<f32>,
}

impl Fmap {
    /// A map of zeros.
    pub fn zeros(c: usize, h: usize, w: usize) -> Self {
        Self {
            c,
            h,
            w,
            data: vec![0.0; c * h * w],
        }
    }

    /// Wraps CHW data.
    pub fn new(c: usize, h: usize, w: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), c * h * w);
        Self { c, h, w, data }
    }
}

/// Exact GELU: `0.5 x (1 + erf(x / sqrt 2))`, evaluated in f64.
pub fn gelu(x: f32) -> f32 {
    let x = x as f64;
    (0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2))) as f32
}

/// Logistic sigmoid, evaluated in f64.
pub fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + (-(x as f64)).exp())) as f32
}

/// Grouped conv, zero padding `pad`, optional bias. Weights OIHW.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    x: &Fmap,
    weight: &[f32],
    bias: Option<&[f32]>,
    cout: usize,
    k: usize,
    stride: usize,
    pad: usize,
    groups: usize,
) -> Fmap {
    let oh = (x.h + 2 * pad - k) / stride + 1;
    let ow = (x.w + 2 * pad - k) / stride + 1;
    let mut y = Fmap::zeros(cout, oh, ow);
    let cin_g = x.c / groups;
    let cout_g = cout / groups;
    // A 1x1 conv without padding or stride reads each input plane whole:
    // one multiply-add pass over the plane per weight (the same operations,
    // in the same order, as row by row).
    let whole_planes = (k, stride, pad) == (1, 1, 0);
    for o in 0..cout {
        let g = o / cout_g;
        let out = &mut y.data[o * oh * ow..(o + 1) * oh * ow];
        if let Some(b) = bias {
            out.iter_mut().for_each(|v| *v = b[o]);
        }
        for ci in 0..cin_g {
            let plane = &x.data[(g * cin_g + ci) * x.h * x.w..(g * cin_g + ci + 1) * x.h * x.w];
            if whole_planes {
                let wv = weight[o * cin_g + ci];
                for (o_, i_) in out.iter_mut().zip(plane) {
                    *o_ += wv * i_;
                }
                continue;
            }
            for ky in 0..k {
                for kx in 0..k {
                    let wv = weight[((o * cin_g + ci) * k + ky) * k + kx];
                    // Valid ox range: 0 <= ox*stride + kx - pad < w (the
                    // same for every row: worked out once per tap).
                    let lo = pad.saturating_sub(kx).div_ceil(stride);
                    let hi = (x.w as isize + pad as isize - kx as isize - 1)
                        .div_euclid(stride as isize)
                        + 1;
                    let hi = (hi.max(0) as usize).min(ow);
                    if lo >= hi {
                        continue;
                    }
                    for oy in 0..oh {
                        let iy = (oy * stride + ky) as isize - pad as isize;
                        if iy < 0 || iy >= x.h as isize {
                            continue;
                        }
                        let row = &plane[iy as usize * x.w..(iy as usize + 1) * x.w];
                        let orow = &mut out[oy * ow..(oy + 1) * ow];
                        if stride == 1 {
                            let start = lo + kx - pad;
                            for (o_, i_) in orow[lo..hi]
                                .iter_mut()
                                .zip(&row[start..start + hi.saturating_sub(lo)])
                            {
                                *o_ += wv * i_;
                            }
                        } else {
                            for ox in lo..hi {
                                orow[ox] += wv * row[ox * stride + kx - pad];
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// Runs a folded conv.
pub fn conv(x: &Fmap, c: &ConvW) -> Fmap {
    assert_eq!(x.c, c.cin, "{}: input channels", c.name);
    conv2d(
        x,
        &c.weight,
        Some(&c.bias),
        c.cout,
        c.k,
        c.stride,
        c.pad(),
        c.groups,
    )
}

fn map(mut x: Fmap, f: impl Fn(f32) -> f32) -> Fmap {
    x.data.iter_mut().for_each(|v| *v = f(*v));
    x
}

fn add(mut a: Fmap, b: &Fmap) -> Fmap {
    a.data.iter_mut().zip(&b.data).for_each(|(x, y)| *x += y);
    a
}

/// Channel means of a map.
pub fn mean_hw(x: &Fmap) -> Vec<f32> {
    let n = x.h * x.w;
    (0..x.c)
        .map(|c| {
            (x.data[c * n..(c + 1) * n]
                .iter()
                .map(|&v| v as f64)
                .sum::<f64>()
                / n as f64) as f32
        })
        .collect()
}

/// Squeeze-excite: `x * sigmoid(fc2(relu(fc1(mean(x)))))`.
pub fn squeeze_excite(x: &Fmap, fc1: &ConvW, fc2: &ConvW) -> Fmap {
    let m = Fmap::new(x.c, 1, 1, mean_hw(x));
    let h = map(conv(&m, fc1), |v| v.max(0.0));
    let s = map(conv(&h, fc2), sigmoid);
    let n = x.h * x.w;
    let mut y = x.clone();
    for c in 0..x.c {
        y.data[c * n..(c + 1) * n]
            .iter_mut()
            .for_each(|v| *v *= s.data[c]);
    }
    y
}

/// Observation points of a folded forward pass, in execution order. Each
/// names the timm module whose output it is; codegen's quantizer uses the
/// same names for its tensors.
pub trait Observer {
    /// Called with each named intermediate tensor.
    fn observe(&mut self, name: &str, x: &Fmap);

    /// May rewrite the tensor before it is observed and used (fake
    /// quantization in experiments); the default leaves it alone.
    fn transform(&mut self, _name: &str, _x: &mut Fmap) {}
}

/// Transforms, then observes, a named tensor.
fn emit(obs: &mut dyn Observer, name: &str, x: &mut Fmap) {
    obs.transform(name, x);
    obs.observe(name, x);
}

impl<F: FnMut(&str, &Fmap)> Observer for F {
    fn observe(&mut self, name: &str, x: &Fmap) {
        self(name, x)
    }
}

/// Folded forward pass on a normalized CHW input; returns the logits.
///
/// Observation names: each conv's output under its timm name (before any
/// activation), `{name}.act` after GELU, the block outputs
/// (`stages.S.blocks.B`), the SE internals (`final_conv.se.pool`,
/// `final_conv.se.fc1` after ReLU, `final_conv.se.fc2` before the sigmoid,
/// `final_conv.se` after scaling), `final_conv` after GELU,
/// `head.global_pool` and `head.fc`. The int8 schedule names its layers the same way.
pub fn forward_folded(f: &Folded, x: &Fmap, obs: &mut dyn Observer) -> Vec<f32> {
    let mut x = x.clone();
    let act = |x: Fmap, name: &str, obs: &mut dyn Observer| {
        let mut y = map(x, gelu);
        emit(obs, &format!("{name}.act"), &mut y);
        y
    };
    for c in &f.stem {
        x = conv(&x, c);
        emit(obs, &c.name, &mut x);
        x = act(x, &c.name, obs);
    }
    for stage in &f.stages {
        if let Some([p0, p1]) = &stage.downsample {
            x = conv(&x, p0);
            emit(obs, &p0.name, &mut x);
            x = conv(&x, p1);
            emit(obs, &p1.name, &mut x);
            x = act(x, &p1.name, obs);
        }
        for b in &stage.blocks {
            x = conv(&x, &b.token_mixer);
            emit(obs, &b.token_mixer.name, &mut x);
            let mut y = conv(&x, &b.mlp_conv);
            emit(obs, &b.mlp_conv.name, &mut y);
            let mut y = conv(&y, &b.fc1);
            emit(obs, &b.fc1.name, &mut y);
            let y = act(y, &b.fc1.name, obs);
            let mut y = conv(&y, &b.fc2);
            emit(obs, &b.fc2.name, &mut y);
            x = add(x, &y);
            emit(obs, block_name(b), &mut x);
        }
    }
    x = conv(&x, &f.final_conv);
    emit(obs, &f.final_conv.name, &mut x);
    let b = &f.bases;
    let mut pooled = Fmap::new(x.c, 1, 1, mean_hw(&x));
    pooled
        .data
        .iter_mut()
        .enumerate()
        .for_each(|(c, v)| *v *= b.se_pool[c] / b.final_conv[c]);
    emit(obs, "final_conv.se.pool", &mut pooled);
    let mut h = map(conv(&pooled, &f.se_fc1), |v| v.max(0.0));
    emit(obs, "final_conv.se.fc1", &mut h);
    let mut g = conv(&h, &f.se_fc2);
    emit(obs, "final_conv.se.fc2", &mut g);
    let n = x.h * x.w;
    for c in 0..x.c {
        let s = sigmoid(g.data[c]) / b.final_conv[c];
        x.data[c * n..(c + 1) * n].iter_mut().for_each(|v| *v *= s);
    }
    emit(obs, "final_conv.se", &mut x);
    x = map(x, gelu);
    emit(obs, "final_conv", &mut x);
    let mut pooled = Fmap::new(x.c, 1, 1, mean_hw(&x));
    pooled
        .data
        .iter_mut()
        .enumerate()
        .for_each(|(c, v)| *v *= b.head_pool[c]);
    emit(obs, "head.global_pool", &mut pooled);
    let mut logits = conv(&pooled, &f.head);
    emit(obs, "head.fc", &mut logits);
    logits.data
}

/// The timm name of a block (`stages.S.blocks.B`), also its output's name.
pub fn block_name(b: &crate::fold::Block) -> &str {
    b.fc2.name.trim_end_matches(".mlp.fc2")
}

// ---------------------------------------------------------------- train graph

fn t<'a>(m: &'a TensorMap, k: &str) -> &'a [f32] {
    &m.get(k)
        .unwrap_or_else(|| panic!("validated checkpoint lacks `{k}`"))
        .data
}

fn bn(m: &TensorMap, p: &str, mut x: Fmap) -> Fmap {
    let (g, b) = (t(m, &format!("{p}.weight")), t(m, &format!("{p}.bias")));
    let (mu, var) = (
        t(m, &format!("{p}.running_mean")),
        t(m, &format!("{p}.running_var")),
    );
    let n = x.h * x.w;
    for c in 0..x.c {
        let inv = 1.0 / (var[c] + BN_EPS).sqrt();
        x.data[c * n..(c + 1) * n]
            .iter_mut()
            .for_each(|v| *v = (*v - mu[c]) * inv * g[c] + b[c]);
    }
    x
}

/// A train-time conv's `(cout, k, stride, groups)`.
type Shape = (usize, usize, usize, usize);

fn conv_bn(m: &TensorMap, p: &str, x: &Fmap, (cout, k, stride, groups): Shape) -> Fmap {
    let pad = timm_pad(k, stride);
    let w = t(m, &format!("{p}.conv.weight"));
    let y = conv2d(x, w, None, cout, k, stride, pad, groups);
    bn(m, &format!("{p}.bn"), y)
}

/// Train-time MobileOneBlock without its activation: identity BN + conv_kxk + conv_scale.
fn mobileone(m: &TensorMap, p: &str, x: &Fmap, shape: Shape) -> Fmap {
    let (cout, k, stride, groups) = shape;
    let mut y = Fmap::zeros(cout, (x.h + 2 * timm_pad(k, stride) - k) / stride + 1, 0);
    y.w = y.h * x.w / x.h;
    y.data = vec![0.0; cout * y.h * y.w];
    let mut i = 0;
    while m.contains_key(&format!("{p}.conv_kxk.{i}.conv.weight")) {
        y = add(y, &conv_bn(m, &format!("{p}.conv_kxk.{i}"), x, shape));
        i += 1;
    }
    if m.contains_key(&format!("{p}.conv_scale.conv.weight")) {
        y = add(
            y,
            &conv_bn(m, &format!("{p}.conv_scale"), x, (cout, 1, stride, groups)),
        );
    }
    if m.contains_key(&format!("{p}.identity.weight")) {
        y = add(y, &bn(m, &format!("{p}.identity"), x.clone()));
    }
    y
}

fn conv_b(m: &TensorMap, p: &str, x: &Fmap, cout: usize) -> Fmap {
    conv2d(
        x,
        t(m, &format!("{p}.weight")),
        Some(t(m, &format!("{p}.bias"))),
        cout,
        1,
        1,
        0,
        1,
    )
}

fn scale(mut x: Fmap, g: &[f32]) -> Fmap {
    let n = x.h * x.w;
    for (plane, &gc) in x.data.chunks_exact_mut(n).zip(g) {
        plane.iter_mut().for_each(|v| *v *= gc);
    }
    x
}

/// Train-time forward pass, branch by branch with explicit BatchNorms, on a
/// normalized CHW input. `taps` sees the outputs of `stem`, `stages.N` and
/// `final_conv` (the points the timm goldens checksum). Returns the logits.
pub fn forward_train(m: &TensorMap, x: &Fmap, taps: &mut dyn Observer) -> Vec<f32> {
    let v = crate::fold::variant_of(m);
    let w = v.embed_dims[0];
    let mut x = map(mobileone(m, "stem.0", x, (w, 3, 2, 1)), gelu);
    x = map(mobileone(m, "stem.1", &x, (w, 3, 2, w)), gelu);
    x = map(mobileone(m, "stem.2", &x, (w, 1, 1, 1)), gelu);
    taps.observe("stem", &x);
    for (s, (&c, &depth)) in v.embed_dims.iter().zip(&v.depths).enumerate() {
        if s > 0 {
            let p = format!("stages.{s}.downsample.proj");
            let cin = v.embed_dims[s - 1];
            let l = conv_bn(m, &format!("{p}.0.large_conv"), &x, (c, 7, 2, cin));
            let sm = conv_bn(m, &format!("{p}.0.small_conv"), &x, (c, 3, 2, cin));
            x = add(l, &sm);
            x = map(mobileone(m, &format!("{p}.1"), &x, (c, 1, 1, 1)), gelu);
        }
        for b in 0..depth {
            let p = format!("stages.{s}.blocks.{b}");
            let tm = format!("{p}.token_mixer");
            let mixed = mobileone(m, &format!("{tm}.mixer"), &x, (c, 3, 1, c));
            let normed = bn(m, &format!("{tm}.norm.identity"), x.clone());
            let diff = add(mixed, &map(normed, |v| -v));
            x = add(x, &scale(diff, t(m, &format!("{tm}.layer_scale.gamma"))));
            let y = conv_bn(m, &format!("{p}.mlp.conv"), &x, (c, 7, 1, c));
            let y = map(
                conv_b(m, &format!("{p}.mlp.fc1"), &y, v.mlp_ratio * c),
                gelu,
            );
            let y = conv_b(m, &format!("{p}.mlp.fc2"), &y, c);
            x = add(x, &scale(y, t(m, &format!("{p}.layer_scale.gamma"))));
        }
        taps.observe(&format!("stages.{s}"), &x);
    }
    let (last, f) = (v.embed_dims[3], v.final_dim());
    let y = mobileone(m, "final_conv", &x, (f, 3, 1, last));
    let s = Fmap::new(f, 1, 1, mean_hw(&y));
    let h = map(conv_b(m, "final_conv.se.fc1", &s, v.se_dim()), |v| {
        v.max(0.0)
    });
    let g = map(conv_b(m, "final_conv.se.fc2", &h, f), sigmoid);
    x = map(scale(y, &g.data), gelu);
    taps.observe("final_conv", &x);
    let pooled = Fmap::new(f, 1, 1, mean_hw(&x));
    let classes = m["head.fc.weight"].shape[0];
    conv2d(
        &pooled,
        t(m, "head.fc.weight"),
        Some(t(m, "head.fc.bias")),
        classes,
        1,
        1,
        0,
        1,
    )
    .data
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::SplitMix64;

    /// Every output of [`conv2d`] is its bias plus `w * x` over input
    /// channels, then taps, in order, skipping padding: checked bit for bit
    /// against that sum written out per element, for the whole-plane 1x1
    /// pass and the tap loops (padding, stride 2, groups).
    #[test]
    fn conv2d_is_the_ordered_sum_per_element() {
        let mut rng = SplitMix64::new(7);
        for (cin, cout, h, w, k, stride, pad, groups) in [
            (5, 3, 6, 7, 1, 1, 0, 1),
            (4, 6, 9, 8, 3, 2, 1, 2),
            (3, 3, 7, 7, 7, 1, 3, 3),
            (2, 4, 5, 6, 3, 1, 1, 1),
        ] {
            let mut v = |n: usize| (0..n).map(|_| rng.uniform(-2.0, 2.0)).collect::<Vec<_>>();
            let x = Fmap::new(cin, h, w, v(cin * h * w));
            let (cin_g, cout_g) = (cin / groups, cout / groups);
            let weight = v(cout * cin_g * k * k);
            let bias = v(cout);
            let y = conv2d(&x, &weight, Some(&bias), cout, k, stride, pad, groups);
            for o in 0..cout {
                for oy in 0..y.h {
                    for ox in 0..y.w {
                        let mut a = bias[o];
                        for ci in 0..cin_g {
                            let c = o / cout_g * cin_g + ci;
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * stride + ky) as isize - pad as isize;
                                    let ix = (ox * stride + kx) as isize - pad as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xv = x.data[(c * h + iy as usize) * w + ix as usize];
                                    a += weight[((o * cin_g + ci) * k + ky) * k + kx] * xv;
                                }
                            }
                        }
                        let got = y.data[(o * y.h + oy) * y.w + ox];
                        assert_eq!(got.to_bits(), a.to_bits(), "k{k} s{stride} o{o} {oy},{ox}");
                    }
                }
            }
        }
    }
}
