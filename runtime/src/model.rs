//! The schedule executor: validates every layer's spans, splits the arena
//! into input and output views, and calls the kernel the layer names.
#![forbid(unsafe_code)]

use crate::error::Error;
use crate::schedule::{Layer, TensorRef};
use crate::tensor::Elem;

/// A compiled model: data emitted by codegen (or built in memory by it).
#[derive(Clone, Copy, Debug)]
pub struct Model<'a> {
    /// The weight blob all [`Span`](crate::Span)s point into (16-byte aligned when emitted).
    pub weights: &'a [u8],
    /// The schedule, executed in order.
    pub layers: &'a [Layer],
    /// One name per layer (timm module names), for reports and debugging.
    pub layer_names: &'a [&'a str],
    /// Replaces `layers[0]` in [`Model::run_normalized`]: the stem without the
    /// folded ImageNet normalization, reading a quantized normalized input.
    pub stem_normalized: Layer,
    /// Exact arena size the schedule needs, scratch included.
    pub arena_bytes: usize,
    /// Where the input image lives in the arena (`h x w x 3`).
    pub input: TensorRef,
    /// Zero point of the normalized input accepted by `run_normalized`.
    pub normalized_input_zp: i32,
    /// Where the logits live in the arena (`1 x 1 x classes`).
    pub output: TensorRef,
    /// Zero point of the logits.
    pub output_zp: i32,
}

/// The element type of a logits buffer: `i8` or `i16`. A buffer at least as
/// wide as the model's logits ([`Model::output`]'s `elem`) receives them
/// (int8 logits widen into `i16`); a narrower one is an
/// [`Error::OutputWidth`].
pub trait Logit: Copy + sealed::Sealed {
    /// The matching tensor element type.
    const ELEM: Elem;
    /// `v`, which the caller checked fits.
    fn from_i32(v: i32) -> Self;
}

impl Logit for i8 {
    const ELEM: Elem = Elem::I8;
    fn from_i32(v: i32) -> Self {
        v as i8
    }
}

impl Logit for i16 {
    const ELEM: Elem = Elem::I16;
    fn from_i32(v: i32) -> Self {
        v as i16
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for i16 {}
}

/// Which entry point is running (decides the first layer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Entry {
    Image,
    Normalized,
}

impl<'a> Model<'a> {
    /// Runs on a camera frame: `image` is u8 RGB, HWC, `h * w * 3` bytes, as
    /// the model's input size. The ImageNet normalization is folded into the
    /// stem. Writes the logits (int8 or int16, [`Model::output`]'s `elem`; see
    /// `output_zp` and the generated scale) into a buffer of [`Logit`]s.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// // TINY: a one-layer model whose logits are `p0` and `p1 + p2`.
    /// let mut arena = [0i8; 6]; // ARENA_BYTES of a generated model
    /// let mut logits = [0i8; 2];
    /// TINY.run(&mut arena, &[10, 20, 30], &mut logits)?;
    /// assert_eq!(logits, [-118, -78]); // 10 and 20 + 30, zero point -128
    /// // Wrong sizes are errors, never panics:
    /// assert!(TINY.run(&mut arena[..5], &[10, 20, 30], &mut logits).is_err());
    /// # Ok(()) }
    /// ```
    pub fn run<L: Logit>(
        &self,
        arena: &mut [i8],
        image: &[u8],
        logits: &mut [L],
    ) -> Result<(), Error> {
        self.run_with(arena, image, logits, |_, _| {})
    }

    /// Like [`Model::run`], calling `after_layer(index, arena)` after each
    /// layer: for per-layer profiling markers and for dumping activations.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// let (mut arena, mut logits) = ([0i8; 6], [0i8; 2]);
    /// let mut seen = 0;
    /// TINY.run_with(&mut arena, &[10, 20, 30], &mut logits, |layer, arena| {
    ///     // e.g. a cycle-counter marker, or dump TINY.layers[layer].output()
    ///     let out = TINY.layers[layer].output();
    ///     assert_eq!(&arena[out.offset as usize..out.end()], &[-118, -78]);
    ///     seen += 1;
    /// })?;
    /// assert_eq!(seen, TINY.layers.len());
    /// # Ok(()) }
    /// ```
    pub fn run_with<L: Logit>(
        &self,
        arena: &mut [i8],
        image: &[u8],
        logits: &mut [L],
        after_layer: impl FnMut(usize, &[i8]),
    ) -> Result<(), Error> {
        let dst = self.prepare(arena, image.len(), (logits.len(), L::ELEM))?;
        // u8 pixel p is stored as p - 128 (zero point -128): a sign-bit flip.
        for (d, &p) in dst.iter_mut().zip(image) {
            *d = (p ^ 0x80) as i8;
        }
        self.execute(arena, Entry::Image, logits, after_layer)
    }

