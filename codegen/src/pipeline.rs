//! The passes chained the way the command line runs them: load (or
//! synthesize) -> fold -> equalize -> calibrate -> quantize + plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::bias_correction::conv_input_means;
use crate::budget;
use crate::calibrate::{choose_ranges, collect, Range, RangeMethod, Stats};
use crate::checkpoint::{self, Checkpoint, DType, Layout};
use crate::emit::Provenance;
use crate::equalize::{channel_ranges, equalize, ChannelStats};
use crate::error::Result;
use crate::fold::{fold_checkpoint, Folded};
use crate::images::{builtin_calibration, folder_inputs, ModelInput};
use crate::precision::Precision;
use crate::quantize::{compile, Compiled, MemoryForm, Settings};
use crate::strength;
use crate::synth;

/// Seed of the built-in synthetic checkpoint.
pub const SYNTHETIC_SEED: u64 = 0;

/// Quantization options.
#[derive(Clone, Debug)]
pub struct QuantOptions {
    /// Input resolution (multiple of 32).
    pub resolution: usize,
    /// Calibration image folder; `None` for the built-in set.
    pub calib: Option<PathBuf>,
    /// Range estimator.
    pub method: RangeMethod,
    /// Equalization strength (0 disables); with `choose_equalization`, the
    /// strength the 16-bit groups are chosen at and the first measured.
    pub equalization: f64,
    /// `--equalize auto`: choose the strength among
    /// [`crate::strength::STRENGTHS`] on held-out probes (off by default:
    /// on the trained kit the probes chose worse than 0.5,
    /// [`crate::strength`]).
    pub choose_equalization: bool,
    /// Correct each conv's bias for the mean shift of its weight rounding
    /// ([`crate::bias_correction`]; on by default).
    pub bias_correction: bool,
    /// Never clip the tensors a global pool reads
    /// ([`crate::calibrate::pooled`]; on by default).
    pub no_clip_pooled: bool,
    /// Hide progress bars.
    pub quiet: bool,
    /// Execution forms and arena use (default: fused).
    pub memory: MemoryForm,
    /// The tensors stored with 16 bits (default: the head).
    pub int16: Precision,
    /// `--int16 auto`: choose the 16-bit groups under this arena budget in
    /// bytes instead ([`crate::budget`]; `int16` is then ignored). The
    /// default: [`crate::budget::DEFAULT_ARENA_BUDGET`].
    pub int16_budget: Option<usize>,
}

impl QuantOptions {
    /// The plain int8 build (`--int16 head --no-bias-correction
    /// --clip-pooled`): only the head at 16 bits, no trained-model
    /// corrections, no measured choice. The fastest build and the quickest to make (no choice to
    /// measure); the fan-in fixtures' regression floors and the board
    /// benchmark are on it.
    pub fn plain_int8(resolution: usize) -> Self {
        Self {
            resolution,
            bias_correction: false,
            no_clip_pooled: false,
            int16: Precision::default(),
            int16_budget: None,
            ..Self::default()
        }
    }
}

impl Default for QuantOptions {
    fn default() -> Self {
        Self {
            resolution: crate::arch::DEFAULT_RESOLUTION,
            calib: None,
            method: RangeMethod::Mse,
            equalization: 0.5,
            choose_equalization: false,
            bias_correction: true,
            no_clip_pooled: true,
            quiet: false,
            memory: MemoryForm::Fused,
            int16: Precision::default(),
            int16_budget: Some(crate::budget::DEFAULT_ARENA_BUDGET),
        }
    }
}

/// A progress bar for `n` steps (hidden when quiet).
pub fn progress(n: usize, what: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>28} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Loads `path`, or the built-in synthetic FastViT-T8 when `None`.
pub fn load_or_synthesize(path: Option<&Path>) -> Result<(Checkpoint, Provenance)> {
    let ck = match path {
        Some(p) => checkpoint::load(p)?,
        None => {
            let bytes = synth::checkpoint_bytes(
                crate::arch::T8,
                SYNTHETIC_SEED,
                1000,
                Layout::TimmTrain,
                DType::F32,
            );
            checkpoint::parse(Path::new("<built-in synthetic fastvit_t8>"), &bytes)?
        }
    };
    let prov = Provenance {
        checkpoint: match path {
            Some(p) => p.display().to_string(),
            None => format!("built-in synthetic FastViT-T8 (seed {SYNTHETIC_SEED}, not trained)"),
        },
        sha256: ck.sha256.clone(),
        layout: ck.layout.to_string(),
        model: ck.variant.title(),
    };
    Ok((ck, prov))
}

