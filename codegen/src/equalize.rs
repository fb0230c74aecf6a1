//! Exact per-channel equalization (a pure float-graph rewrite).
//!
//! Per-tensor int8 activations waste most of their levels when a tensor's
//! channels span very different ranges, which FastViT's residual stream
//! does (on the fan-in fixtures, per-channel ranges differ by 300x). Where a
//! tensor's producers and consumers are all per-channel linear, the tensor
//! can be stored scaled by a per-channel factor `e` with the inverse folded
//! into its consumers, exactly:
//! * the residual stream of each stage (token-mixer outputs, fc2 outputs and
//!   block outputs share one factor): producers are depthwise convs and fc2
//!   rows; consumers are depthwise convs, the next downsample's x2 grouped
//!   conv or final_conv;
//! * each ConvMlp dw 7x7 output (consumer fc1, columns divided by `e`);
//! * each downsample proj.0 output (consumer proj.1, columns divided by `e`).
//!
//! `e_c = (R / r_c)^alpha`, `r_c` the channel's calibrated absolute maximum
//! and `R` the largest; `alpha = 1` equalizes fully, smaller values leave
//! part of the spread to the consumer's per-channel weights (as cross-layer
//! equalization does). The float logits are unchanged.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::float::{block_name, forward_folded, Fmap};
use crate::fold::{ConvW, Folded};
use crate::images::ModelInput;

/// Per-channel minimum and maximum of an observed tensor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelRange {
    /// Minimum per channel (<= 0).
    pub min: Vec<f32>,
    /// Maximum per channel (>= 0).
    pub max: Vec<f32>,
}

impl ChannelRange {
    /// Absolute maximum per channel.
    pub fn absmax(&self) -> Vec<f32> {
        self.min
            .iter()
            .zip(&self.max)
            .map(|(a, b)| a.abs().max(b.abs()))
            .collect()
    }
}

/// Per-channel ranges of every observed tensor.
pub type ChannelStats = BTreeMap<String, ChannelRange>;

/// One pass over the inputs (all cores) collecting per-channel ranges.
pub fn channel_ranges(f: &Folded, inputs: &[ModelInput], tick: &(dyn Fn() + Sync)) -> ChannelStats {
    inputs
        .par_iter()
        .map(|inp| {
            let mut m = ChannelStats::new();
            forward_folded(f, &inp.normalized, &mut |n: &str, x: &Fmap| {
                let hw = x.h * x.w;
                let plane = |c: usize| &x.data[c * hw..(c + 1) * hw];
                let min = (0..x.c)
                    .map(|c| plane(c).iter().fold(0f32, |a, &v| a.min(v)))
                    .collect();
                let max = (0..x.c)
                    .map(|c| plane(c).iter().fold(0f32, |a, &v| a.max(v)))
                    .collect();
                m.insert(n.to_string(), ChannelRange { min, max });
            });
            tick();
            m
        })
        .reduce(ChannelStats::new, |mut a, b| {
            for (k, v) in b {
                match a.get_mut(&k) {
                    None => {
                        a.insert(k, v);
                    }
                    Some(e) => {
                        e.min
                            .iter_mut()
                            .zip(&v.min)
                            .for_each(|(x, y)| *x = x.min(*y));
                        e.max
                            .iter_mut()
                            .zip(&v.max)
                            .for_each(|(x, y)| *x = x.max(*y));
                    }
                }
            }
            a
        })
}

/// Factors `(R / r_c)^alpha`, with dead channels (r = 0) left at 1.
pub fn factors(r: &[f32], alpha: f64) -> Vec<f64> {
    let big = r.iter().fold(0f32, |a, &b| a.max(b)) as f64;
    r.iter()
        .map(|&x| {
            if x > 0.0 && big > 0.0 {
                (big / x as f64).powf(alpha).min(1e4)
            } else {
                1.0
            }
        })
        .collect()
}

/// Scales output channel `o` of a conv (weights and bias) by `e[o]`.
fn scale_out(c: &mut ConvW, e: &[f64]) {
    let per = c.fan_in();
    for (o, &f) in e.iter().enumerate().take(c.cout) {
        c.weight[o * per..(o + 1) * per]
            .iter_mut()
            .for_each(|w| *w = (*w as f64 * f) as f32);
        c.bias[o] = (c.bias[o] as f64 * f) as f32;
    }
}

/// Divides the weights reading input channel `i` by `e[i]`.
fn unscale_in(c: &mut ConvW, e: &[f64]) {
    let cin_g = c.cin / c.groups;
    let cout_g = c.cout / c.groups;
    let kk = c.k * c.k;
    for o in 0..c.cout {
        let g = o / cout_g;
        for ci in 0..cin_g {
            let ch = g * cin_g + ci;
            let base = (o * cin_g + ci) * kk;
            c.weight[base..base + kk]
                .iter_mut()
                .for_each(|w| *w = (*w as f64 / e[ch]) as f32);
        }
    }
}

