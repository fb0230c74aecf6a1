//! The integration example: a camera frame or photo of any size in, class
//! indices, softmax probabilities and (with a labels file) names out, the
//! way a user's firmware would call the generated crate. Everything but the
//! file reading is `no_std` (`fastvit-classify`: the streaming integer
//! preprocessing, micromath softmax, heapless top-k).
//!
//! ```text
//! classify [--rgb565 WxH | --rgb888 WxH] [--roi X,Y,W,H] [FRAME [LABELS.txt]]
//! ```
//!
//! FRAME is a binary PPM (`P6`, any size), a raw frame of the size and
//! format given by `--rgb565` (little-endian) or `--rgb888`, or a raw
//! model-size `INPUT_HEIGHT x INPUT_WIDTH x 3` u8 RGB frame (`.rgb`, used as
//! is). Frames of other sizes go through timm's eval transform (shorter side
//! to `floor(res / 0.9)`, bicubic, centre crop), of `--roi` only if given.
//! LABELS.txt has one class name per line. Without FRAME, the camera frame
//! staged beside the model (320x240 RGB565) is used, as the bare-metal
//! `classify` of `boards/mps2-an386` does.

use std::process::ExitCode;

use fastvit_classify::camera::{Frame, PixelFormat, Preprocess, Roi};
use fastvit_classify::top_k;
use fastvit_model as model;

static CAMERA: &[u8] = include_bytes!(env!("FASTVIT_BOARD_CAMERA"));

const RES: usize = model::INPUT_WIDTH;
/// Room for shrinking 16x (a 4544-pixel shorter side at 256) and enlarging 4x.
type Pre = Preprocess<RES, 64, 16>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `WxH` as numbers.
fn size(flag: &str, v: Option<String>) -> Result<(usize, usize), String> {
    let v = v.ok_or(format!("{flag} needs WxH"))?;
    let (w, h) = v
        .split_once('x')
        .ok_or(format!("{flag} {v}: expected WxH"))?;
    match (w.parse(), h.parse()) {
        (Ok(w), Ok(h)) => Ok((w, h)),
        _ => Err(format!("{flag} {v}: expected WxH, e.g. 320x240")),
    }
}

/// A binary PPM's frame and pixels.
fn ppm(path: &str, bytes: &[u8]) -> Result<(Frame, Vec<u8>), String> {
    let bad = |why: &str| format!("{path}: not a binary PPM (P6) with 8-bit samples: {why}");
    // Header: magic, width, height, maxval, separated by whitespace and
    // `#` comments, then one whitespace byte.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        match bytes.get(i) {
            None => return Err(bad("header ends early")),
            Some(b'#') => {
                while bytes.get(i).is_some_and(|&b| b != b'\n') {
                    i += 1;
                }
            }
            Some(b) if b.is_ascii_whitespace() => i += 1,
            Some(_) => {
                let start = i;
                while bytes.get(i).is_some_and(|b| !b.is_ascii_whitespace()) {
                    i += 1;
                }
                fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
            }
        }
    }
    if fields[0] != "P6" {
        return Err(bad("magic is not P6"));
    }
    let num = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| bad("bad width, height or maxval"))
    };
    let (w, h, max) = (num(&fields[1])?, num(&fields[2])?, num(&fields[3])?);
    if max != 255 {
        return Err(bad("maxval is not 255"));
    }
    let data = bytes.get(i + 1..).unwrap_or(&[]);
    if w.checked_mul(h).and_then(|n| n.checked_mul(3)) != Some(data.len()) {
        return Err(format!(
            "{path}: {w}x{h} needs {} bytes of pixels, the file has {}",
            w.saturating_mul(h).saturating_mul(3),
            data.len()
        ));
    }
    let frame = Frame {
        width: w,
        height: h,
        format: PixelFormat::Rgb888,
    };
    Ok((frame, data.to_vec()))
}

fn run() -> Result<(), String> {
    let mut format = None;
    let mut roi = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rgb565" | "--rgb888" => {
                let (w, h) = size(&a, args.next())?;
                let f = match a.as_str() {
                    "--rgb565" => PixelFormat::Rgb565Le,
                    _ => PixelFormat::Rgb888,
                };
                format = Some(Frame {
                    width: w,
                    height: h,
                    format: f,
                });
            }
            "--roi" => {
                let v = args.next().unwrap_or_default();
                let n: Vec<usize> = v.split(',').filter_map(|s| s.parse().ok()).collect();
                let [x, y, width, height] = n[..] else {
                    return Err(format!("--roi {v}: expected X,Y,W,H"));
                };
                roi = Some(Roi {
                    x,
                    y,
                    width,
                    height,
                });
            }
            _ => files.push(a),
        }
    }
    let read = |p: &String| std::fs::read(p).map_err(|e| format!("{p}: {e}"));
    let (frame, pixels) = match (files.first(), format) {
        (None, _) => {
            let camera = Frame {
                width: 320,
                height: 240,
                format: PixelFormat::Rgb565Le,
            };
            (Some(camera), CAMERA.to_vec())
        }
        (Some(p), Some(f)) => (Some(f), read(p)?),
        (Some(p), None) => {
            let bytes = read(p)?;
            if bytes.starts_with(b"P6") {
                let (f, px) = ppm(p, &bytes)?;
                (Some(f), px)
            } else if bytes.len() == model::INPUT_BYTES && roi.is_none() {
                (None, bytes)
            } else {
                return Err(format!(
                    "{p}: {} bytes is neither a PPM (P6) nor a {}x{} u8 RGB model input ({} bytes); \
                     give raw frames of other sizes with --rgb565 WxH or --rgb888 WxH",
                    bytes.len(),
                    model::INPUT_WIDTH,
                    model::INPUT_HEIGHT,
                    model::INPUT_BYTES
                ));
            }
        }
    };
    let labels = files
        .get(1)
        .map(|p| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}")))
        .transpose()?;

    let mut arena = vec![0i8; model::ARENA_BYTES];
    let mut logits = [0i16; model::CLASSES];
    match frame {
        // Camera frame or photo: resized and cropped straight into the arena.
        Some(frame) => {
            let input = model::MODEL
                .input_mut(&mut arena)
                .map_err(|e| e.to_string())?;
            let mut pre = Box::new(Pre::new());
            pre.run(&pixels, frame, roi, input)
                .map_err(|e| format!("frame {}x{}: {e}", frame.width, frame.height))?;
            model::MODEL.run_in_place(&mut arena, &mut logits)
        }
        // Already the model's input.
        None => {
            let arena: &mut [i8; model::ARENA_BYTES] =
                arena.as_mut_slice().try_into().expect("sized");
            let image: &[u8; model::INPUT_BYTES] = pixels.as_slice().try_into().expect("sized");
            model::classify(arena, image, &mut logits)
        }
    }
    .map_err(|e| e.to_string())?;
    let top = top_k::<5>(
        &logits,
        model::OUTPUT_SCALE,
        model::OUTPUT_ZERO_POINT,
        labels.as_deref(),
    );
    for p in &top {
        println!(
            "{:>5}  {:6.2} %  {}",
            p.class,
            100.0 * p.probability,
            p.label.unwrap_or("")
        );
    }
    Ok(())
}
