//! The int16 build's output steps on Helium: the int16 depthwise's 16
//! channels ([`wide_finish16`]), `fc2`'s int16 outputs of one channel and
//! four pixels ([`finish16_px4`]) and the residual add on int16
//! ([`add16`]).
//!
//! One vector form of [`requantize`] serves every shift the reference
//! takes (`t = 31 - shift` in `1..=62`): per lane `VQSHL` by `L = max(32 -
//! t, 0)`, `VQDMULH` by the multiplier `m` (`y = floor(2 a m / 2^32)`),
//! `VRSHL` by `-R`, `R = max(t - 31, 1)` (adds `2^(R-1)`, shifts right by
//! `R`). Where `a << L` does not saturate this is the reference's
//! `floor((acc * m + 2^(t-1)) / 2^t)` exactly: `y = floor(acc * m * 2^(L+1)
//! / 2^32)`, and nested floors of divisions by powers of two are one floor
//! (for `t >= 32`, `L = 0`: `floor((floor(P / 2^31) + 2^(t-32)) /
//! 2^(t-31))`; for `t <= 31`: `floor((floor(P / 2^(t-1)) + 1) / 2)`). The
//! one saturating `VQDMULH` (`a = m = i32::MIN`) gives `2^31 - 1` for
//! `2^31`, which `R >= 1` rounds to the same value. The reference's i32
//! saturation never engages then (`|y| <= 2^30`). `VQDMULH`/`VRSHL` alone
//! (`SQRDMULH`-style) would round twice: not bit-exact.
//!
//! Where `a << L` (only `t <= 31`) could saturate the kernels decline, or
//! prove that the clamp hides it: with `m >= 2^30` a saturated lane and
//! the reference are both at least `2^29` in magnitude with the sign of
//! `acc`, so both clamp to the same int8/int16 end after `+ zp`, `|zp| <=
//! 2^15`. Checked on the M55 against `quant::requantize` for every shift
//! by the mps3-an547 `kernels` firmware (suite `out16`).

use crate::ops::conv::ConvArgs;
use crate::quant::requantize;
use crate::schedule::{Add, Conv};
use crate::tensor::Elem;

/// `L` and `-R` of the vector requantization for `shift` (module doc).
#[inline(always)]
fn shifts(shift: i32) -> (i32, i32) {
    (shift.wrapping_add(1).max(0), shift.min(-1))
}

/// Whether `shift` is one the reference takes unclamped (`-31..=30`).
#[inline(always)]
fn in_range(shift: i32) -> bool {
    (-31..=30).contains(&shift)
}

/// Whether a lane with `shift` and Q31 multiplier `m` is exact under the
/// clamp of an int8/int16 output whatever its sum (module doc): `t >= 32`,
/// or `m` zero or at least `2^30` (every multiplier codegen emits).
#[inline(always)]
fn lane_exact(shift: i32, m: i32) -> bool {
    shift < 0 || m == 0 || m >= 1 << 30
}

/// [`wide_finish16`]'s `asm!`: four passes of four channels (`bias +
/// sums`, `$id` (the identity tap, or nothing), the requantization of the
/// module doc, `VQADD` of the zero point, the clamp to `lo..=!lo`, held in
/// q4 and q5).
macro_rules! finish16_asm {
    ($sums:expr, $bias:expr, $mult:expr, $shift:expr, $v:expr, $zp:expr, $lo:expr;
     [$($id:literal),*]; $($op:tt)*) => {
        core::arch::asm!(
            "vdup.32 q4, {lo}",
            "mvn {lo}, {lo}",
            "vdup.32 q5, {lo}",
            "vmvn.i32 q6, #0",
            "vmov.i32 q7, #0",
            "mov {lo}, #4",
            "dls lr, {lo}",
            "2:",
            "vldrw.u32 q0, [{sums}], #16",
            "vldrb.u8 q1, [{bias}], #16",
            "vadd.i32 q0, q0, q1",
            $($id,)*
            "vldrh.s32 q1, [r2], #8",
            "vshl.i32 q1, q1, #16",
            "vldrb.s32 q2, [r3], #4",
            "vsub.i32 q3, q2, q6",
            "vmax.s32 q3, q3, q7",
            "vmin.s32 q2, q2, q6",
            "vqshl.s32 q0, q0, q3",
            "vqdmulh.s32 q0, q0, q1",
            "vrshl.s32 q0, q0, q2",
            "vqadd.s32 q0, q0, {zp}",
            "vmax.s32 q0, q0, q4",
            "vmin.s32 q0, q0, q5",
            "vstrw.32 q0, [{v}], #16",
            "le lr, 2b",
            sums = inout(reg) $sums => _,
            bias = inout(reg) $bias => _,
            v = inout(reg) $v => _,
            zp = in(reg) $zp,
            lo = inout(reg) $lo => _,
            inout("r2") $mult => _,
            inout("r3") $shift => _,
            $($op)*
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            out("d6") _, out("d7") _, out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _, out("d13") _, out("d14") _, out("d15") _,
            options(nostack, preserves_flags),
        )
    };
}

