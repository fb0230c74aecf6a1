//! Pass 2, assembly: the lowered layers become a schedule in one memory form
//! (fusing units where their preconditions hold), every buffer gets its
//! lifetime from the kernels' access models, and the arena is planned and
//! proven ([`plan::check`]) before offsets are written into the layers.

use runtime::{Add, Conv, ConvVariant, Layer, TensorRef};

use super::lower::{Lowered, Unit};
use super::{MemoryForm, QParams};
use crate::plan::{self, Access, Alias, Buffer, Kind, Operands, Plan};

/// One layer of an assembled schedule, before offsets are known.
struct Step {
    layer: Layer,
    ops: Operands,
    /// The last lowered layer it covers (its output is the step's output).
    last: usize,
    /// Its name when it fuses ops that are named apart (the stem).
    name: Option<String>,
}

impl Step {
    /// An unnamed step that reads `inputs`, writes `output` and covers the
    /// lowered layers up to `last`.
    fn new(
        layer: Layer,
        inputs: Vec<usize>,
        output: usize,
        scratch: Option<usize>,
        last: usize,
    ) -> Step {
        let ops = Operands {
            inputs,
            output,
            scratch,
        };
        Step {
            layer,
            ops,
            last,
            name: None,
        }
    }
}

/// A schedule in one memory form, with the arena plan it was proven
/// against: what assembly returns and what [`super::Compiled`] carries.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// The layers with arena offsets.
    pub layers: Vec<Layer>,
    /// timm module name per layer (a fused layer is named after its last
    /// op: its output).
    pub names: Vec<String>,
    /// Float observation name of each layer's output (see
    /// [`crate::float::forward_folded`]).
    pub float_names: Vec<String>,
    /// Quantization of each layer's output.
    pub out_q: Vec<QParams>,
    /// `layers[0]` for the normalized entry point.
    pub stem_normalized: Layer,
    /// Planned buffers (tensors, rings, scratch) with their layer lifetimes.
    pub buffers: Vec<Buffer>,
    /// Every kernel's reads and writes, in schedule order: what the plan
    /// is proven against ([`plan::check`]).
    pub accesses: Vec<Access>,
    /// Relative placements of in-place and write-behind outputs.
    pub aliases: Vec<Alias>,
    /// The plan.
    pub plan: Plan,
    /// Input image tensor.
    pub input: TensorRef,
    /// Logits tensor.
    pub output: TensorRef,
}

struct Assembly<'l> {
    lw: &'l Lowered,
    /// Bit `k`: the `k`-th conv with two placements ([`choices`]) takes
    /// its second: a widening 1x1 ends where its input ends (not starts where
    /// it starts), another widening conv writes behind its input (not to a
    /// buffer of its own), a downsampling conv with a wider input writes
    /// ahead of it (not behind).
    second: u32,
    /// Convs with two placements met so far.
    choices: usize,
    buffers: Vec<Buffer>,
    of_tensor: Vec<Option<usize>>,
    aliases: Vec<Alias>,
    steps: Vec<Step>,
}

