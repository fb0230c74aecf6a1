//! Scratch experiments on the quantizer (not part of the test suite).
use codegen::calibrate::{choose_ranges, collect, RangeMethod};
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
            out.push(ModelInput { name: "x".into(), normalized: normalize(&rgb, res, res), rgb: Some(rgb) });
        }
    }
    out
}

fn main() {
    let res: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(128);
    let folded = fold(&timm_reparam(&synth::train_tensors(1, 1000)));
    let calib = builtin_calibration(res);
    let eval = eval_set(res);
    for (label, cal) in [("builtin", &calib), ("oracle", &eval)] {
        let stats = collect(&folded, cal, &|| {});
        for method in [RangeMethod::Minmax, RangeMethod::Percentile, RangeMethod::Mse] {
            let ranges = choose_ranges(&stats, method);
            let s = Settings { method, calibration_inputs: cal.len(), calibration_source: label.into(), resolution: res };
            let c = compile(&folded, &ranges, s);
            let t = std::time::Instant::now();
            let r = evaluate(&folded, &c, &eval, false, None, &|| {}).unwrap();
            println!("{label:8} {method:?}: cos mean {:.5} min {:.5} centred {:.2} dB top1 {:.2} ({:?})", r.cosine_mean, r.cosine_min, r.centred_logit_sqnr_db, r.top1_agreement, t.elapsed());
        }
    }
}
