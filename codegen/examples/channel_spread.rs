use codegen::float::*;
use codegen::fold::{fold, timm_reparam};
use codegen::images::*;
use codegen::synth;
fn main() {
    let res = 128;
    let folded = fold(&timm_reparam(&synth::train_tensors(1, 1000)));
    let calib = builtin_calibration(res);
    let names = ["stem.0.reparam_conv.act", "stem.2.reparam_conv.act", "stages.0.blocks.0.token_mixer.reparam_conv", "stages.0.blocks.1", "stages.1.blocks.1.mlp.conv.conv", "stages.2.blocks.0.mlp.fc1.act", "stages.2.blocks.3", "stages.2.blocks.3.mlp.conv.conv", "stages.3.blocks.1"];
    forward_folded(&folded, &calib[0].normalized, &mut |n: &str, x: &Fmap| {
        if !names.contains(&n) { return; }
        let hw = x.h * x.w;
        let mut rng: Vec<f32> = (0..x.c).map(|c| { let s = &x.data[c*hw..(c+1)*hw]; s.iter().fold(f32::MIN, |a,&b| a.max(b)) - s.iter().fold(f32::MAX, |a,&b| a.min(b)) }).collect();
        let mut std: Vec<f32> = (0..x.c).map(|c| { let s = &x.data[c*hw..(c+1)*hw]; let m = s.iter().sum::<f32>()/hw as f32; (s.iter().map(|v| (v-m)*(v-m)).sum::<f32>()/hw as f32).sqrt() }).collect();
        let (gmin, gmax) = x.data.iter().fold((f32::MAX, f32::MIN), |(a,b),&v| (a.min(v), b.max(v)));
        rng.sort_by(|a,b| a.total_cmp(b)); std.sort_by(|a,b| a.total_cmp(b));
        let gstd = { let m = x.data.iter().sum::<f32>()/x.data.len() as f32; (x.data.iter().map(|v| (v-m)*(v-m)).sum::<f32>()/x.data.len() as f32).sqrt() };
        println!("{n:45} global [{gmin:.2},{gmax:.2}] std {gstd:.3} | per-ch range min/med/max {:.2}/{:.2}/{:.2} | per-ch std min/med/max {:.3}/{:.3}/{:.3}", rng[0], rng[x.c/2], rng[x.c-1], std[0], std[x.c/2], std[x.c-1]);
    });
}
