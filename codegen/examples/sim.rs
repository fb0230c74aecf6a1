//! Float fake-quant simulation of the int8 scheme, to find where the error
//! comes from (not part of the test suite):
//! `cargo run --release -p codegen --example sim -- RES SEED NEVAL CMD...`
//! CMD: `base` (weights only / activations only / both), `groups`
//! (activations of one group of layers), `wlayers` (one conv's weights at a
//! time), `alayers` (one activation tensor at a time), `bc` (bias
//! correction), `wides` (16-bit activations for each `;`-separated set of
//! `WIDES`), `wgain` (each tensor alone at 16 bits, then greedily by dB per
//! element), `spread`, `names`.
//! A trained checkpoint instead of the seeded fixture: `CKPT=file.safetensors
//! CALIB=dir EVAL=dir-of-npy` (SEED is then ignored; SQNR is centred per
//! input, as the proxy kit's `fidelity.py` measures it).
use codegen::bias_correction::conv_input_means;
use codegen::calibrate::{choose_ranges, collect, Range, RangeMethod};
use codegen::equalize::{channel_ranges, equalize_with, Alphas};
use codegen::eval::db;
use codegen::float::{forward_folded, Fmap, Observer};
use codegen::fold::{fold, timm_reparam, ConvW, Folded};
use codegen::images::*;
use codegen::quantize::QParams;
use codegen::synth;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A tensor-name predicate.
type Pick<'a> = &'a (dyn Fn(&str) -> bool + Sync);

struct FQ<'a> {
    ranges: &'a BTreeMap<String, Range>,
    pick: &'a (dyn Fn(&str) -> bool + Sync),
}
impl Observer for FQ<'_> {
    fn observe(&mut self, _: &str, _: &Fmap) {}
    fn transform(&mut self, name: &str, x: &mut Fmap) {
        if !(self.pick)(name) {
            return;
        }
        fake_quant(name, self.ranges[name], &mut x.data);
    }
}

/// Calibration min/max ranges (for the `WIDE` tensors).
static MINMAX: std::sync::OnceLock<BTreeMap<String, Range>> = std::sync::OnceLock::new();

/// Fake-quantizes `x` with the int8 parameters of `r`, or with 16 bits over
/// the same range when `name` contains a pattern of `WIDE` (comma-separated).
fn fake_quant(name: &str, r: Range, x: &mut [f32]) {
    let wide = std::env::var("WIDE").unwrap_or_default();
    // `=name` matches one tensor exactly, anything else as a substring.
    let hit = |p: &str| p.strip_prefix('=').map_or(name.contains(p), |e| name == e);
    if wide.split(',').any(|p| !p.is_empty() && hit(p)) {
        // A wide tensor needs no clipping: its calibration min/max times
        // `WK` (default 2).
        let m = MINMAX.get().expect("set in main")[name];
        let (lo, hi) = {
            let k: f64 = std::env::var("WK")
                .map(|s| s.parse().unwrap())
                .unwrap_or(2.0);
            (k * m.lo.min(0.0) as f64, k * m.hi.max(0.0) as f64)
        };
        let s = ((hi - lo) / 65535.0).max(1e-12);
        x.iter_mut().for_each(|v| {
            *v = (((*v as f64 - lo) / s).round().clamp(0.0, 65535.0) * s + lo) as f32
        });
        return;
    }
    let q = QParams::from_range(r);
    x.iter_mut().for_each(|v| *v = q.dequantize(q.quantize(*v)));
}

/// Index within an output channel's weights of its identity tap (the
/// centre tap of input channel `o`), for convs where `cin == cout`, stride 1
/// and the conv is depthwise or 1x1 dense.
fn identity_tap(c: &ConvW, o: usize) -> Option<usize> {
    if std::env::var("SPLIT").is_err() || c.cin != c.cout || c.stride != 1 {
        return None;
    }
    if c.groups == c.cin {
        Some(c.k * c.k / 2)
    } else if c.k == 1 && c.groups == 1 {
        Some(o)
    } else {
        None
    }
}

