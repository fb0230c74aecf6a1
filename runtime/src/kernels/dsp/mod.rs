//! Cortex-M DSP extension tier (M4, M7, M33): `SXTB16` unpacks bytes 0 and 2
//! (or, rotated by 8, bytes 1 and 3) of a word into two sign-extended
//! halfwords, and `SMLAD` multiplies both halfword pairs and adds them to the
//! accumulator: 16 MACs of [`dot4`] cost one input word, four weight words,
//! ten `SXTB16` and eight `SMLAD`.
//!
//! LLVM does not form `SMLAD` from i8 data (it emits one `smlabb` per MAC), so
//! the two instructions are inline `asm!` on ARM. On every other target this
//! module compiles against bit-exact software models of them, which is how
//! the host test suite checks this tier's data flow (byte pairing, tails);
//! QEMU and the board firmware run the real instructions. Which of the two
//! (`asm.rs` or `model.rs`, as `instructions`) is chosen in [`super`] with
//! the other tier cfgs.

pub mod lanes;

pub(crate) use super::dsp_instructions as instructions;
use super::portable::IDENTITY;
use instructions::smlad;
pub(crate) use instructions::{sxtb16, sxtb16_ror8};

/// Four bytes as a little-endian word (one unaligned `LDR` on v7-M/v8-M.main).
#[inline(always)]
pub(crate) fn word(b: &[i8]) -> u32 {
    u32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
}

/// Same contract as [`super::portable::dot4`].
#[inline]
pub fn dot4(w: [&[i8]; 4], x: &[i8]) -> [i32; 4] {
    let n = x.len();
    let body = n & !3;
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let mut a = [0i32; 4];
    let rows = w0[..body]
        .chunks_exact(4)
        .zip(w1[..body].chunks_exact(4))
        .zip(w2[..body].chunks_exact(4))
        .zip(w3[..body].chunks_exact(4))
        .zip(x[..body].chunks_exact(4));
    for ((((r0, r1), r2), r3), xs) in rows {
        let xv = word(xs);
        let (x02, x13) = (sxtb16(xv), sxtb16_ror8(xv));
        for (acc, r) in a.iter_mut().zip([r0, r1, r2, r3]) {
            let wv = word(r);
            *acc = smlad(sxtb16(wv), x02, *acc);
            *acc = smlad(sxtb16_ror8(wv), x13, *acc);
        }
    }
    for i in body..n {
        let xv = x[i] as i32;
        for (acc, r) in a.iter_mut().zip([w0, w1, w2, w3]) {
            *acc = acc.wrapping_add((r[i] as i32).wrapping_mul(xv));
        }
    }
    a
}

/// Same contract as [`super::portable::dot1`].
#[inline]
pub fn dot1(w: &[i8], x: &[i8]) -> i32 {
    let n = x.len();
    let body = n & !3;
    let w = &w[..n];
    let mut acc = 0i32;
    for (r, xs) in w[..body].chunks_exact(4).zip(x[..body].chunks_exact(4)) {
        let (wv, xv) = (word(r), word(xs));
        acc = smlad(sxtb16(wv), sxtb16(xv), acc);
        acc = smlad(sxtb16_ror8(wv), sxtb16_ror8(xv), acc);
    }
    for i in body..n {
        acc = acc.wrapping_add((w[i] as i32).wrapping_mul(x[i] as i32));
    }
    acc
}

/// Tile scratch words per input channel: four pixels' inputs sign-extended
/// to halfword pairs (the CMSIS-NN trick, so the inner loop spends no
/// `SXTB16` on inputs): for each group of four channels, pixel by pixel, the
/// words `SXTB16(x)` (channels 0 and 2) and `SXTB16(x, ror 8)` (1 and 3).
pub const TILE_WORDS_PER_CIN: usize = 2;

/// Tile scratch for the standalone pointwise layers (stem.2 and the
/// downsample proj.1, `cin <= 384`), on the stack: 3 KiB. The fused ConvMlp
/// keeps its tile in its arena scratch instead.
pub type StackTile = [u32; 2 * 384];

/// Four pixels' inputs in the [`TILE_WORDS_PER_CIN`] layout, `2 * cin` words.
pub struct Px4<'a>(&'a [u32]);

