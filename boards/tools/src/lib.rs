//! `fastvit-boards`: runs the int8 model on every emulated board and checks
//! each against the host, bit for bit.
//!
//! 1. **Model**: generates the int8 crate with codegen's passes at the chosen
//!    resolution into `target/boards/model-<res>` (once; again when this tool
//!    was rebuilt since, i.e. codegen or the runtime changed), or takes a given
//!    crate folder.
//! 2. **Stage**: copies it to `target/boards/model`, the path every board crate
//!    depends on, with the test image `image.rgb` (a u8 RGB HWC frame: timm's
//!    eval transform of `codegen/data/calib/heldout/china-0.jpg` by default)
//!    and the same photo as a 320x240 RGB565 camera frame, `camera.rgb565`,
//!    for the `classify` examples.
//! 3. **Host reference**: `boards/rpi` built for the host triple (the same
//!    runtime, generated crate, image and report code as every board).
//! 4. **Boards**: `cargo build --release` in each board folder, then
//!    `tools/qemu-run.sh` (QEMU + instruction-counting plugin, under a
//!    timeout), `runs` times each, `jobs` at once.
//! 5. **Results**: parses the reports, sizes the ELF sections, and writes
//!    `results.json` and `results.md`.
//!
//! A member of the root workspace: the host tests (`host-tests/tests/boards.rs`,
//! `conformance.rs`, `no_panic.rs`) call this library.

