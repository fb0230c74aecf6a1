//! The depthwise tap loop and requantization of one pixel (or a row of
//! pixels) in one `asm!` ([`taps_asm`]).

use super::IDENTITY;
use crate::kernels::window::WindowArgs;

/// No byte of `w` is -128 (`i8::MIN`), so two of its products with int8
/// inputs sum in i16 (`|x * w| <= 128 * 127`): the pair form of
/// [`taps_asm`], checked once per layer (`weights_above_min`).
pub fn above_min(w: &[i8]) -> bool {
    w.iter().fold(i8::MAX, |m, &v| m.min(v)) > i8::MIN
}

/// Every byte of `s` in `-31..=-2`, the shifts [`taps_asm`]'s vector
/// requantization takes (`s + 31` in `0..=29` as an unsigned byte), 16 a
/// pass of a tail-predicated loop (`VADD.I8` + `VMAXV.U8`): checked once a
/// call, not per chunk and pixel.
#[inline(always)]
fn shifts_in_range(s: &[i8]) -> bool {
    let max: u32;
    // SAFETY: the loop runs `ceil(len / 16)` passes, the last predicated to
    // the remaining lanes (predicated-off lanes are not read and take no
    // part in `VMAXV`), so it reads `s` only. q0 and q1 (d0-d3) and lr are
    // declared clobbered. MVE is guaranteed by the `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "vmov.i8 q1, #31",
            "wlstp.8 lr, {n}, 2f",
            "1:",
            "vldrb.u8 q0, [{p}], #16",
            "vadd.i8 q0, q0, q1",
            "vmaxv.u8 {m}, q0",
            "letp lr, 1b",
            "2:",
            n = in(reg) s.len(),
            p = inout(reg) s.as_ptr() => _,
            m = inout(reg) 0u32 => max,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            options(readonly, nostack),
        );
    }
    max <= 29
}

/// What [`depthwise_taps16`](super::depthwise_taps16)'s `asm!` reads, by
/// offset: one pointer to this instead of ten registers.
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
    /// Byte offset of the current pixel's taps from the table's pointers.
    at: usize,
}

/// One vector of [`taps_asm`]'s finish: the four channels whose sums are
/// in `$q` (lanes addressed by `VIDUP` from lr, which it advances by four
/// steps), requantized, mapped by the table and scattered.
#[rustfmt::skip]
macro_rules! requant4 {
    ($q:literal) => {
        concat!(
            "vidup.u32 q4, lr, #{step}\n",
            "vldrw.u32 q5, [r2, q4, uxtw #2]\n",
            "vadd.i32 ", $q, ", ", $q, ", q5\n",
            "vldrh.s32 q5, [r3, q4, uxtw #1]\n",
            "vshl.i32 q5, q5, #16\n",
            "vmulh.s32 ", $q, ", ", $q, ", q5\n",
            "vldrb.s32 q5, [r4, q4]\n",
            "vadd.i32 q5, q5, q7\n",
            "vrshl.s32 ", $q, ", ", $q, ", q5\n",
            "vadd.i32 ", $q, ", ", $q, ", r10\n",
            "vqshl.s32 ", $q, ", ", $q, ", #24\n",
            "vshr.s32 ", $q, ", ", $q, ", #24\n",
            "vldrb.u32 q5, [r8, ", $q, "]\n",
            "vstrb.32 q5, [r0, q4]\n",
        )
    };
}

/// A pair of taps' 16 channels in the pair form: `LDRD` of the next two
/// table words (r3, r0; r4 advanced by 8) plus the chunk offset r8, each
/// tap's `VLDRB.U8` inputs against the weights at r2 (advanced by r5 a
/// tap), the two taps' `VMULLB`/`VMULLT.S8` products summed in i16 into q6
/// (even channels) and q7 (odd). q4 and q5 are scratch.
#[rustfmt::skip]
macro_rules! tap_pair_s8 {
    () => {
        concat!(
            "ldrd r3, r0, [r4], #8\n",
            "add r3, r8\n",
            "add r0, r8\n",
            "vldrb.u8 q4, [r3]\n",
            "vldrb.u8 q5, [r2]\n",
            "add r2, r5\n",
            "vmullb.s8 q6, q4, q5\n",
            "vmullt.s8 q7, q4, q5\n",
            "vldrb.u8 q4, [r0]\n",
            "vldrb.u8 q5, [r2]\n",
            "vmullb.s8 q4, q4, q5\n",
            "vadd.i16 q6, q6, q4\n",
            "vldrb.u8 q4, [r0]\n",
            "vmullt.s8 q4, q4, q5\n",
            "add r2, r5\n",
            "vadd.i16 q7, q7, q4\n",
        )
    };
}