fn fq_conv(c: &mut ConvW) -> (f64, f64) {
    let per = c.fan_in();
    let (mut s, mut e) = (0.0, 0.0);
    for o in 0..c.cout {
        let id = identity_tap(c, o);
        let w = &mut c.weight[o * per..(o + 1) * per];
        let wmax = w
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != id)
            .fold(0f32, |m, (_, v)| m.max(v.abs())) as f64;
        let sw = if wmax > 0.0 { wmax / 127.0 } else { 1.0 };
        for (i, v) in w.iter_mut().enumerate() {
            let lim = if Some(i) == id { 1e9 } else { 127.0 };
            let q = ((*v as f64 / sw).round().clamp(-lim, lim) * sw) as f32;
            s += (*v as f64).powi(2);
            e += (*v as f64 - q as f64).powi(2);
            *v = q;
        }
    }
    (s, e)
}

fn convs_mut(f: &mut Folded) -> Vec<&mut ConvW> {
    let mut v: Vec<&mut ConvW> = f.stem.iter_mut().collect();
    for s in &mut f.stages {
        if let Some(d) = &mut s.downsample {
            v.extend(d.iter_mut());
        }
        for b in &mut s.blocks {
            v.extend([&mut b.token_mixer, &mut b.mlp_conv, &mut b.fc1, &mut b.fc2]);
        }
    }
    v.extend([&mut f.final_conv, &mut f.se_fc1, &mut f.se_fc2, &mut f.head]);
    v
}

pub fn fq_weights(f: &Folded, pick: &dyn Fn(&str) -> bool) -> Folded {
    let mut g = f.clone();
    for c in convs_mut(&mut g) {
        if pick(&c.name) {
            fq_conv(c);
        }
    }
    g
}

/// Per-channel means of every observed tensor (pre-quantization values in
/// `transform`) over `inputs`, with activations fake-quantized if `fq`.
fn channel_means(
    g: &Folded,
    inputs: &[ModelInput],
    ranges: &BTreeMap<String, Range>,
    fq: bool,
) -> BTreeMap<String, Vec<f64>> {
    struct M<'a> {
        ranges: &'a BTreeMap<String, Range>,
        fq: bool,
        sums: BTreeMap<String, Vec<f64>>,
    }
    impl Observer for M<'_> {
        fn observe(&mut self, _: &str, _: &Fmap) {}
        fn transform(&mut self, name: &str, x: &mut Fmap) {
            let n = x.h * x.w;
            let e = self
                .sums
                .entry(name.to_string())
                .or_insert_with(|| vec![0.0; x.c]);
            for (ec, plane) in e.iter_mut().zip(x.data.chunks_exact(n.max(1))) {
                *ec += plane.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            }
            if self.fq {
                fake_quant(name, self.ranges[name], &mut x.data);
            }
        }
    }
    let all: Vec<BTreeMap<String, Vec<f64>>> = inputs
        .par_iter()
        .map(|inp| {
            let mut m = M {
                ranges,
                fq,
                sums: BTreeMap::new(),
            };
            forward_folded(g, &inp.normalized, &mut m);
            m.sums
        })
        .collect();
    let mut out = all[0].clone();
    for m in &all[1..] {
        for (k, v) in m {
            out.get_mut(k)
                .unwrap()
                .iter_mut()
                .zip(v)
                .for_each(|(a, b)| *a += b);
        }
    }
    out.values_mut()
        .for_each(|v| v.iter_mut().for_each(|x| *x /= inputs.len() as f64));
    out
}

