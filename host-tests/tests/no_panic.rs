//! The inference path cannot panic, proven at link time for board builds:
//! the `no-panic` binaries of mps2-an386 (Cortex-M4F, thumbv7em) and
//! virt-a76 (AArch64) call a symbol defined nowhere from their panic
//! handler, so they link only if LTO removed every panic from the weight
//! check and `classify`. They must also run in QEMU and give the host's
//! logits, and the same binary with a deliberate out-of-range index must
//! fail the link (the check is real).
//!
//! Runs `boards/tools/src/no_panic.rs` (also `boards/run-all.sh
//! --no-panic-check`). On a failed link the message lists every panic call
//! site with its inlined source lines (needs llvm-objdump/llvm-addr2line).
//! Needs QEMU, like `boards.rs`: without it this test fails.

use std::path::Path;
use std::sync::Mutex;

// `boards/tools` keeps the boards' MSRV (1.85), older than `is_multiple_of`.
#[allow(dead_code, clippy::manual_is_multiple_of)]
#[path = "../../boards/tools/src/lib.rs"]
mod boards;

/// The two tests build in the same board folders: one at a time.
static BOARD_BUILDS: Mutex<()> = Mutex::new(());

fn options() -> boards::Options {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    let mut opts = boards::Options::new(&repo);
    opts.resolution = 128;
    opts.timeout_s = 600;
    opts
}

#[test]
fn inference_links_without_a_reachable_panic_and_a_deliberate_one_fails() {
    let _one = BOARD_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let on_boards: Vec<boards::Board> = boards::BOARDS
        .iter()
        .filter(|b| boards::no_panic::BOARDS.contains(&b.name))
        .copied()
        .collect();
    assert_eq!(on_boards.len(), boards::no_panic::BOARDS.len());
    if let Err(e) = boards::check_tools(&on_boards) {
        panic!("cannot run the no-panic check: {e}");
    }
    let opts = options();
    let lines = boards::no_panic::check_all(&opts, &|s| eprintln!("{s}"))
        .unwrap_or_else(|e| panic!("no-panic check failed: {e}"));
    assert_eq!(lines.len(), boards::no_panic::BOARDS.len());
    for l in lines {
        eprintln!("{l}");
    }
}

/// flip-link on the Cortex-M4/M7 boards (no stack limit register): an
/// overflow faults instead of silently overwriting the arena.
#[test]
fn a_stack_overflow_on_the_m4_faults_instead_of_corrupting_the_arena() {
    let _one = BOARD_BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let an386: Vec<boards::Board> = boards::BOARDS
        .iter()
        .filter(|b| b.name == "mps2-an386")
        .copied()
        .collect();
    if let Err(e) = boards::check_tools(&an386) {
        panic!("cannot run the stack guard check: {e}");
    }
    let opts = options();
    // The binary needs no model, but the board crate depends on the staged one.
    let model = boards::prepare_model(&opts, &mut |s| eprintln!("{s}")).unwrap();
    let res = boards::model_resolution(&model).unwrap();
    let frame = boards::test_frame(&opts.image, res).unwrap();
    boards::stage(&model, &opts.staged_model(), &frame).unwrap();
    let line = boards::no_panic::stack_guard_check(&opts)
        .unwrap_or_else(|e| panic!("stack guard check failed: {e}"));
    eprintln!("{line}");
}
