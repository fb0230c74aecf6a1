//! Cortex-M DSP tier of the spatial kernels' lane operations (depthwise,
//! channel multiplier, dense stem): four channels per 32-bit word. `SXTB16`
//! splits a word of four i8 lanes into lanes 0/2 and (rotated by 8) 1/3 as
//! sign-extended halfwords, and the halfword multiply-accumulates
//! `SMLABB`/`SMLATT` (LLVM forms these from the `i16 x i16 + i32` patterns
//! below) add each product to its own lane's accumulator: four MACs cost two
//! word loads, four `SXTB16` and four multiply-accumulates, with the four
//! accumulators in registers.
//!
//! `SXTB16` comes from [`super`] (inline `asm!` on ARM, LLVM never
//! emits it; elsewhere a bit-exact software model, so the host tests check
//! this tier's lane pairing too).

// The `SXTB16` primitives (asm on DSP cores, a bit-exact model elsewhere)
// are the pointwise tier's.
use super::instructions::{self, sxtb16, sxtb16_ror8};

#[inline(always)]
fn lo(x: u32) -> i32 {
    x as i16 as i32
}

#[inline(always)]
fn hi(x: u32) -> i32 {
    (x as i32) >> 16
}

/// `acc[i] += w[i] * x[i]` for four lanes, wrapping.
#[inline(always)]
pub fn mac4(acc: &mut [i32; 4], w: &[i8; 4], x: &[i8; 4]) {
    let wv = u32::from_le_bytes(w.map(|v| v as u8));
    let xv = u32::from_le_bytes(x.map(|v| v as u8));
    *acc = mac_words(*acc, wv, xv);
}

/// `acc[i] + w[i] * x[i]` for the four i8 lanes of the words `wv` and `xv`:
/// four `SXTB16` and four halfword multiply-accumulates.
#[inline(always)]
pub(crate) fn mac_words(acc: [i32; 4], wv: u32, xv: u32) -> [i32; 4] {
    let (w02, w13) = (sxtb16(wv), sxtb16_ror8(wv));
    let (x02, x13) = (sxtb16(xv), sxtb16_ror8(xv));
    [
        acc[0].wrapping_add(lo(w02) * lo(x02)),
        acc[1].wrapping_add(lo(w13) * lo(x13)),
        acc[2].wrapping_add(hi(w02) * hi(x02)),
        acc[3].wrapping_add(hi(w13) * hi(x13)),
    ]
}

/// `acc[i] += w[i] * v` for four lanes, wrapping (`v` any i32).
#[inline(always)]
pub fn mac4_const(acc: &mut [i32; 4], w: &[i8; 4], v: i32) {
    let wv = u32::from_le_bytes(w.map(|v| v as u8));
    let (w02, w13) = (sxtb16(wv), sxtb16_ror8(wv));
    acc[0] = acc[0].wrapping_add(lo(w02).wrapping_mul(v));
    acc[1] = acc[1].wrapping_add(lo(w13).wrapping_mul(v));
    acc[2] = acc[2].wrapping_add(hi(w02).wrapping_mul(v));
    acc[3] = acc[3].wrapping_add(hi(w13).wrapping_mul(v));
}

/// Whether `n` lane groups of 4 bytes, `stride` apart, fit in `len` bytes.
#[inline(always)]
fn fits(len: usize, n: usize, stride: usize) -> bool {
    n == 0
        || (n - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(4))
            .is_some_and(|end| end <= len)
}

/// Four bytes at `p` as a little-endian word.
///
/// # Safety
/// `p..p + 4` must be in bounds of one slice.
#[inline(always)]
pub(crate) unsafe fn load(p: *const i8) -> u32 {
    // SAFETY: the caller guarantees `p..p + 4` is readable; unaligned reads
    // are allowed by `read_unaligned`.
    u32::from_le(unsafe { core::ptr::read_unaligned(p as *const u32) })
}

/// `acc[i] += sum_j w[j * ws + i] * x[j * xs + i]` over `n` taps: the
/// in-bounds run of a depthwise window, both operands checked once, then
/// one word load each per tap. Returns `false` (adding nothing) if either
/// slice is too short.
#[inline(always)]
pub fn run4(acc: &mut [i32; 4], w: &[i8], ws: usize, x: &[i8], xs: usize, n: usize) -> bool {
    if !fits(w.len(), n, ws) || !fits(x.len(), n, xs) {
        return false;
    }
    let (mut pw, mut px) = (w.as_ptr(), x.as_ptr());
    let [mut a0, mut a1, mut a2, mut a3] = *acc;
    for j in 0..n {
        // SAFETY: `fits` proved `j * ws + 4 <= w.len()` and
        // `j * xs + 4 <= x.len()` for every `j < n`; the pointers advance
        // by exactly those strides and are not read past tap `n - 1`.
        let (wv, xv) = unsafe { (load(pw), load(px)) };
        if j + 1 < n {
            pw = pw.wrapping_add(ws);
            px = px.wrapping_add(xs);
        }
        [a0, a1, a2, a3] = mac_words([a0, a1, a2, a3], wv, xv);
    }
    *acc = [a0, a1, a2, a3];
    true
}

