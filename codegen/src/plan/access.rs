//! The access models: the reads and writes of each layer's kernel, in the
//! order the kernel performs them (see [`layer_accesses`]).

use runtime::{ConvVariant, Layer};

use super::{Access, Kind, Operands};

pub(super) fn push(
    out: &mut Vec<Access>,
    layer: i64,
    kind: Kind,
    buffer: usize,
    start: usize,
    end: usize,
) {
    if start < end {
        out.push(Access {
            layer,
            kind,
            buffer,
            start,
            end,
        });
    }
}

/// Rows `[lo, hi)` of a tensor with `row` bytes per row, clamped to `h` rows.
fn rows(row: usize, h: usize, lo: i64, hi: i64) -> (usize, usize) {
    let clamp = |r: i64| r.clamp(0, h as i64) as usize * row;
    (clamp(lo), clamp(hi))
}

/// The accesses of layer `index` in the order its kernel performs them
/// (written from the kernels' loop structure in `runtime::ops`, not from the
/// runtime's placement formulas, so [`check`](super::check) is an independent proof):
///
/// * reference kernels read whole inputs while they write the whole output:
///   read inputs, write output, read inputs again;
/// * [`ConvVariant::InPlace`], [`ConvVariant::PointwiseInPlace`],
///   [`ConvVariant::DepthwiseInPlace`] and [`Layer::ConvMlp`] (`p = kernel / 2`): for
///   each row `y`, read input rows `y..=y+p` (row `y` is copied to the ring
///   first), write output row `y`, read rows `y+1..=y+p` again (they are read
///   while row `y` is written);
/// * [`ConvVariant::WidenInPlace`]: for each row `y` (from the last up, or
///   from the first down when the tensors share their last byte), read input
///   row `y` (into the ring), write output row `y`;
/// * [`ConvVariant::WriteBehind`]: for each output row, read its input rows,
///   write the row, read them again; [`ConvVariant::WriteAhead`] likewise,
///   rows from the last up;
/// * [`Layer::Stem`]: for each output row, read the input rows of the
///   intermediate rows computed at that step, then write the row;
/// * scratch is written before and read after everything else.
pub fn layer_accesses(index: i64, layer: &Layer, ops: &Operands, out: &mut Vec<Access>) {
    let size = |t: runtime::TensorRef| t.bytes();
    if let Some(s) = ops.scratch {
        push(out, index, Kind::Write, s, 0, layer.scratch_bytes());
    }
    match layer {
        Layer::Conv(c)
            if matches!(
                c.variant,
                ConvVariant::InPlace { .. }
                    | ConvVariant::PointwiseInPlace { .. }
                    | ConvVariant::DepthwiseInPlace { .. }
            ) =>
        {
            in_place_rows(
                index,
                c.kernel as i64 / 2,
                c.input,
                ops.inputs[0],
                ops.output,
                out,
            );
        }
        Layer::Conv(c) if matches!(c.variant, ConvVariant::WidenInPlace { .. }) => {
            let in_row = c.input.w as usize * c.input.c as usize * c.input.elem.bytes();
            let out_row = c.output.w as usize * c.output.c as usize * c.output.elem.bytes();
            let (h, end_aligned) = match c.variant {
                ConvVariant::WidenInPlace { end_aligned, .. } => (c.input.h as usize, end_aligned),
                _ => (0, false),
            };
            for r in 0..h {
                let y = if end_aligned { r } else { h - 1 - r };
                let (i, o) = (y * in_row, y * out_row);
                push(out, index, Kind::Read, ops.inputs[0], i, i + in_row);
                push(out, index, Kind::Write, ops.output, o, o + out_row);
            }
        }
        Layer::ConvMlp(m) => {
            in_place_rows(
                index,
                m.dw.kernel as i64 / 2,
                m.dw.input,
                ops.inputs[0],
                ops.output,
                out,
            );
        }
        Layer::Conv(c)
            if matches!(
                c.variant,
                ConvVariant::WriteBehind
                    | ConvVariant::WriteAhead
                    | ConvVariant::MultiplierWriteBehind { .. }
            ) =>
        {
            let in_row = c.input.w as usize * c.input.c as usize * c.input.elem.bytes();
            let out_row = c.output.w as usize * c.output.c as usize * c.output.elem.bytes();
            let (s, p, k) = (c.stride as i64, c.pad as i64, c.kernel as i64);
            let oh = c.output.h as i64;
            let ahead = matches!(c.variant, ConvVariant::WriteAhead);
            for r in (0..oh).map(|r| if ahead { oh - 1 - r } else { r }) {
                let (a, b) = rows(in_row, c.input.h as usize, r * s - p, r * s - p + k);
                push(out, index, Kind::Read, ops.inputs[0], a, b);
                let o = r as usize * out_row;
                push(out, index, Kind::Write, ops.output, o, o + out_row);
                push(out, index, Kind::Read, ops.inputs[0], a, b);
            }
        }
        Layer::Stem(st) => {
            let (f, g) = (&st.first, &st.second);
            let in_row = f.input.w as usize * f.input.c as usize;
            let out_row = g.output.w as usize * g.output.c as usize;
            let mid_h = g.input.h as i64;
            let mut done = 0i64;
            for r in 0..g.output.h as i64 {
                // Intermediate rows of output row r's window not computed yet.
                let lo = (r * g.stride as i64 - g.pad as i64)
                    .clamp(0, mid_h)
                    .max(done);
                let hi = (r * g.stride as i64 - g.pad as i64 + g.kernel as i64).clamp(0, mid_h);
                if lo < hi {
                    let (fs, fp, fk) = (f.stride as i64, f.pad as i64, f.kernel as i64);
                    let (a, b) = rows(
                        in_row,
                        f.input.h as usize,
                        lo * fs - fp,
                        (hi - 1) * fs - fp + fk,
                    );
                    push(out, index, Kind::Read, ops.inputs[0], a, b);
                    done = hi;
                }
                let o = r as usize * out_row;
                push(out, index, Kind::Write, ops.output, o, o + out_row);
            }
        }
        _ => {
            let inputs = match layer {
                Layer::Add(a) => vec![(ops.inputs[0], size(a.a)), (ops.inputs[1], size(a.b))],
                _ => vec![(ops.inputs[0], size(layer.input()))],
            };
            for &(b, n) in &inputs {
                push(out, index, Kind::Read, b, 0, n);
            }
            push(out, index, Kind::Write, ops.output, 0, size(layer.output()));
            for &(b, n) in &inputs {
                push(out, index, Kind::Read, b, 0, n);
            }
        }
    }
    if let Some(s) = ops.scratch {
        push(out, index, Kind::Read, s, 0, layer.scratch_bytes());
    }
}

pub(super) fn in_place_rows(
    index: i64,
    p: i64,
    t: runtime::TensorRef,
    input: usize,
    output: usize,
    out: &mut Vec<Access>,
) {
    let row = t.w as usize * t.c as usize * t.elem.bytes();
    let h = t.h as usize;
    for y in 0..h as i64 {
        let (a, b) = rows(row, h, y, y + p + 1);
        push(out, index, Kind::Read, input, a, b);
        let o = y as usize * row;
        push(out, index, Kind::Write, output, o, o + row);
        let (a, b) = rows(row, h, y + 1, y + p + 1);
        push(out, index, Kind::Read, input, a, b);
    }
}

// ------------------------------------------------------------------ planners
