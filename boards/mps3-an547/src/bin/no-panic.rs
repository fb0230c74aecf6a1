//! The link-time proof that inference cannot panic, on the MPS3 AN547 (Cortex-M55, the Helium/MVE kernel tier):
//! `support::no_panic_board!` (only the weight check and `classify`, with
//! support's `no-panic` panic handler, which refers to a symbol defined
//! nowhere). This binary links only if no panic is reachable from that path
//! after LTO.
//!
//! `cargo build --release --features no-panic --bin no-panic` (from this
//! folder, after `boards/run-all.sh --stage-only`); `host-tests/tests/no_panic.rs`
//! builds and runs it. With `--features deliberate-panic` the link must fail.
#![no_std]
#![no_main]

support::no_panic_board!();
