//! The 1x1 conv on Helium: one weight row against four pixels by
//! `VMLADAVA.S8` ([`dot_px4`]), one channel's four outputs requantized in one
//! vector ([`finish_px4`]), and blocks of channels in two `asm!` loops
//! ([`tile_px4`]).

use super::{Px4, IDENTITY};

/// Output channels per [`dot_rows_px4`] tile.
pub const ROWS: usize = 1;

/// Same contract as [`crate::kernels::portable::dot_px4`].
#[inline]
pub fn dot_px4(p: &Px4<'_>, w: &[i8]) -> [i32; 4] {
    let [x0, x1, x2, x3] = p.rows();
    let cin = x0.len();
    let mut a = [0i32; 4];
    // Checked (never short: `prepare_px4` splits four `cin`-long pixels):
    // no panic path where a caller's bounds are not visible to the
    // optimizer (the board no-panic check; `wide_pointwise::widen_row`).
    let (Some(w), Some(x1), Some(x2), Some(x3)) =
        (w.get(..cin), x1.get(..cin), x2.get(..cin), x3.get(..cin))
    else {
        return a;
    };
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

/// [`finish_px4`]'s `asm!` with `$scale` (the high-word multiply, and for
/// `s > 0` the rounding shift by the extra operands `$op`) between the
/// bias and the zero point.
macro_rules! finish_px4_asm {
    ($d0:expr, $d1:expr, $d2:expr, $d3:expr, $bias:expr, $m:expr, $zp:expr, $table:expr,
     $base:expr, $cout:expr; [$($scale:literal),*]; $($op:tt)*) => {
        core::arch::asm!(
            "vmov q0[2], q0[0], {d0}, {d2}",
            "vmov q0[3], q0[1], {d1}, {d3}",
            "vadd.i32 q0, q0, {bias}",
            "vdup.32 q1, {m}",
            $($scale,)*
            "vadd.i32 q0, q0, {zp}",
            "vmov.i32 q1, #0",
            "vmax.s32 q0, q0, q1",
            "vmov.i32 q1, #255",
            "vmin.s32 q0, q0, q1",
            "vldrb.u32 q1, [{table}, q0]",
            "vidup.u32 q2, r0, #1",
            "vmul.i32 q2, q2, {cout}",
            "vstrb.32 q1, [{base}, q2]",
            d0 = in(reg) $d0, d1 = in(reg) $d1, d2 = in(reg) $d2, d3 = in(reg) $d3,
            bias = in(reg) $bias, m = in(reg) $m, zp = in(reg) $zp,
            table = in(reg) $table, base = in(reg) $base, cout = in(reg) $cout,
            $($op)*
            inout("r0") 0u32 => _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _, out("d4") _, out("d5") _,
            options(nostack, preserves_flags),
        )
    };
}

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
            finish_px4_asm!(d0, d1, d2, d3, bias, multiplier, zp128, table, base, cout;
                ["vrmulh.s32 q0, q0, q1"];);
        } else {
            finish_px4_asm!(d0, d1, d2, d3, bias, multiplier, zp128, table, base, cout;
                ["vmulh.s32 q0, q0, q1", "vrshl.s32 q0, {neg}"]; neg = in(reg) -s,);
        }
    }
    true
}

/// One pixel's four channels in [`tile_px4`]'s requantization loop: the
/// sums `VLDRW` from `$sums`, plus the biases (q4), `VMULH` by the
/// multipliers (q5), `VRSHL` by the shifts (q6), plus the zero point (q2),
/// clamped to `-128..=127` by `VQSHL #24` + `VSHR #24`, gathered from the
/// table's middle and stored to `$out`.
#[rustfmt::skip]
macro_rules! requant_px {
    ($sums:literal, $out:literal) => {
        concat!(
            "vldrw.u32 q0, ", $sums, "\n",
            "vadd.i32 q0, q0, q4\n",
            "vmulh.s32 q0, q0, q5\n",
            "vrshl.s32 q0, q0, q6\n",
            "vadd.i32 q0, q0, q2\n",
            "vqshl.s32 q0, q0, #24\n",
            "vshr.s32 q0, q0, #24\n",
            "vldrb.u32 q1, [{table}, q0]\n",
            "vstrb.32 q1, ", $out, "\n",
        )
    };
}

/// Output channels per [`tile_px4`] block: the sums of a block are parked
/// in a 512-byte stack buffer, 128 bytes a pixel.
const BLOCK: usize = 32;