/// Calibration inputs and a description of where they came from.
pub fn calibration_inputs(opts: &QuantOptions) -> Result<(Vec<ModelInput>, String)> {
    Ok(match &opts.calib {
        Some(dir) => {
            let v = folder_inputs(dir, opts.resolution)?;
            let n = v.len();
            (v, format!("{n} images from {}", dir.display()))
        }
        None => {
            let v = builtin_calibration(opts.resolution);
            let n = v.len();
            (
                v,
                format!("built-in set, {n} regions of 12 openly licensed photos"),
            )
        }
    })
}

/// A folded checkpoint and its per-channel ranges on a calibration set:
/// what calibration at any equalization strength starts from.
struct Base<'a> {
    folded: Folded,
    channels: Option<ChannelStats>,
    inputs: &'a [ModelInput],
}

impl<'a> Base<'a> {
    /// Folds `ck` and, if any strength may be above 0, collects the
    /// per-channel ranges of `inputs` (one pass).
    fn new(ck: &Checkpoint, inputs: &'a [ModelInput], opts: &QuantOptions, what: &str) -> Self {
        let folded = fold_checkpoint(ck);
        let equalizes = opts.choose_equalization || opts.equalization > 0.0;
        let channels = equalizes.then(|| {
            let pb = progress(inputs.len(), what, opts.quiet);
            let c = channel_ranges(&folded, inputs, &|| pb.inc(1));
            pb.finish_and_clear();
            c
        });
        Self {
            folded,
            channels,
            inputs,
        }
    }

    /// The graph equalized at `alpha` and the activation statistics of the
    /// inputs through it (two passes, three with the bias correction).
    fn at(&self, alpha: f64, opts: &QuantOptions, what: &str) -> (Folded, Stats) {
        let passes = if opts.bias_correction { 3 } else { 2 };
        let pb = progress(self.inputs.len() * passes, what, opts.quiet);
        let tick = || pb.inc(1);
        let mut folded = match &self.channels {
            Some(c) if alpha > 0.0 => equalize(&self.folded, c, alpha),
            _ => self.folded.clone(),
        };
        let stats = collect(&folded, self.inputs, &tick);
        if opts.bias_correction {
            folded.input_means = conv_input_means(&folded, self.inputs, &tick);
        }
        pb.finish_and_clear();
        (folded, stats)
    }
}

/// Folds a checkpoint, equalizes it at `opts.equalization` and collects the
/// activation statistics of `inputs`: the equalized float graph and what
/// range choices read.
pub fn calibrate_stats(
    ck: &Checkpoint,
    inputs: &[ModelInput],
    opts: &QuantOptions,
) -> (Folded, Stats) {
    let opts = QuantOptions {
        choose_equalization: false,
        ..opts.clone()
    };
    Base::new(ck, inputs, &opts, "calibrating").at(opts.equalization, &opts, "calibrating")
}

/// Folds a checkpoint, equalizes and calibrates it: the equalized float graph
/// and the chosen activation ranges, ready for [`compile`] (in any memory
/// form; the quantization does not depend on it).
pub fn calibrate(
    ck: &Checkpoint,
    inputs: &[ModelInput],
    opts: &QuantOptions,
) -> (Folded, BTreeMap<String, Range>) {
    let (folded, stats) = calibrate_stats(ck, inputs, opts);
    let ranges = choose_ranges(&stats, opts.method, &opts.int16, opts.no_clip_pooled);
    (folded, ranges)
}

/// The settings recorded for `opts` and a calibration set.
pub fn settings(inputs: &[ModelInput], source: &str, opts: &QuantOptions) -> Settings {
    Settings {
        method: opts.method,
        calibration_inputs: inputs.len(),
        calibration_source: source.to_string(),
        resolution: opts.resolution,
        equalization: opts.equalization,
        bias_correction: opts.bias_correction,
        no_clip_pooled: opts.no_clip_pooled,
        memory: opts.memory,
        int16: opts.int16.clone(),
    }
}

