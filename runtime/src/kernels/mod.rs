//! Optimized kernels: one module per op, and one folder per instruction-set
//! tier (`dsp/`, `mve/`, `neon/`, and `portable`), selected here and only
//! here by the cfgs `build.rs` derives from TARGET and the rustflags; the op
//! kernels test the tier constants below, never a cfg.
//!
//! The 1x1 convolution ([`pointwise`], 88 % of FastViT-T8's MACs) runs in
//! register tiles of four pixels ([`pointwise::TILE`]) x [`ROWS`] output
//! channels: every weight load feeds four pixels. Per tier:
//!
//! | tier | module | selected when | 1x1 tile and inner loop |
//! |---|---|---|---|
//! | reference | [`portable`] | everything else (x86 hosts, thumbv6m, v8m.main without DSP) | 1 x 4 px, plain i8 dot products LLVM vectorizes |
//! | neon | `neon` | aarch64 | 4 ch x 4 px, 16 channels a step: `SMULL`/`SMULL2` + `SADALP` (intrinsics); with no weight at -128 (checked per layer) 16 ch x 4 px of i16 pair sums, `SMULL` + `SMLAL2` + `SADALP` (`neon::pointwise_pairs`); with dotprod (A55/A76) 16 ch x 4 px on by-element `SDOT` (asm) over inputs transposed once per tile (`neon::pointwise_wide`); `LD1` via asm (`aarch64-unknown-none` defaults to `+strict-align`) |
//! | mve | `mve` | v8m.main + `cortex-m55`/`+mve` | 1 ch x 4 px, `VLDRB` + `VMLADAVA.S8` low-overhead loop (asm; LLVM's `vmlava` loop spent ~30 bookkeeping instructions a step); channels in blocks of 32 inside `asm!` (`mve::tile_px4`: sums parked, then four channels x four pixels requantized, table-mapped and stored a step) |
//! | dsp | [`dsp`] | thumbv7em (M4/M7), v8m.main + `cortex-m33` | 1 ch x 4 px on inputs sign-extended once per tile (CMSIS-NN's trick): per 8 channels a two-word weight `LDM` + 4 `SXTB16` + 4 four-register `LDM` + 16 `SMLAD` (asm: LLVM only forms `smlabb`); channels in blocks of 32 inside `asm!` (`dsp::block_px4`: sums started at the bias and parked, then `SMULWB`/`ASR`/`SSAT` requantization of four pixels a channel) |
//!
//! The other ops' kernels, in every tier: [`dot4`]/[`dot1`] (single-pixel
//! tails), and the spatial kernels below.
//!
//! Every tier computes the same wrapping i32 sums and the same
//! requantization, so every optimized kernel is bit-identical to the
//! reference [`conv_element`](crate::ops::conv::conv_element):
//! runtime/tests/fast_kernels.rs (primitives of every tier, the DSP one on
//! software models of its instructions, and the pointwise conv through
//! `Model`; also under `qemu-aarch64` with and without `+dotprod`),
//! runtime/tests/fused_kernels/ (in-place and fused forms), and on the real
//! DSP and Helium instructions the `kernels` conformance firmware
//! (`boards/mps2-an386`, `mps2-an505`, `mps3-an547`: `cargo run --release
//! --bin kernels`; every fast kernel of the tier against the reference
//! kernels on edge and random cases, exits non-zero on a mismatch; run by
//! host-tests/tests/conformance.rs).
//!
//! The spatial kernels are portable code for every tier: a contiguous
//! per-channel multiply-accumulate into `depthwise::CHUNK` i32 accumulators
//! that stay in registers across all taps of a pixel (8 on the DSP tier, 16
//! elsewhere), over a window clipped once per pixel so the tap loops have no
//! padding branches. LLVM vectorizes them (NEON `smlal`, MVE `vmla`; scalar
//! `smlabb` on the DSP tier). The depthwise convolution on the DSP, MVE and
//! NEON tiers instead reads a per-pixel table of tap pointers (padded taps point
//! at a padding row, `depthwise::pixel_by_taps`): DSP `SXTB16` + `SMLABB`
//! four channels at a time, 12.5 instructions per tap (`asm!`, four taps a
//! pass), the whole channel loop with its requantization in one asm block
//! (`dsp::depthwise_taps16`; the x2 convs run each multiplier plane through
//! the same loop at output stride 2, `dsp::multiplier_pixel16`); MVE 16 channels in
//! four q registers across all taps, `VLDRB.S16` + `VMULLB`/`VMULLT.S16` +
//! `VADD` (asm, ~1 instruction per MAC), then a vector requantization
//! (`VMULH` + `VRSHL`, table gather) of the 16 outputs (`mve::taps16`,
//! `mve::finish16`); NEON 32 or 16 channels across all taps, `SMULL` +
//! `SADDW`, taps in pairs (`SMLAL`) when no weight is -128
//! (`neon::depthwise_taps16`, `neon::finish16`). Each is bit-identical to `conv_element`
//! (runtime/tests/fused_kernels/, also under `qemu-aarch64`; the Helium
//! DSP and Helium tap loops on the M4, M33 and M55 by the `kernels` firmware):
//!
//! | op (schedule form) | kernel | weights (codegen) |
//! |---|---|---|
//! | 1x1 conv (`Pointwise*`, ConvMlp fc1/fc2) | [`pointwise`]: four-pixel tiles of the tier (table above) | OHWI, folded bias |
//! | depthwise 3x3 / 7x7 (`Depthwise*`, ConvMlp dw, stem.1) | [`depthwise`] | `[k][k][c]`, folded bias |
//! | x2 grouped 7x7/s2, 3x3 (`Multiplier`, `MultiplierWriteBehind`) | [`multiplier`]: one depthwise pass per multiplier plane; MVE and NEON: x2 on a tap table, 16 input channels of both planes a pass (`multiplier_pixel16`) | `[k][k][m][cin]`, folded bias |
//! | stem.0 3x3/s2 from RGB (`Im2col`, fast `Layer::Stem`) | [`dense::im2col`]: window copied into a 32-byte patch, four patches through the tier's [`pointwise`] kernel | `[cout][patch_len]` zero-padded OHWI rows, folded bias |
//! | dense small-`cin` conv with a larger window (`DenseHwio`) | [`dense::dense`]: tap value x vector of output channels | `[k][k][cin][cout]`, folded bias |
//! | requantization (every kernel) | [`crate::quant::requantize`]: 32-bit high-word path for `t >= 33` | per-channel multiplier, shift |
//! | add (`Layer::Add`, ConvMlp residual) | [`add`]: each input's rescale from a 256-entry table per layer, the output requantization per element | |
//! | SE, global pool, fc | [`squeeze_excite`]: portable safe Rust; NEON: the SE scale + table 16 channels a step, the fc (int8, int16 inputs) four rows a step (`neon::se_scale16`, `neon::fc_dots`) | |
//! | int16-operand convs (`--int16`: depthwise reading int16, 1x1 int8 -> int16; schedule `Reference`, `InPlace`, `WriteBehind`, `WriteAhead`, `WidenInPlace`, ConvMlp dw) | [`wide`]: window clipped once per pixel; depthwise with >= 16 input channels, k <= 7, input zero point 0 on channel vectors ([`wide_block`]: 16 output channels a tap, weights copied tap-major once per row (NEON: 7x7 blocks by a byte transpose, `neon::wide_load16`; Helium: `VLDRB.S16` + `VSTRH.16` scatter, `mve::load_taps16`); NEON `SMLAL`/`SMLAL2` and a vector output step (`neon::wide_finish16`), Helium `VMULLB`/`VMULLT.S16` and a vector output step for channel multiplier 1 (`mve::wide_finish16`: `VQSHL` + `VQDMULH` + `VRSHL`, exact for every shift), DSP `SMLABB`/`SMLATT` eight channels a loop (`dsp::wide_sums16`) with an `SMULWB` output step (`dsp::wide_finish16`) and the weights copied by `SXTB16` + halfword pairing (`dsp::wide_load16`), elsewhere portable loops: `wide_sums16`), the rest taps straight off the int16 rows; the 1x1 on four-channel int8 dot products (feature `fast-int16`) | OHWI, bias |
//! | ConvMlp with int16 internals (`--int16 stages.N.mlp`: `dw`/`fc2` outputs int16; schedule `Reference`) | [`wide_mlp`]: `dw` on [`wide`]'s channel vectors; `fc1` (int16 in) in i32 sums where `cin * 2^22 + max abs bias` fits, on DSP the 1x1 tile's channel blocks (`dsp::block_px4`: `SMLAD` sums and `SMULWB` output step in `asm!`) over int16 halfword pairs (`dsp::prepare_px4_i16`), on NEON 4 ch x 4 px of `SXTL` + `SMLAL`/`SMLAL2` with a vector output step (`neon::mlp_fc1_px4`), on Helium `VLDRB.S16` + `VMLADAVA.S16` one row x four pixels (`mve::dot_px4_i16`) and `finish_px4`, elsewhere plain i16 x i8 loops; `fc2` (int16 out) on the tier's `dot_px4` (DSP: its `bias - zp * sum w` folded once per call, the channel blocks with an int16 output step, `dsp::block_px4_i16`; NEON: the 4 x 4 int8 tile with a vector int16 output step, `neon::mlp_fc2_px4`; Helium: the row's sum for the zero point by `VADDVA.S8` in the same loop, `mve::dot_px4_sum`, and a channel's four int16 outputs as one vector, `mve::finish16_px4`); the residual add on NEON eight int16 elements a step (`neon::add16`), on DSP element by element with the requantizations' paths chosen once (`dsp::add16`), on Helium four elements a vector in a tail-predicated loop where the operands' ranges rule out saturation (`mve::add16`); feature `fast-int16` | OHWI, bias |
//! | downsample `proj.1` of `--int16` (1x1 int8 -> int16 `WidenInPlace`; int16 -> int16 `InPlace`) | [`wide_pointwise`]: four-pixel groups on the tier's 1x1 tile (`prepare_px4` + `dot_rows_px4`, the input zero point folded out once per call); int16 inputs on DSP `prepare_px4_i16` + `dot_px4`, NEON 4 ch x 4 px of `SXTL` + `SMLAL` (`neon::dot_rows_px4_i16`), Helium `dot_px4_i16`, elsewhere `wide_mlp::dot4_16`, in i32 where `cin * 2^22 + max abs bias + max abs identity * 2^15` fits; with the int16 table a channel's four outputs through `requant_px4` (feature `fast-int16`) | OHWI, bias |
//! | LUT | reference op (`crate::ops`) | |

