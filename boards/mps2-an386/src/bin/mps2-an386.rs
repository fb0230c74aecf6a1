//! FastViT-T8 int8 on the MPS2 AN386 (Cortex-M4F) in QEMU: runs the model once
//! on the embedded test image, marking every layer for the instruction
//! counter, and prints the report of `support::bench`.
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m_rt::entry;
use fastvit_model as model;
use support::{bench, fastvit_perf_mark, semihosting, stack, Arena, Board};

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
    let mut out = semihosting::Console::stdout();
    let _ = bench::header(&mut out, &BOARD, &model::MODEL);
    let _ = writeln!(out, "weights_intact {}", model::weights_intact());
    // SAFETY: the only reference to ARENA, taken once.
    let arena = unsafe { Arena::take(core::ptr::addr_of_mut!(ARENA)) };
    let mut logits = [0i8; model::CLASSES];
    let result = bench::run(&mut out, &model::MODEL, &IMAGE, arena, &mut logits, |i| {
        fastvit_perf_mark(i as u32)
    });
    let stack = stack::measure();
    let _ = writeln!(out, "stack {} {}", stack.used, stack.size);
    let ok = match result {
        Ok(_) if stack.overflowed() => {
            let _ = writeln!(out, "result error stack overflow");
            false
        }
        Ok(_) => {
            let _ = writeln!(out, "result ok");
            true
        }
        Err(e) => {
            let _ = writeln!(out, "result error {e:?}");
            false
        }
    };
    drop(out);
    semihosting::exit(ok)
}
