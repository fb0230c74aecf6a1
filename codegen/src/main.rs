//! `codegen`: FastViT-T8 checkpoint -> int8 static Rust for fastvit-runtime.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use codegen::calibrate::RangeMethod;
use codegen::error::{check_resolution, Error, Result};
use codegen::eval::{evaluate, sqnr_svg};
use codegen::float::{forward_folded, top_k, Fmap};
use codegen::fold::fold_checkpoint;
use codegen::images::load_input;
use codegen::pipeline::{self, QuantOptions};
use codegen::quantize::MemoryForm;

const EXAMPLES: &str = "Examples:
  codegen                                   # built-in synthetic FastViT-T8 -> generated/fastvit_t8
  codegen model.safetensors --out my_model  # the hub file timm/fastvit_t8.apple_in1k
  codegen model.safetensors --calib photos/ --resolution 224
  codegen inspect model.safetensors
  codegen eval model.safetensors cat.jpg dog.png --json
  codegen plan model.safetensors --json";

/// Reads a FastViT-T8 checkpoint (timm or Apple layout; F32/F16/BF16
/// safetensors), folds every train-time branch, calibrates and quantizes it to
/// int8, plans the arena, and writes a no_std Rust crate for fastvit-runtime.
#[derive(Parser, Debug)]
#[command(name = "codegen", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    build: BuildArgs,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Input resolution (a multiple of 32; the pretrained model uses 256).
    #[arg(long, default_value_t = 256)]
    resolution: usize,
    /// Folder of calibration images (.png/.jpg). Default: a built-in set of
    /// crops of three public-domain photos.
    #[arg(long, value_name = "DIR")]
    calib: Option<PathBuf>,
    /// Activation range estimator.
    #[arg(long, value_enum, default_value_t = RangeMethod::Mse)]
    method: RangeMethod,
    /// Per-channel equalization strength, 0 (off) to 1 (full).
    #[arg(long, default_value_t = 0.5)]
    equalize: f64,
    /// Execution forms: `fused` (streamed stem, in-place convs, fused ConvMlp:
    /// the smallest arena) or `layer-by-layer` (whole tensors, for comparison).
    #[arg(long, value_enum, default_value_t = MemoryForm::Fused)]
    memory: MemoryForm,
    /// No progress bars or summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BuildArgs {
    /// Checkpoint (.safetensors). Without one, a built-in synthetic
    /// FastViT-T8 is used so you can see the pipeline work.
    checkpoint: Option<PathBuf>,
    /// Output folder for the generated crate (replaced atomically).
    #[arg(long, default_value = "generated/fastvit_t8")]
    out: PathBuf,
    /// Where the generated crate takes `fastvit-runtime` from: `checkout`
    /// (this repository's `runtime/`, by a relative path), `path:DIR` or
    /// `version:REQ`.
    #[arg(long, value_name = "SPEC", default_value = "checkout")]
    runtime: codegen::emit::RuntimeSource,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the detected layout, dtype, classes, parameters and MACs.
    Inspect {
        /// Checkpoint (.safetensors).
        checkpoint: PathBuf,
        /// Resolution for the MAC count.
        #[arg(long, default_value_t = 256)]
        resolution: usize,
        /// JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Run float and int8 on images or .npy inputs; print top-5 and a numerics report
    /// (per layer of the layer-by-layer schedule; the fused one computes the same bits).
    Eval {
        /// Checkpoint (.safetensors).
        checkpoint: PathBuf,
        /// Inputs: PNG/JPEG (timm's eval transform is applied) or .npy float32
        /// [1,3,H,W] / [3,H,W] already normalized.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Write every layer's float and int8 outputs here (.npy + index.json).
        #[arg(long, value_name = "DIR")]
        dump_layers: Option<PathBuf>,
        /// Where to write the per-layer SQNR chart.
        #[arg(long, default_value = "target/codegen/sqnr.svg")]
        svg: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Print the arena plan: which buffer lives where, when, and the peak.
    Plan {
        /// Checkpoint (.safetensors); omit for the built-in synthetic model.
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

fn options(c: &Common) -> Result<QuantOptions> {
    check_resolution(c.resolution)?;
    if !(0.0..=1.0).contains(&c.equalize) {
        return Err(Error::Usage(format!(
            "--equalize {} must be between 0 and 1",
            c.equalize
        )));
    }
    Ok(QuantOptions {
        resolution: c.resolution,
        calib: c.calib.clone(),
        method: c.method,
        equalization: c.equalize,
        quiet: c.quiet || c.json,
        memory: c.memory,
    })
}

fn say(quiet: bool, msg: impl AsRef<str>) {
    if !quiet {
        eprintln!("{}", msg.as_ref());
    }
}

fn build(a: &BuildArgs) -> Result<()> {
    let opts = options(&a.common)?;
    let quiet = opts.quiet;
    if a.checkpoint.is_none() {
        say(quiet, "No checkpoint given: using the built-in synthetic FastViT-T8 (deterministic, untrained weights).");
    }
    let (ck, prov) = pipeline::load_or_synthesize(a.checkpoint.as_deref())?;
    say(
        quiet,
        format!(
            "Loaded {} ({}, {}, {} classes, {} entries)",
            prov.checkpoint, ck.layout, ck.dtype, ck.classes, ck.entries
        ),
    );
    let (inputs, source) = pipeline::calibration_inputs(&opts)?;
    let (folded, compiled) = pipeline::quantize(&ck, &inputs, &source, &opts);
    // Fidelity smoke check on the calibration photos' centre crops.
    let centre: Vec<_> = inputs
        .iter()
        .filter(|i| i.name.ends_with("#center"))
        .cloned()
        .collect();
    let sample = if centre.is_empty() {
        inputs.iter().take(4).cloned().collect()
    } else {
        centre
    };
    let report = evaluate(&folded, &compiled, &sample, false, None, &|| {})?;
    codegen::emit::write_crate_with(&a.out, &compiled, &prov, &a.runtime)?;
    let (peak_at, _) = pipeline::peak_layer(&compiled);
    let summary = serde_json::json!({
        "checkpoint": prov.checkpoint, "sha256": prov.sha256, "layout": ck.layout.to_string(), "dtype": ck.dtype.to_string(),
        "classes": ck.classes, "resolution": opts.resolution, "out": a.out.display().to_string(),
        "parameters_checkpoint": ck.parameters(), "parameters_folded": folded.parameters(), "tensors_folded": folded.tensor_count(),
        "macs": compiled.macs(), "weights_bytes": compiled.weights.len(), "arena_bytes": compiled.arena_bytes,
        "arena_peak_at": peak_at, "memory": opts.memory, "layer_by_layer_bytes": compiled.layer_by_layer_bytes, "layers": compiled.layers.len(), "calibration": source,
        "fidelity_on_calibration_photos": {"inputs": sample.len(), "cosine_mean": report.cosine_mean, "cosine_min": report.cosine_min},
    });
    if a.common.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
    }
    say(
        quiet,
        format!(
            "\n  layout        {}  ({})\n  parameters    {} in the checkpoint -> {} folded ({} tensors)\n  MACs          {} at {r}x{r}\n  flash         {} bytes of weights\n  arena         {} bytes (peak at {}; {} form, {} bytes layer by layer)\n  schedule      {} layers\n  calibration   {}\n  int8 vs float logits cosine {:.4} mean / {:.4} min on {} calibration photos (not a held-out set; run `codegen eval` on your images)\n\nWrote {} (crate `{}`; depend on it next to fastvit-runtime)",
            ck.layout, ck.dtype, ck.parameters(), folded.parameters(), folded.tensor_count(), compiled.macs(),
            compiled.weights.len(), compiled.arena_bytes, peak_at, opts.memory, compiled.layer_by_layer_bytes, compiled.layers.len(), source,
            report.cosine_mean, report.cosine_min, sample.len(), a.out.display(), codegen::emit::PACKAGE,
            r = opts.resolution,
        ),
    );
    Ok(())
}

fn inspect(path: &Path, res: usize, json: bool) -> Result<()> {
    check_resolution(res)?;
    let ck = codegen::checkpoint::load(path)?;
    let folded = fold_checkpoint(&ck);
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
    if json {
        let per: Vec<_> = stages
            .iter()
            .map(|(g, m, p)| serde_json::json!({"stage": g, "macs": m, "parameters": p}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "checkpoint": path.display().to_string(), "layout": ck.layout.to_string(), "dtype": ck.dtype.to_string(),
                "classes": ck.classes, "entries": ck.entries, "sha256": ck.sha256,
                "parameters_checkpoint": ck.parameters(), "parameters_folded": folded.parameters(),
                "tensors_folded": folded.tensor_count(), "resolution": res, "macs": total, "stages": per,
            }))
            .expect("json")
        );
        return Ok(());
    }
    println!("{}", path.display());
    println!(
        "  layout      {} ({} entries, {})",
        ck.layout, ck.entries, ck.dtype
    );
    println!("  classes     {}", ck.classes);
    println!(
        "  parameters  {} as stored -> {} folded ({} tensors)",
        ck.parameters(),
        folded.parameters(),
        folded.tensor_count()
    );
    println!("  MACs        {total} at {res}x{res}");
    println!("  sha256      {}\n", ck.sha256);
    println!("  {:<12} {:>14} {:>12}", "stage", "MACs", "parameters");
    for (g, m, p) in &stages {
        println!("  {g:<12} {m:>14} {p:>12}");
    }
    Ok(())
}