/// The pair form's i16 sums in q6 and q7 widened (`VMOVLB`/`VMOVLT.S16`)
/// and added into the i32 accumulators q0-q3. q4 is scratch.
#[rustfmt::skip]
macro_rules! widen_add_s16 {
    () => {
        concat!(
            "vmovlb.s16 q4, q6\n",
            "vadd.i32 q0, q0, q4\n",
            "vmovlt.s16 q4, q6\n",
            "vadd.i32 q1, q1, q4\n",
            "vmovlb.s16 q4, q7\n",
            "vadd.i32 q2, q2, q4\n",
            "vmovlt.s16 q4, q7\n",
            "vadd.i32 q3, q3, q4\n",
        )
    };
}

/// [`taps_asm`]'s one `asm!` block around a tap form: the chunk loop, the
/// pixel loop and the operands are shared; `$pair` is the body of the loop
/// over tap pairs, `$odd` the last tap of an odd count (after its input
/// pointer is in r3), `$finish` the requantization after the shared
/// loads (`$step`: the `VIDUP` step of the accumulators' channel order).
macro_rules! taps_block {
    ($args:expr, $ws:expr, $step:expr; [$($first:expr),* $(,)?];
     [$($pair:expr),* $(,)?]; [$($odd:expr),* $(,)?]; [$($finish:expr),* $(,)?]) => {
        core::arch::asm!(
            "vmov.i32 q7, #1",
            "0:",
            "movs r1, #0",
            "1:",
            "ldr r4, [r11]",
            "ldr lr, [r11, #4]",
            "ldr r2, [r11, #8]",
            "add r2, r1",
            "ldr r8, [r11, #52]",
            "add r8, r1",
            "lsrs lr, lr, #1",
            "bne 8f",
            "vmov.i32 q0, #0",
            "vmov.i32 q1, #0",
            "vmov.i32 q2, #0",
            "vmov.i32 q3, #0",
            "b 3f",
            "8:",
            $($first,)*
            "sub lr, lr, #1",
            "wls lr, lr, 3f",
            "2:",
            $($pair,)*
            "le lr, 2b",
            "3:",
            "ldr lr, [r11, #4]",
            "tst lr, #1",
            "beq 4f",
            "ldr r3, [r4]",
            $($odd,)*
            "4:",
            "ldrd r2, r3, [r11, #12]",
            "ldr r4, [r11, #20]",
            "ldr r0, [r11, #24]",
            "ldrd r8, r10, [r11, #28]",
            $($finish,)*
            "adds r1, #16",
            "ldr r2, [r11, #36]",
            "cmp r1, r2",
            "blo 1b",
            "ldr r3, [r11, #48]",
            "subs r3, #1",
            "beq 6f",
            "str r3, [r11, #48]",
            "ldr r3, [r11, #52]",
            "ldr r2, [r11, #40]",
            "add r3, r2",
            "str r3, [r11, #52]",
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
            in("r5") $ws,
            sh = const M.trailing_zeros(),
            step = const $step,
            odd = const 15 * M,
            out("r8") _,
            out("r10") _,
            in("r11") $args,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            out("d4") _, out("d5") _, out("d6") _, out("d7") _,
            out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _, out("d13") _, out("d14") _, out("d15") _,
            options(nostack),
        )
    };
}