/// 16 i32, 16-byte aligned for `VLDRW`/`VSTRW`.
#[repr(C, align(16))]
struct Lanes([i32; 16]);

/// Four i32, 16-byte aligned for `VLDRW`.
#[repr(C, align(16))]
struct Lanes4([i32; 4]);

/// The output step of 16 contiguous output channels `o0..o0 + 16` of the
/// int16 depthwise (`wide::block_pixel`, the hook NEON fills with
/// `neon::wide_finish16`): `bias + sums`, the identity tap `identity[o] *
/// x[o]` (`x`: the pixel's int16 inputs of those channels, zero point 0)
/// when the layer has one, the requantization of the module doc, `VQADD` of
/// the zero point and the clamp to `out`: the reference `finish`, four
/// channels a vector. `None` (the scalar step runs) for a table, a shift
/// outside `-31..=30`, a lane not `lane_exact`, a zero point outside
/// int16, short operands or odd addresses of halfword operands.
#[inline(always)]
pub fn wide_finish16(
    p: &Conv,
    a: &ConvArgs<'_>,
    (o0, sums): (usize, [i32; 16]),
    x: &[i8],
    out: Elem,
) -> Option<[i32; 16]> {
    const N: usize = 16;
    let shift: &[i8; N] = a.requant.shift.0.get(o0..o0 + N)?.try_into().ok()?;
    let mult: &[u8; 2 * N] = a
        .requant
        .multiplier
        .0
        .get(2 * o0..2 * (o0 + N))?
        .try_into()
        .ok()?;
    let bias = a.bias.0.get(4 * o0..4 * (o0 + N))?;
    if !a.lut.is_empty() || !(-32768..=32767).contains(&p.out_zp) || mult.as_ptr() as usize & 1 != 0
    {
        return None;
    }
    // `(s + 31) as u8 <= 61` for `s` in `-31..=30`; `>= 31` for `s >= 0`.
    let top = shift
        .iter()
        .fold(0u8, |m, &s| m.max((s as u8).wrapping_add(31)));
    if top > 61 {
        return None;
    }
    if top >= 31 {
        let ms = mult
            .chunks_exact(2)
            .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])) << 16);
        if !shift.iter().zip(ms).all(|(&s, m)| lane_exact(s.into(), m)) {
            return None;
        }
    }
    let identity = match a.identity.is_empty() {
        true => None,
        false => {
            let x = x.get(..2 * N)?;
            if x.as_ptr() as usize & 1 != 0 {
                return None;
            }
            Some((a.identity.0.get(4 * o0..4 * (o0 + N))?, x))
        }
    };
    let (lo, _) = out.range(); // `hi = !lo` for int8 and int16
    let sums = Lanes(sums);
    let mut v = Lanes([0; N]);
    // SAFETY: four passes (the low-overhead loop runs exactly 4 times),
    // each reading 16 bytes of `sums` (16-byte aligned `Lanes`, `VLDRW`),
    // of `bias` (64 bytes long; byte loads, no alignment), 8 bytes of
    // `mult` (32 long, halfword-aligned as checked: `VLDRH`), 4 of `shift`
    // (16 long), and with the identity 16 bytes of it (64 long) and 8 of
    // `x` (32 long, halfword-aligned as checked), and writing 16 bytes of
    // `v` (aligned `Lanes`). The widening loads' write-back forms take
    // low registers, hence r1-r3. q0-q7 (d0-d15) and lr are declared
    // clobbered. MVE is guaranteed by the `fastvit_mve` cfg.
    unsafe {
        let (s, b, m, sh, o) = (
            sums.0.as_ptr(),
            bias.as_ptr(),
            mult.as_ptr(),
            shift.as_ptr(),
            v.0.as_mut_ptr(),
        );
        match identity {
            None => finish16_asm!(s, b, m, sh, o, p.out_zp, lo; [];),
            Some((id, x)) => finish16_asm!(s, b, m, sh, o, p.out_zp, lo; [
                "vldrb.u8 q1, [{id}], #16",
                "vldrh.s32 q2, [r1], #8",
                "vmul.i32 q1, q1, q2",
                "vadd.i32 q0, q0, q1"
            ]; id = inout(reg) id.as_ptr() => _, inout("r1") x.as_ptr() => _,),
        }
    }
    Some(v.0)
}

