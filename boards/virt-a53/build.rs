//! Links with this board's `link.x`, and points the firmware at the test
//! image staged beside the model.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        manifest.join("link.x").display()
    );
    println!("cargo:rerun-if-changed=link.x");

    let image = manifest.join("../../target/boards/model/image.rgb");
    println!("cargo:rustc-env=FASTVIT_BOARD_IMAGE={}", image.display());
    println!("cargo:rerun-if-changed={}", image.display());
}
