//! Every optimized kernel tier that the host cannot execute, proven on the
//! emulated cores: the `kernels` firmware of mps2-an386 (Cortex-M4F, DSP
//! asm), mps2-an505 (Cortex-M33, DSP asm) and mps3-an547 (Cortex-M55,
//! Helium asm) runs each fast kernel (pointwise, depthwise, channel
//! multiplier, dense and im2col stem, streamed stem, requantization)
//! against the runtime's reference kernels on edge and random cases under
//! `qemu-system-arm` (`boards/support/src/conformance.rs`). Each board must
//! exit with status 0, report its tier, and print a summary line with cases
//! and no failures for every kernel.
//!
//! Runs `boards/tools/src/conformance.rs`. Needs QEMU and flip-link, like
//! `boards.rs`: without them this test fails.

use std::time::Instant;

use boards::conformance::{self, Summary};

#[test]
fn every_fast_kernel_matches_the_reference_on_the_dsp_and_helium_cores() {
    let on: Vec<boards::Board> = conformance::BOARDS
        .iter()
        .map(|(name, _)| boards::board(name).unwrap())
        .collect();
    if let Err(e) = boards::check_tools(&on) {
        panic!("cannot run the conformance firmware: {e}");
    }
    let repo = host_tests::repo();
    let mut opts = boards::Options::new(&repo);
    opts.resolution = 128;
    opts.timeout_s = 600;
    // The firmware needs no model, but the board crates depend on the
    // staged one.
    let model = boards::prepare_model(&opts, &mut |s| eprintln!("{s}")).unwrap();
    let res = boards::model_resolution(&model).unwrap();
    let frame = boards::test_frame(&opts.image, res).unwrap();
    boards::stage(&model, &opts.staged_model(), &frame).unwrap();

    let t = Instant::now();
    let mut failures = Vec::new();
    for &(name, tier) in conformance::BOARDS {
        match conformance::check(&opts, name) {
            Ok(c) => {
                assert!(c.tier.starts_with(tier), "{name}: tier {}", c.tier);
                let helium = if tier == "mve" {
                    conformance::MVE_KERNELS
                } else {
                    &[]
                };
                for k in conformance::KERNELS.iter().chain(helium) {
                    let s = c.kernels.iter().find(|s| s.kernel == *k);
                    let s = s.unwrap_or_else(|| panic!("{name}: no {k} line"));
                    assert!(s.cases > 0 && s.failures == 0, "{name}: {s:?}");
                }
                let line: Vec<String> = c
                    .kernels
                    .iter()
                    .map(|s| format!("{} {}", s.kernel, s.cases))
                    .collect();
                eprintln!(
                    "{name} ({}): {:.1} s in QEMU, 0 failures in {}",
                    c.tier,
                    c.seconds,
                    line.join(", ")
                );
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!("conformance: {:.1} s", t.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The summary parser takes only well-formed summary lines (a mismatch
/// line or a missing count is no summary).
#[test]
fn summary_lines_are_parsed_strictly() {
    let text = "board mps2-an386 cortex-m4f\n\
        conformance depthwise MISMATCH case 8 (depthwise) 8x7x16 -> 16: first difference at index 7\n\
        conformance depthwise 300 cases 1 failures\n\
        conformance im2col cases 0 failures\n\
        conformance total 1 failures\n";
    assert_eq!(
        conformance::summaries(text),
        vec![Summary {
            kernel: "depthwise".into(),
            cases: 300,
            failures: 1,
        }]
    );
}
