//! The link-time proof that inference cannot panic, bare metal on a
//! Cortex-A53 (QEMU virt; the NEON kernel tier without dotprod): only what an
//! inference firmware runs (the weight check and `classify` on the static
//! arena and input), with support's `no-panic` panic handler, which refers to
//! a symbol defined nowhere. This binary links only if no panic is reachable
//! from that path after LTO.
//!
//! `cargo build --release --features no-panic --bin no-panic` (from this
//! folder, after `boards/run-all.sh --stage-only`); `host-tests/tests/no_panic.rs`
//! builds and runs it. With `--features deliberate-panic` an out-of-range
//! index is added and the link must fail.
#![no_std]
#![no_main]

use fastvit_model as model;
use support::{no_panic, Arena};

/// The test image (u8 RGB, HWC), staged beside the model by `boards/tools`.
static IMAGE: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

/// The activation arena, placed in DRAM by `link.x`.
#[link_section = ".fastvit_arena"]
static mut ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

#[no_mangle]
extern "C" fn main() -> ! {
    // SAFETY: the only reference to ARENA, taken once.
    let arena = unsafe { Arena::take(core::ptr::addr_of_mut!(ARENA)) };
    let mut logits = [0i8; model::CLASSES];
    no_panic::run_and_exit(model::weights_intact(), &mut logits, |logits| {
        let (Ok(arena), Ok(logits)) = (
            arena.try_into(),
            <&mut [i8; model::CLASSES]>::try_from(logits),
        ) else {
            return false;
        };
        #[cfg(feature = "deliberate-panic")]
        {
            // An index the compiler cannot prove in range: a reachable panic.
            let i = core::hint::black_box(model::CLASSES);
            logits[i] = 1;
        }
        model::classify(arena, &IMAGE, logits).is_ok()
    })
}