/// Sign-extends four pixels of `x` (at least `4 * cin`, pixel-major) into
/// `words`. `None` (the caller goes pixel by pixel) unless `cin` is a
/// multiple of 4 and `words` holds `2 * cin`.
#[inline]
pub fn prepare_px4<'a>(x: &[i8], cin: usize, words: &'a mut [u32]) -> Option<Px4<'a>> {
    if cin % 4 != 0 {
        return None;
    }
    let x = x.get(..4 * cin)?;
    let words = words.get_mut(..2 * cin)?;
    let (x0, r) = x.split_at(cin);
    let (x1, r) = r.split_at(cin);
    let (x2, x3) = r.split_at(cin);
    let groups = x0
        .chunks_exact(4)
        .zip(x1.chunks_exact(4))
        .zip(x2.chunks_exact(4))
        .zip(x3.chunks_exact(4));
    for ((((p0, p1), p2), p3), out) in groups.zip(words.chunks_exact_mut(8)) {
        for (pair, p) in out.chunks_exact_mut(2).zip([p0, p1, p2, p3]) {
            let v = word(p);
            pair[0] = sxtb16(v);
            pair[1] = sxtb16_ror8(v);
        }
    }
    Some(Px4(words))
}

/// [`prepare_px4`] for int16 inputs (a ConvMlp `fc1` reading its int16
/// `dw` outputs, `kernels::wide_mlp`): four pixels of `x` (little-endian
/// halfwords, at least `4 * cin`, pixel-major) into `words` in the same
/// layout, each four channels' halfword pairs `(x0, x2)` and `(x1, x3)` as
/// they are, so [`dot_px4`]'s `SMLAD`s (16 x 16-bit products, wrapping
/// i32 sums) take them unchanged. `None` unless `cin` is a multiple of 4
/// and `words` holds `2 * cin`.
#[inline]
pub fn prepare_px4_i16<'a>(x: &[i8], cin: usize, words: &'a mut [u32]) -> Option<Px4<'a>> {
    if cin % 4 != 0 {
        return None;
    }
    let x = x.get(..8 * cin)?;
    let words = words.get_mut(..2 * cin)?;
    let (x0, r) = x.split_at(2 * cin);
    let (x1, r) = r.split_at(2 * cin);
    let (x2, x3) = r.split_at(2 * cin);
    let groups = x0
        .chunks_exact(8)
        .zip(x1.chunks_exact(8))
        .zip(x2.chunks_exact(8))
        .zip(x3.chunks_exact(8));
    // Halfword `i` of a group's eight bytes, zero-extended.
    let h = |g: &[i8], i: usize| match g.get(2 * i..2 * i + 2) {
        Some(&[lo, hi]) => u16::from_le_bytes([lo as u8, hi as u8]) as u32,
        _ => 0,
    };
    for ((((p0, p1), p2), p3), out) in groups.zip(words.chunks_exact_mut(8)) {
        for (pair, p) in out.chunks_exact_mut(2).zip([p0, p1, p2, p3]) {
            pair[0] = h(p, 0) | h(p, 2) << 16;
            pair[1] = h(p, 1) | h(p, 3) << 16;
        }
    }
    Some(Px4(words))
}

/// One group of four channels: the weight word `wv` against the group's
/// eight prepared words `g`.
#[inline(always)]
pub(crate) fn group_px4(wv: u32, g: &[u32], a: &mut [i32; 4]) {
    let (w02, w13) = (sxtb16(wv), sxtb16_ror8(wv));
    for (acc, pair) in a.iter_mut().zip(g.chunks_exact(2)) {
        *acc = smlad(w02, pair[0], *acc);
        *acc = smlad(w13, pair[1], *acc);
    }
}

/// Same contract as [`super::portable::dot_px4`]: one weight row (at least
/// `cin` long) against four pixels prepared by [`prepare_px4`]. Per eight
/// channels: two weight loads, four `SXTB16`, four four-register `LDM`
/// (two pixels each), sixteen `SMLAD` and the loop test (28 instructions
/// for 32 MACs).
#[inline]
pub fn dot_px4(p: &Px4<'_>, w: &[i8]) -> [i32; 4] {
    let words = p.0;
    let cin = words.len() / 2;
    let a = [0i32; 4];
    let Some(w) = w.get(..cin) else {
        return a;
    };
    let body = cin / 8 * 8;
    let mut a = instructions::dot_px4_body(w, words, body, a);
    // Checked tails (never short: `2 * body <= words.len()`): no panic
    // path where a caller's bounds are not visible to the optimizer (the
    // board no-panic check; `wide_mlp`'s int16 tile).
    let (Some(wr), Some(gr)) = (w.get(body..), words.get(2 * body..)) else {
        return a;
    };
    for (r, g) in wr.chunks_exact(4).zip(gr.chunks_exact(8)) {
        group_px4(word(r), g, &mut a);
    }
    a
}

