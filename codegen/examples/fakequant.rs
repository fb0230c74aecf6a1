//! Fake-quantizes activations one group at a time in the float graph to find
//! where int8 error comes from: `cargo run --release -p codegen --example fakequant -- [ALPHA]`.
use codegen::calibrate::{choose_ranges, collect, Range, RangeMethod};
use codegen::equalize::{channel_ranges, equalize};
use codegen::eval::class_centred_sqnr_db;
use codegen::float::{forward_folded, Fmap, Observer};
use codegen::fold::{fold, timm_reparam};
use codegen::images::*;
use codegen::quantize::QParams;
use codegen::synth;
use std::collections::BTreeMap;
type Picker = Box<dyn Fn(&str) -> bool>;

struct FQ<'a> {
    ranges: &'a BTreeMap<String, Range>,
    pick: &'a dyn Fn(&str) -> bool,
}
impl Observer for FQ<'_> {
    fn observe(&mut self, _: &str, _: &Fmap) {}
    fn transform(&mut self, name: &str, x: &mut Fmap) {
        if !(self.pick)(name) {
            return;
        }
        let q = QParams::from_range(self.ranges[name]);
        x.data
            .iter_mut()
            .for_each(|v| *v = q.dequantize(q.quantize(*v)));
    }
}
fn main() {
    let res = 128;
    let alpha: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(0.5);
    let folded0 = fold(&timm_reparam(&synth::train_tensors(
        codegen::arch::T8,
        1,
        1000,
    )));
    let calib = builtin_calibration(res);
    let folded = equalize(&folded0, &channel_ranges(&folded0, &calib, &|| {}), alpha);
    let dir = std::path::Path::new("host-tests/fixtures/eval");
    let eval = crop_inputs(dir, 13, res, 0xE7A1).unwrap();
    let ranges = choose_ranges(
        &collect(&folded, &calib, &|| {}),
        RangeMethod::Mse,
        &Default::default(),
        false,
    );
    let fl: Vec<Vec<f32>> = eval
        .iter()
        .map(|i| forward_folded(&folded, &i.normalized, &mut |_: &str, _: &Fmap| {}))
        .collect();
    let is_stream = |n: &str| {
        n.ends_with("token_mixer.reparam_conv")
            || (n.contains("blocks.") && !n.contains("mlp") && !n.contains("token_mixer"))
    };
    let cases: Vec<(&str, Picker)> = vec![
        ("all", Box::new(|_| true)),
        ("stream only", Box::new(move |n| is_stream(n))),
        (
            "pre-GELU only",
            Box::new(|n| {
                codegen::calibrate::Consumer::of(n) != codegen::calibrate::Consumer::Linear
            }),
        ),
        ("mlp.conv only", Box::new(|n| n.ends_with("mlp.conv.conv"))),
        ("fc1 pre+post only", Box::new(|n| n.contains("mlp.fc1"))),
        ("fc2 only", Box::new(|n| n.ends_with("mlp.fc2"))),
        ("stem only", Box::new(|n| n.starts_with("stem."))),
        ("downsample only", Box::new(|n| n.contains("downsample"))),
        (
            "final+head only",
            Box::new(|n| n.starts_with("final_conv") || n.starts_with("head")),
        ),
    ];

    for (label, pick) in &cases {
        let q: Vec<Vec<f32>> = eval
            .iter()
            .map(|inp| {
                let mut o = FQ {
                    ranges: &ranges,
                    pick: pick.as_ref(),
                };
                forward_folded(&folded, &inp.normalized, &mut o)
            })
            .collect();
        let pairs = fl.iter().zip(&q).map(|(f, q)| (&f[..], &q[..]));
        println!("{label:20} centred {:.2} dB", class_centred_sqnr_db(pairs));
    }
}
