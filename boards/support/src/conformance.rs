//! The kernel conformance suite that runs on the emulated cores themselves:
//! every fast kernel of the tier compiled in (`runtime::kernels::TIER`: DSP
//! `SXTB16`/`SMLAD`/`LDM` and tap-loop asm on M4/M33, Helium `VMLADAVA`,
//! `VMULLB`/`VMULLT` and vector requantization asm on M55) against the
//! runtime's reference kernels (`runtime::ops::conv::conv_reference`,
//! `runtime::ops::stem::stem_reference`: the specification) or, for the
//! requantization, `runtime::quant::requantize_i8` and `lut`, compared with
//! `==`. The host test suite cannot execute those instructions; this
//! firmware does, under `qemu-system-arm` (`host-tests/tests/conformance.rs`
//! runs it on mps2-an386, mps2-an505 and mps3-an547).
//!
//! Suites ([`run`]; each prints `conformance <kernel> <n> cases <f>
//! failures`, and on a mismatch the kernel, the form, the case and the first
//! differing index with the expected and the computed value):
//!
//! | kernel | fast forms | shapes |
//! |---|---|---|
//! | `pointwise` | `pointwise_pixels` (tile words), `pointwise` (stack tile), `pointwise_in_place` | `cin <= 200`, `cout <= 40`, 1..9 pixels |
//! | `depthwise` | `depthwise` (DSP/Helium tap table, window path, per-tap path), `pixel_by_taps` (must engage), `depthwise_in_place` | 1x1..9x9, s1/s2, `c <= 64`; 516 channels |
//! | `multiplier` | `multiplier::multiplier`, `multiplier_behind` (output before or after the input) | x1/x2/x3 planes, 1x1..9x9, `cin <= 32` |
//! | `dense`, `im2col` | `dense::dense` (DenseHwio), `dense::im2col` (patches through the tier's pointwise kernel) | 1x1..9x9 from 1..32 channels, `cout <= 48` |
//! | `stem` | `stem_fast` with either first kernel, then depthwise, plain and write-behind | as `dense`, then 3x3 s1/s2 |
//! | `add` | `kernels::add::add` (the tier's table form; Helium four elements a step) against `ops::add::add_element` | every one of the 65,536 input pairs per case |
//! | `wide` (feature `fast-int16`) | `kernels::wide` on channel vectors: `conv`, `conv_in_place`, `depthwise_group_i8` and `_i16` (the tier's `wide_sums16`) | int16 in, 16..48 channels, x1/x2, 1x1..7x7, s1/s2 |
//! | `tile16` (feature `fast-int16`) | `dsp::prepare_px4_i16` + `dsp::dot_px4` (the ConvMlp `fc1` over int16 inputs on M4/M33) against the exact dot | `cin` 4..128, multiples of 4; all-extreme first |
//! | `requantize` | the depthwise and pointwise requantization (Helium `finish16`/`finish_px4`, also called directly on M55) | 4..32 lanes of chosen accumulators |
//!
//! Every suite starts with [`EDGE_CASES`] cases that sweep the edges: every
//! shift of [`ONE_SHIFTS`] (inside, at and past the vector requantization's
//! `-31..=-2` and the contract's `-31..=30`), extreme zero points (-128,
//! 127) and saturating data (all -128, all 127, mixed extremes); then random
//! cases (random shapes, zero points, multipliers, shifts, padding values and
//! tables on and off). The random numbers come from one deterministic
//! generator (`testkit::SplitMix64`), so every board runs the same cases.

use core::fmt::{self, Display, Write};
use runtime::kernels::add;
use runtime::kernels::dense;
use runtime::kernels::depthwise;
use runtime::kernels::multiplier;
use runtime::kernels::pointwise::{self, PointwiseArgs};
use runtime::kernels::stem::{self, StemFirst};
use runtime::kernels::window::{Geometry, WindowArgs};
use runtime::ops::add::add_element;
use runtime::ops::conv::{conv_reference, ConvArgs};
use runtime::ops::stem::stem_reference;
use runtime::ops::{I32s, Multipliers, RequantView, Shifts as ShiftBytes};
use runtime::quant::{lut, requantize_i8};
use runtime::{Add, Conv, Stem, TensorRef};
use testkit::{bare_conv, first_difference, SplitMix64};

/// Input bytes of one case.
const MAX_X: usize = 8192;
/// Weight bytes of one conv.
const MAX_W: usize = 8192;
/// Output channels of one conv.
const MAX_C: usize = 576;
/// Output bytes of one case.
const MAX_Y: usize = 8192;
/// Bytes of a region holding an input and an output (write-behind forms).
const MAX_REGION: usize = 12288;
/// Ring bytes (in-place and streamed forms).
const MAX_RING: usize = 4096;
/// Tile scratch words (`TILE_WORDS_PER_CIN * cin`).
const MAX_WORDS: usize = 512;

/// The first cases of every suite: the edge sweep ([`Case::edge`]).
pub const EDGE_CASES: usize = 56;

/// Shifts of the edge sweep, one for every channel of a case: past the
/// contract below (-40, -32: clamped to `t = 62`), its end (-31), inside the
/// vector requantization's range (-30, -17, -3), its upper end (-2), the
/// scalar forms' `t = 32` (-1) and `t < 32` (0, 1, 15, 30), past the
/// contract above (31, 40: clamped to `t = 1`).
pub const ONE_SHIFTS: [i32; 14] = [-40, -32, -31, -30, -17, -3, -2, -1, 0, 1, 15, 30, 31, 40];

/// Case counts per suite: [`EDGE_CASES`] plus random ones.
const POINTWISE_CASES: usize = 400;
const DEPTHWISE_CASES: usize = 400;
const MULTIPLIER_CASES: usize = 300;
const DENSE_CASES: usize = 300;
const REQUANTIZE_CASES: usize = 400;
const ADD_CASES: usize = 40;

/// The kit's generator: deterministic cases, the same on every board.
type Rng = SplitMix64;

#[cfg(feature = "fast-int16")]
mod wide;

#[cfg(all(feature = "mve", feature = "fast-int16"))]
mod mlp16;

#[cfg(all(feature = "mve", feature = "fast-int16"))]
mod out16;

#[cfg(all(not(feature = "mve"), feature = "fast-int16"))]
mod dsp16;

/// The case generator's draws beyond the kit's.
trait Draws {
    fn channels(&mut self, max: usize) -> usize;
    fn zero_point(&mut self) -> i32;
}

impl Draws for Rng {
    /// A channel count up to `max`: a multiple of 16 (the Helium chunks), of
    /// 4 (the DSP lanes and the tap table), or any (the tails).
    fn channels(&mut self, max: usize) -> usize {
        match self.below(3) {
            0 if max >= 16 => 16 * (1 + self.below(max / 16)),
            0 | 1 if max >= 4 => 4 * (1 + self.below(max / 4)),
            _ => 1 + self.below(max),
        }
    }

