//! Global average pool. See [`crate::GlobalAvgPool`].

use super::RequantView;
use crate::quant::requantize;
use crate::schedule::GlobalAvgPool;
use crate::tensor::Elem;

/// Reference kernel: i32 sums per channel, one requantization.
pub fn global_avg_pool_reference(
    p: &GlobalAvgPool,
    rq: RequantView<'_>,
    input: &[i8],
    output: &mut [i8],
) {
    let (c, elems) = (p.input.c as usize, (p.input.elem, p.output.elem));
    pool(input, c, p.in_zp, rq, p.out_zp, output, elems);
}

/// The pool of an `h * w * c` `input` into `output[..c]` (also the squeeze
/// of squeeze-excite): per channel the sum of `x - in_zp`, requantized and
/// saturated to the output's element type.
pub(crate) fn pool(
    input: &[i8],
    c: usize,
    in_zp: i32,
    rq: RequantView<'_>,
    out_zp: i32,
    output: &mut [i8],
    (in_elem, out_elem): (Elem, Elem),
) {
    if c == 0 {
        return; // validated; keeps `step_by(0)`'s panic out
    }
    let n = input.len() / in_elem.bytes();
    for ch in 0..c {
        // The element type decided outside the sum.
        let sum = match in_elem {
            Elem::I8 => input
                .iter()
                .skip(ch)
                .step_by(c)
                .fold(0i32, |s, &x| s.wrapping_add(x as i32 - in_zp)),
            Elem::I16 => (ch..n).step_by(c).fold(0i32, |s, i| {
                s.wrapping_add(Elem::I16.load(input, i) - in_zp)
            }),
        };
        let y = requantize(sum, rq.multiplier.get(ch), rq.shift.get(ch)).saturating_add(out_zp);
        out_elem.store(output, ch, y);
    }
}
