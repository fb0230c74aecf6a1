//! Rust f32 against timm itself. The fixture script
//! (`host-tests/scripts/make_fixtures.py`) built timm's `fastvit_t8` (and
//! `fastvit_t12`, `fastvit_s12`) from the same deterministic generator and
//! recorded its logits; here the checkpoint
//! is regenerated in Rust, written as safetensors in each layout and dtype,
//! loaded back through the real loader, folded, and run.

use std::path::Path;

use codegen::arch::Variant;
use codegen::checkpoint::{self, DType, Layout};
use codegen::float::{forward_folded, forward_train, top_k, Fmap};
use codegen::fold::fold_checkpoint;
use codegen::synth;
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    case: String,
    /// timm model name; absent in the T8 files made before variants.
    #[serde(default = "t8")]
    variant: String,
    seed: u64,
    resolution: usize,
    classes: usize,
    dtype: String,
    weights: Weights,
    inputs: Vec<GoldenInput>,
}

#[derive(Deserialize)]
struct Weights {
    fnv1a64: String,
}

#[derive(Deserialize)]
struct GoldenInput {
    input_seed: u64,
    logits_train: Vec<f32>,
    logits_reparam: Vec<f32>,
    top5_train: Vec<usize>,
    top5_reparam: Vec<usize>,
    max_abs_diff_train_vs_reparam: f32,
    stages_train: std::collections::BTreeMap<String, [f64; 2]>,
}

fn t8() -> String {
    "fastvit_t8".into()
}

fn golden(name: &str) -> Golden {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/timm")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn dtype(s: &str) -> DType {
    match s {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => panic!("unknown dtype {other}"),
    }
}

/// Logit tolerance relative to max |logit|: about ten times the worst
/// measured (1.7e-6, seed 3's F16 train-time graph), so a real regression
/// fails; the product's bar is 1e-3.
const LOGIT_TOL: f32 = 2e-5;

/// Per-stage `sum x` and `sum |x|` tolerance relative to `sum |x|`: about ten
/// times the worst measured (2.4e-7, seed 3).
const STAGE_TOL: f64 = 3e-6;

/// max |diff| <= LOGIT_TOL x max |logit| and identical top-5.
fn assert_close(what: &str, ours: &[f32], timm: &[f32], timm_top5: &[usize]) {
    assert_eq!(ours.len(), timm.len(), "{what}: class count");
    let scale = timm.iter().fold(0f32, |m, v| m.max(v.abs()));
    let diff = ours
        .iter()
        .zip(timm)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!(
        "{what}: max|logit| {scale:.3}, max diff {diff:.2e} ({:.1e} relative)",
        diff / scale
    );
    assert!(
        diff <= LOGIT_TOL * scale,
        "{what}: max diff {diff} > {LOGIT_TOL:e} x {scale}"
    );
    assert_eq!(top_k(ours, 5), timm_top5, "{what}: top-5");
}

