//! Shared helpers for the end-to-end tests.

use std::path::{Path, PathBuf};

use codegen::images::ModelInput;

/// Crops per evaluation photo (4 photos -> 52 crops).
pub const EVAL_CROPS_PER_PHOTO: usize = 13;

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root exists")
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Where the tests build generated crates (`target/gen-check`), apart from
/// the workspace's own builds.
pub fn gen_check_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/gen-check")
}

/// Runs `cargo <args>` in `dir` with [`gen_check_dir`] as the target dir;
/// panics with cargo's stderr if it fails.
pub fn cargo(args: &[&str], dir: &Path) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", gen_check_dir())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes a throwaway cargo package into `dir`, its own workspace: package
/// `name` with the `dependencies` lines and one source file `file` (e.g.
/// `src/main.rs`) holding `source`.
pub fn scratch_package(dir: &Path, name: &str, dependencies: &str, file: &str, source: &str) {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n{dependencies}\n\n[workspace]\n"
    );
    std::fs::create_dir_all(dir.join(file).parent().expect("a file in a folder")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join(file), source).unwrap();
}

/// The options of a test run at `resolution`: the plain int8 build
/// ([`QuantOptions::plain_int8`](codegen::pipeline::QuantOptions::plain_int8):
/// `--int16 head --no-bias-correction --clip-pooled`, quick to make and the
/// build the fixture floors and boards pin), without progress output. The
/// default build (`--int16 auto`) is measured in `proxy_fidelity.rs` and
/// `cli.rs`.
pub fn quiet_options(resolution: usize) -> codegen::pipeline::QuantOptions {
    codegen::pipeline::QuantOptions {
        quiet: true,
        ..codegen::pipeline::QuantOptions::plain_int8(resolution)
    }
}

/// The evaluation set: deterministic natural-image crops of the photos in
/// `fixtures/eval`, disjoint from the built-in calibration photos.
pub fn eval_set(res: usize) -> Vec<ModelInput> {
    codegen::images::crop_inputs(&fixtures().join("eval"), EVAL_CROPS_PER_PHOTO, res, 0xE7A1)
        .expect("eval photos")
}
