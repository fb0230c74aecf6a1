//! What the command line prints: each subcommand's summary as JSON and as
//! text, built from the passes' results (the binary only parses arguments,
//! runs the passes and prints these).

use serde_json::{json, Value};

use crate::checkpoint::Checkpoint;
use crate::emit::Provenance;
use crate::eval::Report;
use crate::fold::Folded;
use crate::pipeline::{self, QuantOptions};
use crate::quantize::Compiled;

/// The main job's results.
pub struct Build<'a> {
    /// Where the checkpoint came from.
    pub prov: &'a Provenance,
    /// The loaded checkpoint.
    pub ck: &'a Checkpoint,
    /// Its folded graph.
    pub folded: &'a Folded,
    /// The compiled model.
    pub compiled: &'a Compiled,
    /// Options used.
    pub opts: &'a QuantOptions,
    /// Calibration source, as `pipeline::calibration_inputs` names it.
    pub source: &'a str,
    /// The smoke check: int8 vs float on the built-in held-out images.
    pub smoke: &'a Report,
    /// Output folder.
    pub out: &'a std::path::Path,
}

/// The main job's summary: JSON (`--json`) and the text on stderr.
pub fn build(b: &Build) -> (Value, String) {
    let (ck, folded, c, opts) = (b.ck, b.folded, b.compiled, b.opts);
    let (peak_at, _) = pipeline::peak_layer(c);
    let smoke_n = b.smoke.inputs.len();
    let wide = c.int16_outputs(&c.schedule.names);
    let summary = json!({
        "checkpoint": b.prov.checkpoint, "sha256": b.prov.sha256, "layout": ck.layout.to_string(), "dtype": ck.dtype.to_string(),
        "classes": ck.classes, "resolution": opts.resolution, "out": b.out.display().to_string(),
        "parameters_checkpoint": ck.parameters(), "parameters_folded": folded.parameters(), "tensors_folded": folded.tensor_count(),
        "macs": c.macs(), "weights_bytes": c.weights.len(), "arena_bytes": c.arena_bytes,
        "arena_peak_at": peak_at, "memory": opts.memory, "layer_by_layer_bytes": c.layer_by_layer_bytes, "layers": c.schedule.layers.len(), "calibration": b.source,
        "int16_groups": c.settings.int16.to_string(), "int16_tensors": wide,
        "bias_correction": c.settings.bias_correction, "pooled_unclipped": c.settings.no_clip_pooled,
        "equalization": c.settings.equalization, "equalization_chosen": opts.choose_equalization,
        "fidelity_held_out": {"inputs": smoke_n, "cosine_mean": b.smoke.cosine_mean, "cosine_min": b.smoke.cosine_min},
    });
    let text = format!(
        "\n  layout        {}  ({})\n  parameters    {} in the checkpoint -> {} folded ({} tensors)\n  MACs          {} at {r}x{r}\n  flash         {} bytes of weights\n  arena         {} bytes (peak at {}; {} form, {} bytes layer by layer)\n  schedule      {} layers\n  precision     int8 activations; int16 groups `{}`, layer outputs: {}\n  corrections   equalization {} ({}), bias correction {}, pooled tensors {}\n  calibration   {}\n  int8 vs float logits cosine {:.4} mean / {:.4} min on {} built-in images held out from calibration (not your data; run `codegen eval` on your images)\n\nWrote {} (crate `{}`; depend on it next to fastvit-runtime)",
        ck.layout, ck.dtype, ck.parameters(), folded.parameters(), folded.tensor_count(), c.macs(),
        c.weights.len(), c.arena_bytes, peak_at, opts.memory, c.layer_by_layer_bytes, c.schedule.layers.len(), c.settings.int16, wide.join(", "),
        c.settings.equalization,
        if opts.choose_equalization { "measured" } else { "fixed" },
        if c.settings.bias_correction { "on" } else { "off" },
        if c.settings.no_clip_pooled { "unclipped" } else { "clipped" },
        b.source,
        b.smoke.cosine_mean, b.smoke.cosine_min, smoke_n, b.out.display(), crate::emit::PACKAGE,
        r = opts.resolution,
    );
    (summary, text)
}

