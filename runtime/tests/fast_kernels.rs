//! Bit-exactness of the optimized kernels against their reference twins.
//!
//! * The dot-product primitives of every tier (`kernels::portable`, and
//!   `kernels::dsp`, which off ARM runs bit-exact software models of
//!   SXTB16/SMLAD, so its byte pairing and tails are checked here; on target
//!   the same code runs the real instructions) and the selected ones
//!   (`kernels::dot4`/`dot1`) against an i64 model.
//! * The four-pixel tile primitives (`prepare_px4` + `dot_px4`) of every
//!   tier and the selected one, likewise.
//! * `ConvVariant::Pointwise` through `Model` against `ConvVariant::Reference`
//!   (`conv_element`) on random shapes, extreme zero points, multipliers,
//!   shifts and tables. (`PointwiseInPlace` and the fused ConvMlp with
//!   pointwise fc1/fc2 are in `fused_kernels/`.)
//! * Pointwise variants on layers they do not fit are rejected.
//!
//! `PROPTEST_CASES` overrides the case counts.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use runtime::kernels::{self, dsp, portable};
use runtime::quant::requantize_i8;
use runtime::{Conv, ConvMlp, ConvVariant, Error, Layer, Requant, Span};
use testkit::{check, prop_same, run_model, tensor, Blob};

#[path = "common/conv.rs"]
mod conv_params;
use conv_params::{ConvParams, Geometry};

/// Stored 16-bit multipliers (widened to `m16 << 16`): normalized ones
/// (`>= 2^14`) `normal` times as often as `i16::MIN` (which widens to
/// `i32::MIN`) or as any other halfword.
fn stored_multiplier(normal: u32) -> impl Strategy<Value = i16> + Clone {
    prop_oneof![normal => (1i16 << 14)..=i16::MAX, 1 => Just(i16::MIN), 1 => any::<i16>()]
}

/// An accumulator or bias at either i32 extreme as often as anywhere else.
#[cfg(target_arch = "aarch64")]
fn extreme_i32() -> impl Strategy<Value = i32> + Clone {
    prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>()]
}

/// A NEON requantization shift: one of the vector form's (`..=-1`) `right`
/// times as often as one of `-40..=20` (past the clamp, or a left shift the
/// vector forms decline).
#[cfg(target_arch = "aarch64")]
fn neon_shift(right: u32) -> impl Strategy<Value = i8> + Clone {
    prop_oneof![right => -40i8..=-1, 1 => -40i8..=20]
}

// ---------------------------------------------------------------------------
// Dot-product primitives
// ---------------------------------------------------------------------------

fn naive(w: &[i8], x: &[i8]) -> i32 {
    let s: i64 = w.iter().zip(x).map(|(&a, &b)| a as i64 * b as i64).sum();
    s as i32
}

/// The reference output of one channel: the accumulator requantized with
/// its stored multiplier (widened) and shift, then through the table if
/// there is one.
fn reference_out(acc: i32, (mult, shift): (i16, i8), zp: i32, table: Option<&[i8]>) -> i8 {
    let y = requantize_i8(acc, runtime::ops::widen(mult), shift as i32, zp);
    table.map_or(y, |t| t[(y as u8 ^ 0x80) as usize])
}

/// The reference 1x1 conv of pixels `x` (`cin` values each) through `w`
/// (`cout` rows of `cin`): per pixel and output channel, the bias plus the
/// dot product through [`reference_out`].
fn reference_pointwise(
    (w, x): (&[i8], &[i8]),
    cin: usize,
    (bias, mult, shift): (&[i32], &[i16], &[i8]),
    zp: i32,
    table: Option<&[i8]>,
) -> Vec<i8> {
    let cout = bias.len();
    (0..x.len() / cin * cout)
        .map(|i| {
            let (p, o) = (i / cout, i % cout);
            let d = naive(&w[o * cin..(o + 1) * cin], &x[p * cin..(p + 1) * cin]);
            reference_out(bias[o].wrapping_add(d), (mult[o], shift[o]), zp, table)
        })
        .collect()
}

/// The suites' xorshift byte generator for weights, inputs and tables.
fn xorshift_bytes(seed: u64) -> impl FnMut() -> i8 {
    let mut r = seed | 1;
    move || {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        r as i8
    }
}

type Dot4 = fn([&[i8]; 4], &[i8]) -> [i32; 4];
type Dot1 = fn(&[i8], &[i8]) -> i32;

const TIERS: [(&str, Dot4, Dot1); 3] = [
    ("portable", portable::dot4, portable::dot1),
    ("dsp", dsp::dot4, dsp::dot1),
    ("selected", kernels::dot4, kernels::dot1),
];

fn dot_case() -> impl Strategy<Value = (Vec<i8>, Vec<Vec<i8>>, usize)> {
    (0usize..=200, 0usize..4).prop_flat_map(|(n, extra)| {
        let row = prop::collection::vec(any::<i8>(), n + extra);
        (
            prop::collection::vec(any::<i8>(), n),
            prop::collection::vec(row, 4),
            Just(extra),
        )
    })
}

/// A tile channel's four outputs requantized as one vector (the selected
/// tier's form: `neon::requant_px4` on aarch64, here also under
/// qemu-aarch64; the portable twin elsewhere) are `quant::requantize_i8`
/// lane by lane, for every shift and zero point.
#[test]
fn requant_px4_matches_quant() {
    let case = (
        any::<[i32; 4]>(),
        any::<i32>(),
        any::<i32>(),
        -31i32..=30,
        -128i32..=127,
    );
    check(2000, case, |(dots, bias, m, shift, zp)| {
        let want = dots.map(|d| requantize_i8(bias.wrapping_add(d), m, shift, zp));
        let got = portable::requant_px4(dots, bias, m, shift, zp);
        prop_same("portable requant_px4", &want, &got)?;
        #[cfg(target_arch = "aarch64")]
        {
            let got = kernels::neon::requant_px4(dots, bias, m, shift, zp);
            prop_same("neon requant_px4", &want, &got)?;
        }
        Ok(())
    });
}

