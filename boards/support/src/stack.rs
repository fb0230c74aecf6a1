//! Stack high-water mark by painting: fill the stack region with [`PAINT`]
//! before the work, then find the lowest word that no longer holds it.
//!
//! Bare-metal boards paint at reset, between the linker symbols `_stack_end`
//! and `_stack_start` (cortex-m-rt's `paint-stack` feature on Cortex-M,
//! `_start` on `virt`): see [`measure`]. A hosted program paints the not yet
//! used stack below its stack pointer with [`paint_below`].

/// The paint word (cortex-m-rt's `STACK_PAINT_VALUE`).
pub const PAINT: u32 = 0xcccc_cccc;

/// Stack use so far.
#[derive(Clone, Copy, Debug)]
pub struct StackUse {
    /// Deepest use in bytes (high-water mark).
    pub used: usize,
    /// Size of the painted region in bytes.
    pub size: usize,
}

impl StackUse {
    /// Whether the stack reached the bottom of its region (and so may have
    /// run past it into whatever lies below).
    pub fn overflowed(&self) -> bool {
        self.used >= self.size
    }
}

/// A painted stack region `[bottom, top)`, `top` being where use is counted from.
#[derive(Clone, Copy, Debug)]
pub struct Painted {
    bottom: usize,
    top: usize,
}

impl Painted {
    /// The high-water mark: scans up from the bottom to the first word that
    /// is not paint.
    pub fn measure(&self) -> StackUse {
        let mut p = self.bottom;
        while p < self.top {
            // SAFETY: `p` is a word of the painted stack region, which stays
            // mapped; a volatile read of it has no side effects.
            let w = unsafe { core::ptr::read_volatile(p as *const u32) };
            if w != PAINT {
                break;
            }
            p += 4;
        }
        StackUse {
            used: self.top - p,
            size: self.top - self.bottom,
        }
    }
}

#[cfg(target_os = "none")]
extern "C" {
    /// Top of the stack (initial stack pointer), from the linker script.
    static _stack_start: u32;
    /// Lowest address the stack may use, from the linker script.
    static _stack_end: u32;
}

/// The high-water mark of the stack the startup code painted, from the
/// reset stack pointer `_stack_start` down to `_stack_end` (bare metal: the
/// linker script defines both).
#[cfg(target_os = "none")]
pub fn measure() -> StackUse {
    Painted {
        bottom: core::ptr::addr_of!(_stack_end) as usize,
        top: core::ptr::addr_of!(_stack_start) as usize,
    }
    .measure()
}

/// Paints `depth` bytes of stack below the caller's stack pointer; use is
/// then counted from the caller's frame down.
///
/// # Safety
/// The `depth` bytes below the stack pointer must be mapped stack of this
/// thread (e.g. a thread spawned with a larger `stack_size`), and nothing
/// else may run on this stack meanwhile (no signal handlers on it).
#[inline(never)]
pub unsafe fn paint_below(depth: usize) -> Painted {
    let marker = 0u8;
    // The caller's frame lies above this one; leave this frame's own words
    // (and a margin) alone.
    let top = core::hint::black_box(&marker) as *const u8 as usize & !15;
    let start = top - 512;
    let bottom = (top - depth) & !15;
    let mut p = bottom;
    while p < start {
        // SAFETY: below the live frames, inside the mapped stack the caller
        // vouches for; nothing refers to these words.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
    Painted { bottom, top }
}
