//! The `wide` suite: the int16 depthwise on channel vectors
//! (`runtime::kernels::wide`, feature `fast-int16`; the tier's
//! `wide_sums16`: Helium `VMULLB`/`VMULLT.S16` asm on M55, the portable
//! loops on M4/M33) against `conv_reference`: out of place (int8 or int16
//! output), in place, and the ConvMlp `dw` pixel groups; 16..48 channels,
//! multiplier 1 or 2, 1x1..7x7, stride 1/2, any padding, identity weights
//! half the time,
//! int16 inputs over their whole range (zero point 0, as codegen gives
//! them). The first cases put a single non-zero weight on one tap each, so
//! a tap read from the wrong place fails on its own.

use super::{Buffers, Rng, Suite, MAX_C, MAX_RING, MAX_W, MAX_X, MAX_Y};
use core::fmt::{self, Write};
use runtime::kernels::wide;
use runtime::ops::conv::{conv_reference, ConvArgs};
use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
use runtime::{Conv, Elem};
use testkit::{bare_conv, bare_tensor};

/// Cases of the suite (the first 49 one tap each of a 7x7).
const WIDE_CASES: usize = 250;

/// A case's shape, for the report.
struct Shape(Conv);

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        write!(
            f,
            "{}x{}x{} k{} s{} p{} -> {:?}",
            p.input.h, p.input.w, p.input.c, p.kernel, p.stride, p.pad, p.output.elem
        )
    }
}

/// A random conv of the suite (case `case`; the first ones one-tap 7x7).
fn draw(r: &mut Rng, case: usize) -> Conv {
    let c = [16, 17, 32, 33, 48][r.below(5)];
    let one_tap = case < 49;
    let (k, stride) = if one_tap {
        (7, 1)
    } else {
        (1 + r.below(7), 1 + r.below(2))
    };
    let pad = if one_tap { 3 } else { r.below(k / 2 + 2) };
    let (h, w) = (k.saturating_sub(2 * pad).max(1) + r.below(4), 1 + r.below(5));
    let w = w.max(k.saturating_sub(2 * pad));
    let (oh, ow) = (
        (h + 2 * pad - k) / stride + 1,
        (w + 2 * pad - k) / stride + 1,
    );
    let out = if r.one_in(2) { Elem::I8 } else { Elem::I16 };
    let m = if one_tap { 1 } else { 1 + r.below(2) };
    let mut p = bare_conv(
        bare_tensor(h, w, c, Elem::I16),
        bare_tensor(oh, ow, c * m, out),
        (k as u8, stride as u8, pad as u8),
        c as u16,
    );
    p.out_zp = match out {
        Elem::I8 => r.range_i32(-128, 127),
        Elem::I16 => r.range_i32(-400, 400),
    };
    p
}

