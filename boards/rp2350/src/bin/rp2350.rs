//! FastViT-T8 int8 on an RP2350 (Cortex-M33 at 150 MHz): runs the model once
//! on the embedded test image (a generated one in the 4 MiB build) and reports over defmt/RTT what the emulated
//! boards print (`support::bench`), plus the DWT cycle count of every layer.
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m::peripheral::DWT;
use defmt_rtt as _;
use fastvit_model as model;
use panic_probe as _;
use rp235x_hal as hal;
use rp235x_hal::Clock;
use support::{bench, defmt_console::Console, Arena, Board};

/// Tells the Boot ROM how to boot this image.
#[link_section = ".start_block"]
#[used]
pub static IMAGE_DEF: hal::block::ImageDef = hal::block::ImageDef::secure_exe();

/// Crystal of the Pico 2 and most RP2350 boards.
const XTAL_FREQ_HZ: u32 = 12_000_000;

const BOARD: Board = Board::new("rp2350", "cortex-m33");

/// The test image (u8 RGB, HWC), staged beside the model by `boards/tools`.
#[cfg(not(feature = "flash-4m"))]
static IMAGE: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

/// A 4 MiB Pico 2 has no flash left for a 192 KiB test image: the input is
/// a gradient written into SRAM at start-up instead.
#[cfg(feature = "flash-4m")]
#[link_section = ".fastvit_arena"]
static mut IMAGE: [u8; model::INPUT_BYTES] = [0; model::INPUT_BYTES];

/// The activation arena, placed in SRAM by `memory.x`.
#[link_section = ".fastvit_arena"]
static mut ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

#[hal::entry]
fn main() -> ! {
    let mut pac = hal::pac::Peripherals::take().unwrap();
    let mut cp = cortex_m::Peripherals::take().unwrap();
    let mut watchdog = hal::Watchdog::new(pac.WATCHDOG);
    let clocks = hal::clocks::init_clocks_and_plls(
        XTAL_FREQ_HZ,
        pac.XOSC,
        pac.CLOCKS,
        pac.PLL_SYS,
        pac.PLL_USB,
        &mut pac.RESETS,
        &mut watchdog,
    )
    .unwrap();
    cp.DCB.enable_trace();
    cp.DWT.enable_cycle_counter();

    let mut out = Console::new();
    let _ = bench::header(&mut out, &BOARD, &model::MODEL);
    let _ = writeln!(out, "clock {} Hz", clocks.system_clock.freq().to_Hz());
    #[cfg(not(feature = "flash-4m"))]
    let image = &IMAGE;
    #[cfg(feature = "flash-4m")]
    // SAFETY: the only reference to IMAGE, taken once.
    let image = {
        let image = unsafe { &mut *core::ptr::addr_of_mut!(IMAGE) };
        for (i, v) in image.iter_mut().enumerate() {
            *v = (i / 3 % 251 + i % 3 * 40) as u8;
        }
        &*image
    };
    support::real_board_run!(&mut out, image, ARENA, DWT::cycle_count);
    loop {
        cortex_m::asm::wfi();
    }
}
