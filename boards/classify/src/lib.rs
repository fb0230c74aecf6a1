//! What a firmware does around the model: [`camera`] turns a camera frame of
//! any size into the model's int8 input (timm's eval transform, streaming,
//! integer); [`top_k`] turns the quantized logits into the `K` best classes with
//! softmax probabilities and, when the user supplies a labels file (one name
//! per line, e.g. ImageNet's 1000 classes via `include_str!`), names.
//!
//! No heap: the result is a `heapless::Vec`; `exp` comes from `micromath`, so
//! it also runs on FPU-less cores.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use heapless::Vec;
use micromath::F32Ext;

pub mod camera;

/// One class of the result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction<'a> {
    /// Class index (row of the model's head).
    pub class: usize,
    /// Softmax probability over all classes.
    pub probability: f32,
    /// Name from the labels file, if one was given and has this line.
    pub label: Option<&'a str>,
}

/// The `K` most likely classes, most likely first (ties: lower index first).
/// `scale` and `zero_point` are the generated crate's `OUTPUT_SCALE` and
/// `OUTPUT_ZERO_POINT`.
pub fn top_k<'a, const K: usize>(
    logits: &[i16],
    scale: f32,
    zero_point: i32,
    labels: Option<&'a str>,
) -> Vec<Prediction<'a>, K> {
    // The softmax is shift-invariant: the zero point cancels against `max`.
    let _ = zero_point;
    let max = logits.iter().copied().max().unwrap_or(0);
    // exp(s * (q - max)) in [0, 1]: stable for any logit range.
    // micromath's exp, named explicitly: with std linked (host builds, tests)
    // the inherent `f32::exp` would win, and the firmware and host would
    // round differently.
    let weight = |q: i16| F32Ext::exp(scale * (q as i32 - max as i32) as f32);
    let total: f32 = logits.iter().map(|&q| weight(q)).sum();
    let mut best: Vec<Prediction<'a>, K> = Vec::new();
    for (class, &q) in logits.iter().enumerate() {
        let better = |p: &Prediction| logits[p.class] < q;
        if best.is_full() && !best.last().is_some_and(better) {
            continue;
        }
        let at = best.iter().position(better).unwrap_or(best.len());
        if best.is_full() {
            best.pop();
        }
        let label = labels.and_then(|l| l.lines().nth(class)).map(str::trim);
        let p = Prediction {
            class,
            probability: weight(q) / total,
            label,
        };
        // Cannot fail: an element was popped if the vector was full.
        let _ = best.insert(at, p);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_largest_in_order_with_labels() {
        let logits = [-5i16, 40, 12, 40, 90, -128, 3];
        let labels = "cat\ndog\nfish\nbird\nfrog\nant\nbee";
        let top: Vec<Prediction, 3> = top_k(&logits, 0.1, 0, Some(labels));
        let classes: [usize; 3] = [top[0].class, top[1].class, top[2].class];
        assert_eq!(classes, [4, 1, 3]);
        assert_eq!(top[0].label, Some("frog"));
        assert!(top[0].probability > top[1].probability);
        assert!((top[1].probability - top[2].probability).abs() < 1e-6);
    }

    #[test]
    fn probabilities_match_a_float_softmax() {
        let logits: [i16; 5] = [10, -20, 30, 0, 5];
        let (scale, zp) = (0.05f32, 3);
        let top: Vec<Prediction, 5> = top_k(&logits, scale, zp, None);
        let sum: f32 = top.iter().map(|p| p.probability).sum();
        assert!((sum - 1.0).abs() < 1e-3, "{sum}");
        extern crate std;
        let real: std::vec::Vec<f64> = logits
            .iter()
            .map(|&q| (scale as f64) * (q as i32 - zp) as f64)
            .collect();
        let z: f64 = real.iter().map(|r| r.exp()).sum();
        for p in &top {
            let want = real[p.class].exp() / z;
            assert!(
                (p.probability as f64 - want).abs() < 2e-3,
                "class {}: {} vs {want}",
                p.class,
                p.probability
            );
            assert_eq!(p.label, None);
        }
    }

    #[test]
    fn short_inputs_and_missing_labels() {
        let top: Vec<Prediction, 5> = top_k(&[7, 3], 1.0, 0, Some("only-one"));
        assert_eq!(top.len(), 2);
        assert_eq!(top[0].label, Some("only-one"));
        assert_eq!(top[1].label, None);
        let none: Vec<Prediction, 5> = top_k(&[], 1.0, 0, None);
        assert!(none.is_empty());
    }
}
