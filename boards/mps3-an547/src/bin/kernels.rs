//! Kernel conformance firmware for mps3-an547: every fast kernel of this core's
//! tier (pointwise, depthwise, channel multiplier, dense and im2col stem,
//! streamed stem, requantization) against the runtime's reference kernels on
//! edge and random cases (`support::conformance`), under `qemu-system-arm`
//! (`cd boards/mps3-an547 && cargo run --release --bin kernels`; run by
//! `host-tests/tests/conformance.rs`). Prints one
//! `conformance <kernel> <n> cases <f> failures` line per kernel and exits
//! non-zero on any mismatch; then times FastViT-T8's 1x1 shapes (`shape`
//! lines between perf marks).
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use support::conformance::Buffers;
use support::{semihosting, Board};

const BOARD: Board = Board {
    name: "mps3-an547",
    core: "cortex-m55",
};

static mut BUFFERS: Buffers = Buffers::new();

/// Weights for the shape timing (any bytes), with the model's weights.
#[link_section = ".fastvit_weights"]
static WEIGHTS: [i8; 1152 * 384] = [0x5A; 1152 * 384];

const N: usize = support::conformance::SHAPE_PIXELS * 1152;
static mut X: [i8; N] = [0; N];
static mut Y: [i8; N] = [0; N];
static mut WORDS: [u32; 2 * 1152] = [0; 2 * 1152];

#[entry]
fn main() -> ! {
    // SAFETY: the only references to these statics, taken once.
    let (buffers, x, y, words) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(BUFFERS),
            &mut *core::ptr::addr_of_mut!(X),
            &mut *core::ptr::addr_of_mut!(Y),
            &mut *core::ptr::addr_of_mut!(WORDS),
        )
    };
    semihosting::conformance_and_exit(&BOARD, buffers, (&WEIGHTS, x, y, words))
}
