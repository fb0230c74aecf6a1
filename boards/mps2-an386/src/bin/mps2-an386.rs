//! FastViT-T8 int8 on the MPS2 AN386 (Cortex-M4F) in QEMU: runs the model once
//! on the embedded test image, marking every layer for the instruction
//! counter, and prints the report of `support::semihosting::run_and_exit`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use fastvit_model as model;
use support::{semihosting, Arena, Board};

const BOARD: Board = Board {
    name: "mps2-an386",
    core: "cortex-m4f",
};

/// The test image (u8 RGB, HWC), staged beside the model by `boards/tools`.
static IMAGE: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

/// The activation arena, placed in SRAM by `memory.x`.
#[link_section = ".fastvit_arena"]
static mut ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to ARENA, taken once.
    let arena = unsafe { Arena::take(core::ptr::addr_of_mut!(ARENA)) };
    let mut logits = [0i8; model::CLASSES];
    semihosting::run_and_exit(
        &BOARD,
        &model::MODEL,
        model::weights_intact(),
        &IMAGE,
        arena,
        &mut logits,
    )
}
