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

/// `wide_block::Block::load`'s copy on Helium: the `kk` taps of each of the
/// `LANES` output channels `first + j * step` (OHWI depthwise weights, `kk`
/// a channel) into `w[t * LANES + j]`, widened to i16: per channel and
/// eight taps one `VLDRB.S16` and one `VSTRH.16` scatter (offsets `32 *
/// t`), the last `kk % 8` taps scalar. `false` (nothing written) if
/// `weights` does not hold every channel or `w` not `kk * LANES` values.
#[inline]
pub fn load_taps16(
    weights: &[i8],
    kk: usize,
    (first, step): (usize, usize),
    w: &mut [i16],
) -> bool {
    let last = first + (LANES - 1) * step;
    if weights.len() < (last + 1) * kk || w.len() < kk * LANES {
        return false;
    }
    let steps = kk / 8;
    for j in 0..LANES {
        let o = first + j * step;
        let Some(taps) = weights.get(o * kk..(o + 1) * kk) else {
            return false;
        };
        if steps > 0 {
            // SAFETY: reads `8 * steps <= kk` bytes of `taps` (r0,
            // post-incremented: the widening load's write-back form takes
            // a low register); writes the halfwords `j + 16 * t`, `t <
            // 8 * steps <= kk`, of `w` (`kk * LANES` long; the scatter's
            // offsets are 0, 32, .., 224 bytes from `dst`, which steps 256
            // bytes a pass; halfword-aligned as `VSTRH` wants). The
            // low-overhead loop runs exactly `steps >= 1` times. r2 is the
            // `VIDUP` base (even register), q0-q1 (d0-d3) are declared
            // clobbered. MVE is guaranteed by the `fastvit_mve` cfg.
            unsafe {
                core::arch::asm!(
                    "vidup.u16 q1, r2, #1",
                    "vshl.u16 q1, q1, #5",
                    "dls lr, {n}",
                    "2:",
                    "vldrb.s16 q0, [r0], #8",
                    "vstrh.16 q0, [{dst}, q1]",
                    "add {dst}, {dst}, #256",
                    "le lr, 2b",
                    n = in(reg) steps,
                    dst = inout(reg) w.as_mut_ptr().wrapping_add(j) => _,
                    inout("r0") taps.as_ptr() => _,
                    inout("r2") 0u32 => _,
                    out("lr") _,
                    out("d0") _,
                    out("d1") _,
                    out("d2") _,
                    out("d3") _,
                    options(nostack, preserves_flags),
                );
            }
        }
        for (t, &v) in taps.iter().enumerate().skip(8 * steps) {
            if let Some(d) = w.get_mut(t * LANES + j) {
                *d = v as i16;
            }
        }
    }
    true
}
