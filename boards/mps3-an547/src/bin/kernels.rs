//! Kernel conformance firmware for mps3-an547: the fast kernels of this core's tier
//! against the reference contract on random shapes, under `qemu-system-arm`
//! (`cd boards/mps3-an547 && cargo run --release --bin kernels`). Exits non-zero
//! on any mismatch. Before the shared pointwise suite, the Helium depthwise
//! (`runtime::kernels::depthwise`, tap table + `VMULLB`/`VMULLT` asm + vector
//! requantization) against a plain-integer model of the contract on random
//! 3x3 s1/s2 and 7x7 s1/s2 shapes, both padding kinds, tables on and off,
//! also in place.
#![no_std]
#![no_main]

use core::fmt::Write;
use cortex_m_rt::entry;
use fastvit_model::runtime;
use runtime::kernels::depthwise::{depthwise, depthwise_in_place, DepthwiseArgs};
use runtime::ops::{I32s, RequantView};
use runtime::quant::{lut, requantize_i8};
use support::conformance::Buffers;
use support::semihosting::{self, Console};
use support::Board;

const BOARD: Board = Board {
    name: "mps3-an547",
    core: "cortex-m55",
};

static mut BUFFERS: Buffers = Buffers::new();

/// Weights for the shape timing (any bytes), with the model's weights.
#[link_section = ".fastvit_weights"]
static WEIGHTS: [i8; 1152 * 384] = [0x5A; 1152 * 384];

const N: usize = support::conformance::SHAPE_PIXELS * 1152;
static mut X: [i8; N] = [0; N];
static mut Y: [i8; N] = [0; N];
static mut WORDS: [u32; 2 * 1152] = [0; 2 * 1152];

/// Largest depthwise case: `DW_HW x DW_HW` pixels of `DW_C` channels.
const DW_HW: usize = 10;
const DW_C: usize = 64;

/// Buffers of one depthwise case.
struct Dw {
    x: [i8; DW_HW * DW_HW * DW_C],
    got: [i8; DW_HW * DW_HW * DW_C],
    data: [i8; DW_HW * DW_HW * DW_C],
    ring: [i8; 4 * DW_HW * DW_C],
    w: [i8; 49 * DW_C],
    folded: [u8; 4 * DW_C],
    mult: [u8; 4 * DW_C],
    shift: [u8; 4 * DW_C],
    pads: [i8; DW_C],
    table: [i8; 256],
}

static mut DW: Dw = Dw {
    x: [0; DW_HW * DW_HW * DW_C],
    got: [0; DW_HW * DW_HW * DW_C],
    data: [0; DW_HW * DW_HW * DW_C],
    ring: [0; 4 * DW_HW * DW_C],
    w: [0; 49 * DW_C],
    folded: [0; 4 * DW_C],
    mult: [0; 4 * DW_C],
    shift: [0; 4 * DW_C],
    pads: [0; DW_C],
    table: [0; 256],
};

/// xorshift64: deterministic cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn word(b: &[u8], i: usize) -> i32 {
    i32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// Output `(oy, ox)` channel `ch` by the contract: folded bias plus
/// `w * x` over in-bounds taps and `w * pad` over padded ones, wrapping,
/// then `requantize_i8` and the table.
fn reference(a: &DepthwiseArgs<'_>, x: &[i8], oy: usize, ox: usize, ch: usize) -> i8 {
    let (k, c) = (a.kernel, a.c);
    let mut acc = word(a.folded_bias.0, ch);
    for ky in 0..k {
        for kx in 0..k {
            let iy = (oy * a.stride + ky).wrapping_sub(a.pad);
            let ix = (ox * a.stride + kx).wrapping_sub(a.pad);
            let v = if iy < a.h && ix < a.w {
                x[(iy * a.w + ix) * c + ch] as i32
            } else if a.pad_values.is_empty() {
                a.in_zp
            } else {
                a.pad_values[ch] as i32
            };
            let wv = a.weights[(ky * k + kx) * c + ch] as i32;
            acc = acc.wrapping_add(wv.wrapping_mul(v));
        }
    }
    let m = word(a.requant.multiplier.0, ch);
    let s = word(a.requant.shift.0, ch);
    let y = requantize_i8(acc, m, s, a.out_zp);
    if a.lut.is_empty() {
        y
    } else {
        lut(a.lut, y)
    }
}

