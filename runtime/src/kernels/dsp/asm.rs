//! The DSP instructions as inline `asm!` (Cortex-M4/M7/M33, selected in
//! [`crate::kernels`] by the `fastvit_dsp` cfg), and the loops that are
//! written in them directly. `model.rs` is the bit-exact software twin.

use super::dsp::{Finish, Weights};

/// One weight word against four pixels of prepared words ([`dot_px4_body`],
/// [`block_sums`]): the odd-lane weights to `$hi` (`SXTB16 ROR #8`), the
/// even ones in place in `$lo`, then two four-register input `LDM`s from
/// `$xp`, each feeding two accumulators by two `SMLAD`s (pixels 0, 1 into
/// `$a0`, `$a1`; pixels 2, 3 into `$a2`, `$a3`). r0-r3 hold the inputs.
#[rustfmt::skip]
macro_rules! px4_word {
    ($xp:literal, $lo:literal, $hi:literal, $a0:literal, $a1:literal, $a2:literal, $a3:literal) => {
        concat!(
            "sxtb16 ", $hi, ", ", $lo, ", ror #8\n",
            "sxtb16 ", $lo, ", ", $lo, "\n",
            px4_word!(@pair $xp, $lo, $hi, $a0, $a1),
            px4_word!(@pair $xp, $lo, $hi, $a2, $a3),
        )
    };
    (@pair $xp:literal, $lo:literal, $hi:literal, $a:literal, $b:literal) => {
        concat!(
            "ldm ", $xp, "!, {{r0, r1, r2, r3}}\n",
            "smlad ", $a, ", ", $lo, ", r0, ", $a, "\n",
            "smlad ", $a, ", ", $hi, ", r1, ", $a, "\n",
            "smlad ", $b, ", ", $lo, ", r2, ", $b, "\n",
            "smlad ", $b, ", ", $hi, ", r3, ", $b, "\n",
        )
    };
}

/// One tap of a depthwise tap loop ([`taps4`], [`depthwise_groups`]): the
/// next table entry from `$tp`, its input word at `+ $c0`, the weight word
/// at `$pw` (then advanced by `$ws`), both split by `SXTB16` (r7 holds the
/// input lanes) and multiplied lane by lane (`SMLABB`/`SMLATT`) into
/// `$a0..$a3`. `$x`, `$w`, `$t` are scratch.
#[rustfmt::skip]
macro_rules! tap_step {
    ($tp:literal, $c0:literal, $pw:literal, $ws:literal, $x:literal, $w:literal, $t:literal,
     $a0:literal, $a1:literal, $a2:literal, $a3:literal) => {
        concat!(
            "ldr ", $x, ", [", $tp, "], #4\n",
            "ldr ", $x, ", [", $x, ", ", $c0, "]\n",
            "ldr ", $w, ", [", $pw, "]\n",
            "add ", $pw, ", ", $pw, ", ", $ws, "\n",
            "sxtb16 r7, ", $x, "\n",
            "sxtb16 ", $t, ", ", $w, "\n",
            "smlabb ", $a0, ", r7, ", $t, ", ", $a0, "\n",
            "smlatt ", $a2, ", r7, ", $t, ", ", $a2, "\n",
            "sxtb16 r7, ", $x, ", ror #8\n",
            "sxtb16 ", $t, ", ", $w, ", ror #8\n",
            "smlabb ", $a1, ", r7, ", $t, ", ", $a1, "\n",
            "smlatt ", $a3, ", r7, ", $t, ", ", $a3, "\n",
        )
    };
}

