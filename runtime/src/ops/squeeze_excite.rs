//! Squeeze-and-excite. See [`crate::SqueezeExcite`] for the integer contract.

use super::fully_connected::{fully_connected_reference, FcArgs};
use super::global_avg_pool::pool;
use super::RequantView;
use crate::quant::{lut, requantize_i8};
use crate::schedule::SqueezeExcite;
use crate::tensor::Elem;

/// Resolved operands of a [`SqueezeExcite`].
pub struct SeArgs<'a> {
    /// Pool requantization per channel.
    pub pool_requant: RequantView<'a>,
    /// Scale requantization per channel.
    pub scale_requant: RequantView<'a>,
    /// fc1: `c` pooled values (`pool_zp`) to `reduced` hidden ones
    /// (`hid_zp`, ReLU).
    pub fc1: FcArgs<'a>,
    /// fc2: `reduced` hidden values to the `c` gate inputs (`gate_zp`).
    pub fc2: FcArgs<'a>,
    /// Sigmoid table.
    pub sigmoid: &'a [i8],
    /// Activation table applied to the output, or empty.
    pub lut: &'a [i8],
}

/// The squeeze and the gate, shared by the reference and the fast kernel
/// (`kernels::squeeze_excite`), each passing its own pool and fully
/// connected kernel (the same signature): `scratch` split into the pooled
/// values (`c` bytes), the hidden ones (`r`) and the gate (`c`); `pool`
/// fills the pooled values; fc1 (ReLU) and fc2, all int8; the sigmoid
/// table. Returns the gate, or `None` for a short scratch or `c == 0`.
pub(crate) fn squeeze<'s, F>(
    p: &SqueezeExcite,
    a: &SeArgs<'_>,
    scratch: &'s mut [i8],
    pool: impl FnOnce(&mut [i8]),
    fc: F,
) -> Option<&'s mut [i8]>
where
    F: Fn((&[i8], Elem), &FcArgs<'_>, (&mut [i8], Elem)),
{
    let c = p.input.c as usize;
    let r = p.reduced as usize;
    // The executor validated c > 0 and the scratch size; these early
    // returns never happen and keep panics (split, step 0, % 0) out.
    let (pooled, rest) = scratch.split_at_mut_checked(c)?;
    let (hidden, gate) = rest.split_at_mut_checked(r)?;
    let gate = gate.get_mut(..c)?;
    if c == 0 {
        return None;
    }
    pool(pooled);
    let i8s = Elem::I8;
    fc((pooled, i8s), &a.fc1, (hidden, i8s));
    fc((hidden, i8s), &a.fc2, (gate, i8s));
    for g in gate.iter_mut() {
        *g = lut(a.sigmoid, *g);
    }
    Some(gate)
}

/// Reference kernel. `scratch` holds `SqueezeExcite::scratch_bytes` bytes.
pub fn squeeze_excite_reference(
    p: &SqueezeExcite,
    a: &SeArgs<'_>,
    input: &[i8],
    scratch: &mut [i8],
    output: &mut [i8],
) {
    let c = p.input.c as usize;
    let int8 = (Elem::I8, Elem::I8);
    let pool = |pooled: &mut [i8]| pool(input, c, p.in_zp, a.pool_requant, p.pool_zp, pooled, int8);
    let Some(gate) = squeeze(p, a, scratch, pool, fully_connected_reference) else {
        return;
    };
    for (i, (o, &x)) in output.iter_mut().zip(input).enumerate() {
        let ch = i % c;
        let s = gate.get(ch).map_or(0, |&g| g as i32 + 128);
        let rq = a.scale_requant;
        let mut y = requantize_i8(
            (x as i32 - p.in_zp) * s,
            rq.multiplier.get(ch),
            rq.shift.get(ch),
            p.out_zp,
        );
        if !a.lut.is_empty() {
            y = lut(a.lut, y);
        }
        *o = y;
    }
}