/// `cases` random depthwise cases; the number of mismatching ones.
fn depthwise_cases(out: &mut impl Write, d: &mut Dw, cases: usize) -> usize {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = 0;
    let geoms = [(3usize, 1usize, 1usize), (3, 2, 1), (7, 1, 3), (7, 2, 3)];
    for case in 0..cases {
        let (k, s, p) = geoms[case % geoms.len()];
        let lo = k.saturating_sub(2 * p).max(1);
        let h = lo + r.below((DW_HW - lo + 1) as u64) as usize;
        let w = lo + r.below((DW_HW - lo + 1) as u64) as usize;
        // Mostly multiples of 16 (the Helium chunks), some with a 4..12 tail.
        let c = if r.below(3) == 0 {
            4 * (1 + r.below((DW_C / 4) as u64) as usize)
        } else {
            16 * (1 + r.below((DW_C / 16) as u64) as usize)
        };
        for v in d.x[..h * w * c].iter_mut() {
            *v = r.next() as i8;
        }
        for v in d.w[..k * k * c].iter_mut() {
            *v = r.next() as i8;
        }
        // Some cases with one shift for every channel: the edges of the
        // vector requantization's range (-31, -2) and values outside it
        // (the scalar fallback: -1 rounds differently, 0 and 3 take `t < 32`).
        let odd_shifts = r.below(6) == 0;
        let one_shift = [-1, 0, 3, -32, -31, -2][r.below(6) as usize];
        for ch in 0..c {
            let b = if r.below(4) == 0 {
                r.next() as i32
            } else {
                r.below(2_000_001) as i32 - 1_000_000
            };
            // Small multipliers with the large-scale shifts, so that outputs
            // do not all saturate (rounding differences would not show).
            let m = if odd_shifts {
                r.below(1 << 22) as i32
            } else {
                (1i32 << 30) + r.below(1 << 30) as i32
            };
            let sh = if odd_shifts {
                one_shift
            } else {
                -(r.below(30) as i32) - 2
            };
            d.folded[4 * ch..4 * ch + 4].copy_from_slice(&b.to_le_bytes());
            d.mult[4 * ch..4 * ch + 4].copy_from_slice(&m.to_le_bytes());
            d.shift[4 * ch..4 * ch + 4].copy_from_slice(&sh.to_le_bytes());
            d.pads[ch] = r.next() as i8;
        }
        for v in d.table.iter_mut() {
            *v = r.next() as i8;
        }
        let with_pads = r.below(2) == 0;
        let with_table = r.below(2) == 0;
        let a = DepthwiseArgs {
            weights: &d.w[..k * k * c],
            folded_bias: I32s(&d.folded[..4 * c]),
            requant: RequantView {
                multiplier: I32s(&d.mult[..4 * c]),
                shift: I32s(&d.shift[..4 * c]),
            },
            pad_values: if with_pads { &d.pads[..c] } else { &[] },
            lut: if with_table { &d.table } else { &[] },
            in_zp: r.below(256) as i32 - 128,
            out_zp: r.below(256) as i32 - 128,
            kernel: k,
            stride: s,
            pad: p,
            h,
            w,
            c,
        };
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let x = &d.x[..h * w * c];
        depthwise(&a, oh, ow, x, &mut d.got[..oh * ow * c]);
        let mut bad = (0..oh * ow * c).find(|&i| {
            let (px, ch) = (i / c, i % c);
            d.got[i] != reference(&a, x, px / ow, px % ow, ch)
        });
        // In place (stride 1, same padding): the ring-buffer rows.
        if bad.is_none() && s == 1 && 2 * p + 1 == k {
            let data = &mut d.data[..h * w * c];
            data.copy_from_slice(x);
            depthwise_in_place(&a, data, &mut d.ring);
            bad = (0..h * w * c).find(|&i| data[i] != d.got[i]);
        }
        if let Some(i) = bad {
            failures += 1;
            let _ = writeln!(
                out,
                "depthwise case {case} MISMATCH: k{k} s{s} p{p} {h}x{w}x{c} pads {with_pads} \
                 table {with_table} shift {}, first at pixel {} channel {}",
                word(&d.shift, i % c),
                i / c,
                i % c
            );
        }
    }
    failures
}

#[entry]
fn main() -> ! {
    // SAFETY: the only references to these statics, taken once.
    let (buffers, x, y, words, dw) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(BUFFERS),
            &mut *core::ptr::addr_of_mut!(X),
            &mut *core::ptr::addr_of_mut!(Y),
            &mut *core::ptr::addr_of_mut!(WORDS),
            &mut *core::ptr::addr_of_mut!(DW),
        )
    };
    let mut out = Console::stdout();
    let cases = 400;
    let failures = depthwise_cases(&mut out, dw, cases);
    let _ = writeln!(
        out,
        "depthwise conformance {cases} cases {failures} failures"
    );
    drop(out);
    if failures > 0 {
        semihosting::exit(false);
    }
    semihosting::conformance_and_exit(&BOARD, buffers, (&WEIGHTS, x, y, words))
}
