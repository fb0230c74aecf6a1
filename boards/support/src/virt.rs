//! AArch64 bare metal on QEMU `virt` (booted at EL1 by `-kernel`): `_start`,
//! exception vectors (the panic handler is [`crate::semihosting`]'s). Every
//! abnormal stop prints what happened and exits QEMU with a failure status.
//!
//! `_start` sets the stack, turns on FP/NEON before any Rust code runs (the
//! compiler emits NEON for plain loops), installs the vectors, zeroes `.bss`,
//! paints the stack for [`crate::stack`], and calls the board's
//! `#[no_mangle] extern "C" fn main() -> !`. It first turns the MMU and
//! caches on with a two-block identity map (devices below 1 GiB, RAM as
//! Normal memory above), as every A-class firmware does: with the MMU off
//! all data accesses are Device memory, where an unaligned access faults,
//! and the target's default `+strict-align` would make LLVM split every
//! unaligned vector load into bytes. The boards build with `-strict-align`.
//!
//! With feature `no-panic` the exception handler prints a fixed line.
//!
//! Linker script symbols used: `_stack_start` (top), `_stack_end` (bottom),
//! `__sbss`, `__ebss`.

use crate::semihosting::exit;
#[cfg(not(feature = "no-panic"))]
use crate::semihosting::Console;
#[cfg(not(feature = "no-panic"))]
use core::fmt::Write;

core::arch::global_asm!(
    r#"
    .section .text._start, "ax"
    .global _start
    .type _start, %function
_start:
    // Park every core but the first (QEMU starts only one with -smp 1).
    mrs     x0, mpidr_el1
    and     x0, x0, #0xff
    cbnz    x0, 9f
    // FP/SIMD at EL1 and EL0: CPACR_EL1.FPEN = 0b11.
    mov     x0, #(3 << 20)
    msr     cpacr_el1, x0
    isb
    // MMU on with an identity map (fastvit_l1 below), before any other
    // memory access: MAIR attr 0 Device-nGnRnE, attr 1 Normal write-back.
    mov     x0, #0xff00
    msr     mair_el1, x0
    // TCR_EL1: T0SZ = 32 (4 GiB, walk starts at level 1), 4 KiB granule,
    // inner/outer write-back walks, inner shareable, EPD1 (no TTBR1 walks),
    // IPS = 0 (32-bit physical addresses: RAM ends below 4 GiB).
    mov     x0, #0x3520
    movk    x0, #0x80, lsl #16
    msr     tcr_el1, x0
    adrp    x0, fastvit_l1
    add     x0, x0, :lo12:fastvit_l1
    msr     ttbr0_el1, x0
    isb
    tlbi    vmalle1
    dsb     ish
    isb
    // SCTLR_EL1: M (MMU), C (data cache), I (instruction cache) on; A off,
    // so unaligned Normal-memory accesses do not fault (the firmware is
    // built with -strict-align: LLVM keeps unaligned vector loads whole).
    // No cache invalidation first: QEMU models no caches (real silicon
    // would need one before setting C and I).
    mrs     x0, sctlr_el1
    orr     x0, x0, #(1 << 0)
    orr     x0, x0, #(1 << 2)
    orr     x0, x0, #(1 << 12)
    bic     x0, x0, #(1 << 1)
    msr     sctlr_el1, x0
    isb
    adrp    x0, fastvit_vectors
    add     x0, x0, :lo12:fastvit_vectors
    msr     vbar_el1, x0
    isb
    adrp    x0, _stack_start
    add     x0, x0, :lo12:_stack_start
    mov     sp, x0
    // Zero .bss (8-byte aligned bounds).
    adrp    x0, __sbss
    add     x0, x0, :lo12:__sbss
    adrp    x1, __ebss
    add     x1, x1, :lo12:__ebss
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
    // Paint the stack (support::stack::PAINT in every word).
2:  adrp    x0, _stack_end
    add     x0, x0, :lo12:_stack_end
    adrp    x1, _stack_start
    add     x1, x1, :lo12:_stack_start
    mov     x2, #0xcccccccccccccccc
3:  cmp     x0, x1
    b.hs    4f
    str     x2, [x0], #8
    b       3b
4:  bl      main
9:  wfe
    b       9b
    .size _start, . - _start

    // Level-1 translation table, 1 GiB blocks, VA = PA: the first GiB
    // (flash, GIC, UART) Device-nGnRnE and never
    // executable (PXN, UXN); the second (RAM at 0x4000_0000: code, weights,
    // arena, stack) Normal write-back, inner shareable; the rest unmapped,
    // so a stray pointer faults.
    .section .rodata.fastvit_l1, "a"
    .balign 4096
fastvit_l1:
    .quad   0x0060000000000401
    .quad   0x0000000040000705
    .quad   0
    .quad   0
    .previous

    // 16 vectors of 0x80 bytes: each passes its index to fastvit_exception.
    .section .text.fastvit_vectors, "ax"
    .balign 0x800
fastvit_vectors:
    .irp idx, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    mov     x0, #\idx
    b       fastvit_exception
    .endr
"#
);

/// Reports an unexpected exception (vector `index`: group `index / 4` of
/// current-EL-SP0, current-EL-SPx, lower-EL-A64, lower-EL-A32; kind
/// `index % 4` of sync, IRQ, FIQ, SError) and exits with failure.
#[cfg(feature = "no-panic")]
#[no_mangle]
extern "C" fn fastvit_exception(index: u64) -> ! {
    let _ = index;
    crate::semihosting::write_raw(b"result error exception\n");
    exit(false)
}

/// As above, with the syndrome registers (formatted: not in `no-panic`).
#[cfg(not(feature = "no-panic"))]
#[no_mangle]
extern "C" fn fastvit_exception(index: u64) -> ! {
    let (esr, elr, far): (u64, u64, u64);
    // SAFETY: reading EL1 syndrome registers has no side effects.
    unsafe {
        core::arch::asm!(
            "mrs {0}, esr_el1",
            "mrs {1}, elr_el1",
            "mrs {2}, far_el1",
            out(reg) esr,
            out(reg) elr,
            out(reg) far,
            options(nomem, nostack)
        );
    }
    let kind = ["sync", "irq", "fiq", "serror"][(index % 4) as usize];
    let mut out = Console::stdout();
    let _ = writeln!(
        out,
        "result error exception {kind} (vector {index}) esr={esr:#x} elr={elr:#x} far={far:#x}"
    );
    drop(out);
    exit(false)
}
