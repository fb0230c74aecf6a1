//! The `out16` suite (M55 only, features `mve` and `fast-int16`): the
//! Helium output steps of the int16 build (`runtime::kernels::mve`'s
//! `out16`) called directly against `quant::requantize` and
//! `ops::add::add_value`: `finish16_px4` (`fc2`'s int16 outputs) and
//! `wide_finish16` (the int16 depthwise's 16 channels) over every shift in
//! `-31..=30` with multipliers at both ends and sums at the i32 extremes,
//! and `add16` (the residual add on int16) over every shift of each
//! operand and of the output, every `left_shift` 0..=15, int16 inputs at
//! their extremes and 1..=19 elements (partial vectors). Each form must
//! decline exactly the cases it does not cover (shift outside `-31..=30`,
//! a small multiplier with `t <= 31`, a zero point outside int16, odd
//! addresses) and leave the output untouched then.

use super::{Rng, Suite};
use core::fmt::{self, Write};
use runtime::kernels::mve::{add16, finish16_px4, wide_finish16};
use runtime::ops::add::add_value;
use runtime::ops::conv::ConvArgs;
use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
use runtime::quant::requantize;
use runtime::{Add, Elem, TensorRef};
use testkit::{bare_conv, bare_tensor};

/// The reference output step: `requantize`, `+ zp` saturating, the clamp.
fn reference(acc: i32, m: i32, s: i32, zp: i32, out: Elem) -> i32 {
    let (lo, hi) = out.range();
    requantize(acc, m, s).saturating_add(zp).clamp(lo, hi)
}

/// Whether the vector forms take a lane (`out16`'s `lane_exact` and shift
/// range): what the suite expects them to decline otherwise.
fn covered(s: i32, m: i32) -> bool {
    (-31..=30).contains(&s) && (s < 0 || m == 0 || m >= 1 << 30)
}

/// Stored 16-bit multipliers: both ends of codegen's range, zero, and
/// ones the forms must decline with `t <= 31` (small, negative).
const M16: [i16; 7] = [16384, i16::MAX, 0x5a5a, 0, 1, -1, i16::MIN];

/// Sums at the extremes and near zero.
const EXTREME: [i32; 8] = [i32::MIN, i32::MAX, -1, 0, 1, i32::MIN + 1, 1 << 30, -(1 << 30)];

/// A case's parameters, for the report.
struct Case(i32, i32, i32);

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m {} shift {} zp {}", self.0, self.1, self.2)
    }
}

/// Word-aligned bytes (operands read as halfwords or words).
#[repr(C, align(4))]
struct Bytes<const N: usize>([u8; N]);

/// Word-aligned int8 storage (int16 tensors, little-endian).
#[repr(C, align(4))]
struct I8s<const N: usize>([i8; N]);

/// Element `i` of little-endian int16 bytes.
fn half(b: &[i8], i: usize) -> i32 {
    i32::from(i16::from_le_bytes([b[2 * i] as u8, b[2 * i + 1] as u8]))
}

/// Stores `v` as element `i` of little-endian int16 bytes.
fn put_half(b: &mut [i8], i: usize, v: i16) {
    let [l, h] = v.to_le_bytes();
    (b[2 * i], b[2 * i + 1]) = (l as i8, h as i8);
}

pub(super) fn out16_suite(out: &mut impl Write) -> Suite {
    let mut r = Rng::new(0x0016_0F16_5EED_4157);
    let mut suite = Suite::new("out16");
    px4_cases(out, &mut r, &mut suite);
    wide_cases(out, &mut r, &mut suite);
    add_cases(out, &mut r, &mut suite);
    suite
}

/// `finish16_px4` for every shift `-33..=32` and multiplier of [`M16`].
fn px4_cases(out: &mut impl Write, r: &mut Rng, suite: &mut Suite) {
    let mut case = 0;
    for shift in -33..=32 {
        for &m16 in &M16 {
            let m = i32::from(m16) << 16;
            let zp = [0, -32768, 32767, r.range_i32(-400, 400), 40000][case % 5];
            let c = 1 + r.below(9);
            let o = r.below(c);
            let dots: [i32; 4] = core::array::from_fn(|i| match case % 3 {
                0 => EXTREME[(case + i) % 8],
                1 => r.range_i32(-(1 << 20), 1 << 20),
                _ => r.next_u64() as i32,
            });
            let base = [0, i32::MAX, i32::MIN, r.next_u64() as i32][case % 4];
            let mut d = I8s([0x55; 2 * 4 * 9 + 2]);
            let sd = &mut d.0[..2 * 4 * c];
            let take = covered(shift, m) && (-32768..=32767).contains(&zp);
            let case_of = Case(m, shift, zp);
            let done = finish16_px4(dots, base, m, shift, zp, sd, o, c);
            if done != take {
                let what = format_args!("took {done}, expected {take}");
                suite.fail(out, "finish16_px4", case, &case_of, what);
            }
            for k in 0..4 * c {
                let got = half(sd, k);
                let want = match (done, k % c == o) {
                    (true, true) => {
                        let acc = base.wrapping_add(dots[k / c]);
                        reference(acc, m, shift, zp, Elem::I16)
                    }
                    _ => 0x5555,
                };
                if got != want {
                    let what = format_args!("element {k}: expected {want}, got {got}");
                    suite.fail(out, "finish16_px4", case, &case_of, what);
                }
            }
            // An odd address declines.
            let mut odd = I8s([0x55; 2 * 4 * 9 + 2]);
            if finish16_px4(dots, base, m, shift, zp, &mut odd.0[1..1 + 2 * 4 * c], o, c) {
                let what = format_args!("took an odd address");
                suite.fail(out, "finish16_px4", case, &case_of, what);
            }
            suite.end_case();
            case += 1;
        }
    }
}

