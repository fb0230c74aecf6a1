//! Numerics report: int8 (the runtime, in process) against the float
//! reference, per input and per layer.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::float::{forward_folded, top_k, Fmap};
use crate::fold::Folded;
use crate::images::ModelInput;
use crate::quantize::Compiled;

/// Results for one input.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InputResult {
    /// Input name.
    pub input: String,
    /// Float logits.
    pub logits_float: Vec<f32>,
    /// Dequantized int8 logits.
    pub logits_int8: Vec<f32>,
    /// Raw quantized logits (int8 or int16 values; the name is kept for
    /// readers of the JSON report).
    pub logits_int8_raw: Vec<i16>,
    /// Top-5 classes, float.
    pub top5_float: Vec<usize>,
    /// Top-5 classes, int8.
    pub top5_int8: Vec<usize>,
    /// Cosine similarity of int8 and float logits.
    pub cosine: f64,
}

/// Per-layer signal-to-quantization-noise ratio over all inputs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerSqnr {
    /// Layer name.
    pub name: String,
    /// SQNR in dB of the layer's quantized output against the float tensor.
    pub sqnr_db: f64,
    /// The output's storage: `int8` or `int16`.
    pub precision: &'static str,
}

/// The whole report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Per input.
    pub inputs: Vec<InputResult>,
    /// Per layer (empty unless requested).
    pub layers: Vec<LayerSqnr>,
    /// Mean logits cosine.
    pub cosine_mean: f64,
    /// Minimum logits cosine.
    pub cosine_min: f64,
    /// SQNR of the logits after subtracting the per-class mean over the set
    /// (needs two or more inputs: one input has no signal left).
    pub centred_logit_sqnr_db: f64,
    /// SQNR of the logits with each input's own mean subtracted from its
    /// float and int8 logits (a per-input offset is not error): the proxy
    /// kit's `fidelity.py` definition, meaningful for any number of inputs.
    pub input_centred_logit_sqnr_db: f64,
    /// Fraction of inputs whose int8 top-1 equals the float top-1.
    pub top1_agreement: f64,
    /// Fraction of inputs whose float top-1 is in the int8 top-5.
    pub top5_agreement: f64,
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return if na == nb { 1.0 } else { 0.0 };
    }
    dot / (na * nb)
}

/// dB of signal over noise energy.
pub fn db(signal: f64, noise: f64) -> f64 {
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise).log10()
    }
}

/// Centred logit SQNR over `(float, int8)` logit pairs, each class's mean
/// float logit over all inputs subtracted from the signal (a class that is
/// high for every input carries no information): the fixtures' definition.
pub fn class_centred_sqnr_db<'a, I>(pairs: I) -> f64
where
    I: IntoIterator<Item = (&'a [f32], &'a [f32])>,
    I::IntoIter: Clone,
{
    let pairs = pairs.into_iter();
    let n = pairs.clone().count().max(1) as f64;
    let mut mean: Vec<f64> = Vec::new();
    for (f, _) in pairs.clone() {
        if mean.len() < f.len() {
            mean.resize(f.len(), 0.0);
        }
        f.iter()
            .zip(&mut mean)
            .for_each(|(v, m)| *m += *v as f64 / n);
    }
    let (mut sig, mut noise) = (0f64, 0f64);
    for (f, q) in pairs {
        for ((&f, &q), &m) in f.iter().zip(q).zip(&mean) {
            sig += (f as f64 - m).powi(2);
            noise += (f as f64 - q as f64).powi(2);
        }
    }
    db(sig, noise)
}

/// Centred logit SQNR over `(float, int8)` logit pairs, each input's own
/// mean subtracted from both (a per-input offset is not error): the proxy
/// kit's `fidelity.py` definition.
pub fn input_centred_sqnr_db<'a>(pairs: impl Iterator<Item = (&'a [f32], &'a [f32])>) -> f64 {
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64;
    let (mut signal, mut noise) = (0f64, 0f64);
    for (f, q) in pairs {
        let (mf, mq) = (mean(f), mean(q));
        for (&f, &q) in f.iter().zip(q) {
            signal += (f as f64 - mf).powi(2);
            noise += ((q as f64 - mq) - (f as f64 - mf)).powi(2);
        }
    }
    db(signal, noise)
}

