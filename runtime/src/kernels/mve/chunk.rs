//! One 16-channel chunk of a depthwise pixel: the tap loop ([`taps16`])
//! and the vector requantization ([`finish16`]), the fallback of the
//! one-`asm!` pixel (`taps::taps_asm`) and the channel multiplier's planes.

use super::IDENTITY;
use crate::kernels::dsp::lanes::TapRows;

/// Accumulators of one depthwise chunk in channel order, 16-byte aligned so
/// `VST2`/`VLDRW` may address them.
#[repr(C, align(16))]
pub struct Acc16(pub [i32; 16]);

/// Depthwise sums of channels `c0..c0 + 16` of one pixel, without bias:
/// `sum_t w[t * ws + c0 + i] * taps[t][c0 + i]` over the tap pointers of a
/// [`TapRows`] table (`len` readable bytes at
/// each). Per tap: one pointer load, two `VLDRB.S16` of input and two of
/// weights (8 lanes each), `VMULLB`/`VMULLT.S16` (the even and the odd
/// lanes' i32 products) and four `VADD` into four accumulators held in q0-q3
/// across all taps (q0/q1: even/odd channels of 0..8, q2/q3 of 8..16), which
/// `VST20`/`VST21` re-interleave into channel order at the end. The products
/// of two i8 fit i16, so the widening multiply is exact and the sums wrap
/// as the portable ones. The sums are written to `acc`; `false` (nothing
/// written) when the table is empty, lanes `c0..c0 + 16` are not inside
/// every tap, or `w` is too short.
#[inline]
pub fn taps16(
    acc: &mut Acc16,
    taps: &[*const i8],
    len: usize,
    w: &[i8],
    ws: usize,
    c0: usize,
) -> bool {
    let n = taps.len();
    let lanes_in = c0.checked_add(16).is_some_and(|end| end <= len);
    let w_in = n == 0
        || (n - 1)
            .checked_mul(ws)
            .and_then(|v| v.checked_add(c0 + 16))
            .is_some_and(|end| end <= w.len());
    if !lanes_in || !w_in || n == 0 {
        return false;
    }
    let buf = acc.0.as_mut_ptr();
    // SAFETY: every tap pointer starts `len >= c0 + 16` readable bytes (the
    // `TapRows` invariant, checked `lanes_in`), so `p + c0 .. p + c0 + 16`
    // is readable; the weight reads are `c0 + t * ws .. + 16` for `t < n`,
    // inside `w` (`w_in`); the table pointer reads `n` words of `taps`; the
    // low-overhead loop runs exactly `n >= 1` times. `VST2` writes the 64
    // bytes of `acc`, 16-byte aligned. The widening `VLDRB.S16` encodes
    // only low base registers, so the tap pointer and the weight pointer
    // are pinned to r3 and r2 (with `reg` LLVM may pick r8-r12, which the
    // assembler rejects). q0-q6 (d0-d13) are declared clobbered. MVE is
    // guaranteed by the `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "vmov.i32 q0, #0",
            "vmov.i32 q1, #0",
            "vmov.i32 q2, #0",
            "vmov.i32 q3, #0",
            "dls lr, {n}",
            "2:",
            "ldr r3, [{tab}], #4",
            "add r3, r3, {c0}",
            tap16_s16!("r3", "add r2, r2, {ws}"),
            "le lr, 2b",
            "vst20.32 {{q0, q1}}, [{buf}]",
            "vst21.32 {{q0, q1}}, [{buf}]!",
            "vst20.32 {{q2, q3}}, [{buf}]",
            "vst21.32 {{q2, q3}}, [{buf}]",
            n = in(reg) n,
            tab = inout(reg) taps.as_ptr() => _,
            c0 = in(reg) c0,
            ws = in(reg) ws,
            buf = inout(reg) buf => _,
            out("r3") _,
            inout("r2") w.as_ptr().wrapping_add(c0) => _,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            out("d6") _, out("d7") _, out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _, out("d13") _,
            options(nostack, preserves_flags),
        );
    }
    true
}

/// [`taps16`] of a [`TapRows`] table into a fresh array (the channel
/// multiplier's planes), or `None` where `taps16` declines.
#[inline(always)]
pub fn taps16_sums(taps: &TapRows<'_>, w: &[i8], ws: usize, c0: usize) -> Option<[i32; 16]> {
    let mut acc = Acc16([0; 16]);
    taps16(&mut acc, taps.ptrs(), taps.tap_len(), w, ws, c0).then_some(acc.0)
}

