//! Running the layers whose only kernels are the reference ops (LUT, SE,
//! global pool, fc) and the add.
#![forbid(unsafe_code)]

use crate::arena::{bytes, split, split3, split3_mut};
use crate::model::Model;
use crate::ops;
use crate::schedule::{
    Add, Elem, FullyConnected, GlobalAvgPool, Layer, Lut, SqueezeExcite, TensorRef,
};

impl Model<'_> {
    /// Validates a table layer and maps its input (in place when it may).
    pub(crate) fn run_lut(&self, p: &Lut, arena: &mut [i8]) -> Option<()> {
        let table = self.table(p.table)?;
        if table.is_empty() || p.input.len() != p.output.len() {
            return None;
        }
        if p.input.offset == p.output.offset {
            let data = arena.get_mut(p.output.offset as usize..p.output.end())?;
            ops::lut::lut_in_place(table, data);
        } else {
            let (input, output) = split(arena, p.input, p.output)?;
            ops::lut::lut_reference(table, input, output);
        }
        Some(())
    }

    /// Validates an add layer and runs it (in place over either input when it may).
    pub(crate) fn run_add(&self, p: &Add, arena: &mut [i8]) -> Option<()> {
        let n = p.output.len();
        if p.a.len() != n || p.b.len() != n || p.left_shift > p.max_left_shift() {
            return None;
        }
        let int8 = |t: TensorRef| t.elem == Elem::I8;
        if !(int8(p.a) && int8(p.b) && int8(p.output)) {
            return Self::run_add_wide(p, arena);
        }
        if p.output.offset == p.a.offset {
            let (b, out) = split(arena, p.b, p.output)?;
            crate::kernels::add::add_in_place(p, out, b);
        } else if p.output.offset == p.b.offset {
            let (a, out) = split(arena, p.a, p.output)?;
            crate::kernels::add::add_in_place_b(p, a, out);
        } else {
            // Copy-free three-way split: order the regions by offset.
            let (a, b, out) = split3(arena, p.a, p.b, p.output)?;
            crate::kernels::add::add(p, a, b, out);
        }
        Some(())
    }

    /// [`Model::run_add`] with an int16 operand: the reference add, in place
    /// over an operand of the output's element type.
    fn run_add_wide(p: &Add, arena: &mut [i8]) -> Option<()> {
        // With the reference forms: a build without them is int8 only.
        if !crate::REFERENCE_FORMS {
            return None;
        }
        let o = p.output;
        if o.offset == p.a.offset || o.offset == p.b.offset {
            let (data, other, data_is_b) = if o.offset == p.a.offset {
                (p.a, p.b, false)
            } else {
                (p.b, p.a, true)
            };
            if data.elem != o.elem {
                return None;
            }
            let (other_bytes, data_bytes) = split(arena, other, o)?;
            let (d, e) = ((data_bytes, o.elem), (other_bytes, other.elem));
            ops::add::add_in_place_with(p, d, e, data_is_b);
        } else {
            let (a, b, out) = split3(arena, p.a, p.b, o)?;
            ops::add::add_with(p, (a, p.a.elem), (b, p.b.elem), (out, o.elem));
        }
        Some(())
    }

    /// Validates a squeeze-excite layer and runs it.
    pub(crate) fn run_squeeze_excite(
        &self,
        p: &SqueezeExcite,
        layer: &Layer,
        arena: &mut [i8],
    ) -> Option<()> {
        let (c, r) = (p.input.c as usize, p.reduced as usize);
        if p.input
            != (TensorRef {
                offset: p.input.offset,
                ..p.output
            })
        {
            return None;
        }
        let sigmoid = self.table(p.sigmoid)?;
        if sigmoid.is_empty() {
            return None;
        }
        let fc1 = (p.fc1_weights, p.fc1_bias, p.fc1_requant);
        let fc2 = (p.fc2_weights, p.fc2_bias, p.fc2_requant);
        let args = ops::squeeze_excite::SeArgs {
            pool_requant: self.requant(p.pool_requant, c)?,
            scale_requant: self.requant(p.scale_requant, c)?,
            fc1: self.fc_args(fc1, (c, r), (p.pool_zp, p.hid_zp, true))?,
            fc2: self.fc_args(fc2, (r, c), (p.hid_zp, p.gate_zp, false))?,
            sigmoid,
            lut: self.table(p.lut)?,
        };
        // A byte range, not a TensorRef: 2c + reduced may exceed u16.
        let start = p.scratch as usize;
        let scratch = (start, start + layer.scratch_bytes());
        let (input, scratch, output) = split3_mut(arena, bytes(p.input), scratch, bytes(p.output))?;
        crate::kernels::squeeze_excite::squeeze_excite(p, &args, input, scratch, output);
        Some(())
    }

    /// Validates a global pool layer and runs it.
    pub(crate) fn run_global_avg_pool(&self, p: &GlobalAvgPool, arena: &mut [i8]) -> Option<()> {
        if p.output.len() != p.input.c as usize {
            return None;
        }
        let rq = self.requant(p.requant, p.input.c as usize)?;
        let (input, output) = split(arena, p.input, p.output)?;
        crate::kernels::squeeze_excite::global_avg_pool(p, rq, input, output);
        Some(())
    }

    /// Validates a fully connected layer and runs it.
    pub(crate) fn run_fully_connected(&self, p: &FullyConnected, arena: &mut [i8]) -> Option<()> {
        let (cin, cout) = (p.input.len(), p.output.len());
        let spans = (p.weights, p.bias, p.requant);
        let fc = self.fc_args(spans, (cin, cout), (p.in_zp, p.out_zp, false))?;
        let (input, output) = split(arena, p.input, p.output)?;
        let (input, output) = ((input, p.input.elem), (output, p.output.elem));
        crate::kernels::squeeze_excite::fully_connected(input, &fc, output);
        Some(())
    }
}