/// `wide_finish16` on 16 channels whose shifts cover `-31..=30` (lane `j`
/// of case `k` takes shift `-31 + (j + 16 k) % 62`), with and without the
/// identity tap, int8 and int16 outputs; then the declines.
fn wide_cases(out: &mut impl Write, r: &mut Rng, suite: &mut Suite) {
    const N: usize = 16;
    for case in 0..64 {
        let elem = if case % 2 == 0 { Elem::I16 } else { Elem::I8 };
        let mut p = bare_conv(
            bare_tensor(1, 1, N, Elem::I16),
            bare_tensor(1, 1, N, elem),
            (3, 1, 1),
            N as u16,
        );
        p.out_zp = match elem {
            Elem::I8 => r.range_i32(-128, 127),
            Elem::I16 => [0, -32768, 32767, r.range_i32(-400, 400)][case % 4],
        };
        let mut bias = Bytes([0u8; 4 * N]);
        let mut id = Bytes([0u8; 4 * N]);
        let mut mult = Bytes([0u8; 2 * N]);
        let mut shift = [0i8; N];
        let mut x = I8s([0; 2 * N]);
        let decline = case >= 48;
        for j in 0..N {
            let b = match case % 3 {
                0 => EXTREME[(case + j) % 8],
                _ => r.range_i32(-(1 << 16), 1 << 16),
            };
            bias.0[4 * j..4 * j + 4].copy_from_slice(&b.to_le_bytes());
            let v = r.range_i32(-(1 << 14), 1 << 14);
            id.0[4 * j..4 * j + 4].copy_from_slice(&v.to_le_bytes());
            // Only multipliers the form covers, until the decline cases.
            let m16 = match decline {
                false => [16384, i16::MAX, 0, r.range_i32(16384, 32767) as i16][(case + j) % 4],
                true => M16[(case + j) % 7],
            };
            mult.0[2 * j..2 * j + 2].copy_from_slice(&m16.to_le_bytes());
            shift[j] = (-31 + ((j + 16 * case) % 62) as i32) as i8;
            if decline && j == case % N && case % 3 == 0 {
                shift[j] = [31i8, -32, 100][(case / 3) % 3];
            }
            let xv = [i16::MIN, i16::MAX, r.range_i32(-32768, 32767) as i16][(case + j) % 3];
            put_half(&mut x.0, j, xv);
        }
        let sums: [i32; N] = core::array::from_fn(|j| match case % 4 {
            0 => EXTREME[(j + case / 4) % 8],
            1 => r.range_i32(-(1 << 20), 1 << 20),
            _ => r.next_u64() as i32,
        });
        let identity = case % 5 < 2;
        let args = ConvArgs {
            input: &[],
            weights: &[],
            bias: I32s(&bias.0),
            requant: RequantView {
                multiplier: Multipliers(&mult.0),
                shift: Shifts(&shift),
            },
            pad_values: &[],
            lut: &[],
            identity: I32s(if identity { &id.0 } else { &[] }),
        };
        let xs = &x.0[..];
        let lanes = |j: usize| {
            let m = i32::from(i16::from_le_bytes([mult.0[2 * j], mult.0[2 * j + 1]])) << 16;
            (m, i32::from(shift[j]))
        };
        let take = (0..N).all(|j| {
            let (m, s) = lanes(j);
            covered(s, m)
        });
        let case_of = Case(0, case as i32, p.out_zp);
        match wide_finish16(&p, &args, (0, sums), xs, elem) {
            None if take => suite.fail(out, "wide_finish16", case, &case_of, format_args!("declined")),
            None => {}
            Some(_) if !take => {
                suite.fail(out, "wide_finish16", case, &case_of, format_args!("took a decline"))
            }
            Some(got) => {
                for (j, &g) in got.iter().enumerate() {
                    let mut acc = word(&bias.0, j).wrapping_add(sums[j]);
                    if identity {
                        acc = acc.wrapping_add(word(&id.0, j).wrapping_mul(half(xs, j)));
                    }
                    let (m, s) = lanes(j);
                    let want = reference(acc, m, s, p.out_zp, elem);
                    if g != want {
                        let what = format_args!("lane {j} (shift {s}, m {m}): expected {want}, got {g}");
                        suite.fail(out, "wide_finish16", case, &case_of, what);
                    }
                }
            }
        }
        // A table or a zero point outside int16 declines.
        let table = [0i8; 256];
        let with_table = ConvArgs { lut: &table, ..args };
        let mut far = p;
        far.out_zp = 40000;
        if wide_finish16(&p, &with_table, (0, sums), xs, elem).is_some()
            || wide_finish16(&far, &args, (0, sums), xs, elem).is_some()
        {
            suite.fail(out, "wide_finish16", case, &case_of, format_args!("took a table or zp"));
        }
        suite.end_case();
    }
}