impl Assembly<'_> {
    fn buffer(&mut self, name: &str, size: usize) -> usize {
        self.buffers.push(Buffer {
            name: name.to_string(),
            size,
            first: 0,
            last: -1,
        });
        self.buffers.len() - 1
    }

    /// The buffer holding tensor `t` (created on first use).
    fn tensor(&mut self, t: usize) -> usize {
        if let Some(b) = self.of_tensor[t] {
            return b;
        }
        let (name, size) = self.lw.tensors[t].clone();
        let b = self.buffer(&name, size);
        self.of_tensor[t] = Some(b);
        b
    }

    fn alias(&mut self, buffer: usize, base: usize, behind: usize) {
        self.aliases.push(Alias {
            buffer,
            base,
            delta: -(plan::align_up(behind) as i64),
        });
    }

    fn scratch(&mut self, pending: usize, bytes: usize) -> usize {
        let name = format!("{} scratch", self.lw.names[pending]);
        self.buffer(&name, bytes)
    }

    fn conv(&self, i: usize) -> Conv {
        match self.lw.pending[i].layer {
            Layer::Conv(c) => c,
            other => unreachable!("layer {i} is a conv, not {other:?}"),
        }
    }

    /// Whether every lowered layer that reads tensor `t` is in `readers` (so
    /// the fused layer made of them may overwrite it).
    fn sole_reader(&self, t: usize, readers: &[usize]) -> bool {
        self.lw
            .pending
            .iter()
            .enumerate()
            .all(|(i, p)| readers.contains(&i) || !p.ins.contains(&t))
            && t != self.lw.logits
    }

    fn single(&mut self, i: usize) {
        let p = &self.lw.pending[i];
        let (ins, out, scratch) = (p.ins.clone(), p.out, p.scratch);
        let inputs = ins.iter().map(|&t| self.tensor(t)).collect();
        let output = self.tensor(out);
        let scratch = scratch.map(|t| self.tensor(t));
        self.steps.push(Step::new(
            self.lw.pending[i].layer,
            inputs,
            output,
            scratch,
            i,
        ));
    }

    /// A step that overwrites its one input (`output` at `input`'s offset)
    /// with the help of `scratch`, covering the lowered layers up to `last`.
    fn in_place(&mut self, layer: Layer, input: usize, output: usize, scratch: usize, last: usize) {
        self.alias(output, input, 0);
        let step = Step::new(layer, vec![input], output, Some(scratch), last);
        self.steps.push(step);
    }

    /// A conv that writes behind its read position, aliased to its input.
    fn write_behind(&mut self, i: usize) {
        let lw = self.lw;
        let mut c = self.conv(i);
        c.variant = match c.variant {
            ConvVariant::Multiplier {
                weights_hwc,
                folded_bias,
            } => ConvVariant::MultiplierWriteBehind {
                weights_hwc,
                folded_bias,
            },
            _ => ConvVariant::WriteBehind,
        };
        let (input, output) = (
            self.tensor(lw.pending[i].ins[0]),
            self.tensor(lw.pending[i].out),
        );
        self.alias(output, input, c.write_behind_bytes());
        self.steps
            .push(Step::new(Layer::Conv(c), vec![input], output, None, i));
    }

    /// Whether the next conv with two placements takes its second.
    fn take_second(&mut self) -> bool {
        let k = self.choices;
        self.choices += 1;
        k < 32 && self.second >> k & 1 == 1
    }

    /// A reference-form conv that writes ahead of its read position,
    /// aliased to its input.
    fn write_ahead(&mut self, i: usize) {
        let lw = self.lw;
        let mut c = self.conv(i);
        c.variant = ConvVariant::WriteAhead;
        let (input, output) = (
            self.tensor(lw.pending[i].ins[0]),
            self.tensor(lw.pending[i].out),
        );
        let ahead = plan::align_up(c.write_ahead_bytes());
        self.aliases.push(Alias {
            buffer: output,
            base: input,
            delta: ahead as i64,
        });
        self.steps
            .push(Step::new(Layer::Conv(c), vec![input], output, None, i));
    }

    /// A widening 1x1 conv run over its input ([`ConvVariant::WidenInPlace`]),
    /// the two sharing their first byte or (`end_aligned`) their last.
    fn widen_in_place(&mut self, i: usize, end_aligned: bool) {
        let lw = self.lw;
        let mut c = self.conv(i);
        let (input, output) = (
            self.tensor(lw.pending[i].ins[0]),
            self.tensor(lw.pending[i].out),
        );
        let bytes = Conv::in_place_scratch_bytes(
            1,
            c.input.w as usize,
            c.input.c as usize * c.input.elem.bytes(),
        );
        let scratch = self.scratch(i, bytes);
        // The runtime checks the shared byte exactly: end-aligned only when
        // the growth is a whole alignment step.
        let grow = c.output.bytes() - c.input.bytes();
        let end_aligned = end_aligned && plan::align_up(grow) == grow;
        c.variant = ConvVariant::WidenInPlace {
            scratch: 0,
            end_aligned,
        };
        self.alias(output, input, if end_aligned { grow } else { 0 });
        let step = Step::new(Layer::Conv(c), vec![input], output, Some(scratch), i);
        self.steps.push(step);
    }

    fn unit(&mut self, u: Unit) {
        let lw = self.lw;
        // A same-shape conv that widens int8 to int16 (a stage's first
        // residual-stream tensor) cannot run in place row by row. A 1x1 one
        // runs over its input, the two sharing their first or last byte
        // (`WidenInPlace`, as `second` says); any
        // other writes behind its read position (a lead of one row more
        // than its input) or to a buffer of its own, as `second` says
        // (the smaller plan wins).
        if let Unit::InPlace(i) = u {
            let c = self.conv(i);
            if c.input.elem != c.output.elem && widen_in_place_ok(&c) {
                let end_aligned = self.take_second();
                if self.sole_reader(lw.pending[i].ins[0], &[i]) {
                    self.widen_in_place(i, end_aligned);
                } else {
                    self.single(i);
                }
                return;
            }
            if c.input.elem != c.output.elem {
                if self.take_second() && self.sole_reader(lw.pending[i].ins[0], &[i]) {
                    self.write_behind(i);
                } else {
                    self.single(i);
                }
                return;
            }
        }
        match u {
            Unit::Single(i) => self.single(i),
            Unit::InPlace(i)
                if self.sole_reader(lw.pending[i].ins[0], &[i]) && in_place_ok(&self.conv(i)) =>
            {
                let mut c = self.conv(i);
                let (input, output) = (
                    self.tensor(lw.pending[i].ins[0]),
                    self.tensor(lw.pending[i].out),
                );
                let bytes = Conv::in_place_scratch_bytes(
                    c.kernel as usize,
                    c.input.w as usize,
                    c.input.c as usize * c.input.elem.bytes(),
                );
                let scratch = self.scratch(i, bytes);
                c.variant = match c.variant {
                    ConvVariant::Pointwise { folded_bias } => ConvVariant::PointwiseInPlace {
                        scratch: 0,
                        folded_bias,
                    },
                    ConvVariant::Depthwise {
                        weights_hwc,
                        folded_bias,
                    } => ConvVariant::DepthwiseInPlace {
                        scratch: 0,
                        weights_hwc,
                        folded_bias,
                    },
                    _ => ConvVariant::InPlace { scratch: 0 },
                };
                self.in_place(Layer::Conv(c), input, output, scratch, i);
            }
            Unit::WriteBehind(i) if self.sole_reader(lw.pending[i].ins[0], &[i]) => {
                if narrowing(&self.conv(i)) && self.take_second() {
                    self.write_ahead(i)
                } else {
                    self.write_behind(i)
                }
            }
            Unit::Stem(a, b) if self.sole_reader(lw.pending[a].out, &[b]) => {
                let reference = |c: Conv| Conv {
                    variant: ConvVariant::Reference,
                    ..c
                };
                let (first, second) = (self.conv(a), self.conv(b));
                // The fast kernels stream together or not at all.
                let fast = matches!(
                    (first.variant, second.variant),
                    (
                        ConvVariant::DenseHwio { .. } | ConvVariant::Im2col { .. },
                        ConvVariant::Depthwise { .. }
                    )
                );
                let stem = if fast {
                    runtime::Stem { first, second }
                } else {
                    runtime::Stem {
                        first: reference(first),
                        second: reference(second),
                    }
                };
                let ring_bytes = Layer::Stem(stem).scratch_bytes();
                let input = self.tensor(lw.pending[a].ins[0]);
                let ring = self.buffer(&format!("{} ring", lw.names[a]), ring_bytes);
                let output = self.tensor(lw.pending[b].out);
                if self.sole_reader(lw.pending[a].ins[0], &[a]) {
                    self.alias(output, input, stem.write_behind_bytes());
                }
                self.steps.push(Step {
                    name: Some(format!("{}+{}", lw.names[a], lw.names[b])),
                    ..Step::new(Layer::Stem(stem), vec![input], output, Some(ring), b)
                });
            }
            Unit::ConvMlp { dw, fc1, fc2, add }
                if self.sole_reader(lw.pending[dw].ins[0], &[dw, add])
                    && lw.pending[add].ins == [lw.pending[dw].ins[0], lw.pending[fc2].out] =>
            {
                let (d, mut f1, mut f2) = (self.conv(dw), self.conv(fc1), self.conv(fc2));
                // fc1 and fc2 run the fast kernel together or not at all.
                let fast = |c: &Conv| matches!(c.variant, ConvVariant::Pointwise { .. });
                let fc_fast = fast(&f1) && fast(&f2);
                if !fc_fast {
                    f1.variant = ConvVariant::Reference;
                    f2.variant = ConvVariant::Reference;
                }
                // dw keeps the fast depthwise kernel only with fast fc1/fc2.
                let d = match d.variant {
                    ConvVariant::Depthwise { .. } if fc_fast => d,
                    _ => Conv {
                        variant: ConvVariant::Reference,
                        ..d
                    },
                };
                let a = match lw.pending[add].layer {
                    Layer::Add(a) => a,
                    other => unreachable!("the block ends in an add, not {other:?}"),
                };
                let virt = |t: TensorRef| TensorRef { offset: 0, ..t };
                let mlp = runtime::ConvMlp {
                    dw: Conv {
                        output: virt(d.output),
                        ..d
                    },
                    fc1: Conv {
                        input: virt(f1.input),
                        output: virt(f1.output),
                        ..f1
                    },
                    fc2: Conv {
                        input: virt(f2.input),
                        output: virt(f2.output),
                        ..f2
                    },
                    add: Add { b: virt(a.b), ..a },
                    scratch: 0,
                };
                let bytes = Layer::ConvMlp(mlp).scratch_bytes();
                let x = self.tensor(lw.pending[dw].ins[0]);
                let output = self.tensor(lw.pending[add].out);
                let scratch = self.scratch(add, bytes);
                self.in_place(Layer::ConvMlp(mlp), x, output, scratch, add);
            }
            // A fusion whose preconditions fail falls back to layer by layer.
            other => {
                for i in other.layers() {
                    self.single(i);
                }
            }
        }
    }
}