/// `codegen inspect`: layout, parameters and MACs per stage.
pub fn inspect(
    path: &std::path::Path,
    ck: &Checkpoint,
    folded: &Folded,
    res: usize,
) -> (Value, String) {
    let macs = folded.macs(res);
    let group = |n: &str| -> String {
        if n.starts_with("stem") {
            "stem".into()
        } else if let Some(r) = n.strip_prefix("stages.") {
            format!("stages.{}", &r[..1])
        } else if n.starts_with("final_conv") {
            "final_conv".into()
        } else {
            "head".into()
        }
    };
    let mut stages: Vec<(String, u64, usize)> = Vec::new();
    for c in folded.convs() {
        let g = group(&c.name);
        let m = macs
            .iter()
            .find(|(n, _)| *n == c.name)
            .map(|x| x.1)
            .unwrap_or(0);
        match stages.iter_mut().find(|s| s.0 == g) {
            Some(s) => {
                s.1 += m;
                s.2 += c.weight.len() + c.bias.len();
            }
            None => stages.push((g, m, c.weight.len() + c.bias.len())),
        }
    }
    if let Some(s) = stages.iter_mut().find(|s| s.0 == "final_conv") {
        s.1 += macs
            .iter()
            .find(|(n, _)| n == "final_conv.se.scale")
            .map(|x| x.1)
            .unwrap_or(0);
    }
    let total: u64 = macs.iter().map(|x| x.1).sum();
    let per: Vec<_> = stages
        .iter()
        .map(|(g, m, p)| json!({"stage": g, "macs": m, "parameters": p}))
        .collect();
    let value = json!({
        "checkpoint": path.display().to_string(), "layout": ck.layout.to_string(), "dtype": ck.dtype.to_string(),
        "classes": ck.classes, "entries": ck.entries, "sha256": ck.sha256,
        "parameters_checkpoint": ck.parameters(), "parameters_folded": folded.parameters(),
        "tensors_folded": folded.tensor_count(), "resolution": res, "macs": total, "stages": per,
    });
    let mut t = format!("{}\n", path.display());
    t += &format!(
        "  layout      {} ({} entries, {})\n",
        ck.layout, ck.entries, ck.dtype
    );
    t += &format!("  classes     {}\n", ck.classes);
    t += &format!(
        "  parameters  {} as stored -> {} folded ({} tensors)\n",
        ck.parameters(),
        folded.parameters(),
        folded.tensor_count()
    );
    t += &format!("  MACs        {total} at {res}x{res}\n");
    t += &format!("  sha256      {}\n\n", ck.sha256);
    t += &format!("  {:<12} {:>14} {:>12}\n", "stage", "MACs", "parameters");
    for (g, m, p) in &stages {
        t += &format!("  {g:<12} {m:>14} {p:>12}\n");
    }
    (value, t)
}