/// Folds a checkpoint, equalizes, calibrates and quantizes it. Returns the
/// equalized float graph (the reference the int8 model is compared with;
/// same logits as the plain fold) and the compiled model.
///
/// The measured choices come first, each printed unless quiet, on the
/// probes [`budget::split`] holds out, with candidates calibrated on the
/// rest: with `int16_budget`, the 16-bit groups ([`budget::choose`]; an
/// error if the budget is below the default build's arena), then with
/// `choose_equalization` the equalization strength for those groups
/// ([`strength::choose`]). The build is then calibrated on every input.
pub fn quantize(
    ck: &Checkpoint,
    inputs: &[ModelInput],
    source: &str,
    opts: &QuantOptions,
) -> Result<(Folded, Compiled)> {
    let mut settings = settings(inputs, source, opts);
    let measures = opts.int16_budget.is_some() || opts.choose_equalization;
    // (Copies of the inputs: only when a choice is measured.)
    let (probe, rest) = if measures {
        budget::split(inputs)
    } else {
        (Vec::new(), Vec::new())
    };
    let held_out = rest.len() < inputs.len();
    // Calibrations of `rest` by strength, reused by the final calibration
    // when nothing is held out (`rest` is then every input).
    let mut done: Vec<(f64, Folded, Stats)> = Vec::new();
    let sub = measures.then(|| Base::new(ck, &rest, opts, "calibrating candidates"));
    if let Some(sub) = &sub {
        let on = if held_out {
            format!(
                "{} calibration inputs held out (the candidates calibrated on the other {})",
                probe.len(),
                rest.len()
            )
        } else {
            format!(
                "{} of the calibration inputs (in-sample: fewer than {} inputs)",
                probe.len(),
                2 * budget::PROBE_INPUTS
            )
        };
        let (f, stats) = sub.at(opts.equalization, opts, "calibrating candidates");
        let probes = budget::Probes::new(&f, &probe);
        let mut template = self::settings(&rest, source, opts);
        if let Some(limit) = opts.int16_budget {
            // The base, then each step measures the groups not yet added
            // (an upper bound: a stage's `mlp` waits for its stream).
            let g = f.stages.iter().map(|s| 2 + s.downsample.is_some() as usize);
            let g: usize = g.sum();
            let n = 1 + g * (g + 1) / 2;
            let pb = progress(n, "choosing int16 groups", opts.quiet);
            let choice = budget::choose(&f, &stats, &probes, &template, limit, &|| pb.inc(1))?;
            pb.finish_and_clear();
            if !opts.quiet {
                eprintln!("{}", choice.describe(limit, &on));
            }
            settings.int16 = choice.precision.clone();
            template.int16 = choice.precision;
        }
        done.push((opts.equalization, f, stats));
        if opts.choose_equalization {
            let choice = strength::choose(opts.equalization, |alpha| -> Result<f64> {
                if !done.iter().any(|d| d.0 == alpha) {
                    let what = format!("calibrating at alpha {alpha}");
                    let (f, stats) = sub.at(alpha, opts, &what);
                    done.push((alpha, f, stats));
                }
                let (_, f, stats) = done.iter().find(|d| d.0 == alpha).expect("calibrated");
                let ranges =
                    choose_ranges(stats, opts.method, &template.int16, opts.no_clip_pooled);
                let c = compile(
                    f,
                    &ranges,
                    Settings {
                        equalization: alpha,
                        ..template.clone()
                    },
                );
                Ok(probes.sqnr_db(&c))
            })?;
            if !opts.quiet {
                eprintln!("{}", choice.describe(&on));
            }
            settings.equalization = choice.alpha;
        }
    }
    let alpha = settings.equalization;
    let reuse = (!held_out)
        .then(|| done.into_iter().find(|d| d.0 == alpha))
        .flatten();
    let (folded, stats) = match reuse {
        Some((_, f, s)) => (f, s),
        None => Base::new(ck, inputs, opts, "calibrating").at(alpha, opts, "calibrating"),
    };
    let ranges = choose_ranges(&stats, opts.method, &settings.int16, opts.no_clip_pooled);
    let compiled = compile(&folded, &ranges, settings);
    Ok((folded, compiled))
}

/// Arena bytes in use at each layer: the union of the byte ranges of the
/// buffers live at that layer (aliased buffers count once).
pub fn live_bytes(c: &Compiled) -> Vec<usize> {
    (0..c.schedule.layers.len() as i64)
        .map(|i| {
            let mut ranges: Vec<(usize, usize)> = c
                .schedule
                .buffers
                .iter()
                .zip(&c.schedule.plan.offsets)
                .filter(|(b, _)| b.first <= i && i <= b.last && b.size > 0)
                .map(|(b, &o)| (o, o + b.size))
                .collect();
            ranges.sort_unstable();
            let (mut total, mut end) = (0, 0);
            for (s, e) in ranges {
                let s = s.max(end);
                if e > s {
                    total += e - s;
                    end = e;
                }
            }
            total
        })
        .collect()
}

