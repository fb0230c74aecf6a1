//! Bit-exact software models of the DSP instructions (every target without
//! them, selected in [`crate::kernels`]), so the host tests check the DSP
//! tier's data flow (byte pairing, tails). `asm.rs` has the instructions.
use super::dsp::lanes::{load, mac_words};
use super::dsp::{group_px4, word, Finish, Weights};

/// Bytes 0 and 2 of `x`, sign-extended to the two halfwords of the result.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    let lo = x as u8 as i8 as i16 as u16 as u32;
    let hi = (x >> 16) as u8 as i8 as i16 as u16 as u32;
    lo | (hi << 16)
}

/// Bytes 1 and 3 of `x`, sign-extended (`SXTB16` with `ROR #8`).
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    sxtb16(x.rotate_right(8))
}

/// `acc + lo(a) * lo(b) + hi(a) * hi(b)` on signed halfwords, wrapping.
#[inline(always)]
pub fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    let p0 = (a as i16 as i32).wrapping_mul(b as i16 as i32);
    let p1 = ((a >> 16) as i16 as i32).wrapping_mul((b >> 16) as i16 as i32);
    acc.wrapping_add(p0).wrapping_add(p1)
}

/// Same contract as the `asm.rs` twin: the portable group loop.
#[inline(always)]
pub fn dot_px4_body(w: &[i8], words: &[u32], body: usize, mut a: [i32; 4]) -> [i32; 4] {
    for (r, g) in w[..body].chunks_exact(4).zip(words.chunks_exact(8)) {
        group_px4(word(r), g, &mut a);
    }
    a
}

/// Same contract as the `asm.rs` twin, one tap at a time.
///
/// # Safety
/// As the twin's.
#[inline(always)]
pub unsafe fn taps4(
    ptrs: &[*const i8],
    mut pw: *const i8,
    ws: usize,
    c0: usize,
    acc: [i32; 4],
) -> [i32; 4] {
    let n = ptrs.len();
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    for (t, &p) in ptrs.iter().enumerate() {
        // SAFETY: `p` starts `c0 + 4` readable bytes and `pw` (advanced by
        // `ws` per tap, not read past tap `n - 1`) four, by the contract.
        let (xv, wv) = unsafe { (load(p.wrapping_add(c0)), load(pw)) };
        if t + 1 < n {
            pw = pw.wrapping_add(ws);
        }
        [a0, a1, a2, a3] = mac_words([a0, a1, a2, a3], wv, xv);
    }
    [a0, a1, a2, a3]
}

/// Same contract as the `asm.rs` twin: the reference sums, channel by
/// channel.
///
/// # Safety
/// As the twin's.
#[inline(always)]
pub unsafe fn block_sums(ws: Weights, words: *const u32, buf: *mut i32, nb: usize) {
    let Weights { w, c: cin, bias } = ws;
    // SAFETY: the twin's contract: `nb * cin` weight bytes, `2 * cin`
    // words, `4 * nb` bias bytes and `4 * nb` buffer words.
    let (w, words, bias, buf) = unsafe {
        (
            core::slice::from_raw_parts(w, nb * cin),
            core::slice::from_raw_parts(words, 2 * cin),
            core::slice::from_raw_parts(bias, 4 * nb),
            core::slice::from_raw_parts_mut(buf, 4 * nb),
        )
    };
    let rows = w.chunks_exact(cin).zip(bias.chunks_exact(4));
    for ((row, b), sums) in rows.zip(buf.chunks_exact_mut(4)) {
        let b = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let a = dot_px4_body(row, words, cin, [b; 4]);
        sums.copy_from_slice(&a);
    }
}

/// Same contract as the `asm.rs` twin, the same arithmetic (`SMULWB`,
/// `ASR`, the zero point folded as `2 * zp + 1`, `SSAT #8, ASR #1`).
///
/// # Safety
/// As the twin's.
#[inline(always)]
pub unsafe fn block_finish(buf: *const i32, nb: usize, f: Finish, cout: usize) {
    for j in 0..nb {
        // SAFETY: the twin's contract: `j < nb` sums, multipliers and
        // shifts, the table's middle +-128 and the four output bytes.
        unsafe {
            let m = i16::from_le_bytes([*f.mult.add(2 * j), *f.mult.add(2 * j + 1)]) as i64;
            // `ASR` by a register: its low byte, 32 and up all sign bits.
            let u = ((-2 - *f.shift.add(j) as i32) as u32 & 0xff).min(31);
            for p in 0..4 {
                let hi = ((*buf.add(4 * j + p) as i64 * m) >> 16) as i32;
                let y = (((hi >> u) + f.zp2) >> 1).clamp(-128, 127);
                *f.out.add(p * cout + j) = *f.table.offset(y as isize);
            }
        }
    }
}