/// The whole tap loop of [`taps4`] and [`depthwise_groups`], four taps a
/// pass entered at the tap block that leaves a multiple of four (Duff's
/// device: `$x` holds `n % 4` on entry), until `$tp` meets `$tend`.
/// The other arguments as [`tap_step`]'s.
#[rustfmt::skip]
macro_rules! tap_loop {
    ($tp:literal, $tend:literal, $c0:literal, $pw:literal, $ws:literal, $x:literal, $w:literal,
     $t:literal, $a0:literal, $a1:literal, $a2:literal, $a3:literal) => {
        concat!(
            "cmp ", $x, ", #1\n",
            "beq 5f\n",
            "cmp ", $x, ", #2\n",
            "beq 4f\n",
            "cmp ", $x, ", #3\n",
            "beq 3f\n",
            "2:\n",
            tap_step!($tp, $c0, $pw, $ws, $x, $w, $t, $a0, $a1, $a2, $a3),
            "3:\n",
            tap_step!($tp, $c0, $pw, $ws, $x, $w, $t, $a0, $a1, $a2, $a3),
            "4:\n",
            tap_step!($tp, $c0, $pw, $ws, $x, $w, $t, $a0, $a1, $a2, $a3),
            "5:\n",
            tap_step!($tp, $c0, $pw, $ws, $x, $w, $t, $a0, $a1, $a2, $a3),
            "cmp ", $tp, ", ", $tend, "\n",
            "bne 2b",
        )
    };
}

/// An `asm!` block on four i32 accumulators held in registers, with r7
/// (the frame pointer, which asm! may not name) free for the body: pushed
/// before the `$body` template lines and popped after them. `{a0}`..`{a3}`
/// name `$acc`'s four lanes (in and out), `$operands` are the rest; the
/// value is the four sums. [`dot_px4_body`] and [`taps4`] share it: their
/// SAFETY comments cover their bodies, their `unsafe` blocks wrap it.
macro_rules! acc4_asm {
    ($acc:expr, [$($body:tt)*], [$($operands:tt)*]) => {{
        let [mut a0, mut a1, mut a2, mut a3]: [i32; 4] = $acc;
        core::arch::asm!(
            "push {{r7}}",
            $($body)*
            "pop {{r7}}",
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            $($operands)*
        );
        [a0, a1, a2, a3]
    }};
}

/// An `asm!` block that takes the whole register file ([`block_sums`],
/// [`depthwise_groups`]): the `$template` (which pushes and pops r6 and r7
/// itself, as asm! may not name them) and `$operands` as given, plus r5 and
/// r8-r12, their scratch, declared clobbered. Their SAFETY comments cover
/// the template; their `unsafe` blocks wrap it.
macro_rules! whole_file_asm {
    ([$($template:tt)*], [$($operands:tt)*]) => {
        core::arch::asm!(
            $($template)*
            $($operands)*
            out("r5") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
        )
    };
}

/// One channel's requantization in [`depthwise_groups`]: the multiplier
/// halfword and shift byte at `r1`/`r2` + `$m`/`$s` (`""` or `", #{m1}"`
/// and the like), out to `9f` for a shift outside `-31..=-2`, then
/// `SMULWB`, `ASR`, the zero point (r5), `SSAT #8, ASR #1`, the table (r7)
/// and the byte stored at `r12 + $s`.
#[rustfmt::skip]
macro_rules! group_finish {
    ($acc:literal, $m:literal, $s:literal) => {
        concat!(
            "ldrsh r3, [r1", $m, "]\n",
            "ldrb r4, [r2", $s, "]\n",
            "rsb r4, r4, #254\n",
            "cmp r4, #29\n",
            "bhi 9f\n",
            "smulwb ", $acc, ", ", $acc, ", r3\n",
            "asr ", $acc, ", ", $acc, ", r4\n",
            "add ", $acc, ", ", $acc, ", r5\n",
            "ssat ", $acc, ", #8, ", $acc, ", asr #1\n",
            "ldrb ", $acc, ", [r7, ", $acc, "]\n",
            "strb ", $acc, ", [r12", $s, "]\n",
        )
    };
}

