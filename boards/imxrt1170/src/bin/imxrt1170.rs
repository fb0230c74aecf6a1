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
use support::{bench, defmt_console::Console, Arena, Board};

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
    let mut logits = [0i16; model::CLASSES];
    let mut cycles = [0u32; model::LAYERS + 1];
    bench::run_counting_cycles(
        &mut out,
        &model::MODEL,
        &IMAGE,
        arena,
        &mut logits,
        &mut cycles,
        DWT::cycle_count,
    );
    loop {
        cortex_m::asm::wfi();
    }
}
