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

/// `n` [`derived_crops`] of every image in `dir` at `res` (image `i` seeded
/// `seed + i`), named `<file>#<j>`: an evaluation set of natural crops.
pub fn crop_inputs(dir: &Path, n: usize, res: usize, seed: u64) -> Result<Vec<ModelInput>> {
    let mut out = Vec::new();
    for (i, path) in image_files(dir)?.iter().enumerate() {
        let img = read_image(path)?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        for (j, crop) in derived_crops(&img, n, res, seed + i as u64)
            .iter()
            .enumerate()
        {
            out.push(frame_input(format!("{file}#{j}"), crop));
        }
    }
    Ok(out)
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

/// `(file name, JPEG bytes)` of the files `data/calib/<dir><name>.jpg`.
macro_rules! builtin_images {
    ($dir:literal: $($name:literal),* $(,)?) => {
        &[$((
            concat!($name, ".jpg"),
            include_bytes!(concat!("../data/calib/", $dir, $name, ".jpg")) as &[u8],
        )),*]
    };
}

/// The built-in calibration set: 68 non-overlapping square regions of 12
/// openly licensed photos that Python and Debian packages ship (licences and
/// the script that makes them: `data/calib/README.md`). Sorted by name, so
/// `--calib codegen/data/calib` gives the same inputs in the same order.
pub const BUILTIN_CALIBRATION: &[(&str, &[u8])] = builtin_images!("":
    "aitzgorri-0", "aitzgorri-1", "aitzgorri-2", "aitzgorri-3", "aitzgorri-4", "aitzgorri-5",
    "astronaut-0", "astronaut-1", "astronaut-2", "astronaut-3", "brushes-0", "brushes-1",
    "brushes-2", "brushes-3", "coffee-0", "coffee-1", "coffee-2", "coffee-3", "coffee-4",
    "coffee-5", "fig-0", "fig-1", "fig-2", "fig-3", "fig-4", "fig-5", "flower-0", "flower-1",
    "flower-2", "flower-3", "flower-4", "flower-5", "friends-0", "friends-1", "friends-2",
    "friends-3", "friends-4", "friends-5", "life-0", "life-1", "life-2", "life-3", "life-4",
    "life-5", "picosdeeuropa-0", "picosdeeuropa-1", "picosdeeuropa-2", "picosdeeuropa-3",
    "picosdeeuropa-4", "picosdeeuropa-5", "rocket-0", "rocket-1", "rocket-2", "rocket-3",
    "rocket-4", "rocket-5", "seeding-0", "seeding-1", "seeding-2", "seeding-3", "seeding-4",
    "seeding-5", "wine-0", "wine-1", "wine-2", "wine-3", "wine-4", "wine-5",
);

/// Held out from calibration, for the main job's smoke check: 8 regions
/// of 3 photos that no calibration image comes from (`data/calib/heldout`).
pub const BUILTIN_HELD_OUT: &[(&str, &[u8])] = builtin_images!("heldout/":
    "china-0", "hopper-0", "sunset-0", "sunset-1", "sunset-2", "sunset-3", "sunset-4",
    "sunset-5",
);

fn builtin_inputs(files: &[(&str, &[u8])], res: usize) -> Vec<ModelInput> {
    files
        .iter()
        .map(|(name, bytes)| {
            let img = image::load_from_memory(bytes)
                .expect("built-in image decodes")
                .to_rgb8();
            frame_input(name.to_string(), &eval_transform(&img, res))
        })
        .collect()
}

/// The built-in calibration set at `res`: each image through timm's eval
/// transform, exactly as `--calib` reads a folder.
pub fn builtin_calibration(res: usize) -> Vec<ModelInput> {
    builtin_inputs(BUILTIN_CALIBRATION, res)
}

/// The held-out built-in images at `res` (eval transform), never used for
/// calibration.
pub fn builtin_held_out(res: usize) -> Vec<ModelInput> {
    builtin_inputs(BUILTIN_HELD_OUT, res)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        image_files(dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    /// The compiled-in lists are exactly the files `make.py` wrote, and the
    /// held-out images are not among the calibration ones.
    #[test]
    fn builtin_lists_match_data_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/calib");
        let cal: Vec<_> = BUILTIN_CALIBRATION.iter().map(|f| f.0).collect();
        let held: Vec<_> = BUILTIN_HELD_OUT.iter().map(|f| f.0).collect();
        assert_eq!(names_in(&dir), cal);
        assert_eq!(names_in(&dir.join("heldout")), held);
        assert!(cal.len() >= 64, "{} calibration images", cal.len());
        let photo = |n: &str| n.rsplit_once('-').unwrap().0.to_string();
        for h in &held {
            assert!(!cal.iter().any(|c| photo(c) == photo(h)), "{h}");
        }
    }

    /// The built-in set is what `--calib codegen/data/calib` reads.
    #[test]
    fn builtin_calibration_equals_the_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/calib");
        let built_in = builtin_calibration(64);
        let folder = folder_inputs(&dir, 64).unwrap();
        assert_eq!(built_in.len(), folder.len());
        for (b, f) in built_in.iter().zip(&folder) {
            assert_eq!(b.rgb, f.rgb, "{}", b.name);
            assert!(f.name.ends_with(&b.name));
        }
        assert_eq!(builtin_held_out(64).len(), BUILTIN_HELD_OUT.len());
    }
}
