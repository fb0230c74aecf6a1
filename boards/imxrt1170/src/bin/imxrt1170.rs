//! FastViT-T8 int8 on an i.MX RT1170 (Cortex-M7 at the clock the boot ROM
//! sets, caches on): runs the model once on the embedded test image and
//! reports over defmt/RTT what the emulated boards print (`support::bench`),
//! plus the DWT cycle count of every layer.
#![no_std]
#![no_main]

use cortex_m::peripheral::DWT;
use defmt_rtt as _;
use fastvit_model as model;
use imxrt1170evk_fcb as _;
use panic_probe as _;
use support::{bench, defmt_console::Console, Board};

const BOARD: Board = Board::new("imxrt1170", "cortex-m7");

// IMAGE, and ARENA (placed in OCRAM by `build.rs`).
support::board_statics!();

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
    support::real_board_run!(&mut out, &IMAGE, ARENA, DWT::cycle_count);
    loop {
        cortex_m::asm::wfi();
    }
}
