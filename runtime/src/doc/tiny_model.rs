// A two-class "model" small enough to read: one fully connected layer on a
// 1x1 RGB image, for the runtime's doc examples (`include!`d by them; not
// compiled into the library). A real model comes from codegen, which emits
// the same kind of data: a weight blob, a schedule and the arena size.
use runtime::{FullyConnected, Layer, Model, Requant, Span, TensorRef};

/// Weight blob: i8 weights `[[1, 0, 0], [0, 1, 1]]` at 0, then an i32 bias
/// and an i16 multiplier (the top half of the Q31 one) per class (little
/// endian, 4-byte aligned), then an i8 shift per class.
static WEIGHTS: [u8; 22] = {
    let mut b = [0u8; 22];
    (b[0], b[4], b[5]) = (1, 1, 1);
    // multiplier 0x4000 (2^30 widened) with shift 1 is a scale of exactly 1.0
    (b[17], b[19], b[20], b[21]) = (0x40, 0x40, 1, 1);
    b
};
const IMAGE: TensorRef = TensorRef::i8(0, 1, 1, 3);
const LOGITS: TensorRef = TensorRef::i8(4, 1, 1, 2);
static LAYERS: [Layer; 1] = [Layer::FullyConnected(FullyConnected {
    input: IMAGE,
    in_zp: -128, // a u8 pixel p is stored as p - 128
    output: LOGITS,
    out_zp: -128,
    weights: Span { offset: 0, len: 6 },
    bias: Span { offset: 8, len: 8 },
    requant: Requant { multiplier: Span { offset: 16, len: 4 }, shift: Span { offset: 20, len: 2 } },
})];
static TINY: Model = Model {
    weights: &WEIGHTS,
    layers: &LAYERS,
    layer_names: &["head.fc"],
    stem_normalized: LAYERS[0],
    arena_bytes: 6,
    input: IMAGE,
    normalized_input_zp: -128,
    output: LOGITS,
    output_zp: -128,
};
