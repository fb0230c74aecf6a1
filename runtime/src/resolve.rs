//! Resolving a layer's spans in the weight blob into the typed operands its
//! kernel takes; any span that does not fit is `None` (the executor's
//! validation), never a panic.
#![forbid(unsafe_code)]

use crate::kernels::pointwise::PointwiseArgs;
use crate::kernels::window::{Geometry, WindowArgs};
use crate::model::Model;
use crate::ops::{self, I32s, Multipliers, RequantView, Shifts};
use crate::schedule::{Conv, Requant, Span};

impl<'a> Model<'a> {
    fn bytes(&self, s: Span) -> Option<&'a [u8]> {
        self.weights
            .get(s.offset as usize..(s.offset as usize).checked_add(s.len as usize)?)
    }

    pub(crate) fn i8s(&self, s: Span) -> Option<&'a [i8]> {
        Some(bytemuck::cast_slice(self.bytes(s)?))
    }

    pub(crate) fn i32s(&self, s: Span, n: usize) -> Option<I32s<'a>> {
        if s.len as usize != n * 4 {
            return None;
        }
        let b = self
            .weights
            .get(s.offset as usize..(s.offset as usize).checked_add(s.len as usize)?)?;
        Some(I32s(b))
    }

    pub(crate) fn requant(&self, r: Requant, n: usize) -> Option<RequantView<'a>> {
        Some(RequantView {
            multiplier: Multipliers(self.bytes(r.multiplier).filter(|m| m.len() == 2 * n)?),
            shift: Shifts(self.i8s(r.shift).filter(|s| s.len() == n)?),
        })
    }

    /// The operands of a fully connected layer (or of one of the SE's two)
    /// from its `weights` (`[cout][cin]`), `bias` and `requant` spans, with
    /// its zero points and ReLU flag.
    pub(crate) fn fc_args(
        &self,
        (weights, bias, requant): (Span, Span, Requant),
        (cin, cout): (usize, usize),
        (in_zp, out_zp, relu): (i32, i32, bool),
    ) -> Option<ops::fully_connected::FcArgs<'a>> {
        let weights = self.i8s(weights).filter(|w| w.len() == cin * cout)?;
        Some(ops::fully_connected::FcArgs {
            in_zp,
            weights,
            bias: self.i32s(bias, cout)?,
            requant: self.requant(requant, cout)?,
            out_zp,
            relu,
        })
    }

    pub(crate) fn table(&self, s: Span) -> Option<&'a [i8]> {
        let t = self.i8s(s)?;
        (t.is_empty() || t.len() == 256).then_some(t)
    }

    /// A conv's table: 256 entries of its output's element type, or none.
    fn conv_table(&self, p: &Conv) -> Option<&'a [i8]> {
        let t = self.i8s(p.lut)?;
        (t.is_empty() || t.len() == 256 * p.output.elem.bytes()).then_some(t)
    }

    /// Validates a conv's shapes (not its arena placement) and returns how
    /// many weights it has, in any layout.
    fn conv_weight_count(&self, p: &Conv) -> Option<usize> {
        let (cin, cout, g) = (p.input.c as usize, p.output.c as usize, p.groups as usize);
        let k = p.kernel as usize;
        if g == 0 || cin % g != 0 || cout % g != 0 || p.stride == 0 {
            return None;
        }
        // Output size must follow from the input size (no reads past the edge).
        let span = |i: u16, o: u16| {
            let reach = (o as usize).checked_sub(1)? * p.stride as usize + k;
            (reach <= i as usize + 2 * p.pad as usize).then_some(())
        };
        span(p.input.h, p.output.h)?;
        span(p.input.w, p.output.w)?;
        Some(cout * k * k * (cin / g))
    }

    /// Validates a conv's shapes and the operands every kernel reads
    /// (requantization, pad values, table), and resolves them; `input`,
    /// `weights` and `bias` are left empty. The fast variants read their own
    /// weight layout and folded bias, so a schedule leaves `Conv::weights`
    /// and `Conv::bias` empty for them and the blob holds each weight once.
    fn conv_common(&self, p: &Conv) -> Option<(usize, ops::conv::ConvArgs<'a>)> {
        let count = self.conv_weight_count(p)?;
        let pad_values = self.i8s(p.pad_values)?;
        if !pad_values.is_empty() && pad_values.len() != p.input.c as usize {
            return None;
        }
        Some((
            count,
            ops::conv::ConvArgs {
                input: &[],
                weights: &[],
                bias: I32s(&[]),
                requant: self.requant(p.requant, p.output.c as usize)?,
                pad_values,
                lut: self.conv_table(p)?,
                identity: self.identity(p)?,
            },
        ))
    }

    /// A conv's identity weights ([`Conv::identity`]): none, or one per
    /// output channel of a conv that has an identity tap, each at most
    /// [`Conv::MAX_IDENTITY`] in magnitude (the i32 sum cannot overflow).
    fn identity(&self, p: &Conv) -> Option<I32s<'a>> {
        if p.identity.len == 0 {
            return Some(I32s(&[]));
        }
        let id = self.i32s(p.identity, p.output.c as usize)?;
        let bounded = (0..id.len()).all(|o| id.get(o).unsigned_abs() <= Conv::MAX_IDENTITY as u32);
        (p.identity_ok() && bounded).then_some(id)
    }

    /// [`Model::conv_common`] plus the fast layout `s`, which must hold every
    /// weight.
    fn fast_common(&self, p: &Conv, s: Span) -> Option<(&'a [i8], ops::conv::ConvArgs<'a>)> {
        let (count, args) = self.conv_common(p)?;
        let weights = self.i8s(s)?;
        (weights.len() == count).then_some((weights, args))
    }

    /// [`Model::conv_args`] for the reference forms, `None` in a build
    /// without them ([`crate::REFERENCE_FORMS`]), so their code is not linked.
    pub(crate) fn reference_args(&self, p: &Conv) -> Option<ops::conv::ConvArgs<'a>> {
        if !crate::REFERENCE_FORMS {
            return None;
        }
        self.conv_args(p)
    }

    /// Validates a reference conv (OHWI `weights`, `bias`) and resolves its
    /// operands; `input` is left empty.
    pub(crate) fn conv_args(&self, p: &Conv) -> Option<ops::conv::ConvArgs<'a>> {
        let (weights, args) = self.fast_common(p, p.weights)?;
        Some(ops::conv::ConvArgs {
            weights,
            bias: self.i32s(p.bias, p.output.c as usize)?,
            ..args
        })
    }

    /// The per-output-channel operands of a fast variant: `weights` in its
    /// layout, `folded_bias` (one i32 per output channel), and the
    /// requantization and table [`Model::conv_common`] resolved.
    fn channels(
        &self,
        p: &Conv,
        weights: &'a [i8],
        args: &ops::conv::ConvArgs<'a>,
        folded_bias: Span,
    ) -> Option<PointwiseArgs<'a>> {
        Some(PointwiseArgs {
            weights,
            folded_bias: self.i32s(folded_bias, p.output.c as usize)?,
            requant: args.requant,
            out_zp: p.out_zp,
            lut: args.lut,
            weights_above_min: false,
        })
    }

    /// [`Model::channels`] with the padding and geometry of a windowed
    /// variant.
    fn window(
        &self,
        p: &Conv,
        (weights, args): (&'a [i8], ops::conv::ConvArgs<'a>),
        folded_bias: Span,
    ) -> Option<WindowArgs<'a>> {
        Some(WindowArgs {
            channels: self.channels(p, weights, &args, folded_bias)?,
            pad_values: args.pad_values,
            in_zp: p.in_zp,
            geometry: Geometry::of(p),
        })
    }

    /// Validates a [`ConvVariant::Pointwise`]-shaped conv (dense 1x1, stride
    /// 1, no padding, same height and width) and resolves its operands.
    pub(crate) fn pointwise_args(&self, p: &Conv, folded_bias: Span) -> Option<PointwiseArgs<'a>> {
        let dense_1x1 = p.kernel == 1 && p.stride == 1 && p.pad == 0 && p.groups == 1;
        if !dense_1x1 || (p.input.h, p.input.w) != (p.output.h, p.output.w) {
            return None;
        }
        let (weights, args) = self.fast_common(p, p.weights)?;
        let ch = self.channels(p, weights, &args, folded_bias)?;
        // Scanned only where a kernel uses it.
        let weights_above_min = crate::kernels::PAIR_TILE && crate::kernels::above_min(weights);
        Some(PointwiseArgs {
            weights_above_min,
            ..ch
        })
    }

    /// Validates a [`ConvVariant::Depthwise`]-shaped conv (`groups == cin ==
    /// cout`) and resolves its operands.
    pub(crate) fn depthwise_args(
        &self,
        p: &Conv,
        weights_hwc: Span,
        folded_bias: Span,
    ) -> Option<WindowArgs<'a>> {
        let (c, g) = (p.input.c as usize, p.groups as usize);
        if g != c || p.output.c as usize != c {
            return None;
        }
        let mut a = self.window(p, self.fast_common(p, weights_hwc)?, folded_bias)?;
        a.channels.weights_above_min =
            crate::kernels::PAIR_TAPS && crate::kernels::above_min(a.channels.weights);
        Some(a)
    }

    /// Validates a [`ConvVariant::Im2col`]-shaped conv (`groups == 1`, a
    /// patch of at most [`Conv::MAX_PATCH`] bytes) and resolves its operands.
    pub(crate) fn im2col_args(
        &self,
        p: &Conv,
        weights_rows: Span,
        folded_bias: Span,
    ) -> Option<WindowArgs<'a>> {
        let (patch, cout) = (p.patch_len(), p.output.c as usize);
        if p.groups != 1 || patch == 0 || patch > Conv::MAX_PATCH {
            return None;
        }
        let (_, args) = self.conv_common(p)?;
        let weights = self.i8s(weights_rows)?;
        if weights.len() != cout * patch {
            return None;
        }
        self.window(p, (weights, args), folded_bias)
    }

    /// Validates a [`ConvVariant::DenseHwio`]-shaped conv (`groups == 1`)
    /// and resolves its operands.
    pub(crate) fn dense_args(
        &self,
        p: &Conv,
        weights_hwio: Span,
        folded_bias: Span,
    ) -> Option<WindowArgs<'a>> {
        if p.groups != 1 {
            return None;
        }
        self.window(p, self.fast_common(p, weights_hwio)?, folded_bias)
    }

    /// Validates a [`ConvVariant::Multiplier`]-shaped conv (`groups == cin`,
    /// `cout` a multiple of `cin`) and resolves its operands.
    pub(crate) fn multiplier_args(
        &self,
        p: &Conv,
        weights_hwc: Span,
        folded_bias: Span,
    ) -> Option<WindowArgs<'a>> {
        let (cin, cout) = (p.input.c as usize, p.output.c as usize);
        if p.groups as usize != cin || cin == 0 || cout % cin != 0 {
            return None;
        }
        let mut a = self.window(p, self.fast_common(p, weights_hwc)?, folded_bias)?;
        // Helium's tap loop takes the multiplier's planes in pairs too.
        a.channels.weights_above_min = crate::kernels::PAIR_TAPS
            && crate::kernels::MULTIPLIER_TAPS
            && crate::kernels::above_min(a.channels.weights);
        Some(a)
    }
}