pub mod add;
pub mod conv_mlp;
pub mod dense;
pub mod depthwise;
pub mod multiplier;
pub mod pointwise;
pub mod squeeze_excite;
pub mod stem;
pub mod wide;
pub mod wide_block;
pub mod wide_mlp;
pub mod wide_pointwise;
pub mod window;

// The tiers, one folder each; every cfg that chooses between them is below
// (the kernels above test the constants, never a cfg).
pub mod portable;

/// Compiled on every target: off the DSP cores against software models of
/// its instructions (`dsp/model.rs`), so the host tests check its data flow.
#[allow(unsafe_code)]
pub mod dsp;

#[cfg(target_arch = "aarch64")]
#[allow(unsafe_code)]
pub mod neon;

#[cfg(all(target_arch = "arm", fastvit_mve))]
#[allow(unsafe_code)]
pub mod mve;

// The DSP instructions: inline asm on the DSP cores, models elsewhere.
#[cfg(all(target_arch = "arm", fastvit_dsp))]
#[path = "dsp/asm.rs"]
#[allow(unsafe_code)]
pub(crate) mod dsp_instructions;
#[cfg(not(all(target_arch = "arm", fastvit_dsp)))]
#[path = "dsp/model.rs"]
#[allow(unsafe_code)]
pub(crate) mod dsp_instructions;

