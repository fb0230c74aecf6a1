//! From a camera frame of any size to the model's int8 input: timm's eval
//! transform (shorter side resized to `floor(res / 0.9)` with a bicubic
//! Catmull-Rom filter, antialiased when shrinking, then a centre crop of
//! `res x res`), as codegen's host `images::eval_transform` does it with the
//! `image` crate, in integer arithmetic.
//!
//! Streaming: the frame arrives one row at a time ([`Preprocess::push_row`]),
//! e.g. from a camera DMA buffer; only `ROWS` output-row accumulators and
//! one resampled row are kept, so no second frame-sized buffer exists. Each
//! output row goes straight into the caller's `res x res x 3` int8 input
//! (u8 pixel `p` as `p - 128`, the runtime's camera-input quantization).
//!
//! Numerical contract: filter weights are computed exactly in rational
//! integer arithmetic, rounded to Q14 and made to sum to exactly 1.0 per
//! output pixel; the horizontal pass keeps 8 fractional bits, the vertical
//! pass accumulates in i32 (the kernel's absolute weights sum to at most
//! 1.3, so `|acc| <= 1.3^2 * 255 * 2^22 < 2^31`) and rounds half up, clamped
//! to 0..=255. No floats, so every target computes the same bytes.

/// Largest frame side: keeps the exact weight arithmetic inside i64.
pub const MAX_SIDE: usize = 8192;

/// Fractional bits of the filter weights.
const WEIGHT_BITS: u32 = 14;
/// Fractional bits kept between the horizontal and the vertical pass.
const MID_BITS: u32 = 8;

/// How the frame's pixels are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// 3 bytes per pixel: R, G, B.
    Rgb888,
    /// 2 bytes per pixel, little-endian `rrrrrggg gggbbbbb` (LCD/DMA order).
    Rgb565Le,
    /// 2 bytes per pixel, big-endian (the order many camera sensors send).
    Rgb565Be,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub const fn bytes(self) -> usize {
        match self {
            PixelFormat::Rgb888 => 3,
            PixelFormat::Rgb565Le | PixelFormat::Rgb565Be => 2,
        }
    }
}

/// Widens one RGB565 pixel to 8 bits per channel by bit replication.
pub const fn rgb565_to_rgb888(p: u16) -> [u8; 3] {
    let (r, g, b) = ((p >> 11) as u8, ((p >> 5) & 0x3f) as u8, (p & 0x1f) as u8);
    [
        (r << 3) | (r >> 2),
        (g << 2) | (g >> 4),
        (b << 3) | (b >> 2),
    ]
}

/// A frame's size and pixel format. Rows are `width * format.bytes()`
/// bytes, top to bottom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Pixel format.
    pub format: PixelFormat,
}

/// A region of interest in frame pixels: only it is resized and cropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roi {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

/// Why a frame cannot be preprocessed. Never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The frame or the region of interest is empty or over [`MAX_SIDE`].
    BadSize,
    /// The region of interest does not lie inside the frame.
    RoiOutsideFrame,
    /// A filter window needs more taps than the `TAPS` capacity.
    TooManyTaps {
        /// Taps the frame needs.
        needed: usize,
        /// `TAPS`.
        capacity: usize,
    },
    /// More output rows are open at once than the `ROWS` capacity.
    TooManyRows {
        /// Rows the frame needs.
        needed: usize,
        /// `ROWS`.
        capacity: usize,
    },
    /// A pushed row has the wrong length.
    RowLength {
        /// `width * format.bytes()`.
        expected: usize,
        /// Length pushed.
        got: usize,
    },
    /// The output is not `res * res * 3` bytes.
    OutputLength {
        /// `res * res * 3`.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// More rows were pushed than the frame has.
    TooManyRowsPushed,
    /// A row was pushed before [`Preprocess::start`] planned a frame.
    NotStarted,
    /// The frame ended (or was not started) before every output row was written.
    Incomplete,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::BadSize => write!(
                f,
                "frame or region of interest is empty or over {MAX_SIDE} pixels a side"
            ),
            Error::RoiOutsideFrame => write!(f, "region of interest lies outside the frame"),
            Error::TooManyTaps { needed, capacity } => {
                write!(
                    f,
                    "the frame needs {needed} filter taps; TAPS is {capacity}"
                )
            }
            Error::TooManyRows { needed, capacity } => {
                write!(f, "the frame needs {needed} open rows; ROWS is {capacity}")
            }
            Error::RowLength { expected, got } => {
                write!(f, "row has {got} bytes; the frame's rows have {expected}")
            }
            Error::OutputLength { expected, got } => {
                write!(f, "output has {got} bytes; the model input has {expected}")
            }
            Error::TooManyRowsPushed => write!(f, "more rows pushed than the frame has"),
            Error::NotStarted => write!(f, "row pushed before `start`"),
            Error::Incomplete => write!(f, "the frame ended before the model input was complete"),
        }
    }
}