    fn zero_point(&mut self) -> i32 {
        match self.below(4) {
            0 => -128,
            1 => 127,
            2 => 0,
            _ => self.range_i32(-128, 127),
        }
    }
}

fn put(b: &mut [u8], i: usize, v: i32) {
    b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
}

/// Stores multiplier `i` as the blob does: the top 16 bits of the Q31 `m`.
fn put_multiplier(b: &mut [u8], i: usize, m: i32) {
    b[2 * i..2 * i + 2].copy_from_slice(&((m >> 16) as i16).to_le_bytes());
}

/// 2-byte aligned multipliers (Helium's `VLDRH` needs it, as in the blob).
#[repr(align(4))]
struct MultBytes([u8; 2 * MAX_C]);

/// The reference requantization of one output.
fn requant_ref(acc: i32, m: i32, s: i32, zp: i32, table: &[i8]) -> i8 {
    let y = requantize_i8(acc, m, s, zp);
    if table.is_empty() {
        y
    } else {
        lut(table, y)
    }
}

/// Shape of one conv (NHWC, square kernel).
#[derive(Clone, Copy)]
struct Geom {
    h: usize,
    w: usize,
    cin: usize,
    cout: usize,
    k: usize,
    s: usize,
    p: usize,
    groups: usize,
}

impl Geom {
    /// `h`x`w` input, `cin -> cout` in `groups` groups, `k`x`k` window,
    /// stride `s`, padding `p`.
    fn new(
        (h, w): (usize, usize),
        (cin, cout, groups): (usize, usize, usize),
        (k, s, p): (usize, usize, usize),
    ) -> Self {
        Geom {
            h,
            w,
            cin,
            cout,
            k,
            s,
            p,
            groups,
        }
    }

    /// A random input side for `(k, s, p)` (at least one output) up to `max`.
    fn side(r: &mut Rng, k: usize, p: usize, max: usize) -> usize {
        let lo = k.saturating_sub(2 * p).max(1);
        lo + r.below(max - lo + 1)
    }

    fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.p - self.k) / self.s + 1,
            (self.w + 2 * self.p - self.k) / self.s + 1,
        )
    }

    /// Weights per output channel (OHWI row).
    fn per_out(&self) -> usize {
        self.k * self.k * (self.cin / self.groups)
    }

    fn in_len(&self) -> usize {
        self.h * self.w * self.cin
    }

    fn out_len(&self) -> usize {
        let (oh, ow) = self.out_hw();
        oh * ow * self.cout
    }

    /// The conv as the schedule describes it (the reference kernels read
    /// its shape, zero points and groups; the operands come separately).
    fn conv(&self, in_zp: i32, out_zp: i32, input_at: usize, output_at: usize) -> Conv {
        let (oh, ow) = self.out_hw();
        let t = |at: usize, h: usize, w: usize, c: usize| {
            TensorRef::i8(at as u32, h as u16, w as u16, c as u16)
        };
        let (input, output) = (
            t(input_at, self.h, self.w, self.cin),
            t(output_at, oh, ow, self.cout),
        );
        let kernel = (self.k as u8, self.s as u8, self.p as u8);
        Conv {
            in_zp,
            out_zp,
            ..bare_conv(input, output, kernel, self.groups as u16)
        }
    }
}

/// How the shifts of a case are drawn.
#[derive(Clone, Copy)]
enum Shifts {
    /// FastViT-like: `t` in 35..45 (the vector requantization's range).
    Realistic,
    /// Any shift of the contract, per channel.
    Any,
    /// This one for every channel (small multipliers for `shift >= -1`, so
    /// not every output saturates).
    One(i32),
    /// Realistic but one channel outside the vector range: its chunk takes
    /// the scalar fallback.
    OneOut,
    /// Any shift inside the vector range `-31..=-2`, per channel.
    Vector,
}

/// How inputs and weights are drawn.
#[derive(Clone, Copy)]
enum Data {
    Random,
    /// Every value -128 (the largest products).
    Min,
    /// Every value 127.
    Max,
    /// -128 or 127 at random.
    Extremes,
}

/// The operand choices of one case (printed on a mismatch).
#[derive(Clone, Copy)]
struct Case {
    g: Geom,
    in_zp: i32,
    out_zp: i32,
    pads: bool,
    table: bool,
    shifts: Shifts,
    data: Data,
}

impl Case {
    /// Case `i` of the suite on shape `g`: the edge sweep for
    /// `i < EDGE_CASES` (every shift of [`ONE_SHIFTS`] with each extreme
    /// zero point pair and saturating data), random operands after.
    fn new(r: &mut Rng, i: usize, g: Geom) -> Case {
        if i < EDGE_CASES {
            let n = ONE_SHIFTS.len();
            let (in_zp, out_zp) = [(-128, 127), (127, -128), (-128, -128), (127, 127)][i / n % 4];
            return Case {
                g,
                in_zp,
                out_zp,
                pads: i % 2 == 0,
                table: i % 3 == 0,
                shifts: Shifts::One(ONE_SHIFTS[i % n]),
                data: [Data::Min, Data::Max, Data::Extremes, Data::Random][(i / n + i) % 4],
            };
        }
        Case {
            g,
            in_zp: r.zero_point(),
            out_zp: r.zero_point(),
            pads: r.one_in(2),
            table: r.one_in(2),
            shifts: match r.below(8) {
                0 => Shifts::Any,
                1 => Shifts::One(r.pick(&ONE_SHIFTS)),
                2 => Shifts::OneOut,
                _ => Shifts::Realistic,
            },
            data: match r.below(10) {
                0 => Data::Min,
                1 => Data::Max,
                2 => Data::Extremes,
                _ => Data::Random,
            },
        }
    }

    fn value(&self, r: &mut Rng) -> i8 {
        match self.data {
            Data::Random => r.i8(),
            Data::Min => -128,
            Data::Max => 127,
            Data::Extremes => [-128, 127][r.below(2)],
        }
    }
}

impl Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.g;
        write!(
            f,
            "{}x{}x{} -> {} k{} s{} p{} groups {} in_zp {} out_zp {} pads {} table {} shifts ",
            g.h,
            g.w,
            g.cin,
            g.cout,
            g.k,
            g.s,
            g.p,
            g.groups,
            self.in_zp,
            self.out_zp,
            self.pads,
            self.table
        )?;
        match self.shifts {
            Shifts::Realistic => write!(f, "realistic")?,
            Shifts::Any => write!(f, "any")?,
            Shifts::One(s) => write!(f, "all {s}")?,
            Shifts::OneOut => write!(f, "one out of range")?,
            Shifts::Vector => write!(f, "each in -31..=-2")?,
        }
        let data = match self.data {
            Data::Random => "random",
            Data::Min => "all -128",
            Data::Max => "all 127",
            Data::Extremes => "extremes",
        };
        write!(f, " data {data}")
    }
}

