//! A conv's geometry and parameters as plain data, and its `Reference`
//! layer, shared by the `kernels` and `fused_kernels` suites (each includes
//! this file and adds its own constructors and forms). Not every suite uses
//! every item.
#![allow(dead_code)]

use runtime::{Conv, ConvVariant, Span, TensorRef};
use testkit::{tensor, Blob};

/// A kernel size with a same padding: 1, 3, 5 or 7.
pub fn odd_kernel() -> impl proptest::strategy::Strategy<Value = usize> {
    use proptest::prelude::*;
    prop_oneof![Just(1usize), Just(3), Just(5), Just(7)]
}

/// A tensor's height and width, each 1 to 9: tiny images whose borders are
/// most of their pixels, the fused-form cases' spatial size.
pub fn small_hw() -> impl proptest::strategy::Strategy<Value = (usize, usize)> {
    (1usize..=9, 1usize..=9)
}

#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub h: usize,
    pub w: usize,
    pub cin: usize,
    pub cout: usize,
    pub groups: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Geometry {
    /// A drawn geometry with the padding clipped below the kernel, if
    /// [`Geometry::valid`].
    pub fn drawn(
        (h, w): (usize, usize),
        (cin, cout, groups): (usize, usize, usize),
        (k, stride, pad): (usize, usize, usize),
    ) -> Option<Self> {
        let g = Geometry {
            h,
            w,
            cin,
            cout,
            groups,
            k,
            stride,
            pad: pad.min(k - 1),
        };
        g.valid().then_some(g)
    }

    /// The kernel fits the padded input and the groups divide the channels.
    pub fn valid(&self) -> bool {
        self.h + 2 * self.pad >= self.k
            && self.w + 2 * self.pad >= self.k
            && self.cin % self.groups == 0
            && self.cout % self.groups == 0
    }

    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.pad - self.k) / self.stride + 1,
            (self.w + 2 * self.pad - self.k) / self.stride + 1,
        )
    }

    pub fn weight_len(&self) -> usize {
        self.cout * self.k * self.k * (self.cin / self.groups)
    }
}

#[derive(Clone, Debug)]
pub struct ConvParams {
    pub g: Geometry,
    pub in_zp: i32,
    pub out_zp: i32,
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
    pub pad_values: Option<Vec<i8>>,
    pub lut: Option<Vec<i8>>,
}

impl ConvParams {
    /// Parameters from their parts, with no padding values and no table (a
    /// case that has them sets those fields).
    pub fn new(
        g: Geometry,
        (in_zp, out_zp): (i32, i32),
        weights: Vec<i8>,
        (bias, mult, shift): (Vec<i32>, Vec<i32>, Vec<i32>),
    ) -> Self {
        ConvParams {
            g,
            in_zp,
            out_zp,
            weights,
            bias,
            mult,
            shift,
            pad_values: None,
            lut: None,
        }
    }

    pub fn input(&self, offset: usize) -> TensorRef {
        tensor(offset, self.g.h, self.g.w, self.g.cin)
    }

    pub fn output(&self, offset: usize) -> TensorRef {
        let (oh, ow) = self.g.out_hw();
        tensor(offset, oh, ow, self.g.cout)
    }

    /// [`ConvParams::conv`] with the variant `variant` makes, its data
    /// appended to `blob` after the conv's.
    pub fn conv_as(
        &self,
        blob: &mut Blob,
        input: TensorRef,
        output: TensorRef,
        variant: impl FnOnce(&mut Blob) -> ConvVariant,
    ) -> Conv {
        let c = self.conv(blob, input, output);
        Conv {
            variant: variant(blob),
            ..c
        }
    }

    /// The variant-specific data of `ConvVariant::Pointwise`:
    /// `bias[o] - in_zp * sum_i w[o][i]` (dense 1x1 only).
    pub fn folded_bias(&self) -> Vec<i32> {
        self.folded_per_output(self.g.cin)
    }

    /// `bias[o] - in_zp * sum w[o]` (wrapping), output `o`'s weights being
    /// the `per` values from `o * per`: the bias the fast variants store.
    pub fn folded_per_output(&self, per: usize) -> Vec<i32> {
        (0..self.g.cout)
            .map(|o| {
                let s: i32 = self.weights[o * per..(o + 1) * per]
                    .iter()
                    .map(|&v| v as i32)
                    .sum();
                self.bias[o].wrapping_sub(self.in_zp.wrapping_mul(s))
            })
            .collect()
    }

    /// The `Reference` conv, its spans appended to `blob`.
    pub fn conv(&self, blob: &mut Blob, input: TensorRef, output: TensorRef) -> Conv {
        Conv {
            variant: ConvVariant::Reference,
            input,
            in_zp: self.in_zp,
            output,
            out_zp: self.out_zp,
            kernel: self.g.k as u8,
            stride: self.g.stride as u8,
            pad: self.g.pad as u8,
            groups: self.g.groups as u16,
            weights: blob.i8s(&self.weights),
            bias: blob.i32s(&self.bias),
            requant: blob.requant(&self.mult, &self.shift),
            pad_values: blob.opt_i8s(self.pad_values.as_deref()),
            lut: blob.opt_i8s(self.lut.as_deref()),
            identity: Span::NONE,
        }
    }
}
