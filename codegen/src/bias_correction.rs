//! Bias correction: rounding a conv's weights to int8 moves the mean of each
//! output channel by `sum((w_q - w) * E[x])`, a systematic error the next
//! layers carry (inputs after GELU, and residual streams with BatchNorm
//! offsets, have far-from-zero channel means). Calibration measures each
//! conv's per-channel input means ([`conv_input_means`]); the quantizer
//! subtracts the shift its own rounding makes from the float bias before
//! quantizing it ([`InputMeans::shift`]). Local to each conv (its own
//! rounding, the float means of its input), so it needs one forward pass
//! and cannot run away as correcting every layer's measured output mean
//! at once does (docs/numerics.md).
//!
//! Not corrected: the mean of an int8 input's own rounding, `E[q(x) - x]`
//! per channel. Modelled that way it gained 0.05-0.1 dB on the trained kit
//! but lowered a fan-in fixture's minimum cosine below its floor
//! (docs/numerics.md).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::float::{forward_folded, Fmap};
use crate::fold::{ConvW, Folded};
use crate::images::ModelInput;

/// A conv input's per-channel means and spatial size.
#[derive(Clone, Debug, PartialEq)]
pub struct InputMeans {
    /// Mean of each input channel over the calibration inputs.
    pub mean: Vec<f64>,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
}

/// [`InputMeans`] per conv name.
pub type ConvInputMeans = BTreeMap<String, InputMeans>;

fn channel_means(x: &Fmap) -> InputMeans {
    let n = (x.h * x.w).max(1);
    InputMeans {
        mean: (x.data.chunks_exact(n))
            .map(|p| p.iter().map(|&v| v as f64).sum::<f64>() / n as f64)
            .collect(),
        h: x.h,
        w: x.w,
    }
}

/// The per-channel means of every conv's input over `inputs` (float graph,
/// all cores; summed in input order, so the result is deterministic). A
/// conv's input is the tensor observed just before its output (the image
/// for the first stem conv): the order in which [`forward_folded`] observes
/// its tensors. `tick` is called once per input.
pub fn conv_input_means(
    f: &Folded,
    inputs: &[ModelInput],
    tick: &(dyn Fn() + Sync),
) -> ConvInputMeans {
    let names: Vec<&str> = f.convs().iter().map(|c| c.name.as_str()).collect();
    let per_input: Vec<ConvInputMeans> = inputs
        .par_iter()
        .map(|inp| {
            let mut last = channel_means(&inp.normalized);
            let mut out = ConvInputMeans::new();
            forward_folded(f, &inp.normalized, &mut |n: &str, x: &Fmap| {
                if names.contains(&n) && !out.contains_key(n) {
                    out.insert(n.to_string(), last.clone());
                }
                last = channel_means(x);
            });
            tick();
            out
        })
        .collect();
    let mut sum = per_input.first().cloned().unwrap_or_default();
    for m in per_input.iter().skip(1) {
        for (name, v) in m {
            if let Some(s) = sum.get_mut(name) {
                s.mean.iter_mut().zip(&v.mean).for_each(|(a, b)| *a += b);
            }
        }
    }
    let n = inputs.len().max(1) as f64;
    for m in sum.values_mut() {
        m.mean.iter_mut().for_each(|v| *v /= n);
    }
    sum
}

impl InputMeans {
    /// The share of `c`'s output positions at which each kernel row (and
    /// column) reads inside the input, not its zero padding: `(rows, cols)`.
    pub fn tap_shares(&self, c: &ConvW) -> (Vec<f64>, Vec<f64>) {
        let (k, s, p) = (c.k, c.stride, c.pad());
        let share = |n: usize| -> Vec<f64> {
            let outs = ((n + 2 * p).saturating_sub(k) / s + 1).max(1);
            (0..k)
                .map(|t| {
                    let inside = (0..outs)
                        .filter(|o| (o * s + t).checked_sub(p).is_some_and(|i| i < n))
                        .count();
                    inside as f64 / outs as f64
                })
                .collect()
        };
        (share(self.h), share(self.w))
    }