/// The channel loop of [`block_finish`] and [`block_finish16`]: per
/// channel one `LDM` of its four sums (r0), the multiplier halfword (r1)
/// and shift byte (r2), `SMULWB`, `ASR` by `254 - shift byte`, the zero
/// point (r4), then `$tail` (clamp, map and store the four values in
/// r8-r11 through the pixel-0 and pixel-2 pointers r6 and r7, which asm!
/// may not name: pushed, loaded from r8/r9 and popped here) until r0
/// reaches `buf + 4 * nb` (lr). `$operands` give r8, r9 (the two output
/// pointers), r12 (the pixel stride) and anything `$tail` reads. Their
/// SAFETY comments cover the whole template; their `unsafe` blocks wrap it.
macro_rules! block_finish_asm {
    ($buf:expr, $nb:expr, $f:expr, [$($tail:literal),* $(,)?], [$($operands:tt)*]) => {
        core::arch::asm!(
            "push {{r6, r7}}",
            "mov r6, r8",
            "mov r7, r9",
            "1:",
            "ldm r0!, {{r8, r9, r10, r11}}",
            "ldrsh r3, [r1], #2",
            "smulwb r8, r8, r3",
            "smulwb r9, r9, r3",
            "smulwb r10, r10, r3",
            "smulwb r11, r11, r3",
            "ldrb r3, [r2], #1",
            "rsb r3, r3, #254",
            "asr r8, r8, r3",
            "asr r9, r9, r3",
            "asr r10, r10, r3",
            "asr r11, r11, r3",
            "add r8, r8, r4",
            "add r9, r9, r4",
            "add r10, r10, r4",
            "add r11, r11, r4",
            $($tail,)*
            "cmp r0, lr",
            "bne 1b",
            "pop {{r6, r7}}",
            inout("r0") $buf => _,
            inout("r1") $f.mult => _,
            inout("r2") $f.shift => _,
            out("r3") _,
            in("r4") $f.zp2,
            out("r10") _,
            out("r11") _,
            inout("lr") $buf.wrapping_add(4 * $nb) => _,
            $($operands)*
        )
    };
}

/// An `SXTB16` form as a function of one register: `$template` reads `{x}`
/// and writes `{r}`.
macro_rules! sxtb16_fn {
    ($(#[$doc:meta])* $name:ident, $template:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(x: u32) -> u32 {
            let r: u32;
            // SAFETY: a register-to-register instruction of the DSP
            // extension, which the `fastvit_dsp` cfg guarantees; no memory,
            // stack or flags.
            unsafe {
                core::arch::asm!($template, r = lateout(reg) r, x = in(reg) x,
                    options(pure, nomem, nostack, preserves_flags));
            }
            r
        }
    };
}

sxtb16_fn!(
    /// Bytes 0 and 2 of `x`, sign-extended to the two halfwords of the result.
    sxtb16,
    "sxtb16 {r}, {x}"
);
sxtb16_fn!(
    /// Bytes 1 and 3 of `x`, sign-extended (`SXTB16` with `ROR #8`).
    sxtb16_ror8,
    "sxtb16 {r}, {x}, ror #8"
);

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
        a = unsafe {
            acc4_asm!(a, [
                "2:",
                "ldr {w}, [{wp}], #4",
                px4_word!("{xp}", "{w}", "r7", "{a0}", "{a1}", "{a2}", "{a3}"),
                "ldr {w}, [{wp}], #4",
                px4_word!("{xp}", "{w}", "r7", "{a0}", "{a1}", "{a2}", "{a3}"),
                "cmp {wp}, {wend}",
                "bne 2b",
            ], [
                wp = inout(reg) wp => _,
                xp = inout(reg) xp => _,
                wend = in(reg) wp.wrapping_add(body),
                w = out(reg) _,
                out("r0") _,
                out("r1") _,
                out("r2") _,
                out("r3") _,
                options(readonly),
            ])
        };
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
    // SAFETY: the loop runs over table entries `0..n` exactly (`n >= 1`,
    // `n <= MAX_TAPS`, inside `ptrs`): four taps a pass, entered at the
    // tap block that leaves a multiple of four (`n % 4` taps in the first
    // pass, Duff's device), so `tp` meets `tend` only at a pass end;
    // entry `t` starts `len >= c0 + 4` readable bytes (the `TapRows`
    // invariant, `lanes_in`), so the word at `ptr + c0` is in bounds
    // (unaligned LDR is allowed on v7-M/v8-M.main); the weight word of tap
    // `t` is at `w + c0 + t * ws`, `+ 4 <= w.len()` by `fits`. r7 (the
    // frame pointer, which asm! may not name) is saved and restored
    // around the loop; the flags are clobbered. SXTB16 and SMLAxy are
    // guaranteed by the `fastvit_dsp` cfg.
    unsafe {
        acc4_asm!(acc, [
            "and {x}, {x}, #3",
            tap_loop!("{tp}", "{tend}", "{c0}", "{pw}", "{ws}", "{x}", "{w}", "{t}", "{a0}", "{a1}", "{a2}", "{a3}"),
        ], [
            tp = inout(reg) tp => _,
            tend = in(reg) tp.wrapping_add(n),
            pw = inout(reg) pw => _,
            ws = in(reg) ws,
            c0 = in(reg) c0,
            x = inout(reg) n => _,
            w = out(reg) _,
            t = out(reg) _,
            options(readonly),
        ])
    }
}