/// Whether `c` fits [`ConvVariant::InPlace`]: stride 1, odd kernel, same
/// padding, output shape equal to the input shape.
/// Whether a widening conv can run as [`ConvVariant::WidenInPlace`]: a
/// reference-form 1x1 over the same pixels whose output rows are at least as
/// long as its input rows.
fn widen_in_place_ok(c: &Conv) -> bool {
    let row = |t: runtime::TensorRef| t.w as usize * t.c as usize * t.elem.bytes();
    matches!(c.variant, ConvVariant::Reference)
        && c.kernel == 1
        && c.stride == 1
        && c.pad == 0
        && (c.input.h, c.input.w) == (c.output.h, c.output.w)
        && row(c.output) >= row(c.input)
}

fn in_place_ok(c: &Conv) -> bool {
    let shape = |t: TensorRef| (t.h, t.w, t.c);
    c.stride == 1
        && c.kernel % 2 == 1
        && c.pad == c.kernel / 2
        && shape(c.input) == shape(c.output)
        && c.input.elem == c.output.elem
}

/// Writes a plan's offsets into a layer.
fn place(layer: &mut Layer, ops: &Operands, off: impl Fn(usize) -> u32) {
    let scratch = || off(ops.scratch.expect("layer has scratch"));
    match layer {
        Layer::Conv(c) => {
            c.input.offset = off(ops.inputs[0]);
            c.output.offset = off(ops.output);
            if let ConvVariant::InPlace { scratch: s }
            | ConvVariant::PointwiseInPlace { scratch: s, .. }
            | ConvVariant::DepthwiseInPlace { scratch: s, .. }
            | ConvVariant::WidenInPlace { scratch: s, .. } = &mut c.variant
            {
                *s = scratch();
            }
        }
        Layer::Lut(t) => {
            t.input.offset = off(ops.inputs[0]);
            t.output.offset = off(ops.output);
        }
        Layer::Add(a) => {
            a.a.offset = off(ops.inputs[0]);
            a.b.offset = off(ops.inputs[1]);
            a.output.offset = off(ops.output);
        }
        Layer::SqueezeExcite(s) => {
            s.input.offset = off(ops.inputs[0]);
            s.output.offset = off(ops.output);
            s.scratch = scratch();
        }
        Layer::GlobalAvgPool(g) => {
            g.input.offset = off(ops.inputs[0]);
            g.output.offset = off(ops.output);
        }
        Layer::FullyConnected(fc) => {
            fc.input.offset = off(ops.inputs[0]);
            fc.output.offset = off(ops.output);
        }
        Layer::Stem(s) => {
            s.first.input.offset = off(ops.inputs[0]);
            s.first.output.offset = scratch();
            s.second.input.offset = scratch();
            s.second.output.offset = off(ops.output);
        }
        Layer::ConvMlp(m) => {
            m.dw.input.offset = off(ops.inputs[0]);
            m.add.a.offset = off(ops.inputs[0]);
            m.add.output.offset = off(ops.output);
            m.scratch = scratch();
        }
    }
}

