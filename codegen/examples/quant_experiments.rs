//! Scratch experiments on the quantizer (not part of the test suite):
//! `cargo run --release -p codegen --example quant_experiments -- RES SEED [ALPHA...]`
use codegen::checkpoint::{self, DType, Layout};
use codegen::eval::evaluate;
use codegen::images::*;
use codegen::pipeline::{self, QuantOptions};
use codegen::synth;

fn eval_set(res: usize) -> Vec<ModelInput> {
    let dir = std::path::Path::new("host-tests/fixtures/eval");
    crop_inputs(dir, 13, res, 0xE7A1).unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let res: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(128);
    let seed: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1);
    let alphas: Vec<f64> = if args.len() > 3 {
        args[3..].iter().map(|s| s.parse().unwrap()).collect()
    } else {
        vec![0.5]
    };
    let bytes =
        synth::checkpoint_bytes(codegen::arch::T8, seed, 1000, Layout::TimmTrain, DType::F32);
    let ck = checkpoint::parse(std::path::Path::new("x"), &bytes).unwrap();
    let eval = eval_set(res);
    for alpha in alphas {
        for method in [
            codegen::calibrate::RangeMethod::Minmax,
            codegen::calibrate::RangeMethod::Percentile,
            codegen::calibrate::RangeMethod::Mse,
        ] {
            let opts = QuantOptions {
                quiet: true,
                equalization: alpha,
                method,
                ..QuantOptions::plain_int8(res)
            };
            let (calib, source) = pipeline::calibration_inputs(&opts).unwrap();
            let (folded, c) = pipeline::quantize(&ck, &calib, &source, &opts).unwrap();
            let r = evaluate(
                &folded,
                &c,
                &eval,
                std::env::var("LAYERS").is_ok(),
                None,
                &|| {},
            )
            .unwrap();
            println!("seed {seed} res {res} alpha {alpha} {method:?}: cos mean {:.5} min {:.5} centred {:.2} dB top1 {:.2}", r.cosine_mean, r.cosine_min, r.centred_logit_sqnr_db, r.top1_agreement);
            for l in &r.layers {
                println!("   {:48} {:.2}", l.name, l.sqnr_db);
            }
        }
    }
}
