//! `fastvit-boards`: runs the int8 model on every emulated board and checks
//! each against the host, bit for bit.
//!
//! 1. **Model**: generates the int8 crate with codegen's passes at the chosen
//!    resolution into `target/boards/model-<res>` (once; again when this tool
//!    was rebuilt since, i.e. codegen or the runtime changed), or takes a given
//!    crate folder.
//! 2. **Stage**: copies it to `target/boards/model`, the path every board crate
//!    depends on, with the test image `image.rgb` (a u8 RGB HWC frame: timm's
//!    eval transform of `codegen/data/calib/coffee.jpg` by default).
//! 3. **Host reference**: `boards/rpi` built for the host triple (the same
//!    runtime, generated crate, image and report code as every board).
//! 4. **Boards**: `cargo build --release` in each board folder, then
//!    `tools/qemu-run.sh` (QEMU + instruction-counting plugin, under a
//!    timeout), `runs` times each, `jobs` at once.
//! 5. **Results**: parses the reports, sizes the ELF sections, and writes
//!    `results.json` and `results.md`.
//!
//! Only std, `codegen` and `serde_json`, and no `crate::` paths: the host test
//! `host-tests/tests/boards.rs` compiles this file into itself.

#[path = "conformance.rs"]
pub mod conformance;
#[path = "elf.rs"]
pub mod elf;
#[path = "no_panic.rs"]
pub mod no_panic;
#[path = "report.rs"]
pub mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use self::report::Report;

/// How a board runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Bare-metal firmware in `qemu-system-*`.
    BareMetal,
    /// Linux binary in `qemu-aarch64` (user mode).
    Linux,
}

/// One emulated board: its crate folder under `boards/` (also its name).
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// Folder, crate, binary and `qemu-run.sh` name.
    pub name: &'static str,
    /// The core QEMU emulates.
    pub core: &'static str,
    /// Rust target triple.
    pub target: &'static str,
    /// QEMU machine (as in `qemu-run.sh`).
    pub machine: &'static str,
    /// Bare metal or Linux.
    pub kind: Kind,
}

/// Every emulated board, in report order.
pub const BOARDS: &[Board] = &[
    Board {
        name: "mps2-an386",
        core: "Cortex-M4F",
        target: "thumbv7em-none-eabihf",
        machine: "qemu-system-arm -M mps2-an386",
        kind: Kind::BareMetal,
    },
    Board {
        name: "mps2-an500",
        core: "Cortex-M7",
        target: "thumbv7em-none-eabihf",
        machine: "qemu-system-arm -M mps2-an500",
        kind: Kind::BareMetal,
    },
    Board {
        name: "mps2-an505",
        core: "Cortex-M33",
        target: "thumbv8m.main-none-eabihf",
        machine: "qemu-system-arm -M mps2-an505",
        kind: Kind::BareMetal,
    },
    Board {
        name: "mps3-an547",
        core: "Cortex-M55",
        target: "thumbv8m.main-none-eabihf",
        machine: "qemu-system-arm -M mps3-an547",
        kind: Kind::BareMetal,
    },
    Board {
        name: "virt-a53",
        core: "Cortex-A53",
        target: "aarch64-unknown-none",
        machine: "qemu-system-aarch64 -M virt -cpu cortex-a53",
        kind: Kind::BareMetal,
    },
    Board {
        name: "virt-a76",
        core: "Cortex-A76",
        target: "aarch64-unknown-none",
        machine: "qemu-system-aarch64 -M virt -cpu cortex-a76",
        kind: Kind::BareMetal,
    },
    Board {
        name: "rpi",
        core: "Cortex-A72 (Raspberry Pi 4 core; Linux user mode)",
        target: "aarch64-unknown-linux-gnu",
        machine: "qemu-aarch64 -cpu cortex-a72",
        kind: Kind::Linux,
    },
];

/// The emulated board called `name`.
pub fn board(name: &str) -> Res<Board> {
    BOARDS
        .iter()
        .find(|b| b.name == name)
        .copied()
        .ok_or_else(|| format!("unknown board {name}"))
}

/// What to run and where.
#[derive(Clone, Debug)]
pub struct Options {
    /// Repository root (holds `boards/`, `codegen/`, `runtime/`, `target/`).
    pub repo: PathBuf,
    /// Input resolution of the generated model (ignored with `model`).
    pub resolution: usize,
    /// A generated model crate folder to use instead of generating one.
    pub model: Option<PathBuf>,
    /// Checkpoint for codegen (default: its built-in synthetic FastViT-T8).
    pub checkpoint: Option<PathBuf>,
    /// Regenerate the model even if it looks current.
    pub regenerate: bool,
    /// Test photo; the eval transform turns it into the input frame.
    pub image: PathBuf,
    /// Boards to run (names from [`BOARDS`]).
    pub boards: Vec<String>,
    /// QEMU runs per board (2 or more also checks the counts repeat).
    pub runs: usize,
    /// QEMU runs at once.
    pub jobs: usize,
    /// Seconds before one QEMU run is killed.
    pub timeout_s: u64,
    /// Where results, logs and models go (default `target/boards`).
    pub out: PathBuf,
}

