//! Which activation tensors are stored with 16 bits.
//!
//! Measured on the trained proxy kit (docs/numerics.md): the int8 logits
//! alone cap the centred logit SQNR, and 16-bit logits plus the pooled vector
//! that feeds them gain 0.8 dB in the float simulation (0.76 dB in the real
//! build) for 1,768 more bytes of arena at 1000 classes (not at the peak). Those two are int16 here; the global pool and
//! the head are the layers whose kernels take int16 operands. Wider choices
//! (the residual streams, under an arena budget) need int16 conv kernels
//! first.

/// The tensors stored as int16 (timm module names of their producers).
pub const WIDE: &[&str] = &["head.global_pool", "head.fc"];

/// Whether the tensor `name` is stored as int16.
pub fn is_wide(name: &str) -> bool {
    WIDE.contains(&name)
}
