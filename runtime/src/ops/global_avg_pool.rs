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
    let c = p.input.c as usize;
    if c == 0 {
        return; // validated; keeps `step_by(0)`'s panic out
    }
    for (ch, out) in output.iter_mut().enumerate().take(c) {
        let sum: i32 = input
            .iter()
            .skip(ch)
            .step_by(c)
            .map(|&x| x as i32 - p.in_zp)
            .sum();
        *out = requantize_i8(sum, rq.multiplier.get(ch), rq.shift.get(ch), p.out_zp);
    }
}
