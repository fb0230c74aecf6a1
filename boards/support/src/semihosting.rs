//! Arm semihosting, the debug channel QEMU implements for both Cortex-M
//! (`bkpt 0xab`) and AArch64 (`hlt 0xf000`): a line-buffered console on the
//! host's stdout and exit with a status QEMU passes on.
//!
//! QEMU needs `-semihosting-config enable=on,target=native`.

use core::fmt;

const SYS_OPEN: usize = 0x01;
const SYS_WRITE: usize = 0x05;
const SYS_EXIT: usize = 0x18;
/// `ADP_Stopped_ApplicationExit`: QEMU exits with status 0 (AArch64: with the
/// given subcode).
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
/// `ADP_Stopped_RunTimeErrorUnknown`: QEMU exits with status 1.
const ADP_STOPPED_RUN_TIME_ERROR: usize = 0x20023;

/// One semihosting call.
///
/// # Safety
/// `arg` must be what operation `op` expects (usually a pointer to a
/// parameter block that stays valid for the call).
#[inline(always)]
unsafe fn call(op: usize, arg: usize) -> isize {
    let ret: isize;
    // SAFETY: the semihosting trap reads the parameter block the caller
    // vouches for and writes only r0/x0; the debugger (QEMU) services it.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!("bkpt #0xab", inout("r0") op => ret, in("r1") arg, options(nostack));
    }
    // SAFETY: as above, AArch64 encoding of the trap.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        core::arch::asm!("hlt #0xf000", inout("x0") op => ret, in("x1") arg, options(nostack));
    }
    ret
}

/// Exits QEMU: status 0 if `success`, otherwise non-zero.
pub fn exit(success: bool) -> ! {
    let reason = if success {
        ADP_STOPPED_APPLICATION_EXIT
    } else {
        ADP_STOPPED_RUN_TIME_ERROR
    };
    // AArch64 takes a parameter block (reason, exit status); Arm32 the reason.
    #[cfg(target_arch = "aarch64")]
    let block = [reason, usize::from(!success)];
    #[cfg(target_arch = "aarch64")]
    let arg = block.as_ptr() as usize;
    #[cfg(target_arch = "arm")]
    let arg = reason;
    // SAFETY: SYS_EXIT with a valid reason (block); it does not return under
    // QEMU, and the loop below covers a debugger that lets it return.
    unsafe { call(SYS_EXIT, arg) };
    loop {
        core::hint::spin_loop();
    }
}

/// Opens the host's stdout (`:tt` for writing); a negative handle on failure.
fn open_stdout() -> isize {
    let name = b":tt\0";
    // Mode 4 is "w" in the semihosting open modes.
    let block = [name.as_ptr() as usize, 4, name.len() - 1];
    // SAFETY: SYS_OPEN with a valid (name, mode, length) block.
    unsafe { call(SYS_OPEN, block.as_ptr() as usize) }
}

/// Writes `bytes` to the host's stdout as they are: no buffer, no
/// formatting, no indexing that could panic (the `no-panic` build's only
/// output).
pub fn write_raw(mut bytes: &[u8]) {
    let handle = open_stdout();
    while !bytes.is_empty() && handle >= 0 {
        let block = [handle as usize, bytes.as_ptr() as usize, bytes.len()];
        // SAFETY: SYS_WRITE with a valid (handle, buffer, length) block;
        // it returns the number of bytes *not* written.
        let left = unsafe { call(SYS_WRITE, block.as_ptr() as usize) };
        if left < 0 || left as usize >= bytes.len() {
            break;
        }
        bytes = bytes.get(bytes.len() - left as usize..).unwrap_or_default();
    }
}

/// The host's stdout (`:tt` opened for writing), buffered by line.
pub struct Console {
    handle: isize,
    buf: [u8; 256],
    len: usize,
}

impl Console {
    /// Opens the console.
    pub fn stdout() -> Self {
        Console {
            handle: open_stdout(),
            buf: [0; 256],
            len: 0,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        let mut done = 0;
        while done < self.len && self.handle >= 0 {
            let rest = &self.buf[done..self.len];
            let block = [self.handle as usize, rest.as_ptr() as usize, rest.len()];
            // SAFETY: SYS_WRITE with a valid (handle, buffer, length) block;
            // it returns the number of bytes *not* written.
            let left = unsafe { call(SYS_WRITE, block.as_ptr() as usize) };
            if left < 0 || left as usize >= rest.len() {
                break;
            }
            done += rest.len() - left as usize;
        }
        self.len = 0;
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The whole emulated-board firmware after reset, shared by every QEMU board:
/// prints the header and the weight check, runs the model once with a perf
/// mark around every layer, reports the stack high-water mark, and exits QEMU
/// with a status the harness trusts (failure on error or stack overflow).
pub fn run_and_exit(
    board: &crate::Board,
    model: &runtime::Model,
    weights_intact: bool,
    image: &[u8],
    arena: &mut [i8],
    logits: &mut [i16],
) -> ! {
    use core::fmt::Write;
    let mut out = Console::stdout();
    let _ = crate::bench::header(&mut out, board, model);
    let _ = writeln!(out, "weights_intact {weights_intact}");
    let result = crate::bench::run(&mut out, model, image, arena, logits, |i| {
        crate::fastvit_perf_mark(i as u32)
    });
    let ok = crate::bench::finish(&mut out, result, crate::stack::measure());
    drop(out);
    exit(ok)
}

/// The `kernels` conformance firmware after reset: runs every suite of
/// [`crate::conformance`] on this core's kernel tier (one
/// `conformance <kernel> <cases> cases <failures> failures` line each, and
/// the first differing index of any mismatch).
///
/// Then times FastViT-T8's 1x1 shapes ([`crate::conformance::shapes`]):
/// `bench` holds their weights (any bytes, `1152 * 384`), inputs and outputs.
/// Exits QEMU with failure on any mismatch.
pub fn conformance_and_exit(
    board: &crate::Board,
    buffers: &mut crate::conformance::Buffers,
    bench: crate::conformance::ShapeBuffers<'_>,
) -> ! {
    use core::fmt::Write;
    let mut out = Console::stdout();
    let _ = writeln!(out, "board {} {}", board.name, board.core);
    let _ = writeln!(out, "tier {}", runtime::kernels::TIER);
    let failures = crate::conformance::run(&mut out, buffers);
    let (w, x, y, words) = bench;
    crate::conformance::shapes(&mut out, w, x, y, words);
    let _ = writeln!(out, "conformance total {failures} failures");
    drop(out);
    exit(failures == 0)
}

/// Both platforms' panic handler (without `no-panic`, which brings its own):
/// prints `result error panic: ...` and exits QEMU with failure instead of
/// hanging it.
#[cfg(not(feature = "no-panic"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut out = Console::stdout();
    let _ = writeln!(out, "result error panic: {info}");
    drop(out);
    exit(false)
}