/// The sums of `nb` output channels x four pixels, parked channel-major in
/// `buf` (`buf[4 * j + p]`), each started at its folded bias: one `asm!`
/// loop over the channels, so no Rust runs per channel. Per 16 input
/// channels: one two-word weight `LDM`, four `SXTB16`, eight four-register
/// input `LDM`s, 32 `SMLAD` and the loop test (52 instructions for 64
/// MACs); per channel 12 more (the state by one `LDM` and one `LDRD`,
/// bias, pointer reset, one `STM` of the four sums).
///
/// # Safety
/// With `ws` = `(w, cin, bias)`: `w` is word-aligned and starts `nb * cin`
/// readable bytes (the block's OHWI rows), `words` is word-aligned and
/// starts `2 * cin` readable words ([`super::dsp::prepare_px4`]), `bias`
/// starts `4 * nb` readable bytes, `buf` `4 * nb` writable words; `nb >=
/// 1`, `cin >= 16` a multiple of 16.
#[inline(always)]
pub unsafe fn block_sums(ws: Weights, words: *const u32, buf: *mut i32, nb: usize) {
    let Weights { w, c: cin, bias } = ws;
    let xend = words.wrapping_add(2 * cin);
    // SAFETY: the caller's contract. Channel `j` reads its row
    // `w + j * cin .. + cin` by two-word `LDM`s (rows are `cin` bytes,
    // a multiple of 16, so every `LDM` stays word-aligned) and the
    // `2 * cin` words `xend - 2 * cin .. xend` by four-word `LDM`s, the
    // loop ending exactly at `xend`; it reads `bias + 4 * j` (unaligned
    // `LDR` is allowed on v7-M/v8-M.main) and writes `buf + 4 * j .. + 4`
    // by one `STM`, the channel loop ending exactly at `buf + 4 * nb`. The
    // loop state (bias and buffer pointers, buffer end, `8 * cin`) lives in
    // four stack words pushed with r6 and r7 (which asm! may not name) and
    // popped before the end; every other register it uses is declared
    // clobbered, and the flags. DSP instructions: the `fastvit_dsp` cfg.
    unsafe {
        whole_file_asm!([
            "push {{r0, r1, r2, r3, r6, r7}}",
            "1:",
            "ldm sp, {{r0, r1, r2, r3}}",
            "ldr r8, [r0], #4",
            "str r0, [sp]",
            "mov r9, r8",
            "mov r10, r8",
            "mov r11, r8",
            "sub r5, lr, r3",
            "2:",
            "ldm r4!, {{r6, r12}}",
            px4_word!("r5", "r6", "r7", "r8", "r9", "r10", "r11"),
            px4_word!("r5", "r12", "r7", "r8", "r9", "r10", "r11"),
            "ldm r4!, {{r6, r12}}",
            px4_word!("r5", "r6", "r7", "r8", "r9", "r10", "r11"),
            px4_word!("r5", "r12", "r7", "r8", "r9", "r10", "r11"),
            "cmp r5, lr",
            "bne 2b",
            "ldrd r1, r2, [sp, #4]",
            "stm r1!, {{r8, r9, r10, r11}}",
            "str r1, [sp, #4]",
            "cmp r1, r2",
            "bne 1b",
            "add sp, #16",
            "pop {{r6, r7}}",
        ], [
            inout("r0") bias => _,
            inout("r1") buf => _,
            inout("r2") buf.wrapping_add(4 * nb) => _,
            inout("r3") 8 * cin => _,
            inout("r4") w => _,
            inout("lr") xend => _,
        ]);
    }
}