/// Two convs in sequence (the streamed stem), printed as `<first> then
/// <second>`.
struct Then<'a>(&'a Case, &'a Case);

impl Display for Then<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} then {}", self.0, self.1)
    }
}

/// The operands of one conv: OHWI weights (the reference's) and the same
/// weights in the fast kernel's layout, bias and the folded bias, the
/// requantization, padding values and a table.
struct Params {
    w: [i8; MAX_W],
    wk: [i8; MAX_W],
    bias: [u8; 4 * MAX_C],
    folded: [u8; 4 * MAX_C],
    mult: MultBytes,
    shift: [i8; MAX_C],
    pads: [i8; MAX_C],
    table: [i8; 256],
}

impl Params {
    const fn new() -> Self {
        Params {
            w: [0; MAX_W],
            wk: [0; MAX_W],
            bias: [0; 4 * MAX_C],
            folded: [0; 4 * MAX_C],
            mult: MultBytes([0; 2 * MAX_C]),
            shift: [0; MAX_C],
            pads: [0; MAX_C],
            table: [0; 256],
        }
    }

    /// Random operands for `c`, and the folded bias
    /// `bias[o] - in_zp * sum w[o]` (wrapping) every fast kernel takes.
    fn fill(&mut self, r: &mut Rng, c: &Case) {
        let (cout, per) = (c.g.cout, c.g.per_out());
        for v in &mut self.w[..cout * per] {
            *v = c.value(r);
        }
        let bits = 64 - (per as u64).leading_zeros() as i32;
        let out_ch = r.below(cout);
        for o in 0..cout {
            let bias = if r.one_in(8) {
                r.next_u64() as i32
            } else {
                r.range_i32(-(1 << 20), 1 << 20)
            };
            let realistic = |r: &mut Rng| {
                (
                    r.range_i32(1 << 30, i32::MAX),
                    -(4 + bits / 2) - r.range_i32(0, 6),
                )
            };
            let small = |r: &mut Rng, s: i32| {
                let m = match r.below(8) {
                    0 => r.pick(&[0, 1 << 30, i32::MAX]),
                    _ if s >= -1 => r.range_i32(0, 1 << 22),
                    _ => r.range_i32(1 << 30, i32::MAX),
                };
                (m, s)
            };
            let (m, s) = match c.shifts {
                Shifts::Realistic => realistic(r),
                Shifts::Any => (r.range_i32(1 << 30, i32::MAX), r.range_i32(-31, 30)),
                Shifts::One(s) => small(r, s),
                Shifts::OneOut if o == out_ch => {
                    let s = r.pick(&[-40, -32, -1, 0, 1]);
                    small(r, s)
                }
                Shifts::OneOut | Shifts::Vector => realistic(r),
            };
            put(&mut self.bias, o, bias);
            put_multiplier(&mut self.mult.0, o, m);
            self.shift[o] = s as i8;
            let sum: i32 = self.w[o * per..(o + 1) * per]
                .iter()
                .map(|&v| v as i32)
                .sum();
            put(
                &mut self.folded,
                o,
                bias.wrapping_sub(c.in_zp.wrapping_mul(sum)),
            );
        }
        for v in &mut self.pads[..c.g.cin] {
            *v = r.i8();
        }
        for v in &mut self.table {
            *v = r.i8();
        }
    }

    /// `wk`: the weights `[k][k][m][cin]` (depthwise: `m = 1`; the
    /// channel-multiplier conv: plane `j` of input channel `c` is output
    /// channel `m * c + j`).
    fn layout_hwc(&mut self, g: &Geom) {
        let (kk, c, m) = (g.k * g.k, g.cin, g.cout / g.cin);
        for t in 0..kk {
            for j in 0..m {
                for ch in 0..c {
                    self.wk[(t * m + j) * c + ch] = self.w[(ch * m + j) * kk + t];
                }
            }
        }
    }

    /// `wk`: the weights `[k][k][cin][cout]` of `dense::dense`.
    fn layout_hwio(&mut self, g: &Geom) {
        let (kk, cin, cout) = (g.k * g.k, g.cin, g.cout);
        for t in 0..kk {
            for ci in 0..cin {
                for o in 0..cout {
                    self.wk[(t * cin + ci) * cout + o] = self.w[(o * kk + t) * cin + ci];
                }
            }
        }
    }

    /// `wk`: the OHWI rows zero-padded to `patch` bytes of `dense::im2col`.
    fn layout_rows(&mut self, g: &Geom, patch: usize) {
        let per = g.per_out();
        for o in 0..g.cout {
            for i in 0..patch {
                self.wk[o * patch + i] = if i < per { self.w[o * per + i] } else { 0 };
            }
        }
    }

    fn requant(&self, cout: usize) -> RequantView<'_> {
        RequantView {
            multiplier: Multipliers(&self.mult.0[..2 * cout]),
            shift: ShiftBytes(&self.shift[..cout]),
        }
    }

    fn folded(&self, cout: usize) -> I32s<'_> {
        I32s(&self.folded[..4 * cout])
    }

    fn pad_values(&self, c: &Case) -> &[i8] {
        if c.pads {
            &self.pads[..c.g.cin]
        } else {
            &[]
        }
    }

    fn lut(&self, c: &Case) -> &[i8] {
        if c.table {
            &self.table
        } else {
            &[]
        }
    }

    /// The reference kernel's operands.
    fn conv_args<'a>(&'a self, c: &Case, input: &'a [i8]) -> ConvArgs<'a> {
        ConvArgs {
            input,
            weights: &self.w[..c.g.cout * c.g.per_out()],
            bias: I32s(&self.bias[..4 * c.g.cout]),
            requant: self.requant(c.g.cout),
            pad_values: self.pad_values(c),
            lut: self.lut(c),
            identity: I32s(&[]),
        }
    }

    /// The pointwise kernel's operands (`weights` in its layout).
    fn pointwise<'a>(&'a self, c: &Case, weights: &'a [i8]) -> PointwiseArgs<'a> {
        PointwiseArgs {
            weights,
            folded_bias: self.folded(c.g.cout),
            requant: self.requant(c.g.cout),
            out_zp: c.out_zp,
            lut: self.lut(c),
            weights_above_min: false,
        }
    }

    /// A windowed kernel's operands (`weights` in its layout).
    fn window<'a>(&'a self, c: &Case, weights: &'a [i8]) -> WindowArgs<'a> {
        let g = &c.g;
        let mut channels = self.pointwise(c, weights);
        // As `resolve` states it for the model's depthwise convs: the
        // Helium tap loop's pair form runs only without a weight at -128.
        channels.weights_above_min = weights.iter().all(|&v| v > i8::MIN);
        WindowArgs {
            channels,
            pad_values: self.pad_values(c),
            in_zp: c.in_zp,
            geometry: Geometry {
                kernel: g.k,
                stride: g.s,
                pad: g.p,
                h: g.h,
                w: g.w,
                cin: g.cin,
                cout: g.cout,
            },
        }
    }

    /// The depthwise kernel's operands (after [`Params::layout_hwc`]).
    fn depthwise(&self, c: &Case) -> WindowArgs<'_> {
        self.window(c, &self.wk[..c.g.cout * c.g.per_out()])
    }
}

