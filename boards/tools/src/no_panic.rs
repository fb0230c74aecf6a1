//! The link-time no-panic check (`boards/run-all.sh --no-panic-check`,
//! `host-tests/tests/no_panic.rs`).
//!
//! Each board in [`BOARDS`] has a `no-panic` binary (feature `no-panic`):
//! only the weight check and `classify` on the static arena and input, with
//! a panic handler that calls a symbol defined nowhere. Built with the
//! boards' release profile (fat LTO, panic=abort), it links only if no panic
//! is reachable from the inference path. [`check`] builds it, runs it in
//! QEMU (the logits must still match the host), and if the link fails,
//! relinks with the symbol defined to list every call into a panic with its
//! inlined source lines ([`panic_sites`]), so the failure names the code to
//! fix. [`deliberate_panic_fails`] proves the check is real: the same binary
//! with an out-of-range index (feature `deliberate-panic`) must fail the link.
//! [`check_all`] does all of it for every board at every size in
//! [`RESOLUTIONS`] (256x256 and 128x128), restaging the model in between.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{board, cargo, io, run_board, Board, Options, Res};

/// The symbol the `no-panic` panic handler calls (defined nowhere).
pub const SYMBOL: &str = "fastvit_inference_path_can_panic";

/// Boards with a `no-panic` binary, one per kernel tier: Cortex-M4F (DSP
/// lanes, thumbv7em), Cortex-M55 (Helium/MVE), Cortex-A53 (NEON without
/// dotprod) and Cortex-A76 (NEON with dotprod). Each tier compiles its own
/// kernels, so each has its own panic sites to rule out.
pub const BOARDS: &[&str] = &["mps2-an386", "mps3-an547", "virt-a53", "virt-a76"];

/// What [`check`] found on one board.
#[derive(Clone, Debug)]
pub struct Checked {
    /// Board name.
    pub board: &'static str,
    /// The firmware's report (`weights_intact`, `checksum`, `result`).
    pub report: super::report::Report,
    /// Text of the QEMU run.
    pub text: String,
}

fn elf(opts: &Options, b: &Board) -> PathBuf {
    opts.release_bin(b.name, b.target, "no-panic")
}

/// Builds `name`'s no-panic binary with `feature` (`no-panic` or
/// `deliberate-panic`); `Err` carries the build log's tail.
pub fn build(opts: &Options, name: &str, feature: &str) -> Res<PathBuf> {
    let b = board(name)?;
    let log = opts.logs().join(format!("{}-{feature}-build.log", b.name));
    cargo(
        &opts.board_dir(b.name),
        "build",
        &["--features", feature, "--bin", "no-panic"],
        &log,
    )?;
    Ok(elf(opts, &b))
}

/// Builds and runs `name`'s no-panic binary (the model must be staged). A
/// failed link is an `Err` that lists the panic call sites.
pub fn check(opts: &Options, name: &str) -> Res<Checked> {
    let b = board(name)?;
    let elf = match build(opts, name, "no-panic") {
        Ok(elf) => elf,
        Err(e) if e.contains(SYMBOL) => {
            return Err(format!(
                "{name}: a panic is reachable from the inference path (the link of the \
                 no-panic binary needs `{SYMBOL}`). Call sites:\n{}\n\nlink error:\n{e}",
                sites_of(opts, &b)
            ))
        }
        Err(e) => return Err(e),
    };
    let run = run_board(opts, &b, &elf)?;
    Ok(Checked {
        board: b.name,
        report: run.report,
        text: run.text,
    })
}

/// The panic call sites of `b`'s no-panic binary, as text: it is relinked
/// with the undefined symbol defined, then disassembled.
fn sites_of(opts: &Options, b: &Board) -> String {
    let dir = opts.board_dir(b.name);
    let log = opts.logs().join(format!("{}-no-panic-sites.log", b.name));
    let defsym = format!("link-arg=--defsym={SYMBOL}=0");
    let relinked = cargo(
        &dir,
        "rustc",
        &[
            "--features",
            "no-panic",
            "--bin",
            "no-panic",
            "--",
            "-C",
            &defsym,
        ],
        &log,
    );
    match relinked.and_then(|()| panic_sites(&elf(opts, b))) {
        Ok(sites) => sites.join("\n"),
        Err(e) => format!("(could not list them: {e})"),
    }
}

/// Builds the binary with `deliberate-panic` and returns the link error; `Err`
/// if it linked or failed for another reason.
pub fn deliberate_panic_fails(opts: &Options, name: &str) -> Res<String> {
    match build(opts, name, "deliberate-panic") {
        Ok(_) => Err(format!(
            "{name}: the deliberate-panic build linked: the no-panic check proves nothing"
        )),
        Err(e) if e.contains(&format!("undefined symbol: {SYMBOL}")) => Ok(e),
        Err(e) => Err(format!(
            "{name}: the deliberate-panic build failed without naming {SYMBOL}:\n{e}"
        )),
    }
}