/// Empirical bias correction: subtracts each linear conv output's mean
/// fake-quant error (measured on `calib`) from its bias; `iters` rounds.
fn bias_correct(
    float: &Folded,
    wq: &Folded,
    calib: &[ModelInput],
    ranges: &BTreeMap<String, Range>,
    iters: usize,
) -> Folded {
    let reference = channel_means(float, calib, ranges, false);
    let mut g = wq.clone();
    for _ in 0..iters {
        let got = channel_means(&g, calib, ranges, true);
        for c in convs_mut(&mut g) {
            // ReLU follows se.fc1's observation point: not linear there.
            if c.name == "final_conv.se.fc1" {
                continue;
            }
            let (Some(a), Some(b)) = (got.get(&c.name), reference.get(&c.name)) else {
                continue;
            };
            for o in 0..c.cout {
                c.bias[o] -= (a[o] - b[o]) as f32;
            }
        }
    }
    g
}

/// Local bias correction as codegen builds it (`--bias-correction`,
/// [`codegen::bias_correction`]): each conv of `wq` loses the mean shift of
/// its rounding from `float`, from the calibration inputs' channel means.
fn local_bias_correct(float: &Folded, wq: &Folded, calib: &[ModelInput]) -> Folded {
    let means = conv_input_means(float, calib, &|| {});
    let mut g = wq.clone();
    for (c, f) in convs_mut(&mut g).into_iter().zip(float.convs()) {
        let Some(m) = means.get(&c.name) else {
            continue;
        };
        let shares = m.tap_shares(f);
        let per = c.fan_in();
        for o in 0..c.cout {
            let rounded: Vec<f64> = c.weight[o * per..(o + 1) * per]
                .iter()
                .map(|&v| v as f64)
                .collect();
            c.bias[o] -= m.shift(f, o, &rounded, &shares) as f32;
        }
    }
    g
}

struct Ctx {
    eval: Vec<ModelInput>,
    fl: Vec<Vec<f32>>,
    ranges: BTreeMap<String, Range>,
}

