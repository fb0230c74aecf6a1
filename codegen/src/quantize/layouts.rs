//! Per-channel int8 weights, and which kernel runs each conv with the
//! weights laid out the way that kernel reads them. Used by lowering
//! ([`super::lower`]) as it packs each layer.

use runtime::{Conv, ConvVariant, Span};

use crate::bias_correction::InputMeans;
use crate::fold::ConvW;

/// A conv's (or fully connected layer's) quantized parameters.
pub(super) struct PerChannel {
    /// Symmetric int8 weights, one scale per output channel, OHWI.
    pub weights: Vec<i8>,
    /// i32 biases at the input scale times the channel's weight scale.
    pub bias: Vec<i32>,
    /// Each channel's real requantization factor, input to output scale.
    pub reals: Vec<f64>,
    /// The identity taps kept apart ([`runtime::Conv::identity`]), or empty.
    pub identity: Vec<i32>,
}

/// Index within output channel `o`'s OIHW weights of its identity tap, when
/// `c` has one (stride 1, `cin == cout`, depthwise or dense 1x1: what
/// [`runtime::Conv::identity_ok`] accepts).
pub(super) fn identity_tap(c: &ConvW, o: usize) -> Option<usize> {
    let shape = c.stride == 1 && c.cin == c.cout && c.k % 2 == 1 && c.pad() * 2 + 1 == c.k;
    if !shape {
        None
    } else if c.groups == c.cin {
        Some(c.k * c.k / 2)
    } else if c.k == 1 && c.groups == 1 {
        Some(o)
    } else {
        None
    }
}

