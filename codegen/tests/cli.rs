//! The command line as a user runs it: exit codes, messages, outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use codegen::checkpoint::{DType, Layout};
use codegen::synth;

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn codegen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codegen"))
        .args(args)
        .output()
        .expect("codegen runs")
}

/// The main job at 64x64 (without a checkpoint: the built-in model) into
/// `out`, with `more` arguments.
fn main_job(checkpoint: Option<&Path>, out: &Path, more: &[&str]) -> Output {
    let (out, checkpoint) = (
        out.to_str().unwrap(),
        checkpoint.map(|p| p.to_str().unwrap()),
    );
    let args = checkpoint
        .into_iter()
        .chain(["--out", out, "--resolution", "64"]);
    codegen(&args.chain(more.iter().copied()).collect::<Vec<_>>())
}

/// `codegen eval` of one image at 64x64.
fn eval_one(checkpoint: &Path, image: &Path) -> Output {
    let (ck, image) = (checkpoint.to_str().unwrap(), image.to_str().unwrap());
    codegen(&["eval", ck, image, "--resolution", "64", "--int16", "head"])
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn checkpoint(dir: &Path, classes: usize) -> PathBuf {
    let p = dir.join("t8.safetensors");
    std::fs::write(
        &p,
        synth::checkpoint_bytes(codegen::arch::T8, 5, classes, Layout::TimmTrain, DType::F16),
    )
    .unwrap();
    p
}

#[test]
fn main_job_writes_a_crate_and_reports() {
    let d = tmp("main_job");
    let ck = checkpoint(&d, 10);
    let out = d.join("model");
    let o = main_job(Some(&ck), &out, &["--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["classes"], 10);
    assert_eq!(summary["layout"], "timm train-time");
    assert_eq!(summary["dtype"], "F16");
    assert!(summary["arena_bytes"].as_u64().unwrap() > 0);
    // The default build chose its 16-bit groups (the head at least) and
    // says which, with the corrections on.
    let groups = summary["int16_groups"].as_str().unwrap();
    assert!(groups.starts_with("head"), "{groups}");
    // ... and its equalization strength (fixed by default).
    assert_eq!(summary["equalization_chosen"], false);
    assert_eq!(summary["equalization"], 0.5);
    // The smoke check runs on the built-in images held out from calibration.
    let held_out = &summary["fidelity_held_out"];
    assert_eq!(held_out["inputs"], 8);
    let cosine = held_out["cosine_min"].as_f64().unwrap();
    assert!((-1.0..=1.0).contains(&cosine), "{cosine}");
    let calibration = summary["calibration"].as_str().unwrap();
    assert!(
        calibration.starts_with("built-in set, 68 "),
        "{calibration}"
    );
    for f in ["Cargo.toml", "src/lib.rs", "weights.bin", "model.json"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let lib = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
    assert!(lib.contains("pub static SCHEDULE"));
    assert!(lib.contains("pub const ARENA_BYTES"));
    // The runtime by a path relative to the crate (it is in the same tree
    // as this checkout's target folder), never this machine's absolute path.
    let toml = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    let dep = toml.lines().find(|l| l.starts_with("runtime = ")).unwrap();
    assert!(dep.contains("path = \"../"), "{dep}");
    // 16-bit layers run the runtime's reference forms: the crate asks for
    // them (and their fast forms), so it builds on its own.
    assert_eq!(
        dep.contains("features = [\"reference-forms\", \"fast-int16\"]"),
        groups != "head",
        "{groups}: {dep}"
    );
    let rel = dep.split('"').nth(3).unwrap();
    assert_eq!(
        out.join(rel).canonicalize().unwrap(),
        runtime.canonicalize().unwrap()
    );
}

#[test]
fn runtime_source_is_an_option() {
    let d = tmp("runtime_source");
    let out = d.join("model");
    for (spec, line) in [
        ("version:0.1", "version = \"0.1\""),
        ("path:../fastvit/runtime", "path = \"../fastvit/runtime\""),
    ] {
        // The int8 build: made in seconds (the default's choice of 16-bit
        // groups is tested below).
        let o = main_job(
            None,
            &out,
            &["--quiet", "--int16", "head", "--runtime", spec],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        let toml = std::fs::read_to_string(out.join("Cargo.toml")).unwrap();
        assert!(
            toml.contains(&format!(
                "package = \"fastvit-runtime\", {line}, default-features = false }}"
            )),
            "{toml}"
        );
    }
    let o = codegen(&["--runtime", "git:x", "--resolution", "64"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("path:DIR"), "{}", text(&o.stderr));
}

#[test]
fn no_checkpoint_uses_the_builtin_model_and_says_so() {
    let d = tmp("builtin");
    let out = d.join("model");
    let o = main_job(None, &out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("built-in synthetic FastViT-T8"));
    assert!(text(&o.stderr).contains("arena"));
    // The default chooses its 16-bit groups on held-out inputs and says so.
    assert!(
        text(&o.stderr).contains(
            "--int16 auto (arena budget 229376 B), measured on 8 calibration inputs held out"
        ),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("equalization 0.5 (fixed), bias correction on"));
    assert!(
        text(&o.stderr).contains("on 8 built-in images held out from calibration"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn equalize_auto_measures_every_strength_and_keeps_one() {
    let d = tmp("equalize_auto");
    let out = d.join("model");
    let o = main_job(
        None,
        &out,
        &["--int16", "head", "--equalize", "auto", "--json"],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["equalization_chosen"], true);
    let alpha = summary["equalization"].as_f64().unwrap();
    assert!(codegen::strength::STRENGTHS.contains(&alpha), "{alpha}");
    // The weights record it, and the groups stay as asked.
    assert_eq!(summary["int16_groups"], "head");
    let lib = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains(&format!("equalization alpha {alpha}")),
        "{alpha}"
    );
}

#[test]
fn bad_checkpoint_fails_cleanly_and_keeps_previous_output() {
    let d = tmp("bad");
    let out = d.join("model");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"previous").unwrap();
    let bad = d.join("broken.safetensors");
    let mut bytes =
        synth::checkpoint_bytes(codegen::arch::T8, 5, 10, Layout::TimmTrain, DType::F32);
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&bad, &bytes).unwrap();
    let o = main_job(Some(&bad), &out, &[]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("broken.safetensors") && err.contains("truncated"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"previous");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "no temporary folders left: {leftovers:?}"
    );
}

#[test]
fn bad_arguments_are_explained() {
    // Each refused with an error that names the problem.
    for (args, says) in [
        (&["--resolution", "100"][..], "multiple of 32"),
        (
            &["inspect", "/nonexistent/model.safetensors"],
            "/nonexistent/model.safetensors",
        ),
        (
            &["--int16", "head", "--arena-budget", "300000"],
            "--int16 auto",
        ),
        (&["--int16", "stages.9"], "stages.9"),
        (&["--equalize", "1.5"], "between 0 and 1, or auto"),
        (&["--equalize", "half"], "`half` is neither a strength"),
    ] {
        let o = codegen(args);
        assert!(!o.status.success(), "{args:?}");
        assert!(
            text(&o.stderr).contains(says),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    let o = codegen(&["--help"]);
    assert!(text(&o.stdout).contains("Examples:"));
}

#[test]
fn inspect_reports_layout_parameters_and_macs() {
    let d = tmp("inspect");
    let ck = checkpoint(&d, 1000);
    let o = codegen(&["inspect", ck.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["macs"], 685_209_600u64);
    assert_eq!(v["parameters_checkpoint"], 4_026_232u64);
    assert_eq!(v["parameters_folded"], 3_992_392u64);
    assert_eq!(v["tensors_folded"], 106);
    assert_eq!(v["entries"], 462);
    let o = codegen(&["inspect", ck.to_str().unwrap(), "--resolution", "224"]);
    let t = text(&o.stdout);
    assert!(t.contains("524810880") && t.contains("stages.2"), "{t}");
}

#[test]
fn eval_prints_float_and_int8_results_per_input() {
    let d = tmp("eval");
    let ck = checkpoint(&d, 10);
    // One .npy (already normalized) and one image.
    let x = synth::input(9, 64, 64);
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let npy = d.join("x.npy");
    codegen::eval::write_npy(&npy, &[1, 3, 64, 64], "<f4", &bytes).unwrap();
    let png = d.join("x.png");
    image::RgbImage::from_fn(80, 70, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 3) as u8, 90])
    })
    .save(&png)
    .unwrap();
    let dump = d.join("dump");
    let svg = d.join("sqnr.svg");
    let o = codegen(&[
        "eval",
        ck.to_str().unwrap(),
        npy.to_str().unwrap(),
        png.to_str().unwrap(),
        "--resolution",
        "64",
        "--int16",
        "head",
        "--json",
        "--dump-layers",
        dump.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lines: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        for f in [
            "input",
            "logits_float",
            "top5_float",
            "logits_int8",
            "top5_int8",
            "cosine",
        ] {
            assert!(!l[f].is_null(), "field {f}");
        }
        assert_eq!(l["logits_float"].as_array().unwrap().len(), 10);
        assert!(l["cosine"].as_f64().unwrap() > 0.9);
    }
    assert!(text(&o.stderr).contains("Per-layer SQNR"));
    assert!(
        text(&o.stderr).contains("dB per input"),
        "{}",
        text(&o.stderr)
    );
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // One input: the per-input SQNR is finite, the per-class one is n/a.
    let o = eval_one(&ck, &png);
    let t = text(&o.stdout);
    assert!(
        t.contains("n/a (needs 2+ inputs) per class") && !t.contains("inf dB"),
        "{t}"
    );
    assert!(dump.join("input000/index.json").is_file());
    assert!(dump.join("input001/00_stem.0.int8.npy").is_file());
    // An unreadable image is named.
    let bogus = d.join("bogus.jpg");
    std::fs::write(&bogus, b"not a jpeg").unwrap();
    let o = eval_one(&ck, &bogus);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("bogus.jpg"), "{}", text(&o.stderr));
}

#[test]
fn plan_json_has_the_figures_scripts_need() {
    let o = codegen(&["plan", "--resolution", "64", "--int16", "head", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["peak_arena_bytes"].as_u64().unwrap() > 0);
    assert!(v["layer_by_layer_bytes"].as_u64().unwrap() >= v["peak_arena_bytes"].as_u64().unwrap());
}
