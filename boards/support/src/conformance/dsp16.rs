//! The `dsp16` suite (DSP tier, M4/M33; feature `fast-int16`): the channel
//! blocks of the ConvMlp with int16 internals (`runtime::kernels::wide_mlp`)
//! on the real `asm!` loops: `dsp::block_px4` over int16 inputs
//! (`prepare_px4_i16`, the `fc1`: int8 outputs through a table) and
//! `dsp::block_px4_i16` (int8 inputs, int16 outputs: the `fc2`), against
//! the exact sums requantized by `quant::requantize`. `cin` 16..=128 in
//! steps of 16 (and a few others, which must decline with nothing
//! written), 1..=70 output channels (several 32-channel blocks and a
//! partial one), every shift in `-31..=-2`, stored multipliers including
//! `i16::MIN`; the first cases put every input and weight at an extreme.
//! The channel-vector taps and output step of the int16 depthwise
//! (`dsp::wide_sums16`, `dsp::wide_finish16`) run in the `wide` suite.

use super::{Rng, Suite};
use core::fmt::Write;
use runtime::kernels::dsp::{block_px4, block_px4_i16, prepare_px4, prepare_px4_i16};
use runtime::operands::widen;
use runtime::quant::requantize;

/// Cases of the suite.
const DSP16_CASES: usize = 80;

/// Widest input and output channel counts.
const MAX_C: usize = 128;
const MAX_COUT: usize = 70;

/// A case's shape, for the report.
struct Shape(usize, usize);

impl core::fmt::Display for Shape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "cin {} cout {}", self.0, self.1)
    }
}

/// Word-aligned weights, as the blob gives them.
#[repr(C, align(4))]
struct Aligned([i8; MAX_C * MAX_COUT]);

pub(super) fn dsp16_suite(out: &mut impl Write) -> Suite {
    let mut r = Rng::new(0x0D5B_1616_F00D_5EED);
    let mut suite = Suite::new("dsp16");
    let mut x = [0i16; 4 * MAX_C];
    let mut bytes = [0i8; 8 * MAX_C];
    let mut x8 = [0i8; 4 * MAX_C];
    let mut w = Aligned([0; MAX_C * MAX_COUT]);
    let mut bias = [0u8; 4 * MAX_COUT];
    let mut mult = [0u8; 2 * MAX_COUT];
    let mut shift = [0i8; MAX_COUT];
    let mut words = [0u32; 2 * MAX_C];
    let mut got = [0i8; 8 * MAX_COUT];
    for case in 0..DSP16_CASES {
        let extreme = case < 4;
        let cin = match case % 10 {
            9 => [20, 36, 100][r.below(3)],
            _ => 16 * (1 + r.below(MAX_C / 16)),
        };
        let cout = 1 + r.below(MAX_COUT);
        for (i, v) in x[..4 * cin].iter_mut().enumerate() {
            *v = match extreme {
                true => [-32768, 32767][(case + i) % 2],
                false => r.range_i32(-32768, 32767) as i16,
            };
            let [lo, hi] = v.to_le_bytes();
            bytes[2 * i] = lo as i8;
            bytes[2 * i + 1] = hi as i8;
            x8[i] = *v as i8;
        }
        for (i, v) in w.0[..cout * cin].iter_mut().enumerate() {
            *v = match extreme {
                true => [-128, 127][(case / 2 + i) % 2],
                false => r.i8(),
            };
        }
        for o in 0..cout {
            let b = r.range_i32(-(1 << 24), 1 << 24);
            bias[4 * o..4 * o + 4].copy_from_slice(&b.to_le_bytes());
            let m = match o % 5 {
                0 => i16::MIN,
                _ => r.range_i32(-32768, 32767) as i16,
            };
            mult[2 * o..2 * o + 2].copy_from_slice(&m.to_le_bytes());
            shift[o] = r.range_i32(-31, -2) as i8;
        }
        let (zp8, zp16) = (r.range_i32(-128, 127), r.range_i32(-128, 127));
        let table: [i8; 256] = core::array::from_fn(|_| r.i8());
        let takes = cin % 16 == 0;
        let wts = &w.0[..cout * cin];
        let (b, m, s) = (&bias[..4 * cout], &mult[..2 * cout], &shift[..cout]);
        let shape = Shape(cin, cout);
        let bias_of =
            |o: usize| i32::from_le_bytes([b[4 * o], b[4 * o + 1], b[4 * o + 2], b[4 * o + 3]]);
        let req = |o: usize, acc: i32| {
            let m16 = i16::from_le_bytes([m[2 * o], m[2 * o + 1]]);
            requantize(acc, widen(m16), s[o].into())
        };
        // fc1: int16 inputs, int8 outputs through the table.
        got.fill(0x55);
        let done = match prepare_px4_i16(&bytes[..8 * cin], cin, &mut words) {
            Some(px) => block_px4(
                &px,
                cout,
                wts,
                b,
                m,
                s,
                zp8,
                Some(&table),
                &mut got[..4 * cout],
            ),
            None => usize::MAX,
        };
        if done != if takes { cout } else { 0 } {
            let what = format_args!("{done} channels done");
            suite.fail(out, "block_px4 (int16 in)", case, &shape, what);
        }
        for p in 0..4 {
            for o in 0..cout {
                let dot = (0..cin).fold(0i32, |a, i| {
                    a.wrapping_add(i32::from(wts[o * cin + i]) * i32::from(x[p * cin + i]))
                });
                let y = req(o, bias_of(o).wrapping_add(dot)).saturating_add(zp8);
                let want = match takes {
                    true => table[(y.clamp(-128, 127) as u8 ^ 0x80) as usize],
                    false => 0x55,
                };
                let g = got[p * cout + o];
                if g != want {
                    let what = format_args!("pixel {p} channel {o}: expected {want}, got {g}");
                    suite.fail(out, "block_px4 (int16 in)", case, &shape, what);
                }
            }
        }
        // fc2: int8 inputs, int16 outputs.
        got.fill(0x55);
        let done = match prepare_px4(&x8[..4 * cin], cin, &mut words) {
            Some(px) => block_px4_i16(&px, cout, wts, b, m, s, zp16, &mut got[..8 * cout]),
            None => usize::MAX,
        };
        if done != if takes { cout } else { 0 } {
            let what = format_args!("{done} channels done");
            suite.fail(out, "block_px4_i16", case, &shape, what);
        }
        for p in 0..4 {
            for o in 0..cout {
                let dot = (0..cin).fold(0i32, |a, i| {
                    a.wrapping_add(i32::from(wts[o * cin + i]) * i32::from(x8[p * cin + i]))
                });
                let want = match takes {
                    true => {
                        let y = req(o, bias_of(o).wrapping_add(dot)).saturating_add(zp16);
                        y.clamp(-32768, 32767) as i16
                    }
                    false => 0x5555,
                };
                let at = 2 * (p * cout + o);
                let g = i16::from_le_bytes([got[at] as u8, got[at + 1] as u8]);
                if g != want {
                    let what = format_args!("pixel {p} channel {o}: expected {want}, got {g}");
                    suite.fail(out, "block_px4_i16", case, &shape, what);
                }
            }
        }
        suite.end_case();
    }
    suite
}