// NEON's 16-lane multiply-accumulate: SDOT with dotprod, SMULL+SADALP without.
#[cfg(all(target_arch = "aarch64", fastvit_dotprod))]
#[path = "neon/sdot.rs"]
#[allow(unsafe_code)]
pub(crate) mod neon_mac;
#[cfg(all(target_arch = "aarch64", not(fastvit_dotprod)))]
#[path = "neon/smull.rs"]
#[allow(unsafe_code)]
pub(crate) mod neon_mac;

#[cfg(fastvit_dsp)]
use dsp as arch;
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve as arch;
#[cfg(target_arch = "aarch64")]
use neon as arch;
#[cfg(not(any(
    fastvit_dsp,
    target_arch = "aarch64",
    all(target_arch = "arm", fastvit_mve)
)))]
use portable as arch;

pub use arch::{
    dot1, dot4, dot_px4, dot_rows_px4, prepare_px4, Px4, StackTile, ROWS, TILE_WORDS_PER_CIN,
};
// The tiers' vector forms of the 1x1 tile's requantization and the
// depthwise tap table's 16-channel loop (the portable ones: the scalar
// reference, or declining).
#[cfg(fastvit_dsp)]
use dsp::{block_px4, block_px4_fits, block_px4_i16};
#[cfg(fastvit_dsp)]
use dsp::{depthwise_taps16, multiplier_hook16 as multiplier_pixel16};
#[cfg(all(target_arch = "arm", fastvit_mve))]
pub(crate) use mve::above_min;
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve::{
    add_tables4, copy_run, depthwise_pixel16, depthwise_row16, depthwise_span16, depthwise_taps16,
    finish_px4, multiplier_pixel16, taps16_sums, tile_px4,
};
#[cfg(target_arch = "aarch64")]
pub(crate) use neon::above_min;
#[cfg(target_arch = "aarch64")]
use neon::{
    depthwise_pixel16, depthwise_row16, depthwise_run16, depthwise_taps16, finish16,
    multiplier_pixel16, pointwise_pairs, pointwise_wide, requant_px4, rows_px4_store,
};
#[cfg(target_arch = "aarch64")]
use neon::{fc_dots, se_scale16};
#[cfg(not(any(target_arch = "aarch64", all(target_arch = "arm", fastvit_mve))))]
pub(crate) use portable::above_min;
#[cfg(not(any(
    all(target_arch = "arm", fastvit_mve),
    target_arch = "aarch64",
    fastvit_dsp
)))]
use portable::depthwise_taps16;
#[cfg(not(any(
    all(target_arch = "arm", fastvit_mve),
    fastvit_dsp,
    target_arch = "aarch64"
)))]
use portable::multiplier_pixel16;
#[cfg(not(all(target_arch = "arm", fastvit_mve)))]
use portable::{add_tables4, copy_run, depthwise_span16, finish_px4, taps16_sums, tile_px4};
#[cfg(not(fastvit_dsp))]
use portable::{block_px4, block_px4_fits, block_px4_i16};
#[cfg(not(any(all(target_arch = "arm", fastvit_mve), target_arch = "aarch64")))]
use portable::{depthwise_pixel16, depthwise_row16};
#[cfg(not(target_arch = "aarch64"))]
use portable::{
    depthwise_run16, finish16, pointwise_pairs, pointwise_wide, requant_px4, rows_px4_store,
};
#[cfg(not(target_arch = "aarch64"))]
use squeeze_excite::declining::{fc_dots, se_scale16};
// The 1x1 tile's int16 inputs (the ConvMlp `fc1` of `wide_mlp`): DSP
// halfword pairs for `dot_px4`, elsewhere declined.
#[cfg(fastvit_dsp)]
use dsp::prepare_px4_i16;
#[cfg(not(fastvit_dsp))]
use portable::prepare_px4_i16;
// The int16 ConvMlp's vector steps (`wide_mlp`) and the int16 depthwise's
// vector output step (`wide`): NEON; elsewhere declined.
#[cfg(target_arch = "aarch64")]
use neon::{add16, mlp_fc1_px4, mlp_fc2_px4, wide_finish16, wide_load16};
#[cfg(not(target_arch = "aarch64"))]
use portable::{mlp_fc1_px4, mlp_fc2_px4};
// The int16 ConvMlp's residual add: NEON vectors, DSP element by element
// with the requantizations' paths chosen once (`dsp::add16`), Helium four
// elements a vector (`mve::add16`); elsewhere declined (`add_with`).
#[cfg(fastvit_dsp)]
use dsp::add16;
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve::add16;
#[cfg(not(any(
    target_arch = "aarch64",
    fastvit_dsp,
    all(target_arch = "arm", fastvit_mve)
)))]
use portable::add16;
// The int16 depthwise block's tap-major weight copy: NEON's byte
// transpose, DSP `SXTB16` + `PKHBT`/`PKHTB` (`dsp::wide_load16`);
// elsewhere declined.
#[cfg(fastvit_dsp)]
use dsp::wide_load16;
#[cfg(not(any(target_arch = "aarch64", fastvit_dsp)))]
use portable::wide_load16;
// The int16 depthwise's output step of 16 channels: NEON vectors, DSP
// `SMULWB` (`dsp::wide_finish16`), Helium vectors (`mve::wide_finish16`);
// elsewhere declined.
#[cfg(fastvit_dsp)]
use dsp::wide_finish16;
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve::wide_finish16;
#[cfg(not(any(
    target_arch = "aarch64",
    fastvit_dsp,
    all(target_arch = "arm", fastvit_mve)
)))]
use portable::wide_finish16;
// The int16 ConvMlp's `fc2` output step of one channel and four pixels:
// Helium vectors (`mve::finish16_px4`); elsewhere declined.
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve::finish16_px4;
#[cfg(not(all(target_arch = "arm", fastvit_mve)))]
use portable::finish16_px4;
// The int16 ConvMlp's `fc1` four-pixel dots over int16 inputs and `fc2`
// dots with the weight row's sum: Helium asm, elsewhere declined.
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve::{dot_px4_i16, dot_px4_sum};
#[cfg(not(all(target_arch = "arm", fastvit_mve)))]
use portable::{dot_px4_i16, dot_px4_sum};
// The int16 depthwise's channel-vector taps (`wide_block`), and on
// Helium the tap-major copy of a block's weights.
#[cfg(fastvit_dsp)]
use dsp::wide_sums16;
#[cfg(all(target_arch = "arm", fastvit_mve))]
use mve::{load_taps16, wide_sums16};
#[cfg(target_arch = "aarch64")]
use neon::wide_sums16;
#[cfg(not(all(target_arch = "arm", fastvit_mve)))]
use portable::load_taps16;
#[cfg(not(any(
    target_arch = "aarch64",
    all(target_arch = "arm", fastvit_mve),
    fastvit_dsp
)))]
use wide_block::sums16 as wide_sums16;