/// Requantizes, maps and stores the `nb` channels x four pixels that
/// [`block_sums`] parked in `buf`: for `t = 31 - shift` in `33..=62` the
/// reference's `(hi + 2^(t-33)) >> (t-32)` with `hi` the high word of
/// `acc * (m16 << 16)`, i.e. `SMULWB(acc, m16)`, is `((hi >> u) + 1) >> 1` with
/// `u = t - 33` (nested floors), so with the zero point folded in as
/// `zp2 = 2 * zp + 1`: `SMULWB`, `ASR`, `ADD`, `SSAT #8, ASR #1`, the table
/// byte and the store, 6 instructions an output; per channel one `LDM` of
/// its four sums, the multiplier, the shift and the loop test (34
/// instructions for four outputs). The shift byte is loaded zero-extended
/// and `u` formed as `254 - byte` (one `RSB`): its low byte is that of
/// `-2 - shift`, and `ASR` by a register reads only the low byte.
///
/// # Safety
/// `buf` starts `4 * nb` readable words, `f.mult` `2 * nb` bytes, `f.shift`
/// `nb` bytes (each in `-31..=-2` for the reference's bits; any value is
/// memory-safe); `f.table` is the middle
/// (`+ 128`) of a 256-byte table; `f.out + p * cout + j` is writable for
/// `p < 4`, `j < nb`; `nb >= 1`, `f.zp2` odd and small (`|zp2| < 2^20`).
#[inline(always)]
pub unsafe fn block_finish(buf: *const i32, nb: usize, f: Finish, cout: usize) {
    // SAFETY: the caller's contract. Channel `j` reads `buf + 4 * j .. + 4`
    // (one `LDM`; the loop ends exactly at `buf + 4 * nb`), the halfword
    // `mult + 2 * j` (unaligned `LDRSH` is allowed) and the byte `shift +
    // j`; whatever `u = 254 - shift byte` is, `SSAT` clamps to
    // `-128..=127`, so the table read stays inside `table - 128 .. + 128`;
    // it writes `out + j`, `+ cout`, `+ 2 * cout`, `+ 3 * cout` (r6 and
    // r7, which asm! may not name, hold the pixel-0 and pixel-2 pointers:
    // pushed, loaded from r8/r9 and popped before the end). Every other
    // register it uses is declared clobbered, and the flags. DSP
    // instructions: the `fastvit_dsp` cfg.
    unsafe {
        block_finish_asm!(
            buf,
            nb,
            f,
            [
                "ssat r8, #8, r8, asr #1",
                "ssat r9, #8, r9, asr #1",
                "ssat r10, #8, r10, asr #1",
                "ssat r11, #8, r11, asr #1",
                "ldrb r8, [r5, r8]",
                "ldrb r9, [r5, r9]",
                "ldrb r10, [r5, r10]",
                "ldrb r11, [r5, r11]",
                "strb r9, [r6, r12]",
                "strb r8, [r6], #1",
                "strb r11, [r7, r12]",
                "strb r10, [r7], #1",
            ],
            [
                in("r5") f.table,
                inout("r8") f.out => _,
                inout("r9") f.out.wrapping_add(2 * cout) => _,
                in("r12") cout,
            ]
        );
    }
}

