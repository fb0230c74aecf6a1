//! FastViT-T8 int8 on a Raspberry Pi 4/5 (aarch64 Linux), or on the host
//! (the reference every board is compared with): the same `no_std` runtime
//! and generated model, the same embedded test image and the same report as
//! the bare-metal boards (`support::bench`).
//!
//! Runs the inference on a thread whose unused stack is painted first, so the
//! report's `stack` line is a high-water mark like the firmwares'.

use std::process::ExitCode;

use fastvit_model as model;
use support::{bench, fastvit_perf_mark, Board};

const BOARD: Board = Board {
    name: if cfg!(target_arch = "aarch64") {
        "rpi"
    } else {
        "host"
    },
    core: std::env::consts::ARCH,
};

/// The test image (u8 RGB, HWC), staged beside the model by `boards/tools`.
static IMAGE: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

/// Stack of the inference thread; the painted part is checked for overflow.
const STACK_BYTES: usize = 1 << 20;
const PAINTED_BYTES: usize = STACK_BYTES / 2;

/// `std::fmt::Write` onto stdout (the report functions are `core::fmt`).
struct Stdout;

impl core::fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        use std::io::Write;
        std::io::stdout()
            .write_all(s.as_bytes())
            .map_err(|_| core::fmt::Error)
    }
}

fn run() -> bool {
    use core::fmt::Write;
    let mut out = Stdout;
    // SAFETY: a fresh thread of STACK_BYTES; PAINTED_BYTES below the current
    // frame are unused, mapped stack of this thread.
    let painted = unsafe { support::stack::paint_below(PAINTED_BYTES) };
    let _ = bench::header(&mut out, &BOARD, &model::MODEL);
    let _ = writeln!(out, "weights_intact {}", model::weights_intact());
    let mut arena = vec![0i8; model::ARENA_BYTES];
    let mut logits = [0i16; model::CLASSES];
    let result = bench::run(
        &mut out,
        &model::MODEL,
        &IMAGE,
        &mut arena,
        &mut logits,
        |i| fastvit_perf_mark(i as u32),
    );
    bench::finish(&mut out, result, painted.measure())
}

fn main() -> ExitCode {
    let ok = std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(run)
        .expect("spawn the inference thread")
        .join()
        .unwrap_or(false);
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