/// The NEON whole-tile store (`neon::rows_px4_store`: dots, bias,
/// `SQDMULH` + `SRSHL` requantization, `TBL` table, stores) is the
/// reference output by output: any bias (so any wrapped sum), multiplier
/// (stored halfwords, one widening to `i32::MIN` and negative ones included) and shift (both sides of the
/// vector form's `..=-1`, and past the clamp at `t = 62`), with and without
/// a table; `cin` not a multiple of 16 declines.
#[cfg(target_arch = "aarch64")]
#[test]
fn neon_tile_store_is_reference() {
    use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
    let case = (1usize..=5, any::<u64>()).prop_flat_map(|(k, seed)| {
        let cin = if k == 5 { 24 } else { 16 * k };
        (
            Just(cin),
            Just(seed),
            prop::array::uniform4(extreme_i32()),
            prop::array::uniform4(stored_multiplier(3)),
            prop::array::uniform4(neon_shift(4)),
            (-128i32..=127, any::<bool>()),
        )
    });
    check(2000, case, |(cin, seed, bias, mult, shift, (zp, table))| {
        let mut next = xorshift_bytes(seed);
        let x: Vec<i8> = (0..4 * cin).map(|_| next()).collect();
        let w: Vec<i8> = (0..4 * cin).map(|_| next()).collect();
        let t: [i8; 256] = core::array::from_fn(|_| next());
        let lut = table.then_some(&t);
        let (b, m): (Vec<u8>, Vec<u8>) = (
            bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
            mult.iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        let req = RequantView {
            multiplier: Multipliers(&m),
            shift: Shifts(&shift),
        };
        let mut words = vec![0u32; kernels::TILE_WORDS_PER_CIN * cin];
        let p = kernels::prepare_px4(&x, cin, &mut words).expect("neon takes any cin");
        let mut out = [[0x55i8; 4]; 4];
        let [o0, o1, o2, o3] = &mut out;
        let done =
            kernels::neon::rows_px4_store(&p, &w, 0, I32s(&b), req, zp, lut, [o0, o1, o2, o3]);
        prop_assert_eq!(done, cin % 16 == 0, "cin {}", cin);
        if !done {
            return Ok(());
        }
        let lut = table.then_some(&t[..]);
        let want = reference_pointwise((&w, &x), cin, (&bias, &mult, &shift), zp, lut);
        prop_same("4 pixels x 4 channels", &want, out.as_flattened())
    });
}

/// The DSP channel-block tile (`dsp::block_px4`, here on the software
/// models of its two `asm!` loops) is the folded bias plus the dot product,
/// `requantize_i8` and the table, for every output channel of four pixels:
/// several blocks and a partial one, extreme biases, multipliers
/// (`i16::MIN`, negative) and every shift it takes (`-31..=-2`); it declines
/// `cin` not a multiple of 16 and unaligned weights, and `block_px4_fits`
/// refuses exactly the shifts and zero points outside its range.
#[test]
fn dsp_block_tile_is_reference() {
    let case = (1usize..=5, 1usize..=70, any::<u64>()).prop_flat_map(|(k, cout, seed)| {
        (
            Just(if k == 5 { 24 } else { 16 * k }),
            Just(seed),
            prop::collection::vec(
                prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>(), -5000i32..5000],
                cout,
            ),
            prop::collection::vec(stored_multiplier(3), cout),
            prop::collection::vec(-31i8..=-2, cout),
            (-128i32..=127, any::<bool>(), any::<bool>()),
        )
    });
    check(
        1500,
        case,
        |(cin, seed, bias, mult, shift, (zp, table, misalign))| {
            let cout = bias.len();
            let mut next = xorshift_bytes(seed);
            let x: Vec<i8> = (0..4 * cin).map(|_| next()).collect();
            // Weights at a word boundary (or one past it) of a byte buffer.
            let mut store = vec![0i8; cout * cin + 4];
            let at = store.as_ptr().align_offset(4) + usize::from(misalign);
            let w = &mut store[at..at + cout * cin];
            w.iter_mut().for_each(|v| *v = next());
            let t: [i8; 256] = core::array::from_fn(|_| next());
            let lut = table.then_some(&t);
            let b: Vec<u8> = bias.iter().flat_map(|v| v.to_le_bytes()).collect();
            let m: Vec<u8> = mult.iter().flat_map(|v| v.to_le_bytes()).collect();
            prop_assert!(dsp::block_px4_fits(&shift, zp));
            let mut words = vec![0u32; 2 * cin];
            let p = dsp::prepare_px4(&x, cin, &mut words).expect("cin is a multiple of 4");
            let mut out = vec![0x55i8; 4 * cout];
            let done = dsp::block_px4(&p, cout, w, &b, &m, &shift, zp, lut, &mut out);
            let takes = cin % 16 == 0 && !misalign;
            prop_assert_eq!(
                done,
                if takes { cout } else { 0 },
                "cin {} misalign {}",
                cin,
                misalign
            );
            if !takes {
                prop_assert!(out.iter().all(|&v| v == 0x55), "declined but wrote");
                return Ok(());
            }
            let lut = table.then_some(&t[..]);
            let want = reference_pointwise((w, &x), cin, (&bias, &mult, &shift), zp, lut);
            prop_same("4 pixels x cout channels", &want, &out)
        },
    );
    for s in [-32i8, -1, 0, 5, i8::MIN, i8::MAX] {
        assert!(!dsp::block_px4_fits(&[-2, s, -31], 0), "shift {s}");
    }
    assert!(dsp::block_px4_fits(&[-2, -31], -128) && dsp::block_px4_fits(&[], 127));
    assert!(!dsp::block_px4_fits(&[-2], 128) && !dsp::block_px4_fits(&[-2], -129));
}