/// Four channels' sums requantized, mapped and stored to `f.out[M * i]`
/// channel by channel (the arithmetic of `asm.rs`'s `depthwise_groups`),
/// stopping at the first shift outside `-31..=-2`.
///
/// # Safety
/// With `k = 3 * M + 1`, `f.mult` starts `2 * k` readable bytes, `f.shift` `k`,
/// `out` `k` writable; `table` is the middle of a 256-byte table.
#[inline(always)]
unsafe fn finish4<const M: usize>(acc: [i32; 4], f: Finish) -> bool {
    for (i, &a) in acc.iter().enumerate() {
        // SAFETY: the twin's contract: multiplier, shift and output `i < 4`,
        // the table's middle +-128.
        unsafe {
            let o = M * i;
            let u = -2 - *f.shift.add(o) as i32;
            if !(0..=29).contains(&u) {
                return false;
            }
            let m = i16::from_le_bytes([*f.mult.add(2 * o), *f.mult.add(2 * o + 1)]) as i64;
            let hi = ((a as i64 * m) >> 16) as i32;
            let y = (((hi >> u) + f.zp2) >> 1).clamp(-128, 127);
            *f.out.add(o) = *f.table.offset(y as isize);
        }
    }
    true
}

/// Same contract as the `asm.rs` twin: per group of four input channels
/// the biases, [`taps4`], then [`finish4`] (at output stride `M`).
///
/// # Safety
/// As the twin's.
#[inline(always)]
pub unsafe fn depthwise_groups<const M: usize>(ptrs: &[*const i8], w: Weights, f: Finish) -> usize {
    let Weights { w, c, bias } = w;
    let mut c0 = 0;
    while c0 + 4 <= c {
        // SAFETY: the twin's contract: biases, weights, multipliers, shifts
        // and outputs of channels `c0..c0 + 4 <= c`, each entry's `c` bytes.
        unsafe {
            let acc: [i32; 4] = core::array::from_fn(|i| {
                let b = bias.add(4 * M * (c0 + i));
                i32::from_le_bytes([*b, *b.add(1), *b.add(2), *b.add(3)])
            });
            let acc = taps4(ptrs, w.add(c0), M * c, c0, acc);
            let at = Finish {
                mult: f.mult.add(2 * M * c0),
                shift: f.shift.add(M * c0),
                out: f.out.add(M * c0),
                ..f
            };
            if !finish4::<M>(acc, at) {
                break;
            }
        }
        c0 += 4;
    }
    c0
}

/// `(a * lo(b)) >> 16`: the signed 32 x 16-bit product's top 32 bits
/// (`SMULWB`).
#[inline(always)]
pub fn smulwb(a: i32, b: i32) -> i32 {
    ((a as i64 * b as i16 as i64) >> 16) as i32
}

/// Same contract as the `asm.rs` twin, the same arithmetic as
/// [`block_finish`] with `SSAT #16` and halfword stores.
///
/// # Safety
/// As the twin's.
#[inline(always)]
pub unsafe fn block_finish16(buf: *const i32, nb: usize, f: Finish, cout: usize) {
    for j in 0..nb {
        // SAFETY: the twin's contract: `j < nb` sums, multipliers and
        // shifts, the four output halfwords.
        unsafe {
            let m = i16::from_le_bytes([*f.mult.add(2 * j), *f.mult.add(2 * j + 1)]) as i64;
            // `ASR` by a register: its low byte, 32 and up all sign bits.
            let u = ((-2 - *f.shift.add(j) as i32) as u32 & 0xff).min(31);
            for p in 0..4 {
                let hi = ((*buf.add(4 * j + p) as i64 * m) >> 16) as i32;
                let y = (((hi >> u) + f.zp2) >> 1).clamp(-32768, 32767) as i16;
                let [lo, hi] = y.to_le_bytes();
                let at = f.out.add(2 * (p * cout + j));
                *at = lo as i8;
                *at.add(1) = hi as i8;
            }
        }
    }
}

/// Same contract as the `asm.rs` twin, tap by tap and lane by lane.
///
/// # Safety
/// As the twin's.
#[inline(always)]
pub unsafe fn wide_taps8(
    x: *const i8,
    w: *const i16,
    nk: usize,
    stride: usize,
    mut acc: [i32; 8],
) -> [i32; 8] {
    for t in 0..nk {
        for (i, a) in acc.iter_mut().enumerate() {
            // SAFETY: the twin's contract: 16 bytes at `x + t * stride`,
            // eight halfwords at `w + 16 * t` (read unaligned, as `LDR`).
            let (xv, wv) = unsafe {
                let xp = x.add(t * stride + 2 * i);
                let xv = i16::from_le_bytes([*xp as u8, *xp.add(1) as u8]);
                (xv, w.add(16 * t + i).read_unaligned())
            };
            *a = a.wrapping_add((xv as i32).wrapping_mul(wv as i32));
        }
    }
    acc
}