/// The shorter side after resizing: `floor(res / crop_pct)` with timm's
/// crop_pct 0.9 for FastViT.
pub const fn resized_short_side(res: usize) -> usize {
    res * 10 / 9
}

/// The size (width, height) a `width x height` image is resized to before
/// the centre crop (as codegen's `eval_transform`: the longer side rounded
/// half up).
pub const fn resized_size(width: usize, height: usize, res: usize) -> (usize, usize) {
    let short = resized_short_side(res);
    if width <= height {
        (short, (height * short + width / 2) / width)
    } else {
        ((width * short + height / 2) / height, short)
    }
}

/// Filter taps one output pixel needs when `src` pixels are resized to
/// `dst`: 4 when enlarging, `ceil(4 src / dst)` when shrinking (the filter
/// widens to antialias).
pub const fn taps_needed(src: usize, dst: usize) -> usize {
    let t = (4 * src).div_ceil(dst);
    if t < 4 {
        4
    } else {
        t
    }
}

/// Output rows one source row contributes to (the accumulators kept open):
/// 4 when shrinking, `ceil(4 dst / src)` when enlarging.
pub const fn rows_needed(src: usize, dst: usize) -> usize {
    taps_needed(dst, src)
}

/// The `TAPS` a `width x height` frame (or region of interest) needs at `res`.
pub const fn taps_for(width: usize, height: usize, res: usize) -> usize {
    let (w, h) = resized_size(width, height, res);
    let (x, y) = (taps_needed(width, w), taps_needed(height, h));
    if x > y {
        x
    } else {
        y
    }
}

/// The `ROWS` a `width x height` frame (or region of interest) needs at `res`.
pub const fn rows_for(width: usize, height: usize, res: usize) -> usize {
    rows_needed(height, resized_size(width, height, res).1)
}

/// Catmull-Rom (B = 0, C = 0.5) at `n / q`, times `6 q^3`: exact in i64
/// for `q <= 4 MAX_SIDE` (and `2^15 * 6 q^3` still fits).
const fn catmull_rom(n: i64, q: i64) -> i64 {
    let a = n.abs();
    if a < q {
        9 * a * a * a - 15 * a * a * q + 6 * q * q * q
    } else if a < 2 * q {
        -3 * a * a * a + 15 * a * a * q - 24 * a * q * q + 12 * q * q * q
    } else {
        0
    }
}

/// Per-axis filter of the `res` output pixels kept by the centre crop: the
/// first source pixel of each and `TAPS` Q14 weights summing to `1 << 14`.
#[derive(Clone, Copy, Debug)]
struct Axis<const RES: usize, const TAPS: usize> {
    start: [u16; RES],
    count: [u8; RES],
    weights: [[i16; TAPS]; RES],
}

impl<const RES: usize, const TAPS: usize> Axis<RES, TAPS> {
    const fn new() -> Self {
        Axis {
            start: [0; RES],
            count: [0; RES],
            weights: [[0; TAPS]; RES],
        }
    }