// The int16 -> int16 1x1 in place (`wide_pointwise`, the stage-3
// downsample `proj.1`): NEON's 4 x 4 tile over int16 inputs; elsewhere
// declined (the DSP and Helium int16 dots above serve it).
#[cfg(target_arch = "aarch64")]
use neon::dot_rows_px4_i16;
#[cfg(not(target_arch = "aarch64"))]
use wide_pointwise::declining::dot_rows_px4_i16;
/// `dot_rows_px4_i16` is taken (NEON); elsewhere the declining stand-in.
pub(crate) const ROWS_PX4_I16: bool = cfg!(target_arch = "aarch64");

/// The 1x1 tile runs blocks of output channels in `asm!` loops
/// (`dsp::block_px4`: sums, then requantization four pixels at a time).
pub(crate) const BLOCK_TILE: bool = cfg!(fastvit_dsp);

/// The spatial kernels' lanes are the DSP tier's words of four channels
/// (`dsp::lanes`): four-channel accumulator chunks.
pub(crate) const WORD_LANES: bool = cfg!(fastvit_dsp);

/// The depthwise conv reads a per-pixel table of tap pointers
/// (`depthwise::pixel_by_taps`): the DSP, MVE and NEON tiers.
pub(crate) const TAP_TABLE: bool = cfg!(any(fastvit_dsp, fastvit_mve, target_arch = "aarch64"));

