//! Lowering the folded float graph to the int8 schedule (TFLite int8
//! conventions): per-output-channel symmetric int8 weights, per-tensor
//! asymmetric int8 activations, i32 biases, integer multiplier + shift
//! requantization, GELU and sigmoid as 256-entry tables, and the ImageNet
//! normalization folded into the stem.
//!
//! The passes, in order ([`compile`] drives them): `lower` (layers and
//! quantized weights, with `layouts` choosing each conv's kernel and
//! re-laying its weights), then `assemble` (fusion, buffer lifetimes, the
//! arena plan and its proof, offsets), then `pack` (the weight blob keeps
//! what the final schedule reads, each weight once).

mod assemble;
mod layouts;
mod lower;
mod pack;

use std::collections::BTreeMap;

use runtime::{Elem, Layer};

use crate::arch::{IMAGENET_MEAN, IMAGENET_STD};
use crate::calibrate::{Range, RangeMethod};
use crate::float::Fmap;
use crate::fold::Folded;
use crate::plan;

pub use assemble::Schedule;
pub use lower::stem_pad_values;

/// How far beyond its calibration min/max an int16 tensor reaches.
pub const WIDE_HEADROOM: f64 = 2.0;

/// Headroom shift of residual adds (TFLite uses 20 for int8).
pub const ADD_LEFT_SHIFT: u8 = 20;

/// [`ADD_LEFT_SHIFT`] of an add with an int16 input: `|q - zp| < 2^16`, so
/// 15 is the most an i32 holds (`runtime::Add::max_left_shift`).
pub const ADD_LEFT_SHIFT_WIDE: u8 = 15;

/// Scale and zero point of an activation tensor: `real = scale * (q - zp)`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct QParams {
    /// Scale.
    pub scale: f64,
    /// Zero point.
    pub zp: i32,
    /// Element type (int8, or int16 where [`crate::precision`] chose it).
    #[serde(serialize_with = "elem_name")]
    pub elem: Elem,
}

fn elem_name<S: serde::Serializer>(e: &Elem, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(match e {
        Elem::I8 => "int8",
        Elem::I16 => "int16",
    })
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
        Self {
            scale,
            zp,
            elem: Elem::I8,
        }
    }

    /// Symmetric int16 parameters (zero point 0) covering `r` with
    /// [`WIDE_HEADROOM`]: 16 bits leave room to never clip what calibration
    /// saw nor much beyond it.
    pub fn wide(r: Range) -> Self {
        let m = (r.lo.abs().max(r.hi.abs()) as f64) * WIDE_HEADROOM;
        Self {
            scale: if m > 0.0 { m / 32767.0 } else { 1e-6 },
            zp: 0,
            elem: Elem::I16,
        }
    }

    /// The real value of the `i`-th element of a tensor with these
    /// parameters stored in `data` (int8 or int16 as [`QParams::elem`]).
    pub fn dequantize_at(&self, data: &[i8], i: usize) -> f32 {
        ((self.elem.load(data, i) - self.zp) as f64 * self.scale) as f32
    }

    /// Quantizes a real value.
    pub fn quantize(&self, v: f32) -> i8 {
        ((v as f64 / self.scale).round() + self.zp as f64).clamp(-128.0, 127.0) as i8
    }

    /// Quantizes `v` to this tensor's element type (saturated to its range).
    pub fn quantize_wide(&self, v: f32) -> i32 {
        let (lo, hi) = self.elem.range();
        ((v as f64 / self.scale).round() + self.zp as f64).clamp(lo as f64, hi as f64) as i32
    }

    /// The real value of `q`.
    pub fn dequantize(&self, q: i8) -> f32 {
        ((q as i32 - self.zp) as f64 * self.scale) as f32
    }
}

/// Encodes a positive real scale as `(multiplier, shift)` with
/// `real = multiplier * 2^(shift - 31)`, multiplier in `[2^30, 2^31)`.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    let (m, s) = fixed_point(real, 31);
    (m as i32, s)
}

