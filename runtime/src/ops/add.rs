//! Residual add with both inputs rescaled. See [`crate::Add`].

use crate::quant::{requantize, requantize_i8};
use crate::schedule::Add;

/// One element of the add: the whole integer contract in one place.
#[inline(always)]
pub fn add_element(p: &Add, a: i8, b: i8) -> i8 {
    let a = requantize((a as i32 - p.a_zp) << p.left_shift, p.a_mult, p.a_shift);
    let b = requantize((b as i32 - p.b_zp) << p.left_shift, p.b_mult, p.b_shift);
    requantize_i8(a.saturating_add(b), p.out_mult, p.out_shift, p.out_zp)
}

/// Reference kernel over separate buffers.
pub fn add_reference(p: &Add, a: &[i8], b: &[i8], output: &mut [i8]) {
    for ((o, &x), &y) in output.iter_mut().zip(a).zip(b) {
        *o = add_element(p, x, y);
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
