//! Grouped 2-D convolution, NHWC, OHWI weights. See [`crate::Conv`] for the
//! integer contract.

use super::{I32s, RequantView};
use crate::quant::{requantize, requantize_i8};
use crate::schedule::Conv;
use crate::tensor::{Elem, Int8, Storage};

/// Resolved operands of a [`Conv`].
pub struct ConvArgs<'a> {
    /// Input activations, `h * w * cin` (unused by [`conv_element`], which
    /// reads through a closure, and by the kernels built on it).
    pub input: &'a [i8],
    /// Weights, `cout * k * k * cin/groups`.
    pub weights: &'a [i8],
    /// Bias per output channel.
    pub bias: I32s<'a>,
    /// Requantization per output channel.
    pub requant: RequantView<'a>,
    /// Padding value per input channel, or empty for `in_zp`.
    pub pad_values: &'a [i8],
    /// Activation table (256 int8 entries; 256 little-endian int16 ones
    /// for an int16 output), or empty.
    pub lut: &'a [i8],
    /// Identity weight per output channel ([`Conv::identity`]), or empty.
    pub identity: I32s<'a>,
}

/// One output element `(oy, ox, o)` of an int8 conv: the whole [`Conv`]
/// contract in one place. `x(iy, ix, c)` returns the input element at an
/// in-bounds position (`None` if the buffer is too short, which the executor
/// rules out: the output is then 0, with no panic compiled in);
/// taps outside the input read the padding value instead. Every conv kernel
/// (reference, in place, streamed, fused) computes its outputs with this or
/// with [`conv_value`], its form for any element types.
#[inline(always)]
pub fn conv_element(
    p: &Conv,
    a: &ConvArgs<'_>,
    oy: usize,
    ox: usize,
    o: usize,
    x: impl Fn(usize, usize, usize) -> Option<i8>,
) -> i8 {
    conv_value(p, a, (oy, ox, o), Elem::I8, |iy, ix, c| {
        x(iy, ix, c).map(i32::from)
    }) as i8
}

/// [`conv_element`] for an input and output of any [`Elem`] (`out`; the
/// result is in its range): int16 inputs are read as they are, an int16
/// output is requantized to int16, or, with a table, requantized to int8 and
/// mapped through the table's 256 int16 entries.
#[inline(always)]
pub fn conv_value(
    p: &Conv,
    a: &ConvArgs<'_>,
    (oy, ox, o): (usize, usize, usize),
    out: Elem,
    x: impl Fn(usize, usize, usize) -> Option<i32>,
) -> i32 {
    if matches!(p.input.elem, Elem::I8) {
        conv_acc::<i32>(p, a, (oy, ox, o), x).map_or(0, |acc| finish(p, a, acc, o, out))
    } else {
        // An int16 input sums in i64 (as the fully connected layer), so no
        // fan-in can overflow; where the sum fits i32 (every shape the fast
        // int16 forms take) this equals the i32 sum and `finish`.
        conv_acc::<i64>(p, a, (oy, ox, o), x).map_or(0, |acc| {
            let (m, s) = (a.requant.multiplier.get(o), a.requant.shift.get(o));
            out_step(p, a, crate::quant::requantize_wide(acc, m, s), out)
        })
    }
}

/// The accumulator of a conv: i32 for an int8 input, i64 for an int16 one.
trait Acc: Copy + core::ops::AddAssign + core::ops::Mul<Output = Self> + From<i32> {}
impl Acc for i32 {}
impl Acc for i64 {}