    /// `src` pixels resized to `dst`, output pixels `offset..offset + RES`.
    ///
    /// Output pixel `o` is centred at source `u = (o + 0.5) src / dst - 0.5`;
    /// source pixel `i` gets `k((i - u) / s)` with `s = max(1, src / dst)`,
    /// i.e. `k(n / q)` with `n = 2 dst i - (2 o + 1) src + dst` and
    /// `q = 2 max(src, dst)`. Pixels outside `0..src` are left out and the
    /// rest renormalized, as the `image` crate does.
    fn plan(&mut self, src: usize, dst: usize, offset: usize) -> Result<(), Error> {
        let needed = taps_needed(src, dst);
        if needed > TAPS || needed > u8::MAX as usize {
            return Err(Error::TooManyTaps {
                needed,
                capacity: TAPS,
            });
        }
        let (s, d) = (src as i64, dst as i64);
        let q = 2 * s.max(d);
        for j in 0..RES {
            let o = (offset + j) as i64;
            let centre = (2 * o + 1) * s - d; // n = 2 d i - centre
                                              // Taps with |n| < 2q, inside the source.
            let lo = (centre - 2 * q).div_euclid(2 * d) + 1;
            let hi = (centre + 2 * q - 1).div_euclid(2 * d);
            let (lo, hi) = (lo.max(0), hi.min(s - 1));
            let mut raw = [0i64; TAPS];
            let mut total = 0i64;
            let mut n = 0;
            let mut i = lo;
            while i <= hi && n < TAPS {
                raw[n] = catmull_rom(2 * d * i - centre, q);
                total += raw[n];
                n += 1;
                i += 1;
            }
            if total <= 0 || i <= hi {
                return Err(Error::TooManyTaps {
                    needed: (hi - lo + 1).max(0) as usize,
                    capacity: TAPS,
                });
            }
            let one = 1i64 << WEIGHT_BITS;
            let (mut sum, mut biggest) = (0i64, 0);
            for t in 0..n {
                let w = (2 * raw[t] * one + total).div_euclid(2 * total);
                self.weights[j][t] = w as i16;
                sum += w;
                if raw[t] > raw[biggest] {
                    biggest = t;
                }
            }
            // Exactly 1.0: a flat frame stays flat.
            self.weights[j][biggest] += (one - sum) as i16;
            self.start[j] = lo as u16;
            self.count[j] = n as u8;
        }
        Ok(())
    }

    /// Last source pixel output pixel `j` reads.
    fn end(&self, j: usize) -> usize {
        self.start[j] as usize + self.count[j] as usize - 1
    }
}

/// The streaming preprocessor for a `RES x RES` model input, with room for
/// `TAPS` filter taps per pixel and `ROWS` open output rows (see
/// [`taps_needed`] and [`rows_needed`]; [`Preprocess::start`] says if a
/// frame needs more). About `RES * (4 TAPS + 12 ROWS + 18)` bytes: put it in
/// a `static` on a small stack.
pub struct Preprocess<const RES: usize, const TAPS: usize, const ROWS: usize> {
    frame: Frame,
    roi: Roi,
    x: Axis<RES, TAPS>,
    y: Axis<RES, TAPS>,
    /// Frame rows pushed so far.
    row: usize,
    /// Output rows opened / written so far (open: `done..opened`).
    opened: usize,
    done: usize,
    /// A frame is planned.
    started: bool,
    /// One source row resampled horizontally (Q8).
    mid: [[i32; 3]; RES],
    /// Vertical accumulators of the open output rows, by `row % ROWS`.
    acc: [[[i32; 3]; RES]; ROWS],
}