/// Static storage of the suites (the firmware has no heap, and the stack
/// should not hold these).
pub struct Buffers {
    a: Params,
    b: Params,
    x: [i8; MAX_X],
    want: [i8; MAX_Y],
    got: [i8; MAX_Y],
    region: [i8; MAX_REGION],
    region_ref: [i8; MAX_REGION],
    ring: [i8; MAX_RING],
    words: [u32; MAX_WORDS],
}

impl Buffers {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Buffers {
            a: Params::new(),
            b: Params::new(),
            x: [0; MAX_X],
            want: [0; MAX_Y],
            got: [0; MAX_Y],
            region: [0; MAX_REGION],
            region_ref: [0; MAX_REGION],
            ring: [0; MAX_RING],
            words: [0; MAX_WORDS],
        }
    }

    /// Draws case `c`'s input (`x`) and operands (`a`), then writes the
    /// reference output of `g` (`conv_reference`) to `want`.
    fn draw_reference(&mut self, r: &mut Rng, c: &Case, g: &Geom) {
        let (x, n) = (&mut self.x[..g.in_len()], g.out_len());
        for v in x.iter_mut() {
            *v = c.value(r);
        }
        self.a.fill(r, c);
        let conv = g.conv(c.in_zp, c.out_zp, 0, 0);
        let args = self.a.conv_args(c, &self.x[..g.in_len()]);
        conv_reference(&conv, &args, &mut self.want[..n]);
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// The tally of one kernel's suite.
struct Suite {
    name: &'static str,
    cases: usize,
    failures: usize,
    /// The current case failed (reported once).
    failed: bool,
}

impl Suite {
    fn new(name: &'static str) -> Self {
        Suite {
            name,
            cases: 0,
            failures: 0,
            failed: false,
        }
    }

    /// Marks case `case` failed; prints the first failure of each of the
    /// first cases that fail.
    fn fail(
        &mut self,
        out: &mut impl Write,
        form: &str,
        case: usize,
        c: &dyn Display,
        what: fmt::Arguments<'_>,
    ) {
        if !self.failed && self.failures < 8 {
            let _ = writeln!(
                out,
                "conformance {} MISMATCH case {case} ({form}) {c}: {what}",
                self.name
            );
        }
        self.failed = true;
    }

    /// Compares the fast form's output with the reference's; on a
    /// difference fails the case naming the first differing index (and its
    /// pixel and channel, `channels` per pixel).
    #[allow(clippy::too_many_arguments)]
    fn same(
        &mut self,
        out: &mut impl Write,
        form: &str,
        case: usize,
        c: &dyn Display,
        want: &[i8],
        got: &[i8],
        channels: usize,
    ) {
        if let Some(m) = first_difference(want, got) {
            let what = format_args!("{}", m.in_pixels(channels));
            self.fail(out, form, case, c, what);
        }
    }

    fn end_case(&mut self) {
        self.cases += 1;
        if self.failed {
            self.failures += 1;
            self.failed = false;
        }
    }

    /// Prints `conformance <kernel> <n> cases <f> failures`; returns `f`.
    fn report(&self, out: &mut impl Write) -> usize {
        let _ = writeln!(
            out,
            "conformance {} {} cases {} failures",
            self.name, self.cases, self.failures
        );
        self.failures
    }
}

/// Runs every suite, printing one summary line per kernel; returns the
/// number of failing cases (0: every fast kernel agreed everywhere).
pub fn run(out: &mut impl Write, b: &mut Buffers) -> usize {
    let mut failures = 0;
    // The Helium suite below is compiled in by the `mve` feature: it must
    // be on exactly when the runtime selected the Helium tier.
    let mve_tier = runtime::kernels::TIER.starts_with("mve");
    if cfg!(feature = "mve") != mve_tier {
        let _ = writeln!(
            out,
            "conformance MISMATCH: support feature `mve` is {} but the runtime tier is {}",
            cfg!(feature = "mve"),
            runtime::kernels::TIER
        );
        failures += 1;
    }
    failures += pointwise_suite(out, b).report(out);
    failures += depthwise_suite(out, b).report(out);
    failures += multiplier_suite(out, b).report(out);
    let [dense, im2col, stem] = dense_suites(out, b);
    failures += dense.report(out) + im2col.report(out) + stem.report(out);
    failures += requantize_suite(out, b).report(out);
    failures += add_suite(out).report(out);
    #[cfg(feature = "fast-int16")]
    {
        failures += wide::wide_suite(out, b).report(out);
        failures += wide::tile16_suite(out).report(out);
    }
    #[cfg(all(feature = "mve", feature = "fast-int16"))]
    {
        failures += mlp16::mlp16_suite(out).report(out);
        failures += mlp16::load16_suite(out).report(out);
        failures += out16::out16_suite(out).report(out);
    }
    // The DSP tier's int16 ConvMlp blocks (M4, M33).
    #[cfg(all(not(feature = "mve"), feature = "fast-int16"))]
    if runtime::kernels::TIER.starts_with("dsp") {
        failures += dsp16::dsp16_suite(out).report(out);
    }
    failures
}

/// `pointwise_pixels` (tile scratch words), `pointwise` (stack tile) and,
/// for `cin == cout`, `pointwise_in_place` (one pixel a row and all pixels
/// in one row) against `conv_reference` with a 1x1 kernel.
fn pointwise_suite(out: &mut impl Write, b: &mut Buffers) -> Suite {
    let mut r = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut suite = Suite::new("pointwise");
    for case in 0..POINTWISE_CASES {
        let mut cin = r.channels(200);
        let cout = r.channels(40);
        if r.one_in(4) {
            cin = cout;
        }
        let px = 1 + r.below(9);
        let g = Geom::new((1, px), (cin, cout, 1), (1, 1, 0));
        let c = Case::new(&mut r, case, g);
        b.draw_reference(&mut r, &c, &g);
        let (x, want) = (&b.x[..px * cin], &b.want[..px * cout]);
        let args = b.a.pointwise(&c, &b.a.w[..cin * cout]);
        let got = &mut b.got[..px * cout];
        got.fill(0x55);
        pointwise::pointwise_pixels(&args, cin, cout, x, got, &mut b.words);
        suite.same(out, "pointwise_pixels", case, &c, want, got, cout);
        got.fill(0x55);
        pointwise::pointwise(&args, cin, cout, x, got);
        suite.same(out, "pointwise", case, &c, want, got, cout);
        if cin == cout {
            for row in [cin, px * cin] {
                got.copy_from_slice(x);
                pointwise::pointwise_in_place(&args, cin, row, got, &mut b.ring);
                let form = if row == cin {
                    "pointwise_in_place, a pixel a row"
                } else {
                    "pointwise_in_place, one row"
                };
                suite.same(out, form, case, &c, want, got, cout);
            }
        }
        suite.end_case();
    }
    suite
}

/// The windows of the windowed suites (`depthwise`, `multiplier`), as
/// `(k, s, p)`: FastViT's 3x3 and 7x7 (at stride 2 its downsampling) at
/// both strides, unpadded 1x1 and 3x3, 5x5 at both strides, and 9x9 (the
/// per-tap path). Case `i` takes window `i % 9`: cases [`EDGE_CASES`] and
/// the next take the 3x3 windows (the named 516-channel depthwise cases).
const WINDOWS: [(usize, usize, usize); 9] = [
    (7, 2, 3),
    (1, 1, 0),
    (3, 1, 1),
    (3, 2, 1),
    (7, 1, 3),
    (3, 1, 0),
    (5, 2, 2),
    (9, 1, 4),
    (5, 1, 2),
];

/// Runs `cases` cases of the windowed suite `name` from generator `seed`:
/// case `i` takes its window from [`WINDOWS`] in turn and random input sides
/// up to `max_side` (at least one output); `check(r, suite, i, (h, w), (k,
/// s, p))` draws the rest of the case and compares the kernel's forms.
fn windowed_suite(
    name: &'static str,
    seed: u64,
    cases: usize,
    max_side: usize,
    mut check: impl FnMut(&mut Rng, &mut Suite, usize, (usize, usize), (usize, usize, usize)),
) -> Suite {
    let mut r = Rng::new(seed);
    let mut suite = Suite::new(name);
    for case in 0..cases {
        let (k, s, p) = WINDOWS[case % WINDOWS.len()];
        let (h, w) = (
            Geom::side(&mut r, k, p, max_side),
            Geom::side(&mut r, k, p, max_side),
        );
        check(&mut r, &mut suite, case, (h, w), (k, s, p));
        suite.end_case();
    }
    suite
}

/// `depthwise` (on DSP and Helium the tap table for channel counts that are
/// multiples of 4, the clipped window otherwise, the per-tap path for 9x9),
/// `pixel_by_taps` on the last pixel (which must take the table), and
/// `depthwise_in_place` for stride 1 same padding, against
/// `conv_reference` with `groups == c`.
fn depthwise_suite(out: &mut impl Write, b: &mut Buffers) -> Suite {
    windowed_suite(
        "depthwise",
        0x2545_F491_4F6C_DD1D,
        DEPTHWISE_CASES,
        10,
        |r, suite, case, (mut h, mut w), (k, s, p)| {
            let mut c = r.channels(64);
            // Named: the widest zero-point padded layer the tap table refuses
            // (more than its 512-channel padding row): the window path.
            if case == EDGE_CASES || case == EDGE_CASES + 1 {
                (h, w, c) = (3, 3, 516);
            }
            let g = Geom::new((h, w), (c, c, c), (k, s, p));
            let mut cs = Case::new(r, case, g);
            cs.pads &= c <= 512;
            b.draw_reference(r, &cs, &g);
            b.a.layout_hwc(&g);
            let (x, n) = (&b.x[..g.in_len()], g.out_len());
            let want = &b.want[..n];
            let args = b.a.depthwise(&cs);
            let (oh, ow) = g.out_hw();
            let got = &mut b.got[..n];
            got.fill(0x55);
            depthwise::depthwise(&args, oh, ow, x, got);
            suite.same(out, "depthwise", case, &cs, want, got, c);
            // The tap table takes every channel count that is a multiple of 4
            // and a kernel up to 7; with zero-point padding, a window that is
            // not inside the input only up to 512 channels.
            let row = |iy: usize| x.get(iy * w * c..(iy + 1) * w * c).unwrap_or(&[]);
            let px = &mut got[..c];
            px.fill(0x55);
            let taken = depthwise::pixel_by_taps(&args, oh - 1, ow - 1, &row, px);
            let inside = |o: usize, n: usize| o * s >= p && o * s - p + k <= n;
            let padded = !(inside(oh - 1, h) && inside(ow - 1, w));
            let table = c % 4 == 0 && k <= 7 && (cs.pads || c <= 512 || !padded);
            if taken != table {
                let what = format_args!("taken {taken}, expected {table}");
                suite.fail(out, "pixel_by_taps", case, &cs, what);
            } else if taken {
                let last = &want[n - c..];
                suite.same(out, "pixel_by_taps, last pixel", case, &cs, last, px, c);
            }
            if s == 1 && 2 * p + 1 == k {
                got.copy_from_slice(x);
                depthwise::depthwise_in_place(&args, got, &mut b.ring);
                suite.same(out, "depthwise_in_place", case, &cs, want, got, c);
            }
        },
    )
}

/// `multiplier::multiplier` and `multiplier_behind` (the output after the
/// input, or [`Conv::write_behind_bytes`] before it, overlapping) against
/// `conv_reference` with `groups == cin`, `cout = m * cin`.
fn multiplier_suite(out: &mut impl Write, b: &mut Buffers) -> Suite {
    windowed_suite(
        "multiplier",
        0x1234_5678_9ABC_DEF1,
        MULTIPLIER_CASES,
        9,
        |r, suite, case, (h, w), ksp| {
            let cin = r.channels(32);
            let m = [2, 2, 2, 1, 3][r.below(5)];
            let g = Geom::new((h, w), (cin, m * cin, cin), ksp);
            let c = Case::new(r, case, g);
            b.draw_reference(r, &c, &g);
            b.a.layout_hwc(&g);
            let (x, n) = (&b.x[..g.in_len()], g.out_len());
            let conv = g.conv(c.in_zp, c.out_zp, 0, 0);
            let want = &b.want[..n];
            let args = b.a.window(&c, &b.a.wk[..g.cout * g.per_out()]);
            let (oh, ow) = g.out_hw();
            let got = &mut b.got[..n];
            got.fill(0x55);
            multiplier::multiplier(&args, ow, x, got);
            suite.same(out, "multiplier", case, &c, want, got, g.cout);
            // Write-behind: alternately the output after the input and the
            // output starting the least lead before it.
            let lead = conv.write_behind_bytes();
            let (input_at, output_at) = if case % 2 == 0 {
                (0, g.in_len())
            } else {
                (lead, 0)
            };
            let region = &mut b.region[..(input_at + g.in_len()).max(output_at + n)];
            region.fill(0x55);
            region[input_at..input_at + g.in_len()].copy_from_slice(x);
            multiplier::multiplier_behind(&args, (oh, ow), region, input_at, output_at);
            let form = if case % 2 == 0 {
                "multiplier_behind, output after the input"
            } else {
                "multiplier_behind, output the least lead before the input"
            };
            let got = &region[output_at..output_at + n];
            suite.same(out, form, case, &c, want, got, g.cout);
        },
    )
}

/// The stem kernels on the same cases: `dense::dense` (weights
/// `[k][k][cin][cout]`), `dense::im2col` (patches of at most 32 bytes through
/// the tier's pointwise kernel; windows that do not fit are skipped) against
/// `conv_reference`, and `stem_fast` (either first kernel, then the fast
/// depthwise through the ring; the output after the input or the least lead
/// before it) against `stem_reference`.
fn dense_suites(out: &mut impl Write, b: &mut Buffers) -> [Suite; 3] {
    let mut r = Rng::new(0x0DDC_0FFE_E0DD_F00D);
    let [mut dense, mut im2col, mut streamed] = [
        Suite::new("dense"),
        Suite::new("im2col"),
        Suite::new("stem"),
    ];
    // (k, s, p, largest cin): FastViT's stem.0 first.
    let geoms = [
        (3, 2, 1, 3),
        (3, 1, 1, 3),
        (1, 1, 0, 32),
        (5, 2, 2, 1),
        (2, 2, 0, 8),
        (9, 1, 4, 1),
    ];
    for case in 0..DENSE_CASES {
        let (k, s, p, max_cin) = geoms[case % geoms.len()];
        let (h, w) = (Geom::side(&mut r, k, p, 12), Geom::side(&mut r, k, p, 12));
        let cin = 1 + r.below(max_cin);
        let cout = r.channels(48);
        let g = Geom::new((h, w), (cin, cout, 1), (k, s, p));
        let c = Case::new(&mut r, case, g);
        b.draw_reference(&mut r, &c, &g);
        let (x, n) = (&b.x[..g.in_len()], g.out_len());
        let conv = g.conv(c.in_zp, c.out_zp, 0, 0);
        let (want, (oh, ow)) = (&b.want[..n], g.out_hw());

        b.a.layout_hwio(&g);
        let got = &mut b.got[..n];
        got.fill(0x55);
        dense::dense(&dense_args(&b.a, &c), ow, x, got);
        dense.same(out, "dense", case, &c, want, got, cout);
        dense.end_case();
        let patch = conv.patch_len();
        let fits = patch <= Conv::MAX_PATCH;
        if fits {
            b.a.layout_rows(&g, patch);
            got.fill(0x55);
            dense::im2col(&im2col_args(&b.a, &c, patch), ow, x, got);
            im2col.same(out, "im2col", case, &c, want, got, cout);
            im2col.end_case();
        }

        // Streamed: then a depthwise 3x3 (stride 2 as FastViT's stem.1, or
        // 1) over the intermediate, through the ring.
        let g2 = Geom::new((oh, ow), (cout, cout, cout), (3, [2, 1][case % 2], 1));
        let mut c2 = Case::new(&mut r, case, g2);
        c2.in_zp = c.out_zp;
        b.b.fill(&mut r, &c2);
        b.b.layout_hwc(&g2);
        let behind = case % 4 >= 2;
        let mut st = Stem {
            first: conv,
            second: g2.conv(c2.in_zp, c2.out_zp, 0, 0),
        };
        let (in_len, out_len) = (g.in_len(), g2.out_len());
        let (input_at, output_at) = if behind {
            (st.write_behind_bytes(), 0)
        } else {
            (0, in_len)
        };
        st.first.input.offset = input_at as u32;
        st.second.output.offset = output_at as u32;
        st.second.input = st.first.output;
        let len = (input_at + in_len).max(output_at + out_len);
        let ring = &mut b.ring[..Stem::ring_bytes(3, ow, cout)];
        let reg = &mut b.region_ref[..len];
        reg.fill(0x55);
        reg[input_at..input_at + in_len].copy_from_slice(x);
        let (first_ref, second_ref) = (b.a.conv_args(&c, &[]), b.b.conv_args(&c2, &[]));
        stem_reference(&st, &first_ref, &second_ref, reg, input_at, output_at, ring);
        let want = &b.region_ref[output_at..output_at + out_len];
        // The im2col first (its weight rows are in place), then the dense.
        for im2col_first in [true, false] {
            let first = if im2col_first {
                if !fits {
                    continue;
                }
                StemFirst::Im2col(im2col_args(&b.a, &c, patch))
            } else {
                b.a.layout_hwio(&g);
                StemFirst::Dense(dense_args(&b.a, &c))
            };
            let reg = &mut b.region[..len];
            reg.fill(0x55);
            reg[input_at..input_at + in_len].copy_from_slice(x);
            ring.fill(0x55);
            stem::stem_fast(
                &st,
                &first,
                &b.b.depthwise(&c2),
                reg,
                input_at,
                output_at,
                ring,
            );
            let form = match (im2col_first, behind) {
                (true, false) => "stem_fast im2col",
                (true, true) => "stem_fast im2col, write-behind",
                (false, false) => "stem_fast dense",
                (false, true) => "stem_fast dense, write-behind",
            };
            let got = &reg[output_at..output_at + out_len];
            streamed.same(out, form, case, &Then(&c, &c2), want, got, cout);
        }
        streamed.end_case();
    }
    [dense, im2col, streamed]
}

/// The dense kernel's operands (after [`Params::layout_hwio`]).
fn dense_args<'a>(a: &'a Params, c: &Case) -> WindowArgs<'a> {
    a.window(c, &a.wk[..c.g.cout * c.g.per_out()])
}