/// The accumulator of output `(oy, ox, o)`: bias plus every tap's
/// `w * (x - in_zp)`, plus the identity tap's `identity[o] * (x(oy, ox, o) -
/// in_zp)` when there are identity weights.
#[inline(always)]
fn conv_acc<A: Acc>(
    p: &Conv,
    a: &ConvArgs<'_>,
    (oy, ox, o): (usize, usize, usize),
    x: impl Fn(usize, usize, usize) -> Option<i32>,
) -> Option<A> {
    let (ih, iw, cin) = (p.input.h as i32, p.input.w as i32, p.input.c as usize);
    let cout = p.output.c as usize;
    let (k, stride, pad) = (p.kernel as i32, p.stride as i32, p.pad as i32);
    // Validated non-zero (`Model` checks groups and shapes); `checked_div`
    // keeps a division-by-zero panic out of the code all the same.
    let cin_g = cin.checked_div(p.groups as usize).unwrap_or(0);
    let cout_g = cout.checked_div(p.groups as usize).unwrap_or(0);
    let g = o.checked_div(cout_g).unwrap_or(0);
    let mut acc = A::from(a.bias.get(o));
    for ky in 0..k {
        let iy = oy as i32 * stride + ky - pad;
        for kx in 0..k {
            let ix = ox as i32 * stride + kx - pad;
            let inside = iy >= 0 && iy < ih && ix >= 0 && ix < iw;
            let wbase = ((o * k as usize + ky as usize) * k as usize + kx as usize) * cin_g;
            // Checked reads that leave the function on failure (never: the
            // executor validated every operand): no panic compiled in.
            let taps = a.weights.get(wbase..wbase + cin_g)?;
            for (ci, &w) in taps.iter().enumerate() {
                let c = g * cin_g + ci;
                let v = if inside {
                    x(iy as usize, ix as usize, c)?
                } else if a.pad_values.is_empty() {
                    p.in_zp
                } else {
                    *a.pad_values.get(c)? as i32
                };
                acc += A::from(w as i32) * A::from(v - p.in_zp);
            }
        }
    }
    if !a.identity.is_empty() {
        acc += A::from(a.identity.get(o)) * A::from(x(oy, ox, o)? - p.in_zp);
    }
    Some(acc)
}

/// Requantizes `acc` (output channel `o`) to `out`, through the table if
/// there is one.
#[inline(always)]
pub(crate) fn finish(p: &Conv, a: &ConvArgs<'_>, acc: i32, o: usize, out: Elem) -> i32 {
    let (m, s) = (a.requant.multiplier.get(o), a.requant.shift.get(o));
    match (out, a.lut.is_empty()) {
        (Elem::I8, true) => requantize_i8(acc, m, s, p.out_zp) as i32,
        (Elem::I8, false) => crate::quant::lut(a.lut, requantize_i8(acc, m, s, p.out_zp)) as i32,
        _ => out_step(p, a, requantize(acc, m, s), out),
    }
}

/// [`finish`] after the requantization: `r` (the requantized sum) plus the
/// output zero point, saturated to `out` or mapped through the table.
#[inline(always)]
fn out_step(p: &Conv, a: &ConvArgs<'_>, r: i32, out: Elem) -> i32 {
    let q8 = || r.saturating_add(p.out_zp).clamp(-128, 127);
    match (out, a.lut.is_empty()) {
        (Elem::I8, true) => q8(),
        (Elem::I8, false) => crate::quant::lut(a.lut, q8() as i8) as i32,
        (Elem::I16, true) => {
            let (lo, hi) = Elem::I16.range();
            r.saturating_add(p.out_zp).clamp(lo, hi)
        }
        (Elem::I16, false) => Elem::I16
            .get(a.lut, (q8() as u8 ^ 0x80) as usize)
            .unwrap_or(0),
    }
}

/// Reference kernel: loops in output order (y, x, o), taps (ky, kx, ci).
pub fn conv_reference(p: &Conv, a: &ConvArgs<'_>, output: &mut [i8]) {
    // The int8 form compiled apart from the one for any element types.
    if p.input.elem == Elem::I8 && p.output.elem == Elem::I8 {
        run(p, a, output, Int8, Int8);
    } else {
        run(p, a, output, p.input.elem, p.output.elem);
    }
}

fn run(p: &Conv, a: &ConvArgs<'_>, output: &mut [i8], i: impl Storage, out: impl Storage) {
    let (iw, cin) = (p.input.w as usize, p.input.c as usize);
    let (oh, ow, cout) = (
        p.output.h as usize,
        p.output.w as usize,
        p.output.c as usize,
    );
    // Output order is (y, x, o): one pass over the output.
    let mut n = 0;
    for oy in 0..oh {
        for ox in 0..ow {
            for o in 0..cout {
                let v = conv_value(p, a, (oy, ox, o), out.elem(), |iy, ix, c| {
                    i.get(a.input, (iy * iw + ix) * cin + c)
                });
                out.put(output, n, v);
                n += 1;
            }
        }
    }
}
