//! One full int8 inference of the built-in synthetic FastViT-T8 at 256x256,
//! for before/after kernel measurements:
//! `cargo run --release -p codegen --example infer -- [RUNS]`.
//! For executed instructions of the inference alone (x86_64), run the binary
//! under `valgrind --tool=callgrind --instr-atstart=no`: it switches
//! callgrind's instrumentation on around the measured region only.
use codegen::eval::run_int8;
use codegen::images::{builtin_calibration, ModelInput};
use codegen::pipeline::{self, QuantOptions};
use codegen::quantize::Compiled;
use std::time::Instant;

/// Valgrind client request (`CALLGRIND_START/STOP_INSTRUMENTATION`); a
/// no-op when not running under valgrind.
#[cfg(target_arch = "x86_64")]
fn callgrind(request: u64) {
    let args = [request, 0, 0, 0, 0, 0];
    let mut result = 0u64;
    // SAFETY: valgrind's documented "magic sequence": rotations of rdi by
    // 64 bits in total (a no-op natively) then `xchg rbx, rbx`; it reads the
    // six-word array at rax and writes rdx. rbx is saved and restored.
    unsafe {
        std::arch::asm!(
            "mov {tmp}, rbx",
            "rol rdi, 3", "rol rdi, 13", "rol rdi, 61", "rol rdi, 51",
            "xchg rbx, rbx",
            "mov rbx, {tmp}",
            tmp = out(reg) _,
            in("rax") args.as_ptr(),
            inout("rdx") result,
            inout("rdi") 0u64 => _,
        );
    }
    std::hint::black_box(result);
}

#[cfg(not(target_arch = "x86_64"))]
fn callgrind(_: u64) {}

const START_INSTRUMENTATION: u64 = 0x4354_0004;
const STOP_INSTRUMENTATION: u64 = 0x4354_0005;

/// The measured region.
#[inline(never)]
fn infer_once(c: &Compiled, input: &ModelInput) -> Vec<i16> {
    callgrind(START_INSTRUMENTATION);
    let logits = run_int8(c, input, |_, _| {});
    callgrind(STOP_INSTRUMENTATION);
    logits
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let opts = QuantOptions {
        quiet: true,
        ..QuantOptions::plain_int8(256)
    };
    let (ck, _) = pipeline::load_or_synthesize(None).expect("synthetic checkpoint");
    let inputs = builtin_calibration(256);
    let (_, compiled) = pipeline::quantize(&ck, &inputs, "built-in", &opts).unwrap();
    let macs = compiled.macs();
    let input = &inputs[0];
    let mut best = f64::INFINITY;
    let mut logits = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        logits = infer_once(&compiled, input);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let sum: i64 = logits.iter().map(|&v| v as i64).sum();
    println!(
        "{macs} MACs, best of {runs}: {:.1} ms ({:.2} GMAC/s), logits checksum {sum}",
        best * 1e3,
        macs as f64 / best / 1e9
    );
}
