//! The kernel conformance suite that runs on the emulated cores themselves:
//! the fast pointwise kernel of the tier compiled in (`runtime::kernels::TIER`:
//! DSP `SXTB16`/`SMLAD`/`LDM` asm on M4/M33, Helium `VMLADAVA` asm on M55)
//! against a plain-integer model of the reference contract, on random
//! shapes, zero points, multipliers, shifts and tables, compared with `==`.
//! The host test suite cannot execute those instructions; this firmware
//! does, under `qemu-system-arm`, and exits non-zero on the first mismatch.

use core::fmt::Write;
use runtime::kernels::pointwise::{pointwise_pixels, PointwiseArgs};
use runtime::ops::{I32s, RequantView};
use runtime::quant::{lut, requantize_i8};

const MAX_CIN: usize = 200;
const MAX_COUT: usize = 40;
const MAX_PX: usize = 9;

/// Buffers for one case (static: the suite must not need a large stack).
pub struct Buffers {
    x: [i8; MAX_PX * MAX_CIN],
    w: [i8; MAX_CIN * MAX_COUT],
    bias: [i32; MAX_COUT],
    folded: [u8; 4 * MAX_COUT],
    mult: [u8; 4 * MAX_COUT],
    shift: [u8; 4 * MAX_COUT],
    table: [i8; 256],
    got: [i8; MAX_PX * MAX_COUT],
    words: [u32; 2 * MAX_CIN],
}

impl Buffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Buffers {
            x: [0; MAX_PX * MAX_CIN],
            w: [0; MAX_CIN * MAX_COUT],
            bias: [0; MAX_COUT],
            folded: [0; 4 * MAX_COUT],
            mult: [0; 4 * MAX_COUT],
            shift: [0; 4 * MAX_COUT],
            table: [0; 256],
            got: [0; MAX_PX * MAX_COUT],
            words: [0; 2 * MAX_CIN],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// xorshift64: deterministic cases, the same on every board.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
    fn i8(&mut self) -> i8 {
        self.next() as i8
    }
}

/// Runs `cases` random pointwise cases; prints a line per failure (at most
/// a few) and returns the number of failing cases.
pub fn pointwise(out: &mut impl Write, b: &mut Buffers, cases: usize) -> usize {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = 0;
    for case in 0..cases {
        // Channel counts: FastViT-like multiples of 16, multiples of 4, any.
        let pick = |rng: &mut Rng, max: usize| match rng.below(3) {
            0 => 16 * (1 + rng.below((max / 16) as u64)),
            1 => 4 * (1 + rng.below((max / 4) as u64)),
            _ => 1 + rng.below(max as u64),
        };
        let cin = pick(&mut rng, MAX_CIN);
        let cout = pick(&mut rng, MAX_COUT);
        let px = 1 + rng.below(MAX_PX as u64);
        let extreme = [-128, 127, 0];
        let zp = |rng: &mut Rng| match rng.below(4) {
            0..=2 => extreme[rng.below(3)],
            _ => rng.i8() as i32,
        };
        let (in_zp, out_zp) = (zp(&mut rng), zp(&mut rng));
        let saturated = rng.below(8) == 0;
        for v in &mut b.x[..px * cin] {
            *v = if saturated { -128 } else { rng.i8() };
        }
        for v in &mut b.w[..cin * cout] {
            *v = if saturated { -128 } else { rng.i8() };
        }
        let bits = 64 - (cin as u64).leading_zeros() as i32;
        for o in 0..cout {
            let bias = (rng.next() % (1 << 21)) as i32 - (1 << 20);
            let m = (1i32 << 30) + (rng.next() % (1 << 30)) as i32;
            let s = if rng.below(4) == 0 {
                rng.below(62) as i32 - 31
            } else {
                -(4 + bits / 2) - rng.below(7) as i32
            };
            let wsum: i32 = b.w[o * cin..(o + 1) * cin].iter().map(|&v| v as i32).sum();
            b.bias[o] = bias;
            let folded = bias.wrapping_sub(in_zp.wrapping_mul(wsum));
            b.folded[4 * o..4 * o + 4].copy_from_slice(&folded.to_le_bytes());
            b.mult[4 * o..4 * o + 4].copy_from_slice(&m.to_le_bytes());
            b.shift[4 * o..4 * o + 4].copy_from_slice(&s.to_le_bytes());
        }
        let with_table = rng.below(2) == 0;
        for v in &mut b.table {
            *v = rng.i8();
        }
        let table: &[i8] = if with_table { &b.table } else { &[] };
        let args = PointwiseArgs {
            weights: &b.w[..cin * cout],
            folded_bias: I32s(&b.folded[..4 * cout]),
            requant: RequantView {
                multiplier: I32s(&b.mult[..4 * cout]),
                shift: I32s(&b.shift[..4 * cout]),
            },
            out_zp,
            lut: table,
        };
        let got = &mut b.got[..px * cout];
        got.fill(0x55);
        pointwise_pixels(&args, cin, cout, &b.x[..px * cin], got, &mut b.words);
        // The reference contract, in plain integers.
        let mut bad = None;
        for p in 0..px {
            for o in 0..cout {
                let x = &b.x[p * cin..(p + 1) * cin];
                let w = &b.w[o * cin..(o + 1) * cin];
                let acc = x.iter().zip(w).fold(b.bias[o], |a, (&x, &w)| {
                    a.wrapping_add((w as i32).wrapping_mul(x as i32 - in_zp))
                });
                let (m, s) = (args.requant.multiplier.get(o), args.requant.shift.get(o));
                let mut y = requantize_i8(acc, m, s, out_zp);
                if with_table {
                    y = lut(table, y);
                }
                if got[p * cout + o] != y && bad.is_none() {
                    bad = Some((p, o, y, got[p * cout + o]));
                }
            }
        }
        if let Some((p, o, e, g)) = bad {
            failures += 1;
            if failures <= 5 {
                let _ = writeln!(
                    out,
                    "conformance pointwise case {case} cin {cin} cout {cout} px {px} \
                     in_zp {in_zp} out_zp {out_zp}: pixel {p} channel {o} expected {e} got {g}"
                );
            }
        }
    }
    failures
}