/// `acc[i] += sum_j w[j * ws + i] * x[j]` over `x.len()` values: the
/// in-bounds run of the dense stem (each value broadcast to four output
/// channels). Returns `false` (adding nothing) if `w` is too short.
#[inline(always)]
pub fn run4_scalar(acc: &mut [i32; 4], w: &[i8], ws: usize, x: &[i8]) -> bool {
    if !fits(w.len(), x.len(), ws) {
        return false;
    }
    let mut pw = w.as_ptr();
    let [mut a0, mut a1, mut a2, mut a3] = *acc;
    for (j, &v) in x.iter().enumerate() {
        // SAFETY: `fits` proved `j * ws + 4 <= w.len()` for every
        // `j < x.len()`; the pointer advances by `ws` and stops at the last.
        let wv = unsafe { load(pw) };
        if j + 1 < x.len() {
            pw = pw.wrapping_add(ws);
        }
        let v = v as i16 as i32;
        let (w02, w13) = (sxtb16(wv), sxtb16_ror8(wv));
        a0 = a0.wrapping_add(lo(w02) * v);
        a1 = a1.wrapping_add(lo(w13) * v);
        a2 = a2.wrapping_add(hi(w02) * v);
        a3 = a3.wrapping_add(hi(w13) * v);
    }
    *acc = [a0, a1, a2, a3];
    true
}

/// Most taps of one output pixel (a 7x7 window).
pub const MAX_TAPS: usize = 49;

/// The input pixels one depthwise output pixel reads, one per kernel tap in
/// tap order (a padded tap reads a row of padding values instead), so the
/// tap loop of [`TapRows::taps4`] is one pointer load per tap, without
/// window clipping or padding branches. Invariant (kept by [`TapRows::push`],
/// relied on by `taps4`): each of the first `n` pointers starts `len`
/// readable bytes of one slice that lives for `'s`.
#[repr(C)]
pub struct TapRows<'s> {
    n: usize,
    len: usize,
    /// The first `n` are written by `push`; the rest are never read (not
    /// zeroed: a 196-byte `memclr` per output pixel).
    ptrs: [core::mem::MaybeUninit<*const i8>; MAX_TAPS],
    _rows: core::marker::PhantomData<&'s [i8]>,
}

impl<'s> TapRows<'s> {
    /// An empty table whose taps each read `len` bytes (the channel count).
    #[inline(always)]
    pub fn new(len: usize) -> Self {
        TapRows {
            ptrs: [core::mem::MaybeUninit::uninit(); MAX_TAPS],
            n: 0,
            len,
            _rows: core::marker::PhantomData,
        }
    }

    /// Appends a tap reading `src`; `false` (nothing added) if `src` is
    /// shorter than the table's `len` or the table is full.
    #[inline(always)]
    pub fn push(&mut self, src: &'s [i8]) -> bool {
        if src.len() < self.len || self.n >= MAX_TAPS {
            return false;
        }
        self.ptrs[self.n] = core::mem::MaybeUninit::new(src.as_ptr());
        self.n += 1;
        true
    }

    /// Appends the `k` taps of one kernel row, as [`TapRows::push`] of each
    /// would: pixel `ix0 + kx` (wrapping) of the row `r` (`len` bytes a
    /// pixel) where it is below `w` and `r` reaches it, else `pad`. When
    /// the `k` pixels all lie inside `r`, the pointers are one add apart
    /// (no per-tap checks); `false` as soon as a tap does not fit (the
    /// taps before it stay pushed). `#[inline]`, not `always`: the
    /// size-optimized 4 MB Pico 2 build keeps one copy for the depthwise
    /// kernels' several instantiations.
    #[inline]
    pub fn push_row(&mut self, r: &'s [i8], ix0: usize, k: usize, w: usize, pad: &'s [i8]) -> bool {
        let c = self.len;
        let end = ix0.checked_add(k);
        let inside = end.is_some_and(|e| e <= w && e.checked_mul(c).is_some_and(|b| b <= r.len()));
        let slots = self
            .n
            .checked_add(k)
            .and_then(|e| self.ptrs.get_mut(self.n..e));
        if let (true, Some(slots)) = (inside, slots) {
            // Pixel `ix0 + kx` starts at `(ix0 + kx) * c`, `c` bytes before
            // `(ix0 + k) * c <= r.len()`: inside `r` (the invariant).
            let mut p = r.as_ptr().wrapping_add(ix0 * c);
            for slot in slots {
                *slot = core::mem::MaybeUninit::new(p);
                p = p.wrapping_add(c);
            }
            self.n += k;
            return true;
        }
        for kx in 0..k {
            let ix = ix0.wrapping_add(kx);
            let src = if ix < w { r.get(ix * c..) } else { None };
            if !self.push(src.unwrap_or(pad)) {
                return false;
            }
        }
        true
    }

