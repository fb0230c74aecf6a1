//! Kernel conformance firmware for mps2-an505: the fast kernels of this core's tier
//! against the reference contract on random shapes, under `qemu-system-arm`
//! (`cd boards/mps2-an505 && cargo run --release --bin kernels`). Exits non-zero
//! on any mismatch.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use support::conformance::Buffers;
use support::{semihosting, Board};

const BOARD: Board = Board {
    name: "mps2-an505",
    core: "cortex-m33",
};

static mut BUFFERS: Buffers = Buffers::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to BUFFERS, taken once.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    semihosting::conformance_and_exit(&BOARD, buffers)
}