/// The x2 channel-multiplier conv reads the depthwise tap table too
/// (`multiplier::pixel_by_taps`): the MVE tier. The DSP tier builds the
/// same table in its own hook (`dsp::multiplier_pixel16`, each plane one
/// `asm!` channel loop) and leaves the other shapes to the window path.
pub(crate) const MULTIPLIER_TAPS: bool = cfg!(all(target_arch = "arm", fastvit_mve));

/// The 1x1 tile requantizes, maps and stores a channel's four outputs as one
/// vector per output channel (`mve::finish_px4`).
pub(crate) const VECTOR_FINISH_PX4: bool = cfg!(all(target_arch = "arm", fastvit_mve));

/// The 1x1 tile requantizes an output channel's four outputs as one vector
/// (`neon::requant_px4`); elsewhere channel by channel (`pointwise`).
pub(crate) const VECTOR_REQUANT_PX4: bool = cfg!(target_arch = "aarch64");

/// The 1x1 conv runs 16-channel x 4-pixel tiles on by-element `SDOT`
/// (`neon::pointwise_wide`): NEON with dotprod.
#[cfg(target_arch = "aarch64")]
pub(crate) const WIDE_TILE: bool = neon_mac::LANE_DOT;
#[cfg(not(target_arch = "aarch64"))]
pub(crate) const WIDE_TILE: bool = false;

