//! `fastvit_classify::camera` (the firmware's streaming integer
//! preprocessing) against codegen's host `images::eval_transform` (timm's
//! eval transform through the `image` crate) on real photos: whole frames,
//! non-square frames, regions of interest (enlarging and shrinking), RGB888
//! and RGB565 (against the host transform of the 565-widened photo), at 128
//! and 256. Reports the worst per-pixel difference and the cosine of the
//! int8 logits of both inputs through the same compiled model (the seed-1
//! fan-in fixture; also the trained proxy kit when it is beside the checkout).

use camera::{rgb565_to_rgb888, Frame, PixelFormat, Preprocess, Roi};
use codegen::checkpoint::{self, DType, Layout};
use codegen::images::{eval_transform, normalize, read_image, ModelInput};
use codegen::pipeline::{self, QuantOptions};
use codegen::synth;
use image::RgbImage;

// The module itself, not the `boards` crate: a path dependency on
// `boards/classify` would pull the boards workspace (and the staged model)
// into this workspace's `cargo fmt --all`.
#[path = "../../boards/classify/src/camera.rs"]
mod camera;

/// One test frame: a photo (or its 565 form), optionally a region of it.
struct Case {
    name: String,
    pixels: Vec<u8>,
    frame: Frame,
    roi: Option<Roi>,
    /// What the host transform sees: the photo as the firmware sees it, cut to the ROI.
    host: RgbImage,
}

fn photos() -> Vec<(String, RgbImage)> {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Whole photos of camera-like sizes (320x320 to 451x300); the built-in
    // calibration images are 160x160 regions, too small to stand for frames.
    let files = codegen::images::image_files(&repo.join("host-tests/fixtures/eval")).unwrap();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, read_image(p).unwrap())
        })
        .collect()
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (name, img) in photos() {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let rgb888 = Frame {
            width: w,
            height: h,
            format: PixelFormat::Rgb888,
        };
        out.push(Case {
            name: format!("{name} {w}x{h} rgb888"),
            pixels: img.as_raw().clone(),
            frame: rgb888,
            roi: None,
            host: img.clone(),
        });
        // A 565 camera: the host transform sees the widened pixels.
        let packed: Vec<u16> = img
            .pixels()
            .map(|p| ((p[0] as u16 >> 3) << 11) | ((p[1] as u16 >> 2) << 5) | (p[2] as u16 >> 3))
            .collect();
        let widened: Vec<u8> = packed.iter().flat_map(|&p| rgb565_to_rgb888(p)).collect();
        out.push(Case {
            name: format!("{name} {w}x{h} rgb565"),
            pixels: packed.iter().flat_map(|p| p.to_le_bytes()).collect(),
            frame: Frame {
                format: PixelFormat::Rgb565Le,
                ..rgb888
            },
            roi: None,
            host: RgbImage::from_raw(w as u32, h as u32, widened).unwrap(),
        });
        // Regions of interest: a wide one of 240 rows (enlarged at 256) and
        // a portrait one, off-centre.
        for (rw, rh) in [(300.min(w), 240.min(h)), (150.min(w), 230.min(h))] {
            let roi = Roi {
                x: (w - rw) / 3,
                y: (h - rh) / 4,
                width: rw,
                height: rh,
            };
            let cut =
                image::imageops::crop_imm(&img, roi.x as u32, roi.y as u32, rw as u32, rh as u32)
                    .to_image();
            out.push(Case {
                name: format!("{name} roi {rw}x{rh}+{}+{} rgb888", roi.x, roi.y),
                pixels: img.as_raw().clone(),
                frame: rgb888,
                roi: Some(roi),
                host: cut,
            });
        }
    }
    out
}

/// Worst |difference| in 0..255 pixel units and the share of differing bytes.
struct Diff {
    worst: u8,
    differing: f64,
}

/// Runs every case through both paths at `RES`; returns the per-case diffs
/// and both u8 inputs.
fn compare<const RES: usize>(cases: &[Case]) -> Vec<(Diff, Vec<u8>, Vec<u8>)> {
    // 16 taps and 8 open rows cover every case (shrinking 2.3x at most).
    let mut pre = Box::new(Preprocess::<RES, 16, 8>::new());
    let mut out = Vec::new();
    for c in cases {
        let (w, h) = (c.host.width() as usize, c.host.height() as usize);
        assert!(camera::taps_for(w, h, RES) <= 16 && camera::rows_for(w, h, RES) <= 8);
        let host = eval_transform(&c.host, RES).into_raw();
        let mut int8 = vec![0i8; RES * RES * 3];
        pre.run(&c.pixels, c.frame, c.roi, &mut int8)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let ours: Vec<u8> = int8.iter().map(|&q| q as u8 ^ 0x80).collect();
        let worst = host
            .iter()
            .zip(&ours)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let differing =
            host.iter().zip(&ours).filter(|(a, b)| a != b).count() as f64 / host.len() as f64;
        eprintln!(
            "@{RES} {:44} worst {worst}, {:.3} % of bytes differ",
            c.name,
            100.0 * differing
        );
        out.push((Diff { worst, differing }, host, ours));
    }
    out
}

