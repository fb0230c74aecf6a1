//! `--int16 auto`: the 16-bit groups chosen under an arena budget.
//!
//! Starting from the default (`head`), each step compiles the build with one
//! more group at 16 bits (a stage's residual stream, its ConvMlp internals
//! once that stream is 16-bit, or its downsample's `proj.0` output),
//! measures its arena (the fused plan, as the main job emits it) and its input-centred logit SQNR against the float
//! graph on a few calibration inputs, and keeps the stream that gains the
//! most dB per extra arena byte (a stream that costs no bytes first, by its
//! dB) while the arena stays within the budget. It stops when no stream
//! fits or gains.
//!
//! The probe inputs are held out: [`split`] sets them apart and the choice
//! measures builds calibrated on the rest, so a range that clips what the
//! calibration never saw counts against a candidate as it will on the
//! user's inputs. (Trained kit, `--bias-correction --no-clip-pooled`:
//! in-sample probes picked groups worth 26.36 dB on the held-out
//! evaluation inputs, held-out probes the 224 KiB list worth 28.58 dB;
//! docs/numerics.md.) The build itself is then calibrated on every input.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::calibrate::{choose_ranges, Range, Stats};
use crate::error::{Error, Result};
use crate::eval::{input_centred_sqnr_db, run_int8};
use crate::float::{forward_folded, Fmap};
use crate::fold::Folded;
use crate::images::ModelInput;
use crate::precision::{Group, Precision};
use crate::quantize::{compile, Compiled, MemoryForm, Settings};

/// Default `--arena-budget`: 224 KiB, the int8 build's limit at 256x256.
pub const DEFAULT_ARENA_BUDGET: usize = 224 * 1024;

/// Calibration inputs the choice measures (evenly spread over the set).
pub const PROBE_INPUTS: usize = 8;

/// The probe inputs (up to [`PROBE_INPUTS`], evenly spread) and the rest,
/// which calibrate the candidates. A set of fewer than twice
/// [`PROBE_INPUTS`] cannot spare them: then every input is both (`rest`
/// is the whole set) and the choice is measured in-sample.
pub fn split(inputs: &[ModelInput]) -> (Vec<ModelInput>, Vec<ModelInput>) {
    let step = inputs.len().div_ceil(PROBE_INPUTS).max(1);
    let probe = inputs.iter().step_by(step).cloned().collect();
    if inputs.len() < 2 * PROBE_INPUTS {
        return (probe, inputs.to_vec());
    }
    let rest = inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| i % step != 0)
        .map(|(_, x)| x.clone())
        .collect();
    (probe, rest)
}

/// One measured candidate.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Step {
    /// Its 16-bit groups.
    pub int16: String,
    /// Arena bytes of its fused plan.
    pub arena_bytes: usize,
    /// Input-centred logit SQNR on the probe inputs, in dB.
    pub sqnr_db: f64,
}

/// The choice and the candidates kept on the way (the first is the
/// default build).
#[derive(Clone, Debug)]
pub struct Choice {
    /// The chosen groups.
    pub precision: Precision,
    /// The default build, then each stream added, in order.
    pub steps: Vec<Step>,
}

impl Choice {
    /// One line per step, for the command line; `measured_on` says which
    /// inputs the steps were measured on.
    pub fn describe(&self, budget: usize, measured_on: &str) -> String {
        let mut s = format!("--int16 auto (arena budget {budget} B), measured on {measured_on}:\n");
        for st in &self.steps {
            s += &format!(
                "  {:<40} {:>9} B  {:6.2} dB\n",
                st.int16, st.arena_bytes, st.sqnr_db
            );
        }
        s + &format!("  chosen: {}", self.precision)
    }
}

/// The held-out probe inputs and their float logits: what every measured
/// choice of codegen (these groups, the equalization strength,
/// [`crate::strength`]) scores a candidate build on.
pub struct Probes<'a> {
    inputs: &'a [ModelInput],
    float: Vec<Vec<f32>>,
}

