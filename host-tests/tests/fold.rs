//! The folded graph computes the train-time graph (f32), and the key tables
//! match timm's state dict exactly.

use codegen::arch;
use codegen::float::{forward_folded, forward_train, Fmap};
use codegen::fold::{fold, timm_reparam};
use codegen::synth;

#[test]
fn train_keys_match_timm_state_dict() {
    let text = include_str!("../fixtures/fastvit_t8_keys.txt");
    let timm: Vec<(String, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut it = l.split('\t');
            (
                it.next().unwrap().to_string(),
                it.next().unwrap().to_string(),
            )
        })
        .collect();
    let ours: Vec<(String, String)> = arch::train_keys(arch::T8, 1000)
        .into_iter()
        .map(|k| {
            let dims: Vec<String> = k.shape.iter().map(|d| d.to_string()).collect();
            let shape = match dims.len() {
                0 => "()".to_string(),
                1 => format!("({},)", dims[0]),
                _ => format!("({})", dims.join(", ")),
            };
            (k.name, shape)
        })
        .collect();
    assert_eq!(ours, timm);
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}

#[test]
fn folded_graph_matches_train_graph() {
    for (seed, res) in [(11u64, 256usize), (12, 160)] {
        let train = synth::train_tensors(codegen::arch::T8, seed, 1000);
        let folded = fold(&timm_reparam(&train));
        let x = Fmap::new(3, res, res, synth::input(seed + 100, res, res));
        let a = forward_train(&train, &x, &mut |_: &str, _: &Fmap| {});
        let b = forward_folded(&folded, &x, &mut |_: &str, _: &Fmap| {});
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        let scale = max_abs(&a);
        eprintln!("seed {seed} res {res}: max|logit| {scale}, max diff {diff}");
        assert!(scale > 0.5, "logits carry signal");
        // About ten times the worst measured (5.8e-7 x max|logit|, seed 11);
        // the product's bar is 1e-4.
        assert!(diff <= 6e-6 * scale, "fold error {diff} > 6e-6 x {scale}");
    }
}