/// Output channels per [`dot_rows_px4`] tile.
pub const ROWS: usize = 1;

/// [`dot_px4`] for one row, in the tile shape the NEON tier widens.
#[inline]
pub fn dot_rows_px4(p: &Px4<'_>, rows: &[i8]) -> [[i32; 4]; ROWS] {
    [dot_px4(p, rows)]
}

/// Output channels per [`block_px4`] block: their sums are parked in a
/// 512-byte stack buffer.
const BLOCK: usize = 32;

/// Whether [`block_px4`] takes a layer: every shift in `-31..=-2` (`t =
/// 31 - shift` in `33..=62`, every FastViT-T8 layer) and an int8 zero
/// point. Checked once per call of the pointwise kernel, not per tile.
#[inline]
pub fn block_px4_fits(shift: &[i8], out_zp: i32) -> bool {
    (-128..=127).contains(&out_zp) && shift.iter().all(|s| (-31..=-2).contains(s))
}

/// The weight side of the DSP tier's channel loops in `asm!`
/// (`block_sums`, `depthwise_groups`; their `dsp/model.rs` twins take the
/// same): the first channel's weights, the input channels `c` (a weight
/// row's length, or the taps' channels) and the first channel's folded
/// bias (a little-endian i32, unaligned). How far each is read is the
/// function's safety contract.
#[derive(Clone, Copy)]
pub(crate) struct Weights {
    /// The first channel's weights.
    pub(crate) w: *const i8,
    /// Input channels.
    pub(crate) c: usize,
    /// The first channel's folded bias.
    pub(crate) bias: *const u8,
}

/// The requantization side of the same loops (`block_finish`,
/// `depthwise_groups`): the first channel's multiplier halfword and shift
/// byte, the zero point folded as `zp2 = 2 * out_zp + 1` (for `SSAT #8, ASR
/// #1`), the middle (`+ 128`) of a 256-byte table and the first output
/// byte. How far each is read or written is the function's safety contract.
#[derive(Clone, Copy)]
pub(crate) struct Finish {
    /// The first channel's multiplier halfword (unaligned).
    pub(crate) mult: *const u8,
    /// The first channel's shift.
    pub(crate) shift: *const i8,
    /// `2 * out_zp + 1`.
    pub(crate) zp2: i32,
    /// The table's middle.
    pub(crate) table: *const i8,
    /// The first output byte.
    pub(crate) out: *mut i8,
}

/// A 1x1 tile of the four pixels in `p` for every output channel, written
/// to `out[px * cout + o]`; returns the channels done: `cout`, or 0 when
/// declined (`cin` not a multiple of 16, the weights not word-aligned),
/// and the caller takes the channel-by-channel path. Blocks of up to `BLOCK` (32) channels in
/// two `asm!` loops (`block_sums`, then
/// `block_finish`), so no Rust runs per channel. The
/// caller has checked [`block_px4_fits`] on the same `shift` and `out_zp`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn block_px4(
    p: &Px4<'_>,
    cout: usize,
    weights: &[i8],
    bias: &[u8],
    multiplier: &[u8],
    shift: &[i8],
    out_zp: i32,
    lut: Option<&[i8; 256]>,
    out: &mut [i8],
) -> usize {
    let params = (bias, multiplier, shift, out_zp);
    block_px4_as::<false>(p, cout, weights, params, lut, out)
}

/// [`block_px4`] with int16 outputs (`out[2 * (px * cout + o)..][..2]`,
/// little-endian; no table): the ConvMlp `fc2` of `kernels::wide_mlp`,
/// `bias` its folded `bias - in_zp * sum w`. The same sums (`block_sums`),
/// then `block_finish16`: the same requantization, `SSAT #16` (the
/// reference's clamp to int16) and halfword stores. Returns `cout`, or 0
/// when declined (as [`block_px4`], and a zero point outside int16); the
/// caller has checked [`block_px4_fits`] on the same `shift`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn block_px4_i16(
    p: &Px4<'_>,
    cout: usize,
    weights: &[i8],
    bias: &[u8],
    multiplier: &[u8],
    shift: &[i8],
    out_zp: i32,
    out: &mut [i8],
) -> usize {
    let params = (bias, multiplier, shift, out_zp);
    block_px4_as::<true>(p, cout, weights, params, None, out)
}

