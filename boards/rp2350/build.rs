//! Writes `memory.x` for the selected flash size, puts it on the linker's
//! search path (cortex-m-rt's `link.x` includes it), adds defmt's linker
//! script, and points the firmware at the test image staged beside its model.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let feature = |f: &str| std::env::var_os(format!("CARGO_FEATURE_{f}")).is_some();
    let flash = match (
        feature("FLASH_4M"),
        feature("FLASH_8M"),
        feature("FLASH_16M"),
    ) {
        (true, false, false) => "4M",
        (false, true, false) => "8M",
        (false, false, true) => "16M",
        _ => panic!("enable exactly one of the features flash-4m, flash-8m, flash-16m"),
    };
    let template = std::fs::read_to_string(manifest.join("memory.x.in")).unwrap();
    std::fs::write(out.join("memory.x"), template.replace("@FLASH@", flash)).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
    println!("cargo:rerun-if-changed=memory.x.in");

    let image = manifest.join("../../target/boards/model-rp2350/image.rgb");
    println!("cargo:rustc-env=FASTVIT_BOARD_IMAGE={}", image.display());
    println!("cargo:rerun-if-changed={}", image.display());
}
