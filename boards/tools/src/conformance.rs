//! The kernel conformance firmware (`host-tests/tests/conformance.rs`): the
//! `kernels` binary of each board in [`BOARDS`] runs every fast kernel of
//! its core's tier against the runtime's reference kernels
//! (`boards/support/src/conformance.rs`) and prints one
//! `conformance <kernel> <n> cases <f> failures` line per kernel. [`check`]
//! builds and runs it in QEMU and accepts only a zero exit status, the
//! expected tier, and every kernel of [`KERNELS`] with cases and no failures.

use std::path::PathBuf;

use super::{board, cargo_build, run_board, Options, Res};

/// Boards with a `kernels` binary and the tier each must run: the DSP asm
/// (Cortex-M4F, Cortex-M33) and Helium asm (Cortex-M55) kernels, which no
/// host test can execute.
pub const BOARDS: &[(&str, &str)] = &[
    ("mps2-an386", "dsp"),
    ("mps2-an505", "dsp"),
    ("mps3-an547", "mve"),
];

/// The suites every `kernels` binary runs, by the name it prints.
pub const KERNELS: &[&str] = &[
    "pointwise",
    "depthwise",
    "multiplier",
    "dense",
    "im2col",
    "stem",
    "requantize",
];

/// The suites only the Helium `kernels` binary runs (tier `mve`, feature
/// `fast-int16`): the int16 build's dots, tap copy and output steps.
pub const MVE_KERNELS: &[&str] = &["mlp16", "load16", "out16"];

/// One kernel's summary line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Kernel (suite) name.
    pub kernel: String,
    /// Cases run.
    pub cases: usize,
    /// Cases with a mismatch.
    pub failures: usize,
}

/// What [`check`] found on one board.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Board name.
    pub board: &'static str,
    /// The tier the firmware reported (`tier ...` line).
    pub tier: String,
    /// The summary lines, in order.
    pub kernels: Vec<Summary>,
    /// Wall-clock seconds of the QEMU run.
    pub seconds: f64,
}

/// The `conformance <kernel> <n> cases <f> failures` lines of `text`.
pub fn summaries(text: &str) -> Vec<Summary> {
    text.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.as_slice() {
                ["conformance", kernel, n, "cases", f, "failures"] => Some(Summary {
                    kernel: kernel.to_string(),
                    cases: n.parse().ok()?,
                    failures: f.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Builds `name`'s `kernels` binary; returns the ELF.
pub fn build(opts: &Options, name: &str) -> Res<PathBuf> {
    let b = board(name)?;
    let log = opts.logs().join(format!("{}-kernels-build.log", b.name));
    cargo_build(&opts.board_dir(b.name), &["--bin", "kernels"], &log)?;
    Ok(opts.release_bin(b.name, b.target, "kernels"))
}

/// Builds and runs `name`'s `kernels` binary (the model must be staged:
/// the board crates depend on it) and checks its output: exit status 0, the
/// tier of [`BOARDS`], and a summary line with at least one case and no
/// failure for every kernel of [`KERNELS`] (and on Helium of
/// [`MVE_KERNELS`]). `Err` carries the firmware's
/// output (which names the first mismatch of each failing kernel).
pub fn check(opts: &Options, name: &str) -> Res<Checked> {
    let b = board(name)?;
    let want_tier = BOARDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, t)| t)
        .ok_or_else(|| format!("{name} has no kernels binary"))?;
    let elf = build(opts, name)?;
    let run = run_board(opts, &b, &elf)?;
    let tier = run
        .text
        .lines()
        .find_map(|l| l.strip_prefix("tier "))
        .unwrap_or("")
        .to_string();
    let kernels = summaries(&run.text);
    let mut problems = Vec::new();
    if run.status != Some(0) {
        problems.push(format!("QEMU exit status {:?}", run.status));
    }
    if !tier.starts_with(want_tier) {
        problems.push(format!("tier {tier:?}, expected {want_tier}"));
    }
    let helium = if want_tier == "mve" { MVE_KERNELS } else { &[] };
    for k in KERNELS.iter().chain(helium) {
        match kernels.iter().find(|s| s.kernel == *k) {
            None => problems.push(format!("no summary line for {k}")),
            Some(s) if s.cases == 0 => problems.push(format!("{k}: no cases")),
            Some(s) if s.failures > 0 => {
                problems.push(format!("{k}: {} of {} cases fail", s.failures, s.cases))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "{name} kernels: {}\n{}",
            problems.join("; "),
            run.text
        ));
    }
    Ok(Checked {
        board: b.name,
        tier,
        kernels,
        seconds: run.seconds,
    })
}
