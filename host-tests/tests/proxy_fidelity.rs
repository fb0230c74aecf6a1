//! int8 fidelity on a *trained* FastViT-T8: the proxy kit of
//! `../shared/proxy` beside the checkout (a briefly trained model, its
//! calibration folder, 48 evaluation inputs and timm's float logits for
//! them; see its README). Where the kit is absent the test says so and
//! passes: it is not part of the repository.
//!
//! The metrics are the kit's `fidelity.py`: centred logit SQNR
//! `10 log10(sum |c(f)|^2 / sum |c(q) - c(f)|^2)` with `c(v) = v - mean(v)`
//! per input and `f` timm's logits, top-1 agreement on confident inputs
//! (float margin > 0.2 std of `c(f)`), float top-1 inside the int8 top-5.
//!
//! The targets (issue: 28 dB in the default build, within 224 KiB of arena;
//! 32 dB in a build within 512 KiB of RAM) are met by the default build
//! (`--int16 auto`: the 16-bit groups chosen under the 224 KiB budget) and
//! by the 512 KiB list; the floors below sit just under the best figure
//! reached so far, so a change that makes the quantizer worse on a trained
//! model fails here. Raise them as it improves.

use std::path::{Path, PathBuf};

use codegen::eval::{evaluate, input_centred_sqnr_db};
use codegen::float::top_k;
use codegen::images::load_input;
use codegen::pipeline::{self, QuantOptions};

/// Regression floor of the plain int8 build (`--int16 head
/// --no-bias-correction --clip-pooled`; measured 23.62 dB, 2026-12-05, with
/// the int16 head; 22.86 dB with int8 logits; 24.21 dB with the corrections:
/// docs/numerics.md).
const SQNR_FLOOR_DB: f64 = 23.4;

/// Regression floor of the build within 512 KiB: every residual stream,
/// every ConvMlp's internals and each downsample's `proj.0` output at 16
/// bits, with the default corrections (measured 32.21 dB, 2026-12-06;
/// 30.51 dB with bias correction alone, 30.30 dB with neither, 27.40 dB
/// with the streams alone; `--int16 auto --arena-budget 524288` picks this
/// list).
const WIDE_SQNR_FLOOR_DB: f64 = 32.0;

/// The 16-bit groups of that build.
const WIDE_512K: &str = "head,stages.0,stages.1,stages.2,stages.3,stages.0.mlp,stages.1.mlp,\
                         stages.2.mlp,stages.3.mlp,stages.1.downsample,stages.2.downsample,\
                         stages.3.downsample";

/// Regression floor of the default build (`--int16 auto` within 224 KiB,
/// bias correction, pooled tensors unclipped): on the kit it chooses stages
/// 1-3's streams and ConvMlp internals and stage 3's downsample (measured
/// 28.58 dB, 2026-12-06; that list with bias correction alone 27.71 dB,
/// with neither correction 27.26 dB).
const DEFAULT_SQNR_FLOOR_DB: f64 = 28.4;

fn kit() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/proxy");
    p.join("model.safetensors").is_file().then_some(p)
}

fn centred(v: &[f32]) -> Vec<f64> {
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    v.iter().map(|&x| x as f64 - m).collect()
}

/// The kit's figures for one build.
struct Fidelity {
    sqnr: f64,
    confident: usize,
    kept: usize,
    in_top5: usize,
    arena_bytes: usize,
}

