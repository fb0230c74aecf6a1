//! The integration example as a bare-metal firmware (Cortex-M4F, no heap, no
//! OS): a camera-like u8 RGB frame goes in, class indices, softmax
//! probabilities and names come out, the way a user's firmware calls the
//! generated crate:
//!
//! 1. `fastvit_model::classify` on a static arena (typed: a wrong-sized
//!    frame, arena or logits buffer does not compile);
//! 2. `fastvit_classify::top_k` (micromath softmax, heapless top-k);
//! 3. names from a labels file, one per line, `include_str!`ed (ImageNet-1k
//!    here; a fine-tuned N-class model brings its own N lines).
//!
//! It prints `class  probability %  name` lines over semihosting, the same
//! lines `boards/rpi`'s `classify` prints on Linux; `host-tests/tests/boards.rs`
//! checks that the two agree. Run it: `cd boards/mps2-an386 && cargo run
//! --release --bin classify` (after `boards/run-all.sh --stage-only`).
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m_rt::entry;
use fastvit_classify::top_k;
use fastvit_model as model;
use support::{semihosting, Arena};

/// Stands in for the camera: the test frame staged beside the model.
static FRAME: [u8; model::INPUT_BYTES] = *include_bytes!(env!("FASTVIT_BOARD_IMAGE"));

/// Class names in the head's row order (timm's ImageNet-1k order).
static LABELS: &str = include_str!("../../../classify/imagenet1k_labels.txt");

#[link_section = ".fastvit_arena"]
static mut ARENA: Arena<{ model::ARENA_BYTES }> = Arena::new();

#[entry]
fn main() -> ! {
    // SAFETY: the only reference to ARENA, taken once.
    let arena = unsafe { Arena::take(core::ptr::addr_of_mut!(ARENA)) };
    let mut out = semihosting::Console::stdout();
    let Ok(arena) = <&mut [i8; model::ARENA_BYTES]>::try_from(arena) else {
        let _ = writeln!(out, "error: arena size");
        drop(out);
        semihosting::exit(false)
    };
    if !model::weights_intact() {
        let _ = writeln!(out, "error: the weight blob fails its checksum");
        drop(out);
        semihosting::exit(false)
    }
    let mut logits = [0i8; model::CLASSES];
    if let Err(e) = model::classify(arena, &FRAME, &mut logits) {
        let _ = writeln!(out, "error: {e}");
        drop(out);
        semihosting::exit(false)
    }
    // Names only if the labels match the head (a fine-tuned head has its own).
    let labels = (LABELS.lines().count() == model::CLASSES).then_some(LABELS);
    let top = top_k::<5>(
        &logits,
        model::OUTPUT_SCALE,
        model::OUTPUT_ZERO_POINT,
        labels,
    );
    for p in &top {
        let name = p.label.unwrap_or("");
        let _ = writeln!(
            out,
            "{:>5}  {:6.2} %  {name}",
            p.class,
            100.0 * p.probability
        );
    }
    drop(out);
    semihosting::exit(true)
}