/// The DSP depthwise channel loop over a tap table (`dsp::depthwise_taps16`,
/// here on the software models of its `asm!` tap loop and `finish4`) is the
/// folded bias plus every tap's products, `requantize_i8` and the table, per
/// channel; a shift outside `-31..=-2` stops it at that channel's group of
/// four (the caller computes the rest).
/// A window kernel's per-channel operands over test buffers: `b` the i32
/// biases and `m` the i16 multipliers as little-endian bytes, `w` the
/// weights (`weights_above_min` computed from them).
fn channels<'a>(
    w: &'a [i8],
    (b, m, shift): (&'a [u8], &'a [u8], &'a [i8]),
    out_zp: i32,
    lut: &'a [i8],
) -> runtime::kernels::pointwise::PointwiseArgs<'a> {
    use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
    runtime::kernels::pointwise::PointwiseArgs {
        weights: w,
        folded_bias: I32s(b),
        requant: RequantView {
            multiplier: Multipliers(m),
            shift: Shifts(shift),
        },
        out_zp,
        lut,
        weights_above_min: w.iter().all(|&v| v > i8::MIN),
    }
}

#[test]
fn dsp_depthwise_taps_is_reference() {
    use runtime::kernels::dsp::lanes::TapRows;
    use runtime::kernels::window::{Geometry, WindowArgs};
    let case = (1usize..=12, 1usize..=49, any::<u64>()).prop_flat_map(|(g, n, seed)| {
        let c = 4 * g;
        (
            Just(n),
            Just(seed),
            prop::collection::vec(
                prop_oneof![Just(i32::MIN), Just(i32::MAX), any::<i32>(), -5000i32..5000],
                c,
            ),
            prop::collection::vec(stored_multiplier(3), c),
            prop::collection::vec(prop_oneof![30 => -31i8..=-2, 1 => any::<i8>()], c),
            (-128i32..=127, any::<bool>()),
        )
    });
    check(1500, case, |(n, seed, bias, mult, shift, (zp, table))| {
        let c = bias.len();
        let mut next = xorshift_bytes(seed);
        let rows: Vec<Vec<i8>> = (0..n).map(|_| (0..c).map(|_| next()).collect()).collect();
        let w: Vec<i8> = (0..n * c).map(|_| next()).collect();
        let t: [i8; 256] = core::array::from_fn(|_| next());
        let b: Vec<u8> = bias.iter().flat_map(|v| v.to_le_bytes()).collect();
        let m: Vec<u8> = mult.iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = WindowArgs {
            channels: channels(&w, (&b, &m, &shift), zp, if table { &t } else { &[] }),
            pad_values: &[],
            in_zp: 0,
            geometry: Geometry {
                kernel: 7,
                stride: 1,
                pad: 0,
                h: 7,
                w: 7,
                cin: c,
                cout: c,
            },
        };
        let mut taps = TapRows::new(c);
        for row in &rows {
            prop_assert!(taps.push(row));
        }
        let mut out = vec![0x55i8; c];
        let done = dsp::depthwise_taps16(&a, &taps, &mut out).expect("never declines the table");
        let first_bad = shift
            .iter()
            .position(|s| !(-31..=-2).contains(s))
            .unwrap_or(c);
        prop_assert_eq!(done, first_bad / 4 * 4);
        let want: Vec<i8> = (0..done)
            .map(|o| {
                let d: i32 = (0..n)
                    .map(|k| w[k * c + o] as i32 * rows[k][o] as i32)
                    .sum();
                let lut = table.then_some(&t[..]);
                reference_out(bias[o].wrapping_add(d), (mult[o], shift[o]), zp, lut)
            })
            .collect();
        prop_same("outputs", &want, &out[..done])
    });
}

