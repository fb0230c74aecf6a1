//! The build script of every emulated board crate (`build =
//! "../support/board_build.rs"` in its Cargo.toml), so the link setup is
//! written once: a Cortex-M board's `memory.x` goes on the linker's search
//! path for cortex-m-rt's `link.x`; an AArch64 `virt` board links with its
//! own `link.x`; the Raspberry Pi program (a Linux binary) needs neither.
//! Every board is pointed at the test image and camera frame staged beside
//! the model.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    if manifest.join("memory.x").exists() {
        let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
        std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).unwrap();
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-bins=-Tlink.x");
        println!("cargo:rerun-if-changed=memory.x");
    } else if manifest.join("link.x").exists() {
        println!(
            "cargo:rustc-link-arg-bins=-T{}",
            manifest.join("link.x").display()
        );
        println!("cargo:rerun-if-changed=link.x");
    }

    let image = manifest.join("../../target/boards/model/image.rgb");
    println!("cargo:rustc-env=FASTVIT_BOARD_IMAGE={}", image.display());
    println!("cargo:rerun-if-changed={}", image.display());
    let camera = manifest.join("../../target/boards/model/camera.rgb565");
    println!("cargo:rustc-env=FASTVIT_BOARD_CAMERA={}", camera.display());
    println!("cargo:rerun-if-changed={}", camera.display());
}