fn check_case(name: &str, layouts: &[Layout]) {
    let g = golden(name);
    let dt = dtype(&g.dtype);
    let v = Variant::by_name(&g.variant).expect("a known variant");
    // The generator reproduces timm's weights bit for bit.
    let mut tensors = synth::train_tensors(v, g.seed, g.classes);
    synth::round_to(&mut tensors, dt);
    assert_eq!(
        format!("{:016x}", synth::fingerprint(v, &tensors, g.classes)),
        g.weights.fnv1a64,
        "{}: weights",
        g.case
    );

    for &layout in layouts {
        let bytes = synth::checkpoint_bytes(v, g.seed, g.classes, layout, dt);
        let ck = checkpoint::parse(Path::new(&format!("{name}-{layout:?}.safetensors")), &bytes)
            .unwrap();
        assert_eq!(ck.variant, v, "variant detected from the shapes");
        assert_eq!(ck.layout, layout);
        assert_eq!(ck.classes, g.classes);
        assert_eq!(ck.dtype, dt);
        let folded = fold_checkpoint(&ck);
        for inp in &g.inputs {
            let r = g.resolution;
            let x = Fmap::new(3, r, r, synth::input(inp.input_seed, r, r));
            let what = format!("{name} {layout:?} input {}", inp.input_seed);
            if layout.is_train() {
                let mut stages = Vec::new();
                let logits = forward_train(&ck.tensors, &x, &mut |n: &str, t: &Fmap| {
                    let sum: f64 = t.data.iter().map(|&v| v as f64).sum();
                    let abs: f64 = t.data.iter().map(|&v| (v as f64).abs()).sum();
                    stages.push((n.to_string(), sum, abs));
                });
                assert_close(
                    &format!("{what} train graph"),
                    &logits,
                    &inp.logits_train,
                    &inp.top5_train,
                );
                assert_eq!(stages.len(), inp.stages_train.len());
                let mut worst = 0f64;
                for (n, sum, abs) in stages {
                    let [gsum, gabs] = inp.stages_train[&n];
                    let (e_abs, e_sum) = ((abs - gabs).abs() / gabs, (sum - gsum).abs() / gabs);
                    worst = worst.max(e_abs).max(e_sum);
                    assert!(
                        e_abs <= STAGE_TOL,
                        "{what} {n}: sum|x| {abs} vs timm {gabs}"
                    );
                    assert!(e_sum <= STAGE_TOL, "{what} {n}: sum x {sum} vs timm {gsum}");
                }
                eprintln!("{what}: stage sums within {worst:.1e} of sum|x|");
            }
            let logits = forward_folded(&folded, &x, &mut |_: &str, _: &Fmap| {});
            assert_close(
                &format!("{what} folded graph"),
                &logits,
                &inp.logits_reparam,
                &inp.top5_reparam,
            );
        }
    }
}

#[test]
fn seed1_f32_all_four_layouts() {
    check_case(
        "seed1_r256_c1000_f32",
        &[
            Layout::TimmTrain,
            Layout::TimmReparam,
            Layout::AppleTrain,
            Layout::AppleReparam,
        ],
    );
}

#[test]
fn seed2_resolution_224() {
    check_case("seed2_r224_c1000_f32", &[Layout::TimmTrain]);
}

#[test]
fn seed3_stored_as_f16() {
    check_case("seed3_r256_c1000_f16", &[Layout::TimmTrain]);
}

#[test]
fn seed4_ten_classes_bf16() {
    check_case(
        "seed4_r256_c10_bf16",
        &[Layout::TimmTrain, Layout::AppleTrain],
    );
}

/// The other RepMixer variants, same checks and tolerances as T8: each at
/// 256 and 224, across dtypes and layouts. Reparameterized layouts only in
/// f32: stored in f16/bf16 they round the fused weights, which timm's
/// goldens (fused in f32 from rounded train weights) do not.
const VARIANT_CASES: &[(&str, &[Layout])] = &[
    (
        "t12_seed11_r256_c1000_f32",
        &[Layout::TimmTrain, Layout::AppleReparam],
    ),
    ("t12_seed12_r224_c10_f16", &[Layout::TimmTrain]),
    (
        "s12_seed21_r256_c1000_bf16",
        &[Layout::TimmTrain, Layout::AppleTrain],
    ),
    ("s12_seed22_r224_c1000_f32", &[Layout::TimmReparam]),
];

#[test]
fn t12_and_s12_match_timm() {
    for (name, layouts) in VARIANT_CASES {
        check_case(name, layouts);
    }
}

/// `fixtures/timm/README.md` describes the committed goldens, not an
/// earlier run: its case table is recomputed here from every JSON file.
#[test]
fn fixture_readme_describes_the_committed_goldens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/timm");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let join = |v: Vec<String>| v.join(", ");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "json").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        let g = golden(name);
        let absmax = |i: &GoldenInput| i.logits_train.iter().fold(0f32, |m, v| m.max(v.abs()));
        let row = format!(
            "| `{name}.json` | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.variant,
            g.seed,
            g.resolution,
            g.classes,
            g.dtype,
            join(g.inputs.iter().map(|i| i.input_seed.to_string()).collect()),
            join(
                g.inputs
                    .iter()
                    .map(|i| format!("{:.1}", absmax(i)))
                    .collect()
            ),
            join(
                g.inputs
                    .iter()
                    .map(|i| format!("{:.1e}", i.max_abs_diff_train_vs_reparam))
                    .collect()
            ),
        );
        assert!(
            readme.contains(&row),
            "fixtures/timm/README.md has no row\n{row}\n(regenerate the case table from the JSON)"
        );
    }
}