/// The DSP x2 channel-multiplier pixel (`dsp::multiplier_pixel16`: its own
/// tap table, each plane through the models of the `asm!` channel loop at
/// output stride 2) is, per output channel `2 * ci + j`, the folded bias
/// plus every tap's product of input channel `ci` (a padded tap reads
/// `pad_values[ci]`, or `in_zp`) with weight `[t][j][ci]`, then
/// `requantize_i8` and the table; it declines (the caller's window path
/// rewrites the pixel) when a shift is outside `-31..=-2`.
#[test]
fn dsp_multiplier_taps_is_reference() {
    use runtime::kernels::window::{Geometry, WindowArgs};
    use runtime::ops::widen;
    let case = (
        (
            1usize..=4,
            prop_oneof![Just(3usize), Just(7)],
            1usize..=2,
            any::<bool>(),
        ),
        (1usize..=9, 1usize..=9, any::<u64>(), -128i32..=127),
        (-128i32..=127, any::<bool>(), 0u8..4),
    );
    check(
        600,
        case,
        |((g, k, s, pv), (h, w, seed, in_zp), (zp, table, bad))| {
            let (c, m) = (4 * g, 2);
            let p = k / 2;
            let mut r = seed | 1;
            let mut next = move || {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                r as i8
            };
            let input: Vec<i8> = (0..h * w * c).map(|_| next()).collect();
            let wt: Vec<i8> = (0..k * k * m * c).map(|_| next()).collect();
            let pads: Vec<i8> = (0..c).map(|_| next()).collect();
            let t: [i8; 256] = core::array::from_fn(|_| next());
            let bias: Vec<i32> = (0..m * c)
                .map(|_| (next() as i32) << (next() as u8 % 24))
                .collect();
            let mult: Vec<i16> = (0..m * c)
                .map(|_| i16::from_le_bytes([next() as u8, next() as u8 | 0x40]))
                .collect();
            let mut shift: Vec<i8> = (0..m * c).map(|_| -2 - (next() as u8 % 30) as i8).collect();
            if bad == 0 {
                shift[(next() as u8 as usize) % (m * c)] = next() % 4 - 1;
            }
            let b: Vec<u8> = bias.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mu: Vec<u8> = mult.iter().flat_map(|v| v.to_le_bytes()).collect();
            let a = WindowArgs {
                channels: channels(&wt, (&b, &mu, &shift), zp, if table { &t } else { &[] }),
                pad_values: if pv { &pads } else { &[] },
                in_zp,
                geometry: Geometry {
                    kernel: k,
                    stride: s,
                    pad: p,
                    h,
                    w,
                    cin: c,
                    cout: m * c,
                },
            };
            let row = |iy: usize| input.get(iy * w * c..(iy + 1) * w * c).unwrap_or(&[]);
            let ok = shift.iter().all(|v| (-31..=-2).contains(v));
            let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
            for (oy, ox) in (0..oh).flat_map(|y| (0..ow).map(move |x| (y, x))) {
                let mut out = vec![0x55i8; m * c];
                let took = dsp::multiplier_pixel16(&a, oy, ox, &row, &mut out);
                prop_assert_eq!(took, ok, "pixel ({}, {})", oy, ox);
                if !took {
                    continue;
                }
                let want: Vec<i8> = (0..m * c)
                    .map(|o| {
                        let (ci, j) = (o / m, o % m);
                        let mut acc = bias[o];
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) =
                                    ((oy * s + ky).wrapping_sub(p), (ox * s + kx).wrapping_sub(p));
                                let x = if iy < h && ix < w {
                                    input[(iy * w + ix) * c + ci] as i32
                                } else if pv {
                                    pads[ci] as i32
                                } else {
                                    in_zp
                                };
                                let wv = wt[((ky * k + kx) * m + j) * c + ci] as i32;
                                acc = acc.wrapping_add(wv * x);
                            }
                        }
                        let y = requantize_i8(acc, widen(mult[o]), shift[o] as i32, zp);
                        if table {
                            t[(y as u8 ^ 0x80) as usize]
                        } else {
                            y
                        }
                    })
                    .collect();
                prop_same(&format!("pixel ({oy}, {ox})"), &want, &out)?;
            }
            Ok(())
        },
    );
}

/// The NEON 16-lane depthwise `finish16` is `requantize_i8` (then the
/// table) lane by lane where it takes the lanes, and declines (writing
/// nothing) exactly when a shift is above -1 or a multiplier widens to `i32::MIN`.
#[cfg(target_arch = "aarch64")]
#[test]
fn neon_finish16_is_reference() {
    use runtime::kernels::pointwise::PointwiseArgs;
    use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
    let case = (
        prop::array::uniform16(extreme_i32()),
        prop::array::uniform16(stored_multiplier(8)),
        prop::array::uniform16(neon_shift(20)),
        (-128i32..=127, any::<bool>(), any::<u8>()),
    );
    check(2000, case, |(acc, mult, shift, (zp, table, seed))| {
        let t: Vec<i8> = (0..=255u8)
            .map(|i| (i.wrapping_mul(37) ^ seed) as i8)
            .collect();
        let lut: &[i8] = if table { &t } else { &[] };
        let m: Vec<u8> = mult.iter().flat_map(|v| v.to_le_bytes()).collect();
        let b = [0u8; 64];
        let ch = PointwiseArgs {
            weights: &[],
            folded_bias: I32s(&b),
            requant: RequantView {
                multiplier: Multipliers(&m),
                shift: Shifts(&shift),
            },
            out_zp: zp,
            lut,
            weights_above_min: false,
        };
        let mut got = [0x55i8; 16];
        let done = kernels::neon::finish16(&acc, &ch, 0, &mut got);
        let vector = shift.iter().all(|&s| s <= -1) && !mult.contains(&i16::MIN);
        prop_assert_eq!(done, vector);
        if !done {
            prop_assert_eq!(got, [0x55i8; 16]);
            return Ok(());
        }
        let want: Vec<i8> = (0..16)
            .map(|i| reference_out(acc[i], (mult[i], shift[i]), zp, table.then_some(&t[..])))
            .collect();
        prop_same("finish16", &want, &got)
    });
}

/// A NEON 1x1 conv suite's per-output-channel operands: any bias (the i32
/// extremes often), stored multipliers mostly normalized with some anywhere
/// and `i16::MIN`, shifts mostly inside the vector requantization (`<= -1`)
/// and some past it, an output zero point and whether a table follows.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Debug)]
struct Channels {
    bias: Vec<i32>,
    mult: Vec<i16>,
    shift: Vec<i8>,
    zp: i32,
    table: bool,
}

