//! Every fuzz seed and every input the fuzzers ever crashed on
//! (`fuzz/corpus/*`, `fuzz/regressions/*`) goes through the same entry points
//! as the fuzz targets, without libFuzzer: each must give a result, not a panic.

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A fuzz target's seed corpus (at least `seeds` files: a missing corpus
/// fails rather than passing on nothing) and its crash regressions, read.
fn seeds_and_regressions(target: &str, seeds: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = files(&format!("corpus/{target}"));
    assert!(all.len() >= seeds, "{target}: seed corpus present");
    all.extend(files(&format!("regressions/{target}")));
    all.into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn checkpoint_inputs_never_panic() {
    for (p, bytes) in seeds_and_regressions("checkpoint", 6) {
        let r = codegen::checkpoint::parse(Path::new("fuzz.safetensors"), &bytes);
        assert!(
            r.is_err(),
            "{}: a partial checkpoint must be refused",
            p.display()
        );
        assert!(r.unwrap_err().to_string().contains("fuzz.safetensors"));
    }
}

#[test]
fn image_and_npy_inputs_never_panic() {
    for (p, bytes) in seeds_and_regressions("input", 4) {
        // As the fuzz target: the shipped read path, both ways.
        for name in ["fuzz.npy", "fuzz.png"] {
            match codegen::images::input_from_bytes(Path::new(name), &bytes, 32) {
                Ok(input) => assert_eq!(input.normalized.data.len(), 3 * 32 * 32),
                Err(e) => assert!(e.to_string().contains(name), "{}: {e}", p.display()),
            }
        }
    }
}
