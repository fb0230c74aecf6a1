//! Calibration: activation statistics over a set of inputs, and the choice of
//! each tensor's int8 range.
//!
//! Three range estimators, chosen by measurement (see the README's numerics
//! table): `minmax`, `percentile` (0.01 % / 99.99 %) and `mse` (default): the
//! asymmetric range minimizing the expected squared quantization error,
//! clipping plus rounding, over the calibration histogram. For a tensor that
//! feeds a GELU or sigmoid table the error is measured *after* the table,
//! because that is the value the next layer sees (GELU flattens the negative
//! tail, so clipping it is almost free).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::float::{forward_folded, gelu, sigmoid, Fmap};
use crate::fold::Folded;
use crate::images::ModelInput;
use crate::precision::Precision;

/// Histogram bins per tensor.
const BINS: usize = 2048;

/// How a tensor's int8 range is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RangeMethod {
    /// Observed minimum and maximum.
    Minmax,
    /// 0.01th and 99.99th percentiles.
    Percentile,
    /// Minimum expected squared error, measured after the following table.
    Mse,
}

/// The nonlinearity that consumes a tensor (whose output error matters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumer {
    /// Used as is.
    Linear,
    /// Feeds a GELU table.
    Gelu,
    /// Feeds the SE sigmoid table.
    Sigmoid,
}

impl Consumer {
    /// Which nonlinearity follows the observed tensor `name`.
    pub fn of(name: &str) -> Consumer {
        if name == "final_conv.se.fc2" {
            Consumer::Sigmoid
        } else if name.starts_with("stem.") && name.ends_with("reparam_conv")
            || name.ends_with("proj.1.reparam_conv")
            || name.ends_with("mlp.fc1")
            || name == "final_conv.se"
        {
            Consumer::Gelu
        } else {
            Consumer::Linear
        }
    }

    fn apply(self, v: f64) -> f64 {
        match self {
            Consumer::Linear => v,
            Consumer::Gelu => gelu(v as f32) as f64,
            Consumer::Sigmoid => sigmoid(v as f32) as f64,
        }
    }
}

/// A real range `[lo, hi]` containing 0.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Range {
    /// Lower bound (<= 0).
    pub lo: f32,
    /// Upper bound (>= 0).
    pub hi: f32,
}

/// Per-tensor histogram over the observed `[min, max]`.
#[derive(Clone, Debug)]
pub struct Histogram {
    /// Observed minimum.
    pub min: f32,
    /// Observed maximum.
    pub max: f32,
    /// Counts.
    pub bins: Vec<u64>,
}

impl Histogram {
    fn width(&self) -> f64 {
        ((self.max - self.min) as f64 / BINS as f64).max(f64::MIN_POSITIVE)
    }

    fn center(&self, i: usize) -> f64 {
        self.min as f64 + (i as f64 + 0.5) * self.width()
    }
}

/// Statistics of every observed tensor.
pub type Stats = BTreeMap<String, Histogram>;

fn observe_all(folded: &Folded, input: &ModelInput, mut f: impl FnMut(&str, &Fmap)) {
    forward_folded(folded, &input.normalized, &mut |n: &str, x: &Fmap| f(n, x));
}

/// Two passes over the inputs (all cores): min/max, then histograms.
/// `tick` is called once per forward pass, for progress reporting.
pub fn collect(folded: &Folded, inputs: &[ModelInput], tick: &(dyn Fn() + Sync)) -> Stats {
    let extremes: BTreeMap<String, (f32, f32)> = inputs
        .par_iter()
        .map(|inp| {
            let mut m = BTreeMap::new();
            observe_all(folded, inp, |n, x| {
                let (lo, hi) = x
                    .data
                    .iter()
                    .fold((0f32, 0f32), |(a, b), &v| (a.min(v), b.max(v)));
                m.insert(n.to_string(), (lo, hi));
            });
            tick();
            m
        })
        .reduce(BTreeMap::new, |mut a, b| {
            for (k, (lo, hi)) in b {
                let e = a.entry(k).or_insert((0.0, 0.0));
                *e = (e.0.min(lo), e.1.max(hi));
            }
            a
        });
    let empty = || -> Stats {
        extremes
            .iter()
            .map(|(k, &(min, max))| {
                (
                    k.clone(),
                    Histogram {
                        min,
                        max,
                        bins: vec![0; BINS],
                    },
                )
            })
            .collect()
    };
    inputs
        .par_iter()
        .map(|inp| {
            let mut h = empty();
            observe_all(folded, inp, |n, x| {
                let hist = h.get_mut(n).expect("same names in both passes");
                let inv = 1.0 / hist.width();
                for &v in &x.data {
                    let i = (((v - hist.min) as f64) * inv) as usize;
                    hist.bins[i.min(BINS - 1)] += 1;
                }
            });
            tick();
            h
        })
        .reduce(empty, |mut a, b| {
            for (k, hb) in b {
                let ha = a.get_mut(&k).expect("same names");
                ha.bins.iter_mut().zip(&hb.bins).for_each(|(x, y)| *x += y);
            }
            a
        })
}