/// The im2col kernel's operands (after [`Params::layout_rows`]).
fn im2col_args<'a>(a: &'a Params, c: &Case, patch: usize) -> WindowArgs<'a> {
    a.window(c, &a.wk[..c.g.cout * patch])
}

/// Accumulators at the edges of i32 and of the requantization's ranges.
const ACC_EDGES: [i32; 13] = [
    i32::MIN,
    i32::MIN + 1,
    -(1 << 30),
    -65536,
    -129,
    -1,
    0,
    1,
    127,
    65535,
    1 << 30,
    i32::MAX - 1,
    i32::MAX,
];

/// The requantization of the fast kernels on chosen accumulators (every
/// i32 edge, random magnitudes), multipliers (0, 1, 2^30, i32::MAX, small,
/// random; stored as their top 16 bits, as in the blob) and shifts (one of [`ONE_SHIFTS`] for all lanes, any per lane,
/// all inside the vector range, all but one inside) against `requantize_i8`
/// and `lut`:
/// - the depthwise kernel with a 1x1 kernel and zero weights (the sum is the
///   folded bias): on Helium `finish16` for every 16 channels (vector path,
///   or its scalar fallback when a shift is out of range), then the
///   four-lane `finish`; on DSP `finish` of the tap table; with `c % 4 != 0`
///   the window path's;
/// - the pointwise kernel over one tile of four pixels whose sums are
///   `bias + x[p][0]` (Helium `finish_px4`, DSP the tile's requantization);
/// - on M55 (feature `mve`), `finish16` and `finish_px4` called directly:
///   whether each takes its vector path, and its outputs.
fn requantize_suite(out: &mut impl Write, b: &mut Buffers) -> Suite {
    let mut r = Rng::new(0xC0FF_EE00_1234_5678);
    let mut suite = Suite::new("requantize");
    for case in 0..REQUANTIZE_CASES {
        let c = r.pick(&[16, 32, 20, 4, 8, 6, 1]);
        let g = Geom::new((1, 1), (c, c, c), (1, 1, 0));
        let mut cs = Case::new(&mut r, case, g);
        // No padding; the inputs are random (`Data` does not apply).
        cs.in_zp = 0;
        cs.pads = false;
        cs.data = Data::Random;
        let p = &mut b.a;
        for v in &mut p.table {
            *v = r.i8();
        }
        let (mode, one) = match cs.shifts {
            Shifts::One(s) if case < EDGE_CASES => (0, s),
            _ => (r.below(4), r.pick(&ONE_SHIFTS)),
        };
        let out_lane = r.below(c);
        for o in 0..c {
            let acc = if r.one_in(2) {
                r.pick(&ACC_EDGES)
            } else {
                (r.next_u64() as i32) >> r.below(31)
            };
            let s = match mode {
                0 => one,
                1 => r.range_i32(-31, 30),
                2 => r.range_i32(-31, -2),
                _ if o == out_lane => r.pick(&[-1, 0, 3, -32]),
                _ => r.range_i32(-31, -2),
            };
            let m = match r.below(4) {
                0 => r.pick(&[0, 1, 1 << 30, i32::MAX]),
                1 => r.range_i32(0, 1 << 22),
                _ => r.range_i32(1 << 30, i32::MAX),
            };
            put(&mut p.folded, o, acc);
            put(&mut p.bias, o, acc);
            put_multiplier(&mut p.mult.0, o, m);
            p.shift[o] = s as i8;
        }
        cs.shifts = match mode {
            0 => Shifts::One(one),
            1 => Shifts::Any,
            2 => Shifts::Vector,
            _ => Shifts::OneOut,
        };
        let expect = |p: &Params, o: usize, acc: i32| {
            let (m, s) = (p.requant(c).multiplier.get(o), p.requant(c).shift.get(o));
            requant_ref(acc, m, s, cs.out_zp, p.lut(&cs))
        };
        // Depthwise 1x1, zero weights: the sums are the folded bias.
        p.wk[..c].fill(0);
        for v in &mut b.x[..c] {
            *v = r.i8();
        }
        let want = &mut b.want[..c];
        for (o, v) in want.iter_mut().enumerate() {
            *v = expect(p, o, I32s(&p.folded).get(o));
        }
        let got = &mut b.got[..c];
        got.fill(0x55);
        depthwise::depthwise(&p.depthwise(&cs), 1, 1, &b.x[..c], got);
        suite.same(out, "depthwise 1x1, zero weights", case, &cs, want, got, c);

        // Pointwise over one tile: weight 1 on input channel 0, else 0.
        let cin = 16;
        let pw = &mut b.b.w[..c * cin];
        pw.fill(0);
        for o in 0..c {
            pw[o * cin] = 1;
        }
        for v in &mut b.x[..4 * cin] {
            *v = r.i8();
        }
        let want = &mut b.want[..4 * c];
        for (i, v) in want.iter_mut().enumerate() {
            let (px, o) = (i / c, i % c);
            let acc = I32s(&p.folded).get(o).wrapping_add(b.x[px * cin] as i32);
            *v = expect(p, o, acc);
        }
        let got = &mut b.got[..4 * c];
        got.fill(0x55);
        let args = p.pointwise(&cs, &b.b.w[..c * cin]);
        pointwise::pointwise_pixels(&args, cin, c, &b.x[..4 * cin], got, &mut b.words);
        suite.same(
            out,
            "pointwise tile, sums bias + x",
            case,
            &cs,
            want,
            got,
            c,
        );

        #[cfg(feature = "mve")]
        mve_direct(
            out,
            &mut suite,
            case,
            &cs,
            &mut r,
            p,
            &mut b.want,
            &mut b.got,
        );
        suite.end_case();
    }
    suite
}