fn max_of(stats: &ChannelStats, names: &[String]) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::new();
    for n in names {
        let v = stats
            .get(n)
            .unwrap_or_else(|| panic!("no statistics for `{n}`"))
            .absmax();
        if out.is_empty() {
            out = v;
        } else {
            out.iter_mut().zip(&v).for_each(|(a, b)| *a = a.max(*b));
        }
    }
    out
}

/// Equalization strength per group of tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alphas {
    /// Residual streams.
    pub stream: f64,
    /// ConvMlp dw 7x7 outputs.
    pub mlp: f64,
    /// Downsample proj.0 outputs.
    pub proj: f64,
    /// final_conv output.
    pub final_conv: f64,
    /// Pooled vectors.
    pub pool: f64,
    /// SE hidden vector.
    pub se_hidden: f64,
}

impl Alphas {
    /// The same strength everywhere but the SE hidden vector (left alone:
    /// equalizing it measured worse on the fixtures). final_conv's output
    /// stays equalized: leaving it alone gained 1.0 dB on the trained kit's
    /// 224 KiB build but lowered the fan-in fixtures' minimum cosine below
    /// their floors (docs/numerics.md).
    pub fn uniform(a: f64) -> Self {
        Self {
            stream: a,
            mlp: a,
            proj: a,
            final_conv: a,
            pool: a,
            se_hidden: 0.0,
        }
    }
}

/// Rewrites the folded graph with equalized tensors (see the module docs).
pub fn equalize(f: &Folded, stats: &ChannelStats, alpha: f64) -> Folded {
    if alpha == 0.0 {
        return f.clone();
    }
    equalize_with(f, stats, &Alphas::uniform(alpha))
}

/// [`equalize`] with a strength per group.
pub fn equalize_with(f: &Folded, stats: &ChannelStats, al: &Alphas) -> Folded {
    let mut g = f.clone();
    let mut prev_stream: Option<Vec<f64>> = None;
    for s in 0..g.stages.len() {
        if let Some([p0, p1]) = &mut g.stages[s].downsample {
            if let Some(e) = &prev_stream {
                // x2 multiplier: output o reads input o / 2 (groups = cin).
                unscale_in(p0, e);
            }
            let e0 = factors(&stats[&p0.name].absmax(), al.proj);
            scale_out(p0, &e0);
            unscale_in(p1, &e0);
        }
        let mut names = Vec::new();
        for b in &g.stages[s].blocks {
            names.push(b.token_mixer.name.clone());
            names.push(b.fc2.name.clone());
            names.push(block_name(b).to_string());
        }
        let e = factors(&max_of(stats, &names), al.stream);
        for (i, b) in g.stages[s].blocks.iter_mut().enumerate() {
            if i > 0 {
                unscale_in(&mut b.token_mixer, &e);
            }
            scale_out(&mut b.token_mixer, &e);
            let em = factors(&stats[&b.mlp_conv.name].absmax(), al.mlp);
            unscale_in(&mut b.mlp_conv, &e);
            scale_out(&mut b.mlp_conv, &em);
            unscale_in(&mut b.fc1, &em);
            scale_out(&mut b.fc2, &e);
        }
        prev_stream = Some(e);
    }
    if let Some(e) = &prev_stream {
        unscale_in(&mut g.final_conv, e);
    }
    // final_conv output: stored scaled, undone by SE's per-channel multipliers.
    let ef = factors(&stats[&g.final_conv.name].absmax(), al.final_conv);
    scale_out(&mut g.final_conv, &ef);
    g.bases.final_conv = ef.iter().map(|&v| v as f32).collect();
    // Pooled vectors: stored scaled, consumers' columns absorb the inverse.
    let ep = factors(&stats["final_conv.se.pool"].absmax(), al.pool);
    unscale_in(&mut g.se_fc1, &ep);
    g.bases.se_pool = ep.iter().map(|&v| v as f32).collect();
    // SE hidden vector (after ReLU, which commutes with positive factors).
    let es = factors(&stats["final_conv.se.fc1"].absmax(), al.se_hidden);
    scale_out(&mut g.se_fc1, &es);
    unscale_in(&mut g.se_fc2, &es);
    let eh = factors(&stats["head.global_pool"].absmax(), al.pool);
    unscale_in(&mut g.head, &eh);
    g.bases.head_pool = eh.iter().map(|&v| v as f32).collect();
    g
}
