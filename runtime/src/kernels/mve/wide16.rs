//! The int16 depthwise's channel-vector taps (`kernels::wide_block`): 16
//! channels a tap, per kernel row one low-overhead loop over its taps
//! (`asm!`): `VLDRB.U8` of eight int16 inputs and eight i16 weights (byte
//! elements: no alignment assumed), `VMULLB`/`VMULLT.S16` (the even and odd
//! lanes' exact i32 products) and `VADD` into q0-q3, twice: 12 instructions
//! and the pointer step per 16 MACs. The four accumulators (channels 0, 2,
//! .., 1, 3, .., 8, 10, .., 9, 11, ..) are kept in a 16-byte aligned buffer
//! between rows and put back in channel order at the end. Bit-identical to
//! the portable twin `wide_block::sums16` (the products are exact, the sums
//! wrap alike); checked on the M55 by the mps3-an547 `kernels` firmware.

use crate::kernels::wide_block::{Taps, LANES};

/// The accumulators as q0-q3 store them, 16-byte aligned for `VLDRW`/`VSTRW`.
#[repr(C, align(16))]
struct Raw([i32; LANES]);

/// `wide_block::sums16` on Helium.
#[inline(always)]
pub fn wide_sums16<'r>(taps: Taps<impl Iterator<Item = (&'r [i8], &'r [i16])>>) -> [i32; LANES] {
    let (stride, nk) = (taps.stride(), taps.nk());
    let mut raw = Raw([0; LANES]);
    for (x, w) in taps.fitting() {
        // SAFETY: `Taps::fitting`: `x` holds 32 readable bytes at each of
        // the `nk >= 1` taps `stride` apart (the loop reads `[r0]` and
        // `[r0, #16]`, 16 bytes each, then steps r0 by `stride`), `w` 16 i16
        // (32 bytes) a tap (r1 post-incremented by 16 twice a tap); the
        // low-overhead loop runs exactly `nk` times. `raw` is 64 writable
        // bytes, 16-byte aligned, read and written by `VLDRW`/`VSTRW`. The
        // pointers are pinned to low registers (the byte loads' encodings
        // want them); q0-q6 (d0-d13) are declared clobbered. MVE is
        // guaranteed by the `fastvit_mve` cfg.
        unsafe {
            core::arch::asm!(
                "vldrw.u32 q0, [{acc}]",
                "vldrw.u32 q1, [{acc}, #16]",
                "vldrw.u32 q2, [{acc}, #32]",
                "vldrw.u32 q3, [{acc}, #48]",
                "dls lr, {n}",
                "2:",
                "vldrb.u8 q4, [r0]",
                "vldrb.u8 q5, [r1], #16",
                "vmullb.s16 q6, q4, q5",
                "vadd.i32 q0, q0, q6",
                "vmullt.s16 q6, q4, q5",
                "vadd.i32 q1, q1, q6",
                "vldrb.u8 q4, [r0, #16]",
                "vldrb.u8 q5, [r1], #16",
                "add r0, r0, r2",
                "vmullb.s16 q6, q4, q5",
                "vadd.i32 q2, q2, q6",
                "vmullt.s16 q6, q4, q5",
                "vadd.i32 q3, q3, q6",
                "le lr, 2b",
                "vstrw.32 q0, [{acc}]",
                "vstrw.32 q1, [{acc}, #16]",
                "vstrw.32 q2, [{acc}, #32]",
                "vstrw.32 q3, [{acc}, #48]",
                acc = in(reg) raw.0.as_mut_ptr(),
                n = in(reg) nk,
                inout("r0") x.as_ptr() => _,
                inout("r1") w.as_ptr() => _,
                in("r2") stride,
                out("lr") _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
                out("d6") _, out("d7") _, out("d8") _, out("d9") _, out("d10") _, out("d11") _,
                out("d12") _, out("d13") _,
                options(nostack, preserves_flags),
            );
        }
    }
    let r = &raw.0;
    let mut out = [0i32; LANES];
    for i in 0..4 {
        out[2 * i] = r[i];
        out[2 * i + 1] = r[4 + i];
        out[8 + 2 * i] = r[8 + i];
        out[9 + 2 * i] = r[12 + i];
    }
    out
}