fn eval(
    path: &Path,
    inputs: &[PathBuf],
    dump: Option<&Path>,
    svg: &Path,
    common: &Common,
) -> Result<()> {
    // The fused form computes the same bits but never materializes most
    // intermediate tensors: report and dump per layer from the layer-by-layer
    // schedule, where every op's output exists.
    let opts = QuantOptions {
        memory: MemoryForm::LayerByLayer,
        ..options(common)?
    };
    let (ck, _) = pipeline::load_or_synthesize(Some(path))?;
    let items = inputs
        .iter()
        .map(|p| load_input(p, opts.resolution))
        .collect::<Result<Vec<_>>>()?;
    // The float reference straight from the fold, for top-5 exactly as timm.
    let plain = fold_checkpoint(&ck);
    let (calib, source) = pipeline::calibration_inputs(&opts)?;
    let (folded, compiled) = pipeline::quantize(&ck, &calib, &source, &opts);
    let pb = pipeline::progress(items.len(), "evaluating", opts.quiet);
    let report = evaluate(&folded, &compiled, &items, true, dump, &|| pb.inc(1))?;
    pb.finish_and_clear();
    for (item, r) in items.iter().zip(&report.inputs) {
        let logits = forward_folded(&plain, &item.normalized, &mut |_: &str, _: &Fmap| {});
        let top5 = top_k(&logits, 5);
        if common.json {
            println!(
                "{}",
                serde_json::json!({
                    "input": r.input, "logits_float": logits, "top5_float": top5,
                    "logits_int8": r.logits_int8, "top5_int8": r.top5_int8, "cosine": r.cosine,
                })
            );
        } else {
            let fmt = |t: &[usize], l: &[f32]| {
                t.iter()
                    .map(|&k| format!("{k} ({:.3})", l[k]))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "{}\n  float top-5: {}\n  int8  top-5: {}  (cosine {:.5})",
                r.input,
                fmt(&top5, &logits),
                fmt(&r.top5_int8, &r.logits_int8),
                r.cosine
            );
        }
    }
    if let Some(parent) = svg.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            action: "cannot create folder",
            source,
        })?;
    }
    std::fs::write(svg, sqnr_svg(&report.layers)).map_err(|source| Error::Io {
        path: svg.to_path_buf(),
        action: "cannot write",
        source,
    })?;
    let out = |s: String| {
        if common.json {
            eprintln!("{s}")
        } else {
            println!("{s}")
        }
    };
    if !common.quiet {
        out(format!(
            "\nNumerics over {} inputs: logits cosine mean {:.5}, min {:.5}; centred logit SQNR {:.2} dB; top-1 agreement {:.1} %, float top-1 in int8 top-5 {:.1} %",
            report.inputs.len(), report.cosine_mean, report.cosine_min, report.centred_logit_sqnr_db,
            100.0 * report.top1_agreement, 100.0 * report.top5_agreement
        ));
        out("Per-layer SQNR (int8 output vs float, dB):".into());
        for l in &report.layers {
            out(format!("  {:<48} {:>7.2}", l.name, l.sqnr_db));
        }
        out(format!("Chart: {}", svg.display()));
        if let Some(d) = dump {
            out(format!(
                "Layer dumps: {} (one folder per input; index.json lists scale and zero point)",
                d.display()
            ));
        }
    }
    Ok(())
}

