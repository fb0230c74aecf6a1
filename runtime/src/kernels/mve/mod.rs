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

pub use super::portable::{dot1, dot4, prepare_px4, Px4, StackTile, TILE_WORDS_PER_CIN};

use super::depthwise::{bias, finish};
use super::dsp::lanes::TapRows;
use super::window::WindowArgs;

/// Output channels per [`dot_rows_px4`] tile.
pub const ROWS: usize = 1;

/// Same contract as [`super::portable::dot_px4`].
#[inline]
pub fn dot_px4(p: &Px4<'_>, w: &[i8]) -> [i32; 4] {
    let [x0, x1, x2, x3] = p.rows();
    let cin = x0.len();
    let mut a = [0i32; 4];
    let Some(w) = w.get(..cin) else {
        return a;
    };
    let (x1, x2, x3) = (&x1[..cin], &x2[..cin], &x3[..cin]);
    let steps = cin / 16;
    if steps > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = a;
        // SAFETY: reads `16 * steps <= cin` bytes from each of the five
        // pointers (`w` and the four pixels hold `cin` each; VLDRB needs no
        // alignment); the low-overhead loop runs exactly `steps >= 1` times.
        // The accumulators sit in even registers as VMLADAV requires; q0 and
        // q1 (d0-d3) are declared clobbered. MVE is guaranteed by the
        // `fastvit_mve` cfg.
        unsafe {
            core::arch::asm!(
                "dls lr, {n}",
                "2:",
                "vldrb.u8 q0, [{wp}], #16",
                "vldrb.u8 q1, [{p0}], #16",
                "vmladava.s8 r0, q0, q1",
                "vldrb.u8 q1, [{p1}], #16",
                "vmladava.s8 r2, q0, q1",
                "vldrb.u8 q1, [{p2}], #16",
                "vmladava.s8 r4, q0, q1",
                "vldrb.u8 q1, [{p3}], #16",
                "vmladava.s8 r8, q0, q1",
                "le lr, 2b",
                n = in(reg) steps,
                wp = inout(reg) w.as_ptr() => _,
                p0 = inout(reg) x0.as_ptr() => _,
                p1 = inout(reg) x1.as_ptr() => _,
                p2 = inout(reg) x2.as_ptr() => _,
                p3 = inout(reg) x3.as_ptr() => _,
                inout("r0") a0,
                inout("r2") a1,
                inout("r4") a2,
                inout("r8") a3,
                out("lr") _,
                out("d0") _,
                out("d1") _,
                out("d2") _,
                out("d3") _,
                options(readonly, nostack, preserves_flags),
            );
        }
        a = [a0, a1, a2, a3];
    }
    let body = 16 * steps;
    for (i, &wv) in w.iter().enumerate().skip(body) {
        let wv = wv as i32;
        for (acc, x) in a.iter_mut().zip([x0, x1, x2, x3]) {
            if let Some(&xv) = x.get(i) {
                *acc = acc.wrapping_add(wv.wrapping_mul(xv as i32));
            }
        }
    }
    a
}

/// [`dot_px4`] for one row, in the tile shape the NEON tier widens.
#[inline]
pub fn dot_rows_px4(p: &Px4<'_>, rows: &[i8]) -> [[i32; 4]; ROWS] {
    [dot_px4(p, rows)]
}

/// `table[i] = i - 128`: the table of a layer without one, so the vector
/// requantization always ends in one gather.
static IDENTITY: [i8; 256] = {
    let mut t = [0i8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as i32 - 128) as i8;
        i += 1;
    }
    t
};

/// Requantizes one output channel's four tile outputs in one vector and
/// scatters them to `out[p * cout + o]`, `p` in `0..4`: `bias + dot`,
/// `VMULH` (the high word of the 64-bit product, floored) then `VRSHL` by
/// `-s` (adds `2^(s-1)`, shifts by `s`), or `VRMULH` for `s = 0`: the
/// reference's `floor((acc * m + 2^(t-1)) / 2^t)` for `t = 32 + s`, exactly
/// (nested floors of divisions by powers of two are one floor, and the
/// reference's i32 saturation never engages for `t >= 32`); then `+ zp +
/// 128`, clamped to `0..=255`, is the index of the table (or of
/// [`IDENTITY`]) read by one `VLDRB` gather, stored by one `VSTRB` scatter.
/// `false` (nothing written) for `t < 32` or an `out` too short: the caller
/// then takes the scalar path.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn finish_px4(
    dots: [i32; 4],
    bias: i32,
    multiplier: i32,
    shift: i32,
    out_zp: i32,
    lut: Option<&[i8; 256]>,
    out: &mut [i8],
    o: usize,
    cout: usize,
) -> bool {
    let t = (31 - shift).clamp(1, 62);
    if t < 32 || o >= cout || out.len() < 3 * cout + o + 1 {
        return false;
    }
    let s = t - 32;
    let table = lut.unwrap_or(&IDENTITY).as_ptr();
    let base = out.as_mut_ptr().wrapping_add(o);
    let [d0, d1, d2, d3] = dots;
    let zp128 = out_zp + 128;
    // SAFETY: the scatter writes `base + p * cout` for `p` in `0..4`, all
    // inside `out` (`o < cout`, `out.len() > 3 * cout + o`); the gather reads
    // `table + i` with every index clamped to `0..=255` first, inside the
    // 256-byte table. q0-q2 (d0-d5) are declared clobbered. MVE is
    // guaranteed by the `fastvit_mve` cfg.
    unsafe {
        if s == 0 {
            core::arch::asm!(
                "vmov q0[2], q0[0], {d0}, {d2}",
                "vmov q0[3], q0[1], {d1}, {d3}",
                "vadd.i32 q0, q0, {bias}",
                "vdup.32 q1, {m}",
                "vrmulh.s32 q0, q0, q1",
                "vadd.i32 q0, q0, {zp}",
                "vmov.i32 q1, #0",
                "vmax.s32 q0, q0, q1",
                "vmov.i32 q1, #255",
                "vmin.s32 q0, q0, q1",
                "vldrb.u32 q1, [{table}, q0]",
                "vidup.u32 q2, r0, #1",
                "vmul.i32 q2, q2, {cout}",
                "vstrb.32 q1, [{base}, q2]",
                d0 = in(reg) d0, d1 = in(reg) d1, d2 = in(reg) d2, d3 = in(reg) d3,
                bias = in(reg) bias, m = in(reg) multiplier, zp = in(reg) zp128,
                table = in(reg) table, base = in(reg) base, cout = in(reg) cout,
                inout("r0") 0u32 => _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
                options(nostack, preserves_flags),
            );
        } else {
            core::arch::asm!(
                "vmov q0[2], q0[0], {d0}, {d2}",
                "vmov q0[3], q0[1], {d1}, {d3}",
                "vadd.i32 q0, q0, {bias}",
                "vdup.32 q1, {m}",
                "vmulh.s32 q0, q0, q1",
                "vrshl.s32 q0, {neg}",
                "vadd.i32 q0, q0, {zp}",
                "vmov.i32 q1, #0",
                "vmax.s32 q0, q0, q1",
                "vmov.i32 q1, #255",
                "vmin.s32 q0, q0, q1",
                "vldrb.u32 q1, [{table}, q0]",
                "vidup.u32 q2, r0, #1",
                "vmul.i32 q2, q2, {cout}",
                "vstrb.32 q1, [{base}, q2]",
                d0 = in(reg) d0, d1 = in(reg) d1, d2 = in(reg) d2, d3 = in(reg) d3,
                bias = in(reg) bias, m = in(reg) multiplier, zp = in(reg) zp128,
                neg = in(reg) -s, table = in(reg) table, base = in(reg) base,
                cout = in(reg) cout, inout("r0") 0u32 => _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
                options(nostack, preserves_flags),
            );
        }
    }
    true
}

