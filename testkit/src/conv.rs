//! A conv layer's shape without its operands (`no_std`).

use runtime::{Conv, ConvVariant, Elem, Requant, Span, TensorRef};

/// A `h`x`w`x`c` tensor of `elem` at arena offset 0: the input or output a
/// test or the conformance firmware hands [`bare_conv`] when the operands
/// live in buffers of their own.
pub fn bare_tensor(h: usize, w: usize, c: usize, elem: Elem) -> TensorRef {
    TensorRef {
        offset: 0,
        h: h as u16,
        w: w as u16,
        c: c as u16,
        elem,
    }
}

/// A [`ConvVariant::Reference`] conv of this shape without operands: zero
/// points 0 and every span empty. What a size computation reads
/// ([`Conv::write_behind_bytes`], scratch bytes), and the base a test or the
/// conformance firmware fills in with struct update syntax.
pub fn bare_conv(
    input: TensorRef,
    output: TensorRef,
    (kernel, stride, pad): (u8, u8, u8),
    groups: u16,
) -> Conv {
    Conv {
        variant: ConvVariant::Reference,
        input,
        in_zp: 0,
        output,
        out_zp: 0,
        kernel,
        stride,
        pad,
        groups,
        weights: Span::NONE,
        bias: Span::NONE,
        requant: Requant::default(),
        pad_values: Span::NONE,
        lut: Span::NONE,
        identity: Span::NONE,
    }
}