/// `fc2`'s int16 output step of the ConvMlp with int16 internals
/// (`wide_mlp`) for output channel `o` of `c` and four pixels: `base +
/// dots[i]` requantized as the module doc, `+ zp` (`VQADD`), saturated to
/// int16 (`VQMOVNB`) and stored to int16 element `i * c + o` of `d`
/// (`VSTRH` scatter): the reference `finish` with `Int16.put`. `false`
/// (nothing written) for a shift outside `-31..=30`, a multiplier not
/// `lane_exact`, a zero point outside int16, `o >= c`, a `d` too short
/// or at an odd address.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn finish16_px4(
    dots: [i32; 4],
    base: i32,
    multiplier: i32,
    shift: i32,
    out_zp: i32,
    d: &mut [i8],
    o: usize,
    c: usize,
) -> bool {
    if !in_range(shift)
        || !lane_exact(shift, multiplier)
        || !(-32768..=32767).contains(&out_zp)
        || o >= c
        || d.len() < 2 * (3 * c + o + 1)
        || d.as_ptr() as usize & 1 != 0
    {
        return false;
    }
    let (l, nr) = shifts(shift);
    let dots = Lanes4(dots);
    let at = d.as_mut_ptr().wrapping_add(2 * o);
    // SAFETY: `VLDRW` reads the 16 bytes of `dots` (16-byte aligned
    // `Lanes4`); the scatter writes the halfwords at `at + 2 * c * i`, `i` in
    // `0..4`, all inside `d` (`o < c`, `d.len() >= 2 * (3c + o + 1)`),
    // halfword-aligned (`d` even, as checked). q0 and q1 (d0-d3) are
    // declared clobbered; r0 is the `VIDUP` base (even register). MVE is
    // guaranteed by the `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "vldrw.u32 q0, [{dots}]",
            "vadd.i32 q0, q0, {base}",
            "vqshl.s32 q0, {l}",
            "vqdmulh.s32 q0, q0, {m}",
            "vrshl.s32 q0, {nr}",
            "vqadd.s32 q0, q0, {zp}",
            "vqmovnb.s32 q0, q0",
            "vidup.u32 q1, r0, #1",
            "vmul.i32 q1, q1, {stride}",
            "vstrh.32 q0, [{at}, q1]",
            dots = in(reg) dots.0.as_ptr(),
            base = in(reg) base, l = in(reg) l, m = in(reg) multiplier, nr = in(reg) nr,
            zp = in(reg) out_zp, stride = in(reg) 2 * c, at = in(reg) at,
            inout("r0") 0u32 => _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            options(nostack, preserves_flags),
        );
    }
    true
}

/// One operand's constants for [`add16`]'s loop: what `VLDRW` loads into
/// q2-q7 and the scalars loaded into r3-r5, r8, r10, r11 and lr.
#[repr(C, align(16))]
struct AddArgs {
    /// `m` of a, b, out (q2, q3, q4).
    m: [[i32; 4]; 3],
    /// `-R` of a, b, out (q5, q6, q7).
    nr: [[i32; 4]; 3],
    /// `a_zp`, `left_shift + L_a`, `b_zp`, `left_shift + L_b`, `L_out`,
    /// `out_zp`, element count.
    s: [i32; 7],
}

/// The range `[lo, hi]` of `requantize((x - zp) << ls, m, shift)` over
/// int16 `x`, and whether `(x - zp) << (ls + L)` fits i32 for all of them
/// (`requantize` is monotonic in its sum).
fn operand_range(zp: i32, ls: u32, m: i32, shift: i32) -> Option<(i64, i64)> {
    let (l, _) = shifts(shift);
    let k = ls + l as u32;
    let (lo, hi) = (
        (i64::from(i16::MIN) - i64::from(zp)) << k,
        (i64::from(i16::MAX) - i64::from(zp)) << k,
    );
    if lo < i64::from(i32::MIN) || hi > i64::from(i32::MAX) {
        return None;
    }
    let (x0, x1) = ((lo >> l) as i32, (hi >> l) as i32);
    let (r0, r1) = (requantize(x0, m, shift), requantize(x1, m, shift));
    Some((i64::from(r0.min(r1)), i64::from(r0.max(r1))))
}