/// Quantizes `c` per output channel (weights to `[-127, 127]` by their
/// largest magnitude; OIHW becomes OHWI, the layout every kernel reads).
/// With `split` and an identity tap ([`identity_tap`]), that tap is kept
/// apart as a wide integer and the scale follows the other taps (at most
/// [`Conv::MAX_IDENTITY`] steps for the identity): a RepMixer's folded
/// identity, about 1 against taps of about 0.01, would otherwise leave the
/// other taps a few int8 steps.
///
/// With `means` (the input's calibration means), each bias is corrected for
/// the mean shift the rounding of its channel's weights makes
/// ([`crate::bias_correction`]).
pub(super) fn quantize_per_channel(
    c: &ConvW,
    in_scale: f64,
    out_scale: f64,
    split: bool,
    means: Option<&InputMeans>,
) -> PerChannel {
    let shares = means.map(|m| m.tap_shares(c));
    let mut rounded = vec![0.0; c.fan_in()];
    let cin_g = c.cin / c.groups;
    let per = c.fan_in();
    let mut weights = Vec::with_capacity(c.weight.len());
    let mut bias = Vec::with_capacity(c.cout);
    let mut reals = Vec::with_capacity(c.cout);
    let mut identity = Vec::new();
    for o in 0..c.cout {
        let w = &c.weight[o * per..(o + 1) * per];
        let id = if split { identity_tap(c, o) } else { None };
        let wmax = (w.iter().enumerate())
            .filter(|&(i, _)| Some(i) != id)
            .fold(0f32, |m, (_, v)| m.max(v.abs())) as f64;
        let id_max = id.map_or(0.0, |i| w[i].abs() as f64);
        let sw = match (wmax / 127.0).max(id_max / Conv::MAX_IDENTITY as f64) {
            s if s > 0.0 => s,
            _ => 1.0,
        };
        for ky in 0..c.k {
            for kx in 0..c.k {
                for ci in 0..cin_g {
                    let i = (ci * c.k + ky) * c.k + kx;
                    let v = if Some(i) == id { 0.0 } else { w[i] as f64 / sw };
                    let q = v.round().clamp(-127.0, 127.0) as i8;
                    weights.push(q);
                    rounded[i] = q as f64 * sw;
                }
            }
        }
        if let Some(i) = id {
            let lim = Conv::MAX_IDENTITY as f64;
            let q = (w[i] as f64 / sw).round().clamp(-lim, lim) as i32;
            identity.push(q);
            rounded[i] = q as f64 * sw;
        }
        let shift = match (means, &shares) {
            (Some(m), Some(sh)) => m.shift(c, o, &rounded, sh),
            _ => 0.0,
        };
        let b = ((c.bias[o] as f64 - shift) / (in_scale * sw)).round();
        bias.push(b.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
        reals.push(in_scale * sw / out_scale);
    }
    PerChannel {
        weights,
        bias,
        reals,
        identity,
    }
}

/// `bias[o] - in_zp * sum(w[o])` for OHWI `weights` of `per` values per
/// output channel: the input zero point folded into the bias once, so the
/// fast kernels never subtract it per MAC.
pub(super) fn folded_bias(weights: &[i8], bias: &[i32], per: usize, in_zp: i32) -> Vec<i32> {
    bias.iter()
        .zip(weights.chunks_exact(per))
        .map(|(&b, w)| {
            let wsum: i32 = w.iter().map(|&v| v as i32).sum();
            b.wrapping_sub(in_zp.wrapping_mul(wsum))
        })
        .collect()
}

/// The kernel a conv runs on, with the extra weight layout it reads (all
/// but the reference kernel also read a [`folded_bias`]).
pub(super) enum KernelLayout {
    /// Dense 1x1, stride 1: the tiled pointwise kernel reads OHWI as is.
    Pointwise,
    /// A kernel with a weight layout of its own (the one its
    /// [`ConvVariant`] documents): the weights laid out so, and the variant
    /// reading them, given their span and the folded bias's.
    Relaid(Vec<i8>, fn(Span, Span) -> ConvVariant),
    /// Everything else: the reference conv on OHWI weights.
    Reference,
}

/// OHWI `weights`, `cout` rows of `per` values, as `[per][cout]` (the
/// depthwise `[k][k][c]` and the dense `[k][k][cin][cout]` layouts).
fn transposed(weights: &[i8], cout: usize, per: usize) -> Vec<i8> {
    (0..per)
        .flat_map(|i| (0..cout).map(move |o| weights[o * per + i]))
        .collect()
}

/// Chooses the kernel for `c` and lays out its OHWI int8 `weights` for it.
pub(super) fn choose(c: &ConvW, weights: &[i8]) -> KernelLayout {
    let taps = c.k * c.k;
    if c.k == 1 && c.stride == 1 && c.pad() == 0 && c.groups == 1 {
        return KernelLayout::Pointwise;
    }
    // Depthwise: weights tap-major, channel-minor, `[k][k][c]`.
    if c.groups == c.cin && c.cin == c.cout {
        let weights_hwc = transposed(weights, c.cout, taps);
        return KernelLayout::Relaid(weights_hwc, |weights_hwc, folded_bias| {
            ConvVariant::Depthwise {
                weights_hwc,
                folded_bias,
            }
        });
    }
    // Grouped with a channel multiplier (FastViT's x2 convs): weights
    // `[k][k][m][cin]`.
    let m = if c.groups == c.cin && c.cin > 0 {
        c.cout / c.cin
    } else {
        0
    };
    if m >= 2 && c.cout == m * c.cin {
        let weights_hwc = (0..taps)
            .flat_map(|t| (0..c.cout).map(move |i| (t, i)))
            .map(|(t, i)| {
                let (j, ci) = (i / c.cin, i % c.cin);
                weights[(m * ci + j) * taps + t]
            })
            .collect();
        return KernelLayout::Relaid(weights_hwc, |weights_hwc, folded_bias| {
            ConvVariant::Multiplier {
                weights_hwc,
                folded_bias,
            }
        });
    }
    if c.groups == 1 && c.cin < 16 {
        let per = taps * c.cin;
        let patch = Conv::patch_len_of(per);
        // Dense from few channels with a window of at most
        // `Conv::MAX_PATCH` values (the stem): a 1x1 conv over im2col
        // patches, each OHWI row padded with zeros to `Conv::patch_len`.
        if patch <= Conv::MAX_PATCH {
            let weights_rows = (0..c.cout)
                .flat_map(|o| (0..patch).map(move |i| (o, i)))
                .map(|(o, i)| if i < per { weights[o * per + i] } else { 0 })
                .collect();
            return KernelLayout::Relaid(weights_rows, |weights_rows, folded_bias| {
                ConvVariant::Im2col {
                    weights_rows,
                    folded_bias,
                }
            });
        }
        // A larger window: `[k][k][cin][cout]`.
        let weights_hwio = transposed(weights, c.cout, per);
        return KernelLayout::Relaid(weights_hwio, |weights_hwio, folded_bias| {
            ConvVariant::DenseHwio {
                weights_hwio,
                folded_bias,
            }
        });
    }
    KernelLayout::Reference
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_bias_subtracts_the_zero_point_times_the_weight_sum() {
        let w = [1i8, -2, 3, 127, 127, -127];
        assert_eq!(
            folded_bias(&w, &[10, -5], 3, 4),
            vec![10 - 4 * 2, -5 - 4 * 127]
        );
        // Wraps like the runtime's i32 arithmetic instead of panicking.
        assert_eq!(
            folded_bias(&[127; 4], &[i32::MIN], 4, 127),
            vec![i32::MIN.wrapping_sub(127 * 508)]
        );
    }

    fn dw3(weight: Vec<f32>, stride: usize) -> ConvW {
        ConvW {
            name: "t".into(),
            cin: 2,
            cout: 2,
            k: 3,
            stride,
            groups: 2,
            weight,
            bias: vec![0.5, -0.25],
        }
    }

    #[test]
    fn identity_tap_is_kept_apart_and_the_scale_follows_the_other_taps() {
        // Channel 0: a RepMixer-like identity (1.02) against taps of 0.01;
        // channel 1: an identity so large the bound sets the scale.
        let mut w = vec![0.01f32; 18];
        w[4] = 1.02;
        w[9] = -0.02;
        w[13] = 1000.0;
        let c = dw3(w, 1);
        let q = quantize_per_channel(&c, 0.1, 0.2, true, None);
        let sw0 = 0.01f32 as f64 / 127.0;
        assert_eq!(q.weights[4], 0, "the identity tap leaves the int8 weights");
        assert_eq!(q.weights[0], 127);
        assert_eq!(q.identity[0], (1.02f32 as f64 / sw0).round() as i32);
        assert!((q.reals[0] - 0.1 * sw0 / 0.2).abs() < 1e-15);
        let sw1 = 1000.0 / Conv::MAX_IDENTITY as f64;
        assert_eq!(q.identity[1], Conv::MAX_IDENTITY);
        assert_eq!(q.weights[9], (-0.02f32 as f64 / sw1).round() as i8);
        assert_eq!(q.bias[0], (0.5 / (0.1 * sw0)).round() as i32);
        // Without the split, or without an identity tap (stride 2), the
        // largest tap sets the scale as before.
        let whole = quantize_per_channel(&c, 0.1, 0.2, false, None);
        assert!(whole.identity.is_empty());
        assert_eq!((whole.weights[4], whole.weights[0]), (127, 1));
        let strided = quantize_per_channel(&dw3(c.weight.clone(), 2), 0.1, 0.2, true, None);
        assert!(strided.identity.is_empty());
        assert_eq!(strided.weights, whole.weights);
    }

    #[test]
    fn bias_correction_subtracts_the_rounding_shift() {
        // Without the split, channel 0's identity 1.02 sets the scale and its
        // taps of 0.01 round to 1 step (1.02 / 127 = 0.00803): each of the 8
        // reads 0.00197 too little, times the input mean 4, over a 3x3 input
        // (pad 1: the outer rows and columns read padding at 1 of 3 rows).
        let mut w = vec![0.01f32; 18];
        w[4] = 1.02;
        let c = dw3(w, 1);
        let m = InputMeans {
            mean: vec![4.0, 0.0],
            h: 3,
            w: 3,
        };
        let plain = quantize_per_channel(&c, 0.1, 0.2, false, None);
        let fixed = quantize_per_channel(&c, 0.1, 0.2, false, Some(&m));
        let sw = 1.02f32 as f64 / 127.0;
        let shares = [2.0 / 3.0, 1.0, 2.0 / 3.0];
        let mut shift = 0.0;
        for ky in 0..3 {
            for kx in 0..3 {
                let v = c.weight[ky * 3 + kx] as f64;
                shift += ((v / sw).round() * sw - v) * 4.0 * shares[ky] * shares[kx];
            }
        }
        assert!(shift < -0.01);
        assert_eq!(fixed.bias[0], ((0.5 - shift) / (0.1 * sw)).round() as i32);
        assert_ne!(fixed.bias[0], plain.bias[0]);
        // A zero-mean input leaves the bias alone; the weights never change.
        assert_eq!(fixed.bias[1], plain.bias[1]);
        assert_eq!(fixed.weights, plain.weights);
    }
}