/// FastViT-T8's 1x1 shapes `(cin, cout)`: stem.2, then per stage fc1, fc2
/// and the next downsample's proj.1.
pub const SHAPES: [(usize, usize); 12] = [
    (48, 48),
    (48, 144),
    (144, 48),
    (96, 96),
    (96, 288),
    (288, 96),
    (192, 192),
    (192, 576),
    (576, 192),
    (384, 384),
    (384, 1152),
    (1152, 384),
];

/// What [`shapes`] runs on: weights, inputs, outputs, tile words.
pub type ShapeBuffers<'a> = (&'a [i8], &'a mut [i8], &'a mut [i8], &'a mut [u32]);

/// Pixels per shape in [`shapes`].
pub const SHAPE_PIXELS: usize = 16;

/// Runs every [`SHAPES`] entry once over [`SHAPE_PIXELS`] pixels with a perf
/// mark before the first and after each (marks `0..=SHAPES.len()`), and
/// prints `shape <k> <cin> <cout> <macs>` lines: the instruction counter's
/// marks then give instructions per MAC per shape, requantization included.
/// `weights` holds at least `1152 * 384` bytes, `x` and `y`
/// `SHAPE_PIXELS * 1152`, `words` `2 * 1152`.
pub fn shapes(out: &mut impl Write, weights: &[i8], x: &mut [i8], y: &mut [i8], words: &mut [u32]) {
    let mut rng = Rng(7);
    for v in x.iter_mut() {
        *v = rng.i8();
    }
    let mut params = [0u8; 4 * 1152];
    let mut shift = [0u8; 4 * 1152];
    for (m, s) in params.chunks_exact_mut(4).zip(shift.chunks_exact_mut(4)) {
        m.copy_from_slice(&((1i32 << 30) + (rng.next() % (1 << 30)) as i32).to_le_bytes());
        s.copy_from_slice(&(-9i32).to_le_bytes());
    }
    let mut table = [0i8; 256];
    for v in &mut table {
        *v = rng.i8();
    }
    crate::fastvit_perf_mark(0);
    for (k, &(cin, cout)) in SHAPES.iter().enumerate() {
        let args = PointwiseArgs {
            weights: &weights[..cin * cout],
            folded_bias: I32s(&params[..4 * cout]),
            requant: RequantView {
                multiplier: I32s(&params[..4 * cout]),
                shift: I32s(&shift[..4 * cout]),
            },
            out_zp: -3,
            // fc1 carries the GELU table in FastViT.
            lut: if cout == 3 * cin { &table } else { &[] },
        };
        let n = SHAPE_PIXELS;
        pointwise_pixels(&args, cin, cout, &x[..n * cin], &mut y[..n * cout], words);
        crate::fastvit_perf_mark(k as u32 + 1);
    }
    for (k, &(cin, cout)) in SHAPES.iter().enumerate() {
        let _ = writeln!(out, "shape {k} {cin} {cout} {}", SHAPE_PIXELS * cin * cout);
    }
}