/// The depthwise tap table's whole channel loop ([`super::dsp::depthwise_taps16`],
/// `M = 1`; one multiplier plane of the x2 conv, `M = 2`) in one `asm!`
/// block: for each group of four input channels `c0` (while `c0 + 4 <= c`)
/// the sums start at the four folded biases, run over every tap four taps a
/// pass (entered at `n % 4`, as [`taps4`]: 12 instructions per tap; the
/// weights of tap `t` at `w + t * M * c + c0`), then are requantized as
/// [`block_finish`] does (per channel its own multiplier and shift; `u =
/// 254 - shift byte`, `0..=29` exactly for shifts in `-31..=-2`), mapped
/// through the table and stored: channel `c0 + i` is output, bias,
/// multiplier and shift `M * (c0 + i)` (the caller offsets the pointers by
/// the plane). 11 instructions a channel, 25 of loop state per group
/// (reloaded from an eleven-word frame, no Rust between groups). Returns
/// the input channels done: `c & !3`, or the first group with a shift
/// outside `-31..=-2` (some of its bytes may then be written; the caller
/// rewrites them).
///
/// # Safety
/// With `w` = `(w, c, bias)` and `f`'s fields by name: `M` is 1 or 2;
/// `ptrs` is not empty and each entry starts `c` readable bytes; `w + t *
/// M * c .. + c` is readable for every `t < ptrs.len()`; with `k = M * (c -
/// 1) + 1`, `bias` starts `4 * k` readable bytes, `mult` `2 * k`, `shift`
/// `k`, `out` `k` writable; `c >= 4`; `table` is the middle (`+ 128`) of a
/// 256-byte table; `zp2` odd and small (`|zp2| < 2^20`).
#[inline(never)]
pub unsafe fn depthwise_groups<const M: usize>(ptrs: &[*const i8], w: Weights, f: Finish) -> usize {
    const { assert!(M == 1 || M == 2) };
    let Weights { w, c, bias } = w;
    let n = ptrs.len();
    let tp = ptrs.as_ptr();
    // The loop state, reloaded per group: tap table, weights, biases, `n %
    // 4`, multipliers, shifts, `zp2`, table, outputs, tap table end,
    // channel end.
    let frame: [usize; 11] = [
        tp as usize,
        w as usize,
        bias as usize,
        n % 4,
        f.mult as usize,
        f.shift as usize,
        f.zp2 as usize,
        f.table as usize,
        f.out as usize,
        tp.wrapping_add(n) as usize,
        c & !3,
    ];
    let done: usize;
    // SAFETY: the caller's contract. Group `c0` (`c0 + 4 <= c`, the loop
    // ends exactly at `c & !3 >= 4`) reads the table entries `0..n` (four
    // taps a pass, entered at the tap block that leaves a multiple of four,
    // so `r1` meets the table end only at a pass end), the word at each
    // entry `+ c0` (inside its `c` bytes), the weight words `w + c0 + t *
    // M * c` (`+ 4 <= w + t * M * c + c`), with `o = M * (c0 + i) < k` for
    // `i < 4` the bias words `bias + 4 * o` (unaligned `LDR` is allowed on
    // v7-M/v8-M.main), the halfwords `mult + 2 * o` and bytes `shift + o`,
    // and writes `out + o`; `SSAT` clamps every table index to `-128..=127`. The
    // frame is read only. r6 and r7 (which asm! may not name) are pushed
    // and popped; every other register it uses is declared clobbered, and
    // the flags. DSP instructions: the `fastvit_dsp` cfg.
    unsafe {
        whole_file_asm!([
            "push {{r6, r7}}",
            "mov r6, r3",
            "1:",
            "ldr r1, [r6]",
            "ldr r2, [r6, #36]",
            "ldr r12, [r6, #4]",
            "add r12, r12, r0",
            "ldr r3, [r6, #8]",
            "add r3, r3, r0, lsl #{lb}",
            "ldr r8, [r3]",
            "ldr r9, [r3, #{b1}]",
            "ldr r10, [r3, #{b2}]",
            "ldr r11, [r3, #{b3}]",
            "ldr r3, [r6, #12]",
            tap_loop!("r1", "r2", "r0", "r12", "lr", "r3", "r4", "r5", "r8", "r9", "r10", "r11"),
            "ldr r1, [r6, #16]",
            "add r1, r1, r0, lsl #{lm}",
            "ldr r2, [r6, #20]",
            "add r2, r2, r0, lsl #{ls}",
            "ldr r5, [r6, #24]",
            "ldr r7, [r6, #28]",
            "ldr r12, [r6, #32]",
            "add r12, r12, r0, lsl #{ls}",
            group_finish!("r8", "", ""),
            group_finish!("r9", ", #{m1}", ", #{s1}"),
            group_finish!("r10", ", #{m2}", ", #{s2}"),
            group_finish!("r11", ", #{m3}", ", #{s3}"),
            "add r0, r0, #4",
            "ldr r3, [r6, #40]",
            "cmp r0, r3",
            "bne 1b",
            "9:",
            "pop {{r6, r7}}",
        ], [
            inout("r0") 0usize => done,
            out("r1") _,
            out("r2") _,
            inout("r3") frame.as_ptr() => _,
            out("r4") _,
            inout("lr") M * c => _,
            lb = const 2 + M / 2,
            lm = const 1 + M / 2,
            ls = const M / 2,
            b1 = const 4 * M,
            b2 = const 8 * M,
            b3 = const 12 * M,
            m1 = const 2 * M,
            m2 = const 4 * M,
            m3 = const 6 * M,
            s1 = const M,
            s2 = const 2 * M,
            s3 = const 3 * M,
        ]);
    }
    done
}