/// Accumulators of one depthwise chunk in channel order, 16-byte aligned so
/// `VST2`/`VLDRW` may address them.
#[repr(C, align(16))]
pub struct Acc16(pub [i32; 16]);

/// Depthwise sums of channels `c0..c0 + 16` of one pixel, without bias:
/// `sum_t w[t * ws + c0 + i] * taps[t][c0 + i]` over the tap pointers of a
/// [`TapRows`](super::dsp::lanes::TapRows) table (`len` readable bytes at
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
            "vldrb.s16 q4, [r3]",
            "vldrb.s16 q5, [r2]",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q0, q0, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q1, q1, q6",
            "vldrb.s16 q4, [r3, #8]",
            "vldrb.s16 q5, [r2, #8]",
            "add r2, r2, {ws}",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q2, q2, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q3, q3, q6",
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

/// What [`depthwise_taps16`]'s `asm!` reads, by offset: one pointer to
/// this instead of ten registers.
#[repr(C)]
struct PixelArgs {
    taps: *mut *const i8,
    n: usize,
    weights: *const i8,
    bias: *const u8,
    multiplier: *const u8,
    shift: *const i8,
    out: *mut i8,
    table: *const i8,
    out_zp: i32,
    end: usize,
    step: usize,
    out_step: usize,
    count: usize,
}

/// The 16-channel part of `depthwise::pixel_by_taps`: channels `0..c / 16 *
/// 16` of the pixel whose taps are `taps` by [`taps_asm`], or where it
/// declines chunk by chunk by [`taps16`] and [`finish16`] (the scalar
/// `finish` for shifts outside `-31..=-2`). The channels done, or `None`
/// (the caller takes the window path) if `taps16` declines.
#[inline(always)]
pub fn depthwise_taps16(a: &WindowArgs<'_>, taps: &TapRows<'_>, out: &mut [i8]) -> Option<usize> {
    let mut ptrs = [core::ptr::null(); 49];
    let n = taps.ptrs().len().min(ptrs.len());
    ptrs[..n].copy_from_slice(&taps.ptrs()[..n]);
    // SAFETY: each table pointer starts `tap_len()` readable bytes (the
    // `TapRows` invariant); one pixel.
    if let Some(done) = unsafe { taps_asm::<1>(a, &mut ptrs[..n], taps.tap_len(), 0, out, (1, 0)) }
    {
        return Some(done);
    }
    let (c, ch) = (a.geometry.cin, &a.channels);
    let mut c0 = 0;
    let mut acc = Acc16([0; 16]);
    while c0 + 16 <= c {
        if !taps16(&mut acc, taps.ptrs(), taps.tap_len(), ch.weights, c, c0) {
            return None;
        }
        let o = out.get_mut(c0..c0 + 16)?;
        let (b, m, sh) = (
            ch.folded_bias.0,
            ch.requant.multiplier.0,
            ch.requant.shift.0,
        );
        if !finish16(&acc, b, m, sh, c0, ch.out_zp, ch.lut, o) {
            let mut sums = bias::<16>(ch.folded_bias, c0, 1);
            for (s, v) in sums.iter_mut().zip(acc.0) {
                *s = s.wrapping_add(v);
            }
            finish(&sums, ch, c0, 1, o);
        }
        c0 += 16;
    }
    Some(c0)
}

