//! Memory map of the i.MX RT1170-EVK (imxrt-rt writes `imxrt-link.x`), plus
//! `fastvit.x`: the weights in QSPI flash, the arena in OCRAM, and the stack
//! bounds for painting. The linker fails if anything does not fit.
use board_build::Board;
use imxrt_rt::{Family, Memory, RuntimeBuilder};

/// The EVK's IS25WP128 QSPI flash.
const FLASH_SIZE: usize = 16 * 1024 * 1024;

const FASTVIT_X: &str = "
/* Weights stay in flash (execute-in-place, through the D-cache). */
SECTIONS
{
  .fastvit_weights : ALIGN(16)
  {
    KEEP(*(.fastvit_weights .fastvit_weights.*));
  } > FLASH
} INSERT AFTER .rodata;

/* The arena in on-chip OCRAM (1.25 MiB), not loaded, not zeroed at reset. */
SECTIONS
{
  .fastvit_arena (NOLOAD) : ALIGN(32)
  {
    *(.fastvit_arena .fastvit_arena.*);
  } > OCRAM
} INSERT AFTER .uninit;

/* Stack bounds for cortex-m-rt's paint-stack and support::stack. */
_stack_end = __estack;
";

fn main() {
    RuntimeBuilder::from_flexspi(Family::Imxrt1170, FLASH_SIZE)
        .text(Memory::Itcm)
        .vectors(Memory::Dtcm)
        .rodata(Memory::Ocram)
        .data(Memory::Dtcm)
        .bss(Memory::Dtcm)
        .uninit(Memory::Ocram)
        .stack(Memory::Dtcm)
        .stack_size(32 * 1024)
        .build()
        .unwrap();

    let b = Board::from_env();
    std::fs::write(b.out.join("fastvit.x"), FASTVIT_X).unwrap();
    b.link_scripts(&["imxrt-link.x", "fastvit.x", "defmt.x"]);
    println!("cargo:rerun-if-changed=build.rs");
    b.staged("model-imxrt1170", "FASTVIT_BOARD_IMAGE", "image.rgb");
}
