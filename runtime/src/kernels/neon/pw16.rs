//! The int16 -> int16 1x1 of `kernels::wide_pointwise` (the in-place
//! downsample `proj.1` reading the int16 stream): four output channels x
//! four pixels a pass, eight input channels a step, on the int16 ConvMlp
//! `fc1`'s loop (`mlp16::sums_px4`: weights widened by `SXTL`, `SMLAL` /
//! `SMLAL2` against the pixels' int16 inputs; exact i32 where the caller's
//! bound holds, `wide_pointwise::fits_i16`), lanes reduced by `ADDP`. The
//! output step stays the caller's scalar one. Bit-identical to
//! `wide_mlp::dot4_16` (runtime/tests/wide_kernels.rs
//! under qemu-aarch64).

use super::mlp16::sums_px4;
use core::arch::aarch64::*;

/// `[j][i] = sum_k w_j[k] * x_i[k]`, wrapping i32: the four int8 weight
/// rows of `rows` (`4 * cin`, row-major) against the four pixels of `x`
/// (`2 * cin` little-endian int16 bytes each, pixel-major). `None` unless
/// `cin` is a positive multiple of 8 and both are long enough.
#[inline]
pub fn dot_rows_px4_i16(x: &[i8], cin: usize, rows: &[i8]) -> Option<[[i32; 4]; 4]> {
    let ok = cin % 8 == 0 && cin > 0 && x.len() >= 8 * cin && rows.len() >= 4 * cin;
    if !ok {
        return None;
    }
    let (w, xp) = (rows.as_ptr(), x.as_ptr());
    // SAFETY: row `j` starts at byte `j * cin` of `rows` (`4 * cin` long)
    // and pixel `i` at byte `2 * i * cin` of `x` (`8 * cin` long), both
    // checked above; `sums_px4` reads `8 * (cin / 8)` bytes of each row and
    // `16 * (cin / 8)` of each pixel.
    let acc = unsafe {
        let ws = [0, 1, 2, 3].map(|j| w.add(j * cin));
        let xs = [0, 1, 2, 3].map(|i| xp.add(i * 2 * cin));
        sums_px4(ws, xs, cin / 8)
    };
    let mut out = [[0i32; 4]; 4];
    for (o, a) in out.iter_mut().zip(&acc) {
        // SAFETY: register-only NEON intrinsics (NEON is baseline), then a
        // 16-byte store into the 4-lane array `o`.
        unsafe {
            let s = vpaddq_s32(vpaddq_s32(a[0], a[1]), vpaddq_s32(a[2], a[3]));
            vst1q_s32(o.as_mut_ptr(), s);
        }
    }
    Some(out)
}
