//! The DSP instructions as inline `asm!` (Cortex-M4/M7/M33, selected in
//! [`crate::kernels`] by the `fastvit_dsp` cfg), and the loops that are
//! written in them directly. `model.rs` is the bit-exact software twin.

/// Bytes 0 and 2 of `x`, sign-extended to the two halfwords of the result.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: a register-to-register instruction of the DSP extension,
    // which the `fastvit_dsp` cfg guarantees; no memory, stack or flags.
    unsafe {
        core::arch::asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
            options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// Bytes 1 and 3 of `x`, sign-extended (`SXTB16` with `ROR #8`).
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: as in `sxtb16`.
    unsafe {
        core::arch::asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
            options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `acc + lo(a) * lo(b) + hi(a) * hi(b)` on signed halfwords, wrapping.
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let r: i32;
    // SAFETY: a register-only DSP instruction (it may set the sticky Q
    // flag on overflow, hence no `preserves_flags`); no memory or stack.
    unsafe {
        core::arch::asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a,
            b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
    }
    r
}

/// The first `body` (a multiple of 8) channels of [`super::dsp::dot_px4`]
/// added to `a`: the weight row `w` (at least `body`) against the prepared
/// words (at least `2 * body`).
#[inline(always)]
pub fn dot_px4_body(w: &[i8], words: &[u32], body: usize, mut a: [i32; 4]) -> [i32; 4] {
    if body > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = a;
        let wp = w.as_ptr();
        let xp = words.as_ptr();
        // SAFETY: reads `body` weight bytes from `wp` (`w` holds `cin >=
        // body`; unaligned LDR is allowed on v7-M/v8-M.main) and `2 * body`
        // words from `xp` (`words` holds `2 * cin`, word-aligned as LDM
        // needs); `body > 0` is a multiple of 8, so the loop runs `body / 8`
        // times and stops exactly at `wend`. r7 (the frame pointer, which
        // asm! may not name) holds the odd-lane weights and is saved and
        // restored on the stack around the loop; r0-r3 are declared
        // clobbered (LDM needs its registers in ascending order, so they
        // are named). The DSP instructions are guaranteed by the
        // `fastvit_dsp` cfg.
        unsafe {
            core::arch::asm!(
                "push {{r7}}",
                "2:",
                "ldr {w}, [{wp}], #4",
                "sxtb16 r7, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "ldm {xp}!, {{r0, r1, r2, r3}}",
                "smlad {a0}, {w}, r0, {a0}",
                "smlad {a0}, r7, r1, {a0}",
                "smlad {a1}, {w}, r2, {a1}",
                "smlad {a1}, r7, r3, {a1}",
                "ldm {xp}!, {{r0, r1, r2, r3}}",
                "smlad {a2}, {w}, r0, {a2}",
                "smlad {a2}, r7, r1, {a2}",
                "smlad {a3}, {w}, r2, {a3}",
                "smlad {a3}, r7, r3, {a3}",
                "ldr {w}, [{wp}], #4",
                "sxtb16 r7, {w}, ror #8",
                "sxtb16 {w}, {w}",
                "ldm {xp}!, {{r0, r1, r2, r3}}",
                "smlad {a0}, {w}, r0, {a0}",
                "smlad {a0}, r7, r1, {a0}",
                "smlad {a1}, {w}, r2, {a1}",
                "smlad {a1}, r7, r3, {a1}",
                "ldm {xp}!, {{r0, r1, r2, r3}}",
                "smlad {a2}, {w}, r0, {a2}",
                "smlad {a2}, r7, r1, {a2}",
                "smlad {a3}, {w}, r2, {a3}",
                "smlad {a3}, r7, r3, {a3}",
                "cmp {wp}, {wend}",
                "bne 2b",
                "pop {{r7}}",
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                wp = inout(reg) wp => _,
                xp = inout(reg) xp => _,
                wend = in(reg) wp.wrapping_add(body),
                w = out(reg) _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                options(readonly),
            );
        }
        a = [a0, a1, a2, a3];
    }
    a
}

/// `acc[i] + sum_t w[t * ws + i] * tap_t[c0 + i]` over the taps `ptrs`
/// ([`super::dsp::lanes::TapRows::taps4`]).
///
/// # Safety
/// Every entry of `ptrs` starts at least `c0 + 4` readable bytes, and
/// `pw + t * ws` four readable bytes for every `t < ptrs.len()`.
#[inline(always)]
pub unsafe fn taps4(
    ptrs: &[*const i8],
    pw: *const i8,
    ws: usize,
    c0: usize,
    acc: [i32; 4],
) -> [i32; 4] {
    let n = ptrs.len();
    if n == 0 {
        return acc;
    }
    let tp = ptrs.as_ptr();
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    // SAFETY: the loop runs `n >= 1` times, reading table entries
    // `0..n` (`n <= MAX_TAPS`, inside `ptrs`); entry `t` starts
    // `len >= c0 + 4` readable bytes (the `TapRows` invariant,
    // `lanes_in`), so the word at `ptr + c0` is in bounds (unaligned
    // LDR is allowed on v7-M/v8-M.main); the weight word of tap `t`
    // is at `w + c0 + t * ws`, `+ 4 <= w.len()` by `fits`. r7 (the
    // frame pointer, which asm! may not name) is saved and restored
    // around the loop. SXTB16 and SMLAxy are guaranteed by the
    // `fastvit_dsp` cfg.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            "2:",
            "ldr {x}, [{tp}], #4",
            "ldr {x}, [{x}, {c0}]",
            "ldr {w}, [{pw}]",
            "add {pw}, {pw}, {ws}",
            "sxtb16 r7, {x}",
            "sxtb16 {t}, {w}",
            "smlabb {a0}, r7, {t}, {a0}",
            "smlatt {a2}, r7, {t}, {a2}",
            "sxtb16 r7, {x}, ror #8",
            "sxtb16 {t}, {w}, ror #8",
            "smlabb {a1}, r7, {t}, {a1}",
            "smlatt {a3}, r7, {t}, {a3}",
            "cmp {tp}, {tend}",
            "bne 2b",
            "pop {{r7}}",
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            tp = inout(reg) tp => _,
            tend = in(reg) tp.wrapping_add(n),
            pw = inout(reg) pw => _,
            ws = in(reg) ws,
            c0 = in(reg) c0,
            x = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            options(readonly),
        );
    }
    [a0, a1, a2, a3]
}
