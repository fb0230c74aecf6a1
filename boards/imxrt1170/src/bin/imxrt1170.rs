//! FastViT-T8 int8 on an i.MX RT1170 (Cortex-M7 at the clock the boot ROM
//! sets, caches on): runs the model once on the embedded test image and
//! reports over defmt/RTT what the emulated boards print (`support::bench`),
//! plus the DWT cycle count of every layer.
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m::peripheral::DWT;
use defmt_rtt as _;
use fastvit_model as model;
use imxrt1170evk_fcb as _;
use panic_probe as _;
use support::{bench, defmt_console::Console, stack, Arena, Board};

const BOARD: Board = Board {
    name: "imxrt1170",
    core: "cortex-m7",
};

/// The test image (u8 RGB, HWC), staged beside the model by `boards/tools`.
static IMAGE: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

/// The activation arena, placed in OCRAM by `build.rs`.
#[link_section = ".fastvit_arena"]
static mut ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

#[imxrt_rt::entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().unwrap();
    // The weights are read from QSPI flash: without the caches every byte
    // is a bus transaction.
    cp.SCB.enable_icache();
    cp.SCB.enable_dcache(&mut cp.CPUID);
    cp.DCB.enable_trace();
    cp.DWT.enable_cycle_counter();

    let mut out = Console::new();
    let _ = bench::header(&mut out, &BOARD, &model::MODEL);
    let _ = writeln!(out, "weights_intact {}", model::weights_intact());
    // SAFETY: the only reference to ARENA, taken once.
    let arena = unsafe { Arena::take(core::ptr::addr_of_mut!(ARENA)) };
    let mut logits = [0i8; model::CLASSES];
    let mut cycles = [0u32; model::LAYERS + 1];
    let result = bench::run(&mut out, &model::MODEL, &IMAGE, arena, &mut logits, |i| {
        cycles[i] = DWT::cycle_count()
    });
    let mut total = 0u64;
    for (i, w) in cycles.windows(2).enumerate() {
        // No layer comes near the 32-bit counter's wrap (4.3 s even at 1 GHz).
        let n = w[1].wrapping_sub(w[0]);
        total += n as u64;
        let _ = writeln!(out, "cycles {i} {n}");
    }
    let _ = writeln!(out, "cycles_total {total}");
    let stack = stack::measure();
    let _ = writeln!(out, "stack {} {}", stack.used, stack.size);
    match result {
        Ok(_) if !stack.overflowed() => {
            let _ = writeln!(out, "result ok");
        }
        Ok(_) => {
            let _ = writeln!(out, "result error stack overflow");
        }
        Err(e) => {
            let _ = writeln!(out, "result error {:?}", e);
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}