impl Options {
    /// Defaults for the repository at `repo`: resolution 128, every board,
    /// two runs each, two at a time.
    pub fn new(repo: impl Into<PathBuf>) -> Self {
        let repo = repo.into();
        Options {
            image: repo.join("codegen/data/calib/coffee.jpg"),
            out: repo.join("target/boards"),
            repo,
            resolution: 128,
            model: None,
            checkpoint: None,
            regenerate: false,
            boards: BOARDS.iter().map(|b| b.name.to_string()).collect(),
            runs: 2,
            jobs: 2,
            timeout_s: 900,
        }
    }

    fn boards_dir(&self) -> PathBuf {
        self.repo.join("boards")
    }

    /// The folder every board crate depends on (`fastvit-t8-model`).
    pub fn staged_model(&self) -> PathBuf {
        self.repo.join("target/boards/model")
    }

    fn logs(&self) -> PathBuf {
        self.out.join("logs")
    }
}

/// The run's outcome: the JSON written to `results.json`, and whether every
/// board ran, matched the host and counted deterministically.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The document written to `results.json`.
    pub results: Value,
    /// Every board passed.
    pub ok: bool,
}

type Res<T> = Result<T, String>;

/// Programs the boards need; the error names the missing ones and how to
/// install them.
pub fn check_tools(boards: &[Board]) -> Res<()> {
    let mut need = vec!["gcc", "timeout", "cargo"];
    for b in boards {
        need.push(b.machine.split(' ').next().unwrap_or(""));
        if b.kind == Kind::Linux {
            need.push("aarch64-linux-gnu-gcc");
        }
        // The Cortex-M4/M7 boards link with flip-link (their stack guard).
        if b.target == "thumbv7em-none-eabihf" {
            need.push("flip-link");
        }
    }
    need.sort_unstable();
    need.dedup();
    let missing: Vec<&str> = need.into_iter().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "missing tools: {}. The board tests need QEMU (qemu-system-arm, qemu-system-aarch64, \
         qemu-aarch64), gcc and the aarch64 Linux cross linker: run `boards/install-deps.sh` \
         (Debian: apt-get install qemu-system-arm qemu-user gcc gcc-aarch64-linux-gnu \
         libc6-dev-arm64-cross; flip-link: cargo install flip-link --locked).",
        missing.join(", ")
    ))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

fn io<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The model crate to use: `opts.model`, or one generated at
/// `opts.resolution` into `model-<res>` (reused while it comes from the same
/// checkpoint and is newer than this tool's executable, which is rebuilt
/// whenever codegen or the runtime change).
pub fn prepare_model(opts: &Options, log: &mut dyn FnMut(&str)) -> Res<PathBuf> {
    if let Some(m) = &opts.model {
        if !m.join("Cargo.toml").is_file() || !m.join("src/lib.rs").is_file() {
            return Err(format!("{} is not a generated model crate", m.display()));
        }
        return Ok(m.clone());
    }
    // One generation at a time in this process (the host test runs the
    // emulated and the real boards side by side): a second caller for the
    // same folder then finds it current.
    static GENERATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = opts.out.join(format!("model-{}", opts.resolution));
    // Which checkpoint the folder was generated from.
    let stamp = dir.join(".checkpoint");
    let source = match &opts.checkpoint {
        Some(c) => c.canonicalize().unwrap_or(c.clone()).display().to_string(),
        None => "built-in synthetic".to_string(),
    };
    let built = mtime(&dir.join("weights.bin"));
    let tool = std::env::current_exe().ok().and_then(|e| mtime(&e));
    let current = matches!((built, tool), (Some(b), Some(t)) if b >= t)
        && std::fs::read_to_string(&stamp).ok().as_deref() == Some(source.as_str());
    if current && !opts.regenerate {
        return Ok(dir);
    }
    log(&format!(
        "generating the int8 model at {r}x{r} from the {source} checkpoint into {} ...",
        dir.display(),
        r = opts.resolution
    ));
    generate(&dir, opts.resolution, opts.checkpoint.as_deref())?;
    std::fs::write(&stamp, source).map_err(io(stamp.display()))?;
    Ok(dir)
}

/// Runs codegen's passes (as its command line does) and emits the crate.
pub fn generate(dir: &Path, resolution: usize, checkpoint: Option<&Path>) -> Res<()> {
    use codegen::pipeline::{self, QuantOptions};
    let opts = QuantOptions {
        resolution,
        quiet: true,
        ..QuantOptions::default()
    };
    let (ck, prov) = pipeline::load_or_synthesize(checkpoint).map_err(|e| e.to_string())?;
    let (inputs, source) = pipeline::calibration_inputs(&opts).map_err(|e| e.to_string())?;
    let (_, compiled) = pipeline::quantize(&ck, &inputs, &source, &opts);
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent.display()))?;
    }
    codegen::emit::write_crate(dir, &compiled, &prov).map_err(|e| e.to_string())
}

