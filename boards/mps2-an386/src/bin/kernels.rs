//! Kernel conformance firmware for mps2-an386: every fast kernel of this core's
//! tier (pointwise, depthwise, channel multiplier, dense and im2col stem,
//! streamed stem, requantization) against the runtime's reference kernels on
//! edge and random cases (`support::conformance`), under `qemu-system-arm`
//! (`cd boards/mps2-an386 && cargo run --release --bin kernels`; run by
//! `host-tests/tests/conformance.rs`). Prints one
//! `conformance <kernel> <n> cases <f> failures` line per kernel and exits
//! non-zero on any mismatch; then times FastViT-T8's 1x1 shapes (`shape`
//! lines between perf marks). All in `support::conformance_board!`.
#![no_std]
#![no_main]

support::conformance_board!("mps2-an386", "cortex-m4f");