/// `depthwise::depthwise_pixel` on Helium for 3x3 and 7x7 kernels and
/// channels a multiple of 16 (every FastViT depthwise layer): the tap
/// table built straight from the `K` input rows (one `row` call and one
/// length check per kernel row; `TapRows::push` and its checks cost ~21
/// instructions a tap, as much as the tap's 16-channel MACs), then
/// [`taps_asm`]. `false` (the caller takes `pixel_by_taps`, which rewrites
/// the pixel) for other shapes, short rows or padding, or where
/// [`taps_asm`] declines.
#[inline(always)]
pub fn depthwise_pixel16<'s>(
    a: &WindowArgs<'_>,
    oy: usize,
    ox: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> bool {
    pixel16::<1>(a, oy, ox, row, out)
}

/// The unpadded pixels of output row `y` of a 3x3 or 7x7 depthwise conv
/// (channels a multiple of 16) in one [`taps_asm`] call: the tap table of
/// the first, advanced by `stride * cin` bytes in the asm per pixel, so the
/// per-pixel Rust of [`depthwise_pixel16`] (~300 instructions: the rows,
/// the table, the checks) is paid once a row. `out_row` holds the row's
/// `w_out * cin` outputs. Returns the pixels written (empty when declined:
/// the caller computes them all, overwriting any garbage).
#[inline(always)]
pub fn depthwise_row16<'s>(
    a: &WindowArgs<'_>,
    y: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out_row: &mut [i8],
) -> core::ops::Range<usize> {
    let g = &a.geometry;
    let c = g.cin;
    if c == 0 || c % 16 != 0 || g.stride == 0 {
        return 0..0;
    }
    match g.kernel {
        3 => row_k::<3>(a, y, row, out_row),
        7 => row_k::<7>(a, y, row, out_row),
        _ => 0..0,
    }
}

/// [`depthwise_row16`] for a `K x K` kernel.
#[inline(always)]
fn row_k<'s, const K: usize>(
    a: &WindowArgs<'_>,
    y: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out_row: &mut [i8],
) -> core::ops::Range<usize> {
    let g = &a.geometry;
    let (c, s, p) = (g.cin, g.stride, g.pad);
    let iy0 = (y * s).wrapping_sub(p);
    if !(iy0 < g.h && iy0 + K <= g.h) || g.w + p < K {
        return 0..0;
    }
    // Pixels `x` with `x * s >= p` and `x * s - p + K <= w`.
    let lo = p.div_ceil(s);
    let hi = ((g.w + p - K) / s + 1).min(out_row.len() / c);
    if lo >= hi {
        return 0..0;
    }
    let row_len = g.w * c;
    let mut ok = true;
    let ix0 = lo * s - p;
    let mut table: [[*const i8; K]; K] = core::array::from_fn(|ky| {
        let r = row(iy0 + ky);
        ok &= r.len() >= row_len;
        let at = r.as_ptr().wrapping_add(ix0 * c);
        core::array::from_fn(|kx| at.wrapping_add(kx * c))
    });
    let Some(out) = out_row.get_mut(lo * c..) else {
        return 0..0;
    };
    // SAFETY (with `ok`): pixel `x` in `lo..hi` reads input pixels
    // `x * s - p + kx < w` (`hi` bounds them) of rows of at least `w * c`
    // bytes borrowed for this call: the table of pixel `lo`, advanced by
    // `(x - lo) * s * c` bytes.
    let run = (hi - lo, s * c);
    let done =
        ok && unsafe { taps_asm::<1>(a, table.as_flattened_mut(), c, 0, out, run) }.is_some();
    if done {
        lo..hi
    } else {
        0..0
    }
}

/// [`depthwise_pixel16`] for the x2 channel-multiplier conv
/// (`multiplier::pixel`; `[k][k][m][cin]` weights, so plane `j` is a
/// depthwise conv at tap stride `2 * cin` from `j * cin` on, written to
/// output channels `2 * c + j`). `false` for other multipliers.
#[inline(always)]
pub fn multiplier_pixel16<'s>(
    a: &WindowArgs<'_>,
    oy: usize,
    ox: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> bool {
    a.geometry.multiplier() == 2 && pixel16::<2>(a, oy, ox, row, out)
}

/// [`depthwise_pixel16`] with `M` planes.
#[inline(always)]
fn pixel16<'s, const M: usize>(
    a: &WindowArgs<'_>,
    oy: usize,
    ox: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> bool {
    let c = a.geometry.cin;
    if c == 0 || c % 16 != 0 {
        return false;
    }
    match a.geometry.kernel {
        3 => pixel_k::<3, M>(a, oy, ox, row, out),
        7 => pixel_k::<7, M>(a, oy, ox, row, out),
        _ => false,
    }
}

/// [`pixel16`] for a `K x K` kernel.
#[inline(always)]
fn pixel_k<'s, const K: usize, const M: usize>(
    a: &WindowArgs<'_>,
    oy: usize,
    ox: usize,
    row: &impl Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> bool {
    let g = &a.geometry;
    let c = g.cin;
    let iy0 = (oy * g.stride).wrapping_sub(g.pad);
    let ix0 = (ox * g.stride).wrapping_sub(g.pad);
    let inside = |i0: usize, n: usize| i0 < n && i0 + K <= n;
    let row_len = g.w * c;
    let mut ok = true;
    let mut table: [[*const i8; K]; K] = if inside(iy0, g.h) && inside(ix0, g.w) {
        // No padded tap (most pixels): two instructions a tap.
        core::array::from_fn(|ky| {
            let r = row(iy0.wrapping_add(ky));
            ok &= r.len() >= row_len;
            let at = r.as_ptr().wrapping_add(ix0 * c);
            core::array::from_fn(|kx| at.wrapping_add(kx * c))
        })
    } else {
        let zp_row: [i8; PAD_ROW];
        let pad: &[i8] = if !a.pad_values.is_empty() {
            a.pad_values
        } else if c <= PAD_ROW {
            zp_row = [a.in_zp as i8; PAD_ROW];
            &zp_row
        } else {
            return false;
        };
        let mut table: [[*const i8; K]; K] = core::array::from_fn(|ky| {
            let iy = iy0.wrapping_add(ky);
            let r = if iy < g.h { row(iy) } else { &[] };
            let row_in = iy < g.h && r.len() >= row_len;
            ok &= iy >= g.h || row_in;
            core::array::from_fn(|kx| {
                let ix = ix0.wrapping_add(kx);
                if row_in && ix < g.w {
                    r.as_ptr().wrapping_add(ix * c)
                } else {
                    ok &= pad.len() >= c;
                    pad.as_ptr()
                }
            })
        });
        // SAFETY (with `ok`): every pointer starts `c` readable bytes, an
        // in-bounds pixel `ix < w` of a row of at least `w * c` bytes or
        // the padding (`c` bytes or more), both borrowed for this call.
        return ok && unsafe { run_planes::<M>(a, table.as_flattened_mut(), out) };
    };
    // SAFETY (with `ok`): every pointer is pixel `ix0 + kx < w` (`inside`)
    // of a row of at least `w * c` bytes, borrowed for this call.
    ok && unsafe { run_planes::<M>(a, table.as_flattened_mut(), out) }
}

