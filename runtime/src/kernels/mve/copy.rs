//! A short byte run copied by a tail-predicated loop ([`copy_run`]).

/// `dst[..n] = src[..n]` for `n = min(dst.len(), src.len())`, 16 bytes a
/// pass of a tail-predicated loop (`WLSTP.8`: `VLDRB`/`VSTRB` + `LETP`,
/// four instructions for a run of up to 16 bytes; the im2col patch rows
/// copied a byte at a time cost ~5 instructions a byte).
#[inline(always)]
pub fn copy_run(dst: &mut [i8], src: &[i8]) {
    let n = dst.len().min(src.len());
    // SAFETY: the loop runs `ceil(n / 16)` passes, the last predicated to
    // the `n % 16` remaining lanes (predicated-off lanes are neither read
    // nor written), so it reads `src[..n]` and writes `dst[..n]`, both in
    // bounds; `dst` is exclusively borrowed and does not overlap `src`.
    // q0 (d0-d1) and lr are declared clobbered. MVE is guaranteed by the
    // `fastvit_mve` cfg.
    unsafe {
        core::arch::asm!(
            "wlstp.8 lr, {n}, 2f",
            "1:",
            "vldrb.u8 q0, [{s}], #16",
            "vstrb.8 q0, [{d}], #16",
            "letp lr, 1b",
            "2:",
            n = in(reg) n,
            s = inout(reg) src.as_ptr() => _,
            d = inout(reg) dst.as_mut_ptr() => _,
            out("lr") _,
            out("d0") _,
            out("d1") _,
            options(nostack),
        );
    }
}