/// A function name that belongs to core's panic machinery.
fn is_panic_fn(name: &str) -> bool {
    name.contains("rust_begin_unwind")
        || (name.contains("4core")
            && [
                "panicking",
                "slice_index_fail",
                "len_mismatch_fail",
                "unwrap_failed",
                "expect_failed",
                "index_len_fail",
                "order_fail",
            ]
            .iter()
            .any(|p| name.contains(p)))
}

/// Every branch into core's panic functions from other code in `elf`, one
/// line per site: the innermost project source line (`file:line function`,
/// inlined frames resolved from the debug info) and the call chain above it.
/// Needs `llvm-objdump` and `llvm-addr2line`.
pub fn panic_sites(elf: &Path) -> Res<Vec<String>> {
    let out = Command::new("llvm-objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(elf)
        .output()
        .map_err(io("llvm-objdump"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut current = String::new();
    let mut addrs = Vec::new();
    for line in text.lines() {
        // `0000abcd <name>:` starts a function.
        if let Some(name) = line.strip_suffix(">:").and_then(|l| l.split_once(" <")) {
            current = name.1.to_string();
            continue;
        }
        // `    abcd: \tbl\t0x1234 <target> ...`
        let Some((addr, rest)) = line.trim_start().split_once(':') else {
            continue;
        };
        let mnemonic = rest.split_whitespace().next().unwrap_or("");
        let target = rest.split_once('<').and_then(|(_, t)| t.split_once('>'));
        if let Some((target, _)) = target {
            if mnemonic.starts_with('b') && is_panic_fn(target) && !is_panic_fn(&current) {
                addrs.push(format!("0x{addr}"));
            }
        }
    }
    if addrs.is_empty() {
        return Ok(vec!["(no call into a panic function found)".into()]);
    }
    let out = Command::new("llvm-addr2line")
        .args(["-f", "-i", "-C", "-a", "-e"])
        .arg(elf)
        .args(&addrs)
        .output()
        .map_err(io("llvm-addr2line"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut sites = Vec::new();
    // Blocks: an address line, then (function, file:line) pairs, innermost first.
    for block in text.split("0x").skip(1) {
        let lines: Vec<&str> = block.lines().skip(1).collect();
        let frames: Vec<(&str, &str)> = lines.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        let project: Vec<String> = frames
            .iter()
            .filter(|(_, loc)| !loc.starts_with("/rustc/") && !loc.starts_with("??"))
            .map(|(f, loc)| {
                let loc = loc.split(" (").next().unwrap_or(loc);
                let loc = loc
                    .rsplit_once("/runtime/")
                    .map_or(loc.to_string(), |(_, l)| format!("runtime/{l}"));
                let f = f.rsplit_once("::h").map_or(*f, |(f, _)| f);
                format!("{loc} {f}")
            })
            .collect();
        let core = frames.first().map_or("?", |(f, _)| f);
        let core = core.rsplit_once("::h").map_or(core, |(f, _)| f);
        sites.push(match project.split_first() {
            Some((first, [])) => format!("{first}  [{core}]"),
            Some((first, callers)) => format!("{first}  [{core}]  <- {}", callers.join(" <- ")),
            None => format!("(no project frame)  [{core}]"),
        });
    }
    sites.sort();
    sites.dedup();
    Ok(sites)
}

/// The model resolutions the check proves by default: the benchmark's
/// (the pretrained model's) and the CI size, 128 last so the staged model is
/// left at the size the other board tests use.
pub const RESOLUTIONS: &[usize] = &[256, 128];

/// One board proven at one resolution by [`check_all`].
#[derive(Clone, Debug)]
pub struct Proven {
    /// Board name.
    pub board: &'static str,
    /// Input side of the model it was built with.
    pub resolution: usize,
    /// The checksum of its logits, equal to the host reference's.
    pub checksum: u32,
    /// Whether its `deliberate-panic` build was also checked (and failed the
    /// link) at this resolution.
    pub deliberate_checked: bool,
}

impl Proven {
    /// A one-line summary.
    pub fn line(&self) -> String {
        let r = self.resolution;
        let mut l = format!(
            "{} at {r}x{r}: links with no reachable panic; runs, checksum {:#010x} = host",
            self.board, self.checksum
        );
        if self.deliberate_checked {
            l.push_str(&format!(
                "; a deliberate out-of-range index fails the link on `{SYMBOL}`"
            ));
        }
        l
    }
}

/// The whole check, as `boards/run-all.sh --no-panic-check` runs it: for
/// each of `resolutions` (one pass with `opts.model` instead if given),
/// stages the model, builds the host reference, then for every board in
/// [`BOARDS`] builds the no-panic binary (the link must succeed) and runs it
/// in QEMU (the weights must check, the run succeed and the checksum equal
/// the host's). In the last pass it also builds each board with
/// `deliberate-panic` (the link must fail on [`SYMBOL`]): once per board
/// proves the check real, the panic being in the binary, not the model.
pub fn check_all(
    opts: &Options,
    resolutions: &[usize],
    log: &(dyn Fn(&str) + Sync),
) -> Res<Vec<Proven>> {
    let passes: Vec<usize> = if opts.model.is_some() {
        vec![opts.resolution]
    } else {
        resolutions.to_vec()
    };
    if passes.is_empty() {
        return Err("no resolution to check".into());
    }
    let mut proven = Vec::new();
    for (i, &r) in passes.iter().enumerate() {
        let opts = Options {
            resolution: r,
            ..opts.clone()
        };
        proven.extend(check_resolution(&opts, i + 1 == passes.len(), log)?);
    }
    Ok(proven)
}

/// What one task of [`check_resolution`] found.
enum Outcome {
    Host(Res<super::report::Report>),
    Board(Res<Checked>),
}

/// One pass of [`check_all`] at `opts.resolution`: the host reference and
/// the boards' builds and runs, `opts.jobs` at a time (each LTO link and
/// each QEMU run is single-threaded, and every board has its own target
/// folder).
fn check_resolution(
    opts: &Options,
    deliberate: bool,
    log: &(dyn Fn(&str) + Sync),
) -> Res<Vec<Proven>> {
    let model = super::prepare_model(opts, &mut |s| log(s))?;
    let resolution = super::model_resolution(&model)?;
    if opts.model.is_none() && resolution != opts.resolution {
        return Err(format!(
            "{} holds a {resolution}x{resolution} model, not {r}x{r}",
            model.display(),
            r = opts.resolution
        ));
    }
    let frame = super::test_frame(&opts.image, resolution)?;
    super::stage(&model, &opts.staged_model(), &frame)?;
    std::fs::create_dir_all(opts.logs()).map_err(io(opts.out.display()))?;
    let at = format!("{resolution}x{resolution}");
    // Task 0 is the host reference, task i the board BOARDS[i - 1].
    let task = |i: usize| -> Outcome {
        let Some(name) = i.checked_sub(1).and_then(|b| BOARDS.get(b)) else {
            log(&format!(
                "{at}: building and running the host reference ..."
            ));
            return Outcome::Host(super::host_reference(opts));
        };
        log(&format!("{name} at {at}: building the no-panic binary ..."));
        Outcome::Board(check(opts, name).and_then(|c| {
            if deliberate {
                log(&format!("{name}: building with a deliberate panic ..."));
                deliberate_panic_fails(opts, name)?;
            }
            Ok(c)
        }))
    };
    let tasks = BOARDS.len() + 1;
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, tasks) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= tasks {
                    break;
                }
                let outcome = task(i);
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, outcome));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|(i, _)| *i);
    let mut host = None;
    let mut checked = Vec::new();
    for (_, outcome) in done {
        match outcome {
            Outcome::Host(r) => host = Some(r?),
            Outcome::Board(c) => checked.push(c.map_err(|e| format!("at {at}: {e}"))?),
        }
    }
    let host_sum = host
        .ok_or("the host reference did not run")?
        .checksum
        .ok_or("the host reference printed no checksum")?;
    if checked.len() != BOARDS.len() {
        return Err(format!(
            "{at}: {} of {} boards ran",
            checked.len(),
            BOARDS.len()
        ));
    }
    let mut proven = Vec::new();
    for c in checked {
        let r = &c.report;
        if r.weights_intact != Some(true)
            || r.result != Some(Ok(()))
            || r.checksum != Some(host_sum)
        {
            return Err(format!(
                "{} at {at}: the no-panic binary linked but its run is wrong (host \
                 checksum {host_sum:#010x}):\n{}",
                c.board, c.text
            ));
        }
        proven.push(Proven {
            board: c.board,
            resolution,
            checksum: host_sum,
            deliberate_checked: deliberate,
        });
    }
    Ok(proven)
}

/// The stack guard of the boards without a stack limit register (M4/M7):
/// `mps2-an386`'s `stack-overflow` binary (linked with flip-link, like the
/// firmware) recurses 8 KiB past the bottom of its stack and must fault:
/// QEMU must exit non-zero, after the binary started, without the binary's
/// "overflowed ... without a fault" line (what a plain link prints, having
/// silently overwritten its arena), and with a fault on record (QEMU's
/// "Lockup": the fault handler cannot stack on the overflowed SP either).
pub fn stack_guard_check(opts: &Options) -> Res<String> {
    let b = board("mps2-an386")?;
    let log = opts.logs().join("stack-overflow-build.log");
    super::cargo_build(&opts.board_dir(b.name), &["--bin", "stack-overflow"], &log)?;
    let elf = opts.release_bin(b.name, b.target, "stack-overflow");
    let quick = Options {
        timeout_s: 60,
        ..opts.clone()
    };
    let run = run_board(&quick, &b, &elf)?;
    let started = run.text.contains("stack-overflow: recursing");
    let silent = run.text.contains("without a fault");
    let faulted = run.text.contains("Lockup") || run.text.contains("HardFault");
    if !started || silent || !faulted || run.status == Some(0) {
        return Err(format!(
            "mps2-an386: a stack overflow was not caught (status {:?}):\n{}",
            run.status, run.text
        ));
    }
    Ok(format!(
        "mps2-an386: an overflow 8 KiB past the stack faults (QEMU status {:?}) \
         instead of overwriting the arena",
        run.status
    ))
}