/// Channels `0..c / 16 * 16` of one depthwise pixel from its tap pointers
/// (`ptrs`, each starting `len` readable bytes), every chunk in one `asm!`
/// (the per-chunk Rust of [`taps16`](super::taps16) +
/// [`finish16`](super::finish16) cost ~120 instructions a chunk, as much as
/// the requantization). Per chunk the tap loop of [`taps16`](super::taps16),
/// then the sums requantized where they are, four lanes a vector: the even
/// and odd channels' lanes (`VMULLB`/`VMULLT`) address their bias,
/// multiplier, shift and output by one vector of channel indices (`VIDUP` by
/// 2; gathers scaled by the element size, one scatter), requantized as in
/// [`tile_px4`](super::tile_px4) (`VMULH`, `VRSHL` by `shift + 1`, `+ zp`,
/// `VQSHL #24` + `VSHR #24`, gather from the table's middle). The channels
/// done, or `None` (the caller takes the window path, which rewrites the
/// pixel) if lanes or weights are out of reach, the bias is not 4-byte
/// aligned, the table is neither empty nor 256 bytes, or a shift is outside
/// `-31..=-2`.
///
/// With `weights_above_min` (no weight is -128, so `|x * w| <= 128 * 127`
/// and two products sum in i16) taps go in pairs by 8-bit lanes: per pair
/// `VMULLB`/`VMULLT.S8` of each tap's 16 inputs and weights (the even and
/// odd channels' i16 products), one `VADD.I16` each for the two taps, then
/// `VMOVLB`/`VMOVLT.S16` + `VADD.I32` into the four accumulators, which
/// then hold channels `4i`, `4i + 2`, `4i + 1`, `4i + 3` (q0-q3; the finish's
/// `VIDUP` steps by 4 instead of 2): 25 instructions per pair of taps and
/// 16 channels against 30.
///
/// `(count, step)`: `count >= 1` pixels of a row, the taps of each `step`
/// bytes after the previous one's (pixel `i` reads each tap at `i * step`
/// bytes past its table pointer: one offset word, `args.at`, added to the
/// chunk offset in r8, not the table rewritten per pixel, which cost five
/// instructions a tap) and its outputs `M * cin` bytes after.
///
/// # Safety
///
/// Each of `ptrs`, advanced by `i * step` for every `i < count`, must start
/// `len` readable bytes.
#[inline(always)]
pub(super) unsafe fn taps_asm<const M: usize>(
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
        || !shifts_in_range(shift.get(j..=one)?)
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
        at: 0,
    };
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
    // checked). Between pixels it adds `step` to the tap offset
    // `args.at` (the caller's contract covers every pixel's taps; the
    // table itself is only read) and `out_step` to `args.out`. `args` lives across
    // the call. Taps go in pairs (`LDRD` of two table words, 4-byte aligned),
    // then one more for an odd count. The widening `VLDRB.S16` encodes
    // only low base registers (r0, r2, r3), `VIDUP` an even one (lr); the
    // arguments' pointer is in r11. q0-q7 are declared clobbered, and the
    // flags. MVE is guaranteed by the `fastvit_mve` cfg.
    if ch.weights_above_min {
        // SAFETY: as above; the pair form reads the same bytes by
        // `VLDRB.U8` (16 lanes, any base register), the second tap's input
        // twice. `VMULLB`/`VMULLT.S8` into one of their own operands (q4) is
        // defined for 8-bit elements (each 16-bit result replaces the two
        // bytes it was computed from).
        unsafe {
            taps_block!(
                &mut args as *mut PixelArgs, ws, 4 * M;
                [
                    tap_pair_s8!(),
                    "vmovlb.s16 q0, q6",
                    "vmovlt.s16 q1, q6",
                    "vmovlb.s16 q2, q7",
                    "vmovlt.s16 q3, q7",
                ];
                [
                    tap_pair_s8!(),
                    widen_add_s16!(),
                ];
                [
                    "add r3, r8",
                    "vldrb.u8 q4, [r3]",
                    "vldrb.u8 q5, [r2]",
                    "add r2, r5",
                    "vmullb.s8 q6, q4, q5",
                    "vmullt.s8 q7, q4, q5",
                    widen_add_s16!(),
                ];
                [
                    "vmov.i32 q7, #1",
                    "lsl lr, r1, #{sh}",
                    requant4!("q0"),
                    "sub lr, lr, #{odd}",
                    requant4!("q2"),
                    "sub lr, lr, #{odd}",
                    requant4!("q1"),
                    "sub lr, lr, #{odd}",
                    requant4!("q3"),
                ]
            );
        }
    } else {
        // SAFETY: as above.
        unsafe {
            taps_block!(
                &mut args as *mut PixelArgs, ws, 2 * M;
                [
                    "vmov.i32 q0, #0",
                    "vmov.i32 q1, #0",
                    "vmov.i32 q2, #0",
                    "vmov.i32 q3, #0",
                    "ldrd r3, r0, [r4], #8",
                    "add r3, r8",
                    "add r0, r8",
                    tap16_s16!("r3", "add r2, r5"),
                    tap16_s16!("r0", "add r2, r5"),
                ];
                [
                    "ldrd r3, r0, [r4], #8",
                    "add r3, r8",
                    "add r0, r8",
                    tap16_s16!("r3", "add r2, r5"),
                    tap16_s16!("r0", "add r2, r5"),
                ];
                [
                    "add r3, r8",
                    tap16_s16!("r3", "add r2, r5"),
                ];
                [
                    "lsl lr, r1, #{sh}",
                    requant4!("q0"),
                    requant4!("q2"),
                    "sub lr, lr, #{odd}",
                    requant4!("q1"),
                    requant4!("q3"),
                ]
            );
        }
    }
    Some(end)
}
