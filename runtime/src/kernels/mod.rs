//! Optimized kernels, one module per instruction-set tier, selected here and
//! only here by the cfgs `build.rs` derives from TARGET and the rustflags.
//!
//! | tier | module | selected when | inner loop |
//! |---|---|---|---|
//! | reference | [`portable`] | everything else (x86 hosts, thumbv6m, v8m.main without DSP) | plain i8 dot products LLVM vectorizes (SSE2/AVX2 `pmaddwd`) |
//! | neon | [`portable`] | aarch64 | LLVM emits `smull`/`smlal`, and `sdot` with `+dotprod` (A55/A76) |
//! | mve | [`portable`] | v8m.main + `cortex-m55` | LLVM emits tail-predicated `vmlava.s8` |
//! | dsp | [`dsp`] | thumbv7em (M4/M7), v8m.main + `cortex-m33` | `SXTB16` + `SMLAD` (inline asm: LLVM only forms `smlabb`) |
//!
//! NEON `vdotq_s32` is unstable on stable Rust (`stdarch_neon_dotprod`) and
//! LLVM's auto-vectorizer already emits `sdot` for [`portable`]'s loops, so
//! the NEON and MVE tiers need no architecture-specific code.
//!
//! Every tier computes the same wrapping i32 sums; the pointwise kernel built
//! on them ([`pointwise`]) is bit-identical to the reference
//! [`conv_element`](crate::ops::conv::conv_element) (runtime/tests/fast_kernels.rs).
//!
//! The spatial kernels are portable code for every tier: a contiguous
//! per-channel multiply-accumulate into `depthwise::CHUNK` i32 accumulators
//! that stay in registers across all taps of a pixel (8 on the DSP tier, 16
//! elsewhere), over a window clipped once per pixel so the tap loops have no
//! padding branches. LLVM vectorizes them (NEON `smlal`, MVE `vmla`; scalar
//! `smlabb` on the DSP tier). Each is bit-identical to `conv_element`
//! (runtime/tests/fused_kernels.rs, also under `qemu-aarch64`):
//!
//! | op (schedule form) | kernel | weights (codegen) |
//! |---|---|---|
//! | 1x1 conv (`Pointwise*`, ConvMlp fc1/fc2) | [`pointwise`] on [`dot4`]/[`dot1`] of the tier | OHWI, folded bias |
//! | depthwise 3x3 / 7x7 (`Depthwise*`, ConvMlp dw, stem.1) | [`depthwise`] | `[k][k][c]`, folded bias |
//! | x2 grouped 7x7/s2, 3x3 (`Multiplier`, `MultiplierWriteBehind`) | [`grouped`]: one depthwise pass per multiplier plane | `[k][k][m][cin]`, folded bias |
//! | stem.0 3x3/s2 from RGB (`DenseHwio`, fast `Layer::Stem`) | [`stem`]: tap value x vector of output channels | `[k][k][cin][cout]`, folded bias |
//! | requantization (every kernel) | [`crate::quant::requantize`]: 32-bit high-word path for `t >= 33` | per-channel multiplier, shift |
//! | add, LUT, SE, global pool, fc | reference ops (`crate::ops`) | |

pub mod depthwise;
pub mod grouped;
pub mod pointwise;
pub mod portable;
pub mod stem;

#[allow(unsafe_code)]
pub mod dsp;
#[allow(unsafe_code)]
pub mod dsp_lanes;

#[cfg(fastvit_dsp)]
use dsp as arch;
#[cfg(not(fastvit_dsp))]
use portable as arch;

pub use arch::{dot1, dot4};

/// The tier this build selected (for firmware banners and reports: an
/// optimized kernel that is silently not engaged shows up here).
pub const TIER: &str = if cfg!(fastvit_dsp) {
    "dsp (SXTB16+SMLAD)"
} else if cfg!(fastvit_mve) {
    "mve (auto-vectorized vmlava)"
} else if cfg!(fastvit_dotprod) {
    "neon+dotprod (auto-vectorized sdot)"
} else if cfg!(fastvit_neon) {
    "neon (auto-vectorized smlal)"
} else {
    "reference (portable, auto-vectorized)"
};
