//! Splitting the arena into the disjoint views a kernel needs (input,
//! output, scratch), by the offsets the schedule names. Every helper slices
//! with `get`/`split_at_mut_checked` only: a range that does not fit is
//! `None`, never a panic (the board no-panic check links these into
//! firmware).
#![forbid(unsafe_code)]

use crate::schedule::{Layer, TensorRef};

/// The byte range `[start, end)` a tensor occupies in the arena.
pub(crate) fn bytes(t: TensorRef) -> (usize, usize) {
    (t.offset as usize, t.end())
}

/// Splits the arena into a read-only input and a disjoint writable output.
///
/// Like every helper here it slices with `get`/`split_at_mut_checked` only:
/// a range that does not fit is `None`, never a panic (the board no-panic
/// check links these into firmware).
pub(crate) fn split(
    arena: &mut [i8],
    input: TensorRef,
    output: TensorRef,
) -> Option<(&[i8], &mut [i8])> {
    let (i0, i1) = bytes(input);
    let (o0, o1) = bytes(output);
    if i0 < o1 && o0 < i1 {
        return None;
    }
    if i1 <= o0 {
        let (lo, hi) = arena.split_at_mut_checked(o0)?;
        Some((lo.get(i0..i1)?, hi.get_mut(..o1.checked_sub(o0)?)?))
    } else {
        let (lo, hi) = arena.split_at_mut_checked(i0)?;
        Some((hi.get(..i1.checked_sub(i0)?)?, lo.get_mut(o0..o1)?))
    }
}

/// The byte range `[start, end)` of a layer's scratch at `start`.
pub(crate) fn scratch_range(start: u32, layer: &Layer) -> Option<(usize, usize)> {
    let start = start as usize;
    Some((start, start.checked_add(layer.scratch_bytes())?))
}

/// Splits the arena into two disjoint mutable byte ranges `[start, end)`.
pub(crate) fn split2_mut(
    arena: &mut [i8],
    a: (usize, usize),
    b: (usize, usize),
) -> Option<(&mut [i8], &mut [i8])> {
    if a.0 > a.1 || b.0 > b.1 {
        return None;
    }
    if a.1 <= b.0 {
        let (lo, hi) = arena.split_at_mut_checked(b.0)?;
        Some((lo.get_mut(a.0..a.1)?, hi.get_mut(..b.1 - b.0)?))
    } else if b.1 <= a.0 {
        let (lo, hi) = arena.split_at_mut_checked(a.0)?;
        Some((hi.get_mut(..a.1 - a.0)?, lo.get_mut(b.0..b.1)?))
    } else {
        None
    }
}

/// Where an output may overlap its input in [`overlapping`]: starting at
/// least the given bytes before the input (a write-behind kernel's
/// contract), or at least the given bytes after the input's start (a
/// write-ahead kernel's).
#[derive(Clone, Copy)]
pub(crate) enum Lead {
    /// The output starts at least this many bytes before the input.
    Behind(usize),
    /// The output starts at least this many bytes after the input.
    Ahead(usize),
}

/// The smallest region of `arena` holding an `input` and an `output` range
/// that are either disjoint or overlap as `lead` allows. Returns the region
/// and the input's and output's offsets in it.
pub(crate) fn overlapping(
    arena: &mut [i8],
    input: (usize, usize),
    output: (usize, usize),
    lead: Lead,
) -> Option<(&mut [i8], usize, usize)> {
    let overlap = input.0 < output.1 && output.0 < input.1;
    let (first, then, lead) = match lead {
        Lead::Behind(n) => (output.0, input.0, n),
        Lead::Ahead(n) => (input.0, output.0, n),
    };
    if overlap && first.checked_add(lead)? > then {
        return None;
    }
    let (lo, hi) = (input.0.min(output.0), input.1.max(output.1));
    let region = arena.get_mut(lo..hi)?;
    Some((region, input.0 - lo, output.0 - lo))
}

/// Splits the arena into two read-only inputs and one writable output, all
/// pairwise disjoint.
pub(crate) fn split3(
    arena: &mut [i8],
    a: TensorRef,
    b: TensorRef,
    out: TensorRef,
) -> Option<(&[i8], &[i8], &mut [i8])> {
    let (a, b, out) = split3_mut(arena, bytes(a), bytes(b), bytes(out))?;
    Some((a, b, out))
}

/// Splits the arena into three pairwise-disjoint mutable byte ranges
/// `[start, end)`.
pub(crate) fn split3_mut(
    arena: &mut [i8],
    a: (usize, usize),
    b: (usize, usize),
    c: (usize, usize),
) -> Option<(&mut [i8], &mut [i8], &mut [i8])> {
    // Order by (start, end) with three compare-swaps, remembering which is
    // which (no slice sort: its total-order check can panic).
    let mut r = [(a.0, a.1, 0u8), (b.0, b.1, 1), (c.0, c.1, 2)];
    if r[1] < r[0] {
        r.swap(0, 1);
    }
    if r[2] < r[1] {
        r.swap(1, 2);
    }
    if r[1] < r[0] {
        r.swap(0, 1);
    }
    let [(s0, e0, i0), (s1, e1, i1), (s2, e2, i2)] = r;
    if e0 > s1 || e1 > s2 {
        return None;
    }
    let (lo, rest) = arena.split_at_mut_checked(s1)?;
    let (mid, hi) = rest.split_at_mut_checked(s2.checked_sub(s1)?)?;
    let x0 = lo.get_mut(s0..e0)?;
    let x1 = mid.get_mut(..e1.checked_sub(s1)?)?;
    let x2 = hi.get_mut(..e2.checked_sub(s2)?)?;
    // Back in argument order: `ik` says which argument sits at sorted place k.
    match (i0, i1, i2) {
        (0, 1, 2) => Some((x0, x1, x2)),
        (0, 2, 1) => Some((x0, x2, x1)),
        (1, 0, 2) => Some((x1, x0, x2)),
        (1, 2, 0) => Some((x2, x0, x1)),
        (2, 0, 1) => Some((x1, x2, x0)),
        (2, 1, 0) => Some((x2, x1, x0)),
        _ => None,
    }
}

/// Saves row `y` of `data` (rows of `row` bytes) into slot `y % slots` of
/// `ring`: the in-place forms keep there the rows that their outputs
/// overwrite before every tap has read them. Nothing if either is short
/// (the executor sized them: never).
#[inline(always)]
pub(crate) fn save_row(ring: &mut [i8], data: &[i8], y: usize, slots: usize, row: usize) {
    // `checked_rem`: no divide-by-zero panic path (the no-panic proof).
    let Some(slot) = y.checked_rem(slots) else {
        return;
    };
    let slot = slot * row;
    if let (Some(dst), Some(src)) = (
        ring.get_mut(slot..slot + row),
        data.get(y * row..(y + 1) * row),
    ) {
        dst.copy_from_slice(src);
    }
}