/// [`Channels`] as the blob stores them: bias and multiplier bytes and the
/// table (its entries depend on the zero point).
#[cfg(target_arch = "aarch64")]
struct Stored {
    bias: Vec<u8>,
    mult: Vec<u8>,
    table: [i8; 256],
}

#[cfg(target_arch = "aarch64")]
impl Channels {
    fn drawn(cout: usize) -> impl Strategy<Value = Channels> {
        use prop::collection::vec;
        (
            vec(extreme_i32(), cout),
            vec(
                prop_oneof![20 => (1i16 << 14)..=i16::MAX, 2 => any::<i16>(), 1 => Just(i16::MIN)],
                cout,
            ),
            vec(neon_shift(40), cout),
            -128i32..=127,
            any::<bool>(),
        )
            .prop_map(|(bias, mult, shift, zp, table)| Channels {
                bias,
                mult,
                shift,
                zp,
                table,
            })
    }

    fn stored(&self) -> Stored {
        Stored {
            bias: self.bias.iter().flat_map(|v| v.to_le_bytes()).collect(),
            mult: self.mult.iter().flat_map(|v| v.to_le_bytes()).collect(),
            table: core::array::from_fn(|i| (i as u8).wrapping_mul(37) as i8 ^ self.zp as i8),
        }
    }

    /// The kernel's arguments for `weights`.
    fn args<'a>(
        &'a self,
        s: &'a Stored,
        weights: &'a [i8],
        weights_above_min: bool,
    ) -> kernels::pointwise::PointwiseArgs<'a> {
        use runtime::ops::{I32s, Multipliers, RequantView, Shifts};
        kernels::pointwise::PointwiseArgs {
            weights,
            folded_bias: I32s(&s.bias),
            requant: RequantView {
                multiplier: Multipliers(&s.mult),
                shift: Shifts(&self.shift),
            },
            out_zp: self.zp,
            lut: if self.table { &s.table } else { &[] },
            weights_above_min,
        }
    }

    /// Whether every channel is inside the vector requantization.
    fn vector(&self) -> bool {
        self.shift.iter().all(|&s| s <= -1) && !self.mult.contains(&i16::MIN)
    }

    /// The reference output of `pixels` pixels of `cin` inputs `x` through
    /// `w` (`cout x cin`), `0x55` (untouched) from pixel `done` on.
    fn want(&self, s: &Stored, (w, x): (&[i8], &[i8]), cin: usize, done: usize) -> Vec<i8> {
        let operands = (&self.bias[..], &self.mult[..], &self.shift[..]);
        let lut = self.table.then_some(&s.table[..]);
        let mut want = reference_pointwise((w, x), cin, operands, self.zp, lut);
        want[done * self.bias.len()..].fill(0x55);
        want
    }
}

/// A NEON 1x1 conv suite's case: `cin`, `cout`, pixels, a seed for the
/// weights and inputs, the operands, and an `extreme` choice below `extremes`.
#[cfg(target_arch = "aarch64")]
fn neon_pointwise_case(
    cin_blocks: usize,
    extremes: u8,
) -> impl Strategy<Value = ((usize, usize, usize), u64, u8, Channels)> {
    (
        prop_oneof![4 => (1usize..=cin_blocks).prop_map(|k| 16 * k), 1 => Just(24usize)],
        prop_oneof![4 => (1usize..=3).prop_map(|k| 16 * k), 1 => Just(20usize)],
        1usize..=9,
        any::<u64>(),
        0u8..extremes,
    )
        .prop_flat_map(|(cin, cout, px, seed, extreme)| {
            (
                Just(((cin, cout, px), seed, extreme)),
                Channels::drawn(cout),
            )
        })
        .prop_map(|((shape, seed, extreme), ch)| (shape, seed, extreme, ch))
}

/// The NEON 16-channel x 4-pixel 1x1 conv (`neon::pointwise_wide`:
/// transposed inputs, by-element `SDOT`, or its `SMULL` twin without
/// dotprod) is the reference output by output on whole tiles, any bias,
/// stored multiplier and shift, with and without a table, weights and
/// inputs including -128, with the inputs staged in the tile scratch or
/// not; it leaves the last `pixels % 4` pixels untouched
/// and declines (0 done, nothing written) when `cin` or `cout` is not a
/// multiple of 16 or a channel is outside the vector requantization.
#[cfg(target_arch = "aarch64")]
#[test]
fn neon_pointwise_wide_is_reference() {
    check(
        600,
        neon_pointwise_case(4, 4),
        |((cin, cout, px), seed, extreme, ch)| {
            let mut next = xorshift_bytes(seed);
            // `extreme`: all -128 weights and inputs (the largest products).
            let mut value = |e: bool| if e { -128 } else { next() };
            let x: Vec<i8> = (0..px * cin).map(|_| value(extreme == 0)).collect();
            let w: Vec<i8> = (0..cout * cin).map(|_| value(extreme == 0)).collect();
            let s = ch.stored();
            let a = ch.args(&s, &w, false);
            let mut got = vec![0x55i8; px * cout];
            // Half the cases with the tile scratch (inputs transposed once
            // per tile), half without (per channel block).
            let mut words = vec![0u32; if seed % 2 == 0 { cin } else { cin - 1 }];
            let done = kernels::neon::pointwise_wide(&a, cin, cout, &x, &mut got, &mut words);
            let takes = cin % 16 == 0 && cout % 16 == 0 && ch.vector();
            let expected = if takes { px / 4 * 4 } else { 0 };
            prop_assert_eq!(done, expected, "cin {} cout {}", cin, cout);
            prop_same("pointwise_wide", &ch.want(&s, (&w, &x), cin, done), &got)
        },
    );
}

