//! Shared helpers for the end-to-end tests.

use std::path::{Path, PathBuf};

use codegen::images::{derived_crops, read_image, ModelInput};

/// Crops per evaluation photo (4 photos -> 52 crops).
pub const EVAL_CROPS_PER_PHOTO: usize = 13;

/// The repository's root folder.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository root exists")
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The evaluation set: deterministic natural-image crops of the photos in
/// `fixtures/eval`, disjoint from the built-in calibration photos.
pub fn eval_set(res: usize) -> Vec<ModelInput> {
    let mut out = Vec::new();
    let files = codegen::images::image_files(&fixtures().join("eval")).expect("eval photos");
    for (i, path) in files.iter().enumerate() {
        let img = read_image(path).expect("eval photo decodes");
        for (j, crop) in derived_crops(&img, EVAL_CROPS_PER_PHOTO, res, 0xE7A1 + i as u64)
            .iter()
            .enumerate()
        {
            let rgb = crop.as_raw().clone();
            out.push(ModelInput {
                name: format!("{}#{j}", path.file_name().unwrap().to_string_lossy()),
                normalized: codegen::images::normalize(&rgb, res, res),
                rgb: Some(rgb),
            });
        }
    }
    out
}