/// Builds the schedule of `lw` in memory form `form`, derives every buffer's
/// lifetime from the kernels' access models, plans the arena and proves the
/// plan with [`plan::check`].
pub(super) fn assemble(lw: &Lowered, form: MemoryForm) -> Schedule {
    assemble_with(lw, form, 0)
}

/// Whether a downsampling conv reads a wider tensor than it writes on a
/// reference form, so it may write ahead of its input.
fn narrowing(c: &Conv) -> bool {
    matches!(c.variant, ConvVariant::Reference) && c.input.elem.bytes() > c.output.elem.bytes()
}

/// The convs of `lw` with two placements, in the order [`assemble_with`]
/// meets them: widening same-shape convs (int8 input, int16 output: a 1x1
/// over its input from its first byte or to its last, any other behind its
/// input or apart) and narrowing downsampling convs.
pub(super) fn choices(lw: &Lowered) -> usize {
    let conv = |i: usize| match lw.pending[i].layer {
        Layer::Conv(c) => Some(c),
        _ => None,
    };
    lw.units
        .iter()
        .filter(|u| match **u {
            Unit::InPlace(i) => conv(i).is_some_and(|c| c.input.elem != c.output.elem),
            Unit::WriteBehind(i) => conv(i).is_some_and(|c| narrowing(&c)),
            _ => false,
        })
        .count()
}