/// [`block_px4`] (`I16` false) and [`block_px4_i16`] (`I16` true).
#[inline(always)]
fn block_px4_as<const I16: bool>(
    p: &Px4<'_>,
    cout: usize,
    weights: &[i8],
    (bias, multiplier, shift, out_zp): (&[u8], &[u8], &[i8], i32),
    lut: Option<&[i8; 256]>,
    out: &mut [i8],
) -> usize {
    let words = p.0;
    let cin = words.len() / 2;
    let fits = |v: usize, n: usize| cout.checked_mul(n).is_some_and(|e| e <= v);
    let (out_bytes, zp_range) = match I16 {
        true => (8, -32768..=32767),
        false => (4, -128..=127),
    };
    if cin < 16
        || cin % 16 != 0
        || weights.as_ptr() as usize % 4 != 0
        || !fits(weights.len() / cin, 1)
        || !fits(bias.len(), 4)
        || !fits(multiplier.len(), 2)
        || !fits(shift.len(), 1)
        || !fits(out.len(), out_bytes)
        || !zp_range.contains(&out_zp)
    {
        return 0;
    }
    let table = lut.unwrap_or(&IDENTITY).as_ptr().wrapping_add(128);
    // Written by `block_sums` before `block_finish` reads them: no
    // zeroing (a 512-byte `memclr` per tile).
    let mut sums = [core::mem::MaybeUninit::<i32>::uninit(); 4 * BLOCK];
    let mut o0 = 0;
    while o0 < cout {
        let nb = (cout - o0).min(BLOCK);
        // SAFETY: rows `o0..o0 + nb` of `weights` (`cout * cin` bytes,
        // checked; word-aligned, checked, and `cin` a multiple of 16 keeps
        // every row so), the `2 * cin` prepared words (`Px4` holds exactly
        // them, word-aligned as `[u32]`), biases `o0..o0 + nb` (`4 * cout`
        // bytes, checked) into the `4 * BLOCK`-word buffer; `nb >= 1`.
        unsafe {
            let ws = Weights {
                w: weights.as_ptr().wrapping_add(o0 * cin),
                c: cin,
                bias: bias.as_ptr().wrapping_add(4 * o0),
            };
            instructions::block_sums(ws, words.as_ptr(), sums.as_mut_ptr().cast::<i32>(), nb);
        }
        // SAFETY: the `4 * nb` sums just written, multipliers and shifts
        // `o0..o0 + nb` (`2 * cout` and `cout` bytes, checked; a shift
        // outside `-31..=-2`, which the caller's `block_px4_fits` rules
        // out, would give wrong bits, not a stray access), the middle of a
        // 256-byte table, outputs `px * cout + o0 + j` for `px < 4`, `j <
        // nb` (`out` holds `4 * cout` of them, checked: bytes, or for
        // `I16` halfwords, the output pointer at byte `2 * o0`); `zp2` is
        // odd and below 2^17 in magnitude (`out_zp` checked).
        unsafe {
            let f = Finish {
                mult: multiplier.as_ptr().wrapping_add(2 * o0),
                shift: shift.as_ptr().wrapping_add(o0),
                zp2: 2 * out_zp + 1,
                table,
                out: out.as_mut_ptr().wrapping_add(if I16 { 2 * o0 } else { o0 }),
            };
            let buf = sums.as_ptr().cast::<i32>();
            match I16 {
                true => instructions::block_finish16(buf, nb, f, cout),
                false => instructions::block_finish(buf, nb, f, cout),
            }
        }
        o0 += nb;
    }
    o0
}