    /// The mean output shift of output channel `o` of `c` whose weights
    /// (OIHW, `c.fan_in()` of them) round to `rounded`: what correcting its
    /// bias subtracts. `shares` is [`Self::tap_shares`].
    pub fn shift(
        &self,
        c: &ConvW,
        o: usize,
        rounded: &[f64],
        shares: &(Vec<f64>, Vec<f64>),
    ) -> f64 {
        let cin_g = c.cin / c.groups;
        let first = o / (c.cout / c.groups).max(1) * cin_g;
        let w = &c.weight[o * c.fan_in()..(o + 1) * c.fan_in()];
        let mut d = 0.0;
        for ci in 0..cin_g {
            let m = self.mean.get(first + ci).copied().unwrap_or(0.0);
            for ky in 0..c.k {
                for kx in 0..c.k {
                    let i = (ci * c.k + ky) * c.k + kx;
                    d += (rounded[i] - w[i] as f64) * m * shares.0[ky] * shares.1[kx];
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(k: usize, stride: usize, groups: usize, cin: usize, cout: usize) -> ConvW {
        ConvW {
            name: "c".into(),
            cin,
            cout,
            k,
            stride,
            groups,
            weight: vec![0.5; cout * cin / groups * k * k],
            bias: vec![0.0; cout],
        }
    }

    #[test]
    fn tap_shares_count_the_padding() {
        // 3x3, stride 1, pad 1 over 4 rows: the top row of the kernel reads
        // padding at output row 0 only.
        let m = InputMeans {
            mean: vec![1.0],
            h: 4,
            w: 4,
        };
        let (rows, cols) = m.tap_shares(&conv(3, 1, 1, 1, 1));
        assert_eq!(rows, vec![0.75, 1.0, 0.75]);
        assert_eq!(rows, cols);
        // 1x1 reads no padding.
        assert_eq!(m.tap_shares(&conv(1, 1, 1, 1, 1)).0, vec![1.0]);
    }

    #[test]
    fn shift_is_the_rounding_error_times_the_input_mean() {
        // Depthwise 1x1 over two channels of means 2 and -3: channel 1's
        // weight 0.5 rounded to 0.75 shifts its output by 0.25 * -3.
        let m = InputMeans {
            mean: vec![2.0, -3.0],
            h: 1,
            w: 1,
        };
        let c = conv(1, 1, 2, 2, 2);
        let shares = m.tap_shares(&c);
        assert_eq!(m.shift(&c, 1, &[0.75], &shares), -0.75);
        assert_eq!(m.shift(&c, 0, &[0.5], &shares), 0.0);
        // Dense: output 0 reads both channels.
        let d = conv(1, 1, 1, 2, 1);
        assert_eq!(m.shift(&d, 0, &[1.0, 1.0], &shares), 0.5 * 2.0 - 0.5 * 3.0);
    }

    #[test]
    fn every_conv_gets_its_input_means() {
        let f = crate::fold::fold(&crate::fold::timm_reparam(&crate::synth::train_tensors(
            crate::arch::T8,
            3,
            10,
        )));
        let inputs = crate::images::builtin_calibration(64);
        let means = conv_input_means(&f, &inputs[..2], &|| {});
        let mut hw = 64;
        for c in f.convs() {
            let m = &means[&c.name];
            assert_eq!(m.mean.len(), c.cin, "{}", c.name);
            if c.name.starts_with("final_conv.se") || c.name == "head.fc" {
                assert_eq!((m.h, m.w), (1, 1), "{}", c.name);
            } else {
                assert_eq!((m.h, m.w), (hw, hw), "{}", c.name);
                hw = (hw + 2 * c.pad() - c.k) / c.stride + 1;
            }
        }
        // The image's channel means are the first stem conv's.
        let img = channel_means(&inputs[0].normalized).mean;
        let img2 = channel_means(&inputs[1].normalized).mean;
        for ((m, a), b) in means["stem.0.reparam_conv"].mean.iter().zip(img).zip(img2) {
            assert!((m - (a + b) / 2.0).abs() < 1e-9);
        }
    }
}
