//! FastViT-T8 int8 on MPS2 AN505 (Cortex-M33) in QEMU: runs the model once on the embedded test
//! image, marking every layer for the instruction counter, and prints the
//! report of `support::semihosting::run_and_exit` (all in
//! `support::emulated_board!`).
#![no_std]
#![no_main]

support::emulated_board!("mps2-an505", "cortex-m33");
