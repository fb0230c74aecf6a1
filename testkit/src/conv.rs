//! A conv layer's shape without its operands (`no_std`).

use runtime::{Conv, ConvVariant, Requant, Span, TensorRef};

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