/// The model's input side from its `model.json`.
pub fn model_resolution(model: &Path) -> Res<usize> {
    let p = model.join("model.json");
    let text = std::fs::read_to_string(&p).map_err(io(p.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(io(p.display()))?;
    v["input_hw"][0]
        .as_u64()
        .map(|r| r as usize)
        .ok_or_else(|| format!("{}: no input_hw", p.display()))
}

/// The input frame: `image` through timm's eval transform at `resolution`.
pub fn test_frame(image: &Path, resolution: usize) -> Res<Vec<u8>> {
    let img = codegen::images::read_image(image).map_err(|e| e.to_string())?;
    Ok(codegen::images::eval_transform(&img, resolution).into_raw())
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Res<()> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent.display()))?;
    }
    std::fs::write(path, bytes).map_err(io(path.display()))
}

fn files_under(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Res<()> {
    let here = dir.join(rel);
    for e in std::fs::read_dir(&here).map_err(io(here.display()))? {
        let e = e.map_err(io(here.display()))?;
        let name = e.file_name();
        let r = rel.join(&name);
        if e.file_type().map_err(io(here.display()))?.is_dir() {
            if name != "target" {
                files_under(dir, &r, out)?;
            }
        } else {
            out.push(r);
        }
    }
    Ok(())
}

/// Copies the model crate to `staged` (its `Cargo.toml` rewritten by codegen
/// for the new place) with `image.rgb` beside it. Files whose bytes did not
/// change are left alone, so cargo rebuilds nothing it need not.
pub fn stage(model: &Path, staged: &Path, frame: &[u8]) -> Res<()> {
    let mut src = Vec::new();
    files_under(model, Path::new(""), &mut src)?;
    let keep = |r: &Path| {
        r != Path::new("Cargo.toml")
            && r != Path::new("Cargo.lock")
            && r != Path::new(".checkpoint")
    };
    for r in src.iter().filter(|r| keep(r)) {
        let from = model.join(r);
        let bytes = std::fs::read(&from).map_err(io(from.display()))?;
        write_if_changed(&staged.join(r), &bytes)?;
    }
    // Files the model no longer has.
    let mut old = Vec::new();
    if staged.is_dir() {
        files_under(staged, Path::new(""), &mut old)?;
    }
    for r in old {
        if keep(&r) && r != Path::new("image.rgb") && !src.contains(&r) {
            let _ = std::fs::remove_file(staged.join(r));
        }
    }
    let dep = codegen::emit::runtime_dependency(staged);
    write_if_changed(
        &staged.join("Cargo.toml"),
        codegen::emit::cargo_toml(&dep).as_bytes(),
    )?;
    write_if_changed(&staged.join("image.rgb"), frame)
}

/// `rustc`'s host triple.
pub fn host_triple() -> Res<String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(io("rustc -vV"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "rustc -vV printed no host triple".into())
}

/// `cargo build --release [args]` in `dir`, free of the caller's cargo
/// overrides (a test run's target dir or flags must not leak into firmware
/// builds). Output goes to `log_file`; an error carries its tail.
fn cargo_build(dir: &Path, args: &[&str], log_file: &Path) -> Res<()> {
    cargo(dir, "build", args, log_file)
}

/// `cargo <subcommand> --release [args]`, as [`cargo_build`].
fn cargo(dir: &Path, subcommand: &str, args: &[&str], log_file: &Path) -> Res<()> {
    let mut cmd = Command::new("cargo");
    cmd.args([subcommand, "--release"])
        .args(args)
        .current_dir(dir);
    for v in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
    ] {
        cmd.env_remove(v);
    }
    let out = cmd.output().map_err(io("cargo"))?;
    let text = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
    if let Some(parent) = log_file.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::write(log_file, &text);
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&text);
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    Err(format!(
        "`cargo {subcommand} --release {}` failed in {} (log: {}):\n{}",
        args.join(" "),
        dir.display(),
        log_file.display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

/// Builds one board's firmware; returns the ELF.
pub fn build_board(opts: &Options, b: &Board) -> Res<PathBuf> {
    let dir = opts.boards_dir().join(b.name);
    cargo_build(
        &dir,
        &[],
        &opts.logs().join(format!("{}-build.log", b.name)),
    )?;
    Ok(opts.repo.join(format!(
        "target/boards/cargo/{}/{}/release/{}",
        b.name, b.target, b.name
    )))
}

/// Builds and runs the host reference (`boards/rpi` for the host triple).
pub fn host_reference(opts: &Options) -> Res<Report> {
    let host = host_triple()?;
    let dir = opts.boards_dir().join("rpi");
    cargo_build(
        &dir,
        &["--target", &host],
        &opts.logs().join("host-build.log"),
    )?;
    let exe = opts
        .repo
        .join(format!("target/boards/cargo/rpi/{host}/release/rpi"));
    let out = Command::new(&exe).output().map_err(io(exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::write(opts.logs().join("host-run.log"), &text);
    let r = report::parse(&text);
    if !out.status.success() || r.result != Some(Ok(())) || r.checksum.is_none() {
        return Err(format!(
            "the host reference failed ({}):\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(r)
}

/// One QEMU run of a board.
#[derive(Clone, Debug)]
pub struct Run {
    /// What it printed, parsed.
    pub report: Report,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// QEMU's exit status (`None` if killed by a signal).
    pub status: Option<i32>,
    /// Everything it printed, for the log and for errors.
    pub text: String,
}

/// Runs `elf` on `board` once through `qemu-run.sh` (plugin, timeout).
pub fn run_board(opts: &Options, b: &Board, elf: &Path) -> Res<Run> {
    let script = opts.boards_dir().join("tools/qemu-run.sh");
    let t = Instant::now();
    let out: Output = Command::new("sh")
        .arg(&script)
        .arg(b.name)
        .arg(elf)
        .env("FASTVIT_RAW", "1")
        .env("FASTVIT_QEMU_TIMEOUT", opts.timeout_s.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(io(script.display()))?;
    let seconds = t.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Run {
        report: report::parse(&text),
        seconds,
        status: out.status.code(),
        text,
    })
}

fn build_plugin(opts: &Options) -> Res<()> {
    let script = opts.boards_dir().join("tools/qemu-run.sh");
    let out = Command::new("sh")
        .arg(&script)
        .arg("--plugin")
        .output()
        .map_err(io(script.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building the QEMU plugin failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Section sizes of a firmware image.
#[derive(Clone, Debug, Default)]
pub struct Sizes {
    /// Executable sections.
    pub code: u64,
    /// `.fastvit_weights` (bare metal), with its address.
    pub weights: Option<(u64, u64)>,
    /// `.fastvit_arena` (bare metal), with its address.
    pub arena: Option<(u64, u64)>,
    /// Every allocated section: name, address, size.
    pub sections: Vec<(String, u64, u64)>,
}

/// Sizes the ELF's sections.
pub fn sizes(elf: &Path) -> Res<Sizes> {
    let bytes = std::fs::read(elf).map_err(io(elf.display()))?;
    let secs = elf::sections(&bytes).map_err(io(elf.display()))?;
    let find = |n: &str| secs.iter().find(|s| s.name == n).map(|s| (s.addr, s.size));
    Ok(Sizes {
        code: secs
            .iter()
            .filter(|s| s.alloc && s.exec)
            .map(|s| s.size)
            .sum(),
        weights: find(".fastvit_weights"),
        arena: find(".fastvit_arena"),
        sections: secs
            .iter()
            .filter(|s| s.alloc && s.size > 0)
            .map(|s| (s.name.clone(), s.addr, s.size))
            .collect(),
    })
}

fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

fn first_difference(a: &[i8], b: &[i8]) -> Option<usize> {
    if a.len() != b.len() {
        return Some(a.len().min(b.len()));
    }
    a.iter().zip(b).position(|(x, y)| x != y)
}

/// Judges one board's runs against the host and writes its JSON entry;
/// `Err` lists what is wrong.
fn board_result(
    b: &Board,
    sizes: &Sizes,
    runs: &[Run],
    host: &Report,
) -> (Value, Result<(), Vec<String>>) {
    let mut problems = Vec::new();
    let first = &runs[0];
    let r = &first.report;
    for (i, run) in runs.iter().enumerate() {
        if run.status != Some(0) || run.report.result != Some(Ok(())) {
            let why = match &run.report.result {
                Some(Err(e)) => e.clone(),
                _ if run.status == Some(124) => "timed out".into(),
                _ => format!("exit status {:?}", run.status),
            };
            problems.push(format!("run {}: {why}", i + 1));
        }
    }
    let layer_instr = r.layer_instructions();
    if layer_instr.is_none() {
        problems.push(format!(
            "{} perf marks for {} layers (firmware made {:?}): instruction counts missing",
            r.perf_marks.len(),
            r.layers.len(),
            r.marks
        ));
    }
    let deterministic = runs.iter().all(|x| x.report.perf_marks == r.perf_marks);
    if !deterministic {
        problems.push("instruction counts differ between runs".into());
    }
    let same_output = runs.iter().all(|x| x.report.logits == r.logits);
    let diff = first_difference(&r.logits, &host.logits);
    let matches_host = same_output
        && diff.is_none()
        && !r.logits.is_empty()
        && r.checksum == host.checksum
        && r.top5 == host.top5;
    if !matches_host {
        problems.push(match diff {
            Some(i) => format!(
                "logits differ from the host's, first at class {i} ({} vs {})",
                r.logits.get(i).copied().unwrap_or(0),
                host.logits.get(i).copied().unwrap_or(0)
            ),
            None => "output differs from the host's (checksum or top-5)".into(),
        });
    }
    if r.weights_intact == Some(false) {
        problems.push("weights checksum failed at boot".into());
    }
    let total = r.inference_instructions();
    let macs = r.model_value("macs").unwrap_or(0);
    let layers: Vec<Value> = r
        .layers
        .iter()
        .enumerate()
        .map(|(i, (name, m))| {
            let n = layer_instr.as_ref().map(|v| v[i]);
            json!({
                "name": name, "macs": m, "instructions": n,
                "instructions_per_mac": n.filter(|_| *m > 0).map(|n| n as f64 / *m as f64),
            })
        })
        .collect();
    let weights_bytes = sizes
        .weights
        .map(|w| w.1)
        .or(r.model_value("weights"))
        .unwrap_or(0);
    let v = json!({
        "board": b.name,
        "core": b.core,
        "target": b.target,
        "emulator": b.machine,
        "macs": macs,
        "instructions_total": total,
        "instructions_per_mac": total.filter(|_| macs > 0).map(|t| t as f64 / macs as f64),
        "instructions_boot_to_exit": r.perf_total,
        "layers": layers,
        "arena_bytes": r.model_value("arena"),
        "weights_bytes": weights_bytes,
        "code_bytes": sizes.code,
        "stack_bytes": r.stack.map(|s| s.0),
        "stack_region_bytes": r.stack.map(|s| s.1),
        "weights_address": sizes.weights.map(|w| format!("{:#x}", w.0)),
        "arena_address": sizes.arena.map(|a| format!("{:#x}", a.0)),
        "sections": sizes.sections.iter().map(|(n, a, s)| json!({"name": n, "address": format!("{a:#x}"), "bytes": s})).collect::<Vec<_>>(),
        "output_checksum": r.checksum.map(hex32),
        "top5": r.top5.iter().map(|&(c, q)| json!([c, q])).collect::<Vec<_>>(),
        "matches_host": matches_host,
        "deterministic": deterministic,
        "weights_intact": r.weights_intact,
        "runs": runs.len(),
        "run_seconds": runs.iter().map(|x| (x.seconds * 100.0).round() / 100.0).collect::<Vec<_>>(),
        "ok": problems.is_empty(),
        "problems": problems,
    });
    let verdict = if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    };
    (v, verdict)
}

/// Runs `tasks` (board index, run number) `jobs` at a time.
fn run_parallel(
    opts: &Options,
    boards: &[(Board, PathBuf)],
    log: &(dyn Fn(&str) + Sync),
) -> Vec<Vec<Res<Run>>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let tasks: Vec<(usize, usize)> = (0..opts.runs.max(1))
        .flat_map(|k| (0..boards.len()).map(move |i| (i, k)))
        .collect();
    let results: Mutex<Vec<Vec<Option<Res<Run>>>>> = Mutex::new(
        boards
            .iter()
            .map(|_| (0..opts.runs.max(1)).map(|_| None).collect())
            .collect(),
    );
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1) {
            s.spawn(|| loop {
                let t = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(i, k)) = tasks.get(t) else { break };
                let (b, elf) = &boards[i];
                let run = run_board(opts, b, elf);
                if let Ok(run) = &run {
                    let _ = std::fs::write(
                        opts.logs().join(format!("{}-run{}.log", b.name, k + 1)),
                        &run.text,
                    );
                    log(&format!(
                        "  {:<11} run {}: {:>6.1} s, {}",
                        b.name,
                        k + 1,
                        run.seconds,
                        match (&run.report.result, run.report.inference_instructions()) {
                            (Some(Ok(())), Some(n)) => format!("{n} instructions"),
                            (Some(Err(e)), _) => format!("error: {e}"),
                            _ => format!("exit status {:?}", run.status),
                        }
                    ));
                }
                results.lock().unwrap()[i][k] = Some(run);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|v| {
            v.into_iter()
                .map(|r| r.unwrap_or_else(|| Err("not run".into())))
                .collect()
        })
        .collect()
}

/// Runs the whole pipeline and writes `results.json` and `results.md` under
/// `opts.out`. `Err` only when nothing could be compared (missing tools,
/// model or host reference); board failures are in the summary.
pub fn run_all(opts: &Options, log: &(dyn Fn(&str) + Sync)) -> Res<Summary> {
    let boards: Vec<Board> = opts
        .boards
        .iter()
        .map(|n| {
            BOARDS
                .iter()
                .find(|b| b.name == n)
                .copied()
                .ok_or_else(|| format!("unknown board {n}"))
        })
        .collect::<Res<_>>()?;
    check_tools(&boards)?;
    std::fs::create_dir_all(opts.logs()).map_err(io(opts.logs().display()))?;
    let started = Instant::now();
    let model = prepare_model(opts, &mut |s| log(s))?;
    let resolution = model_resolution(&model)?;
    let frame = test_frame(&opts.image, resolution)?;
    stage(&model, &opts.staged_model(), &frame)?;
    log(&format!(
        "model {} ({resolution}x{resolution}) staged at {}",
        model.display(),
        opts.staged_model().display()
    ));

    log("building and running the host reference ...");
    let host = host_reference(opts)?;
    build_plugin(opts)?;

    let mut built = Vec::new();
    let mut failed: Vec<(Board, String)> = Vec::new();
    for b in &boards {
        log(&format!("building {} ({}) ...", b.name, b.target));
        match build_board(opts, b) {
            Ok(elf) => built.push((*b, elf)),
            Err(e) => failed.push((*b, e)),
        }
    }
    log(&format!(
        "running {} board(s) x {} run(s), {} at a time ...",
        built.len(),
        opts.runs,
        opts.jobs
    ));
    let runs = run_parallel(opts, &built, log);

    let mut entries = Vec::new();
    let mut ok = failed.is_empty();
    for ((b, elf), runs) in built.iter().zip(runs) {
        let runs: Res<Vec<Run>> = runs.into_iter().collect();
        let entry = match (runs, sizes(elf)) {
            (Ok(runs), Ok(sz)) => {
                let (v, verdict) = board_result(b, &sz, &runs, &host);
                if let Err(p) = verdict {
                    ok = false;
                    log(&format!("{}: FAILED: {}", b.name, p.join("; ")));
                }
                v
            }
            (Err(e), _) | (_, Err(e)) => {
                ok = false;
                json!({"board": b.name, "core": b.core, "ok": false, "problems": [e]})
            }
        };
        entries.push(entry);
    }
    for (b, e) in &failed {
        log(&format!("{}: build FAILED", b.name));
        entries.push(json!({"board": b.name, "core": b.core, "ok": false, "problems": [e]}));
    }
    let results = json!({
        "resolution": resolution,
        "model": model.display().to_string(),
        "image": format!("{} (timm eval transform, {resolution}x{resolution} centre crop)", opts.image.display()),
        "macs": host.model_value("macs"),
        "layers": host.layers.len(),
        "counting": "executed guest instructions from the QEMU TCG plugin boards/tools/plugin/fastvit_count.c \
                     between perf marks (QEMU has no timing model: not cycles); instructions_total spans the \
                     first layer's start to the last layer's end, input conversion included",
        "host": {
            "triple": host_triple().unwrap_or_default(),
            "output_checksum": host.checksum.map(hex32),
            "top5": host.top5.iter().map(|&(c, q)| json!([c, q])).collect::<Vec<_>>(),
        },
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        "ok": ok,
        "boards": entries,
    });
    std::fs::create_dir_all(&opts.out).map_err(io(opts.out.display()))?;
    let json_path = opts.out.join("results.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&results).expect("json") + "\n",
    )
    .map_err(io(json_path.display()))?;
    let md_path = opts.out.join("results.md");
    std::fs::write(&md_path, markdown(&results)).map_err(io(md_path.display()))?;
    log(&format!(
        "wrote {} and {}",
        json_path.display(),
        md_path.display()
    ));
    Ok(Summary { results, ok })
}

/// A real board: built here (no hardware attached), flashed with probe-rs.
#[derive(Clone, Copy, Debug)]
pub struct RealBoard {
    /// Folder, crate and binary name under `boards/`.
    pub name: &'static str,
    /// The part.
    pub core: &'static str,
    /// Rust target triple.
    pub target: &'static str,
    /// Model resolutions to try, largest first: the build uses the first
    /// whose arena the linker fits into the part's RAM.
    pub resolutions: &'static [usize],
    /// Flash and RAM the firmware must fit: (name, bytes).
    pub memories: &'static [(&'static str, u64)],
    /// Cargo features that must *fail* to link, and why.
    pub must_not_fit: Option<(&'static str, &'static str)>,
}

/// The real boards. Each builds at the largest resolution (up to the
/// pretrained 256) whose arena its RAM holds: the linker decides.
pub const REAL_BOARDS: &[RealBoard] = &[
    RealBoard {
        name: "rp2350",
        core: "RP2350 (Cortex-M33, 150 MHz), 520 KiB SRAM, 16 MiB QSPI flash (e.g. Pimoroni Pico Plus 2)",
        target: "thumbv8m.main-none-eabihf",
        resolutions: &[256, 224, 192, 160, 128],
        memories: &[("QSPI flash", 16 << 20), ("SRAM0-7", 512 << 10)],
        must_not_fit: Some((
            "flash-4m",
            "Raspberry Pi Pico 2: its 4 MiB flash cannot hold the ~4.2 MB of weights plus the program",
        )),
    },
    RealBoard {
        name: "imxrt1170",
        core: "i.MX RT1170 (Cortex-M7, up to 1 GHz), 1.25 MiB OCRAM + 512 KiB TCM, 16 MiB QSPI flash (MIMXRT1170-EVK)",
        target: "thumbv7em-none-eabihf",
        resolutions: &[256, 224, 192, 160, 128],
        memories: &[("QSPI flash", 16 << 20), ("OCRAM", 1280 << 10)],
        must_not_fit: None,
    },
];

/// Builds every real board's firmware at the largest resolution that fits
/// (or at `resolution`, e.g. to reuse the CI model), checks that the
/// configurations that must not fit do not link, and writes
/// `real-boards.json` and `real-boards.md`.
pub fn build_real(
    opts: &Options,
    resolution: Option<usize>,
    log: &(dyn Fn(&str) + Sync),
) -> Res<Summary> {
    std::fs::create_dir_all(opts.logs()).map_err(io(opts.logs().display()))?;
    let mut entries = Vec::new();
    let mut ok = true;
    for b in REAL_BOARDS {
        let dir = opts.boards_dir().join(b.name);
        let staged = opts.repo.join(format!("target/boards/model-{}", b.name));
        let log_file = opts.logs().join(format!("{}-build.log", b.name));
        // The largest resolution whose arena fits, unless one is imposed.
        let candidates: Vec<usize> = match resolution {
            Some(r) => vec![r],
            None => b.resolutions.to_vec(),
        };
        let mut tried = Vec::new();
        let mut built = Err(String::from("no resolution tried"));
        let mut res = candidates[0];
        for &r in &candidates {
            res = r;
            let model = prepare_model(
                &Options {
                    resolution: r,
                    model: None,
                    ..opts.clone()
                },
                &mut |s| log(s),
            )?;
            stage(&model, &staged, &test_frame(&opts.image, r)?)?;
            log(&format!(
                "building {} ({}) at {r}x{r} ...",
                b.name, b.target
            ));
            built = cargo_build(&dir, &[], &log_file);
            match &built {
                Err(e) if r != *candidates.last().unwrap() && does_not_fit_ram(e) => {
                    log(&format!(
                        "  the {r}x{r} arena does not fit {}'s RAM",
                        b.name
                    ));
                    tried.push(json!({"resolution": r, "linker": overflow_line(e)}));
                }
                _ => break,
            }
        }
        let elf = opts.repo.join(format!(
            "target/boards/cargo/{}/{}/release/{}",
            b.name, b.target, b.name
        ));
        let mut problems = Vec::new();
        let mut entry = json!({
            "board": b.name, "core": b.core, "target": b.target, "resolution": res,
            "too_large": tried,
            "memories": b.memories.iter().map(|(n, s)| json!({"name": n, "bytes": s})).collect::<Vec<_>>(),
        });
        match built.and_then(|()| sizes(&elf)) {
            Ok(sz) => {
                entry["code_bytes"] = json!(sz.code);
                entry["weights_bytes"] = json!(sz.weights.map(|w| w.1));
                entry["weights_address"] = json!(sz.weights.map(|w| format!("{:#x}", w.0)));
                entry["arena_bytes"] = json!(sz.arena.map(|a| a.1));
                entry["arena_address"] = json!(sz.arena.map(|a| format!("{:#x}", a.0)));
                entry["sections"] = json!(sz
                    .sections
                    .iter()
                    .map(|(n, a, s)| json!({"name": n, "address": format!("{a:#x}"), "bytes": s}))
                    .collect::<Vec<_>>());
            }
            Err(e) => problems.push(e),
        }
        if let Some((feature, why)) = b.must_not_fit {
            let args = ["--no-default-features", "--features", feature];
            let log_file = opts.logs().join(format!("{}-{feature}-build.log", b.name));
            // Built last, so the default build stays the one on disk.
            let refused = match cargo_build(&dir, &args, &log_file) {
                Ok(()) => {
                    problems.push(format!("`--features {feature}` linked, but: {why}"));
                    None
                }
                Err(e) => overflow_line(&e),
            };
            if refused.is_none() && problems.is_empty() {
                problems.push(format!(
                    "`--features {feature}` failed to build for another reason than size (log: {})",
                    log_file.display()
                ));
            }
            entry["must_not_fit"] = json!({"features": feature, "why": why, "linker": refused});
        }
        entry["ok"] = json!(problems.is_empty());
        entry["problems"] = json!(problems);
        if !problems.is_empty() {
            ok = false;
            log(&format!("{}: FAILED: {}", b.name, problems.join("; ")));
        }
        entries.push(entry);
    }
    let results = json!({"ok": ok, "boards": entries});
    std::fs::create_dir_all(&opts.out).map_err(io(opts.out.display()))?;
    let json_path = opts.out.join("real-boards.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&results).expect("json") + "\n",
    )
    .map_err(io(json_path.display()))?;
    let md_path = opts.out.join("real-boards.md");
    std::fs::write(&md_path, real_markdown(&results)).map_err(io(md_path.display()))?;
    log(&format!(
        "wrote {} and {}",
        json_path.display(),
        md_path.display()
    ));
    Ok(Summary { results, ok })
}

/// Whether a failed build's output says RAM overflowed (the arena), as
/// opposed to any other error.
fn does_not_fit_ram(build_error: &str) -> bool {
    build_error.contains("fastvit: ")
        || build_error
            .lines()
            .any(|l| l.contains("will not fit in region") && !l.contains("FLASH"))
}

/// The linker's "overflowed" or assertion line, if any.
fn overflow_line(build_error: &str) -> Option<String> {
    build_error
        .lines()
        .find(|l| l.contains("overflowed") || l.contains("fastvit: "))
        .map(|l| l.trim().trim_start_matches("= note:").trim().to_string())
}

/// The Markdown summary of the real-board builds.
pub fn real_markdown(results: &Value) -> String {
    let empty = vec![];
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut s = String::from(
        "| board | model | code | weights | arena | fits | does not fit |\n|---|---|---:|---:|---:|---|---|\n",
    );
    for b in results["boards"].as_array().unwrap_or(&empty) {
        s += &format!(
            "| {} | {r}x{r} | {} | {} @{} | {} @{} | {} | {} |\n",
            b["board"].as_str().unwrap_or("?"),
            kib(u(&b["code_bytes"])),
            kib(u(&b["weights_bytes"])),
            b["weights_address"].as_str().unwrap_or("?"),
            kib(u(&b["arena_bytes"])),
            b["arena_address"].as_str().unwrap_or("?"),
            b["memories"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|m| format!(
                    "{} {}",
                    m["name"].as_str().unwrap_or("?"),
                    kib(u(&m["bytes"]))
                ))
                .collect::<Vec<_>>()
                .join(", "),
            match &b["must_not_fit"] {
                Value::Null => "-".to_string(),
                m => format!(
                    "`--features {}`: {} (`{}`)",
                    m["features"].as_str().unwrap_or("?"),
                    m["why"].as_str().unwrap_or(""),
                    m["linker"].as_str().unwrap_or("?")
                ),
            },
            r = u(&b["resolution"]),
        );
    }
    s
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn kib(n: u64) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

/// The Markdown summary: one row per board, then instructions per layer.
pub fn markdown(results: &Value) -> String {
    let empty = vec![];
    let boards = results["boards"].as_array().unwrap_or(&empty);
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    let mut s = format!(
        "FastViT-T8 int8 at {r}x{r} ({} MACs, {} layers), one inference per board in QEMU. \
         Instructions are executed guest instructions (TCG plugin), not cycles. \
         Host checksum {}.\n\n",
        thousands(u(&results["macs"])),
        u(&results["layers"]),
        results["host"]["output_checksum"].as_str().unwrap_or("?"),
        r = u(&results["resolution"]),
    );
    s += "| board | core | instructions | instr/MAC | code | weights | arena | stack | checksum | = host | QEMU s |\n";
    s += "|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|\n";
    for b in boards {
        if b["ok"] == json!(false) && b["instructions_total"].is_null() {
            s += &format!(
                "| {} | {} | failed: {} | | | | | | | no | |\n",
                b["board"].as_str().unwrap_or("?"),
                b["core"].as_str().unwrap_or("?"),
                b["problems"][0]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            );
            continue;
        }
        let secs: Vec<f64> = b["run_seconds"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let weights_at = b["weights_address"]
            .as_str()
            .map(|a| format!(" @{a}"))
            .unwrap_or_default();
        s += &format!(
            "| {} | {} | {} | {:.2} | {} | {}{} | {} | {} B | `{}` | {} | {:.1} |\n",
            b["board"].as_str().unwrap_or("?"),
            b["core"].as_str().unwrap_or("?"),
            thousands(u(&b["instructions_total"])),
            b["instructions_per_mac"].as_f64().unwrap_or(0.0),
            kib(u(&b["code_bytes"])),
            kib(u(&b["weights_bytes"])),
            weights_at,
            kib(u(&b["arena_bytes"])),
            thousands(u(&b["stack_bytes"])),
            b["output_checksum"].as_str().unwrap_or("?"),
            if b["matches_host"] == json!(true) {
                "yes"
            } else {
                "**no**"
            },
            secs.iter().sum::<f64>() / secs.len().max(1) as f64,
        );
    }
    // Instructions per layer, in millions, one column per board.
    let with_layers: Vec<&Value> = boards
        .iter()
        .filter(|b| b["layers"].as_array().is_some_and(|l| !l.is_empty()))
        .collect();
    if let Some(first) = with_layers.first() {
        s += "\nExecuted instructions per layer (millions):\n\n| # | layer | MMACs |";
        for b in &with_layers {
            s += &format!(" {} |", b["board"].as_str().unwrap_or("?"));
        }
        s += "\n|---:|---|---:|";
        s += &"---:|".repeat(with_layers.len());
        s += "\n";
        for (i, l) in first["layers"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .enumerate()
        {
            s += &format!(
                "| {i} | {} | {:.2} |",
                l["name"].as_str().unwrap_or("?"),
                u(&l["macs"]) as f64 / 1e6
            );
            for b in &with_layers {
                let n = &b["layers"][i]["instructions"];
                s += &match n.as_u64() {
                    Some(n) => format!(" {:.2} |", n as f64 / 1e6),
                    None => " - |".into(),
                };
            }
            s += "\n";
        }
    }
    s
}
