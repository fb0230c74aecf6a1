//! Portable dot-product primitives, written so LLVM vectorizes them: equal
//! lengths proven up front (no bounds checks in the loop), i32 wrapping
//! accumulation of i8 x i8 products. This is the reference tier and also the
//! NEON and MVE tiers (see [`super`]).
#![forbid(unsafe_code)]

/// `[sum_i w[r][i] * x[i]; r in 0..4]`, wrapping i32: four weight rows
/// against one input vector. Every row must be at least `x.len()` long.
#[inline]
pub fn dot4(w: [&[i8]; 4], x: &[i8]) -> [i32; 4] {
    let n = x.len();
    let (w0, w1, w2, w3) = (&w[0][..n], &w[1][..n], &w[2][..n], &w[3][..n]);
    let mut a = [0i32; 4];
    for i in 0..n {
        let xv = x[i] as i32;
        a[0] = a[0].wrapping_add((w0[i] as i32).wrapping_mul(xv));
        a[1] = a[1].wrapping_add((w1[i] as i32).wrapping_mul(xv));
        a[2] = a[2].wrapping_add((w2[i] as i32).wrapping_mul(xv));
        a[3] = a[3].wrapping_add((w3[i] as i32).wrapping_mul(xv));
    }
    a
}

/// `sum_i w[i] * x[i]`, wrapping i32, over `x.len()` elements.
#[inline]
pub fn dot1(w: &[i8], x: &[i8]) -> i32 {
    w[..x.len()].iter().zip(x).fold(0i32, |a, (&w, &x)| {
        a.wrapping_add((w as i32).wrapping_mul(x as i32))
    })
}