fn cosine(a: &[i16], b: &[i16], zp: i32) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = ((x as i32 - zp) as f64, (y as i32 - zp) as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

#[test]
fn camera_preprocessing_matches_the_host_transform() {
    let cases = cases();
    assert!(cases.len() >= 16, "{} cases", cases.len());
    let at128 = compare::<128>(&cases);
    let at256 = compare::<256>(&cases);
    let all = at128.iter().chain(&at256);
    let worst = all.clone().map(|(d, ..)| d.worst).max().unwrap();
    let differing = all.clone().map(|(d, ..)| d.differing).fold(0f64, f64::max);
    eprintln!(
        "worst per-pixel difference {worst} (0..255 units = int8 input units); at most {:.3} % of bytes differ in a frame",
        100.0 * differing
    );
    // Measured 2026-12-04: worst 1 (the f32 rounding of the `image` crate
    // against exact weights), at most 0.153 % of a frame's bytes.
    assert!(worst <= 1, "worst per-pixel difference {worst}");
    assert!(
        differing < 0.0025,
        "{:.3} % of bytes differ",
        100.0 * differing
    );

    // Logits of both inputs through one compiled 256x256 model: the seeded
    // fan-in fixture of the timm goldens (seed 1, built-in calibration).
    let bytes = synth::checkpoint_bytes(codegen::arch::T8, 1, 1000, Layout::TimmTrain, DType::F32);
    let ck = checkpoint::parse(std::path::Path::new("fixture.safetensors"), &bytes).unwrap();
    let (cos_min, top1_same) = logits_agreement(&ck, None, &cases, &at256);
    // Measured 2026-12-04 (4 photos, 68-image built-in calibration set): min
    // 0.99709, every top-1 the same.
    assert!(cos_min >= 0.9965, "int8 logits cosine {cos_min}");
    assert_eq!(top1_same, cases.len(), "inputs whose top-1 class changed");

    // And the trained proxy kit (`../shared/proxy`, see proxy_fidelity.rs)
    // where it is beside the checkout: realistic activations.
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/proxy");
    if !kit.join("model.safetensors").is_file() {
        eprintln!("SKIPPED the proxy half: no proxy kit at ../shared/proxy");
        return;
    }
    let (ck, _) = pipeline::load_or_synthesize(Some(&kit.join("model.safetensors"))).unwrap();
    let (cos_min, top1_same) = logits_agreement(&ck, Some(kit.join("calib")), &cases, &at256);
    // Measured 2026-12-04: min 0.99989, every top-1 the same.
    assert!(cos_min >= 0.9995, "proxy int8 logits cosine {cos_min}");
    assert_eq!(top1_same, cases.len(), "proxy: inputs whose top-1 changed");
}

/// Quantizes `ck` at 256 (calibrating on `calib`, or the built-in set) and
/// runs both inputs of every case: the smallest int8 logits cosine and how
/// many top-1 classes agree.
fn logits_agreement(
    ck: &checkpoint::Checkpoint,
    calib: Option<std::path::PathBuf>,
    cases: &[Case],
    at256: &[(Diff, Vec<u8>, Vec<u8>)],
) -> (f64, usize) {
    let opts = QuantOptions {
        calib,
        quiet: true,
        ..QuantOptions::plain_int8(256)
    };
    let (calib, source) = pipeline::calibration_inputs(&opts).unwrap();
    let (_, compiled) = pipeline::quantize(ck, &calib, &source, &opts).unwrap();
    let input = |rgb: &[u8]| ModelInput {
        name: String::new(),
        normalized: normalize(rgb, 256, 256),
        rgb: Some(rgb.to_vec()),
    };
    let argmax = |v: &[i16]| {
        (0..v.len())
            .max_by_key(|&i| (v[i], std::cmp::Reverse(i)))
            .unwrap()
    };
    let mut cos_min = 1f64;
    let mut top1_same = 0;
    for (c, (_, host, ours)) in cases.iter().zip(at256) {
        let a = codegen::eval::run_int8(&compiled, &input(host), |_, _| {});
        let b = codegen::eval::run_int8(&compiled, &input(ours), |_, _| {});
        let cos = cosine(&a, &b, compiled.output_q.zp);
        top1_same += (argmax(&a) == argmax(&b)) as usize;
        eprintln!("{:44} int8 logits cosine {cos:.6}", c.name);
        cos_min = cos_min.min(cos);
    }
    eprintln!(
        "int8 logits cosine, host vs camera input ({}): min {cos_min:.6}; same top-1 {top1_same}/{}",
        source,
        cases.len()
    );
    (cos_min, top1_same)
}