impl<const RES: usize, const TAPS: usize, const ROWS: usize> Default
    for Preprocess<RES, TAPS, ROWS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const RES: usize, const TAPS: usize, const ROWS: usize> Preprocess<RES, TAPS, ROWS> {
    /// Bytes of the model input it writes (`RES * RES * 3`).
    pub const OUTPUT_BYTES: usize = RES * RES * 3;

    /// An idle preprocessor (const: it can initialize a `static`).
    pub const fn new() -> Self {
        let none = Roi {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        };
        Preprocess {
            frame: Frame {
                width: 0,
                height: 0,
                format: PixelFormat::Rgb888,
            },
            roi: none,
            x: Axis::new(),
            y: Axis::new(),
            row: 0,
            opened: 0,
            done: 0,
            started: false,
            mid: [[0; 3]; RES],
            acc: [[[0; 3]; RES]; ROWS],
        }
    }

    /// Plans a frame (the whole frame, or `roi` of it): filter weights for
    /// every output column and row. Then push its rows in order.
    pub fn start(&mut self, frame: Frame, roi: Option<Roi>) -> Result<(), Error> {
        self.opened = 0;
        self.done = 0;
        self.row = 0;
        self.started = false;
        let roi = roi.unwrap_or(Roi {
            x: 0,
            y: 0,
            width: frame.width,
            height: frame.height,
        });
        if RES == 0
            || RES > MAX_SIDE
            || roi.width == 0
            || roi.height == 0
            || frame.width > MAX_SIDE
            || frame.height > MAX_SIDE
        {
            return Err(Error::BadSize);
        }
        if roi.x + roi.width > frame.width || roi.y + roi.height > frame.height {
            return Err(Error::RoiOutsideFrame);
        }
        let (w, h) = resized_size(roi.width, roi.height, RES);
        let rows = rows_for(roi.width, roi.height, RES);
        if rows > ROWS {
            return Err(Error::TooManyRows {
                needed: rows,
                capacity: ROWS,
            });
        }
        self.x.plan(roi.width, w, (w - RES) / 2)?;
        self.y.plan(roi.height, h, (h - RES) / 2)?;
        self.frame = frame;
        self.roi = roi;
        self.started = true;
        Ok(())
    }

    /// Takes the next frame row (`width * format.bytes()` bytes); writes
    /// each output row into `out` (`RES * RES * 3`, HWC int8) as soon as
    /// its last source row has arrived.
    pub fn push_row(&mut self, row: &[u8], out: &mut [i8]) -> Result<(), Error> {
        if !self.started {
            return Err(Error::NotStarted);
        }
        let expected = self.frame.width * self.frame.format.bytes();
        if row.len() != expected {
            return Err(Error::RowLength {
                expected,
                got: row.len(),
            });
        }
        if out.len() != Self::OUTPUT_BYTES {
            return Err(Error::OutputLength {
                expected: Self::OUTPUT_BYTES,
                got: out.len(),
            });
        }
        if self.row >= self.frame.height {
            return Err(Error::TooManyRowsPushed);
        }
        let y = self.row;
        self.row += 1;
        if y < self.roi.y || y >= self.roi.y + self.roi.height {
            return Ok(());
        }
        let i = y - self.roi.y;
        while self.opened < RES && self.y.start[self.opened] as usize <= i {
            if self.opened - self.done >= ROWS {
                return Err(Error::TooManyRows {
                    needed: ROWS + 1,
                    capacity: ROWS,
                });
            }
            self.acc[self.opened % ROWS] = [[0; 3]; RES];
            self.opened += 1;
        }
        if self.done == self.opened {
            return Ok(()); // no output row reads this source row
        }
        self.resample_row(row);
        for o in self.done..self.opened {
            let w = self.y.weights[o][i - self.y.start[o] as usize] as i32;
            for (a, m) in self.acc[o % ROWS].iter_mut().zip(&self.mid) {
                for c in 0..3 {
                    a[c] += w * m[c];
                }
            }
        }
        while self.done < self.opened && self.y.end(self.done) == i {
            let o = self.done;
            let dst = out.chunks_exact_mut(RES * 3).nth(o).unwrap_or(&mut []);
            for (d, a) in dst.chunks_exact_mut(3).zip(&self.acc[o % ROWS]) {
                for c in 0..3 {
                    let half = 1 << (WEIGHT_BITS + MID_BITS - 1);
                    let p = ((a[c] + half) >> (WEIGHT_BITS + MID_BITS)).clamp(0, 255);
                    d[c] = (p as u8 ^ 0x80) as i8;
                }
            }
            self.done += 1;
        }
        Ok(())
    }

    /// The horizontal pass of one frame row into `mid`, the pixel decoding
    /// chosen once per row.
    fn resample_row(&mut self, row: &[u8]) {
        let b = self.frame.format.bytes();
        let roi = row
            .get(self.roi.x * b..(self.roi.x + self.roi.width) * b)
            .unwrap_or(&[]);
        let (x, mid) = (&self.x, &mut self.mid);
        match self.frame.format {
            PixelFormat::Rgb888 => resample::<RES, TAPS, 3>(x, mid, roi, |p| [p[0], p[1], p[2]]),
            PixelFormat::Rgb565Le => resample::<RES, TAPS, 2>(x, mid, roi, |p| {
                rgb565_to_rgb888(u16::from_le_bytes([p[0], p[1]]))
            }),
            PixelFormat::Rgb565Be => resample::<RES, TAPS, 2>(x, mid, roi, |p| {
                rgb565_to_rgb888(u16::from_be_bytes([p[0], p[1]]))
            }),
        }
    }

    /// `Ok` once every output row has been written.
    pub fn finish(&self) -> Result<(), Error> {
        if self.started && self.done == RES {
            Ok(())
        } else {
            Err(Error::Incomplete)
        }
    }

    /// The whole frame at once: [`Preprocess::start`], every row of
    /// `pixels` (a full frame, rows top to bottom), [`Preprocess::finish`].
    pub fn run(
        &mut self,
        pixels: &[u8],
        frame: Frame,
        roi: Option<Roi>,
        out: &mut [i8],
    ) -> Result<(), Error> {
        self.start(frame, roi)?;
        let stride = frame.width * frame.format.bytes();
        if pixels.len() != stride * frame.height {
            return Err(Error::RowLength {
                expected: stride * frame.height,
                got: pixels.len(),
            });
        }
        for row in pixels.chunks_exact(stride) {
            self.push_row(row, out)?;
        }
        self.finish()
    }
}

