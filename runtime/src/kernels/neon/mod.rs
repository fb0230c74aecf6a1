//! AArch64 NEON tier (A53, A72, A76): four output channels x four pixels per
//! register tile, 16 input channels per step, so every weight vector feeds
//! four pixels and every input vector four channels.
//!
//! * With dotprod (A55/A76, the `fastvit_dotprod` cfg): `SDOT` (16 MACs per
//!   instruction) through `asm!`, as `vdotq_s32` is not stable; 8 loads + 16
//!   `SDOT` per 256 MACs.
//! * Without (A53): `SMULL`/`SMULL2` to i16 products and `SADALP` into i32
//!   lanes (stable `core::arch::aarch64` intrinsics); i16 products cannot
//!   overflow, so no weight range is assumed.
//!
//! Lanes are reduced once per tile with `ADDP`; channels past the last
//! multiple of 16 run scalar. With dotprod, 1x1 convs whose channel counts
//! are multiples of 16 take [`pointwise_wide`] instead (16 channels x 4
//! pixels, by-element `SDOT` on transposed inputs, no lane reductions);
//! the depthwise convs take [`depthwise_taps16`] (a tap table, 32 or 16
//! channels across all taps in registers; in place, the unpadded pixels of
//! a row on one table advanced `c` bytes a pixel: [`depthwise_row16`]).
//! Bit-identical to the portable twin (runtime/tests/fast_kernels.rs,
//! runtime/tests/fused_kernels/, under qemu-aarch64 with and without
//! `+dotprod`).
//!
//! Without dotprod, 1x1 convs with no weight at -128 take [`pointwise_pairs`]
//! (products summed in pairs in i16: 3 instructions per 16 MACs).
//!
//! The x2 convs (7x7/s2 downsample, 3x3 `final_conv`) take
//! [`multiplier_pixel16`]: a tap table, both planes of 16 input channels
//! across all taps, `ZIP1`/`ZIP2` into output order, [`finish16`].
//!
//! By kernel: `tile` (the 4 x 4 tile), `wide` (the dotprod 1x1), `pairs`
//! (the A53's 1x1), `multiplier` (whole pixels on one tap table: the x2
//! convs and [`depthwise_pixel16`], the depthwise convs' pixels),
//! `depthwise` (window runs, tap table, 16-lane finish), `head` (the
//! squeeze-excite scale and the fully connected dot products:
//! [`se_scale16`], [`fc_dots`]), `mlp16` (the int16 ConvMlp's `fc1`,
//! `fc2` and residual add with vector output steps: [`mlp_fc1_px4`],
//! [`mlp_fc2_px4`], [`add16`]), `pw16` (the int16 -> int16 1x1's 4 x 4
//! tile: [`dot_rows_px4_i16`]), on the shared loads, stores,
//! requantization and table lookup of `vector`.

pub use super::portable::{dot1, dot4, dot_px4, prepare_px4, Px4, StackTile, TILE_WORDS_PER_CIN};
pub use depthwise::{depthwise_row16, depthwise_run16, depthwise_taps16, finish16};
pub use head::{fc_dots, se_scale16};
pub use mlp16::{add16, mlp_fc1_px4, mlp_fc2_px4};
pub use multiplier::{depthwise_pixel16, multiplier_pixel16};
pub use pairs::{above_min, pointwise_pairs};
pub use pw16::dot_rows_px4_i16;
pub use tile::{dot_rows_px4, requant_px4, rows_px4_store, ROWS};
pub use wide::pointwise_wide;
pub use wide16::{wide_finish16, wide_load16, wide_sums16};

mod depthwise;
mod head;
mod mlp16;
mod multiplier;
mod pairs;
mod pw16;
mod tile;
mod vector;
mod wide;
mod wide16;