/// A 1x1 tile of four pixels (`x`: `4 * cin`, pixel-major) for output
/// channels `0..done`, written to `out[p * cout + o]`; returns `done`, a
/// multiple of 4 (0 when declined), and the caller computes channels
/// `done..cout` by [`dot_px4`] and [`finish_px4`]. Blocks of up to [`BLOCK`]
/// channels in two `asm!` loops, so no Rust runs per channel: the sums of
/// every channel (the first 16 inputs by `VMLADAV`, which zeroes the four
/// accumulators, then `VMLADAVA` as in [`dot_px4`], the four pixel pointers
/// rewound per channel, four steps a loop pass ([`long_sums`]); for `cin <=
/// 112` by [`short_sums`], unrolled at fixed pixel offsets) parked
/// pixel-major, then four channels x four pixels
/// a step requantized as in [`finish16`](super::finish16) (one load each of
/// four biases, multipliers and shifts for four pixels), clamped by `VQSHL
/// #24` + `VSHR #24` and gathered from the table's middle. Only for `cin` a
/// multiple of 16; a block with a shift outside `-31..=-2` ends the run (its
/// bytes are rewritten by the caller).
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
        let w = weights.as_ptr().wrapping_add(o0 * cin);
        if steps <= SHORT_STEPS {
            // SAFETY: `nb` weight rows of `cin = 16 * steps` bytes from
            // `w` (inside `weights`, checked above), the four pixels' `cin`
            // bytes (inside `x`), `nb <= 32` sums per pixel into `sums`.
            unsafe { short_sums(steps, w, [xp, x1, x2, x3], buf, nb) };
        } else {
            // SAFETY: as for `short_sums`, for `cin = 16 * steps > 112`.
            unsafe { long_sums(steps, w, [xp, x1, x2, x3], buf, nb) };
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
                requant_px!("[{acc}, #128]", "[r1], #4"),
                requant_px!("[{acc}, #256]", "[r2], #4"),
                requant_px!("[{acc}, #384]", "[r3], #4"),
                requant_px!("[{acc}], #16", "[r0], #4"),
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

/// Most 16-input steps [`short_sums`] unrolls (`cin <= 112`: the pixel
/// offsets stay inside `VLDRB`'s 7-bit immediate).
const SHORT_STEPS: usize = 7;

/// One 16-input step of [`short_sums`] at byte offset `$off` of the four
/// pixels (`$op`: `vmladav` for the first step, `vmladava` after).
macro_rules! short_step {
    ($op:literal, $off:literal) => {
        concat!(
            "vldrb.u8 q0, [{w}], #16\n",
            "vldrb.u8 q1, [{x0}, #",
            $off,
            "]\n",
            $op,
            ".s8 r0, q0, q1\n",
            "vldrb.u8 q1, [{x1}, #",
            $off,
            "]\n",
            $op,
            ".s8 r2, q0, q1\n",
            "vldrb.u8 q1, [{x2}, #",
            $off,
            "]\n",
            $op,
            ".s8 r4, q0, q1\n",
            "vldrb.u8 q1, [{x3}, #",
            $off,
            "]\n",
            $op,
            ".s8 r8, q0, q1\n",
        )
    };
}

/// [`short_sums`] for one step count: the channel loop with the steps
/// unrolled at fixed pixel offsets (`$off`: the second step's on).
macro_rules! short_loop {
    ($n:expr, $w:expr, $x:expr, $buf:expr; $($off:literal),*) => {
        core::arch::asm!(
            "dls lr, {n}",
            "3:",
            short_step!("vmladav", "0"),
            $(short_step!("vmladava", $off),)*
            "str r2, [{buf}, #128]",
            "str r4, [{buf}, #256]",
            "str r8, [{buf}, #384]",
            "str r0, [{buf}], #4",
            "le lr, 3b",
            n = in(reg) $n,
            w = inout(reg) $w => _,
            x0 = in(reg) $x[0],
            x1 = in(reg) $x[1],
            x2 = in(reg) $x[2],
            x3 = in(reg) $x[3],
            buf = inout(reg) $buf => _,
            out("r0") _,
            out("r2") _,
            out("r4") _,
            out("r8") _,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            options(nostack, preserves_flags),
        )
    };
}

/// The first loop of [`tile_px4`] for `cin = 16 * steps <= 112`: per
/// channel every step unrolled, the pixels read at fixed offsets (`VLDRB`
/// immediates) so no pointer is rewound, the channels counted by `LE`
/// (9 instructions per 64 MACs + 5 per channel, against 10 + 15 rolled);
/// the sums of channel `j` of the block go to `buf[p * 32 + j]`.
///
/// # Safety
///
/// `1 <= steps <= SHORT_STEPS`, `nb >= 1`; `w` starts `nb * 16 * steps`
/// readable bytes, each of `x` `16 * steps`, and `buf` 512 writable bytes
/// (`nb <= 32`).
#[inline(always)]
unsafe fn short_sums(steps: usize, w: *const i8, x: [*const i8; 4], buf: *mut i32, nb: usize) {
    // SAFETY: the caller's contract: each step reads 16 bytes of the
    // weight row (post-incremented, `nb` rows in a row) and of each pixel
    // at offsets below `16 * steps`; each channel writes four words at
    // `buf + j` and `+ 32, 64, 96` words. `VLDRB.U8` needs no alignment;
    // the low-overhead loop runs exactly `nb >= 1` times. q0 and q1
    // (d0-d3) are declared clobbered. MVE is guaranteed by the
    // `fastvit_mve` cfg.
    unsafe {
        match steps {
            1 => short_loop!(nb, w, x, buf;),
            2 => short_loop!(nb, w, x, buf; "16"),
            3 => short_loop!(nb, w, x, buf; "16", "32"),
            4 => short_loop!(nb, w, x, buf; "16", "32", "48"),
            5 => short_loop!(nb, w, x, buf; "16", "32", "48", "64"),
            6 => short_loop!(nb, w, x, buf; "16", "32", "48", "64", "80"),
            _ => short_loop!(nb, w, x, buf; "16", "32", "48", "64", "80", "96"),
        }
    }
}

/// One 16-input step of [`long_sums`], the pointers post-incremented
/// (`$op`: `vmladav` for the first step, `vmladava` after).
macro_rules! long_step {
    ($op:literal) => {
        concat!(
            "vldrb.u8 q0, [{w}], #16\n",
            "vldrb.u8 q1, [{x0}], #16\n",
            $op,
            ".s8 r0, q0, q1\n",
            "vldrb.u8 q1, [{x1}], #16\n",
            $op,
            ".s8 r2, q0, q1\n",
            "vldrb.u8 q1, [{x2}], #16\n",
            $op,
            ".s8 r4, q0, q1\n",
            "vldrb.u8 q1, [{x3}], #16\n",
            $op,
            ".s8 r8, q0, q1\n",
        )
    };
}

/// [`long_sums`]'s channel loop: the first step peeled, then `$odd` (up to
/// three more steps), then the rest four steps a pass (`passes` passes);
/// the sums stored and the pixel pointers rewound by `cin`.
macro_rules! long_loop {
    ($passes:expr, $cin:expr, $n:expr, $w:expr, $x:expr, $buf:expr; $($odd:tt)*) => {
        core::arch::asm!(
            "vmov s28, r0",
            "vmov s29, r2",
            "vmov s30, r4",
            "3:",
            long_step!("vmladav"),
            $($odd)*
            "vmov lr, s28",
            "wls lr, lr, 5f",
            "4:",
            long_step!("vmladava"),
            long_step!("vmladava"),
            long_step!("vmladava"),
            long_step!("vmladava"),
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
            w = inout(reg) $w => _,
            x0 = inout(reg) $x[0] => _,
            x1 = inout(reg) $x[1] => _,
            x2 = inout(reg) $x[2] => _,
            x3 = inout(reg) $x[3] => _,
            buf = inout(reg) $buf => _,
            inout("r0") $passes => _,
            inout("r2") $cin => _,
            inout("r4") $buf.wrapping_add($n) => _,
            out("r8") _,
            out("r12") _,
            out("lr") _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            out("d14") _, out("d15") _,
            options(nostack),
        )
    };
}

/// The first loop of [`tile_px4`] for `cin = 16 * steps > 112`: per
/// channel the first step (`VMLADAV`, which zeroes the four accumulators)
/// and `(steps - 1) % 4` more peeled, the rest four steps a low-overhead
/// loop pass (37 instructions per 256 MACs against 40), the sums of channel
/// `j` of the block to `buf[p * 32 + j]`, the four pixel pointers rewound
/// by `cin` per channel.
///
/// # Safety
///
/// `steps >= 1`, `nb >= 1`; `w` starts `nb * 16 * steps` readable bytes,
/// each of `x` `16 * steps`, and `buf` 512 writable bytes (`nb <= 32`).
#[inline(always)]
unsafe fn long_sums(steps: usize, w: *const i8, x: [*const i8; 4], buf: *mut i32, nb: usize) {
    let (passes, cin) = ((steps - 1) / 4, 16 * steps);
    // SAFETY: the caller's contract: per channel `steps` reads of 16 bytes
    // of the weight row (post-incremented, `nb` rows in a row) and of each
    // pixel (post-incremented, then rewound by `cin`: every read is below
    // `16 * steps`), the low-overhead loop `passes` times (`WLS` skips it
    // for 0); four words written at `buf + j` and `+ 32, 64, 96` words for
    // `j < nb`. q0, q1 and q7 (s28-s30 hold the loop state) are declared
    // clobbered, and the flags (no `preserves_flags`). MVE is guaranteed by
    // the `fastvit_mve` cfg.
    unsafe {
        match (steps - 1) % 4 {
            0 => long_loop!(passes, cin, nb, w, x, buf;),
            1 => long_loop!(passes, cin, nb, w, x, buf; long_step!("vmladava"),),
            2 => long_loop!(
                passes, cin, nb, w, x, buf;
                long_step!("vmladava"), long_step!("vmladava"),
            ),
            _ => long_loop!(
                passes, cin, nb, w, x, buf;
                long_step!("vmladava"), long_step!("vmladava"), long_step!("vmladava"),
            ),
        }
    }
}
