//! FastViT-T8 int8 on a Cortex-A76 (QEMU virt), bare metal: runs the model once on the embedded test
//! image, marking every layer for the instruction counter, and prints the
//! report of `support::semihosting::run_and_exit` (all in
//! `support::emulated_board!`).
#![no_std]
#![no_main]

support::emulated_board!("virt-a76", "cortex-a76");