/// The residual add of the int16 ConvMlp (`out[i] = add_value(p, a[i],
/// b[i])`, little-endian int16, the hook NEON fills with `neon::add16`)
/// four elements a vector in one tail-predicated loop: each operand
/// `VLDRH.S32`, `- zp`, `VSHL` by `left_shift + L`, `VQDMULH`, `VRSHL`
/// (module doc); their `VQADD`, the output's requantization, `VQADD` of its
/// zero point, `VQMOVNB` (int16 saturation), `VSTRH`. Exact where no shift
/// saturates, which is checked once a call from the operands' ranges
/// (`operand_range`: the int16 inputs bound every intermediate); returns
/// the elements done: all `out.len() / 2`, or 0 (the caller's
/// `add_with` runs) for shifts outside `-31..=30`, `left_shift > 15`, zero
/// points outside int16, sums that could saturate, short operands or odd
/// addresses.
pub fn add16(p: &Add, a: &[i8], b: &[i8], out: &mut [i8]) -> usize {
    let n = out.len() / 2;
    let int16 = -32768..=32767;
    if n == 0
        || a.len() < 2 * n
        || b.len() < 2 * n
        || (a.as_ptr() as usize | b.as_ptr() as usize | out.as_ptr() as usize) & 1 != 0
        || p.left_shift > 15
        || ![p.a_shift, p.b_shift, p.out_shift]
            .iter()
            .all(|&s| in_range(s))
        || ![p.a_zp, p.b_zp, p.out_zp].iter().all(|z| int16.contains(z))
        || i32::try_from(n).is_err()
    {
        return 0;
    }
    let ls = u32::from(p.left_shift);
    let (Some((a0, a1)), Some((b0, b1))) = (
        operand_range(p.a_zp, ls, p.a_mult, p.a_shift),
        operand_range(p.b_zp, ls, p.b_mult, p.b_shift),
    ) else {
        return 0;
    };
    // The sums (no `saturating_add` saturation) and the output's shift.
    let (lo_out, _) = shifts(p.out_shift);
    let (s0, s1) = ((a0 + b0) << lo_out, (a1 + b1) << lo_out);
    if s0 < i64::from(i32::MIN) || s1 > i64::from(i32::MAX) {
        return 0;
    }
    let (la, nra) = shifts(p.a_shift);
    let (lb, nrb) = shifts(p.b_shift);
    let (_, nro) = shifts(p.out_shift);
    let k = AddArgs {
        m: [[p.a_mult; 4], [p.b_mult; 4], [p.out_mult; 4]],
        nr: [[nra; 4], [nrb; 4], [nro; 4]],
        s: [
            p.a_zp,
            ls as i32 + la,
            p.b_zp,
            ls as i32 + lb,
            lo_out,
            p.out_zp,
            n as i32,
        ],
    };
    // SAFETY: the tail-predicated loop runs `ceil(n / 4)` passes over `n
    // >= 1` elements, the last predicated to the remaining lanes
    // (predicated-off lanes are neither read nor written): it reads `2 *
    // n` bytes of `a` and `b` and writes `2 * n` of `out` (each at least
    // that long, halfword-aligned as checked). `k` is 16-byte aligned for
    // the `VLDRW`s (offsets 0..96) and its scalars are read by `LDR`
    // (96..124). The widening and narrowing loads/stores take low
    // registers (r0-r2); r3-r5, r8, r10, r11, r12, lr and q0-q7 (d0-d15)
    // are declared clobbered. MVE is guaranteed by the `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "vldrw.u32 q2, [r12]",
            "vldrw.u32 q3, [r12, #16]",
            "vldrw.u32 q4, [r12, #32]",
            "vldrw.u32 q5, [r12, #48]",
            "vldrw.u32 q6, [r12, #64]",
            "vldrw.u32 q7, [r12, #80]",
            "ldrd r3, r4, [r12, #96]",
            "ldrd r5, r8, [r12, #104]",
            "ldrd r10, r11, [r12, #112]",
            "ldr r12, [r12, #120]",
            "dlstp.32 lr, r12",
            "2:",
            "vldrh.s32 q0, [r0], #8",
            "vsub.i32 q0, q0, r3",
            "vshl.s32 q0, r4",
            "vqdmulh.s32 q0, q0, q2",
            "vrshl.s32 q0, q0, q5",
            "vldrh.s32 q1, [r1], #8",
            "vsub.i32 q1, q1, r5",
            "vshl.s32 q1, r8",
            "vqdmulh.s32 q1, q1, q3",
            "vrshl.s32 q1, q1, q6",
            "vqadd.s32 q0, q0, q1",
            "vshl.s32 q0, r10",
            "vqdmulh.s32 q0, q0, q4",
            "vrshl.s32 q0, q0, q7",
            "vqadd.s32 q0, q0, r11",
            "vqmovnb.s32 q0, q0",
            "vstrh.32 q0, [r2], #8",
            "letp lr, 2b",
            inout("r0") a.as_ptr() => _,
            inout("r1") b.as_ptr() => _,
            inout("r2") out.as_mut_ptr() => _,
            inout("r12") &k as *const AddArgs => _,
            out("r3") _, out("r4") _, out("r5") _, out("r8") _, out("r10") _, out("r11") _,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            out("d6") _, out("d7") _, out("d8") _, out("d9") _, out("d10") _, out("d11") _,
            out("d12") _, out("d13") _, out("d14") _, out("d15") _,
            options(nostack, preserves_flags),
        );
    }
    n
}
