//! The stack guard on the MPS2 AN386 (Cortex-M4F, no stack limit register):
//! recurses 8 KiB past the bottom of the stack region and must fault, not
//! run on. The board links with flip-link, which puts the stack *below*
//! `.data`, `.bss` and the arena, at the start of RAM: running past its
//! bottom leaves RAM (0x2000_0000) and faults at once (QEMU: "Lockup", exit
//! status 134). With a plain link the stack sits above a 64 KiB arena laid
//! out as the firmware's, and this overflow silently overwrites it and
//! returns, printing the line below. `host-tests/tests/no_panic.rs` runs this
//! and expects a non-zero exit without that line.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use support::semihosting::{exit, write_raw};
use support::Arena;

/// Stands for the activation arena, in the same section (`memory.x`).
#[link_section = ".fastvit_arena"]
static mut ARENA: Arena<65536> = Arena::new();

/// One 1 KiB frame per level (kept by `black_box`) until the frames reach
/// below `stop`.
#[inline(never)]
fn recurse(stop: usize) -> u32 {
    let mut frame = [1u8; 1024];
    core::hint::black_box(&mut frame);
    if (frame.as_ptr() as usize) < stop {
        return u32::from(frame[0]);
    }
    recurse(stop).wrapping_add(u32::from(core::hint::black_box(frame[7])))
}

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to ARENA, taken once.
    let arena = unsafe { Arena::take(core::ptr::addr_of_mut!(ARENA)) };
    extern "C" {
        /// Bottom of the stack region, from the linker script.
        static _stack_end: u32;
    }
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    write_raw(b"stack-overflow: recursing 8 KiB past the bottom of the stack\n");
    core::hint::black_box(recurse(bottom - 8 * 1024));
    if arena.iter().any(|&b| b != 0) {
        write_raw(b"result error the stack overflowed into the arena without a fault\n");
    } else {
        write_raw(b"result error the stack overflowed without a fault\n");
    }
    exit(false)
}