/// The `M` planes of one pixel through [`taps_asm`].
///
/// # Safety
///
/// Each of `ptrs` must start `cin` readable bytes.
#[inline(always)]
unsafe fn run_planes<const M: usize>(
    a: &WindowArgs<'_>,
    ptrs: &mut [*const i8],
    out: &mut [i8],
) -> bool {
    let c = a.geometry.cin;
    // SAFETY: the caller's contract.
    (0..M).all(|j| unsafe { taps_asm::<M>(a, ptrs, c, j, out, (1, 0)) }.is_some())
}

/// Widest channel count whose zero-point padding row [`depthwise_pixel16`]
/// keeps on the stack, as `depthwise::pixel_by_taps`.
const PAD_ROW: usize = 512;

/// Channels `0..c / 16 * 16` of one depthwise pixel from its tap pointers
/// (`ptrs`, each starting `len` readable bytes), every chunk in one `asm!`
/// (the per-chunk Rust of [`taps16`] + [`finish16`] cost ~120 instructions
/// a chunk, as much as the requantization). Per chunk the tap loop of
/// [`taps16`], then the sums requantized where they are, four lanes a
/// vector: the even and odd channels' lanes (`VMULLB`/`VMULLT`) address
/// their bias, multiplier, shift and output by one vector of channel
/// indices (`VIDUP` by 2; gathers scaled by the element size, one scatter),
/// requantized as in [`tile_px4`] (`VMULH`, `VRSHL` by `shift + 1`, `+ zp`,
/// `VQSHL #24` + `VSHR #24`, gather from the table's middle). The channels
/// done, or `None` (the caller takes the window path, which rewrites the
/// pixel) if lanes or weights are out of reach, the bias is not 4-byte
/// aligned, the table is neither empty nor 256 bytes, or a shift is outside
/// `-31..=-2`.
///
/// `(count, step)`: `count >= 1` pixels of a row, the taps of each `step`
/// bytes after the previous one's (the table is advanced in place after
/// each pixel but the last) and its outputs `M * cin` bytes after.
///
/// # Safety
///
/// Each of `ptrs`, advanced by `i * step` for every `i < count`, must start
/// `len` readable bytes.
#[inline(always)]
unsafe fn taps_asm<const M: usize>(
    a: &WindowArgs<'_>,
    ptrs: &mut [*const i8],
    len: usize,
    j: usize,
    out: &mut [i8],
    (count, step): (usize, usize),
) -> Option<usize> {
    let (c, ch) = (a.geometry.cin, &a.channels);
    let end = c / 16 * 16;
    if end == 0 {
        return Some(0);
    }
    let n = ptrs.len();
    let table: &[i8; 256] = if ch.lut.is_empty() {
        &IDENTITY
    } else {
        ch.lut.try_into().ok()?
    };
    let (bias, mult, shift) = (
        ch.folded_bias.0,
        ch.requant.multiplier.0,
        ch.requant.shift.0,
    );
    // Plane `j`'s weights start at `j * c`, tap stride `M * c`; its output
    // channels are `M * i + j`, the last `last`.
    let ws = M * c;
    let weights_in = (n.checked_sub(1)?)
        .checked_mul(ws)
        .and_then(|v| v.checked_add(j * c + end))
        .is_some_and(|e| e <= ch.weights.len());
    // The last output byte written, of the last pixel.
    let out_step = M * c;
    let last = (count.checked_sub(1)?)
        .checked_mul(out_step)?
        .checked_add(M * (end - 1) + j)?;
    let one = M * (end - 1) + j;
    if len < end
        || j >= M
        || !weights_in
        || bias.len() <= 4 * one + 3
        || mult.len() <= 2 * one + 1
        || shift.len() <= one
        || out.len() <= last
        || bias.as_ptr() as usize % 4 != 0
        || mult.as_ptr() as usize % 2 != 0
    {
        return None;
    }
    let mut args = PixelArgs {
        taps: ptrs.as_mut_ptr(),
        n,
        weights: ch.weights.as_ptr().wrapping_add(j * c),
        bias: bias.as_ptr().wrapping_add(4 * j),
        multiplier: mult.as_ptr().wrapping_add(2 * j),
        shift: shift.as_ptr().wrapping_add(j),
        out: out.as_mut_ptr().wrapping_add(j),
        table: table.as_ptr().wrapping_add(128),
        out_zp: ch.out_zp,
        end,
        step,
        out_step,
        count,
    };
    let hi: u32;
    // SAFETY: for each chunk `c0` in `0, 16, .., end - 16` the tap loop
    // reads `p + c0 .. p + c0 + 16` for each of the `n >= 1` tap pointers
    // (each starts `len >= end` readable bytes, the caller's contract) and
    // `weights + j * c + t * ws + c0 .. + 16` for `t < n` (inside `weights`,
    // checked by `weights_in`); the finish gathers, for output channels
    // `o = M * i + j`, `i < end` (all `<= one`), bias words (4-byte
    // aligned, checked), multiplier halfwords (2-byte aligned, checked) and
    // shift bytes (all checked to reach `one`), the table at its middle
    // with offsets clamped to `-128..=127` (256 bytes), and scatters
    // `out[p * out_step + o]` for pixel `p < count` (`out` reaches `last`,
    // checked). Between pixels it adds `step` to each of the `n` table
    // words (`ptrs`, exclusively borrowed; the caller's contract covers
    // every pixel's taps) and `out_step` to `args.out`. `args` lives across
    // the call. Taps go in pairs (`LDRD` of two table words, 4-byte aligned),
    // then one more for an odd count. The widening `VLDRB.S16` encodes
    // only low base registers (r0, r2, r3), `VIDUP` an even one (lr); the
    // arguments' pointer is in r11. q0-q7 are declared clobbered, and the
    // flags. MVE is guaranteed by the `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "vmov.i32 q7, #31",
            "0:",
            "movs r1, #0",
            "1:",
            "ldr r4, [r11]",
            "ldr lr, [r11, #4]",
            "ldr r2, [r11, #8]",
            "add r2, r1",
            "vmov.i32 q0, #0",
            "vmov.i32 q1, #0",
            "vmov.i32 q2, #0",
            "vmov.i32 q3, #0",
            "lsrs lr, lr, #1",
            "wls lr, lr, 3f",
            "2:",
            "ldrd r3, r0, [r4], #8",
            "add r3, r1",
            "add r0, r1",
            "vldrb.s16 q4, [r3]",
            "vldrb.s16 q5, [r2]",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q0, q0, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q1, q1, q6",
            "vldrb.s16 q4, [r3, #8]",
            "vldrb.s16 q5, [r2, #8]",
            "add r2, r5",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q2, q2, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q3, q3, q6",
            "vldrb.s16 q4, [r0]",
            "vldrb.s16 q5, [r2]",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q0, q0, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q1, q1, q6",
            "vldrb.s16 q4, [r0, #8]",
            "vldrb.s16 q5, [r2, #8]",
            "add r2, r5",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q2, q2, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q3, q3, q6",
            "le lr, 2b",
            "3:",
            "ldr lr, [r11, #4]",
            "tst lr, #1",
            "beq 4f",
            "ldr r3, [r4]",
            "add r3, r1",
            "vldrb.s16 q4, [r3]",
            "vldrb.s16 q5, [r2]",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q0, q0, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q1, q1, q6",
            "vldrb.s16 q4, [r3, #8]",
            "vldrb.s16 q5, [r2, #8]",
            "add r2, r5",
            "vmullb.s16 q6, q4, q5",
            "vadd.i32 q2, q2, q6",
            "vmullt.s16 q6, q4, q5",
            "vadd.i32 q3, q3, q6",
            "4:",
            "ldrd r2, r3, [r11, #12]",
            "ldr r4, [r11, #20]",
            "ldr r0, [r11, #24]",
            "ldrd r8, r10, [r11, #28]",
            "vmov.i32 q6, #30",
            "lsl lr, r1, #{sh}",
            "vidup.u32 q4, lr, #{step}",
            "vldrw.u32 q5, [r2, q4, uxtw #2]",
            "vadd.i32 q0, q0, q5",
            "vldrh.s32 q5, [r3, q4, uxtw #1]",
            "vshl.i32 q5, q5, #16",
            "vmulh.s32 q0, q0, q5",
            "vldrb.s32 q5, [r4, q4]",
            "vadd.i32 q5, q5, q7",
            "vmaxv.u32 r12, q5",
            "vsub.i32 q5, q5, q6",
            "vrshl.s32 q0, q0, q5",
            "vadd.i32 q0, q0, r10",
            "vqshl.s32 q0, q0, #24",
            "vshr.s32 q0, q0, #24",
            "vldrb.u32 q5, [r8, q0]",
            "vstrb.32 q5, [r0, q4]",
            "vidup.u32 q4, lr, #{step}",
            "vldrw.u32 q5, [r2, q4, uxtw #2]",
            "vadd.i32 q2, q2, q5",
            "vldrh.s32 q5, [r3, q4, uxtw #1]",
            "vshl.i32 q5, q5, #16",
            "vmulh.s32 q2, q2, q5",
            "vldrb.s32 q5, [r4, q4]",
            "vadd.i32 q5, q5, q7",
            "vmaxv.u32 r12, q5",
            "vsub.i32 q5, q5, q6",
            "vrshl.s32 q2, q2, q5",
            "vadd.i32 q2, q2, r10",
            "vqshl.s32 q2, q2, #24",
            "vshr.s32 q2, q2, #24",
            "vldrb.u32 q5, [r8, q2]",
            "vstrb.32 q5, [r0, q4]",
            "sub lr, lr, #{odd}",
            "vidup.u32 q4, lr, #{step}",
            "vldrw.u32 q5, [r2, q4, uxtw #2]",
            "vadd.i32 q1, q1, q5",
            "vldrh.s32 q5, [r3, q4, uxtw #1]",
            "vshl.i32 q5, q5, #16",
            "vmulh.s32 q1, q1, q5",
            "vldrb.s32 q5, [r4, q4]",
            "vadd.i32 q5, q5, q7",
            "vmaxv.u32 r12, q5",
            "vsub.i32 q5, q5, q6",
            "vrshl.s32 q1, q1, q5",
            "vadd.i32 q1, q1, r10",
            "vqshl.s32 q1, q1, #24",
            "vshr.s32 q1, q1, #24",
            "vldrb.u32 q5, [r8, q1]",
            "vstrb.32 q5, [r0, q4]",
            "vidup.u32 q4, lr, #{step}",
            "vldrw.u32 q5, [r2, q4, uxtw #2]",
            "vadd.i32 q3, q3, q5",
            "vldrh.s32 q5, [r3, q4, uxtw #1]",
            "vshl.i32 q5, q5, #16",
            "vmulh.s32 q3, q3, q5",
            "vldrb.s32 q5, [r4, q4]",
            "vadd.i32 q5, q5, q7",
            "vmaxv.u32 r12, q5",
            "vsub.i32 q5, q5, q6",
            "vrshl.s32 q3, q3, q5",
            "vadd.i32 q3, q3, r10",
            "vqshl.s32 q3, q3, #24",
            "vshr.s32 q3, q3, #24",
            "vldrb.u32 q5, [r8, q3]",
            "vstrb.32 q5, [r0, q4]",
            "adds r1, #16",
            "ldr r2, [r11, #36]",
            "cmp r1, r2",
            "blo 1b",
            "ldr r3, [r11, #48]",
            "subs r3, #1",
            "beq 6f",
            "str r3, [r11, #48]",
            "ldr r4, [r11]",
            "ldr lr, [r11, #4]",
            "ldr r2, [r11, #40]",
            "5:",
            "ldr r3, [r4]",
            "add r3, r2",
            "str r3, [r4], #4",
            "subs lr, #1",
            "bne 5b",
            "ldr r3, [r11, #24]",
            "ldr r2, [r11, #44]",
            "add r3, r2",
            "str r3, [r11, #24]",
            "b 0b",
            "6:",
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            in("r5") ws,
            sh = const M.trailing_zeros(),
            step = const 2 * M,
            odd = const 15 * M,
            out("r8") _,
            out("r10") _,
            in("r11") &mut args as *mut PixelArgs,
            inout("r12") 0u32 => hi,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            out("d4") _, out("d5") _, out("d6") _, out("d7") _,
            out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _, out("d13") _, out("d14") _, out("d15") _,
            options(nostack),
        );
    }
    // Some shift + 31 outside 0..=29: the caller redoes the pixel.
    (hi <= 29).then_some(end)
}

