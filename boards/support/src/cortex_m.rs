//! Cortex-M under QEMU: every way the program can stop abnormally prints what
//! happened and exits QEMU with a failure status (cortex-m-rt's default
//! handlers loop forever, which would hang the emulator).

use core::fmt::Write;

use cortex_m_rt::{exception, ExceptionFrame};

use crate::semihosting::{exit, Console};

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut out = Console::stdout();
    let _ = writeln!(out, "result error panic: {info}");
    drop(out);
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    let mut out = Console::stdout();
    let _ = writeln!(
        out,
        "result error HardFault at pc={:#010x} lr={:#010x} (cfsr={:#010x})",
        frame.pc(),
        frame.lr(),
        // SAFETY: CFSR is a readable SCB register on every ARMv7-M/v8-M core.
        unsafe { core::ptr::read_volatile(0xE000_ED28 as *const u32) },
    );
    drop(out);
    exit(false)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    let mut out = Console::stdout();
    let _ = writeln!(out, "result error unexpected exception/interrupt {irqn}");
    drop(out);
    exit(false)
}
