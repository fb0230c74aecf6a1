//! The passes chained the way the command line runs them: load (or
//! synthesize) -> fold -> equalize -> calibrate -> quantize + plan.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::calibrate::{choose_ranges, collect, RangeMethod};
use crate::checkpoint::{self, Checkpoint, DType, Layout};
use crate::emit::Provenance;
use crate::equalize::{channel_ranges, equalize};
use crate::error::Result;
use crate::fold::{fold_checkpoint, Folded};
use crate::images::{builtin_calibration, folder_inputs, ModelInput};
use crate::quantize::{compile, Compiled, Settings};
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
    /// Equalization strength (0 disables).
    pub equalization: f64,
    /// Hide progress bars.
    pub quiet: bool,
}

impl Default for QuantOptions {
    fn default() -> Self {
        Self {
            resolution: crate::arch::DEFAULT_RESOLUTION,
            calib: None,
            method: RangeMethod::Mse,
            equalization: 0.5,
            quiet: false,
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
            let bytes =
                synth::checkpoint_bytes(SYNTHETIC_SEED, 1000, Layout::TimmTrain, DType::F32);
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
                format!("built-in set, {n} crops of 3 public-domain photos"),
            )
        }
    })
}

/// Folds a checkpoint, equalizes, calibrates and quantizes it. Returns the
/// equalized float graph (the reference the int8 model is compared with;
/// same logits as the plain fold) and the compiled model.
pub fn quantize(
    ck: &Checkpoint,
    inputs: &[ModelInput],
    source: &str,
    opts: &QuantOptions,
) -> (Folded, Compiled) {
    let folded = fold_checkpoint(ck);
    let pb = progress(inputs.len() * 3, "calibrating", opts.quiet);
    let tick = || pb.inc(1);
    let folded = if opts.equalization > 0.0 {
        let stats = channel_ranges(&folded, inputs, &tick);
        equalize(&folded, &stats, opts.equalization)
    } else {
        pb.inc(inputs.len() as u64);
        folded
    };
    let stats = collect(&folded, inputs, &tick);
    pb.finish_and_clear();
    let ranges = choose_ranges(&stats, opts.method);
    let settings = Settings {
        method: opts.method,
        calibration_inputs: inputs.len(),
        calibration_source: source.to_string(),
        resolution: opts.resolution,
        equalization: opts.equalization,
    };
    let compiled = compile(&folded, &ranges, settings);
    (folded, compiled)
}

/// The layer at which the arena peak occurs and the bytes live there.
pub fn peak_layer(c: &Compiled) -> (String, usize) {
    let mut best = (String::new(), 0);
    for (i, name) in c.names.iter().enumerate() {
        let live: usize = c
            .buffers
            .iter()
            .zip(&c.plan.offsets)
            .filter(|(b, _)| b.first <= i as i64 && i as i64 <= b.last)
            .map(|(b, _)| b.size)
            .sum();
        if live > best.1 {
            best = (name.clone(), live);
        }
    }
    best
}