/// Runs the suite in `b`'s buffers.
pub(super) fn wide_suite(out: &mut impl Write, b: &mut Buffers) -> Suite {
    let mut r = Rng::new(0x1616_0007_D1CE_5EED);
    let mut suite = Suite::new("wide");
    for case in 0..WIDE_CASES {
        let p = draw(&mut r, case);
        let (c, k) = (p.input.c as usize, p.kernel as usize);
        let n_in = p.input.h as usize * p.input.w as usize * c;
        let (oh, ow, cout) = (p.output.h as usize, p.output.w as usize, p.output.c as usize);
        let n_out = oh * ow * cout * p.output.elem.bytes();
        if 2 * n_in > MAX_X || n_out > MAX_Y || cout * k * k > MAX_W || cout > MAX_C {
            continue;
        }
        for i in 0..n_in {
            Elem::I16.store(&mut b.x, i, r.range_i32(-32768, 32767));
        }
        let a = &mut b.a;
        for (i, w) in a.w[..cout * k * k].iter_mut().enumerate() {
            *w = if case < 49 {
                if i % (k * k) == case { [127, -128][(i / 49) % 2] } else { 0 }
            } else {
                r.i8()
            };
        }
        for o in 0..cout {
            let bias = r.range_i32(-(1 << 16), 1 << 16);
            a.bias[4 * o..4 * o + 4].copy_from_slice(&bias.to_le_bytes());
            let id = r.range_i32(-(1 << 14), 1 << 14);
            a.folded[4 * o..4 * o + 4].copy_from_slice(&id.to_le_bytes());
            let m = r.range_i32(1 << 14, i16::MAX as i32) as i16;
            a.mult.0[2 * o..2 * o + 2].copy_from_slice(&m.to_le_bytes());
            a.shift[o] = r.range_i32(-14, 2) as i8;
        }
        let identity = same_hw(&p) && cout == c && r.one_in(2);
        let args = ConvArgs {
            input: &b.x[..2 * n_in],
            weights: &a.w[..cout * k * k],
            bias: I32s(&a.bias[..4 * cout]),
            requant: RequantView {
                multiplier: Multipliers(&a.mult.0[..2 * cout]),
                shift: Shifts(&a.shift[..cout]),
            },
            pad_values: &[],
            lut: &[],
            identity: I32s(if identity { &a.folded[..4 * cout] } else { &[] }),
        };
        let shape = Shape(p);
        conv_reference(&p, &args, &mut b.want[..n_out]);
        let got = &mut b.got[..n_out];
        got.fill(0x55);
        if !wide::conv(&p, &args, got) {
            suite.fail(out, "conv", case, &shape, format_args!("declined"));
        }
        suite.same(out, "conv", case, &shape, &b.want[..n_out], got, cout);
        let in_place = p.stride == 1
            && 2 * p.pad as usize + 1 == k
            && p.output.elem == Elem::I16
            && cout == c;
        let ring_len = Conv::in_place_scratch_bytes(k, p.input.w as usize, 2 * c);
        if in_place && ring_len <= MAX_RING {
            got.copy_from_slice(&b.x[..n_out]);
            if !wide::conv_in_place(&p, &args, got, &mut b.ring[..ring_len]) {
                suite.fail(out, "in place", case, &shape, format_args!("declined"));
            }
            suite.same(out, "in place", case, &shape, &b.want[..n_out], got, 2 * c);
        }
        if p.output.elem == Elem::I8 && p.stride == 1 && cout == c {
            let row_bytes = p.input.w as usize * c * 2;
            let x = &b.x[..2 * n_in];
            let row = |iy: usize| x.get(iy * row_bytes..(iy + 1) * row_bytes).unwrap_or(&[]);
            for y in 0..oh {
                for x0 in (0..ow).step_by(4) {
                    let n = (ow - x0).min(4);
                    let at = (y * ow + x0) * c;
                    let d = &mut got[at..at + n * c];
                    wide::depthwise_group_i8(&p, &args, (y, x0), row, d);
                }
            }
            suite.same(out, "dw group", case, &shape, &b.want[..n_out], got, c);
        }
        if p.output.elem == Elem::I16 && p.stride == 1 && cout == c {
            // The int16-output group: the `dw` of a ConvMlp whose internals
            // are int16 (`kernels::wide_mlp`).
            let row_bytes = p.input.w as usize * c * 2;
            let x = &b.x[..2 * n_in];
            let row = |iy: usize| x.get(iy * row_bytes..(iy + 1) * row_bytes).unwrap_or(&[]);
            got.fill(0x55);
            for y in 0..oh {
                for x0 in (0..ow).step_by(4) {
                    let n = (ow - x0).min(4);
                    let at = 2 * (y * ow + x0) * c;
                    let d = &mut got[at..at + 2 * n * c];
                    wide::depthwise_group_i16(&p, &args, (y, x0), row, d);
                }
            }
            suite.same(out, "dw group i16", case, &shape, &b.want[..n_out], got, 2 * c);
        }
        suite.end_case();
    }
    suite
}

fn same_hw(p: &Conv) -> bool {
    (p.input.h, p.input.w) == (p.output.h, p.output.w)
}

/// Cases of the [`tile16_suite`].
const TILE16_CASES: usize = 60;

/// Widest `cin` of the [`tile16_suite`].
const TILE16_MAX_CIN: usize = 128;

/// The DSP 1x1 tile over int16 inputs (`kernels::wide_mlp`'s `fc1` on
/// M4/M33: `dsp::prepare_px4_i16`, then the `SXTB16`/`SMLAD` asm
/// `dsp::dot_px4`; the instruction models elsewhere) against the exact dot
/// product of four pixels, `cin` a multiple of 4 up to 128, the first
/// cases every input at -32768 and every weight at -128.
pub(super) fn tile16_suite(out: &mut impl Write) -> Suite {
    use runtime::kernels::dsp::{dot_px4, prepare_px4_i16};
    let mut r = Rng::new(0x1616_7113_D1CE_5EED);
    let mut suite = Suite::new("tile16");
    let mut x = [0i8; 8 * TILE16_MAX_CIN];
    let mut words = [0u32; 2 * TILE16_MAX_CIN];
    let mut w = [0i8; TILE16_MAX_CIN];
    for case in 0..TILE16_CASES {
        let cin = 4 * (1 + r.below(TILE16_MAX_CIN / 4));
        let extreme = case < 8;
        for i in 0..4 * cin {
            let v = if extreme { -32768 } else { r.range_i32(-32768, 32767) };
            Elem::I16.store(&mut x, i, v);
        }
        for v in w[..cin].iter_mut() {
            *v = if extreme { -128 } else { r.i8() };
        }
        let shape = cin;
        let Some(px) = prepare_px4_i16(&x[..8 * cin], cin, &mut words) else {
            suite.fail(out, "prepare", case, &shape, format_args!("declined"));
            suite.end_case();
            continue;
        };
        let got = dot_px4(&px, &w[..cin]);
        for (p, &g) in got.iter().enumerate() {
            let mut exact = 0i64;
            for (i, &wv) in w[..cin].iter().enumerate() {
                let xv = Elem::I16.value(&x, p * cin + i).unwrap_or(0);
                exact += i64::from(wv) * i64::from(xv);
            }
            if i64::from(g) != exact {
                let what = format_args!("pixel {p}: expected {exact}, got {g}");
                suite.fail(out, "dot_px4", case, &shape, what);
            }
        }
        suite.end_case();
    }
    suite
}
