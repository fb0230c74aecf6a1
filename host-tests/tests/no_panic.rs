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

#[allow(dead_code)]
#[path = "../../boards/tools/src/lib.rs"]
mod boards;

#[test]
fn inference_links_without_a_reachable_panic_and_a_deliberate_one_fails() {
    let on_boards: Vec<boards::Board> = boards::BOARDS
        .iter()
        .filter(|b| boards::no_panic::BOARDS.contains(&b.name))
        .copied()
        .collect();
    assert_eq!(on_boards.len(), boards::no_panic::BOARDS.len());
    if let Err(e) = boards::check_tools(&on_boards) {
        panic!("cannot run the no-panic check: {e}");
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap();
    let mut opts = boards::Options::new(&repo);
    opts.resolution = 128;
    opts.timeout_s = 600;
    let lines = boards::no_panic::check_all(&opts, &|s| eprintln!("{s}"))
        .unwrap_or_else(|e| panic!("no-panic check failed: {e}"));
    assert_eq!(lines.len(), boards::no_panic::BOARDS.len());
    for l in lines {
        eprintln!("{l}");
    }
}