/// The builds measured.
#[derive(Clone, Debug)]
enum Build {
    /// `codegen eval CKPT ... --calib DIR`: every option default.
    Default,
    /// The default options but these fixed 16-bit groups.
    Groups(&'static str),
    /// `--int16 head --no-bias-correction --clip-pooled`.
    PlainInt8,
}

/// Quantizes the kit's model as `codegen eval CKPT ... --calib DIR` does for
/// `build`, and measures it against timm's logits.
fn measure(kit: &Path, build: &Build) -> Fidelity {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kit.join("reference.json")).unwrap())
            .unwrap();
    let base = match build {
        Build::Default => QuantOptions::default(),
        Build::Groups(g) => QuantOptions {
            int16: g.parse().unwrap(),
            int16_budget: None,
            ..QuantOptions::default()
        },
        Build::PlainInt8 => QuantOptions::plain_int8(256),
    };
    let opts = QuantOptions {
        calib: Some(kit.join("calib")),
        quiet: true,
        ..base
    };
    let (ck, _) = pipeline::load_or_synthesize(Some(&kit.join("model.safetensors"))).unwrap();
    let (calib, source) = pipeline::calibration_inputs(&opts).unwrap();
    let (folded, compiled) = pipeline::quantize(&ck, &calib, &source, &opts).unwrap();
    let mut names: Vec<String> = reference["logits"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    names.sort();
    assert_eq!(names.len(), 48, "the kit's 48 evaluation inputs");
    let inputs: Vec<_> = names
        .iter()
        .map(|n| load_input(&kit.join("eval").join(n), opts.resolution).unwrap())
        .collect();
    let report = evaluate(&folded, &compiled, &inputs, false, None, &|| {}).unwrap();

    let float: Vec<Vec<f32>> = names
        .iter()
        .map(|name| {
            reference["logits"][name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let sqnr = input_centred_sqnr_db(
        float
            .iter()
            .zip(&report.inputs)
            .map(|(f, r)| (f.as_slice(), r.logits_int8.as_slice())),
    );
    let (mut confident, mut kept, mut in_top5) = (0, 0, 0);
    for (f, r) in float.iter().zip(&report.inputs) {
        let (rf, rq) = (top_k(f, 2), top_k(&r.logits_int8, 5));
        let cf = centred(f);
        let std = (cf.iter().map(|x| x * x).sum::<f64>() / cf.len() as f64).sqrt();
        if (f[rf[0]] - f[rf[1]]) as f64 > 0.2 * std {
            confident += 1;
            kept += usize::from(rq[0] == rf[0]);
        }
        in_top5 += usize::from(rq.contains(&rf[0]));
    }
    // The targets: 28 dB within 224 KiB, 32 dB within 512 KiB.
    let target = if compiled.arena_bytes <= 224 * 1024 {
        28
    } else {
        32
    };
    eprintln!(
        "proxy kit, kit calibration, {build:?} (--int16 {}): centred logit SQNR {sqnr:.2} dB \
         (target {target}); confident top-1 kept {kept}/{confident}; float top-1 in int8 top-5 \
         {in_top5}/48; cosine mean {:.6} min {:.6}; arena {} bytes",
        compiled.settings.int16, report.cosine_mean, report.cosine_min, compiled.arena_bytes
    );
    Fidelity {
        sqnr,
        confident,
        kept,
        in_top5,
        arena_bytes: compiled.arena_bytes,
    }
}

/// Measures `build` on the kit (or says it was skipped) and asserts its
/// arena within `arena_max` bytes, its SQNR above `floor`, and the top-1 /
/// top-5 targets.
fn check_build(build: Build, arena_max: usize, floor: f64) {
    let Some(kit) = kit() else {
        eprintln!("SKIPPED: no proxy kit at ../shared/proxy beside the checkout");
        return;
    };
    let f = measure(&kit, &build);
    assert!(f.arena_bytes <= arena_max, "arena {} bytes", f.arena_bytes);
    assert!(
        f.sqnr >= floor,
        "centred SQNR {:.2} dB < floor {floor}",
        f.sqnr
    );
    assert_eq!(f.kept, f.confident, "confident float top-1 lost");
    assert_eq!(f.in_top5, 48, "float top-1 outside the int8 top-5");
}

/// The default build: `--int16 auto` within the default 224 KiB arena.
#[test]
fn default_build_on_the_trained_proxy() {
    check_build(Build::Default, 224 * 1024, DEFAULT_SQNR_FLOOR_DB);
}

/// The plain int8 build (only the head at 16 bits, no corrections).
#[test]
fn plain_int8_build_on_the_trained_proxy() {
    check_build(Build::PlainInt8, 224 * 1024, SQNR_FLOOR_DB);
}

/// The higher-precision build ([`WIDE_512K`]), in 512 KiB of arena (an
/// RP2350 has 520 KB of RAM).
#[test]
fn int16_build_in_512k_on_the_trained_proxy() {
    check_build(Build::Groups(WIDE_512K), 512 * 1024, WIDE_SQNR_FLOOR_DB);
}