/// Runs the int8 model in process on one input: the camera entry point for
/// images, the normalized one for `.npy` tensors. `after_layer` sees the arena.
pub fn run_int8(
    c: &Compiled,
    input: &ModelInput,
    mut after_layer: impl FnMut(usize, &[i8]),
) -> Vec<i16> {
    let mut arena = vec![0i8; c.arena_bytes];
    // Wide enough for int8 and int16 logits.
    let mut logits = vec![0i16; c.schedule.output.len()];
    c.with_model(|m| match &input.rgb {
        Some(rgb) => m.run_with(&mut arena, rgb, &mut logits, &mut after_layer),
        None => m.run_normalized(
            &mut arena,
            &c.quantize_normalized(&input.normalized),
            &mut logits,
            &mut after_layer,
        ),
    })
    .expect("codegen's own schedule runs");
    logits
}

/// Float tensor in the runtime's HWC order.
fn to_hwc(x: &Fmap) -> Vec<f32> {
    let n = x.h * x.w;
    let mut out = vec![0f32; x.data.len()];
    for c in 0..x.c {
        for i in 0..n {
            out[i * x.c + c] = x.data[c * n + i];
        }
    }
    out
}

/// Evaluates int8 against float on `inputs` (all cores). With `per_layer`,
/// also per-layer SQNR; with `dump`, writes every layer's float and int8
/// output of each input under that folder.
pub fn evaluate(
    f: &Folded,
    c: &Compiled,
    inputs: &[ModelInput],
    per_layer: bool,
    dump: Option<&Path>,
    tick: &(dyn Fn() + Sync),
) -> Result<Report> {
    let nl = c.schedule.layers.len();
    let per_input: Vec<(InputResult, Vec<(f64, f64)>)> = inputs
        .par_iter()
        .enumerate()
        .map(|(idx, inp)| -> Result<_> {
            let want: std::collections::HashSet<&str> =
                c.schedule.float_names.iter().map(String::as_str).collect();
            let mut floats: HashMap<String, Vec<f32>> = HashMap::new();
            let logits_float = forward_folded(f, &inp.normalized, &mut |n: &str, x: &Fmap| {
                if (per_layer || dump.is_some()) && want.contains(n) {
                    floats.insert(n.to_string(), to_hwc(x));
                }
            });
            let mut energies = vec![(0f64, 0f64); nl];
            let mut dumps: Vec<Vec<i8>> = Vec::new();
            let raw = run_int8(c, inp, |i, arena| {
                if !(per_layer || dump.is_some()) {
                    return;
                }
                let t = c.schedule.layers[i].output();
                let q = &arena[t.offset as usize..t.end()];
                if let Some(fl) = floats.get(&c.schedule.float_names[i]) {
                    let qp = c.schedule.out_q[i];
                    let (mut s, mut e) = (0f64, 0f64);
                    for (i, &a) in fl.iter().enumerate().take(t.len()) {
                        let d = a as f64 - qp.dequantize_at(q, i) as f64;
                        s += a as f64 * a as f64;
                        e += d * d;
                    }
                    energies[i] = (s, e);
                }
                if dump.is_some() {
                    dumps.push(q.to_vec());
                }
            });
            if let Some(dir) = dump {
                write_dump(dir, idx, c, &floats, &dumps)?;
            }
            let logits_int8 = c.dequantize_logits(&raw);
            tick();
            Ok((
                InputResult {
                    input: inp.name.clone(),
                    top5_float: top_k(&logits_float, 5),
                    top5_int8: top_k(&logits_int8, 5),
                    cosine: cosine(&logits_float, &logits_int8),
                    logits_float,
                    logits_int8,
                    logits_int8_raw: raw,
                },
                energies,
            ))
        })
        .collect::<Result<_>>()?;
    let mut layers = Vec::new();
    if per_layer {
        for i in 0..nl {
            let (s, e) = per_input
                .iter()
                .fold((0.0, 0.0), |(a, b), (_, en)| (a + en[i].0, b + en[i].1));
            layers.push(LayerSqnr {
                name: c.schedule.names[i].clone(),
                sqnr_db: db(s, e),
                precision: match c.schedule.layers[i].output().elem {
                    runtime::Elem::I8 => "int8",
                    runtime::Elem::I16 => "int16",
                },
            });
        }
    }
    let inputs: Vec<InputResult> = per_input.into_iter().map(|(r, _)| r).collect();
    let n = inputs.len().max(1) as f64;
    Ok(Report {
        input_centred_logit_sqnr_db: input_centred_sqnr_db(
            inputs
                .iter()
                .map(|r| (r.logits_float.as_slice(), r.logits_int8.as_slice())),
        ),
        cosine_mean: inputs.iter().map(|r| r.cosine).sum::<f64>() / n,
        cosine_min: inputs.iter().map(|r| r.cosine).fold(1.0, f64::min),
        centred_logit_sqnr_db: class_centred_sqnr_db(
            inputs
                .iter()
                .map(|r| (r.logits_float.as_slice(), r.logits_int8.as_slice())),
        ),
        top1_agreement: inputs
            .iter()
            .filter(|r| r.top5_float[0] == r.top5_int8[0])
            .count() as f64
            / n,
        top5_agreement: inputs
            .iter()
            .filter(|r| r.top5_int8.contains(&r.top5_float[0]))
            .count() as f64
            / n,
        inputs,
        layers,
    })
}