impl<'a> Probes<'a> {
    /// The float logits of `inputs` through `folded` (equalization and the
    /// bias correction leave them unchanged: computed once for every
    /// candidate).
    pub fn new(folded: &Folded, inputs: &'a [ModelInput]) -> Self {
        let float = inputs
            .par_iter()
            .map(|inp| forward_folded(folded, &inp.normalized, &mut |_: &str, _: &Fmap| {}))
            .collect();
        Self { inputs, float }
    }

    /// Input-centred logit SQNR of the quantized build `c` on the probes,
    /// in dB.
    pub fn sqnr_db(&self, c: &Compiled) -> f64 {
        let quantized: Vec<Vec<f32>> = self
            .inputs
            .par_iter()
            .map(|inp| c.dequantize_logits(&run_int8(c, inp, |_, _| {})))
            .collect();
        input_centred_sqnr_db(
            self.float
                .iter()
                .zip(&quantized)
                .map(|(f, q)| (f.as_slice(), q.as_slice())),
        )
    }
}

/// Chooses the 16-bit groups of `folded` under `budget` arena bytes
/// (module doc), measuring on `probes` (the inputs [`split`] held out of the
/// calibration that made `folded` and `stats`, if any). `template` holds
/// every other setting; `tick` is called once per candidate measured.
pub fn choose(
    folded: &Folded,
    stats: &Stats,
    probes: &Probes,
    template: &Settings,
    budget: usize,
    tick: &(dyn Fn() + Sync),
) -> Result<Choice> {
    let measure = |p: &Precision| -> Result<Step> {
        let ranges: BTreeMap<String, Range> =
            choose_ranges(stats, template.method, p, template.no_clip_pooled);
        let settings = Settings {
            int16: p.clone(),
            memory: MemoryForm::Fused,
            ..template.clone()
        };
        let c = compile(folded, &ranges, settings);
        if c.arena_bytes > budget {
            // Cannot be chosen: not worth running.
            tick();
            return Ok(Step {
                int16: p.to_string(),
                arena_bytes: c.arena_bytes,
                sqnr_db: f64::NEG_INFINITY,
            });
        }
        let sqnr_db = probes.sqnr_db(&c);
        tick();
        Ok(Step {
            int16: p.to_string(),
            arena_bytes: c.arena_bytes,
            sqnr_db,
        })
    };
    let mut precision = Precision::default();
    let base = measure(&precision)?;
    if base.arena_bytes > budget {
        return Err(Error::Usage(format!(
            "--arena-budget {budget} B is below the arena of the build with only the head at 16 \
             bits ({} B at {}x{})",
            base.arena_bytes, template.resolution, template.resolution
        )));
    }
    let mut steps = vec![base];
    loop {
        let cur = steps.last().expect("the base step").clone();
        // Ranked by (costs no bytes, dB per extra byte or dB if free).
        let mut best: Option<((bool, f64), Group, Step)> = None;
        // A stage's ConvMlp internals only over its 16-bit stream: the
        // runtime's fast int16 ConvMlp (`kernels::wide_mlp`) reads an int16
        // stream, and over an int8 one the block runs the reference forms
        // (the synthetic checkpoint took `stages.0.mlp` for 0.5 dB at no
        // arena cost: 956 M instructions a block on the A76, against 18 M
        // for its int8 form).
        let wide_stream = |s| precision.groups().contains(&Group::Stream(s));
        let candidates = folded.stages.iter().enumerate().flat_map(|(s, stage)| {
            let down = stage.downsample.is_some().then_some(Group::Downsample(s));
            let mlp = wide_stream(s).then_some(Group::Mlp(s));
            [Some(Group::Stream(s)), mlp, down]
        });
        for g in candidates.flatten() {
            if precision.groups().contains(&g) {
                continue;
            }
            let step = measure(&precision.with(g))?;
            let gain = step.sqnr_db - cur.sqnr_db;
            if step.arena_bytes > budget || gain <= 0.0 {
                continue;
            }
            let extra = step.arena_bytes.saturating_sub(cur.arena_bytes);
            let score = if extra == 0 {
                (true, gain)
            } else {
                (false, gain / extra as f64)
            };
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, g, step));
            }
        }
        let Some((_, g, step)) = best else { break };
        precision = precision.with(g);
        steps.push(step);
    }
    Ok(Choice { precision, steps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::QuantOptions;
    use crate::pipeline::{calibrate_stats, calibration_inputs, load_or_synthesize, settings};

    #[test]
    fn streams_are_added_while_they_fit_and_gain() {
        let opts = QuantOptions {
            resolution: 32,
            quiet: true,
            ..QuantOptions::default()
        };
        let (ck, _) = load_or_synthesize(None).unwrap();
        let (mut inputs, source) = calibration_inputs(&opts).unwrap();
        // As the main job does: 8 probes held out, the candidates
        // calibrated on the other 8.
        inputs.truncate(2 * PROBE_INPUTS);
        let (probe, rest) = split(&inputs);
        assert_eq!((probe.len(), rest.len()), (PROBE_INPUTS, PROBE_INPUTS));
        let (folded, stats) = calibrate_stats(&ck, &rest, &opts);
        let template = settings(&rest, &source, &opts);
        let probes = Probes::new(&folded, &probe);
        let run = |budget| choose(&folded, &stats, &probes, &template, budget, &|| {});
        let all = run(usize::MAX).unwrap();
        let base = &all.steps[0];
        assert_eq!(base.int16, "head");
        // Some stream gains on any model (each removes int8 rounding).
        assert!(
            all.steps.len() >= 2,
            "{}",
            all.describe(usize::MAX, "the probe")
        );
        assert_eq!(all.steps.last().unwrap().int16, all.precision.to_string());
        for w in all.steps.windows(2) {
            assert!(w[1].sqnr_db > w[0].sqnr_db, "{:?}", all.steps);
        }
        // A ConvMlp's internals only ever over its 16-bit stream.
        for st in &all.steps {
            let p: Precision = st.int16.parse().unwrap();
            for g in p.groups() {
                if let Group::Mlp(s) = g {
                    assert!(p.groups().contains(&Group::Stream(*s)), "{}", st.int16);
                }
            }
        }
        // The default build's arena as the budget: only streams that cost
        // nothing, each step within it.
        let tight = run(base.arena_bytes).unwrap();
        assert!(tight
            .steps
            .iter()
            .all(|s| s.arena_bytes <= base.arena_bytes));
        // Below it: an error naming both figures.
        let err = run(base.arena_bytes - 1).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{} B", base.arena_bytes - 1)),
            "{err}"
        );
        assert!(err.contains(&format!("{} B", base.arena_bytes)), "{err}");
    }

    #[test]
    fn the_probe_is_held_out_when_the_set_can_spare_it() {
        let set = |n: usize| -> Vec<ModelInput> {
            (0..n)
                .map(|i| ModelInput {
                    name: i.to_string(),
                    rgb: None,
                    normalized: crate::float::Fmap::zeros(1, 1, 1),
                })
                .collect()
        };
        let names = |v: &[ModelInput]| v.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
        // 32 inputs: every 4th probes, the other 24 calibrate.
        let (probe, rest) = split(&set(32));
        assert_eq!(names(&probe), ["0", "4", "8", "12", "16", "20", "24", "28"]);
        assert_eq!(rest.len(), 24);
        assert!(rest.iter().all(|x| !names(&probe).contains(&x.name)));
        // 15 inputs cannot spare 8: in-sample, the whole set calibrates.
        let (probe, rest) = split(&set(15));
        assert_eq!(names(&probe), ["0", "2", "4", "6", "8", "10", "12", "14"]);
        assert_eq!(rest.len(), 15);
    }
}