/// The 1x1 conv runs 16-channel x 4-pixel tiles of i16 pair sums when no
/// weight is -128 (`neon::pointwise_pairs`): NEON without dotprod.
pub(crate) const PAIR_TILE: bool = cfg!(target_arch = "aarch64") && !WIDE_TILE;

/// The depthwise tap table's 16-channel loop takes taps in pairs (i16 sums
/// of two products) when no weight is -128 (`neon::depthwise_taps16`, the
/// Helium `mve` tap loop).
pub(crate) const PAIR_TAPS: bool = cfg!(any(
    target_arch = "aarch64",
    all(target_arch = "arm", fastvit_mve)
));

/// The int16 depthwise's output step of 16 contiguous channels
/// (`wide::block_pixel`): NEON vectors (`neon::wide_finish16`), DSP
/// `SMULWB` requantization (`dsp::wide_finish16`), Helium vectors
/// (`mve::wide_finish16`).
pub(crate) const WIDE_FINISH16: bool = cfg!(any(
    target_arch = "aarch64",
    fastvit_dsp,
    all(target_arch = "arm", fastvit_mve)
));

/// The int16 ConvMlp's `fc2` takes its `bias - zp * sum w` per channel once
/// per block call, on the stack (`wide_mlp::fold`): NEON (`neon::mlp_fc2_px4`)
/// and DSP (`dsp::block_px4_i16` starts its sums there; the weight-row
/// sum per channel and four-pixel group it replaces was 197 M of the M4's
/// 1,641 M instructions).
pub(crate) const FOLD_FC2: bool = cfg!(any(target_arch = "aarch64", fastvit_dsp));

/// The tier this build selected (for firmware banners and reports: an
/// optimized kernel that is silently not engaged shows up here).
pub const TIER: &str = if cfg!(fastvit_dsp) {
    "dsp (SXTB16+SMLAD)"
} else if cfg!(fastvit_mve) {
    "mve (VMLADAVA asm)"
} else if cfg!(fastvit_dotprod) {
    "neon+dotprod (SDOT asm, 16x4 tiles)"
} else if cfg!(fastvit_neon) {
    "neon (SMULL+SADALP, 4x4 tiles)"
} else {
    "reference (portable, auto-vectorized)"
};