/// The layer at which the arena peak occurs and the bytes in use there
/// ([`live_bytes`]; for a fused layer, the name of its last op).
pub fn peak_layer(c: &Compiled) -> (String, usize) {
    let mut best = (String::new(), 0);
    for (name, live) in c.schedule.names.iter().zip(live_bytes(c)) {
        if live > best.1 {
            best = (name.clone(), live);
        }
    }
    best
}

/// The main job in one call, for a `build.rs`: loads the checkpoint (or the
/// built-in synthetic model for `None`), quantizes it and writes the model as
/// a module (`fastvit_model.rs` + `weights.bin`) into `out_dir`. Returns the
/// arena size. The including crate needs `fastvit-runtime` as a dependency.
///
/// ```
/// // model/build.rs (build-dependency: codegen = { path = ".../codegen" })
/// use codegen::pipeline::{generate_module, QuantOptions};
/// # use codegen::checkpoint::{DType, Layout};
/// # let tmp = std::env::temp_dir().join(format!("fastvit-doc-gen-{}", std::process::id()));
/// # std::fs::create_dir_all(&tmp).unwrap();
/// # std::env::set_var("OUT_DIR", &tmp); // as cargo sets it for build scripts
/// # let bytes = codegen::synth::checkpoint_bytes(codegen::arch::T8, 1, 1000, Layout::TimmTrain, DType::F16);
/// # std::fs::write(tmp.join("model.safetensors"), bytes).unwrap();
/// let ckpt = std::path::Path::new("model.safetensors");
/// # let ckpt = &tmp.join("model.safetensors"); // a seeded stand-in for the hub file
/// println!("cargo:rerun-if-changed={}", ckpt.display());
/// let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
/// let opts = QuantOptions { resolution: 64, quiet: true, ..QuantOptions::default() };
/// let arena = generate_module(Some(ckpt), &out, &opts).unwrap();
/// println!("cargo:warning=FastViT-T8 arena: {arena} bytes");
/// assert!(out.join("fastvit_model.rs").exists() && arena > 0);
/// # std::fs::remove_dir_all(&tmp).ok();
/// // model/src/lib.rs:
/// //   #![no_std]
/// //   include!(concat!(env!("OUT_DIR"), "/fastvit_model.rs"));
/// ```
pub fn generate_module(
    checkpoint: Option<&Path>,
    out_dir: &Path,
    opts: &QuantOptions,
) -> Result<usize> {
    crate::error::check_resolution(opts.resolution)?;
    let (ck, prov) = load_or_synthesize(checkpoint)?;
    let (inputs, source) = calibration_inputs(opts)?;
    let (_, compiled) = quantize(&ck, &inputs, &source, opts)?;
    crate::emit::write_module(out_dir, &compiled, &prov)?;
    Ok(compiled.arena_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--equalize auto` builds exactly what `--equalize A` builds for the
    /// strength it chose (the choice only picks; the build is calibrated on
    /// every input as a fixed strength's is).
    #[test]
    fn a_chosen_strength_builds_what_that_fixed_strength_builds() {
        let fixed = |alpha| QuantOptions {
            resolution: 32,
            quiet: true,
            equalization: alpha,
            ..QuantOptions::plain_int8(32)
        };
        let auto = QuantOptions {
            choose_equalization: true,
            ..fixed(0.5)
        };
        let (ck, _) = load_or_synthesize(None).unwrap();
        let (mut inputs, source) = calibration_inputs(&auto).unwrap();
        inputs.truncate(2 * budget::PROBE_INPUTS);
        let (_, chosen) = quantize(&ck, &inputs, &source, &auto).unwrap();
        let alpha = chosen.settings.equalization;
        assert!(strength::STRENGTHS.contains(&alpha), "{alpha}");
        let (_, again) = quantize(&ck, &inputs, &source, &fixed(alpha)).unwrap();
        assert!(chosen.weights == again.weights, "alpha {alpha}");
        assert_eq!(chosen.arena_bytes, again.arena_bytes);
    }
}