/// [`quantize_multiplier`] for a per-channel scale stored in the blob: the
/// multiplier's top 16 bits `m16` (the runtime widens it to `m16 << 16`),
/// rounded once from the real value to 15 significant bits, the shift
/// chosen after rounding so `m16 << 16` stays in `[2^30, 2^31)` (a mantissa
/// that rounds up to `2^15` becomes `2^14` with the shift one higher).
pub fn quantize_multiplier16(real: f64) -> (i16, i32) {
    let (m, s) = fixed_point(real, 15);
    (m as i16, s)
}

/// `real` as `(m, e)` with `real = m * 2^(e - bits)` and `m` rounded once to
/// `bits` significant bits in `[2^(bits-1), 2^bits)` (a mantissa that rounds
/// up to `2^bits` halves, `e` one higher), `e` in the shift range
/// `-31..=30`: past it `(2^bits - 1, 30)`; below it `e = -31` with `m`
/// rounded at that shift (`real < 2^-32`, so `m < 2^(bits-1)`);
/// `(0, 0)` for a real that is not positive and finite. What
/// [`quantize_multiplier`] (31 bits) and [`quantize_multiplier16`] (15)
/// share.
fn fixed_point(real: f64, bits: i32) -> (i64, i32) {
    if real <= 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (f, mut e) = libm::frexp(real);
    let mut m = (f * 2f64.powi(bits)).round() as i64;
    if m == 1i64 << bits {
        m /= 2;
        e += 1;
    }
    if e > 30 {
        return ((1i64 << bits) - 1, 30);
    }
    if e < -31 {
        // Too small for full precision: keep the shift at its floor.
        let m = (real * 2f64.powi(31 + bits)).round() as i64;
        return (m, -31);
    }
    (m, e)
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
    /// Whether the biases are corrected for weight rounding
    /// ([`crate::bias_correction`]).
    pub bias_correction: bool,
    /// Whether the tensors a global pool reads keep their whole range
    /// ([`crate::calibrate::pooled`]).
    pub no_clip_pooled: bool,
    /// Execution forms and arena use.
    pub memory: MemoryForm,
    /// The tensors stored with 16 bits.
    pub int16: crate::precision::Precision,
}