/// Writes a `.npy` array (`<f4` or `|i1`, C order).
pub fn write_npy(path: &Path, shape: &[usize], descr: &str, data: &[u8]) -> Result<()> {
    let dims = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data);
    std::fs::write(path, out).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        action: "cannot write",
        source,
    })
}

fn write_dump(
    dir: &Path,
    idx: usize,
    c: &Compiled,
    floats: &HashMap<String, Vec<f32>>,
    q: &[Vec<i8>],
) -> Result<()> {
    let d = dir.join(format!("input{idx:03}"));
    std::fs::create_dir_all(&d).map_err(|source| Error::Io {
        path: d.clone(),
        action: "cannot create dump folder",
        source,
    })?;
    let mut index = Vec::new();
    for (i, qv) in q.iter().enumerate() {
        let t = c.schedule.layers[i].output();
        let shape = [t.h as usize, t.w as usize, t.c as usize];
        let stem = format!("{i:02}_{}", c.schedule.names[i]);
        // The arena bytes as stored: int8, or little-endian int16.
        let (ext, dtype) = match t.elem {
            runtime::Elem::I8 => ("int8", "|i1"),
            runtime::Elem::I16 => ("int16", "<i2"),
        };
        write_npy(
            &d.join(format!("{stem}.{ext}.npy")),
            &shape,
            dtype,
            &qv.iter().map(|&v| v as u8).collect::<Vec<_>>(),
        )?;
        if let Some(fl) = floats.get(&c.schedule.float_names[i]) {
            let bytes: Vec<u8> = fl.iter().flat_map(|v| v.to_le_bytes()).collect();
            write_npy(&d.join(format!("{stem}.float.npy")), &shape, "<f4", &bytes)?;
        }
        index.push(serde_json::json!({
            "layer": i, "name": c.schedule.names[i], "float_tensor": c.schedule.float_names[i],
            "shape_hwc": shape, "scale": c.schedule.out_q[i].scale, "zero_point": c.schedule.out_q[i].zp,
            "dtype": ext,
        }));
    }
    let p = d.join("index.json");
    std::fs::write(&p, serde_json::to_string_pretty(&index).expect("json")).map_err(|source| {
        Error::Io {
            path: p,
            action: "cannot write",
            source,
        }
    })
}

/// A bar chart of per-layer SQNR as a standalone SVG.
pub fn sqnr_svg(layers: &[LayerSqnr]) -> String {
    let (w, bar, top, left) = (900.0, 12.0, 40.0, 330.0);
    let h = top + bar * layers.len() as f64 + 30.0;
    let max_db = layers
        .iter()
        .map(|l| l.sqnr_db)
        .filter(|v| v.is_finite())
        .fold(40.0f64, f64::max);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"10\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Per-layer SQNR of the quantized output vs float (dB, higher is better; int16 outputs marked)</text>\n"
    );
    for (i, l) in layers.iter().enumerate() {
        let y = top + i as f64 * bar;
        let v = if l.sqnr_db.is_finite() {
            l.sqnr_db.max(0.0)
        } else {
            max_db
        };
        let len = (w - left - 60.0) * v / max_db;
        let color = if v < 20.0 {
            "#d9534f"
        } else if v < 30.0 {
            "#f0ad4e"
        } else {
            "#5cb85c"
        };
        s += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{}\" width=\"{len:.1}\" height=\"{}\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{}\">{:.1}</text>\n",
            left - 5.0, y + bar - 3.0, l.name, y + 1.0, bar - 2.0, left + len + 3.0, y + bar - 3.0, l.sqnr_db
        );
        if l.precision == "int16" {
            s += &format!(
                "<text x=\"{:.1}\" y=\"{}\">int16</text>\n",
                left + len + 33.0,
                y + bar - 3.0
            );
        }
    }
    s + "</svg>\n"
}
