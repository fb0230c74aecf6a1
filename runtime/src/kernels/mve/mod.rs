//! Cortex-M55 Helium (MVE) tier: one weight row against four pixels, 16
//! input channels per step with `VMLADAVA.S8` (16 MACs into a scalar
//! accumulator per instruction): five `VLDRB` + four `VMLADAVA` + `LE` per
//! 64 MACs. LLVM vectorizes the portable loop into `VMLAVA` too, but wraps
//! every step in ~30 instructions of predicate and spill bookkeeping, so the
//! loop is `asm!`. Channels past the last multiple of 16 run scalar.
//! Bit-identical to the portable twin; proven by the M55 board run (the
//! logits checksum equals the host's) as no user-mode QEMU runs M-profile
//! code.
//!
//! Depthwise ([`taps16`], [`finish16`], driven by
//! `depthwise::pixel_by_taps`): 16 channels of one pixel in four i32
//! vectors across all taps of a [`TapRows`](super::dsp::lanes::TapRows)
//! table, 16 instructions per tap (16 MACs), then one vector requantization
//! per four channels. Checked against the reference kernels on the M55 by
//! the mps3-an547 `kernels` firmware (with `finish16` and [`finish_px4`]
//! also called directly).
//!
//! By kernel: `tile` (the 1x1: [`dot_px4`], [`finish_px4`], [`tile_px4`]),
//! `chunk` (one 16-channel depthwise chunk: [`taps16`], [`finish16`]),
//! `pixel` (the depthwise and x2-multiplier tap tables of a pixel or a row),
//! `taps` (their one-`asm!` tap loop and requantization), `add` (the
//! add's table form), `mlp16` and `wide16` (the int16 build's dots and
//! taps) and `out16` (its output steps: [`wide_finish16`],
//! [`finish16_px4`], [`add16`]); the identity table they gather from is
//! here.

use super::portable::IDENTITY;
pub use super::portable::{dot1, dot4, prepare_px4, Px4, StackTile, TILE_WORDS_PER_CIN};
pub use add::add_tables4;
pub use chunk::{finish16, taps16, taps16_sums, Acc16};
pub use copy::copy_run;
pub use mlp16::{dot_px4_i16, dot_px4_sum};
pub use out16::{add16, finish16_px4, wide_finish16};
pub use pixel::{
    depthwise_pixel16, depthwise_row16, depthwise_span16, depthwise_taps16, multiplier_pixel16,
};
pub use taps::above_min;
pub use tile::{dot_px4, dot_rows_px4, finish_px4, tile_px4, ROWS};
pub use wide16::{load_taps16, wide_sums16};

#[rustfmt::skip]
/// One tap's 16 channels in the widening form: `VLDRB.S16` of eight
/// inputs at `$x` and eight weights at r2 (then the upper eight), the even
/// and odd lanes' `VMULLB`/`VMULLT.S16` products added into q0-q3 (channels
/// `0, 2, ..`, `1, 3, ..`, `8, 10, ..`, `9, 11, ..`); `$next` advances r2
/// to the next tap's weights. q4-q6 are scratch. Shared by
/// `taps16`'s loop and `taps::taps_asm`'s.
macro_rules! tap16_s16 {
    ($x:literal, $next:literal) => {
        concat!(
            "vldrb.s16 q4, [", $x, "]\n",
            "vldrb.s16 q5, [r2]\n",
            "vmullb.s16 q6, q4, q5\n",
            "vadd.i32 q0, q0, q6\n",
            "vmullt.s16 q6, q4, q5\n",
            "vadd.i32 q1, q1, q6\n",
            "vldrb.s16 q4, [", $x, ", #8]\n",
            "vldrb.s16 q5, [r2, #8]\n",
            $next, "\n",
            "vmullb.s16 q6, q4, q5\n",
            "vadd.i32 q2, q2, q6\n",
            "vmullt.s16 q6, q4, q5\n",
            "vadd.i32 q3, q3, q6\n",
        )
    };
}

mod add;
mod chunk;
mod copy;
mod mlp16;
mod out16;
mod pixel;
mod taps;
mod tile;
mod wide16;