pub mod conformance;
pub mod elf;
pub mod markdown;
pub mod no_panic;
pub mod real;
pub mod report;
pub mod run;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use self::markdown::kib;
pub use self::markdown::markdown;
pub use self::real::{build_real, real_markdown, RealBoard, REAL_BOARDS};
use self::report::Report;
pub use self::run::run_all;

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
            image: repo.join("codegen/data/calib/heldout/china-0.jpg"),
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

    /// A board crate's folder.
    fn board_dir(&self, name: &str) -> PathBuf {
        self.boards_dir().join(name)
    }

    /// The release binary `bin` of board `name` for `target` (every board's
    /// `.cargo/config.toml` sets the target dir `target/boards/cargo/<name>`).
    fn release_bin(&self, name: &str, target: &str, bin: &str) -> PathBuf {
        self.repo
            .join(format!("target/boards/cargo/{name}/{target}/release/{bin}"))
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

/// Runs codegen's passes (as its command line does) and emits the crate:
/// the plain int8 build, the benchmark's, and the one the 4 MB Pico 2 (no
/// int16 forms) runs.
pub fn generate(dir: &Path, resolution: usize, checkpoint: Option<&Path>) -> Res<()> {
    let opts = codegen::pipeline::QuantOptions {
        quiet: true,
        ..codegen::pipeline::QuantOptions::plain_int8(resolution)
    };
    generate_with(dir, checkpoint, &opts)
}

/// [`generate`] with any codegen options (a build with 16-bit groups, say).
pub fn generate_with(
    dir: &Path,
    checkpoint: Option<&Path>,
    opts: &codegen::pipeline::QuantOptions,
) -> Res<()> {
    use codegen::pipeline;
    let (ck, prov) = pipeline::load_or_synthesize(checkpoint).map_err(|e| e.to_string())?;
    let (inputs, source) = pipeline::calibration_inputs(opts).map_err(|e| e.to_string())?;
    let (_, compiled) =
        pipeline::quantize(&ck, &inputs, &source, opts).map_err(|e| e.to_string())?;
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

/// The model's name (`FastViT-T12`) from its `model.json`; "FastViT-T8"
/// for a crate generated before the name was recorded.
pub fn model_name(model: &Path) -> String {
    std::fs::read_to_string(model.join("model.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["model"].as_str().map(str::to_string))
        .unwrap_or_else(|| "FastViT-T8".into())
}

/// Size of the staged camera frame (QVGA, a common sensor mode): the
/// `classify` examples resize it to the model input themselves.
pub const CAMERA_WIDTH: usize = 320;
/// See [`CAMERA_WIDTH`].
pub const CAMERA_HEIGHT: usize = 240;

/// What [`stage`] puts beside the model.
pub struct TestFrames {
    /// `image.rgb`: the photo through timm's eval transform (u8 RGB HWC at
    /// the model's size), the input of every checksum run.
    pub image: Vec<u8>,
    /// `camera.rgb565`: the photo as a `CAMERA_WIDTH x CAMERA_HEIGHT` RGB565
    /// (little-endian) camera frame, the input of the `classify` examples.
    pub camera: Vec<u8>,
}

/// The staged inputs from the test photo `image` at `resolution`.
pub fn test_frame(image: &Path, resolution: usize) -> Res<TestFrames> {
    let img = codegen::images::read_image(image).map_err(|e| e.to_string())?;
    Ok(TestFrames {
        image: codegen::images::eval_transform(&img, resolution).into_raw(),
        camera: camera_frame(img.as_raw(), img.width() as usize, img.height() as usize),
    })
}

/// A sensor's view of an RGB photo: its centred 4:3 window, box-filtered to
/// `CAMERA_WIDTH x CAMERA_HEIGHT`, packed as RGB565 little-endian.
fn camera_frame(rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (cw, ch) = if w * 3 > h * 4 {
        (h * 4 / 3, h)
    } else {
        (w, w * 3 / 4)
    };
    let (x0, y0) = ((w - cw) / 2, (h - ch) / 2);
    let mut out = Vec::with_capacity(CAMERA_WIDTH * CAMERA_HEIGHT * 2);
    for y in 0..CAMERA_HEIGHT {
        let (ya, yb) = (
            y * ch / CAMERA_HEIGHT,
            ((y + 1) * ch / CAMERA_HEIGHT).max(y * ch / CAMERA_HEIGHT + 1),
        );
        for x in 0..CAMERA_WIDTH {
            let (xa, xb) = (
                x * cw / CAMERA_WIDTH,
                ((x + 1) * cw / CAMERA_WIDTH).max(x * cw / CAMERA_WIDTH + 1),
            );
            let mut sum = [0usize; 3];
            for sy in ya..yb {
                for sx in xa..xb {
                    let p = ((y0 + sy) * w + x0 + sx) * 3;
                    for c in 0..3 {
                        sum[c] += rgb[p + c] as usize;
                    }
                }
            }
            let n = (yb - ya) * (xb - xa);
            let [r, g, b] = sum.map(|v| ((v + n / 2) / n) as u16);
            let p = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3);
            out.extend_from_slice(&p.to_le_bytes());
        }
    }
    out
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
/// for the new place) with `image.rgb` and `camera.rgb565` beside it. Files
/// whose bytes did not change are left alone, so cargo rebuilds nothing it
/// need not.
pub fn stage(model: &Path, staged: &Path, frames: &TestFrames) -> Res<()> {
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
        let input = r == Path::new("image.rgb") || r == Path::new("camera.rgb565");
        if keep(&r) && !input && !src.contains(&r) {
            let _ = std::fs::remove_file(staged.join(r));
        }
    }
    // The board crates choose the runtime's features themselves (their
    // `reference-forms`, on by default, runs a model with 16-bit layers).
    let dep = codegen::emit::runtime_dependency(staged);
    write_if_changed(
        &staged.join("Cargo.toml"),
        codegen::emit::cargo_toml(&dep, false).as_bytes(),
    )?;
    write_if_changed(&staged.join("image.rgb"), &frames.image)?;
    write_if_changed(&staged.join("camera.rgb565"), &frames.camera)
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

/// Writes `results` as `<out>/<stem>.json` and `markdown` as `<out>/<stem>.md`.
fn write_results(
    opts: &Options,
    stem: &str,
    results: &Value,
    markdown: &str,
    log: &(dyn Fn(&str) + Sync),
) -> Res<()> {
    std::fs::create_dir_all(&opts.out).map_err(io(opts.out.display()))?;
    let json_path = opts.out.join(format!("{stem}.json"));
    let json = serde_json::to_string_pretty(results).expect("json") + "\n";
    std::fs::write(&json_path, json).map_err(io(json_path.display()))?;
    let md_path = opts.out.join(format!("{stem}.md"));
    std::fs::write(&md_path, markdown).map_err(io(md_path.display()))?;
    log(&format!(
        "wrote {} and {}",
        json_path.display(),
        md_path.display()
    ));
    Ok(())
}

/// Builds one board's firmware; returns the ELF.
pub fn build_board(opts: &Options, b: &Board) -> Res<PathBuf> {
    let log = opts.logs().join(format!("{}-build.log", b.name));
    cargo_build(&opts.board_dir(b.name), &[], &log)?;
    Ok(opts.release_bin(b.name, b.target, b.name))
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