fn plan(path: Option<&Path>, common: &Common) -> Result<()> {
    let opts = options(common)?;
    let (ck, _) = pipeline::load_or_synthesize(path)?;
    let (inputs, source) = pipeline::calibration_inputs(&opts)?;
    let (_, c) = pipeline::quantize(&ck, &inputs, &source, &opts);
    let (peak_at, _) = pipeline::peak_layer(&c);
    let live = pipeline::live_bytes(&c);
    let layer_name = |i: i64| -> String {
        match i {
            i if i < 0 => "(input)".to_string(),
            i if i as usize >= c.names.len() => "(output)".to_string(),
            i => c.names[i as usize].clone(),
        }
    };
    if common.json {
        let buffers: Vec<_> = c
            .buffers
            .iter()
            .zip(&c.plan.offsets)
            .map(|(b, o)| {
                serde_json::json!({
                    "name": b.name, "bytes": b.size, "offset": o, "end": o + b.size,
                    "first_layer": b.first, "last_layer": b.last,
                    "first_layer_name": layer_name(b.first), "last_layer_name": layer_name(b.last),
                })
            })
            .collect();
        let layers: Vec<_> = c
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                serde_json::json!({
                    "index": i, "name": c.names[i], "form": form_name(l), "live_bytes": live[i],
                    "scratch_bytes": l.scratch_bytes(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "resolution": opts.resolution, "memory": opts.memory,
                "peak_arena_bytes": c.arena_bytes, "layer_by_layer_bytes": c.layer_by_layer_bytes,
                "no_reuse_bytes": c.naive_bytes, "peak_at": peak_at,
                "input_offset": c.input.offset, "output_offset": c.output.offset,
                "buffers": buffers, "layers": layers,
            }))
            .expect("json")
        );
        return Ok(());
    }
    println!(
        "Arena plan at {r}x{r}, {} form: {} bytes (peak at {peak_at}); layer by layer {} bytes; without reuse {} bytes",
        opts.memory,
        c.arena_bytes,
        c.layer_by_layer_bytes,
        c.naive_bytes,
        r = opts.resolution
    );
    println!("\nBuffers (offset..end in the arena, live from the first to the last layer that touches them):");
    println!(
        "  {:<44} {:>8} {:>8} {:>8}  live layers",
        "buffer", "offset", "bytes", "end"
    );
    for (b, o) in c.buffers.iter().zip(&c.plan.offsets) {
        println!(
            "  {:<44} {:>8} {:>8} {:>8}  {} .. {}",
            b.name,
            o,
            b.size,
            o + b.size,
            layer_name(b.first),
            layer_name(b.last)
        );
    }
    println!("\nLayers (bytes in use while each runs):");
    println!(
        "  {:>3} {:<36} {:<14} {:>8} {:>8}",
        "#", "layer", "form", "live", "scratch"
    );
    for (i, l) in c.layers.iter().enumerate() {
        let mark = if c.names[i] == peak_at {
            "  <- peak"
        } else {
            ""
        };
        println!(
            "  {i:>3} {:<36} {:<14} {:>8} {:>8}{mark}",
            c.names[i],
            form_name(l),
            live[i],
            l.scratch_bytes()
        );
    }
    Ok(())
}

/// The execution form of a layer, for the plan report.
fn form_name(l: &runtime::Layer) -> &'static str {
    use runtime::{ConvVariant, Layer};
    match l {
        Layer::Conv(c) => match c.variant {
            ConvVariant::Reference => "conv",
            ConvVariant::InPlace { .. } => "conv in place",
            ConvVariant::WriteBehind => "conv behind",
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        None => build(&cli.build),
        Some(Command::Inspect {
            checkpoint,
            resolution,
            json,
        }) => inspect(checkpoint, *resolution, *json),
        Some(Command::Eval {
            checkpoint,
            inputs,
            dump_layers,
            svg,
            common,
        }) => eval(checkpoint, inputs, dump_layers.as_deref(), svg, common),
        Some(Command::Plan { checkpoint, common }) => plan(checkpoint.as_deref(), common),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