impl Ctx {
    fn sqnr(&self, g: &Folded, pick0: &(dyn Fn(&str) -> bool + Sync)) -> f64 {
        let skip: Vec<String> = std::env::var("SKIP")
            .map(|s| s.split(',').map(String::from).collect())
            .unwrap_or_default();
        let pick = &|n: &str| pick0(n) && !skip.iter().any(|s| s == n);
        let q: Vec<Vec<f32>> = self
            .eval
            .par_iter()
            .map(|inp| {
                let mut o = FQ {
                    ranges: &self.ranges,
                    pick,
                };
                forward_folded(g, &inp.normalized, &mut o)
            })
            .collect();
        let pairs = self.fl.iter().zip(&q).map(|(f, q)| (&f[..], &q[..]));
        if std::env::var("CKPT").is_ok() {
            return codegen::eval::input_centred_sqnr_db(pairs);
        }
        // Fixtures: centred by each class's mean over the evaluation set.
        codegen::eval::class_centred_sqnr_db(pairs)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let res: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(128);
    let seed: u64 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(1);
    let neval: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(13);
    let cmds: Vec<String> = args.iter().skip(4).cloned().collect();
    let alpha: f64 = std::env::var("ALPHA")
        .ok()
        .map(|s| s.parse().unwrap())
        .unwrap_or(0.5);
    let ckpt = std::env::var("CKPT").ok();
    let folded0 = match &ckpt {
        Some(p) => codegen::fold::fold_checkpoint(
            &codegen::checkpoint::load(std::path::Path::new(p)).unwrap(),
        ),
        None => fold(&timm_reparam(&synth::train_tensors(
            codegen::arch::T8,
            seed,
            1000,
        ))),
    };
    let calib = match std::env::var("CALIB") {
        Ok(d) => folder_inputs(std::path::Path::new(&d), res).unwrap(),
        Err(_) => builtin_calibration(res),
    };
    let env = |k: &str, d: f64| -> f64 {
        std::env::var(k)
            .ok()
            .map(|s| s.parse().unwrap())
            .unwrap_or(d)
    };
    let al = Alphas {
        stream: env("A_STREAM", alpha),
        mlp: env("A_MLP", alpha),
        proj: env("A_PROJ", alpha),
        final_conv: env("A_FINAL", alpha),
        pool: env("A_POOL", alpha),
        se_hidden: env("A_SEH", 0.0),
    };
    let folded = equalize_with(&folded0, &channel_ranges(&folded0, &calib, &|| {}), &al);
    let dir = std::path::Path::new("host-tests/fixtures/eval");
    // The kit's `.npy` inputs, or crops of the evaluation photos.
    let eval = match std::env::var("EVAL") {
        Ok(d) => {
            let mut files: Vec<_> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            files.iter().map(|p| load_input(p, res).unwrap()).collect()
        }
        Err(_) => crop_inputs(dir, 13, res, 0xE7A1).unwrap(),
    };
    // Spread the subset over the four photos.
    let stride = (eval.len() / neval.max(1)).max(1);
    let eval: Vec<ModelInput> = eval.into_iter().step_by(stride).take(neval).collect();
    let stats = collect(&folded, &calib, &|| {});
    let ranges = choose_ranges(&stats, RangeMethod::Mse, &Default::default(), false);
    MINMAX
        .set(choose_ranges(
            &stats,
            RangeMethod::Minmax,
            &Default::default(),
            false,
        ))
        .unwrap();
    let fl: Vec<Vec<f32>> = eval
        .par_iter()
        .map(|i| forward_folded(&folded, &i.normalized, &mut |_: &str, _: &Fmap| {}))
        .collect();
    let ctx = Ctx { eval, fl, ranges };
    let none = |_: &str| false;
    let all = |_: &str| true;
    let wq_all = fq_weights(&folded, &all);
    for cmd in &cmds {
        match cmd.as_str() {
            "base" => {
                let wq = fq_weights(&folded, &all);
                println!("weights only   {:.2} dB", ctx.sqnr(&wq, &none));
                println!("acts only      {:.2} dB", ctx.sqnr(&folded, &all));
                println!("both           {:.2} dB", ctx.sqnr(&wq, &all));
            }
            "bc" => {
                let wq = fq_weights(&folded, &all);
                for iters in [1, 2, 3] {
                    let g = bias_correct(&folded, &wq, &calib, &ctx.ranges, iters);
                    println!("bias corrected x{iters}: both {:.2} dB", ctx.sqnr(&g, &all));
                }
            }
            "lbc" => {
                let wq = fq_weights(&folded, &all);
                let g = local_bias_correct(&folded, &wq, &calib);
                println!(
                    "weights only   {:.2} dB, corrected {:.2} dB",
                    ctx.sqnr(&wq, &none),
                    ctx.sqnr(&g, &none)
                );
                println!(
                    "both           {:.2} dB, corrected {:.2} dB",
                    ctx.sqnr(&wq, &all),
                    ctx.sqnr(&g, &all)
                );
                if let Ok(sets) = std::env::var("WIDES") {
                    for set in sets.split(';') {
                        std::env::set_var("WIDE", set);
                        println!(
                            "16-bit {set:40} both {:.2} dB, corrected {:.2} dB",
                            ctx.sqnr(&wq, &all),
                            ctx.sqnr(&g, &all)
                        );
                    }
                    std::env::remove_var("WIDE");
                }
            }
            "groups" => {
                let groups: [(&str, Pick); 5] = [
                    ("stem", &|n| n.starts_with("stem.")),
                    ("downsample", &|n| n.contains("downsample")),
                    ("residual stream", &|n| {
                        n.ends_with("token_mixer.reparam_conv")
                            || (n.contains("blocks.")
                                && !n.contains("mlp")
                                && !n.contains("token_mixer"))
                    }),
                    ("ConvMlp internals", &|n| n.contains(".mlp.")),
                    ("final_conv, SE, pool, head", &|n| {
                        n.starts_with("final_conv") || n.starts_with("head")
                    }),
                ];
                for (label, pick) in groups {
                    println!("acts of {label:28} only {:.2} dB", ctx.sqnr(&folded, pick));
                }
            }
            "wlayers" => {
                for c in folded.convs() {
                    let mut cc = c.clone();
                    let (s, e) = fq_conv(&mut cc);
                    let name = c.name.clone();
                    let g = fq_weights(&folded, &|n| n == name);
                    println!(
                        "{:48} w {:6.2} dB  logits {:6.2} dB",
                        c.name,
                        db(s, e),
                        ctx.sqnr(&g, &none)
                    );
                }
            }
            "spread" => {
                let ev = choose_ranges(
                    &collect(&folded, &ctx.eval, &|| {}),
                    RangeMethod::Minmax,
                    &Default::default(),
                    false,
                );
                let mm = MINMAX.get().unwrap();
                for (n, r) in &ctx.ranges {
                    let (c, e) = (mm[n], ev[n]);
                    println!(
                        "{n:48} mse [{:8.2},{:8.2}] calib [{:8.2},{:8.2}] eval [{:8.2},{:8.2}] x{:.2}",
                        r.lo, r.hi, c.lo, c.hi, e.lo, e.hi,
                        (e.hi - e.lo) / (c.hi - c.lo)
                    );
                }
            }
            "wides" => {
                // `WIDES=a,b;c;...`: one SQNR per `;`-separated WIDE set.
                let sets = std::env::var("WIDES").unwrap_or_default();
                for set in sets.split(';') {
                    std::env::set_var("WIDE", set);
                    println!("16-bit {set:40} both {:.2} dB", ctx.sqnr(&wq_all, &all));
                }
                std::env::remove_var("WIDE");
            }
            "wgain" => {
                // Each tensor alone at 16 bits (the rest int8): dB gained
                // against its element count, then the tensors taken greedily
                // by dB per element, cumulatively.
                let mut sizes = BTreeMap::new();
                forward_folded(
                    &folded,
                    &ctx.eval[0].normalized,
                    &mut |n: &str, x: &Fmap| {
                        sizes.insert(n.to_string(), x.data.len());
                    },
                );
                let base = ctx.sqnr(&wq_all, &all);
                println!("int8 {base:.2} dB");
                let mut gains = Vec::new();
                for n in ctx.ranges.keys() {
                    std::env::set_var("WIDE", format!("={n}"));
                    let g = ctx.sqnr(&wq_all, &all) - base;
                    let size = sizes.get(n).copied().unwrap_or(0);
                    println!("{n:48} {size:9} elements {g:+6.2} dB");
                    gains.push((n.clone(), size, g));
                }
                gains.sort_by(|a, b| {
                    let k = |x: &(String, usize, f64)| x.2 / x.1.max(1) as f64;
                    k(b).total_cmp(&k(a))
                });
                let (mut set, mut elems) = (String::new(), 0usize);
                for (i, (n, size, _)) in gains.iter().enumerate() {
                    set.push_str(&format!("={n},"));
                    elems += size;
                    if [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 83].contains(&(i + 1)) {
                        std::env::set_var("WIDE", &set);
                        println!(
                            "greedy {:2} tensors {elems:9} elements {:.2} dB",
                            i + 1,
                            ctx.sqnr(&wq_all, &all)
                        );
                    }
                }
                std::env::remove_var("WIDE");
            }
            "names" => ctx.ranges.keys().for_each(|n| println!("{n}")),
            "alayers" => {
                let names: Vec<String> = ctx.ranges.keys().cloned().collect();
                for n in names {
                    let nn = n.clone();
                    let r = ctx.ranges[&n];
                    println!(
                        "{:48} [{:9.3},{:9.3}] logits {:6.2} dB",
                        n,
                        r.lo,
                        r.hi,
                        ctx.sqnr(&folded, &move |x| x == nn)
                    );
                }
            }
            other => panic!("unknown command {other}"),
        }
    }
}
