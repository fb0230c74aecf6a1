//! The build script of every emulated board crate (`build =
//! "../support/board_build.rs"` in its Cargo.toml), so the link setup is
//! written once: a Cortex-M board's `memory.x` goes on the linker's search
//! path for cortex-m-rt's `link.x`; an AArch64 `virt` board links with its
//! own `link.x`; the Raspberry Pi program (a Linux binary) needs neither.
//! Every board is pointed at the test image and camera frame staged beside
//! the model (the helpers are `fastvit-board-build`'s).
use board_build::{rerun_if_changed, Board};

fn main() {
    let b = Board::from_env();
    let (manifest, out) = (&b.manifest, &b.out);
    if manifest.join("memory.x").exists() {
        std::fs::copy(manifest.join("memory.x"), out.join("memory.x")).unwrap();
        b.link_scripts(&["link.x"]);
        println!("cargo:rerun-if-changed=memory.x");
        weights_region(&b);
    } else if manifest.join("link.x").exists() {
        println!(
            "cargo:rustc-link-arg-bins=-T{}",
            manifest.join("link.x").display()
        );
        println!("cargo:rerun-if-changed=link.x");
    }

    b.staged("model", "FASTVIT_BOARD_IMAGE", "image.rgb");
    b.staged("model", "FASTVIT_BOARD_CAMERA", "camera.rgb565");
}

/// For a board with a `weights-regions` file (lines `REGION BYTES`, in order
/// of preference): writes `weights.x`, which its `memory.x` includes, aliasing
/// `WEIGHTS` to the first region that holds the staged blob (a model larger
/// than the M55's 8 MiB QSPI, such as FastViT-S12, goes to DDR). With none
/// large enough, the first, so that the linker names the overflow.
fn weights_region(b: &Board) {
    let Ok(table) = std::fs::read_to_string(b.manifest.join("weights-regions")) else {
        return;
    };
    println!("cargo:rerun-if-changed=weights-regions");
    let blob = b.manifest.join("../../target/boards/model/weights.bin");
    rerun_if_changed(&blob);
    let bytes = std::fs::metadata(&blob).map_or(0, |m| m.len());
    let regions: Vec<(&str, u64)> = table
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?.parse().ok()?))
        })
        .collect();
    let chosen = regions
        .iter()
        .find(|(_, size)| *size >= bytes)
        .or(regions.first())
        .map_or("FLASH", |(name, _)| name);
    std::fs::write(
        b.out.join("weights.x"),
        format!("REGION_ALIAS(\"WEIGHTS\", {chosen});\n"),
    )
    .unwrap();
}