/// The quantized model: a weight blob plus the schedule, as codegen runs it
/// in process and as it is emitted.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Weight blob (all spans point into it; every array 16-byte aligned).
    pub weights: Vec<u8>,
    /// The schedule in the memory form of `settings.memory`, with its
    /// layer names, output quantization and proven arena plan.
    pub schedule: Schedule,
    /// Quantization of the normalized input.
    pub normalized_input_q: QParams,
    /// Arena bytes (the plan's peak).
    pub arena_bytes: usize,
    /// Quantization of the logits.
    pub output_q: QParams,
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
        let names: Vec<&str> = self.schedule.names.iter().map(String::as_str).collect();
        let model = runtime::Model {
            weights: &self.weights,
            layers: &self.schedule.layers,
            layer_names: &names,
            stem_normalized: self.schedule.stem_normalized,
            arena_bytes: self.arena_bytes,
            input: self.schedule.input,
            normalized_input_zp: self.normalized_input_q.zp,
            output: self.schedule.output,
            output_zp: self.output_q.zp,
        };
        f(&model)
    }

    /// The layers whose outputs are int16, each as its entry of `names`
    /// (pass [`Schedule::names`] or [`Schedule::float_names`]).
    pub fn int16_outputs<'a>(&self, names: &'a [String]) -> Vec<&'a str> {
        names
            .iter()
            .zip(&self.schedule.layers)
            .filter(|(_, l)| l.output().elem == Elem::I16)
            .map(|(n, _)| n.as_str())
            .collect()
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

    /// Dequantized logits (int8 or int16 values, widened to i16).
    pub fn dequantize_logits(&self, q: &[i16]) -> Vec<f32> {
        q.iter()
            .map(|&v| ((v as i32 - self.output_q.zp) as f64 * self.output_q.scale) as f32)
            .collect()
    }

    /// Multiply-accumulates of the schedule.
    pub fn macs(&self) -> u64 {
        self.schedule.layers.iter().map(|l| l.macs()).sum()
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

/// Lowers the folded graph with the calibrated ranges, assembles the schedule
/// in `settings.memory` form, plans and checks the arena, and returns the
/// compiled model. The layer-by-layer form is always planned too, for the
/// comparison figure.
pub fn compile(f: &Folded, ranges: &BTreeMap<String, Range>, settings: Settings) -> Compiled {
    let lw = lower::lower(f, ranges, settings.resolution, &settings.int16);
    let lbl = assemble::assemble(&lw, MemoryForm::LayerByLayer);
    let layer_by_layer_bytes = lbl.plan.peak;
    let naive_bytes = plan::plan_naive(&lbl.buffers).peak;
    let mut chosen = match settings.memory {
        MemoryForm::LayerByLayer => lbl,
        // Each conv with two placements (a widening conv behind its input
        // or not, a narrowing downsampling conv ahead of its input or
        // behind) takes whichever gives the smaller arena (ties: the first,
        // so an all-int8 schedule is planned once, as before).
        MemoryForm::Fused => (0..1u32 << assemble::choices(&lw).min(8))
            .map(|mask| assemble::assemble_with(&lw, MemoryForm::Fused, mask))
            .reduce(|best, a| {
                if a.plan.peak < best.plan.peak {
                    a
                } else {
                    best
                }
            })
            .expect("at least one plan"),
    };
    let mut layers: Vec<&mut Layer> = chosen.layers.iter_mut().collect();
    layers.push(&mut chosen.stem_normalized);
    let weights = pack::pack(&lw.blob, &mut layers);
    Compiled {
        weights,
        arena_bytes: chosen.plan.peak,
        schedule: chosen,
        normalized_input_q: lw.normalized_input_q,
        output_q: lw.output_q,
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

    /// The 16-bit multiplier is within half a unit of its 15 significant
    /// bits of the real scale, and normalized, also where the mantissa
    /// rounds up to the next power of two.
    #[test]
    fn multiplier16_round_trips() {
        let up = 1.0 - 2f64.powi(-17); // f * 2^15 rounds to 2^15
        for real in [
            1e-12,
            1e-9,
            3.7e-5,
            0.001,
            0.25,
            0.5,
            up,
            0.999_999_9,
            1.0,
            3.5,
            1000.0,
            1e12,
        ] {
            let (m, s) = quantize_multiplier16(real);
            let back = ((m as i64) << 16) as f64 * 2f64.powi(s - 31);
            let m32 = (m as i32) << 16;
            if s > -31 && s < 30 {
                assert!((1 << 30..=i32::MAX).contains(&m32), "{real}: {m} {s}");
                assert!(
                    (back - real).abs() <= real * 2f64.powi(-16),
                    "{real}: {m} {s} -> {back}"
                );
            } else if s == -31 {
                assert!(
                    (back - real).abs() <= 2f64.powi(-47),
                    "{real}: {m} -> {back}"
                );
            }
        }
        assert_eq!(quantize_multiplier16(up), (1 << 14, 1));
        assert_eq!(quantize_multiplier16(1e12), (i16::MAX, 30));
        assert_eq!(quantize_multiplier16(0.0), (0, 0));
    }

    #[test]
    fn qparams_represent_zero_exactly() {
        for (lo, hi) in [(-1.0, 3.0), (0.0, 5.0), (-2.5, 0.0), (-0.17, 12.3)] {
            let q = QParams::from_range(Range { lo, hi });
            assert_eq!(q.dequantize(q.quantize(0.0)), 0.0);
        }
    }
}