/// The NEON pair-sum 1x1 conv (`neon::pointwise_pairs`, the A53's: two
/// products summed in i16) is the reference output by output on whole
/// tiles when no weight is -128, any bias, stored multiplier and shift,
/// with and without a table, weights at -127/127 against -128 inputs (the
/// largest pair sums, 2 x 16,256); it leaves the last `pixels % 4` pixels
/// untouched and declines (0 done) without `weights_above_min`, when `cin`
/// or `cout` is not a multiple of 16 or a channel is outside the vector
/// requantization. `above_min` finds a -128 anywhere, tail included.
#[cfg(target_arch = "aarch64")]
#[test]
fn neon_pointwise_pairs_is_reference() {
    let case = (neon_pointwise_case(5, 6), any::<bool>());
    check(600, case, |(((cin, cout, px), seed, extreme, ch), flag)| {
        let mut next = xorshift_bytes(seed);
        // `extreme` 0/1: every weight -127 or 127, every input -128.
        let x: Vec<i8> = (0..px * cin)
            .map(|_| if extreme < 2 { -128 } else { next() })
            .collect();
        let w: Vec<i8> = (0..cout * cin)
            .map(|_| match extreme {
                0 => -127,
                1 => 127,
                _ => next().max(-127),
            })
            .collect();
        prop_assert!(kernels::neon::above_min(&w));
        let mut bad = w.clone();
        let at = seed as usize % bad.len();
        bad[at] = -128;
        prop_assert!(!kernels::neon::above_min(&bad));
        let s = ch.stored();
        let a = ch.args(&s, &w, flag);
        let mut got = vec![0x55i8; px * cout];
        let done = kernels::neon::pointwise_pairs(&a, cin, cout, &x, &mut got);
        let takes = flag && cin % 16 == 0 && cout % 16 == 0 && ch.vector();
        let expected = if takes { px / 4 * 4 } else { 0 };
        prop_assert_eq!(done, expected, "cin {} cout {}", cin, cout);
        prop_same("pointwise_pairs", &ch.want(&s, (&w, &x), cin, done), &got)
    });
}

#[test]
fn dot_primitives_match_i64_model() {
    check(500, dot_case(), |(x, rows, _)| {
        let expected: Vec<i32> = rows.iter().map(|r| naive(r, &x)).collect();
        for (name, dot4, dot1) in TIERS {
            let got = dot4([&rows[0], &rows[1], &rows[2], &rows[3]], &x);
            prop_same(&format!("{name} dot4"), &expected, &got)?;
            let got: Vec<i32> = rows.iter().map(|r| dot1(r, &x)).collect();
            prop_same(&format!("{name} dot1"), &expected, &got)?;
        }
        Ok(())
    });
}

#[test]
fn dot_primitives_extremes() {
    for n in [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 64, 1152, 1155] {
        for (wv, xv) in [(-128i8, -128i8), (127, -128), (-128, 127), (127, 127)] {
            let (w, x) = (vec![wv; n], vec![xv; n]);
            let e = naive(&w, &x);
            for (name, dot4, dot1) in TIERS {
                assert_eq!(dot4([&w, &w, &w, &w], &x), [e; 4], "{name} dot4 n={n}");
                assert_eq!(dot1(&w, &x), e, "{name} dot1 n={n}");
            }
        }
    }
    assert!(!kernels::TIER.is_empty());
}

/// The test command runs these suites on several targets and says which tier
/// each run must exercise (`FASTVIT_EXPECT_TIER`, a prefix of
/// [`kernels::TIER`]), so a build flag that silently falls back to another
/// tier fails instead of proving the wrong kernels.
#[test]
fn the_expected_tier_is_compiled_in() {
    if let Some(want) = option_env!("FASTVIT_EXPECT_TIER") {
        assert!(
            kernels::TIER.starts_with(want),
            "expected the {want:?} kernel tier, this build has {:?}",
            kernels::TIER
        );
    }
}

/// The four-pixel tile primitive of every tier (`prepare_px4` + `dot_px4`)
/// against the i64 model: `x` holds four pixels of `cin`, `w` a row of at
/// least `cin`. The DSP tier only takes `cin % 4 == 0` (else `None`, and the
/// kernel goes pixel by pixel); it must then agree too.
fn px4_case() -> impl Strategy<Value = (Vec<i8>, Vec<i8>, usize)> {
    prop_oneof![
        0usize..=70,
        (0usize..=40).prop_map(|g| 4 * g),
        Just(1152),
        Just(1156)
    ]
    .prop_flat_map(|cin| {
        (
            prop::collection::vec(any::<i8>(), 4 * cin),
            (0usize..4).prop_flat_map(move |extra| prop::collection::vec(any::<i8>(), cin + extra)),
            Just(cin),
        )
    })
}

fn px4_expected(x: &[i8], w: &[i8], cin: usize) -> Vec<i32> {
    if cin == 0 {
        return vec![0; 4];
    }
    x.chunks_exact(cin).map(|px| naive(w, px)).collect()
}