/// Helium's vector requantizations called directly (their callers fall
/// back to the scalar path when they decline, which would hide a wrong
/// decision): `finish16` must take exactly the shifts `-31..=-2` and
/// `finish_px4` exactly `t >= 32` (`shift <= -1`), and then give the
/// reference's bits, writing only their outputs.
#[cfg(feature = "mve")]
#[allow(clippy::too_many_arguments)]
fn mve_direct(
    out: &mut impl Write,
    suite: &mut Suite,
    case: usize,
    cs: &Case,
    r: &mut Rng,
    p: &Params,
    want: &mut [i8],
    got: &mut [i8],
) {
    use runtime::kernels::mve::{finish_px4, Acc16};
    let c = cs.g.cout;
    let rq = p.requant(c);
    let table = p.lut(cs);
    let mut c0 = 0;
    while c0 + 16 <= c {
        // Sums without bias; the bias brings each lane to its chosen total.
        let mut acc = Acc16([0; 16]);
        let mut bias = [0u8; 64];
        for (i, a) in acc.0.iter_mut().enumerate() {
            *a = r.next_u64() as i32;
            let total = I32s(&p.folded).get(c0 + i);
            put(&mut bias, i, total.wrapping_sub(*a));
        }
        let mut b = [0u8; 4 * 48];
        b[4 * c0..4 * c0 + 64].copy_from_slice(&bias);
        let in_range = (c0..c0 + 16).all(|o| (-31..=-2).contains(&rq.shift.get(o)));
        let y = &mut got[..16];
        y.fill(0x55);
        let taken = finish16(
            &acc,
            &b,
            (rq.multiplier.0, rq.shift.0),
            c0,
            cs.out_zp,
            table,
            y,
        );
        if taken != in_range {
            let what = format_args!("chunk {c0}: taken {taken}, shifts in -31..=-2 {in_range}");
            suite.fail(out, "finish16", case, cs, what);
        } else if taken {
            for (i, v) in want[..16].iter_mut().enumerate() {
                let o = c0 + i;
                let total = I32s(&p.folded).get(o);
                *v = requant_ref(
                    total,
                    rq.multiplier.get(o),
                    rq.shift.get(o),
                    cs.out_zp,
                    table,
                );
            }
            suite.same(out, "finish16", case, cs, &want[..16], y, 16);
        }
        c0 += 16;
    }
    // finish_px4: channel `o`'s four pixel outputs, scattered `c` apart.
    let lut16: Option<&[i8; 256]> = table.try_into().ok();
    let (y, w) = (&mut got[..4 * c], &mut want[..4 * c]);
    y.fill(0x55);
    w.fill(0x55);
    for o in 0..c {
        let dots = [0; 4].map(|_| r.next_u64() as i32 >> r.below(31));
        let total = I32s(&p.folded).get(o);
        let (m, s) = (rq.multiplier.get(o), rq.shift.get(o));
        let taken = finish_px4(dots, total, m, s, cs.out_zp, lut16, y, o, c);
        let vector = (31 - s).clamp(1, 62) >= 32;
        if taken != vector {
            let what = format_args!("channel {o} shift {s}: taken {taken}, t >= 32 {vector}");
            suite.fail(out, "finish_px4", case, cs, what);
        }
        if taken {
            for (px, d) in dots.iter().enumerate() {
                w[px * c + o] = requant_ref(total.wrapping_add(*d), m, s, cs.out_zp, table);
            }
        }
    }
    suite.same(out, "finish_px4", case, cs, w, y, c);
}

