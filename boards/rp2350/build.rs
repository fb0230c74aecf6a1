//! Writes `memory.x` for the selected flash size, puts it on the linker's
//! search path (cortex-m-rt's `link.x` includes it), adds defmt's linker
//! script, and points the firmware at the test image staged beside its model.
use board_build::Board;

fn main() {
    let b = Board::from_env();
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
    let template = std::fs::read_to_string(b.manifest.join("memory.x.in")).unwrap();
    std::fs::write(b.out.join("memory.x"), template.replace("@FLASH@", flash)).unwrap();
    b.link_scripts(&["link.x", "defmt.x"]);
    println!("cargo:rerun-if-changed=memory.x.in");
    b.staged("model-rp2350", "FASTVIT_BOARD_IMAGE", "image.rgb");
}
