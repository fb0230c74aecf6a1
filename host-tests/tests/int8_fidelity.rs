//! int8 against float on natural-image crops disjoint from calibration.
//! Bars (issue "int8 end to end"): logits cosine mean >= 0.999, min >= 0.998,
//! centred logit SQNR >= 28 dB, on fan-in fixture checkpoints.

use codegen::calibrate::{choose_ranges, collect, RangeMethod};
use codegen::eval::evaluate;
use codegen::fold::{fold, timm_reparam};
use codegen::images::builtin_calibration;
use codegen::quantize::{compile, Settings};
use codegen::synth;

fn run(seed: u64, classes: usize, res: usize, method: RangeMethod) -> codegen::eval::Report {
    let folded = fold(&timm_reparam(&synth::train_tensors(seed, classes)));
    let calib = builtin_calibration(res);
    let stats = collect(&folded, &calib, &|| {});
    let ranges = choose_ranges(&stats, method);
    let settings = Settings {
        method,
        calibration_inputs: calib.len(),
        calibration_source: "built-in".into(),
        resolution: res,
    };
    let compiled = compile(&folded, &ranges, settings);
    let eval = host_tests::eval_set(res);
    let r = evaluate(&folded, &compiled, &eval, true, None, &|| {}).unwrap();
    eprintln!(
        "seed {seed} res {res} {method:?}: cosine mean {:.5} min {:.5}, centred SQNR {:.2} dB, top1 {:.2}, arena {}",
        r.cosine_mean, r.cosine_min, r.centred_logit_sqnr_db, r.top1_agreement, compiled.arena_bytes
    );
    for l in &r.layers {
        eprintln!("  {:50} {:6.2} dB", l.name, l.sqnr_db);
    }
    r
}

#[test]
fn int8_meets_the_fidelity_bars() {
    for seed in [1u64, 2] {
        let r = run(seed, 1000, 256, RangeMethod::Mse);
        assert!(
            r.cosine_mean >= 0.999,
            "seed {seed}: cosine mean {}",
            r.cosine_mean
        );
        assert!(
            r.cosine_min >= 0.998,
            "seed {seed}: cosine min {}",
            r.cosine_min
        );
        assert!(
            r.centred_logit_sqnr_db >= 28.0,
            "seed {seed}: centred SQNR {}",
            r.centred_logit_sqnr_db
        );
    }
}
