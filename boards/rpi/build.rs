//! Points the programs at the test image and camera frame staged beside the
//! model.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let image = manifest.join("../../target/boards/model/image.rgb");
    println!("cargo:rustc-env=FASTVIT_BOARD_IMAGE={}", image.display());
    println!("cargo:rerun-if-changed={}", image.display());
    let camera = manifest.join("../../target/boards/model/camera.rgb565");
    println!("cargo:rustc-env=FASTVIT_BOARD_CAMERA={}", camera.display());
    println!("cargo:rerun-if-changed={}", camera.display());
}