#[test]
fn px4_primitives_match_i64_model() {
    check(300, px4_case(), |(x, w, cin)| {
        let expected = px4_expected(&x, &w, cin);
        let p = portable::prepare_px4(&x, cin, &mut []).expect("portable takes any cin");
        prop_same("portable dot_px4", &expected, &portable::dot_px4(&p, &w))?;
        let mut words = vec![0xDEAD_BEEFu32; 2 * cin];
        match dsp::prepare_px4(&x, cin, &mut words) {
            Some(p) => prop_same("dsp dot_px4", &expected, &dsp::dot_px4(&p, &w))?,
            None => prop_assert!(cin % 4 != 0, "dsp refused cin {}", cin),
        }
        let mut words = vec![0u32; kernels::TILE_WORDS_PER_CIN * cin];
        if let Some(p) = kernels::prepare_px4(&x, cin, &mut words) {
            prop_same("selected dot_px4", &expected, &kernels::dot_px4(&p, &w))?;
            // The selected tier's multi-row tile (4 rows on NEON): distinct rows.
            let rows: Vec<i8> = (0..kernels::ROWS)
                .flat_map(|r| {
                    w[..cin]
                        .iter()
                        .map(move |&v| v.wrapping_mul(1 + 2 * r as i8))
                })
                .collect();
            let got = kernels::dot_rows_px4(&p, &rows);
            for (r, got) in got.iter().enumerate() {
                let row = &rows[r * cin..(r + 1) * cin];
                prop_same("selected dot_rows_px4", &px4_expected(&x, row, cin), got)?;
            }
        }
        Ok(())
    });
}

#[test]
fn px4_primitives_extremes() {
    for cin in [4, 8, 12, 16, 48, 144, 1152] {
        for (wv, xv) in [(-128i8, -128i8), (127, -128), (-128, 127), (127, 127)] {
            let (w, x) = (vec![wv; cin], vec![xv; 4 * cin]);
            let e = vec![naive(&w, &x[..cin]); 4];
            let mut words = vec![0u32; 2 * cin];
            let p = dsp::prepare_px4(&x, cin, &mut words).unwrap();
            assert_eq!(dsp::dot_px4(&p, &w).to_vec(), e, "dsp cin={cin}");
            let p = portable::prepare_px4(&x, cin, &mut []).unwrap();
            assert_eq!(portable::dot_px4(&p, &w).to_vec(), e, "portable cin={cin}");
        }
    }
    let x = vec![1i8; 4 * 8];
    // Not a multiple of 4, too little scratch or a short input: the DSP tier
    // declines (the kernel then goes pixel by pixel), never panics.
    assert!(dsp::prepare_px4(&x, 6, &mut [0; 12]).is_none());
    assert!(dsp::prepare_px4(&x, 8, &mut [0; 15]).is_none());
    assert!(dsp::prepare_px4(&x[..31], 8, &mut [0; 16]).is_none());
    assert!(portable::prepare_px4(&x[..31], 8, &mut []).is_none());
}

// ---------------------------------------------------------------------------
// ConvVariant::Pointwise against Reference
// ---------------------------------------------------------------------------

/// A 1x1 conv and its input.
#[derive(Clone, Debug)]
struct Case {
    p: ConvParams,
    x: Vec<i8>,
}

/// A 1x1 conv, stride 1, no padding (`h`, `w`, `cin`, `cout` at least 1).
fn pointwise(h: usize, w: usize, cin: usize, cout: usize) -> Geometry {
    Geometry::drawn((h, w), (cin, cout, 1), (1, 1, 0)).expect("a valid 1x1 conv")
}

fn zp() -> impl Strategy<Value = i32> {
    prop_oneof![Just(-128), Just(127), Just(0), -128i32..=127]
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..=4, 1usize..=4, 1usize..=70, 1usize..=21)
        .prop_flat_map(|(h, w, cin, cout)| {
            let bits = 64 - (cin as u64).leading_zeros() as i32;
            (
                (Just((h, w, cin, cout)), zp(), zp()),
                (
                    prop::collection::vec(any::<i8>(), h * w * cin),
                    prop::collection::vec(any::<i8>(), cin * cout),
                    prop::collection::vec(-(1i32 << 20)..(1 << 20), cout),
                ),
                (
                    prop::collection::vec(
                        ((1i32 << 30)..=i32::MAX).prop_map(|m| m & !0xFFFF),
                        cout,
                    ),
                    // Mostly realistic scales (t >= 32, the fast requantization
                    // path), sometimes any shift (the reference path).
                    prop::collection::vec(
                        prop_oneof![3 => -(10 + bits / 2)..=(-4 - bits / 2), 1 => -31i32..=30],
                        cout,
                    ),
                    prop::option::of(prop::collection::vec(any::<i8>(), 256)),
                ),
            )
        })
        .prop_map(
            |(((h, w, cin, cout), in_zp, out_zp), (x, weights, bias), (mult, shift, lut))| Case {
                p: ConvParams {
                    lut,
                    ..ConvParams::new(
                        pointwise(h, w, cin, cout),
                        (in_zp, out_zp),
                        weights,
                        (bias, mult, shift),
                    )
                },
                x,
            },
        )
}

/// The case as a conv layer with `variant` (given the blob), input at 0.
fn conv(c: &Case, blob: &mut Blob, variant: impl FnOnce(&mut Blob) -> ConvVariant) -> Conv {
    let g = &c.p.g;
    let (input, output) = (c.p.input(0), c.p.output(g.h * g.w * g.cin));
    c.p.conv_as(blob, input, output, variant)
}

/// Runs `layer` alone on an arena of `0x5A` just large enough.
fn run(blob: &[u8], layer: Layer, x: &[i8]) -> Result<Vec<i8>, Error> {
    let (input, output) = (layer.input(), layer.output());
    let arena = vec![0x5A; input.end().max(output.end()) + layer.scratch_bytes() + 8];
    Ok(run_model(blob, &[layer], input, output, &arena, x)?.out)
}

