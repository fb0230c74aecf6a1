//! The inference path cannot panic, proven at link time for board builds of
//! every kernel tier: the `no-panic` binaries of mps2-an386 (Cortex-M4F, DSP
//! lanes), mps3-an547 (Cortex-M55, Helium), virt-a53 (Cortex-A53, NEON
//! without dotprod) and virt-a76 (Cortex-A76, NEON with dotprod) call a
//! symbol defined nowhere from their panic handler, so they link only if LTO
//! removed every panic from the weight check and `classify`. Each is built
//! with the 256x256 and the 128x128 model (restaged in between), must run in
//! QEMU and give the host's logits, and the same binary with a deliberate
//! out-of-range index must fail the link (once per board, at 128x128: the
//! check is real).
//!
//! Runs `boards/tools/src/no_panic.rs` (also `boards/run-all.sh
//! --no-panic-check`). On a failed link the message lists every panic call
//! site with its inlined source lines (needs llvm-objdump/llvm-addr2line).
//! Needs QEMU, like `boards.rs`: without it this test fails.

use std::sync::Mutex;

/// The two tests build in the same board folders: one at a time.
static BOARD_BUILDS: Mutex<()> = Mutex::new(());

fn options() -> boards::Options {
    let repo = host_tests::repo();
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
    let resolutions = boards::no_panic::RESOLUTIONS;
    assert_eq!(resolutions, &[256, 128]);
    let t = std::time::Instant::now();
    let proven = boards::no_panic::check_all(&opts, resolutions, &|s| eprintln!("{s}"))
        .unwrap_or_else(|e| panic!("no-panic check failed: {e}"));
    eprintln!("no-panic check: {:.0} s", t.elapsed().as_secs_f64());
    for p in &proven {
        eprintln!("{}", p.line());
    }
    // Every board at every resolution, exactly once.
    assert_eq!(
        proven.len(),
        boards::no_panic::BOARDS.len() * resolutions.len()
    );
    for board in boards::no_panic::BOARDS {
        for &r in resolutions {
            let n = proven
                .iter()
                .filter(|p| p.board == *board && p.resolution == r)
                .count();
            assert_eq!(n, 1, "{board} at {r}x{r}: proven {n} times");
        }
        let deliberate = proven
            .iter()
            .filter(|p| p.board == *board && p.deliberate_checked)
            .count();
        assert_eq!(
            deliberate, 1,
            "{board}: deliberate panic checked {deliberate} times"
        );
    }
    // The model really was restaged: the logits differ between the sizes.
    let sums = |r: usize| -> Vec<u32> {
        let mut s: Vec<u32> = proven
            .iter()
            .filter(|p| p.resolution == r)
            .map(|p| p.checksum)
            .collect();
        s.dedup();
        s
    };
    let (big, small) = (sums(256), sums(128));
    assert_eq!(big.len(), 1, "boards disagree at 256x256: {big:x?}");
    assert_eq!(small.len(), 1, "boards disagree at 128x128: {small:x?}");
    assert_ne!(big, small, "the same logits at 256x256 and 128x128");
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
