//! The emitted crate, compiled on its own, computes exactly what codegen's
//! in-process run of the same schedule computes; it builds for the embedded
//! targets; and emission is deterministic and atomic.

use std::path::Path;
use std::process::Command;

use codegen::emit::{write_crate, Provenance};
use codegen::eval::run_int8;
use codegen::images::builtin_calibration;
use codegen::pipeline;
use host_tests::{cargo, gen_check_dir};

const RES: usize = 160;

fn generate(out: &Path) -> (codegen::quantize::Compiled, Provenance) {
    let opts = host_tests::quiet_options(RES);
    let (ck, prov) = pipeline::load_or_synthesize(None).unwrap();
    let (inputs, source) = pipeline::calibration_inputs(&opts).unwrap();
    let (_, compiled) = pipeline::quantize(&ck, &inputs, &source, &opts).unwrap();
    write_crate(out, &compiled, &prov).unwrap();
    (compiled, prov)
}

#[test]
fn emitted_crate_is_bit_identical_deterministic_and_portable() {
    let work = gen_check_dir().join(format!("work-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let model_dir = work.join("model");
    let (compiled, prov) = generate(&model_dir);

    // Determinism: a second run gives byte-identical files.
    let again = work.join("model-again");
    generate(&again);
    for f in ["Cargo.toml", "src/lib.rs", "weights.bin", "model.json"] {
        let a = std::fs::read(model_dir.join(f)).unwrap();
        let b = std::fs::read(again.join(f)).unwrap();
        assert!(a == b, "{f} differs between two identical runs");
    }
    // Every schedule entry names its timm module, in order.
    let lib = std::fs::read_to_string(model_dir.join("src/lib.rs")).unwrap();
    let mut at = lib.find("pub static SCHEDULE").expect("SCHEDULE");
    for (i, name) in compiled.schedule.names.iter().enumerate() {
        let comment = format!("    // [{i}] {name}\n    Layer::");
        at += lib[at..]
            .find(&comment)
            .unwrap_or_else(|| panic!("no `// [{i}] {name}` above schedule entry {i}"));
    }

    // A harness binary that depends on the emitted crate like a user's firmware would.
    let harness = work.join("harness");
    host_tests::scratch_package(
        &harness,
        "harness",
        &format!(
            "fastvit-t8-model = {{ path = \"{}\" }}",
            model_dir.display()
        ),
        "src/main.rs",
        r#"use fastvit_model::{Logit, ARENA_BYTES, CLASSES, MODEL};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "intact" {
        println!("{}", fastvit_model::weights_intact());
        return;
    }
    let input = std::fs::read(&args[2]).unwrap();
    let mut arena = vec![0i8; ARENA_BYTES];
    let mut logits = [0 as Logit; CLASSES];
    assert!(fastvit_model::weights_intact());
    if args[1] == "image" {
        // The typed entry point, twice on the same (now dirty) arena: no
        // state may leak from one run into the next.
        let arena: &mut [i8; ARENA_BYTES] = (&mut arena[..]).try_into().unwrap();
        let frame: &[u8; fastvit_model::INPUT_BYTES] = input.as_slice().try_into().unwrap();
        fastvit_model::classify(arena, frame, &mut logits).unwrap();
        let first = logits;
        fastvit_model::classify(arena, frame, &mut logits).unwrap();
        assert_eq!(first, logits, "second run differs");
    } else {
        let x: Vec<i8> = input.iter().map(|&b| b as i8).collect();
        MODEL.run_normalized(&mut arena, &x, &mut logits, |_, _| {}).unwrap();
    }
    let s: Vec<String> = logits.iter().map(|v| v.to_string()).collect();
    println!("{}", s.join(","));
}
"#,
    );
    cargo(&["build", "--release", "-q"], &harness);
    let exe = gen_check_dir().join("release/harness");

    for (i, input) in builtin_calibration(RES).iter().take(3).enumerate() {
        let expected = run_int8(&compiled, input, |_, _| {});
        let rgb_path = work.join(format!("in{i}.rgb"));
        std::fs::write(&rgb_path, input.rgb.as_ref().unwrap()).unwrap();
        let got = harness_logits(&exe, "image", &rgb_path);
        assert_eq!(got, expected, "camera entry point, input {i}");

        // The normalized entry point too.
        let norm = codegen::images::ModelInput {
            rgb: None,
            ..input.clone()
        };
        let expected = run_int8(&compiled, &norm, |_, _| {});
        let q = compiled.quantize_normalized(&norm.normalized);
        let npath = work.join(format!("in{i}.q8"));
        std::fs::write(&npath, q.iter().map(|&v| v as u8).collect::<Vec<_>>()).unwrap();
        let got = harness_logits(&exe, "normalized", &npath);
        assert_eq!(got, expected, "normalized entry point, input {i}");
    }

    // A flipped bit in the weight blob is detected by `weights_intact()`.
    let intact = Command::new(&exe).arg("intact").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&intact.stdout).trim(), "true");
    let wpath = model_dir.join("weights.bin");
    let mut blob = std::fs::read(&wpath).unwrap();
    let at = blob.len() / 3;
    blob[at] ^= 0x10;
    std::fs::write(&wpath, &blob).unwrap();
    cargo(&["build", "--release", "-q"], &harness);
    let flipped = Command::new(&exe).arg("intact").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&flipped.stdout).trim(), "false");
    blob[at] ^= 0x10;
    std::fs::write(&wpath, &blob).unwrap();

    // The data-only crate builds for the embedded targets.
    for target in [
        "thumbv7em-none-eabihf",
        "thumbv8m.main-none-eabihf",
        "aarch64-unknown-none",
    ] {
        cargo(
            &["build", "--release", "-q", "--target", target],
            &model_dir,
        );
    }
    assert!(prov.sha256.len() == 64);
    let _ = std::fs::remove_dir_all(&work);
}

/// Runs the harness binary's `entry` point on the input file `input`; the
/// logits it prints.
fn harness_logits(exe: &Path, entry: &str, input: &Path) -> Vec<i16> {
    let out = Command::new(exe)
        .args([entry, input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{entry}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect()
}