    /// The tap pointers pushed so far, in tap order; each starts
    /// [`TapRows::tap_len`] readable bytes of one slice that lives for `'s`.
    #[inline(always)]
    pub fn ptrs(&self) -> &[*const i8] {
        let init = &self.ptrs[..self.n.min(MAX_TAPS)];
        // SAFETY: `push` wrote each of the first `n` entries before
        // raising `n`, and `MaybeUninit<T>` has `T`'s layout.
        unsafe { core::slice::from_raw_parts(init.as_ptr().cast::<*const i8>(), init.len()) }
    }

    /// Readable bytes at each tap pointer (the channel count).
    #[inline(always)]
    pub fn tap_len(&self) -> usize {
        self.len
    }

    /// `acc[i] += sum_t w[t * ws + c0 + i] * tap_t[c0 + i]` over the table's
    /// taps: per tap one pointer load, one input and one weight word, four
    /// `SXTB16` and four halfword multiply-accumulates. Returns `false`
    /// (adding nothing) if lanes `c0..c0 + 4` are not inside every tap or
    /// `w` is too short.
    #[inline(always)]
    pub fn taps4(&self, acc: &mut [i32; 4], w: &[i8], ws: usize, c0: usize) -> bool {
        let n = self.n.min(MAX_TAPS);
        let lanes_in = c0.checked_add(4).is_some_and(|end| end <= self.len);
        let w_in = w.len() >= c0 && fits(w.len() - c0, n, ws);
        if !lanes_in || !w_in {
            return false;
        }
        let pw = w[c0..].as_ptr();
        // SAFETY: see the two twins (`asm.rs`, `model.rs`): their contract
        // (every table entry starts `c0 + 4` readable bytes, `pw + t * ws`
        // four readable weight bytes for every tap) is checked above.
        *acc = unsafe { instructions::taps4(self.ptrs(), pw, ws, c0, *acc) };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The lane pairing (bytes 0/2 and 1/3) against plain i32 lanes.
        #[test]
        fn lanes_match_plain_arithmetic(
            acc in any::<[i32; 4]>(),
            w in any::<[i8; 4]>(),
            x in any::<[i8; 4]>(),
            v in prop_oneof![any::<i32>(), -128i32..=127],
        ) {
            let mut got = acc;
            mac4(&mut got, &w, &x);
            let want: [i32; 4] =
                core::array::from_fn(|i| acc[i].wrapping_add(w[i] as i32 * x[i] as i32));
            prop_assert_eq!(got, want);
            let mut got = acc;
            mac4_const(&mut got, &w, v);
            let want: [i32; 4] =
                core::array::from_fn(|i| acc[i].wrapping_add((w[i] as i32).wrapping_mul(v)));
            prop_assert_eq!(got, want);
        }

        /// The strided runs against plain loops, lengths at and past the
        /// bounds (too short: nothing added, `false`).
        #[test]
        fn runs_match_plain_loops(
            acc in any::<[i32; 4]>(),
            w in prop::collection::vec(any::<i8>(), 0..80),
            x in prop::collection::vec(any::<i8>(), 0..80),
            ws in 1usize..12,
            xs in 1usize..12,
            n in 0usize..12,
        ) {
            let fits = |len: usize, s: usize| n == 0 || (n - 1) * s + 4 <= len;
            let mut got = acc;
            let ok = run4(&mut got, &w, ws, &x, xs, n);
            prop_assert_eq!(ok, fits(w.len(), ws) && fits(x.len(), xs));
            let mut want = acc;
            if ok {
                for j in 0..n {
                    for i in 0..4 {
                        want[i] = want[i].wrapping_add(w[j * ws + i] as i32 * x[j * xs + i] as i32);
                    }
                }
            }
            prop_assert_eq!(got, want);
            let xv = &x[..n.min(x.len())];
            let mut got = acc;
            let ok = run4_scalar(&mut got, &w, ws, xv);
            let m = xv.len();
            prop_assert_eq!(ok, m == 0 || (m - 1) * ws + 4 <= w.len());
            let mut want = acc;
            if ok {
                for (j, &v) in xv.iter().enumerate() {
                    for i in 0..4 {
                        want[i] = want[i].wrapping_add(w[j * ws + i] as i32 * v as i32);
                    }
                }
            }
            prop_assert_eq!(got, want);
        }
    }
}