/// `mid[j] = sum_t x.weights[j][t] * pixel(x.start[j] + t)` in Q8, for
/// pixels of `B` bytes that `decode` widens to RGB888.
#[inline(always)]
fn resample<const RES: usize, const TAPS: usize, const B: usize>(
    x: &Axis<RES, TAPS>,
    mid: &mut [[i32; 3]; RES],
    row: &[u8],
    decode: impl Fn(&[u8]) -> [u8; 3],
) {
    let half = 1 << (WEIGHT_BITS - MID_BITS - 1);
    for (j, m) in mid.iter_mut().enumerate() {
        let (start, n) = (x.start[j] as usize, x.count[j] as usize);
        let pixels = row.get(start * B..(start + n) * B).unwrap_or(&[]);
        let weights = x.weights[j].get(..n).unwrap_or(&[]);
        let mut s = [0i32; 3];
        for (p, &w) in pixels.chunks_exact(B).zip(weights) {
            let [r, g, b] = decode(p);
            s[0] += w as i32 * r as i32;
            s[1] += w as i32 * g as i32;
            s[2] += w as i32 * b as i32;
        }
        *m = s.map(|v| (v + half) >> (WEIGHT_BITS - MID_BITS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    const RGB: PixelFormat = PixelFormat::Rgb888;

    fn run<const R: usize, const T: usize, const W: usize>(
        pixels: &[u8],
        frame: Frame,
        roi: Option<Roi>,
    ) -> Result<Vec<i8>, Error> {
        let mut p = std::boxed::Box::new(Preprocess::<R, T, W>::new());
        let mut out = vec![0i8; R * R * 3];
        p.run(pixels, frame, roi, &mut out)?;
        Ok(out)
    }

    #[test]
    fn a_flat_frame_stays_flat_at_any_size() {
        for (w, h) in [(40, 30), (30, 40), (9, 9), (100, 7)] {
            let frame = Frame {
                width: w,
                height: h,
                format: RGB,
            };
            let px: Vec<u8> = (0..w * h).flat_map(|_| [200u8, 0, 255]).collect();
            let out = run::<8, 64, 16>(&px, frame, None).unwrap();
            for c in out.chunks_exact(3) {
                assert_eq!(c, [200u8 as i8 ^ -128, -128, 127], "{w}x{h}");
            }
        }
    }

    #[test]
    fn a_frame_of_the_resized_size_is_only_cropped() {
        // res 9 resizes the shorter side to 10: a 10x12 frame is not resampled.
        let frame = Frame {
            width: 10,
            height: 12,
            format: RGB,
        };
        let px: Vec<u8> = (0..10 * 12 * 3).map(|i| (i * 37 % 251) as u8).collect();
        let out = run::<9, 4, 4>(&px, frame, None).unwrap();
        for y in 0..9 {
            for x in 0..9 {
                for c in 0..3 {
                    let want = px[((y + 1) * 10 + x) * 3 + c];
                    assert_eq!(out[(y * 9 + x) * 3 + c], (want ^ 0x80) as i8);
                }
            }
        }
    }

    #[test]
    fn rgb565_in_either_byte_order_is_rgb888_widened() {
        let (w, h) = (13, 11);
        let raw: Vec<u16> = (0..w * h).map(|i| (i as u16).wrapping_mul(40503)).collect();
        let wide: Vec<u8> = raw.iter().flat_map(|&p| rgb565_to_rgb888(p)).collect();
        let le: Vec<u8> = raw.iter().flat_map(|p| p.to_le_bytes()).collect();
        let be: Vec<u8> = raw.iter().flat_map(|p| p.to_be_bytes()).collect();
        let f = |format| Frame {
            width: w,
            height: h,
            format,
        };
        let want = run::<8, 8, 8>(&wide, f(RGB), None).unwrap();
        assert_eq!(
            run::<8, 8, 8>(&le, f(PixelFormat::Rgb565Le), None).unwrap(),
            want
        );
        assert_eq!(
            run::<8, 8, 8>(&be, f(PixelFormat::Rgb565Be), None).unwrap(),
            want
        );
        assert_eq!(rgb565_to_rgb888(0xffff), [255; 3]);
        assert_eq!(rgb565_to_rgb888(0xf800), [255, 0, 0]);
    }

    #[test]
    fn a_roi_is_the_same_as_the_cut_out_frame() {
        let (w, h) = (31, 23);
        let px: Vec<u8> = (0..w * h * 3).map(|i| (i * 89 % 256) as u8).collect();
        let roi = Roi {
            x: 5,
            y: 3,
            width: 17,
            height: 14,
        };
        let cut: Vec<u8> = (roi.y..roi.y + roi.height)
            .flat_map(|y| px[(y * w + roi.x) * 3..(y * w + roi.x + roi.width) * 3].to_vec())
            .collect();
        let frame = |width, height| Frame {
            width,
            height,
            format: RGB,
        };
        assert_eq!(
            run::<8, 8, 8>(&px, frame(w, h), Some(roi)).unwrap(),
            run::<8, 8, 8>(&cut, frame(17, 14), None).unwrap()
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let f = Frame {
            width: 64,
            height: 48,
            format: RGB,
        };
        let px = vec![0u8; 64 * 48 * 3];
        // 48 rows shrink to 8 * 10 / 9 = 8: ceil(4 * 48 / 8) = 24 taps.
        assert_eq!(taps_needed(48, 8), 24);
        assert_eq!(
            run::<8, 16, 8>(&px, f, None),
            Err(Error::TooManyTaps {
                needed: 24,
                capacity: 16
            })
        );
        assert!(run::<8, 24, 4>(&px, f, None).is_ok());
        // 4 rows enlarge to 8: ceil(4 * 8 / 4) = 8 open rows.
        let tiny = Frame {
            width: 4,
            height: 4,
            format: RGB,
        };
        assert_eq!(
            run::<8, 8, 4>(&px[..48], tiny, None),
            Err(Error::TooManyRows {
                needed: 8,
                capacity: 4
            })
        );
        assert!(run::<8, 8, 8>(&px[..48], tiny, None).is_ok());
        let roi = Roi {
            x: 60,
            y: 0,
            width: 8,
            height: 8,
        };
        assert_eq!(
            run::<8, 24, 8>(&px, f, Some(roi)),
            Err(Error::RoiOutsideFrame)
        );
        assert_eq!(
            run::<8, 24, 8>(&px[1..], f, None),
            Err(Error::RowLength {
                expected: 64 * 48 * 3,
                got: 64 * 48 * 3 - 1
            })
        );
        let mut p = Preprocess::<8, 24, 8>::new();
        let mut out = [0i8; 8 * 8 * 3];
        assert_eq!(p.push_row(&px[..192], &mut out), Err(Error::NotStarted));
        assert_eq!(p.finish(), Err(Error::Incomplete));
        p.start(f, None).unwrap();
        for row in px.chunks_exact(192).take(47) {
            p.push_row(row, &mut out).unwrap();
        }
        assert_eq!(p.finish(), Err(Error::Incomplete));
        assert_eq!(
            p.push_row(&px[..10], &mut out),
            Err(Error::RowLength {
                expected: 192,
                got: 10
            })
        );
        assert_eq!(
            p.push_row(&px[..192], &mut out[1..]),
            Err(Error::OutputLength {
                expected: 192,
                got: 191
            })
        );
        p.push_row(&px[..192], &mut out).unwrap();
        assert_eq!(p.finish(), Ok(()));
        assert_eq!(
            p.push_row(&px[..192], &mut out),
            Err(Error::TooManyRowsPushed)
        );
        let huge = Frame {
            width: MAX_SIDE + 1,
            height: 1,
            format: RGB,
        };
        assert_eq!(p.start(huge, None), Err(Error::BadSize));
    }
}