/// The depthwise tap table's channel loop on the DSP tier (the hook the
/// MVE tier fills with 16 channels a step): four channels a step, all in
/// one `asm!` block (`depthwise_groups`): the sums started at the folded
/// bias and run over every tap by the four-taps-a-pass loop of
/// [`lanes::TapRows::taps4`], then requantized by `SMULWB`/`ASR`/`SSAT`,
/// mapped and stored, without Rust per channel. Returns the
/// channels done (a multiple of 4); the caller computes the rest (all of
/// them for a shift outside `-31..=-2`, a zero point outside `i8`, or
/// operands too short).
#[inline]
pub fn depthwise_taps16(
    a: &super::window::WindowArgs<'_>,
    taps: &lanes::TapRows<'_>,
    out: &mut [i8],
) -> Option<usize> {
    let ch = &a.channels;
    let c = taps.tap_len();
    let ptrs = taps.ptrs();
    let n = ptrs.len();
    let (bias, mult, shift) = (
        ch.folded_bias.0,
        ch.requant.multiplier.0,
        ch.requant.shift.0,
    );
    // The weight word of the last group's last tap, `(n - 1) * c + c - 4 ..
    // + 4`, bounds every other group's.
    let w_end = n.checked_mul(c);
    let table = match ch.lut.len() {
        0 => &IDENTITY,
        _ => match <&[i8; 256]>::try_from(ch.lut) {
            Ok(t) => t,
            Err(_) => return Some(0),
        },
    };
    if n == 0
        || c < 4
        || w_end.is_none_or(|e| e > ch.weights.len())
        || bias.len() < 4 * c
        || mult.len() < 2 * c
        || shift.len() < c
        || out.len() < c
        || !(-128..=127).contains(&ch.out_zp)
    {
        return Some(0);
    }
    let table = table.as_ptr().wrapping_add(128);
    // SAFETY: `n >= 1` table entries, each starting `c >= 4` readable bytes
    // (the `TapRows` invariant); the weight words `t * c + c0 .. + 4` of
    // every tap end at or before `n * c <= weights.len()`; biases `4 * c`,
    // multipliers `2 * c`, shifts `c` and outputs `c` bytes (all checked);
    // the middle of a 256-byte table; `zp2` odd, below 2^9 (checked).
    let done = unsafe {
        let w = Weights {
            w: ch.weights.as_ptr(),
            c,
            bias: bias.as_ptr(),
        };
        let f = Finish {
            mult: mult.as_ptr(),
            shift: shift.as_ptr(),
            zp2: 2 * ch.out_zp + 1,
            table,
            out: out.as_mut_ptr(),
        };
        instructions::depthwise_groups::<1>(ptrs, w, f)
    };
    Some(done)
}

/// [`multiplier_pixel16`] as the tiers' x2 hook, which takes the pixel
/// whole (`multiplier::pixel`).
#[inline(always)]
pub fn multiplier_hook16<'s>(
    px: &super::depthwise::Pixel<'_, impl Fn(usize) -> &'s [i8]>,
    out: &mut [i8],
) -> bool {
    multiplier_pixel16(px.a, px.oy, px.ox, px.row, out)
}