/// Little-endian i32 `j` of `b`.
fn word(b: &[u8], j: usize) -> i32 {
    i32::from_le_bytes([b[4 * j], b[4 * j + 1], b[4 * j + 2], b[4 * j + 3]])
}

/// An add case for the report.
struct AddCase(Add);

impl fmt::Display for AddCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.0;
        write!(
            f,
            "zp {}/{}/{} mult {}/{}/{} shift {}/{}/{} left {}",
            p.a_zp, p.b_zp, p.out_zp, p.a_mult, p.b_mult, p.out_mult, p.a_shift, p.b_shift,
            p.out_shift, p.left_shift
        )
    }
}

/// `add16` against `add_value` with the int16 saturation.
fn add_cases(out: &mut impl Write, r: &mut Rng, suite: &mut Suite) {
    const MAX_N: usize = 19;
    let t = TensorRef::i8(0, 1, 1, 1);
    let mults = [1 << 30, i32::MAX, 0x5a5a_0000, 0, 12345, -(5 << 28), i32::MIN];
    for case in 0..400 {
        // The first 62 x 2 cases: every operand shift with codegen's
        // multipliers and zero points 0; then anything.
        let plain = case < 124;
        let mut p = Add {
            a: t,
            a_zp: 0,
            a_mult: r.range_i32(1 << 30, i32::MAX),
            a_shift: -31 + (case % 62) as i32,
            b: t,
            b_zp: 0,
            b_mult: r.range_i32(1 << 30, i32::MAX),
            b_shift: r.range_i32(-31, 0),
            output: t,
            out_zp: 0,
            out_mult: r.range_i32(1 << 30, i32::MAX),
            out_shift: -31 + ((case * 7) % 31) as i32,
            left_shift: (case % 16) as u8,
        };
        if case >= 62 && plain {
            (p.a_shift, p.b_shift) = (p.b_shift, p.a_shift);
        }
        if !plain {
            p.a_zp = [0, -32768, 32767, r.range_i32(-300, 300), 40000][case % 5];
            p.b_zp = [0, r.range_i32(-300, 300), -32768][case % 3];
            p.out_zp = [0, 32767, -32768, r.range_i32(-300, 300)][case % 4];
            p.a_mult = mults[case % 7];
            p.b_mult = mults[(case / 7) % 7];
            p.out_mult = mults[(case / 3) % 7];
            p.a_shift = r.range_i32(-34, 33);
            p.b_shift = r.range_i32(-34, 33);
            p.out_shift = r.range_i32(-34, 33);
            p.left_shift = r.below(18) as u8;
        }
        let n = 1 + r.below(MAX_N);
        let mut a = I8s([0; 2 * MAX_N]);
        let mut b = I8s([0; 2 * MAX_N]);
        for i in 0..n {
            let pick = |r: &mut Rng, k: usize| match (case + k + i) % 4 {
                0 => i16::MIN,
                1 => i16::MAX,
                _ => r.range_i32(-32768, 32767) as i16,
            };
            let (va, vb) = (pick(r, 0), pick(r, 1));
            put_half(&mut a.0, i, va);
            put_half(&mut b.0, i, vb);
        }
        let mut got = I8s([0x55; 2 * MAX_N]);
        let done = add16(&p, &a.0[..2 * n], &b.0[..2 * n], &mut got.0[..2 * n]);
        let case_of = AddCase(p);
        // Taken for sure: zero points 0, `t >= 32` at the output and each
        // operand's `left_shift + L <= 16` (module doc of `out16`).
        let fits = |s: i32| u32::from(p.left_shift) + (s + 1).max(0) as u32 <= 16;
        let sure = plain && fits(p.a_shift) && fits(p.b_shift);
        if sure && done != n {
            let what = format_args!("did {done} of {n}");
            suite.fail(out, "add16", case, &case_of, what);
        }
        if done != 0 && done != n {
            let what = format_args!("did {done} of {n}");
            suite.fail(out, "add16", case, &case_of, what);
        }
        for i in 0..n {
            let g = half(&got.0, i);
            let want = if done == n {
                add_value(&case_of.0, half(&a.0, i), half(&b.0, i)).clamp(-32768, 32767)
            } else {
                0x5555
            };
            if g != want {
                let what = format_args!("element {i}: expected {want}, got {g}");
                suite.fail(out, "add16", case, &case_of, what);
            }
        }
        suite.end_case();
    }
}
