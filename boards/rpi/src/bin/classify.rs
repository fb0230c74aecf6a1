//! The integration example: a camera-like frame in, class indices, softmax
//! probabilities and (with a labels file) names out, the way a user's
//! firmware would call the generated crate. The classification itself is
//! `no_std` (`fastvit-classify`: micromath softmax, heapless top-k); only the
//! file reading here uses std.
//!
//! `cargo run --release --bin classify -- FRAME.rgb [LABELS.txt]`, where
//! FRAME.rgb is INPUT_HEIGHT x INPUT_WIDTH x 3 bytes of u8 RGB (HWC) and
//! LABELS.txt has one class name per line. Without FRAME, the embedded test
//! image is used.

use std::process::ExitCode;

use fastvit_classify::top_k;
use fastvit_model as model;

static TEST_IMAGE: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let frame: Vec<u8> = match args.get(1) {
        Some(p) => match std::fs::read(p) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {p}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => TEST_IMAGE.to_vec(),
    };
    let Ok(frame) = <&[u8; model::INPUT_BYTES]>::try_from(frame.as_slice()) else {
        eprintln!(
            "error: the frame has {} bytes; the model takes {}x{} u8 RGB = {} bytes",
            frame.len(),
            model::INPUT_WIDTH,
            model::INPUT_HEIGHT,
            model::INPUT_BYTES
        );
        return ExitCode::FAILURE;
    };
    let labels = match args.get(2).map(std::fs::read_to_string).transpose() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}: {e}", args[2]);
            return ExitCode::FAILURE;
        }
    };
    let mut arena = vec![0i8; model::ARENA_BYTES];
    let arena: &mut [i8; model::ARENA_BYTES] = arena.as_mut_slice().try_into().expect("sized");
    let mut logits = [0i8; model::CLASSES];
    if let Err(e) = model::classify(arena, frame, &mut logits) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let top = top_k::<5>(
        &logits,
        model::OUTPUT_SCALE,
        model::OUTPUT_ZERO_POINT,
        labels.as_deref(),
    );
    for p in &top {
        println!(
            "{:>5}  {:6.2} %  {}",
            p.class,
            100.0 * p.probability,
            p.label.unwrap_or("")
        );
    }
    ExitCode::SUCCESS
}