/// The x2 channel-multiplier conv's output pixel `(oy, ox)` on the DSP tier
/// (the hook the MVE tier fills with its 16-channel asm): the table of the
/// pixels its taps read, built as `multiplier::pixel_by_taps` builds it
/// (padded taps read `pad_values`, or `in_zp` repeated), then each of the
/// two multiplier planes by one `asm!` channel loop
/// (`depthwise_groups::<2>`: plane `j`'s weights from `j * cin` on at tap
/// stride `2 * cin`, its outputs, biases, multipliers and shifts at `2 *
/// (c0 + i) + j`). `false` (the caller takes the window path, which
/// writes every output again) unless the multiplier is 2, `cin` a multiple
/// of 4 and every operand fits; also for a shift outside `-31..=-2`. Not
/// generic over `row` (a `dyn`, which the callers' `&impl Fn` coerce to)
/// and not inlined: one copy for both callers (plain and write-behind), as
/// flash is tight on the 4 MB Pico 2.
#[inline(never)]
pub fn multiplier_pixel16<'s>(
    a: &super::window::WindowArgs<'_>,
    oy: usize,
    ox: usize,
    row: &dyn Fn(usize) -> &'s [i8],
    out: &mut [i8],
) -> bool {
    const M: usize = 2;
    let g = &a.geometry;
    let (k, c) = (g.kernel, g.cin);
    let ch = &a.channels;
    let (bias, mult, shift) = (
        ch.folded_bias.0,
        ch.requant.multiplier.0,
        ch.requant.shift.0,
    );
    let table = match ch.lut.len() {
        0 => &IDENTITY,
        _ => match <&[i8; 256]>::try_from(ch.lut) {
            Ok(t) => t,
            Err(_) => return false,
        },
    };
    let taps_n = k * k;
    if g.multiplier() != M
        || c < 4
        || c % 4 != 0
        || k == 0
        || k > super::window::MAX_KERNEL
        || taps_n
            .checked_mul(M * c)
            .is_none_or(|e| e > ch.weights.len())
        || bias.len() < 4 * M * c
        || mult.len() < 2 * M * c
        || shift.len() < M * c
        || out.len() < M * c
        || !(-128..=127).contains(&ch.out_zp)
    {
        return false;
    }
    let (mut zp_row, mut taps) = (None, lanes::TapRows::new(c));
    let px = super::depthwise::Pixel { a, oy, ox, row };
    if !super::depthwise::tap_rows(&px, M, out.len(), &mut zp_row, &mut taps) {
        return false;
    }
    let ptrs = taps.ptrs();
    if ptrs.len() != taps_n {
        return false;
    }
    let table = table.as_ptr().wrapping_add(128);
    for j in 0..M {
        // SAFETY: `k * k >= 1` table entries, each starting `c >= 4`
        // readable bytes (the `TapRows` invariant); plane `j`'s weight
        // words `j * c + t * M * c + c0 .. + 4` end at or before `k * k * M
        // * c <= weights.len()` (checked); from plane `j`'s offsets the
        // biases (`4 * M * c` bytes), multipliers (`2 * M * c`), shifts and
        // outputs (`M * c` each, checked) hold the `M * (c - 1) + 1`
        // channels the loop reads; the middle of a 256-byte table; `zp2`
        // odd, below 2^9 (checked).
        let done = unsafe {
            let w = Weights {
                w: ch.weights.as_ptr().wrapping_add(j * c),
                c,
                bias: bias.as_ptr().wrapping_add(4 * j),
            };
            let f = Finish {
                mult: mult.as_ptr().wrapping_add(2 * j),
                shift: shift.as_ptr().wrapping_add(j),
                zp2: 2 * ch.out_zp + 1,
                table,
                out: out.as_mut_ptr().wrapping_add(j),
            };
            instructions::depthwise_groups::<M>(ptrs, w, f)
        };
        if done != c {
            return false;
        }
    }
    true
}

/// The int16 depthwise's channel-vector taps (`kernels::wide_block`, the
/// tier's `wide_sums16`) on the DSP tier: per kernel row two `asm!` loops
/// of eight channels (`instructions::wide_taps8`: per tap four input and
/// four weight words, `SMLABB`/`SMLATT` lane by lane into eight
/// accumulators, 20 instructions for 8 MACs), instead of LLVM's scalar
/// loop. Bit-identical to the portable twin `wide_block::sums16` (exact
/// i16 x i16 products, wrapping i32 sums).
#[inline(always)]
pub fn wide_sums16<'r>(
    taps: super::wide_block::Taps<impl Iterator<Item = (&'r [i8], &'r [i16])>>,
) -> [i32; super::wide_block::LANES] {
    let (stride, nk) = (taps.stride(), taps.nk());
    let (mut lo, mut hi) = ([0i32; 8], [0i32; 8]);
    for (x, w) in taps.fitting() {
        // SAFETY: `Taps::fitting`: `nk >= 1`, `x` holds `2 * LANES = 32`
        // bytes at each of the `nk` taps `stride` apart, `w` the `nk *
        // LANES` weights, 16 a tap; the first pass reads each tap's bytes
        // `0..16` and weights `0..8`, the second bytes `16..32` and weights
        // `8..16`.
        unsafe {
            lo = instructions::wide_taps8(x.as_ptr(), w.as_ptr(), nk, stride, lo);
            let (x, w) = (x.as_ptr().wrapping_add(16), w.as_ptr().wrapping_add(8));
            hi = instructions::wide_taps8(x, w, nk, stride, hi);
        }
    }
    core::array::from_fn(|i| if i < 8 { lo[i % 8] } else { hi[i % 8] })
}

