//! Residual add with both inputs rescaled. See [`crate::Add`].

use crate::quant::requantize;
use crate::schedule::Add;
use crate::tensor::Storage;

/// One element of the add: the whole integer contract in one place.
#[inline(always)]
pub fn add_element(p: &Add, a: i8, b: i8) -> i8 {
    add_value(p, a as i32, b as i32).clamp(-128, 127) as i8
}

/// [`add_element`] for inputs of any element type, before the output's
/// saturation (int16 inputs take a `left_shift` of at most 15, which the
/// executor checks, so the shifted value fits an i32).
#[inline(always)]
pub fn add_value(p: &Add, a: i32, b: i32) -> i32 {
    let a = requantize((a - p.a_zp) << p.left_shift, p.a_mult, p.a_shift);
    let b = requantize((b - p.b_zp) << p.left_shift, p.b_mult, p.b_shift);
    requantize(a.saturating_add(b), p.out_mult, p.out_shift).saturating_add(p.out_zp)
}

/// Reference kernel over separate buffers.
pub fn add_reference(p: &Add, a: &[i8], b: &[i8], output: &mut [i8]) {
    for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
        *o = add_element(p, x, y);
    }
}

/// The add over separate buffers of any element types: as many elements as
/// `output` holds.
pub fn add_with(
    p: &Add,
    (a, ea): (&[i8], impl Storage),
    (b, eb): (&[i8], impl Storage),
    (output, eo): (&mut [i8], impl Storage),
) {
    for i in 0..output.len() / eo.bytes() {
        let (Some(x), Some(y)) = (ea.get(a, i), eb.get(b, i)) else {
            return;
        };
        eo.put(output, i, add_value(p, x, y));
    }
}

/// In place: `a_out[i] = add(a_out[i], b[i])`.
pub fn add_in_place(p: &Add, a_out: &mut [i8], b: &[i8]) {
    for (o, &y) in a_out.iter_mut().zip(b) {
        *o = add_element(p, *o, y);
    }
}

/// In place on the second operand: `b_out[i] = add(a[i], b_out[i])`.
pub fn add_in_place_b(p: &Add, a: &[i8], b_out: &mut [i8]) {
    for (o, &x) in b_out.iter_mut().zip(a) {
        *o = add_element(p, x, *o);
    }
}

/// In place over one operand of element type `e` (the output's too):
/// `data[i] = add(data[i], other[i])`, or with the operands swapped if
/// `data_is_b`.
pub fn add_in_place_with(
    p: &Add,
    (data, e): (&mut [i8], impl Storage),
    (other, eo): (&[i8], impl Storage),
    data_is_b: bool,
) {
    for i in 0..data.len() / e.bytes() {
        let (Some(x), Some(y)) = (e.get(data, i), eo.get(other, i)) else {
            return;
        };
        let v = if data_is_b {
            add_value(p, y, x)
        } else {
            add_value(p, x, y)
        };
        e.put(data, i, v);
    }
}