/// Output channels per [`tile_px4`] block: the sums of a block are parked
/// in a 512-byte stack buffer, 128 bytes a pixel.
const BLOCK: usize = 32;

/// A 1x1 tile of four pixels (`x`: `4 * cin`, pixel-major) for output
/// channels `0..done`, written to `out[p * cout + o]`; returns `done`, a
/// multiple of 4 (0 when declined), and the caller computes channels
/// `done..cout` by [`dot_px4`] and [`finish_px4`]. Blocks of up to
/// [`BLOCK`] channels in two `asm!` loops, so no Rust runs per channel:
/// the sums of every channel (the first 16 inputs by `VMLADAV`, which
/// zeroes the four accumulators, then `VMLADAVA` as in [`dot_px4`], the
/// four pixel pointers rewound per channel) parked pixel-major, then four
/// channels x four pixels a step requantized as in [`finish16`] (one load
/// each of four biases, multipliers and shifts for four pixels), clamped
/// by `VQSHL #24` + `VSHR #24` and gathered from the table's middle. Only
/// for `cin` a multiple of 16; a block with a shift outside `-31..=-2`
/// ends the run (its bytes are rewritten by the caller).
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn tile_px4(
    x: &[i8],
    cin: usize,
    cout: usize,
    weights: &[i8],
    bias: &[u8],
    multiplier: &[u8],
    shift: &[i8],
    out_zp: i32,
    lut: Option<&[i8; 256]>,
    out: &mut [i8],
) -> usize {
    let steps = cin / 16;
    let fits = |v: usize, n: usize| cout.checked_mul(n).is_some_and(|e| e <= v);
    if steps == 0
        || cin % 16 != 0
        || x.len() < 4 * cin
        || !fits(weights.len(), cin)
        || !fits(bias.len(), 4)
        || !fits(multiplier.len(), 2)
        || !fits(shift.len(), 1)
        || !fits(out.len(), 4)
        || multiplier.as_ptr() as usize % 2 != 0
    {
        return 0;
    }
    let table = lut.unwrap_or(&IDENTITY).as_ptr().wrapping_add(128);
    // Uninitialized: the first loop writes every sum the second reads
    // (zeroing the 512 bytes cost ~200 instructions a call).
    let mut sums = core::mem::MaybeUninit::<Acc16Block>::uninit();
    let buf = sums.as_mut_ptr().cast::<i32>();
    let xp = x.as_ptr();
    let (x1, x2, x3) = (
        xp.wrapping_add(cin),
        xp.wrapping_add(2 * cin),
        xp.wrapping_add(3 * cin),
    );
    let op = out.as_mut_ptr();
    let mut o0 = 0;
    while o0 + 4 <= cout {
        let nb = (cout - o0).min(BLOCK) & !3;
        // SAFETY: for each of the `nb >= 4` channels `o0..o0 + nb` the
        // loop reads `cin` bytes of its weight row (inside `weights`,
        // `cout * cin` long, checked) and `cin` bytes at each of the four
        // pixel pointers (inside `x`, `4 * cin` long, checked), rewinding
        // the pixel pointers by `16 * steps = cin` after each channel; the
        // first step is peeled and `WLS` skips the loop for `steps == 1`.
        // It writes `sums[p * 32 + j]` for `p < 4`, `j < nb <= 32` (the
        // 512-byte buffer). q0, q1 and q7 (s28-s30 hold the loop state)
        // are declared clobbered, and the flags (no `preserves_flags`).
        // MVE is guaranteed by the `fastvit_mve` cfg.
        unsafe {
            core::arch::asm!(
                "vmov s28, r0",
                "vmov s29, r2",
                "vmov s30, r4",
                "3:",
                "vldrb.u8 q0, [{w}], #16",
                "vldrb.u8 q1, [{x0}], #16",
                "vmladav.s8 r0, q0, q1",
                "vldrb.u8 q1, [{x1}], #16",
                "vmladav.s8 r2, q0, q1",
                "vldrb.u8 q1, [{x2}], #16",
                "vmladav.s8 r4, q0, q1",
                "vldrb.u8 q1, [{x3}], #16",
                "vmladav.s8 r8, q0, q1",
                "vmov lr, s28",
                "wls lr, lr, 5f",
                "4:",
                "vldrb.u8 q0, [{w}], #16",
                "vldrb.u8 q1, [{x0}], #16",
                "vmladava.s8 r0, q0, q1",
                "vldrb.u8 q1, [{x1}], #16",
                "vmladava.s8 r2, q0, q1",
                "vldrb.u8 q1, [{x2}], #16",
                "vmladava.s8 r4, q0, q1",
                "vldrb.u8 q1, [{x3}], #16",
                "vmladava.s8 r8, q0, q1",
                "le lr, 4b",
                "5:",
                "str r2, [{buf}, #128]",
                "str r4, [{buf}, #256]",
                "str r8, [{buf}, #384]",
                "str r0, [{buf}], #4",
                "vmov r12, s29",
                "sub {x0}, {x0}, r12",
                "sub {x1}, {x1}, r12",
                "sub {x2}, {x2}, r12",
                "sub {x3}, {x3}, r12",
                "vmov r12, s30",
                "cmp {buf}, r12",
                "bne 3b",
                w = inout(reg) weights.as_ptr().wrapping_add(o0 * cin) => _,
                x0 = inout(reg) xp => _,
                x1 = inout(reg) x1 => _,
                x2 = inout(reg) x2 => _,
                x3 = inout(reg) x3 => _,
                buf = inout(reg) buf => _,
                inout("r0") steps - 1 => _,
                inout("r2") 16 * steps => _,
                inout("r4") buf.wrapping_add(nb) => _,
                out("r8") _,
                out("r12") _,
                out("lr") _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _,
                out("d14") _, out("d15") _,
                options(nostack),
            );
        }
        let hi: u32;
        // SAFETY: reads `sums` (16-byte aligned; `VLDRW` at pixel offsets
        // 0, 128, 256, 384 bytes, 16 bytes a step for `nb / 4` steps: the
        // `nb` sums per pixel the loop above just wrote),
        // `4 * o0 .. 4 * (o0 + nb)` of `bias`, `2 * o0 .. 2 * (o0 + nb)` of
        // `multiplier` (2-byte aligned, checked) and `o0 .. o0 + nb` of
        // `shift` (all `cout` long, checked); gathers `table + i` with
        // `i` clamped to `-128..=127` first (the middle of a 256-byte
        // table; the address wraps as the sum of the base and a
        // two's-complement offset); writes `out[p * cout + o0 .. + nb]` for
        // `p < 4` (`out` is `4 * cout`, checked). The widening and narrowing
        // loads and stores encode only low base registers, hence r0-r5. q0-q7
        // are declared clobbered. MVE is guaranteed by the `fastvit_mve` cfg.
        unsafe {
            core::arch::asm!(
                "vdup.32 q2, r12",
                "mov r12, #0",
                "vmov.i32 q3, #1",
                "vmov.i32 q7, #30",
                "dls lr, lr",
                "6:",
                "vldrb.u8 q4, [{b}], #16",
                "vldrh.s32 q5, [r4], #8",
                "vshl.i32 q5, q5, #16",
                "vldrb.s32 q6, [r5], #4",
                "vadd.i32 q6, q6, q3",
                "vadd.i32 q1, q6, q7",
                "vmaxv.u32 r12, q1",
                "vldrw.u32 q0, [{acc}, #128]",
                "vadd.i32 q0, q0, q4",
                "vmulh.s32 q0, q0, q5",
                "vrshl.s32 q0, q0, q6",
                "vadd.i32 q0, q0, q2",
                "vqshl.s32 q0, q0, #24",
                "vshr.s32 q0, q0, #24",
                "vldrb.u32 q1, [{table}, q0]",
                "vstrb.32 q1, [r1], #4",
                "vldrw.u32 q0, [{acc}, #256]",
                "vadd.i32 q0, q0, q4",
                "vmulh.s32 q0, q0, q5",
                "vrshl.s32 q0, q0, q6",
                "vadd.i32 q0, q0, q2",
                "vqshl.s32 q0, q0, #24",
                "vshr.s32 q0, q0, #24",
                "vldrb.u32 q1, [{table}, q0]",
                "vstrb.32 q1, [r2], #4",
                "vldrw.u32 q0, [{acc}, #384]",
                "vadd.i32 q0, q0, q4",
                "vmulh.s32 q0, q0, q5",
                "vrshl.s32 q0, q0, q6",
                "vadd.i32 q0, q0, q2",
                "vqshl.s32 q0, q0, #24",
                "vshr.s32 q0, q0, #24",
                "vldrb.u32 q1, [{table}, q0]",
                "vstrb.32 q1, [r3], #4",
                "vldrw.u32 q0, [{acc}], #16",
                "vadd.i32 q0, q0, q4",
                "vmulh.s32 q0, q0, q5",
                "vrshl.s32 q0, q0, q6",
                "vadd.i32 q0, q0, q2",
                "vqshl.s32 q0, q0, #24",
                "vshr.s32 q0, q0, #24",
                "vldrb.u32 q1, [{table}, q0]",
                "vstrb.32 q1, [r0], #4",
                "le lr, 6b",
                acc = inout(reg) buf => _,
                b = inout(reg) bias.as_ptr().wrapping_add(4 * o0) => _,
                table = in(reg) table,
                inout("r0") op.wrapping_add(o0) => _,
                inout("r1") op.wrapping_add(cout + o0) => _,
                inout("r2") op.wrapping_add(2 * cout + o0) => _,
                inout("r3") op.wrapping_add(3 * cout + o0) => _,
                inout("r4") multiplier.as_ptr().wrapping_add(2 * o0) => _,
                inout("r5") shift.as_ptr().wrapping_add(o0) => _,
                inout("r12") out_zp as u32 => hi,
                inout("lr") nb / 4 => _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _,
                out("d4") _, out("d5") _, out("d6") _, out("d7") _,
                out("d8") _, out("d9") _, out("d10") _, out("d11") _,
                out("d12") _, out("d13") _, out("d14") _, out("d15") _,
                options(nostack, preserves_flags),
            );
        }
        // Some shift + 1 outside -30..=-1: this block by the caller.
        if hi > 29 {
            return o0;
        }
        o0 += nb;
    }
    o0
}

