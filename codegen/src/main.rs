//! `codegen`: FastViT-T8 checkpoint -> int8 static Rust for fastvit-runtime.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use codegen::calibrate::RangeMethod;
use codegen::error::{check_resolution, Error, Result};
use codegen::eval::{evaluate, sqnr_svg};
use codegen::float::{forward_folded, top_k, Fmap};
use codegen::fold::fold_checkpoint;
use codegen::images::{builtin_held_out, load_input};
use codegen::pipeline::{self, QuantOptions};
use codegen::precision::Precision;
use codegen::quantize::MemoryForm;
use codegen::report;

const EXAMPLES: &str = "Examples:
  codegen                                   # built-in synthetic FastViT-T8 -> generated/fastvit_t8
  codegen model.safetensors --out my_model  # the hub file timm/fastvit_t8.apple_in1k
  codegen model.safetensors --calib photos/ --resolution 224
  codegen inspect model.safetensors
  codegen eval model.safetensors cat.jpg dog.png --json
  codegen plan model.safetensors --json";

/// Reads a FastViT-T8, -T12 or -S12 checkpoint (timm or Apple layout;
/// F32/F16/BF16 safetensors; the variant is detected from the shapes), folds every train-time branch, calibrates and quantizes it to
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
    /// 68 regions of 12 openly licensed photos (codegen/data/calib).
    #[arg(long, value_name = "DIR")]
    calib: Option<PathBuf>,
    /// Activation range estimator.
    #[arg(long, value_enum, default_value_t = RangeMethod::Mse)]
    method: RangeMethod,
    /// Per-channel equalization strength, 0 (off) to 1 (full), or `auto`
    /// (the best of 0, 0.25, 0.5 and 0.75 on calibration inputs held out
    /// from the rest, for the chosen 16-bit groups; on the trained proxy
    /// kit it chose 0.25, 0.6 dB worse than 0.5: docs/numerics.md).
    #[arg(long, value_name = "A", default_value = "0.5")]
    equalize: EqualizeArg,
    /// Do not correct the convs' biases for the mean shift their int8 weight
    /// rounding makes (the correction, from the calibration inputs' channel
    /// means, is on by default: +0.2 to 0.9 dB on the trained proxy kit,
    /// docs/numerics.md).
    #[arg(long, overrides_with = "bias_correction")]
    no_bias_correction: bool,
    /// Correct the convs' biases (the default; undoes `--no-bias-correction`).
    #[arg(long, overrides_with = "no_bias_correction")]
    bias_correction: bool,
    /// Clip the tensors a global pool reads (final_conv's output and its SE
    /// output) like any other (by default they keep their observed range:
    /// +0.9 to 1.7 dB on the trained proxy kit's mixed builds,
    /// docs/numerics.md).
    #[arg(long, overrides_with = "no_clip_pooled")]
    clip_pooled: bool,
    /// Keep the pooled tensors' observed range (the default; undoes
    /// `--clip-pooled`).
    #[arg(long, overrides_with = "clip_pooled")]
    no_clip_pooled: bool,
    /// Execution forms: `fused` (streamed stem, in-place convs, fused ConvMlp:
    /// the smallest arena) or `layer-by-layer` (whole tensors, for comparison).
    #[arg(long, value_enum, default_value_t = MemoryForm::Fused)]
    memory: MemoryForm,
    /// Activations stored with 16 bits: `none`, or a comma-separated list of
    /// `head` (pooled vector and logits), `stages.0` .. `stages.3` (a
    /// stage's residual stream; its layers then run the int16 conv forms:
    /// more arena and several times the instructions), `stages.N.mlp` (its
    /// ConvMlp internals) and `stages.N.downsample` (its downsample's `proj.0`
    /// output), or `auto` (the head, then the groups that gain the most dB
    /// per arena byte within `--arena-budget`, a stage's `mlp` only over its
    /// 16-bit stream, measured on calibration inputs held out from the rest;
    /// the default). `--int16 head` is the int8 build:
    /// the fastest, a few dB less faithful (docs/numerics.md).
    #[arg(long, value_name = "GROUPS", default_value = "auto")]
    int16: Int16Arg,
    /// Arena budget in bytes for `--int16 auto` (default 229376: 224 KiB).
    #[arg(long, value_name = "BYTES")]
    arena_budget: Option<usize>,
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
    let (equalization, choose_equalization) = match c.equalize {
        EqualizeArg::Auto => (QuantOptions::default().equalization, true),
        EqualizeArg::Fixed(a) if (0.0..=1.0).contains(&a) => (a, false),
        EqualizeArg::Fixed(a) => {
            return Err(Error::Usage(format!(
                "--equalize {a} must be between 0 and 1, or auto"
            )))
        }
    };
    Ok(QuantOptions {
        resolution: c.resolution,
        calib: c.calib.clone(),
        method: c.method,
        equalization,
        choose_equalization,
        bias_correction: !c.no_bias_correction,
        no_clip_pooled: !c.clip_pooled,
        quiet: c.quiet || c.json,
        memory: c.memory,
        int16: match &c.int16 {
            Int16Arg::Groups(p) => p.clone(),
            Int16Arg::Auto => Precision::default(),
        },
        int16_budget: match (&c.int16, c.arena_budget) {
            (Int16Arg::Auto, b) => Some(b.unwrap_or(codegen::budget::DEFAULT_ARENA_BUDGET)),
            (Int16Arg::Groups(_), None) => None,
            (Int16Arg::Groups(_), Some(_)) => {
                return Err(Error::Usage(
                    "--arena-budget chooses the 16-bit groups: use it with --int16 auto".into(),
                ))
            }
        },
    })
}