/// `codegen eval`: one input's float and int8 top-5.
pub fn eval_input(
    name: &str,
    float: &[f32],
    top5: &[usize],
    int8: &[f32],
    top5_int8: &[usize],
    cosine: f64,
) -> String {
    let fmt = |t: &[usize], l: &[f32]| {
        t.iter()
            .map(|&k| format!("{k} ({:.3})", l[k]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{name}\n  float top-5: {}\n  int8  top-5: {}  (cosine {cosine:.5})",
        fmt(top5, float),
        fmt(top5_int8, int8),
    )
}

/// `codegen eval`: the numerics summary and per-layer SQNR lines.
pub fn eval_summary(report: &Report) -> Vec<String> {
    let per_class = if report.inputs.len() >= 2 {
        format!("{:.2} dB", report.centred_logit_sqnr_db)
    } else {
        "n/a (needs 2+ inputs)".into()
    };
    let mut lines = vec![
        format!(
            "\nNumerics over {} inputs: logits cosine mean {:.5}, min {:.5}; centred logit SQNR {:.2} dB per input, {per_class} per class over the set; top-1 agreement {:.1} %, float top-1 in int8 top-5 {:.1} %",
            report.inputs.len(), report.cosine_mean, report.cosine_min, report.input_centred_logit_sqnr_db,
            100.0 * report.top1_agreement, 100.0 * report.top5_agreement
        ),
        "Per-layer SQNR (quantized output vs float, dB; output storage):".into(),
    ];
    for l in &report.layers {
        lines.push(format!(
            "  {:<48} {:>7.2}  {}",
            l.name, l.sqnr_db, l.precision
        ));
    }
    lines
}

/// `codegen plan`: every buffer and layer of the arena plan.
pub fn plan(c: &Compiled, opts: &QuantOptions) -> (Value, String) {
    let (peak_at, _) = pipeline::peak_layer(c);
    let live = pipeline::live_bytes(c);
    let layer_name = |i: i64| -> String {
        match i {
            i if i < 0 => "(input)".to_string(),
            i if i as usize >= c.schedule.names.len() => "(output)".to_string(),
            i => c.schedule.names[i as usize].clone(),
        }
    };
    let buffers: Vec<_> = c
        .schedule
        .buffers
        .iter()
        .zip(&c.schedule.plan.offsets)
        .map(|(b, o)| {
            json!({
                "name": b.name, "bytes": b.size, "offset": o, "end": o + b.size,
                "first_layer": b.first, "last_layer": b.last,
                "first_layer_name": layer_name(b.first), "last_layer_name": layer_name(b.last),
            })
        })
        .collect();
    let layers: Vec<_> = c
        .schedule.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            json!({
                "index": i, "name": c.schedule.names[i], "form": form_name(l), "live_bytes": live[i],
                "scratch_bytes": l.scratch_bytes(),
            })
        })
        .collect();
    let value = json!({
        "resolution": opts.resolution, "memory": opts.memory,
        "peak_arena_bytes": c.arena_bytes, "layer_by_layer_bytes": c.layer_by_layer_bytes,
        "no_reuse_bytes": c.naive_bytes, "peak_at": peak_at,
        "input_offset": c.schedule.input.offset, "output_offset": c.schedule.output.offset,
        "buffers": buffers, "layers": layers,
    });
    let mut t = format!(
        "Arena plan at {r}x{r}, {} form: {} bytes (peak at {peak_at}); layer by layer {} bytes; without reuse {} bytes\n",
        opts.memory,
        c.arena_bytes,
        c.layer_by_layer_bytes,
        c.naive_bytes,
        r = opts.resolution
    );
    t += "\nBuffers (offset..end in the arena, live from the first to the last layer that touches them):\n";
    t += &format!(
        "  {:<44} {:>8} {:>8} {:>8}  live layers\n",
        "buffer", "offset", "bytes", "end"
    );
    for (b, o) in c.schedule.buffers.iter().zip(&c.schedule.plan.offsets) {
        t += &format!(
            "  {:<44} {:>8} {:>8} {:>8}  {} .. {}\n",
            b.name,
            o,
            b.size,
            o + b.size,
            layer_name(b.first),
            layer_name(b.last)
        );
    }
    t += "\nLayers (bytes in use while each runs):\n";
    t += &format!(
        "  {:>3} {:<36} {:<14} {:>8} {:>8}\n",
        "#", "layer", "form", "live", "scratch"
    );
    for (i, l) in c.schedule.layers.iter().enumerate() {
        let mark = if c.schedule.names[i] == peak_at {
            "  <- peak"
        } else {
            ""
        };
        t += &format!(
            "  {i:>3} {:<36} {:<14} {:>8} {:>8}{mark}\n",
            c.schedule.names[i],
            form_name(l),
            live[i],
            l.scratch_bytes()
        );
    }
    (value, t)
}

/// The execution form of a layer, for the plan report.
pub fn form_name(l: &runtime::Layer) -> &'static str {
    use runtime::{ConvVariant, Layer};
    match l {
        Layer::Conv(c) => match c.variant {
            ConvVariant::Reference => "conv",
            ConvVariant::InPlace { .. } => "conv in place",
            ConvVariant::WriteBehind => "conv behind",
            ConvVariant::WriteAhead => "conv ahead",
            ConvVariant::WidenInPlace { .. } => "conv widened in place",
            ConvVariant::Pointwise { .. } => "conv 1x1 fast",
            ConvVariant::PointwiseInPlace { .. } => "conv 1x1 fast in place",
            ConvVariant::Depthwise { .. } => "conv dw fast",
            ConvVariant::DepthwiseInPlace { .. } => "conv dw fast in place",
            ConvVariant::DenseHwio { .. } => "conv dense fast",
            ConvVariant::Im2col { .. } => "conv im2col fast",
            ConvVariant::Multiplier { .. } => "conv multiplier fast",
            ConvVariant::MultiplierWriteBehind { .. } => "conv multiplier fast behind",
        },
        Layer::Lut(_) => "lut",
        Layer::Add(_) => "add",
        Layer::SqueezeExcite(_) => "squeeze-excite",
        Layer::GlobalAvgPool(_) => "avg pool",
        Layer::FullyConnected(_) => "fc",
        Layer::Stem(_) => "stem streamed",
        Layer::ConvMlp(_) => "conv-mlp fused",
    }
}