/// [`tile_px4`]'s sums of one block, pixel-major, 16-byte aligned for `VLDRW`.
#[repr(C, align(16))]
struct Acc16Block([i32; 4 * BLOCK]);

/// The add's table form (`add::AddTables::run`) four elements a step, for
/// rescaled sums that never saturate and `t = 31 - out_shift >= 32` (`s =
/// t - 32`): the two rescales by `VLDRW` gathers from the 256-word tables
/// (indices `VLDRB.U32`, the operands as `u8`), `VADD`, then `VMULH` +
/// `VRSHL` by `-s` (`VRMULH` for `s = 0`) as [`finish_px4`], `+ zp`,
/// `VQSHL #24` + `VSHR #24`, one `VSTRB` (12 instructions per four elements
/// against 15 per element). Returns the elements done (the common length
/// rounded down to 4); the caller does the rest.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn add_tables4(
    ta: &[i32; 256],
    tb: &[i32; 256],
    multiplier: i32,
    s: u32,
    out_zp: i32,
    a: &[i8],
    b: &[i8],
    out: &mut [i8],
) -> usize {
    let n = out.len().min(a.len()).min(b.len()) / 4;
    if n == 0 || s > 31 {
        return 0;
    }
    // SAFETY: reads `4 * n` bytes of `a` and `b` and writes `4 * n` of
    // `out` (`n` is a quarter of the shortest length); the gathers read
    // `ta`/`tb` words at `u8` indices (inside the 256-word tables, 4-byte
    // aligned as `i32` arrays). The low-overhead loop runs `n >= 1` times.
    // The widening and narrowing `VLDRB.U32`/`VSTRB.32` encode only low
    // base registers, hence r0-r2.
    // q0-q4 (d0-d9) are declared clobbered. MVE is guaranteed by the
    // `fastvit_mve` cfg.
    unsafe {
        if s == 0 {
            core::arch::asm!(
                "vdup.32 q4, {m}",
                "dls lr, {n}",
                "2:",
                "vldrb.u32 q0, [r0], #4",
                "vldrb.u32 q1, [r1], #4",
                "vldrw.u32 q2, [{ta}, q0, uxtw #2]",
                "vldrw.u32 q3, [{tb}, q1, uxtw #2]",
                "vadd.i32 q2, q2, q3",
                "vrmulh.s32 q2, q2, q4",
                "vadd.i32 q2, q2, {zp}",
                "vqshl.s32 q2, q2, #24",
                "vshr.s32 q2, q2, #24",
                "vstrb.32 q2, [r2], #4",
                "le lr, 2b",
                m = in(reg) multiplier,
                n = in(reg) n,
                inout("r0") a.as_ptr() => _,
                inout("r1") b.as_ptr() => _,
                inout("r2") out.as_mut_ptr() => _,
                ta = in(reg) ta.as_ptr(),
                tb = in(reg) tb.as_ptr(),
                zp = in(reg) out_zp,
                out("lr") _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _,
                out("d5") _, out("d6") _, out("d7") _, out("d8") _, out("d9") _,
                options(nostack, preserves_flags),
            );
        } else {
            core::arch::asm!(
                "vdup.32 q4, {m}",
                "dls lr, {n}",
                "2:",
                "vldrb.u32 q0, [r0], #4",
                "vldrb.u32 q1, [r1], #4",
                "vldrw.u32 q2, [{ta}, q0, uxtw #2]",
                "vldrw.u32 q3, [{tb}, q1, uxtw #2]",
                "vadd.i32 q2, q2, q3",
                "vmulh.s32 q2, q2, q4",
                "vrshl.s32 q2, {neg}",
                "vadd.i32 q2, q2, {zp}",
                "vqshl.s32 q2, q2, #24",
                "vshr.s32 q2, q2, #24",
                "vstrb.32 q2, [r2], #4",
                "le lr, 2b",
                m = in(reg) multiplier,
                n = in(reg) n,
                inout("r0") a.as_ptr() => _,
                inout("r1") b.as_ptr() => _,
                inout("r2") out.as_mut_ptr() => _,
                ta = in(reg) ta.as_ptr(),
                tb = in(reg) tb.as_ptr(),
                zp = in(reg) out_zp,
                neg = in(reg) -(s as i32),
                out("lr") _,
                out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _,
                out("d5") _, out("d6") _, out("d7") _, out("d8") _, out("d9") _,
                options(nostack, preserves_flags),
            );
        }
    }
    4 * n
}