fn pointwise_property(c: Case) -> Result<(), TestCaseError> {
    let mut blob = Blob::new();
    let reference = conv(&c, &mut blob, |_| ConvVariant::Reference);
    let expected = run(&blob.0, Layer::Conv(reference), &c.x).unwrap();
    let folded = c.p.folded_bias();
    let fast = conv(&c, &mut blob, |b| ConvVariant::Pointwise {
        folded_bias: b.i32s(&folded),
    });
    let got = run(&blob.0, Layer::Conv(fast), &c.x).unwrap();
    prop_same("pointwise", &expected, &got)
}

#[test]
fn pointwise_matches_reference() {
    check(400, case(), pointwise_property);
}

/// The FastViT-T8 channel counts (multiples of 16: only vector bodies).
#[test]
fn pointwise_matches_reference_fastvit_shapes() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (cin, cout) in [(48, 144), (144, 48), (96, 96), (64, 16), (384, 8)] {
        for in_zp in [-128, 0, 127] {
            let (h, w) = (2, 3);
            let bits = 64 - (cin as u64).leading_zeros() as i32;
            let out_zp = (next() % 256) as i32 - 128;
            let x = (0..h * w * cin).map(|_| next() as i8).collect();
            let weights = (0..cin * cout).map(|_| next() as i8).collect();
            let bias = (0..cout)
                .map(|_| (next() % (1 << 21)) as i32 - (1 << 20))
                .collect();
            let mult = (0..cout)
                .map(|_| ((1 << 30) + (next() % (1 << 30)) as i32) & !0xFFFF)
                .collect();
            let shift = (0..cout)
                .map(|_| -(7 + bits / 2) - (next() % 3) as i32)
                .collect();
            let g = pointwise(h, w, cin, cout);
            let p = ConvParams::new(g, (in_zp, out_zp), weights, (bias, mult, shift));
            pointwise_property(Case { p, x }).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Rejection
// ---------------------------------------------------------------------------

fn sample() -> Case {
    let mut runner = TestRunner::deterministic();
    case().new_tree(&mut runner).unwrap().current()
}

#[test]
fn pointwise_variants_reject_layers_they_do_not_fit() {
    let c = sample();
    let folded = c.p.folded_bias();
    let mut blob = Blob::new();
    let good = conv(&c, &mut blob, |b| ConvVariant::Pointwise {
        folded_bias: b.i32s(&folded),
    });
    assert!(run(&blob.0, Layer::Conv(good), &c.x).is_ok());
    let bad = |l: Conv| {
        matches!(
            run(&blob.0, Layer::Conv(l), &c.x),
            Err(Error::InvalidLayer { layer: 0 })
        )
    };
    assert!(bad(Conv { stride: 2, ..good }), "stride");
    assert!(bad(Conv { pad: 1, ..good }), "padding");
    let short = Span {
        len: 4 * (c.p.g.cout as u32 - 1),
        ..match good.variant {
            ConvVariant::Pointwise { folded_bias } => folded_bias,
            _ => unreachable!(),
        }
    };
    assert!(
        bad(Conv {
            variant: ConvVariant::Pointwise { folded_bias: short },
            ..good
        }),
        "short folded bias"
    );
    // In place needs output == input.
    let g = &c.p.g;
    let ring = (g.h * g.w * (g.cin + g.cout)) as u32;
    assert!(
        bad(Conv {
            variant: ConvVariant::PointwiseInPlace {
                scratch: ring,
                folded_bias: short,
            },
            ..good
        }),
        "in place with distinct output"
    );
}

#[test]
fn conv_mlp_rejects_mixed_fc_variants() {
    let c = 4;
    let x = tensor(0, 2, 2, c);
    let mut blob = Blob::new();
    let w = blob.i8s(&[1; 16]);
    let b = blob.i32s(&[0; 4]);
    let rq = Requant {
        multiplier: blob.multipliers(&[1 << 30; 4]),
        shift: blob.shifts(&[0; 4]),
    };
    let one = |kernel: u8, groups: u16, input, output, variant| Conv {
        variant,
        input,
        in_zp: 0,
        output,
        out_zp: 0,
        kernel,
        stride: 1,
        pad: kernel / 2,
        groups,
        weights: if kernel == 1 {
            w
        } else {
            Span {
                offset: w.offset,
                len: 4 * 9,
            }
        },
        bias: b,
        requant: rq,
        pad_values: Span::NONE,
        lut: Span::NONE,
        identity: Span::NONE,
    };
    blob.i8s(&[0; 64]);
    let v = tensor(0, 2, 2, c);
    let fast = ConvVariant::Pointwise { folded_bias: b };
    let mlp = |v1, v2| ConvMlp {
        dw: one(3, c as u16, x, v, ConvVariant::Reference),
        fc1: one(1, 1, v, v, v1),
        fc2: one(1, 1, v, v, v2),
        add: runtime::Add {
            a: x,
            a_zp: 0,
            a_mult: 1 << 30,
            a_shift: 0,
            b: v,
            b_zp: 0,
            b_mult: 1 << 30,
            b_shift: 0,
            output: x,
            out_zp: 0,
            out_mult: 1 << 30,
            out_shift: 0,
            left_shift: 0,
        },
        scratch: 16,
    };
    let input = [3i8; 16];
    let ok = |l: ConvMlp| run(&blob.0, Layer::ConvMlp(l), &input);
    let reference = ok(mlp(ConvVariant::Reference, ConvVariant::Reference)).unwrap();
    assert_eq!(ok(mlp(fast, fast)).unwrap(), reference);
    assert!(ok(mlp(fast, ConvVariant::Reference)).is_err());
    assert!(ok(mlp(ConvVariant::Reference, fast)).is_err());
}
