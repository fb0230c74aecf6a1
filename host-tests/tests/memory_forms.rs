//! The fused memory form (streamed stem, in-place convs, write-behind
//! downsampling, fused in-place ConvMlp) computes exactly what the simple
//! layer-by-layer form computes: the same logits, and the same bytes in every
//! tensor both forms materialize, on several inputs, through both entry
//! points, with the arena pre-filled with random bytes. At 256x256 the fused
//! arena, input image included, fits in 224 KiB.

use codegen::images::ModelInput;
use codegen::pipeline::{self, QuantOptions};
use codegen::plan;
use codegen::precision::Precision;
use codegen::quantize::{compile, Compiled, MemoryForm};
use testkit::{first_difference, SplitMix64};

/// The budget: 224 KiB at 256x256.
const BUDGET_256: usize = 224 * 1024;

/// Weight blob bytes, pinned like the arena (4,384,624 when weights were
/// stored in two layouts and shifts as words, 4,130,880 with i32
/// multipliers).
const WEIGHTS_BYTES: usize = 4_096_144;

/// One resolution the forms are compared at.
struct Resolution {
    res: usize,
    /// Calibration inputs run through both forms (each raw and normalized).
    inputs: usize,
    /// Exact arena bytes `(fused, layer by layer)`, pinned: the plan is
    /// deterministic, so any change to it (better or worse) must show up
    /// here and in the README's figures.
    arena_bytes: (usize, usize),
}

const RESOLUTIONS: [Resolution; 3] = [
    Resolution {
        res: 256,
        inputs: 2,
        arena_bytes: (215_808, 983_040),
    },
    Resolution {
        res: 96,
        inputs: 3,
        arena_bytes: (34_848, 138_240),
    },
    Resolution {
        res: 64,
        inputs: 3,
        arena_bytes: (35_536, 61_440),
    },
];

/// Logits and every layer's output (keyed by its float tensor name), run on
/// an arena of exactly `arena_bytes` filled with garbage from `seed`.
fn run(
    c: &Compiled,
    input: &ModelInput,
    normalized: bool,
    seed: u64,
) -> (Vec<i16>, Vec<(String, Vec<i8>)>) {
    let mut arena = SplitMix64::new(seed).i8s(c.arena_bytes);
    let mut logits = vec![0i16; c.schedule.output.len()];
    let mut outputs = Vec::new();
    let after = |i: usize, a: &[i8]| {
        let t = c.schedule.layers[i].output();
        outputs.push((
            c.schedule.float_names[i].clone(),
            a[t.offset as usize..t.end()].to_vec(),
        ));
    };
    c.with_model(|m| {
        if normalized {
            let q = c.quantize_normalized(&input.normalized);
            m.run_normalized(&mut arena, &q, &mut logits, after)
        } else {
            m.run_with(&mut arena, input.rgb.as_ref().unwrap(), &mut logits, after)
        }
    })
    .expect("schedule runs");
    (logits, outputs)
}

fn compare_forms(res: usize, inputs: usize) -> (Compiled, Compiled) {
    compare_forms_with(res, inputs, Precision::default())
}

/// [`compare_forms`] with the tensors of `int16` stored with 16 bits.
fn compare_forms_with(res: usize, inputs: usize, int16: Precision) -> (Compiled, Compiled) {
    let default = int16 == Precision::default();
    let opts = QuantOptions {
        int16,
        ..host_tests::quiet_options(res)
    };
    let (ck, _) = pipeline::load_or_synthesize(None).unwrap();
    let (calib, source) = pipeline::calibration_inputs(&opts).unwrap();
    let (folded, ranges) = pipeline::calibrate(&ck, &calib, &opts);
    let form = |memory| {
        let opts = QuantOptions {
            memory,
            ..opts.clone()
        };
        compile(&folded, &ranges, pipeline::settings(&calib, &source, &opts))
    };
    let (fused, lbl) = (form(MemoryForm::Fused), form(MemoryForm::LayerByLayer));

    // Same quantization: the same weight blob, fewer layers, smaller arena.
    assert!(fused.weights == lbl.weights, "weight blobs differ");
    // Each weight once, shifts as bytes (docs/memory.md#flash): the blob of
    // FastViT-T8 with 1000 classes at any resolution.
    // (int16 streams run the reference forms: OHWI weights, other layouts.)
    if default {
        assert_eq!(fused.weights.len(), WEIGHTS_BYTES, "weight blob bytes");
    }
    assert_eq!(fused.macs(), lbl.macs());
    assert!(fused.schedule.layers.len() < lbl.schedule.layers.len());
    assert_eq!(fused.layer_by_layer_bytes, lbl.arena_bytes);
    assert!(fused.arena_bytes < lbl.arena_bytes);
    for c in [&fused, &lbl] {
        plan::check(&c.schedule.buffers, &c.schedule.accesses, &c.schedule.plan).unwrap();
        assert_eq!(c.arena_bytes, c.schedule.plan.peak);
    }

    for (k, input) in calib.iter().take(inputs).enumerate() {
        for normalized in [false, true] {
            let seed = 1000 * res as u64 + 2 * k as u64 + normalized as u64;
            let (lf, of) = run(&fused, input, normalized, seed);
            let (ll, ol) = run(&lbl, input, normalized, seed ^ 0xFFFF);
            let what = format!("{res}x{res}, {}, normalized {normalized}", input.name);
            assert_eq!(lf, ll, "logits differ: {what}");
            // Every tensor the fused form materializes, the layer-by-layer form
            // does too: compare them all.
            for (name, bytes) in &of {
                let (_, other) = ol
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("{name} is not a layer-by-layer output"));
                if let Some(m) = first_difference(other, bytes) {
                    panic!("{what}: {name}, fused against layer by layer: {m}");
                }
            }
            assert_eq!(of.len(), fused.schedule.layers.len());
        }
    }
    (fused, lbl)
}

