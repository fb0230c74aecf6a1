//! The link-time proof that inference cannot panic (feature `no-panic`).
//!
//! The panic handler calls [`fastvit_inference_path_can_panic`], a function
//! defined nowhere. With fat LTO the linker only sees it if some panic is
//! still reachable from the program after optimization, and then the link
//! fails naming it: a firmware built with this feature that links is a
//! firmware in which no bounds check, overflow check or `unwrap` on its path
//! survived. So the program must contain only what an inference firmware runs
//! (the model, `weights_intact`, semihosting I/O and exit) and no `core::fmt`,
//! whose formatting machinery contains panics of its own.
//!
//! [`run_and_exit`] is that program; it prints fixed lines and the logits'
//! checksum as hand-made hex, in the format `boards/tools` parses.

use crate::report::fnv1a32;
use crate::semihosting::{exit, write_raw};

extern "C" {
    /// Defined nowhere on purpose: a reference to it that survives LTO fails
    /// the link with "undefined symbol: fastvit_inference_path_can_panic".
    fn fastvit_inference_path_can_panic() -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: never executed in a binary that links, since the symbol exists
    // nowhere; a reachable call fails the link instead.
    unsafe { fastvit_inference_path_can_panic() }
}

/// `checksum 0x` and eight lowercase hex digits of `v`, then a newline.
fn checksum_line(v: u32) -> [u8; 20] {
    let mut line = *b"checksum 0x00000000\n";
    let digits = b"0123456789abcdef";
    for (k, out) in line.iter_mut().skip(11).take(8).enumerate() {
        let nibble = (v >> (28 - 4 * k as u32)) & 0xf;
        *out = digits.get(nibble as usize).copied().unwrap_or(b'?');
    }
    line
}

/// Runs `infer` (the board's call of the model on its static arena and
/// input, returning whether it succeeded and filled `logits`), reports the
/// weight check, the checksum and the result, and exits QEMU with success
/// only if the weights are intact, inference succeeded and the painted
/// stack was not exhausted.
pub fn run_and_exit(
    weights_intact: bool,
    logits: &mut [i16],
    infer: impl FnOnce(&mut [i16]) -> bool,
) -> ! {
    write_raw(b"fastvit-board no-panic\n");
    let weights: &[u8] = if weights_intact {
        b"weights_intact true\n"
    } else {
        b"weights_intact false\n"
    };
    write_raw(weights);
    let ran = infer(logits);
    if ran {
        write_raw(&checksum_line(fnv1a32(logits)));
    }
    let stack_ok = !crate::stack::measure().overflowed();
    if !stack_ok {
        write_raw(b"result error stack overflow\n");
    }
    let ok = ran && weights_intact && stack_ok;
    let result: &[u8] = if ok {
        b"result ok\n"
    } else {
        b"result error inference failed or weights damaged\n"
    };
    write_raw(result);
    exit(ok)
}
