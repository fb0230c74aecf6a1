//! Cortex-M under QEMU: every fault prints what happened and exits QEMU with
//! a failure status (cortex-m-rt's default handlers loop forever, which
//! would hang the emulator; the panic handler is [`crate::semihosting`]'s).
//!
//! With feature `no-panic` the fault handlers print fixed lines (no
//! `core::fmt`, which can panic).

use cortex_m_rt::{exception, ExceptionFrame};

use crate::semihosting::exit;
#[cfg(not(feature = "no-panic"))]
use crate::semihosting::Console;
#[cfg(not(feature = "no-panic"))]
use core::fmt::Write;

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    #[cfg(feature = "no-panic")]
    {
        let _ = frame;
        crate::semihosting::write_raw(b"result error HardFault\n");
    }
    #[cfg(not(feature = "no-panic"))]
    {
        let mut out = Console::stdout();
        let _ = writeln!(
            out,
            "result error HardFault at pc={:#010x} lr={:#010x} (cfsr={:#010x})",
            frame.pc(),
            frame.lr(),
            // SAFETY: CFSR is a readable SCB register on every ARMv7-M/v8-M core.
            unsafe { core::ptr::read_volatile(0xE000_ED28 as *const u32) },
        );
    }
    exit(false)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    #[cfg(feature = "no-panic")]
    {
        let _ = irqn;
        crate::semihosting::write_raw(b"result error unexpected exception/interrupt\n");
    }
    #[cfg(not(feature = "no-panic"))]
    {
        let mut out = Console::stdout();
        let _ = writeln!(out, "result error unexpected exception/interrupt {irqn}");
    }
    exit(false)
}