/// `(a * lo(b)) >> 16`: the signed 32 x 16-bit product's top 32 bits
/// (`SMULWB`).
#[inline(always)]
pub fn smulwb(a: i32, b: i32) -> i32 {
    let r: i32;
    // SAFETY: a register-only DSP instruction; no memory, stack or flags.
    unsafe {
        core::arch::asm!("smulwb {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a,
            b = in(reg) b, options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// [`block_finish`] for int16 outputs (the ConvMlp `fc2` of
/// `kernels::wide_mlp`, `super::dsp::block_px4_i16`): the same
/// requantization (`SMULWB`, `ASR`, the zero point folded as `zp2`), then
/// `SSAT #16, ASR #1` (the reference's clamp to int16) and a halfword
/// store, no table: 5 instructions an output, per channel one `LDM` of its
/// four sums, the multiplier, the shift and the loop test (30 instructions
/// for four outputs).
///
/// # Safety
/// `buf` starts `4 * nb` readable words, `f.mult` `2 * nb` bytes, `f.shift`
/// `nb` bytes (each in `-31..=-2` for the reference's bits; any value is
/// memory-safe); `f.out + 2 * (p * cout + j) .. + 2` is writable for `p <
/// 4`, `j < nb`; `nb >= 1`, `f.zp2` odd and small (`|zp2| < 2^20`);
/// `f.table` is not read.
#[inline(always)]
pub unsafe fn block_finish16(buf: *const i32, nb: usize, f: Finish, cout: usize) {
    // SAFETY: the caller's contract. Channel `j` reads `buf + 4 * j .. + 4`
    // (one `LDM`; the loop ends exactly at `buf + 4 * nb`), the halfword
    // `mult + 2 * j` (unaligned `LDRSH` is allowed) and the byte `shift +
    // j`; it writes the halfwords at `out + 2 * j`, `+ 2 * cout`, `+ 4 *
    // cout`, `+ 6 * cout` (unaligned `STRH` is allowed; r6 and r7, which
    // asm! may not name, hold the pixel-0 and pixel-2 pointers: pushed,
    // loaded from r8/r9 and popped before the end). Every other register
    // it uses is declared clobbered, and the flags. DSP instructions: the
    // `fastvit_dsp` cfg.
    unsafe {
        block_finish_asm!(
            buf,
            nb,
            f,
            [
                "ssat r8, #16, r8, asr #1",
                "ssat r9, #16, r9, asr #1",
                "ssat r10, #16, r10, asr #1",
                "ssat r11, #16, r11, asr #1",
                "strh r9, [r6, r12]",
                "strh r8, [r6], #2",
                "strh r11, [r7, r12]",
                "strh r10, [r7], #2",
            ],
            [
                inout("r8") f.out => _,
                inout("r9") f.out.wrapping_add(4 * cout) => _,
                in("r12") 2 * cout,
            ]
        );
    }
}

/// Eight channels of the int16 depthwise's channel-vector taps
/// (`super::dsp::wide_sums16`, one kernel row): `acc[i] + sum_t x_t[i] *
/// w_t[i]` over `nk` taps, tap `t`'s eight int16 inputs at `x + t *
/// stride` and its eight i16 weights at `w + 16 * t` (the `Block`'s row of
/// 16 lanes a tap, offset by the pass). Per tap four input and four weight
/// words (unaligned `LDR`), `SMLABB`/`SMLATT` lane by lane (each product
/// into its own channel's accumulator), the two pointer steps and the loop
/// test: 20 instructions for 8 MACs.
///
/// # Safety
/// `nk >= 1`; for every `t < nk`, `x + t * stride` starts 16 readable
/// bytes and `w + 16 * t` eight readable halfwords.
#[inline(always)]
pub unsafe fn wide_taps8(
    x: *const i8,
    w: *const i16,
    nk: usize,
    stride: usize,
    acc: [i32; 8],
) -> [i32; 8] {
    let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6, mut a7] = acc;
    // SAFETY: the caller's contract: the loop runs exactly `nk >= 1` times,
    // tap `t` reading the four words at `x + t * stride` and at `w + 16 *
    // t` (unaligned `LDR` is allowed on v7-M/v8-M.main). `{x}` holds the
    // input words, r7 (the frame pointer, which asm! may not name) the
    // weight words: pushed and popped around the loop. The flags are clobbered (`SUBS`); `SMLAxy`
    // may set the sticky Q flag. DSP instructions: the `fastvit_dsp` cfg.
    unsafe {
        core::arch::asm!(
            "push {{r7}}",
            "2:",
            "ldr {x}, [{xp}]",
            "ldr r7, [{wp}]",
            "smlabb {a0}, {x}, r7, {a0}",
            "smlatt {a1}, {x}, r7, {a1}",
            "ldr {x}, [{xp}, #4]",
            "ldr r7, [{wp}, #4]",
            "smlabb {a2}, {x}, r7, {a2}",
            "smlatt {a3}, {x}, r7, {a3}",
            "ldr {x}, [{xp}, #8]",
            "ldr r7, [{wp}, #8]",
            "smlabb {a4}, {x}, r7, {a4}",
            "smlatt {a5}, {x}, r7, {a5}",
            "ldr {x}, [{xp}, #12]",
            "ldr r7, [{wp}, #12]",
            "add {xp}, {xp}, {stride}",
            "add {wp}, {wp}, #32",
            "smlabb {a6}, {x}, r7, {a6}",
            "smlatt {a7}, {x}, r7, {a7}",
            "subs {n}, {n}, #1",
            "bne 2b",
            "pop {{r7}}",
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            a4 = inout(reg) a4,
            a5 = inout(reg) a5,
            a6 = inout(reg) a6,
            a7 = inout(reg) a7,
            xp = inout(reg) x => _,
            wp = inout(reg) w => _,
            n = inout(reg) nk => _,
            stride = in(reg) stride,
            x = out(reg) _,
            options(readonly),
        );
    }
    [a0, a1, a2, a3, a4, a5, a6, a7]
}