/// Compares the forms at `res` (one of [`RESOLUTIONS`]) and checks the
/// pinned arena sizes; returns the fused form.
fn check_resolution(res: usize) -> Compiled {
    let r = RESOLUTIONS.iter().find(|r| r.res == res).unwrap();
    let (fused, lbl) = compare_forms(res, r.inputs);
    eprintln!(
        "{res}x{res}: fused arena {} bytes, layer by layer {} bytes",
        fused.arena_bytes, lbl.arena_bytes
    );
    assert_eq!(
        (fused.arena_bytes, lbl.arena_bytes),
        r.arena_bytes,
        "{res}x{res}: arena bytes (fused, layer by layer) changed: update RESOLUTIONS and the README"
    );
    fused
}

#[test]
fn fused_equals_layer_by_layer_at_256_within_224_kib() {
    let fused = check_resolution(256);
    assert!(
        fused.arena_bytes <= BUDGET_256,
        "fused arena {} > {BUDGET_256}",
        fused.arena_bytes
    );
    // The input image is inside the arena.
    assert!(fused.schedule.input.end() <= fused.arena_bytes);
}

#[test]
fn fused_equals_layer_by_layer_at_small_resolutions() {
    for res in [64, 96] {
        check_resolution(res);
    }
}

/// Every residual stream stored with 16 bits (`--int16
/// head,stages.0,stages.1,stages.2,stages.3`): the fused form, with its
/// widening 1x1 convs (int8 in, int16 out) written over their input from
/// either end and its downsampling convs behind or ahead of their int16
/// input, still computes the layer-by-layer form's bits, and every stream tensor is
/// int16.
#[test]
fn int16_streams_fused_equals_layer_by_layer() {
    let all: Precision = "head,stages.0,stages.1,stages.2,stages.3".parse().unwrap();
    for (res, arena) in [(64, (32_656, 73_728)), (96, (66_448, 165_888))] {
        let (fused, lbl) = compare_forms_with(res, 2, all.clone());
        eprintln!(
            "int16 streams {res}x{res}: fused arena {} bytes, layer by layer {} bytes",
            fused.arena_bytes, lbl.arena_bytes
        );
        let wide = fused.int16_outputs(&fused.schedule.float_names);
        // stem.2, each stage's proj.1 (3), token mixers and blocks (2 x 10),
        // pool and logits.
        assert_eq!(wide.len(), 1 + 3 + 20 + 2, "{wide:?}");
        assert!(wide.iter().all(|n| all.is_wide(n)), "{wide:?}");
        assert_eq!(
            (fused.arena_bytes, lbl.arena_bytes),
            arena,
            "{res}x{res} arena"
        );
    }
}

/// The ConvMlp internals stored with 16 bits (`stages.N.mlp`: each block's
/// `dw` and `fc2` outputs), over int16 streams and over an int8 one: the
/// fused block (its `d` scratch twice as wide) computes the layer-by-layer
/// form's bits, whose `fc1` reads an int16 `dw` output (96 to 384 taps per
/// output: summed in i64).
#[test]
fn int16_mlp_internals_fused_equals_layer_by_layer() {
    for (spec, wide_mlp, arena) in [
        (
            "head,stages.0,stages.1,stages.2,stages.3,stages.0.mlp,stages.1.mlp,stages.2.mlp,stages.3.mlp",
            20,
            (32_848, 86_016),
        ),
        ("head,stages.1.mlp", 4, (35_536, 61_440)),
    ] {
        let p: Precision = spec.parse().unwrap();
        let (fused, lbl) = compare_forms_with(64, 2, p.clone());
        eprintln!(
            "{spec} 64x64: fused arena {} bytes, layer by layer {} bytes",
            fused.arena_bytes, lbl.arena_bytes
        );
        let wide = lbl.int16_outputs(&lbl.schedule.float_names);
        let mlp: Vec<_> = wide.iter().filter(|n| n.contains(".mlp.")).collect();
        assert_eq!(mlp.len(), wide_mlp, "{wide:?}");
        assert!(wide.iter().all(|n| p.is_wide(n)), "{wide:?}");
        assert_eq!((fused.arena_bytes, lbl.arena_bytes), arena, "{spec} arena");
    }
}