/// [`assemble`] with the convs whose bit is set in `second` (counted as
/// [`choices`] counts them) placed their second way.
pub(super) fn assemble_with(lw: &Lowered, form: MemoryForm, second: u32) -> Schedule {
    let mut a = Assembly {
        lw,
        second,
        choices: 0,
        buffers: Vec::new(),
        of_tensor: vec![None; lw.tensors.len()],
        aliases: Vec::new(),
        steps: Vec::new(),
    };
    for &u in &lw.units {
        match form {
            MemoryForm::LayerByLayer => {
                for i in u.layers() {
                    a.single(i);
                }
            }
            MemoryForm::Fused => a.unit(u),
        }
    }
    let image = a.tensor(lw.image);
    let logits = a.tensor(lw.logits);
    let n = a.steps.len() as i64;
    let mut accesses = vec![Access {
        layer: -1,
        kind: Kind::Write,
        buffer: image,
        start: 0,
        end: lw.input.bytes(),
    }];
    for (i, s) in a.steps.iter().enumerate() {
        plan::layer_accesses(i as i64, &s.layer, &s.ops, &mut accesses);
    }
    accesses.push(Access {
        layer: n,
        kind: Kind::Read,
        buffer: logits,
        start: 0,
        end: lw.output.bytes(),
    });
    let mut buffers = a.buffers;
    plan::set_lifetimes(&mut buffers, &accesses);
    let plan = match form {
        MemoryForm::LayerByLayer => plan::plan_greedy(&buffers),
        MemoryForm::Fused => {
            plan::plan_grouped(&buffers, &a.aliases).unwrap_or_else(|e| panic!("fused plan: {e}"))
        }
    };
    if let Err(e) = plan::check(&buffers, &accesses, &plan) {
        panic!("the {form} arena plan is invalid: {e}");
    }
    let off = |b: usize| plan.offsets[b] as u32;
    let mut layers = Vec::with_capacity(a.steps.len());
    for s in &a.steps {
        let mut layer = s.layer;
        place(&mut layer, &s.ops, off);
        layers.push(layer);
    }
    // The normalized entry point: the same first layer with the plain stem conv
    // (same geometry, so the same accesses and plan).
    let stem_normalized = match layers[0] {
        Layer::Conv(c) => Layer::Conv(Conv {
            input: c.input,
            output: c.output,
            ..lw.stem_normalized
        }),
        Layer::Stem(s) => Layer::Stem(runtime::Stem {
            first: Conv {
                input: s.first.input,
                output: s.first.output,
                ..lw.stem_normalized
            },
            ..s
        }),
        other => unreachable!("the schedule starts with the stem, not {other:?}"),
    };
    Schedule {
        names: a
            .steps
            .iter()
            .map(|s| s.name.clone().unwrap_or_else(|| lw.names[s.last].clone()))
            .collect(),
        float_names: a
            .steps
            .iter()
            .map(|s| lw.float_names[s.last].clone())
            .collect(),
        out_q: a.steps.iter().map(|s| lw.out_q[s.last]).collect(),
        stem_normalized,
        input: TensorRef {
            offset: off(image),
            ..lw.input
        },
        output: TensorRef {
            offset: off(logits),
            ..lw.output
        },
        layers,
        buffers,
        accesses,
        aliases: a.aliases,
        plan,
    }
}
