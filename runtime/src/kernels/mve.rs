//! Cortex-M55 Helium (MVE) tier: one weight row against four pixels, 16
//! input channels per step with `VMLADAVA.S8` (16 MACs into a scalar
//! accumulator per instruction): five `VLDRB` + four `VMLADAVA` + `LE` per
//! 64 MACs. LLVM vectorizes the portable loop into `VMLAVA` too, but wraps
//! every step in ~30 instructions of predicate and spill bookkeeping, so the
//! loop is `asm!`. Channels past the last multiple of 16 run scalar.
//! Bit-identical to the portable twin; proven by the M55 board run (the
//! logits checksum equals the host's) as no user-mode QEMU runs M-profile
//! code.

pub use super::portable::{dot1, dot4, prepare_px4, Px4, StackTile, TILE_WORDS_PER_CIN};

/// Output channels per [`dot_rows_px4`] tile.
pub const ROWS: usize = 1;

/// Same contract as [`super::portable::dot_px4`].
#[inline]
pub fn dot_px4(p: &Px4<'_>, w: &[i8]) -> [i32; 4] {
    let [x0, x1, x2, x3] = p.rows();
    let cin = x0.len();
    let mut a = [0i32; 4];
    let Some(w) = w.get(..cin) else {
        return a;
    };
    let (x1, x2, x3) = (&x1[..cin], &x2[..cin], &x3[..cin]);
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
