//! Scratch experiments on the quantizer (not part of the test suite).
use codegen::calibrate::{choose_ranges, collect, RangeMethod};
use codegen::equalize::{channel_ranges, equalize};
use codegen::eval::evaluate;
use codegen::fold::{fold, timm_reparam};
use codegen::images::*;
use codegen::quantize::{compile, Settings};
use codegen::synth;

fn eval_set(res: usize) -> Vec<ModelInput> {
    let dir = std::path::Path::new("host-tests/fixtures/eval");
    let mut out = Vec::new();
    for (i, p) in image_files(dir).unwrap().iter().enumerate() {
        let img = read_image(p).unwrap();
        for c in derived_crops(&img, 13, res, 0xE7A1 + i as u64) {
            let rgb = c.as_raw().clone();
            out.push(ModelInput {
                name: "x".into(),
                normalized: normalize(&rgb, res, res),
                rgb: Some(rgb),
            });
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let res: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(128);
    let seed: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1);
    let folded0 = fold(&timm_reparam(&synth::train_tensors(seed, 1000)));
    let calib = builtin_calibration(res);
    let eval = eval_set(res);
    let cs = channel_ranges(&folded0, &calib, &|| {});
    for alpha in [0.0, 0.5, 0.75, 1.0] {
        let folded = equalize(&folded0, &cs, alpha);
        let stats = collect(&folded, &calib, &|| {});
        for method in [RangeMethod::Percentile, RangeMethod::Mse] {
            let ranges = choose_ranges(&stats, method);
            let s = Settings {
                method,
                calibration_inputs: calib.len(),
                calibration_source: "b".into(),
                resolution: res,
            };
            let c = compile(&folded, &ranges, s);
            let r = evaluate(&folded, &c, &eval, false, None, &|| {}).unwrap();
            println!(
                "alpha {alpha} {method:?}: cos mean {:.5} min {:.5} centred {:.2} dB top1 {:.2}",
                r.cosine_mean, r.cosine_min, r.centred_logit_sqnr_db, r.top1_agreement
            );
        }
    }
}
