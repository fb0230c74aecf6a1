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
//! The target (issue: 28 dB in the int8 build) is NOT met; the floors below
//! sit just under the best figure reached so far, so a change that makes the
//! quantizer worse on a trained model fails here. Raise them as it improves.

use std::path::{Path, PathBuf};

use codegen::eval::{evaluate, input_centred_sqnr_db};
use codegen::float::top_k;
use codegen::images::load_input;
use codegen::pipeline::{self, QuantOptions};

/// Regression floor (measured 23.62 dB, 2026-12-05, default options, with
/// the int16 head; 22.86 dB with int8 logits).
const SQNR_FLOOR_DB: f64 = 23.4;

fn kit() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/proxy");
    p.join("model.safetensors").is_file().then_some(p)
}

fn centred(v: &[f32]) -> Vec<f64> {
    let m = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    v.iter().map(|&x| x as f64 - m).collect()
}

#[test]
fn int8_fidelity_on_the_trained_proxy() {
    let Some(kit) = kit() else {
        eprintln!("SKIPPED: no proxy kit at ../shared/proxy beside the checkout");
        return;
    };
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(kit.join("reference.json")).unwrap())
            .unwrap();
    // As `codegen eval CKPT ... --calib DIR` with every other option default.
    let opts = QuantOptions {
        calib: Some(kit.join("calib")),
        quiet: true,
        ..QuantOptions::default()
    };
    let (ck, _) = pipeline::load_or_synthesize(Some(&kit.join("model.safetensors"))).unwrap();
    let (calib, source) = pipeline::calibration_inputs(&opts).unwrap();
    let (folded, compiled) = pipeline::quantize(&ck, &calib, &source, &opts);
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
    eprintln!(
        "proxy kit, kit calibration: centred logit SQNR {sqnr:.2} dB (target 28, floor \
         {SQNR_FLOOR_DB}); confident top-1 kept {kept}/{confident}; float top-1 in int8 \
         top-5 {in_top5}/48; cosine mean {:.6} min {:.6}",
        report.cosine_mean, report.cosine_min
    );
    assert!(
        sqnr >= SQNR_FLOOR_DB,
        "centred SQNR {sqnr:.2} dB < floor {SQNR_FLOOR_DB}"
    );
    assert_eq!(kept, confident, "confident float top-1 lost");
    assert_eq!(in_top5, 48, "float top-1 outside the int8 top-5");
}
