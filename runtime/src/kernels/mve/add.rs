//! The add's table form on Helium, four elements a step ([`add_tables4`]).

/// [`add_tables4`]'s loop with `$scale` (the high-word multiply, and for
/// `s > 0` the rounding shift by the extra operands `$op`) between the sum
/// of the two gathered rescales and the zero point.
macro_rules! add_loop {
    ($m:expr, $n:expr, $a:expr, $b:expr, $out:expr, $ta:expr, $tb:expr, $zp:expr;
     [$($scale:literal),*]; $($op:tt)*) => {
        core::arch::asm!(
            "vdup.32 q4, {m}",
            "dls lr, {n}",
            "2:",
            "vldrb.u32 q0, [r0], #4",
            "vldrb.u32 q1, [r1], #4",
            "vldrw.u32 q2, [{ta}, q0, uxtw #2]",
            "vldrw.u32 q3, [{tb}, q1, uxtw #2]",
            "vadd.i32 q2, q2, q3",
            $($scale,)*
            "vadd.i32 q2, q2, {zp}",
            "vqshl.s32 q2, q2, #24",
            "vshr.s32 q2, q2, #24",
            "vstrb.32 q2, [r2], #4",
            "le lr, 2b",
            m = in(reg) $m,
            n = in(reg) $n,
            inout("r0") $a.as_ptr() => _,
            inout("r1") $b.as_ptr() => _,
            inout("r2") $out.as_mut_ptr() => _,
            ta = in(reg) $ta.as_ptr(),
            tb = in(reg) $tb.as_ptr(),
            zp = in(reg) $zp,
            $($op)*
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _,
            out("d5") _, out("d6") _, out("d7") _, out("d8") _, out("d9") _,
            options(nostack, preserves_flags),
        )
    };
}

/// The add's table form (`add::AddTables::run`) four elements a step, for
/// rescaled sums that never saturate and `t = 31 - out_shift >= 32` (`s = t -
/// 32`): the two rescales by `VLDRW` gathers from the 256-word tables
/// (indices `VLDRB.U32`, the operands as `u8`), `VADD`, then `VMULH` +
/// `VRSHL` by `-s` (`VRMULH` for `s = 0`) as
/// [`finish_px4`](super::finish_px4), `+ zp`, `VQSHL #24` + `VSHR #24`, one
/// `VSTRB` (12 instructions per four elements against 15 per element).
/// Returns the elements done (the common length rounded down to 4); the
/// caller does the rest.
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
            add_loop!(multiplier, n, a, b, out, ta, tb, out_zp; ["vrmulh.s32 q2, q2, q4"];);
        } else {
            add_loop!(
                multiplier, n, a, b, out, ta, tb, out_zp;
                ["vmulh.s32 q2, q2, q4", "vrshl.s32 q2, {neg}"];
                neg = in(reg) -(s as i32),
            );
        }
    }
    4 * n
}
