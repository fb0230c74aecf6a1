//! Reference vs fast kernels on FastViT-T8 shapes, host build:
//! `cargo bench -p fastvit-runtime --bench kernels`.
//!
//! * a 1x1 conv 96 -> 96 on 32x32 (stage 1's `proj.1`-like layer);
//! * a fused ConvMlp block of stage 0 at 256x256 input (64x64x48, hidden
//!   144, 7x7 depthwise), whose fc1/fc2 hold 86 % of its MACs.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runtime::{Add, Conv, ConvMlp, ConvVariant, Layer, Span, TensorRef};
use std::hint::black_box;
use testkit::{layers_model, tensor as t, Blob, SplitMix64};

/// A conv with random weights; `fast` makes a dense 1x1 one `Pointwise`.
fn conv(
    b: &mut Blob,
    r: &mut SplitMix64,
    input: TensorRef,
    output: TensorRef,
    k: usize,
    groups: usize,
    fast: bool,
) -> Conv {
    let (cin, cout) = (input.c as usize, output.c as usize);
    let w = r.i8s(cout * k * k * cin / groups);
    let weights = b.i8s(&w);
    let in_zp = -7;
    let bias: Vec<i32> = (0..cout as i32).map(|o| o * 31 - 500).collect();
    let folded: Vec<i32> = (0..cout)
        .map(|o| {
            bias[o]
                - in_zp
                    * w[o * cin..(o + 1) * cin]
                        .iter()
                        .map(|&v| v as i32)
                        .sum::<i32>()
        })
        .collect();
    let bias_span = b.i32s(&bias);
    let variant = if fast {
        ConvVariant::Pointwise {
            folded_bias: b.i32s(&folded),
        }
    } else {
        ConvVariant::Reference
    };
    Conv {
        variant,
        input,
        in_zp,
        output,
        out_zp: 3,
        kernel: k as u8,
        stride: 1,
        pad: (k / 2) as u8,
        groups: groups as u16,
        weights,
        bias: bias_span,
        requant: b.requant(&vec![0x5968 << 16; cout], &vec![-10; cout]),
        pad_values: Span::NONE,
        lut: Span::NONE,
        identity: Span::NONE,
    }
}

fn run(c: &mut Criterion, name: &str, blob: &[u8], layer: Layer, macs: u64) {
    let (input, output) = (layer.input(), layer.output());
    let layers = [layer];
    let arena_bytes = input.end().max(output.end()) + layer.scratch_bytes() + 64;
    let model = layers_model(blob, &layers, input, output, arena_bytes);
    let x: Vec<i8> = (0..input.len()).map(|i| (i * 37 % 251) as i8).collect();
    let mut arena = vec![0i8; arena_bytes];
    let mut out = vec![0i8; output.len()];
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(macs));
    g.sample_size(10);
    g.bench_function("run", |bch| {
        bch.iter(|| {
            model
                .run_normalized(&mut arena, black_box(&x), &mut out, |_, _| {})
                .unwrap()
        })
    });
    g.finish();
}

fn pointwise(c: &mut Criterion) {
    for fast in [false, true] {
        let (mut b, mut r) = (Blob::new(), SplitMix64::new(1));
        let (i, o) = (t(0, 32, 32, 96), t(32 * 32 * 96, 32, 32, 96));
        let l = Layer::Conv(conv(&mut b, &mut r, i, o, 1, 1, fast));
        let name = if fast {
            "conv1x1_96/pointwise"
        } else {
            "conv1x1_96/reference"
        };
        run(c, name, &b.0, l, l.macs());
    }
}

fn conv_mlp(c: &mut Criterion) {
    for fast in [false, true] {
        let (mut b, mut r) = (Blob::new(), SplitMix64::new(2));
        let (h, w, ch, hid) = (64, 64, 48, 144);
        let x = t(0, h, w, ch);
        let (d, hidden) = (t(0, h, w, ch), t(0, h, w, hid));
        let m = ConvMlp {
            dw: conv(&mut b, &mut r, x, d, 7, ch, false),
            fc1: conv(&mut b, &mut r, d, hidden, 1, 1, fast),
            fc2: conv(&mut b, &mut r, hidden, d, 1, 1, fast),
            add: Add {
                a: x,
                a_zp: -7,
                a_mult: 1 << 30,
                a_shift: -1,
                b: d,
                b_zp: 3,
                b_mult: 1 << 30,
                b_shift: -1,
                output: x,
                out_zp: 0,
                out_mult: 1 << 30,
                out_shift: -20,
                left_shift: 20,
            },
            scratch: (h * w * ch) as u32,
        };
        let l = Layer::ConvMlp(m);
        let name = if fast {
            "conv_mlp_s0/pointwise"
        } else {
            "conv_mlp_s0/reference"
        };
        run(c, name, &b.0, l, l.macs());
    }
}

criterion_group!(benches, pointwise, conv_mlp);
criterion_main!(benches);