    /// Runs on an already normalized input (timm's tensor, transposed to HWC
    /// and quantized with the model's normalized-input scale and
    /// `normalized_input_zp`). For testing against float references.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// // TINY's "normalized" input is the same tensor, already quantized.
    /// let (mut arena, mut logits) = ([0i8; 6], [0i8; 2]);
    /// TINY.run_normalized(&mut arena, &[-118, -108, -98], &mut logits, |_, _| {})?;
    /// assert_eq!(logits, [-118, -78]);
    /// # Ok(()) }
    /// ```
    pub fn run_normalized<L: Logit>(
        &self,
        arena: &mut [i8],
        input: &[i8],
        logits: &mut [L],
        after_layer: impl FnMut(usize, &[i8]),
    ) -> Result<(), Error> {
        let dst = self.prepare(arena, input.len(), (logits.len(), L::ELEM))?;
        // Same length (`prepare` checked it); a zip copies without a length assert.
        for (d, &x) in dst.iter_mut().zip(input) {
            *d = x;
        }
        self.execute(arena, Entry::Normalized, logits, after_layer)
    }

    /// The arena's input region (`h x w x 3` HWC; u8 pixel `p` stored as
    /// `p - 128`), to write a frame into in place, e.g. row by row from a
    /// camera, before [`Model::run_in_place`]: no frame buffer besides the
    /// arena.
    ///
    /// ```
    /// # include!("doc/tiny_model.rs");
    /// # fn main() -> Result<(), runtime::Error> {
    /// let (mut arena, mut logits) = ([0i8; 6], [0i8; 2]);
    /// for (d, p) in TINY.input_mut(&mut arena)?.iter_mut().zip([10u8, 20, 30]) {
    ///     *d = (p ^ 0x80) as i8;
    /// }
    /// TINY.run_in_place(&mut arena, &mut logits)?;
    /// assert_eq!(logits, [-118, -78]); // as TINY.run(&mut arena, &[10, 20, 30], ..)
    /// # Ok(()) }
    /// ```
    pub fn input_mut<'b>(&self, arena: &'b mut [i8]) -> Result<&'b mut [i8], Error> {
        self.prepare(
            arena,
            self.input.bytes(),
            (self.output.len(), self.output.elem),
        )
    }

    /// [`Model::run`] on the frame already in the arena (see
    /// [`Model::input_mut`]).
    pub fn run_in_place<L: Logit>(&self, arena: &mut [i8], logits: &mut [L]) -> Result<(), Error> {
        self.prepare(arena, self.input.bytes(), (logits.len(), L::ELEM))?;
        self.execute(arena, Entry::Image, logits, |_, _| {})
    }

    /// Checks sizes and returns the arena's input region.
    fn prepare<'b>(
        &self,
        arena: &'b mut [i8],
        input_len: usize,
        (logits_len, logit): (usize, Elem),
    ) -> Result<&'b mut [i8], Error> {
        if arena.len() < self.arena_bytes {
            return Err(Error::ArenaTooSmall {
                needed: self.arena_bytes,
                got: arena.len(),
            });
        }
        if input_len != self.input.bytes() {
            return Err(Error::InputSize {
                expected: self.input.bytes(),
                got: input_len,
            });
        }
        if logits_len != self.output.len() {
            return Err(Error::OutputSize {
                expected: self.output.len(),
                got: logits_len,
            });
        }
        if logit.bytes() < self.output.elem.bytes() {
            return Err(Error::OutputWidth {
                expected: 8 * self.output.elem.bytes() as u8,
                got: 8 * logit.bytes() as u8,
            });
        }
        arena
            .get_mut(self.input.offset as usize..self.input.end())
            .ok_or(Error::InvalidLayer { layer: 0 })
    }

    fn execute<L: Logit>(
        &self,
        arena: &mut [i8],
        entry: Entry,
        logits: &mut [L],
        mut after_layer: impl FnMut(usize, &[i8]),
    ) -> Result<(), Error> {
        let arena = arena
            .get_mut(..self.arena_bytes)
            .ok_or(Error::InvalidLayer { layer: 0 })?;
        for (i, layer) in self.layers.iter().enumerate() {
            let layer = if i == 0 && entry == Entry::Normalized {
                &self.stem_normalized
            } else {
                layer
            };
            layer
                .elems_supported()
                .then(|| self.run_layer(layer, arena))
                .flatten()
                .ok_or(Error::InvalidLayer { layer: i })?;
            after_layer(i, arena);
        }
        let out = arena
            .get(self.output.offset as usize..self.output.end())
            .ok_or(Error::InvalidLayer {
                layer: self.layers.len(),
            })?;
        // `prepare` checked the length and that `L` holds the values.
        for (i, l) in logits.iter_mut().enumerate() {
            *l = L::from_i32(self.output.elem.load(out, i));
        }
        Ok(())
    }

    /// Validates one layer and runs its kernel; `None` if the layer is
    /// corrupt. One function per kind of layer (`crate::layers`).
    fn run_layer(&self, layer: &Layer, arena: &mut [i8]) -> Option<()> {
        match layer {
            Layer::Conv(p) => self.run_conv(p, layer, arena),
            Layer::Stem(p) => self.run_stem(p, layer, arena),
            Layer::ConvMlp(p) => self.run_conv_mlp(p, layer, arena),
            Layer::Lut(p) => self.run_lut(p, arena),
            Layer::Add(p) => self.run_add(p, arena),
            Layer::SqueezeExcite(p) => self.run_squeeze_excite(p, layer, arena),
            Layer::GlobalAvgPool(p) => self.run_global_avg_pool(p, arena),
            Layer::FullyConnected(p) => self.run_fully_connected(p, arena),
        }
    }
}