/// Chooses every tensor's range (min/max for the int16 ones).
pub fn choose_ranges(
    stats: &Stats,
    method: RangeMethod,
    int16: &Precision,
    no_clip_pooled: bool,
) -> BTreeMap<String, Range> {
    stats
        .par_iter()
        .map(|(name, h)| {
            // A 16-bit tensor is never clipped, nor (with `no_clip_pooled`)
            // one a global pool reads: their whole observed range.
            let whole = int16.is_wide(name) || no_clip_pooled && pooled(name);
            let r = match method {
                _ if whole => Range {
                    lo: h.min.min(0.0),
                    hi: h.max.max(0.0),
                },
                RangeMethod::Minmax => Range {
                    lo: h.min.min(0.0),
                    hi: h.max.max(0.0),
                },
                RangeMethod::Percentile => percentile(h, 1e-4),
                RangeMethod::Mse => mse_range(h, Consumer::of(name)),
            };
            (name.clone(), r)
        })
        .collect()
}

/// The stored tensors a global average pool reads: final_conv's output (the
/// SE's pool) and the SE block's GELU output (the head's pool). A pool
/// averages the independent rounding errors of its positions away but adds
/// a channel's clipping errors, all of one sign, coherently; and on a
/// trained model the clipped outliers are the strongest activations, the
/// evidence the head reads. The per-element squared error that `mse`
/// minimizes undercounts that, so `--no-clip-pooled` keeps their observed
/// range (trained kit, 224 KiB build: 27.71 -> 28.58 dB held out; fan-in
/// fixture seed 1: 18.54 -> 17.46 dB, hence opt-in; docs/numerics.md).
pub fn pooled(name: &str) -> bool {
    matches!(name, "final_conv.reparam_conv" | "final_conv")
}

fn percentile(h: &Histogram, tail: f64) -> Range {
    let total: u64 = h.bins.iter().sum();
    let cut = (total as f64 * tail) as u64;
    let (mut acc, mut lo) = (0u64, 0usize);
    while lo < BINS - 1 && acc + h.bins[lo] <= cut {
        acc += h.bins[lo];
        lo += 1;
    }
    let (mut acc, mut hi) = (0u64, BINS - 1);
    while hi > 0 && acc + h.bins[hi] <= cut {
        acc += h.bins[hi];
        hi -= 1;
    }
    let w = h.width();
    Range {
        lo: ((h.min as f64 + lo as f64 * w) as f32).min(0.0),
        hi: ((h.min as f64 + (hi + 1) as f64 * w) as f32).max(0.0),
    }
}

/// Expected squared error (after `consumer`) of quantizing the histogram to
/// 256 levels over `[lo, hi]`.
fn quant_error(h: &Histogram, f_centers: &[f64], consumer: Consumer, lo: f64, hi: f64) -> f64 {
    let s = ((hi - lo) / 255.0).max(1e-12);
    let levels: Vec<f64> = (0..256)
        .map(|i| consumer.apply(lo + i as f64 * s))
        .collect();
    let mut err = 0.0;
    for (i, &n) in h.bins.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let q = ((h.center(i) - lo) / s).round().clamp(0.0, 255.0) as usize;
        let d = levels[q] - f_centers[i];
        err += n as f64 * d * d;
    }
    err
}

fn mse_range(h: &Histogram, consumer: Consumer) -> Range {
    let f_centers: Vec<f64> = (0..BINS).map(|i| consumer.apply(h.center(i))).collect();
    let fractions: Vec<f64> = (0..40).map(|k| 0.9f64.powi(k)).collect();
    let (mn, mx) = (h.min.min(0.0) as f64, h.max.max(0.0) as f64);
    let los: Vec<f64> = if mn < 0.0 {
        fractions.iter().map(|f| mn * f).collect()
    } else {
        vec![0.0]
    };
    let his: Vec<f64> = if mx > 0.0 {
        fractions.iter().map(|f| mx * f).collect()
    } else {
        vec![0.0]
    };
    let mut best = (f64::INFINITY, mn, mx);
    for &lo in &los {
        for &hi in &his {
            if hi - lo <= 0.0 {
                continue;
            }
            let e = quant_error(h, &f_centers, consumer, lo, hi);
            if e < best.0 {
                best = (e, lo, hi);
            }
        }
    }
    Range {
        lo: best.1 as f32,
        hi: best.2 as f32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Most mass near 0 and a thin tail to 100: `mse` clips the tail.
    fn long_tail() -> Histogram {
        let mut bins = vec![0u64; BINS];
        bins[..BINS / 20].iter_mut().for_each(|b| *b = 1_000_000);
        bins[BINS - 1] = 1;
        Histogram {
            min: 0.0,
            max: 100.0,
            bins,
        }
    }

    #[test]
    fn no_clip_pooled_keeps_the_pools_inputs_whole() {
        let stats: Stats = ["stages.3.blocks.1", "final_conv.reparam_conv", "final_conv"]
            .iter()
            .map(|n| (n.to_string(), long_tail()))
            .collect();
        let ranges =
            |no_clip| choose_ranges(&stats, RangeMethod::Mse, &Precision::default(), no_clip);
        let (mse, whole) = (ranges(false), ranges(true));
        for n in stats.keys() {
            assert!(mse[n].hi < 50.0, "{n}: {:?}", mse[n]);
        }
        assert!(whole["stages.3.blocks.1"].hi < 50.0);
        for n in ["final_conv.reparam_conv", "final_conv"] {
            assert_eq!(whole[n], Range { lo: 0.0, hi: 100.0 }, "{n}");
        }
        // The SE's GELU table input is read by the table, not a pool.
        assert!(!pooled("final_conv.se") && !pooled("final_conv.se.pool"));
    }
}
