//! Global average pool. See [`crate::GlobalAvgPool`].

use super::RequantView;
use crate::quant::requantize_i8;
use crate::schedule::GlobalAvgPool;

/// Reference kernel: i32 sums per channel, one requantization.
pub fn global_avg_pool_reference(
    p: &GlobalAvgPool,
    rq: RequantView<'_>,
    input: &[i8],
    output: &mut [i8],
) {
    pool(input, p.input.c as usize, p.in_zp, rq, p.out_zp, output);
}

/// The pool of an `h * w * c` `input` into `output[..c]` (also the squeeze
/// of squeeze-excite): per channel the sum of `x - in_zp`, requantized.
pub(crate) fn pool(
    input: &[i8],
    c: usize,
    in_zp: i32,
    rq: RequantView<'_>,
    out_zp: i32,
    output: &mut [i8],
) {
    if c == 0 {
        return; // validated; keeps `step_by(0)`'s panic out
    }
    for (ch, out) in output.iter_mut().enumerate().take(c) {
        let sum: i32 = input
            .iter()
            .skip(ch)
            .step_by(c)
            .map(|&x| x as i32 - in_zp)
            .sum();
        *out = requantize_i8(sum, rq.multiplier.get(ch), rq.shift.get(ch), out_zp);
    }
}