/// Requantizes one depthwise chunk: `out[i]` for channel `o0 + i`, `i` in
/// `0..16`, from `acc` (sums without bias) plus `bias`, four channels a
/// vector: the 16-bit multipliers widened (`VLDRH.S32`, `VSHL #16`), `VMULH`
/// then `VRSHL` by `shift + 1` (the reference's high-word
/// path `(hi + 2^(t-33)) >> (t-32)` for `t = 31 - shift` in `33..=62`,
/// `VRSHL` rounds without overflow and `|hi| < 2^30`), `+ zp + 128` clamped
/// to `0..=255`, one `VLDRB` gather from the table (or [`IDENTITY`]), one
/// narrowing `VSTRB`. `false` when a shift is outside `-31..=-2` (then `out`
/// holds garbage and the caller requantizes by the scalar path), the table
/// is neither empty nor 256 entries, or a slice is too short.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn finish16(
    acc: &Acc16,
    bias: &[u8],
    multiplier: &[u8],
    shift: &[i8],
    o0: usize,
    out_zp: i32,
    table: &[i8],
    out: &mut [i8],
) -> bool {
    let table: &[i8; 256] = if table.is_empty() {
        &IDENTITY
    } else if let Ok(t) = table.try_into() {
        t
    } else {
        return false;
    };
    let span = |v: &[u8], size: usize| {
        o0.checked_add(16)
            .and_then(|e| e.checked_mul(size))
            .is_some_and(|e| e <= v.len())
    };
    let bytes_in = o0.checked_add(16).is_some_and(|e| e <= shift.len());
    let m = multiplier.as_ptr().wrapping_add(2 * o0);
    if !span(bias, 4) || !span(multiplier, 2) || !bytes_in || out.len() < 16 || m as usize % 2 != 0
    {
        return false;
    }
    let (mut lo, mut hi) = (0i32, -31i32);
    // SAFETY: reads 64 bytes of `acc` (16-byte aligned, `VLDRW`),
    // `4 * o0 .. 4 * o0 + 64` of `bias` (`VLDRB` needs no alignment),
    // `2 * o0 .. 2 * o0 + 32` of `multiplier` (checked by `span`; 2-byte
    // aligned for `VLDRH`, checked, and codegen aligns every span) and
    // `o0 .. o0 + 16` of `shift` (checked by `bytes_in`), gathers `table + i`
    // with every index clamped to `0..=255` first (a 256-byte table), and
    // writes the 16 bytes of `out` (checked). The widening `VLDRH.S32` and
    // `VLDRB.S32` and the narrowing `VSTRB.32` encode only a low base
    // register: the multipliers', shifts' and output's pointers are pinned
    // to r1, r3 and r2 (left to LLVM, `out` got a high register once callers
    // changed, and the assembler rejected it). q0-q4 (d0-d9) are declared
    // clobbered.
    // MVE is guaranteed by the `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "vmov.i32 q2, #0",
            "vmov.i32 q3, #255",
            "vmov.i32 q4, #1",
            "dls lr, lr",
            "2:",
            "vldrw.u32 q0, [{acc}], #16",
            "vldrb.u8 q1, [{b}], #16",
            "vadd.i32 q0, q0, q1",
            "vldrh.s32 q1, [r1], #8",
            "vshl.i32 q1, q1, #16",
            "vmulh.s32 q0, q0, q1",
            "vldrb.s32 q1, [r3], #4",
            "vminv.s32 {lo}, q1",
            "vmaxv.s32 {hi}, q1",
            "vadd.i32 q1, q1, q4",
            "vrshl.s32 q0, q0, q1",
            "vadd.i32 q0, q0, {zp}",
            "vmax.s32 q0, q0, q2",
            "vmin.s32 q0, q0, q3",
            "vldrb.u32 q1, [{table}, q0]",
            "vstrb.32 q1, [r2], #4",
            "le lr, 2b",
            acc = inout(reg) acc.0.as_ptr() => _,
            b = inout(reg) bias.as_ptr().wrapping_add(4 * o0) => _,
            inout("r1") m => _,
            inout("r3") shift.as_ptr().wrapping_add(o0) => _,
            lo = inout(reg) lo,
            hi = inout(reg) hi,
            zp = in(reg) out_zp + 128,
            table = in(reg) table.as_ptr(),
            inout("r2") out.as_mut_ptr() => _,
            inout("lr") 4u32 => _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            out("d4") _, out("d5") _, out("d6") _, out("d7") _, out("d8") _, out("d9") _,
            options(nostack, preserves_flags),
        );
    }
    lo >= -31 && hi <= -2
}