/// The output step of the int16 depthwise's channel vectors
/// (`kernels::wide`, the hook NEON fills with `neon::wide_finish16`) on
/// the DSP tier: 16 contiguous channels from `o0` (multiplier 1), `bias +
/// sums` (plus the identity tap on the int16 inputs `x` of those channels,
/// zero point 0, when the conv has one), then [`block_px4`]'s
/// requantization (`SMULWB`, `ASR`, the zero point folded as `2 * zp + 1`,
/// one more halving) and the clamp to int8 or int16: the reference's bits
/// for shifts in `-31..=-2` (`t >= 33`). `None` (the scalar step runs) for
/// a table, a shift outside that range, a zero point outside int16 or an
/// operand too short.
#[inline(always)]
pub fn wide_finish16(
    p: &crate::schedule::Conv,
    a: &crate::ops::conv::ConvArgs<'_>,
    (o0, sums): (usize, [i32; 16]),
    x: &[i8],
    out: crate::tensor::Elem,
) -> Option<[i32; 16]> {
    const N: usize = 16;
    let shift = a.requant.shift.0.get(o0..o0 + N)?;
    let mult = a.requant.multiplier.0.get(2 * o0..2 * (o0 + N))?;
    let bias = a.bias.0.get(4 * o0..4 * (o0 + N))?;
    if !a.lut.is_empty()
        || p.in_zp != 0
        || !(-32768..=32767).contains(&p.out_zp)
        || !shift.iter().all(|s| (-31..=-2).contains(s))
    {
        return None;
    }
    let identity = match a.identity.is_empty() {
        true => None,
        false => Some((a.identity.0.get(4 * o0..4 * (o0 + N))?, x.get(..2 * N)?)),
    };
    let (lo, hi) = out.range();
    let zp2 = 2 * p.out_zp + 1;
    let mut v = [0i32; N];
    for (j, (v, s)) in v.iter_mut().zip(sums).enumerate() {
        let le = |b: &[u8], j: usize| match b.get(4 * j..4 * j + 4) {
            Some(&[b0, b1, b2, b3]) => i32::from_le_bytes([b0, b1, b2, b3]),
            _ => 0,
        };
        let mut acc = le(bias, j).wrapping_add(s);
        if let Some((id, x)) = identity {
            let xv = match x.get(2 * j..2 * j + 2) {
                Some(&[l, h]) => i16::from_le_bytes([l as u8, h as u8]) as i32,
                _ => 0,
            };
            acc = acc.wrapping_add(le(id, j).wrapping_mul(xv));
        }
        let (m, u) = match (mult.get(2 * j..2 * j + 2), shift.get(j)) {
            (Some(&[l, h]), Some(&s)) => (i16::from_le_bytes([l, h]) as i32, -2 - s as i32),
            _ => (0, 0),
        };
        *v = (((instructions::smulwb(acc, m) >> u) + zp2) >> 1).clamp(lo, hi);
    }
    Some(v)
}

/// `wide_block::Block::load`'s tap-major copy on the DSP tier (the hook
/// NEON fills with `neon::wide_load16`): per pair of lanes `j, j + 1` and
/// four taps, one word of each channel's OHWI row, `SXTB16` (taps 0, 2)
/// and `SXTB16 ROR #8` (1, 3), and the halfwords of both channels paired
/// per tap (`PKHBT`/`PKHTB`, which LLVM forms from the masks below) into
/// one word store a tap: 8 weights for ~20 instructions instead of ~9
/// each; the last `kk % 4` taps one by one. `false` (nothing written) if
/// `weights` does not hold every channel of the block or `w` not `k * k *
/// LANES` values.
#[inline]
pub fn wide_load16(
    weights: &[i8],
    k: usize,
    (c0, m, plane): (usize, usize, usize),
    w: &mut [i16; super::wide_block::MAX_KERNEL * super::wide_block::MAX_KERNEL * 16],
) -> bool {
    const LANES: usize = super::wide_block::LANES;
    let kk = k * k;
    let last = (c0 + LANES - 1) * m + plane;
    if kk == 0
        || kk * LANES > w.len()
        || (last + 1).checked_mul(kk).is_none_or(|e| e > weights.len())
    {
        return false;
    }
    let quads = kk / 4;
    for j in (0..LANES).step_by(2) {
        let (oa, ob) = ((c0 + j) * m + plane, (c0 + j + 1) * m + plane);
        let (Some(ra), Some(rb)) = (
            weights.get(oa * kk..(oa + 1) * kk),
            weights.get(ob * kk..(ob + 1) * kk),
        ) else {
            return false; // checked above: never taken
        };
        // Lane `j` (even, below 16) of a four-tap chunk `q`: halfwords `16 *
        // r + j` and `+ 1` for tap `r`, as one word.
        let l = j & (LANES - 2);
        let put = |q: &mut [i16], r: usize, v: u32| {
            if let Some([lo, hi]) = q.get_mut(16 * r + l..16 * r + l + 2) {
                *lo = v as i16;
                *hi = (v >> 16) as i16;
            }
        };
        let chunks = ra.chunks_exact(4).zip(rb.chunks_exact(4));
        for ((a, b), q) in chunks.zip(w.chunks_exact_mut(4 * LANES)) {
            let (a, b) = (word(a), word(b));
            let (a02, a13, b02, b13) = (sxtb16(a), sxtb16_ror8(a), sxtb16(b), sxtb16_ror8(b));
            put(q, 0, (a02 & 0xffff) | (b02 << 16));
            put(q, 1, (a13 & 0xffff) | (b13 << 16));
            put(q, 2, (a02 >> 16) | (b02 & 0xffff_0000));
            put(q, 3, (a13 >> 16) | (b13 & 0xffff_0000));
        }
        for t in 4 * quads..kk {
            if let (Some(&va), Some(&vb), Some([lo, hi])) = (
                ra.get(t),
                rb.get(t),
                w.get_mut(t * LANES + l..t * LANES + l + 2),
            ) {
                *lo = va as i16;
                *hi = vb as i16;
            }
        }
    }
    true
}

