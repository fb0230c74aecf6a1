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
//! QEMU and the board firmware run the real instructions.

/// Bytes 0 and 2 of `x`, sign-extended to the two halfwords of the result.
#[inline(always)]
fn sxtb16(x: u32) -> u32 {
    #[cfg(all(target_arch = "arm", fastvit_dsp))]
    {
        let r: u32;
        // SAFETY: a register-to-register instruction of the DSP extension,
        // which the `fastvit_dsp` cfg guarantees; no memory, stack or flags.
        unsafe {
            core::arch::asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", fastvit_dsp)))]
    {
        let lo = x as u8 as i8 as i16 as u16 as u32;
        let hi = (x >> 16) as u8 as i8 as i16 as u16 as u32;
        lo | (hi << 16)
    }
}

/// Bytes 1 and 3 of `x`, sign-extended (`SXTB16` with `ROR #8`).
#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(all(target_arch = "arm", fastvit_dsp))]
    {
        let r: u32;
        // SAFETY: as in `sxtb16`.
        unsafe {
            core::arch::asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", fastvit_dsp)))]
    {
        sxtb16(x.rotate_right(8))
    }
}

/// `acc + lo(a) * lo(b) + hi(a) * hi(b)` on signed halfwords, wrapping.
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(all(target_arch = "arm", fastvit_dsp))]
    {
        let r: i32;
        // SAFETY: a register-only DSP instruction (it may set the sticky Q
        // flag on overflow, hence no `preserves_flags`); no memory or stack.
        unsafe {
            core::arch::asm!("smlad {r}, {a}, {b}, {acc}", r = lateout(reg) r, a = in(reg) a,
                b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(all(target_arch = "arm", fastvit_dsp)))]
    {
        let p0 = (a as i16 as i32).wrapping_mul(b as i16 as i32);
        let p1 = ((a >> 16) as i16 as i32).wrapping_mul((b >> 16) as i16 as i32);
        acc.wrapping_add(p0).wrapping_add(p1)
    }
}

/// Four bytes as a little-endian word (one unaligned `LDR` on v7-M/v8-M.main).
#[inline(always)]
fn word(b: &[i8]) -> u32 {
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
