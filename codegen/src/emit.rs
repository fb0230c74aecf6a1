//! Emission: the compiled model as a small `no_std` crate that is data only
//! (header, weight blob via `include_bytes!`, `static SCHEDULE`, the exact
//! `ARENA_BYTES`, shapes, `const` assertions). Rust is built as a syntax tree
//! (`quote!`) and printed with `prettyplease`. Output is written atomically:
//! on any error an existing output folder is left exactly as it was.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;
use runtime::{Add, Conv, ConvVariant, Elem, Layer, Requant, Span, TensorRef};

use crate::error::{Error, Result};
use crate::quantize::Compiled;

/// Where the model came from, for the generated header.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Provenance {
    /// Checkpoint path (or "built-in synthetic ...").
    pub checkpoint: String,
    /// SHA-256 of the checkpoint bytes.
    pub sha256: String,
    /// Detected layout.
    pub layout: String,
    /// Model name for the generated header (`FastViT-T12`); `model.json`
    /// carries it at its top level (`"model"`), not in `provenance`.
    #[serde(skip)]
    pub model: String,
}

/// Name of the generated crate's package.
pub const PACKAGE: &str = "fastvit-t8-model";

fn span(s: Span) -> TokenStream {
    let (o, l) = (s.offset, s.len);
    quote!(Span { offset: #o, len: #l })
}

fn tensor(t: TensorRef) -> TokenStream {
    let (o, h, w, c) = (t.offset, t.h, t.w, t.c);
    match t.elem {
        Elem::I8 => quote!(TensorRef::i8(#o, #h, #w, #c)),
        Elem::I16 => quote!(TensorRef { offset: #o, h: #h, w: #w, c: #c, elem: Elem::I16 }),
    }
}

fn requant(r: Requant) -> TokenStream {
    let (m, s) = (span(r.multiplier), span(r.shift));
    quote!(Requant { multiplier: #m, shift: #s })
}

/// A [`ConvVariant`] field as the generated file spells it.
trait Field {
    fn tokens(self) -> TokenStream;
}

/// Scratch offsets: a literal.
impl Field for u32 {
    fn tokens(self) -> TokenStream {
        quote!(#self)
    }
}

/// Flags: `true` or `false`.
impl Field for bool {
    fn tokens(self) -> TokenStream {
        quote!(#self)
    }
}

/// Blob spans: a `Span { .. }` literal.
impl Field for Span {
    fn tokens(self) -> TokenStream {
        span(self)
    }
}

/// A `match` spelling each [`ConvVariant`] as `ConvVariant::V { f: .. }`,
/// each field by [`Field`] (the compiler still checks it is exhaustive).
macro_rules! variant_tokens {
    ($e:expr; $($unit:ident),*; $($v:ident { $($f:ident),* }),* $(,)?) => {
        match $e {
            $(ConvVariant::$unit => quote!(ConvVariant::$unit),)*
            $(ConvVariant::$v { $($f),* } => {
                $(let $f = $f.tokens();)*
                quote!(ConvVariant::$v { $($f: #$f),* })
            })*
        }
    };
}

/// A `Conv { .. }` struct literal.
fn conv_tokens(c: &Conv) -> TokenStream {
    let variant = variant_tokens!(c.variant;
        Reference, WriteBehind, WriteAhead;
        InPlace { scratch },
        WidenInPlace { scratch, end_aligned },
        Pointwise { folded_bias },
        PointwiseInPlace { scratch, folded_bias },
        Depthwise { weights_hwc, folded_bias },
        DepthwiseInPlace { scratch, weights_hwc, folded_bias },
        Im2col { weights_rows, folded_bias },
        DenseHwio { weights_hwio, folded_bias },
        Multiplier { weights_hwc, folded_bias },
        MultiplierWriteBehind { weights_hwc, folded_bias },
    );
    let (input, output) = (tensor(c.input), tensor(c.output));
    let (in_zp, out_zp, kernel, stride, pad, groups) =
        (c.in_zp, c.out_zp, c.kernel, c.stride, c.pad, c.groups);
    let (weights, bias, rq, pv, lut, id) = (
        span(c.weights),
        span(c.bias),
        requant(c.requant),
        span(c.pad_values),
        span(c.lut),
        span(c.identity),
    );
    quote!(Conv {
        variant: #variant, input: #input, in_zp: #in_zp, output: #output, out_zp: #out_zp,
        kernel: #kernel, stride: #stride, pad: #pad, groups: #groups,
        weights: #weights, bias: #bias, requant: #rq, pad_values: #pv, lut: #lut,
        identity: #id,
    })
}

/// An `Add { .. }` struct literal.
fn add_tokens(a: &Add) -> TokenStream {
    let (ta, tb, to) = (tensor(a.a), tensor(a.b), tensor(a.output));
    let (a_zp, a_mult, a_shift, b_zp, b_mult, b_shift) =
        (a.a_zp, a.a_mult, a.a_shift, a.b_zp, a.b_mult, a.b_shift);
    let (out_zp, out_mult, out_shift, ls) = (a.out_zp, a.out_mult, a.out_shift, a.left_shift);
    quote!(Add {
        a: #ta, a_zp: #a_zp, a_mult: #a_mult, a_shift: #a_shift,
        b: #tb, b_zp: #b_zp, b_mult: #b_mult, b_shift: #b_shift,
        output: #to, out_zp: #out_zp, out_mult: #out_mult, out_shift: #out_shift, left_shift: #ls,
    })
}

/// The `runtime` items a generated file needs to spell `layers`.
fn runtime_items(layers: &[&Layer]) -> Vec<&'static str> {
    let mut items = vec!["Layer", "Model", "Span", "TensorRef"];
    for l in layers {
        let more: &[&str] = match l {
            Layer::Conv(_) => &["Conv", "ConvVariant", "Requant"],
            Layer::Lut(_) => &["Lut"],
            Layer::Add(_) => &["Add"],
            Layer::SqueezeExcite(_) => &["SqueezeExcite", "Requant"],
            Layer::GlobalAvgPool(_) => &["GlobalAvgPool", "Requant"],
            Layer::FullyConnected(_) => &["FullyConnected", "Requant"],
            Layer::Stem(_) => &["Stem", "Conv", "ConvVariant", "Requant"],
            Layer::ConvMlp(_) => &["ConvMlp", "Conv", "ConvVariant", "Add", "Requant"],
        };
        items.extend(more);
        if let Layer::GlobalAvgPool(_) | Layer::FullyConnected(_) = l {
            if [l.input().elem, l.output().elem].contains(&Elem::I16) {
                items.push("Elem");
            }
        }
    }
    items.sort_unstable();
    items.dedup();
    items
}

/// A Rust expression constructing `layer`.
pub fn layer_tokens(layer: &Layer) -> TokenStream {
    match layer {
        Layer::Conv(c) => {
            let c = conv_tokens(c);
            quote!(Layer::Conv(#c))
        }
        Layer::Lut(l) => {
            let (i, o, t) = (tensor(l.input), tensor(l.output), span(l.table));
            quote!(Layer::Lut(Lut { input: #i, output: #o, table: #t }))
        }
        Layer::Add(a) => {
            let a = add_tokens(a);
            quote!(Layer::Add(#a))
        }
        Layer::SqueezeExcite(s) => {
            let (i, o) = (tensor(s.input), tensor(s.output));
            let (in_zp, out_zp, reduced, pool_zp, hid_zp, gate_zp, scratch) = (
                s.in_zp, s.out_zp, s.reduced, s.pool_zp, s.hid_zp, s.gate_zp, s.scratch,
            );
            let (prq, f1w, f1b, f1r) = (
                requant(s.pool_requant),
                span(s.fc1_weights),
                span(s.fc1_bias),
                requant(s.fc1_requant),
            );
            let (f2w, f2b, f2r, sig, srq, lut) = (
                span(s.fc2_weights),
                span(s.fc2_bias),
                requant(s.fc2_requant),
                span(s.sigmoid),
                requant(s.scale_requant),
                span(s.lut),
            );
            quote!(Layer::SqueezeExcite(SqueezeExcite {
                input: #i, in_zp: #in_zp, output: #o, out_zp: #out_zp, reduced: #reduced,
                pool_requant: #prq, pool_zp: #pool_zp,
                fc1_weights: #f1w, fc1_bias: #f1b, fc1_requant: #f1r, hid_zp: #hid_zp,
                fc2_weights: #f2w, fc2_bias: #f2b, fc2_requant: #f2r, gate_zp: #gate_zp,
                sigmoid: #sig, scale_requant: #srq, lut: #lut, scratch: #scratch,
            }))
        }
        Layer::GlobalAvgPool(g) => {
            let (i, o, rq) = (tensor(g.input), tensor(g.output), requant(g.requant));
            let (in_zp, out_zp) = (g.in_zp, g.out_zp);
            quote!(Layer::GlobalAvgPool(GlobalAvgPool { input: #i, in_zp: #in_zp, output: #o, out_zp: #out_zp, requant: #rq }))
        }
        Layer::FullyConnected(f) => {
            let (i, o, w, b, rq) = (
                tensor(f.input),
                tensor(f.output),
                span(f.weights),
                span(f.bias),
                requant(f.requant),
            );
            let (in_zp, out_zp) = (f.in_zp, f.out_zp);
            quote!(Layer::FullyConnected(FullyConnected {
                input: #i, in_zp: #in_zp, output: #o, out_zp: #out_zp, weights: #w, bias: #b, requant: #rq,
            }))
        }
        Layer::Stem(s) => {
            let (first, second) = (conv_tokens(&s.first), conv_tokens(&s.second));
            quote!(Layer::Stem(Stem { first: #first, second: #second }))
        }
        Layer::ConvMlp(m) => {
            let (dw, fc1, fc2) = (conv_tokens(&m.dw), conv_tokens(&m.fc1), conv_tokens(&m.fc2));
            let (add, scratch) = (add_tokens(&m.add), m.scratch);
            quote!(Layer::ConvMlp(ConvMlp { dw: #dw, fc1: #fc1, fc2: #fc2, add: #add, scratch: #scratch }))
        }
    }
}

/// FNV-1a 32 of the weight blob: the integrity check a firmware can run at boot.
pub fn weights_checksum(blob: &[u8]) -> u32 {
    blob.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// The layers `c`'s two entry points run: the schedule and the stem of the
/// normalized-input entry.
fn used_layers(c: &Compiled) -> Vec<&Layer> {
    c.schedule
        .layers
        .iter()
        .chain([&c.schedule.stem_normalized])
        .collect()
}

/// Whether any conv of `layers` runs a reference form, which a runtime built
/// without `reference-forms` refuses.
fn uses_reference_forms(layers: &[&Layer]) -> bool {
    let reference = Conv::reference_form;
    layers.iter().any(|l| match l {
        Layer::Conv(c) => reference(c),
        Layer::Stem(s) => reference(&s.first) || reference(&s.second),
        Layer::ConvMlp(m) => reference(&m.dw) || reference(&m.fc1) || reference(&m.fc2),
        _ => false,
    })
}

/// The generated `src/lib.rs`.
pub fn lib_rs(c: &Compiled, prov: &Provenance) -> String {
    let n = c.schedule.layers.len();
    let layers: Vec<TokenStream> = c.schedule.layers.iter().map(layer_tokens).collect();
    let names = &c.schedule.names;
    let stem_normalized = layer_tokens(&c.schedule.stem_normalized);
    let (h, w) = (c.schedule.input.h as usize, c.schedule.input.w as usize);
    let classes = c.schedule.output.len();
    let arena = c.arena_bytes;
    let wbytes = c.weights.len();
    let checksum = weights_checksum(&c.weights);
    let input = tensor(c.schedule.input);
    let output = tensor(c.schedule.output);
    let (oscale, ozp) = (c.output_q.scale as f32, c.output_q.zp);
    let (logit, logit_doc) = match c.schedule.output.elem {
        Elem::I8 => (quote!(i8), "The logits' type: int8."),
        Elem::I16 => (quote!(i16), "The logits' type: int16 (a wide head output)."),
    };
    let (nscale, nzp) = (c.normalized_input_q.scale as f32, c.normalized_input_q.zp);
    let macs = c.macs();
    let sha = &prov.sha256;
    let used = used_layers(c);
    let items: Vec<proc_macro2::Ident> = runtime_items(&used)
        .into_iter()
        .map(|n| proc_macro2::Ident::new(n, proc_macro2::Span::call_site()))
        .collect();
    let memory = c.settings.memory.to_string();
    let lbl = c.layer_by_layer_bytes;
    let reference_forms = uses_reference_forms(&used);
    let tokens = quote! {
        #![no_std]
        #![allow(clippy::all)]

        pub use runtime;
        use runtime::{#(#items),*};

        /// SHA-256 of the source checkpoint.
        pub const CHECKPOINT_SHA256: &str = #sha;
        /// Input height in pixels.
        pub const INPUT_HEIGHT: usize = #h;
        /// Input width in pixels.
        pub const INPUT_WIDTH: usize = #w;
        /// Bytes of one u8 RGB input frame (HWC).
        pub const INPUT_BYTES: usize = #h * #w * 3;
        /// Number of classes.
        pub const CLASSES: usize = #classes;
        /// Exact arena size the schedule needs (input image and scratch included).
        pub const ARENA_BYTES: usize = #arena;
        /// Execution forms the schedule uses (`fused` or `layer-by-layer`).
        pub const MEMORY_FORM: &str = #memory;
        /// Arena bytes the same model needs layer by layer (for comparison).
        pub const LAYER_BY_LAYER_ARENA_BYTES: usize = #lbl;
        /// Size of the weight blob.
        pub const WEIGHTS_BYTES: usize = #wbytes;
        /// FNV-1a 32 of the weight blob (see `weights_intact`).
        pub const WEIGHTS_FNV1A32: u32 = #checksum;
        /// Real value of logit `q`: `OUTPUT_SCALE * (q - OUTPUT_ZERO_POINT)`.
        pub const OUTPUT_SCALE: f32 = #oscale;
        /// Zero point of the logits.
        pub const OUTPUT_ZERO_POINT: i32 = #ozp;
        #[doc = #logit_doc]
        pub type Logit = #logit;
        /// Scale of the quantized normalized input (`Model::run_normalized`).
        pub const NORMALIZED_INPUT_SCALE: f32 = #nscale;
        /// Zero point of the quantized normalized input.
        pub const NORMALIZED_INPUT_ZERO_POINT: i32 = #nzp;
        /// Multiply-accumulates per inference.
        pub const MACS: u64 = #macs;
        /// Layers in the schedule.
        pub const LAYERS: usize = #n;
        /// Whether a conv of the schedule runs a reference form (then the
        /// runtime needs its `reference-forms` feature).
        pub const USES_REFERENCE_FORMS: bool = #reference_forms;

        /// 16-byte aligned storage.
        #[repr(C, align(16))]
        pub struct Aligned<T: ?Sized>(pub T);

        /// The weight blob. On bare-metal targets it goes to `.fastvit_weights`
        /// so a board's linker script can place it (flash, external flash).
        #[cfg_attr(target_os = "none", link_section = ".fastvit_weights")]
        pub static WEIGHTS: Aligned<[u8; WEIGHTS_BYTES]> = Aligned(*include_bytes!("../weights.bin"));

        /// The schedule, executed in order.
        pub static SCHEDULE: [Layer; LAYERS] = [#(#layers),*];

        /// timm module name of each layer.
        pub static LAYER_NAMES: [&str; LAYERS] = [#(#names),*];

        /// The model, ready for `MODEL.run(&mut arena, &frame, &mut logits)`.
        pub static MODEL: Model<'static> = Model {
            weights: &WEIGHTS.0,
            layers: &SCHEDULE,
            layer_names: &LAYER_NAMES,
            stem_normalized: #stem_normalized,
            arena_bytes: ARENA_BYTES,
            input: #input,
            normalized_input_zp: NORMALIZED_INPUT_ZERO_POINT,
            output: #output,
            output_zp: OUTPUT_ZERO_POINT,
        };

        /// Recomputes the weight checksum (e.g. at boot) and compares it with
        /// the one codegen recorded: `false` means corrupted flash.
        pub fn weights_intact() -> bool {
            let mut h: u32 = 0x811c_9dc5;
            let mut i = 0;
            while i < WEIGHTS_BYTES {
                h = (h ^ WEIGHTS.0[i] as u32).wrapping_mul(0x0100_0193);
                i += 1;
            }
            h == WEIGHTS_FNV1A32
        }

        /// [`MODEL`]`.run` with every buffer size checked by the type system:
        /// a wrong-sized arena, frame or logits buffer does not compile.
        pub fn classify(
            arena: &mut [i8; ARENA_BYTES],
            frame: &[u8; INPUT_BYTES],
            logits: &mut [Logit; CLASSES],
        ) -> Result<(), runtime::Error> {
            MODEL.run(arena, frame, logits)
        }

        const _: () = assert!(INPUT_BYTES <= ARENA_BYTES);
        const _: () = assert!(CLASSES <= ARENA_BYTES);
        const _: () = assert!(WEIGHTS_BYTES % 16 == 0);
        const _: () = assert!(
            !USES_REFERENCE_FORMS || runtime::REFERENCE_FORMS,
            "this schedule runs reference conv forms: enable fastvit-runtime's `reference-forms` feature"
        );
    };
    let file: syn::File = syn::parse2(tokens).expect("generated code parses");
    let header = format!(
        "//! {} int8 model generated by fastvit-edge codegen {}. DO NOT EDIT: rerun codegen.\n\
         //!\n\
         //! - checkpoint: {} ({} layout)\n\
         //! - checkpoint sha256: {}\n\
         //! - quantization: per-channel int8 weights, per-tensor int8 activations (int16: {}), \
         range method `{}`, equalization alpha {}, bias correction {}{}, {} calibration inputs ({})\n\
         //! - input: {}x{} u8 RGB (HWC); {} classes; {} MACs\n\
         //! - arena: {} bytes ({} memory form; {} bytes layer by layer); weights: {} bytes\n\n",
        prov.model,
        env!("CARGO_PKG_VERSION"),
        prov.checkpoint,
        prov.layout,
        prov.sha256,
        c.settings.int16,
        serde_json::to_value(c.settings.method)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        c.settings.equalization,
        if c.settings.bias_correction {
            "on"
        } else {
            "off"
        },
        if c.settings.no_clip_pooled {
            ", pooled tensors unclipped"
        } else {
            ""
        },
        c.settings.calibration_inputs,
        c.settings.calibration_source,
        h,
        w,
        classes,
        macs,
        arena,
        c.settings.memory,
        c.layer_by_layer_bytes,
        wbytes,
    );
    header + &name_schedule_entries(&prettyplease::unparse(&file), &c.schedule.names)
}

/// Puts `// [i] name` above each entry of `SCHEDULE`, so a reader of the
/// generated file sees which timm module every entry runs (the printer
/// drops comments, so they go in after it).
fn name_schedule_entries(src: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(src.len() + 64 * names.len());
    let mut in_schedule = false;
    let mut next = 0;
    for line in src.lines() {
        if line.starts_with("pub static SCHEDULE") {
            in_schedule = true;
        } else if in_schedule && line.starts_with("];") {
            in_schedule = false;
        } else if in_schedule && line.starts_with("    Layer::") {
            if let Some(name) = names.get(next) {
                out.push_str(&format!("    // [{next}] {name}\n"));
            }
            next += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The generated `Cargo.toml`, depending on the runtime at `runtime_dep`.
///
/// `reference_forms`: the schedule runs reference conv forms (a build with
/// 16-bit layers), so the runtime's `reference-forms` feature is switched
/// on, with `fast-int16` (the fast forms of those layers); an int8 build
/// leaves every runtime feature to the firmware.
pub fn cargo_toml(runtime_dep: &str, reference_forms: bool) -> String {
    let features = if reference_forms {
        ", features = [\"reference-forms\", \"fast-int16\"]"
    } else {
        ""
    };
    format!(
        "# Generated by fastvit-edge codegen. DO NOT EDIT.\n\
         [package]\nname = \"{PACKAGE}\"\nversion = \"{}\"\nedition = \"2021\"\npublish = false\n\n\
         [lib]\nname = \"fastvit_model\"\npath = \"src/lib.rs\"\n\n\
         [dependencies]\nruntime = {{ package = \"fastvit-runtime\", {runtime_dep}, default-features = false{features} }}\n\n\
         # Not part of the generating workspace.\n[workspace]\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// A machine-readable summary next to the crate (names, quantization).
pub fn manifest_json(c: &Compiled, prov: &Provenance) -> String {
    let layers: Vec<_> = c
        .schedule.layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let o = l.output();
            serde_json::json!({
                "name": c.schedule.names[i], "macs": l.macs(), "output_hwc": [o.h, o.w, o.c],
                "output_offset": o.offset, "output_scale": c.schedule.out_q[i].scale, "output_zero_point": c.schedule.out_q[i].zp,
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "tool": format!("fastvit-edge codegen {}", env!("CARGO_PKG_VERSION")),
        "model": prov.model,
        "provenance": prov,
        "settings": c.settings,
        "arena_bytes": c.arena_bytes,
        "memory": c.settings.memory,
        "layer_by_layer_bytes": c.layer_by_layer_bytes,
        "naive_bytes": c.naive_bytes,
        "weights_bytes": c.weights.len(),
        "weights_fnv1a32": weights_checksum(&c.weights),
        "macs": c.macs(),
        "classes": c.schedule.output.len(),
        "input_hw": [c.schedule.input.h, c.schedule.input.w],
        "output_scale": c.output_q.scale,
        "output_zero_point": c.output_q.zp,
        "normalized_input_scale": c.normalized_input_q.scale,
        "normalized_input_zero_point": c.normalized_input_q.zp,
        "layers": layers,
    }))
    .expect("json")
        + "\n"
}

/// Where the generated crate takes `fastvit-runtime` from (`--runtime`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RuntimeSource {
    /// This checkout's `runtime/`, by a relative path from the output folder
    /// (absolute only when the two share nothing but the filesystem root).
    #[default]
    Checkout,
    /// A path, written as given (relative paths are relative to the
    /// generated crate's folder, as Cargo reads them).
    Path(PathBuf),
    /// A version requirement, for a registry or vendored copy.
    Version(String),
}

impl std::str::FromStr for RuntimeSource {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            _ if s == "checkout" => Ok(RuntimeSource::Checkout),
            Some(("path", p)) if !p.is_empty() => Ok(RuntimeSource::Path(p.into())),
            Some(("version", v)) if !v.is_empty() => Ok(RuntimeSource::Version(v.into())),
            _ => Err(format!(
                "{s:?}: expected `checkout`, `path:DIR` or `version:REQ` (e.g. `version:0.1`)"
            )),
        }
    }
}

impl RuntimeSource {
    /// The dependency's keys in the generated `Cargo.toml`, for output `out`.
    pub fn dependency(&self, out: &Path) -> String {
        match self {
            RuntimeSource::Checkout => runtime_dependency(out),
            RuntimeSource::Path(p) => format!("path = {:?}", p.display().to_string()),
            RuntimeSource::Version(v) => format!("version = {v:?}"),
        }
    }
}

/// How the generated crate refers to this checkout's runtime: a path
/// relative to `out` (so the tree can move or be cloned elsewhere), absolute
/// only when they share nothing but the root.
pub fn runtime_dependency(out: &Path) -> String {
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime");
    let runtime = runtime.canonicalize().unwrap_or(runtime);
    let out_abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(out))
            .unwrap_or_else(|_| out.to_path_buf())
    };
    let parent = out_abs
        .parent()
        .map(|p| p.canonicalize().unwrap_or(p.to_path_buf()));
    let rel =
        parent.and_then(|p| relative(&runtime, &p.join(out_abs.file_name().unwrap_or_default())));
    format!("path = \"{}\"", rel.unwrap_or(runtime).display())
}

fn relative(target: &Path, from_dir: &Path) -> Option<PathBuf> {
    let t: Vec<_> = target.components().collect();
    let f: Vec<_> = from_dir.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    if common < 2 {
        return None;
    }
    let mut p = PathBuf::new();
    for _ in common..f.len() {
        p.push("..");
    }
    for c in &t[common..] {
        p.push(c);
    }
    Some(p)
}

/// Writes the generated crate to `out` atomically: everything goes to a
/// sibling temporary folder first, which then replaces `out` by rename.
/// The runtime dependency is this checkout's ([`RuntimeSource::Checkout`]).
pub fn write_crate(out: &Path, c: &Compiled, prov: &Provenance) -> Result<()> {
    write_crate_with(out, c, prov, &RuntimeSource::Checkout)
}

/// [`write_crate`] with the runtime dependency chosen by the caller.
pub fn write_crate_with(
    out: &Path,
    c: &Compiled,
    prov: &Provenance,
    runtime: &RuntimeSource,
) -> Result<()> {
    let io = |path: &Path, action: &'static str| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            path,
            action,
            source,
        }
    };
    let name = out
        .file_name()
        .ok_or_else(|| Error::Usage(format!("--out {} has no folder name", out.display())))?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent, "cannot create output parent folder"))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| -> Result<()> {
        std::fs::create_dir_all(tmp.join("src"))
            .map_err(io(&tmp, "cannot create temporary output"))?;
        let files: [(&str, Vec<u8>); 4] = [
            (
                "Cargo.toml",
                cargo_toml(
                    &runtime.dependency(out),
                    uses_reference_forms(&used_layers(c)),
                )
                .into_bytes(),
            ),
            ("src/lib.rs", lib_rs(c, prov).into_bytes()),
            ("weights.bin", c.weights.clone()),
            ("model.json", manifest_json(c, prov).into_bytes()),
        ];
        for (f, bytes) in files {
            let p = tmp.join(f);
            std::fs::write(&p, bytes).map_err(io(&p, "cannot write"))?;
        }
        let old = parent.join(format!(
            ".{}.old-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        if out.exists() {
            std::fs::rename(out, &old).map_err(io(out, "cannot move previous output aside"))?;
        }
        if let Err(e) = std::fs::rename(&tmp, out) {
            let _ = std::fs::rename(&old, out);
            return Err(io(out, "cannot move new output into place")(e));
        }
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// The generated model as a module body (no crate-level attributes) for
/// `include!` from a crate whose `build.rs` runs codegen: writes
/// `fastvit_model.rs` and `weights.bin` into `out_dir` (e.g. `OUT_DIR`).
pub fn write_module(out_dir: &Path, c: &Compiled, prov: &Provenance) -> Result<()> {
    let body: String = lib_rs(c, prov)
        .lines()
        .filter(|l| !l.starts_with("#!["))
        .map(|l| match l.strip_prefix("//!") {
            Some(rest) => format!("//{rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let body = body.replace(
        "include_bytes!(\"../weights.bin\")",
        "include_bytes!(\"weights.bin\")",
    );
    for (name, bytes) in [
        ("fastvit_model.rs", body.into_bytes()),
        ("weights.bin", c.weights.clone()),
    ] {
        let p = out_dir.join(name);
        std::fs::write(&p, bytes).map_err(|source| Error::Io {
            path: p,
            action: "cannot write",
            source,
        })?;
    }
    Ok(())
}
