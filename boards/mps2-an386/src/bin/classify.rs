//! The integration example as a bare-metal firmware (Cortex-M4F, no heap, no
//! OS): a camera frame goes in, class indices, softmax probabilities and
//! names come out, the way a user's firmware calls the generated crate:
//!
//! 1. `fastvit_classify::camera`: the 320x240 RGB565 frame (in flash here,
//!    a camera's DMA buffer on a real board), row by row, through timm's eval
//!    transform straight into the arena's input region (no second frame
//!    buffer; integer arithmetic);
//! 2. `fastvit_model::MODEL.run_in_place` on that arena;
//! 3. `fastvit_classify::top_k` (micromath softmax, heapless top-k);
//! 4. names from a labels file, one per line, `include_str!`ed (ImageNet-1k
//!    here; a fine-tuned N-class model brings its own N lines).
//!
//! It prints `class  probability %  name` lines over semihosting, the same
//! lines `boards/rpi`'s `classify` prints on Linux for the same frame;
//! `host-tests/tests/boards.rs` checks that the two agree. Run it: `cd
//! boards/mps2-an386 && cargo run --release --bin classify` (after
//! `boards/run-all.sh --stage-only`).
#![no_std]
#![no_main]

use core::fmt::Write;

use cortex_m_rt::entry;
use fastvit_classify::camera::{self, Frame, PixelFormat, Preprocess};
use fastvit_classify::top_k;
use fastvit_model as model;
use support::{semihosting, Arena};

/// The camera: QVGA RGB565 (little-endian), as `run-all.sh` stages it.
const CAMERA: Frame = Frame {
    width: 320,
    height: 240,
    format: PixelFormat::Rgb565Le,
};

/// Stands in for the camera's frame buffer: the test photo staged beside
/// the model as a camera frame.
static FRAME: [u8; 320 * 240 * 2] = *include_bytes!(env!("FASTVIT_BOARD_CAMERA"));

const RES: usize = model::INPUT_WIDTH;
/// Filter taps and open rows this frame size needs at the model's size.
const TAPS: usize = camera::taps_for(CAMERA.width, CAMERA.height, RES);
const ROWS: usize = camera::rows_for(CAMERA.width, CAMERA.height, RES);
const _: () = assert!(model::INPUT_HEIGHT == RES);

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
    // The preprocessor's tables and accumulators live on the stack only
    // until the model runs (about RES * (4 TAPS + 12 ROWS + 18) bytes).
    let preprocessed = model::MODEL.input_mut(arena).map(|input| {
        let mut pre = Preprocess::<RES, TAPS, ROWS>::new();
        pre.start(CAMERA, None)?;
        for row in FRAME.chunks_exact(CAMERA.width * CAMERA.format.bytes()) {
            pre.push_row(row, input)?;
        }
        pre.finish()
    });
    if let Ok(Err(e)) = preprocessed {
        let _ = writeln!(out, "error: camera frame: {e}");
        drop(out);
        semihosting::exit(false)
    }
    let mut logits = [0i16; model::CLASSES];
    if let Err(e) = model::MODEL.run_in_place(arena, &mut logits) {
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