/// `runtime::kernels::mve::finish16` out of line: its narrowing `VSTRB.32`
/// encodes only a low base register (r0-r7) while its asm operand lets LLVM
/// choose any, and inlined into `mve_direct` LLVM picks r11 (the assembler
/// rejects the block). On its own, with few live values, it gets a low one.
#[cfg(feature = "mve")]
#[inline(never)]
fn finish16(
    acc: &runtime::kernels::mve::Acc16,
    bias: &[u8],
    (multiplier, shift): (&[u8], &[i8]),
    o0: usize,
    out_zp: i32,
    table: &[i8],
    out: &mut [i8],
) -> bool {
    runtime::kernels::mve::finish16(acc, bias, multiplier, shift, o0, out_zp, table, out)
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
    let mut rng = Rng::new(7);
    for v in x.iter_mut() {
        *v = rng.i8();
    }
    let (mut params, mut mults) = ([0u8; 4 * 1152], [0u8; 2 * 1152]);
    let shift = [-9i8; 1152];
    for (o, b) in params.chunks_exact_mut(4).enumerate() {
        let m = (1i32 << 30) + (rng.next_u64() % (1 << 30)) as i32;
        b.copy_from_slice(&m.to_le_bytes());
        put_multiplier(&mut mults, o, m);
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
                multiplier: Multipliers(&mults[..2 * cout]),
                shift: ShiftBytes(&shift[..cout]),
            },
            out_zp: -3,
            // fc1 carries the GELU table in FastViT.
            lut: if cout == 3 * cin { &table } else { &[] },
            weights_above_min: false,
        };
        let n = SHAPE_PIXELS;
        pointwise::pointwise_pixels(&args, cin, cout, &x[..n * cin], &mut y[..n * cout], words);
        crate::fastvit_perf_mark(k as u32 + 1);
    }
    for (k, &(cin, cout)) in SHAPES.iter().enumerate() {
        let _ = writeln!(out, "shape {k} {cin} {cout} {}", SHAPE_PIXELS * cin * cout);
    }
}