/// One operand's (or the output's) requantization in [`add16`]:
/// `quant::requantize` with `t = 31 - shift` formed once per call.
#[derive(Clone, Copy)]
struct Rescale {
    m: i32,
    t: u32,
}

impl Rescale {
    #[inline(always)]
    fn new(m: i32, shift: i32) -> Self {
        Self {
            m,
            t: (31 - shift).clamp(1, 62) as u32,
        }
    }

    /// `requantize(acc, m, shift)`: for `t >= 33` the high word of the
    /// product (`SMMUL`), rounded and shifted; else the 64-bit path,
    /// saturated to i32.
    #[inline(always)]
    fn apply(self, acc: i32) -> i32 {
        let prod = acc as i64 * self.m as i64;
        if self.t >= 33 {
            let hi = (prod >> 32) as i32;
            return hi.wrapping_add(1 << (self.t - 33)) >> (self.t - 32);
        }
        let rounded = (prod + (1i64 << (self.t - 1))) >> self.t;
        rounded.clamp(i32::MIN as i64, i32::MAX as i64) as i32
    }
}

/// The int16 ConvMlp's residual add (`kernels::wide_mlp`, the hook NEON
/// fills with `neon::add16`) on the DSP tier: element by element, the
/// three requantizations' `t` and paths chosen once per call (`Rescale`),
/// each operand's `(x - zp) << left_shift` and requantization, the
/// saturating sum, the output requantization, the zero point and the clamp
/// to int16: `ops::add::add_value`'s arithmetic without its per-element
/// parameter handling. Returns the elements done (all of `out`, or 0 for
/// short operands or `left_shift > 15`).
#[inline]
pub fn add16(p: &crate::schedule::Add, a: &[i8], b: &[i8], out: &mut [i8]) -> usize {
    let n = out.len() / 2;
    if a.len() < 2 * n || b.len() < 2 * n || p.left_shift > 15 {
        return 0;
    }
    let (ra, rb, ro) = (
        Rescale::new(p.a_mult, p.a_shift),
        Rescale::new(p.b_mult, p.b_shift),
        Rescale::new(p.out_mult, p.out_shift),
    );
    let (za, zb, zo, ls) = (p.a_zp, p.b_zp, p.out_zp, p.left_shift);
    let h = |v: &[i8]| match *v {
        [lo, hi] => i16::from_le_bytes([lo as u8, hi as u8]) as i32,
        _ => 0,
    };
    let els = a.chunks_exact(2).zip(b.chunks_exact(2));
    for ((x, y), o) in els.zip(out.chunks_exact_mut(2)) {
        let va = ra.apply((h(x) - za) << ls);
        let vb = rb.apply((h(y) - zb) << ls);
        let r = ro.apply(va.saturating_add(vb)).saturating_add(zo);
        let [lo, hi] = (r.clamp(-32768, 32767) as i16).to_le_bytes();
        if let [l, h] = o {
            *l = lo as i8;
            *h = hi as i8;
        }
    }
    n
}