/// `--equalize`: a fixed strength, or `auto`.
#[derive(Clone, Copy, Debug)]
enum EqualizeArg {
    Fixed(f64),
    Auto,
}

impl std::str::FromStr for EqualizeArg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(EqualizeArg::Auto),
            _ => s
                .parse()
                .map(EqualizeArg::Fixed)
                .map_err(|_| format!("`{s}` is neither a strength (0 to 1) nor auto")),
        }
    }
}

/// `--int16`: fixed groups, or `auto`.
#[derive(Clone, Debug)]
enum Int16Arg {
    Groups(Precision),
    Auto,
}

impl std::str::FromStr for Int16Arg {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Int16Arg::Auto),
            _ => s.parse().map(Int16Arg::Groups),
        }
    }
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
    let (folded, compiled) = pipeline::quantize(&ck, &inputs, &source, &opts)?;
    // Fidelity smoke check on built-in images that calibration never saw.
    let held_out = builtin_held_out(opts.resolution);
    let smoke = evaluate(&folded, &compiled, &held_out, false, None, &|| {})?;
    codegen::emit::write_crate_with(&a.out, &compiled, &prov, &a.runtime)?;
    let (summary, text) = report::build(&report::Build {
        prov: &prov,
        ck: &ck,
        folded: &folded,
        compiled: &compiled,
        opts: &opts,
        source: &source,
        smoke: &smoke,
        out: &a.out,
    });
    if a.common.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
    }
    say(quiet, text);
    Ok(())
}

fn inspect(path: &Path, res: usize, json: bool) -> Result<()> {
    check_resolution(res)?;
    let ck = codegen::checkpoint::load(path)?;
    let folded = fold_checkpoint(&ck);
    let (value, text) = report::inspect(path, &ck, &folded, res);
    if json {
        println!("{}", serde_json::to_string_pretty(&value).expect("json"));
    } else {
        print!("{text}");
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
    let (folded, compiled) = pipeline::quantize(&ck, &calib, &source, &opts)?;
    let pb = pipeline::progress(items.len(), "evaluating", opts.quiet);
    let numerics = evaluate(&folded, &compiled, &items, true, dump, &|| pb.inc(1))?;
    pb.finish_and_clear();
    for (item, r) in items.iter().zip(&numerics.inputs) {
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
            println!(
                "{}",
                report::eval_input(
                    &r.input,
                    &logits,
                    &top5,
                    &r.logits_int8,
                    &r.top5_int8,
                    r.cosine
                )
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
    std::fs::write(svg, sqnr_svg(&numerics.layers)).map_err(|source| Error::Io {
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
        for line in report::eval_summary(&numerics) {
            out(line);
        }
        let s = &compiled.settings;
        out(format!(
            "Build: int16 groups `{}`, equalization {} ({}), bias correction {}, pooled tensors {}",
            s.int16,
            s.equalization,
            if opts.choose_equalization {
                "measured"
            } else {
                "fixed"
            },
            if s.bias_correction { "on" } else { "off" },
            if s.no_clip_pooled {
                "unclipped"
            } else {
                "clipped"
            },
        ));
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
    let (_, c) = pipeline::quantize(&ck, &inputs, &source, &opts)?;
    let (value, text) = report::plan(&c, &opts);
    if common.json {
        println!("{}", serde_json::to_string_pretty(&value).expect("json"));
    } else {
        print!("{text}");
    }
    Ok(())
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
