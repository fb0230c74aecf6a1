//! The benchmark every board runs, and the report it prints.
//!
//! One line per fact, `key value...`, so `boards/tools` can parse any board's
//! output (and a person can read it):
//!
//! ```text
//! fastvit-board 1
//! board mps2-an386
//! core cortex-m4f
//! model input=128x128 layers=63 macs=171933696 arena=245760 weights=4182496 classes=1000
//! layer 0 stem.0 5308416
//! ...
//! marks 64
//! top5 817:35 511:33 656:31 479:29 436:28
//! checksum 0x1c2b3a49
//! logits 07f3...
//! ```
//!
//! The board binary adds `weights_intact`, and ends with [`finish`]'s
//! `stack` and `result ok` / `result error ...` lines.

use core::fmt::Write;

use runtime::{Error, Model};

use crate::report::{fnv1a32, top_k, write_hex};
use crate::stack::StackUse;

/// Version of the report format above.
pub const REPORT_VERSION: u32 = 1;

/// What a board says about itself in the report.
#[derive(Clone, Copy, Debug)]
pub struct Board {
    /// Board (QEMU machine) name, e.g. `mps2-an386`.
    pub name: &'static str,
    /// Core, e.g. `cortex-m4f`.
    pub core: &'static str,
}

impl Board {
    /// The board `name` with core `core`.
    pub const fn new(name: &'static str, core: &'static str) -> Self {
        Board { name, core }
    }
}

/// What one run produced.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// FNV-1a 32 of the logits' bytes.
    pub checksum: u32,
    /// Top-5 `(class, logit)`.
    pub top5: [(usize, i16); 5],
    /// Perf marks made (layers + 1).
    pub marks: usize,
}

/// Writes the report header: board, core, model shape, and each layer's
/// index, name and multiply-accumulates.
pub fn header(out: &mut impl Write, board: &Board, model: &Model) -> core::fmt::Result {
    let macs: u64 = model.layers.iter().map(|l| l.macs()).sum();
    writeln!(out, "fastvit-board {REPORT_VERSION}")?;
    writeln!(out, "board {}", board.name)?;
    writeln!(out, "core {}", board.core)?;
    writeln!(
        out,
        "model input={}x{} layers={} macs={} arena={} weights={} classes={}",
        model.input.w,
        model.input.h,
        model.layers.len(),
        macs,
        model.arena_bytes,
        model.weights.len(),
        model.output.len(),
    )?;
    for (i, (name, layer)) in model.layer_names.iter().zip(model.layers).enumerate() {
        writeln!(out, "layer {i} {name} {}", layer.macs())?;
    }
    Ok(())
}

/// Runs `model` once on the u8 RGB `image`, calling `mark(0)` just before the
/// first layer and `mark(i + 1)` after layer `i`, then reports the marks made,
/// top-5, checksum and logits.
pub fn run(
    out: &mut impl Write,
    model: &Model,
    image: &[u8],
    arena: &mut [i8],
    logits: &mut [i16],
    mut mark: impl FnMut(usize),
) -> Result<Outcome, Error> {
    let mut marks = 1;
    mark(0);
    model.run_with(arena, image, logits, |i, _| {
        mark(i + 1);
        marks += 1;
    })?;
    let outcome = Outcome {
        checksum: fnv1a32(logits),
        top5: top_k::<5>(logits),
        marks,
    };
    // A console that cannot write has nowhere to report that either.
    let _ = write_outcome(out, &outcome, logits);
    Ok(outcome)
}

/// The report's last lines: the stack high-water mark and `result ok` or
/// `result error ...` (the run's error, or a stack that overflowed its
/// painted part). Returns whether the result is ok.
pub fn finish(out: &mut impl Write, result: Result<Outcome, Error>, stack: StackUse) -> bool {
    // A console that cannot write has nowhere to report that either.
    let _ = writeln!(out, "stack {} {}", stack.used, stack.size);
    let (ok, _) = match result {
        Ok(_) if stack.overflowed() => (false, writeln!(out, "result error stack overflow")),
        Ok(_) => (true, writeln!(out, "result ok")),
        Err(e) => (false, writeln!(out, "result error {e:?}")),
    };
    ok
}

/// A real board's run after its header: the `weights_intact` line, [`run`]
/// with a cycle counter read at every mark (`MARKS`, the layers + 1, counts
/// kept), then `cycles i n` per layer, `cycles_total`, and [`finish`]'s
/// lines for the measured stack. `CLASSES` sizes the logits. Returns
/// whether the result is ok. Called by [`crate::real_board_run!`].
#[cfg(target_os = "none")]
pub fn run_counting_cycles<const CLASSES: usize, const MARKS: usize>(
    out: &mut impl Write,
    model: &Model,
    weights_intact: bool,
    image: &[u8],
    arena: &mut [i8],
    cycle_count: impl Fn() -> u32,
) -> bool {
    let _ = writeln!(out, "weights_intact {weights_intact}");
    let mut logits = [0i16; CLASSES];
    let mut cycles = [0u32; MARKS];
    let result = run(out, model, image, arena, &mut logits, |i| {
        if let Some(c) = cycles.get_mut(i) {
            *c = cycle_count();
        }
    });
    let mut total = 0u64;
    for (i, w) in cycles.windows(2).enumerate() {
        // One layer would need 2^32 cycles (4.3 s at 1 GHz) to wrap.
        let n = w[1].wrapping_sub(w[0]);
        total += n as u64;
        let _ = writeln!(out, "cycles {i} {n}");
    }
    let _ = writeln!(out, "cycles_total {total}");
    finish(out, result, crate::stack::measure())
}

fn write_outcome(out: &mut impl Write, o: &Outcome, logits: &[i16]) -> core::fmt::Result {
    writeln!(out, "marks {}", o.marks)?;
    write!(out, "top5")?;
    for (class, q) in o.top5 {
        write!(out, " {class}:{q}")?;
    }
    writeln!(out)?;
    writeln!(out, "checksum {:#010x}", o.checksum)?;
    write!(out, "logits ")?;
    write_hex(out, logits)?;
    writeln!(out)
}
