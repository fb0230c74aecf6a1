//! Model inputs: image files (timm's eval transform), `.npy` tensors, and
//! deterministic natural-image crops for calibration and evaluation.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::RgbImage;

use crate::arch::{IMAGENET_MEAN, IMAGENET_STD};
use crate::error::{Error, Result};
use crate::float::Fmap;
use crate::prng::SplitMix64;

/// One input ready for both the float reference and the int8 runtime.
#[derive(Clone, Debug)]
pub struct ModelInput {
    /// Where it came from (file name, or file name plus crop index).
    pub name: String,
    /// The u8 RGB HWC frame the runtime's camera entry point takes, if the
    /// input is an image (`.npy` inputs are already normalized).
    pub rgb: Option<Vec<u8>>,
    /// The normalized CHW tensor timm would see.
    pub normalized: Fmap,
}

/// Normalizes a `res x res` RGB frame like timm (`/255`, ImageNet mean/std).
pub fn normalize(rgb: &[u8], h: usize, w: usize) -> Fmap {
    let mut data = vec![0f32; 3 * h * w];
    for (i, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            data[c * h * w + i] = (px[c] as f32 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        }
    }
    Fmap::new(3, h, w, data)
}

fn frame_input(name: String, img: &RgbImage) -> ModelInput {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let rgb = img.as_raw().clone();
    ModelInput {
        name,
        normalized: normalize(&rgb, h, w),
        rgb: Some(rgb),
    }
}

/// Decodes an image file to RGB8.
pub fn read_image(path: &Path) -> Result<RgbImage> {
    decode_image(path, &read_file(path)?)
}

/// Largest allocation the image decoder may make (the `image` crate's own
/// default, stated here because the fuzz target relies on it): a
/// decompression bomb is an error, not an out-of-memory abort.
pub const MAX_DECODE_BYTES: u64 = 512 << 20;

/// Decodes the bytes of an image file (`path` only names it in errors).
pub fn decode_image(path: &Path, bytes: &[u8]) -> Result<RgbImage> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Input {
            path: path.to_path_buf(),
            why: format!("cannot read: {e}"),
        })?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| Error::Input {
        path: path.to_path_buf(),
        why: format!("not a readable PNG/JPEG image: {e}"),
    })?;
    Ok(img.to_rgb8())
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        action: "cannot read input",
        source,
    })
}

/// timm's eval transform for this model: resize the shorter side to
/// `floor(res / 0.9)` (bicubic), then centre-crop `res x res`.
pub fn eval_transform(img: &RgbImage, res: usize) -> RgbImage {
    let short = (res as f64 / 0.9).floor() as u32;
    let (w, h) = (img.width(), img.height());
    let (nw, nh) = if w <= h {
        (
            short,
            ((h as u64 * short as u64 + w as u64 / 2) / w as u64) as u32,
        )
    } else {
        (
            ((w as u64 * short as u64 + h as u64 / 2) / h as u64) as u32,
            short,
        )
    };
    let resized = image::imageops::resize(img, nw.max(1), nh.max(1), FilterType::CatmullRom);
    let (x0, y0) = (
        (nw.saturating_sub(res as u32)) / 2,
        (nh.saturating_sub(res as u32)) / 2,
    );
    image::imageops::crop_imm(&resized, x0, y0, res as u32, res as u32).to_image()
}

/// Deterministic random square crops (side 40-100 % of the shorter side,
/// random position, random horizontal flip) resized to `res x res`.
pub fn derived_crops(img: &RgbImage, n: usize, res: usize, seed: u64) -> Vec<RgbImage> {
    let mut rng = SplitMix64::new(seed);
    let (w, h) = (img.width(), img.height());
    let short = w.min(h) as f64;
    (0..n)
        .map(|_| {
            let side = (short * rng.uniform(0.4, 1.0) as f64).max(8.0) as u32;
            let x = ((w - side) as f64 * rng.uniform(0.0, 1.0) as f64) as u32;
            let y = ((h - side) as f64 * rng.uniform(0.0, 1.0) as f64) as u32;
            let crop = image::imageops::crop_imm(img, x, y, side, side).to_image();
            let mut out =
                image::imageops::resize(&crop, res as u32, res as u32, FilterType::CatmullRom);
            if rng.next_u64() & 1 == 1 {
                image::imageops::flip_horizontal_in_place(&mut out);
            }
            out
        })
        .collect()
}

/// Image files (`.png`, `.jpg`, `.jpeg`) in a folder, sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        action: "cannot list image folder",
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Input {
            path: dir.to_path_buf(),
            why: "no .png/.jpg/.jpeg images in this folder".into(),
        });
    }
    Ok(files)
}

