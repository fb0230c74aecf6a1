//! The ConvMlp with int16 internals (`kernels::wide_mlp`) on Helium: the
//! `fc1` over int16 inputs as [`dot_px4`](super::dot_px4) is over int8 ones,
//! one weight row against four pixels ([`dot_px4_i16`]): per eight input
//! channels a `VLDRB.S16` of the weights (widened to halfwords), four
//! `VLDRH` of the pixels' halfwords and four `VMLADAVA.S16` (eight exact
//! i16 x i16 products summed into a scalar accumulator, wrapping), in a
//! low-overhead loop. The `fc2` (int8 in) takes its weight row's sum from
//! the dot loop ([`dot_px4_sum`]: one `VADDVA.S8` more a step). Bit-identical to the plain loops of `wide_mlp`
//! (wrapping i32 sums of exact products); checked on the M55 by the
//! mps3-an547 `kernels` firmware.

/// `[sum_i w[i] * xs[p * c + i]; p in 0..4]`, wrapping i32: the weight row
/// `w` (at least `c` long) against four pixels of `c` int16 inputs each,
/// pixel-major in `xs` (at least `4 * c` long); `None` (nothing computed)
/// if either is shorter.
#[inline]
pub fn dot_px4_i16(xs: &[i16], c: usize, w: &[i8]) -> Option<[i32; 4]> {
    let (Some(w), Some(xs)) = (w.get(..c), xs.get(..4 * c)) else {
        return None;
    };
    let (x0, rest) = xs.split_at(c);
    let (x1, rest) = rest.split_at(c);
    let (x2, x3) = rest.split_at(c);
    let steps = c / 8;
    let mut a = [0i32; 4];
    if steps > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = a;
        // SAFETY: reads `8 * steps <= c` elements from each of the five
        // pointers (`w` holds `c` bytes, each pixel `c` halfwords, 2-byte
        // aligned as `VLDRH` wants); the low-overhead loop runs exactly
        // `steps >= 1` times. The weight pointer is pinned to r1 (the
        // widening `VLDRB.S16` with write-back takes only a low register);
        // the accumulators sit in even registers as `VMLADAVA` requires;
        // q0 and q1 (d0-d3) are declared clobbered. MVE is guaranteed by
        // the `fastvit_mve` cfg.
        unsafe {
            core::arch::asm!(
                "dls lr, {n}",
                "2:",
                "vldrb.s16 q0, [r1], #8",
                "vldrh.u16 q1, [{p0}], #16",
                "vmladava.s16 r0, q0, q1",
                "vldrh.u16 q1, [{p1}], #16",
                "vmladava.s16 r2, q0, q1",
                "vldrh.u16 q1, [{p2}], #16",
                "vmladava.s16 r4, q0, q1",
                "vldrh.u16 q1, [{p3}], #16",
                "vmladava.s16 r8, q0, q1",
                "le lr, 2b",
                n = in(reg) steps,
                p0 = inout(reg) x0.as_ptr() => _,
                p1 = inout(reg) x1.as_ptr() => _,
                p2 = inout(reg) x2.as_ptr() => _,
                p3 = inout(reg) x3.as_ptr() => _,
                inout("r1") w.as_ptr() => _,
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
    // Channels past the last multiple of 8.
    for (i, &wv) in w.iter().enumerate().skip(8 * steps) {
        let wv = wv as i32;
        for (acc, x) in a.iter_mut().zip([x0, x1, x2, x3]) {
            if let Some(&xv) = x.get(i) {
                *acc = acc.wrapping_add(wv.wrapping_mul(xv as i32));
            }
        }
    }
    Some(a)
}

/// [`dot_px4`](super::dot_px4) and the sum of the weight row, wrapping
/// i32, in one pass: the ConvMlp `fc2` folds `in_zp * sum w` out of the
/// four dots per output channel, and the row's sum costs one `VADDVA.S8`
/// per 16 weights in the same loop (instead of a loop of its own).
#[inline]
pub fn dot_px4_sum(p: &super::Px4<'_>, w: &[i8]) -> Option<([i32; 4], i32)> {
    let [x0, x1, x2, x3] = p.rows();
    let cin = x0.len();
    let (Some(w), Some(x1), Some(x2), Some(x3)) =
        (w.get(..cin), x1.get(..cin), x2.get(..cin), x3.get(..cin))
    else {
        return None;
    };
    let steps = cin / 16;
    let (mut a, mut sum) = ([0i32; 4], 0i32);
    if steps > 0 {
        let [mut a0, mut a1, mut a2, mut a3] = a;
        // SAFETY: as `dot_px4`: reads `16 * steps <= cin` bytes from each
        // of the five pointers (VLDRB needs no alignment); the low-overhead
        // loop runs exactly `steps >= 1` times. The five accumulators sit
        // in even registers as `VMLADAVA` and `VADDVA` require; q0 and q1
        // (d0-d3) are declared clobbered. MVE is guaranteed by the
        // `fastvit_mve` cfg.
        unsafe {
            core::arch::asm!(
                "dls lr, {n}",
                "2:",
                "vldrb.u8 q0, [{wp}], #16",
                "vldrb.u8 q1, [{p0}], #16",
                "vmladava.s8 r0, q0, q1",
                "vaddva.s8 r12, q0",
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
                inout("r12") sum,
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
    // Channels past the last multiple of 16.
    for (i, &wv) in w.iter().enumerate().skip(16 * steps) {
        let wv = wv as i32;
        sum = sum.wrapping_add(wv);
        for (acc, x) in a.iter_mut().zip([x0, x1, x2, x3]) {
            if let Some(&xv) = x.get(i) {
                *acc = acc.wrapping_add(wv.wrapping_mul(xv as i32));
            }
        }
    }
    Some((a, sum))
}