/// `kernels::add::add` (the tables; on Helium `mve::add_tables4` four
/// elements a step where the sums never saturate and `t >= 32`) against
/// `add_element` on every input pair: rows of 256 elements, `a` every
/// value and `b` rotated by the row, then a 7-element call for the tail.
/// Case 0 takes the `VRMULH` form (`out_shift = -1`), case 1 saturating
/// sums (the scalar path); the rest the ranges of the host's
/// `tables_equal_add_element_on_every_pair` (shifts on both sides of
/// `t = 32`).
fn add_suite(out: &mut impl Write) -> Suite {
    let mut r = Rng::new(0x0ADD_7AB1_E5AD_D000);
    let mut suite = Suite::new("add");
    let t = TensorRef::i8(0, 1, 1, 1);
    for case in 0..ADD_CASES {
        let mut p = Add {
            a: t,
            a_zp: r.range_i32(-128, 127),
            a_mult: r.range_i32(1 << 30, i32::MAX - 1),
            a_shift: r.range_i32(-12, 1),
            b: t,
            b_zp: r.range_i32(-128, 127),
            b_mult: r.range_i32(1 << 30, i32::MAX - 1),
            b_shift: r.range_i32(-12, 1),
            output: t,
            out_zp: r.range_i32(-128, 127),
            out_mult: r.range_i32(1 << 30, i32::MAX - 1),
            out_shift: r.range_i32(-40, 3),
            left_shift: r.below(24) as u8,
        };
        match case {
            0 => (p.out_shift, p.left_shift) = (-1, 20),
            1 => {
                (p.a_mult, p.a_shift, p.b_mult, p.b_shift) = (i32::MAX, 7, i32::MAX, 7);
                (p.out_shift, p.left_shift) = (-24, 23);
            }
            _ => {}
        }
        let mut want = [0i8; 256];
        let mut got = [0i8; 256];
        for row in 0..256 {
            let a: [i8; 256] = core::array::from_fn(|i| i as u8 as i8);
            let b: [i8; 256] = core::array::from_fn(|i| (i + row) as u8 as i8);
            for ((w, &x), &y) in want.iter_mut().zip(&a).zip(&b) {
                *w = add_element(&p, x, y);
            }
            got.fill(0x55);
            add::add(&p, &a, &b, &mut got);
            suite.same(out, "add", case, &AddCase(&p), &want, &got, 256);
            if row == 0 {
                got.fill(0x55);
                add::add(&p, &a[9..16], &b[9..16], &mut got[..7]);
                suite.same(
                    out,
                    "add, 7 elements",
                    case,
                    &AddCase(&p),
                    &want[9..16],
                    &got[..7],
                    7,
                );
            }
        }
        suite.end_case();
    }
    suite
}

/// An add case as printed on a mismatch.
struct AddCase<'a>(&'a Add);

impl Display for AddCase<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0;
        write!(
            f,
            "zp {}/{}/{} mult {}/{}/{} shift {}/{}/{} left {}",
            p.a_zp,
            p.b_zp,
            p.out_zp,
            p.a_mult,
            p.b_mult,
            p.out_mult,
            p.a_shift,
            p.b_shift,
            p.out_shift,
            p.left_shift
        )
    }
}