/// The built-in calibration photos (public domain / CC0, see `data/calib`).
pub const BUILTIN_CALIBRATION: &[(&str, &[u8])] = &[
    (
        "astronaut.jpg",
        include_bytes!("../data/calib/astronaut.jpg"),
    ),
    ("coffee.jpg", include_bytes!("../data/calib/coffee.jpg")),
    ("rocket.jpg", include_bytes!("../data/calib/rocket.jpg")),
];

/// Crops per built-in calibration photo.
pub const BUILTIN_CROPS_PER_PHOTO: usize = 6;

/// The built-in calibration set: derived crops of the built-in photos.
pub fn builtin_calibration(res: usize) -> Vec<ModelInput> {
    let mut out = Vec::new();
    for (i, (name, bytes)) in BUILTIN_CALIBRATION.iter().enumerate() {
        let img = image::load_from_memory(bytes)
            .expect("built-in photo decodes")
            .to_rgb8();
        out.push(frame_input(
            format!("{name}#center"),
            &eval_transform(&img, res),
        ));
        for (j, c) in derived_crops(&img, BUILTIN_CROPS_PER_PHOTO, res, 0xCA1B + i as u64)
            .iter()
            .enumerate()
        {
            out.push(frame_input(format!("{name}#{j}"), c));
        }
    }
    out
}

/// Calibration inputs from a folder: each image through the eval transform.
pub fn folder_inputs(dir: &Path, res: usize) -> Result<Vec<ModelInput>> {
    image_files(dir)?
        .iter()
        .map(|p| load_input(p, res))
        .collect()
}

/// Loads one input: an image file (eval transform) or a `.npy` float32
/// tensor `[1,3,H,W]` / `[3,H,W]` already normalized.
pub fn load_input(path: &Path, res: usize) -> Result<ModelInput> {
    input_from_bytes(path, &read_file(path)?, res)
}

/// [`load_input`] on a file's bytes: `.npy` by the name's extension, an
/// image otherwise. This is the whole read path of `codegen eval` after the
/// file read, and what the `input` fuzz target runs.
pub fn input_from_bytes(path: &Path, bytes: &[u8], res: usize) -> Result<ModelInput> {
    let is_npy = path.extension().and_then(|e| e.to_str()) == Some("npy");
    if is_npy {
        let (shape, data) = parse_npy(bytes).map_err(|why| Error::Input {
            path: path.to_path_buf(),
            why,
        })?;
        let dims: Vec<usize> = match shape.as_slice() {
            [1, 3, h, w] | [3, h, w] => vec![*h, *w],
            _ => {
                return Err(Error::Input {
                    path: path.to_path_buf(),
                    why: format!("array shape {shape:?}; expected [1,3,H,W] or [3,H,W] float32"),
                })
            }
        };
        if dims != [res, res] {
            return Err(Error::Input {
                path: path.to_path_buf(),
                why: format!(
                    "array is {}x{} but the model runs at {res}x{res}; pass --resolution {} or resize the input",
                    dims[0], dims[1], dims[0]
                ),
            });
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Input {
                path: path.to_path_buf(),
                why: format!("array contains a non-finite value at flat index {i}"),
            });
        }
        return Ok(ModelInput {
            name: path.display().to_string(),
            rgb: None,
            normalized: Fmap::new(3, res, res, data),
        });
    }
    let img = decode_image(path, bytes)?;
    Ok(frame_input(
        path.display().to_string(),
        &eval_transform(&img, res),
    ))
}

/// Minimal `.npy` (v1-v3) reader for little-endian float32, C order.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (missing \\x93NUMPY magic)".into());
    }
    let (hlen, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start.checked_add(hlen).ok_or("header length overflows")?)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    if !header.contains("'descr': '<f4'") {
        return Err(format!(
            "dtype must be little-endian float32 ('<f4'); header: {}",
            header.trim()
        ));
    }
    if header.contains("'fortran_order': True") {
        return Err("Fortran-ordered arrays are not supported; save with C order".into());
    }
    let shape_str = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split(')').next())
        .ok_or("no shape in header")?;
    let shape: Vec<usize> = shape_str
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape entry `{s}`"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    let data = &bytes[start + hlen..];
    if data.len() != n.checked_mul(4).ok_or("shape overflows")? {
        return Err(format!(
            "data has {} bytes but shape {shape:?} needs {} (truncated file?)",
            data.len(),
            n * 4
        ));
    }
    Ok((
        shape,
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    ))
}
