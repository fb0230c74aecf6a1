//! Arena planning: every buffer gets an offset such that no byte a later
//! layer still reads is overwritten before that read. Offsets are written
//! into the schedule; the runtime does not plan.
//!
//! The buffer model has two levels:
//! * [`Buffer`]: a byte size and a lifetime in whole layers (first writer to
//!   last reader), which the planners use;
//! * [`Access`]: the ordered reads and writes each layer's kernel performs,
//!   at the granularity at which the kernel orders them (whole tensors for
//!   the reference kernels, rows for the in-place and streamed forms; see
//!   [`layer_accesses`]). This is what makes partial lifetimes precise: an
//!   in-place conv's output row `y` may take input row `y`'s bytes because
//!   the kernel reads that row before it writes there.
//!
//! Planners: [`plan_naive`] (each buffer its own region; obviously correct),
//! [`plan_greedy`] (first fit by decreasing size over lifetime intervals, the
//! way TFLite Micro plans; the layer-by-layer form) and [`plan_grouped`]
//! (the same first fit over rigid groups of buffers whose relative offsets
//! are fixed by [`Alias`]es: in-place and write-behind outputs). [`check`]
//! proves any plan valid by replaying every access byte by byte.

mod access;

pub use access::layer_accesses;
use access::push;

/// Alignment of every buffer in the arena (SIMD loads).
pub const ALIGN: usize = 16;

/// A buffer to place: `size` bytes, live from layer `first` to layer `last`
/// inclusive (layer -1 is "before the schedule": the input image).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Buffer {
    /// Name for reports.
    pub name: String,
    /// Bytes.
    pub size: usize,
    /// First layer at which it is live (-1: written before layer 0).
    pub first: i64,
    /// Last layer at which it is live.
    pub last: i64,
}

/// A placement of every buffer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// Offset per buffer, in the order given.
    pub offsets: Vec<usize>,
    /// Arena bytes.
    pub peak: usize,
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The kernel reads these bytes (they must hold the buffer's values).
    Read,
    /// The kernel writes these bytes (nothing still to be read may be there).
    Write,
}

/// One step of a kernel's memory traffic: bytes `[start, end)` of `buffer`,
/// at layer `layer` (-1: the caller writes the input before the schedule;
/// `layers.len()`: the caller reads the logits after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    /// Layer index.
    pub layer: i64,
    /// Read or write.
    pub kind: Kind,
    /// Buffer index.
    pub buffer: usize,
    /// First byte (in the buffer).
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A placement constraint: `offset[buffer] = offset[base] + delta` (an
/// in-place output has delta 0, a write-behind output a negative delta).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Alias {
    /// The constrained buffer.
    pub buffer: usize,
    /// The buffer it is placed relative to.
    pub base: usize,
    /// Byte distance (a multiple of [`ALIGN`]).
    pub delta: i64,
}

/// Buffer operands of one scheduled layer, in the layer's operand order
/// (`Add`: `a`, `b`). `scratch` is the layer's scratch (for a `Stem`, the
/// ring).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operands {
    /// Buffers read.
    pub inputs: Vec<usize>,
    /// Buffer written.
    pub output: usize,
    /// Scratch buffer, if the kernel has one.
    pub scratch: Option<usize>,
}

impl Plan {
    /// The plan of buffers placed at `offsets`: its peak is the highest
    /// aligned end.
    fn placed(buffers: &[Buffer], offsets: Vec<usize>) -> Plan {
        let peak = buffers
            .iter()
            .zip(&offsets)
            .map(|(b, &o)| align(o + b.size))
            .max()
            .unwrap_or(0);
        Plan { offsets, peak }
    }
}

fn align(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// `x` rounded up to a multiple of [`ALIGN`] (alias distances).
pub fn align_up(x: usize) -> usize {
    align(x)
}

fn overlaps_in_time(a: &Buffer, b: &Buffer) -> bool {
    a.first <= b.last && b.first <= a.last
}

/// Sets each buffer's `first`/`last` to the first and last layer that
/// accesses it.
pub fn set_lifetimes(buffers: &mut [Buffer], accesses: &[Access]) {
    for b in buffers.iter_mut() {
        b.first = i64::MAX;
        b.last = i64::MIN;
    }
    for a in accesses {
        let b = &mut buffers[a.buffer];
        b.first = b.first.min(a.layer);
        b.last = b.last.max(a.layer);
    }
    for b in buffers.iter_mut() {
        if b.first > b.last {
            (b.first, b.last) = (0, -1);
        }
    }
}

/// Each buffer in its own region, one after the other.
pub fn plan_naive(buffers: &[Buffer]) -> Plan {
    let mut offsets = Vec::with_capacity(buffers.len());
    let mut end = 0;
    for b in buffers {
        offsets.push(end);
        end = align(end + b.size);
    }
    Plan { offsets, peak: end }
}

/// First fit, largest buffers first (ties by first use, then index).
pub fn plan_greedy(buffers: &[Buffer]) -> Plan {
    let mut order: Vec<usize> = (0..buffers.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(buffers[i].size), buffers[i].first, i));
    let mut offsets = vec![usize::MAX; buffers.len()];
    let mut placed: Vec<usize> = Vec::new();
    for &i in &order {
        let b = &buffers[i];
        // Regions of placed, time-overlapping buffers, sorted by offset.
        let mut busy: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&j| overlaps_in_time(b, &buffers[j]))
            .map(|&j| (offsets[j], offsets[j] + buffers[j].size))
            .collect();
        busy.sort_unstable();
        let mut at = 0;
        for (s, e) in busy {
            if at + b.size <= s {
                break;
            }
            at = at.max(align(e));
        }
        offsets[i] = at;
        placed.push(i);
    }
    Plan::placed(buffers, offsets)
}

/// Groups of buffers tied together by aliases, each member with its offset
/// relative to the group's lowest member.
fn groups(n: usize, aliases: &[Alias]) -> Result<Vec<Vec<(usize, i64)>>, String> {
    let mut rel: Vec<Option<i64>> = vec![None; n];
    let mut group_of = vec![usize::MAX; n];
    let mut out: Vec<Vec<(usize, i64)>> = Vec::new();
    for root in 0..n {
        if rel[root].is_some() {
            continue;
        }
        rel[root] = Some(0);
        group_of[root] = out.len();
        let mut members = vec![root];
        let mut i = 0;
        while i < members.len() {
            let m = members[i];
            for a in aliases {
                let (other, d) = if a.base == m {
                    (a.buffer, rel[m].unwrap() + a.delta)
                } else if a.buffer == m {
                    (a.base, rel[m].unwrap() - a.delta)
                } else {
                    continue;
                };
                match rel[other] {
                    None => {
                        rel[other] = Some(d);
                        group_of[other] = out.len();
                        members.push(other);
                    }
                    Some(r) if r != d => {
                        return Err(format!(
                            "aliases place buffer {other} at two different offsets ({r} and {d})"
                        ))
                    }
                    Some(_) => {}
                }
            }
            i += 1;
        }
        let min = members.iter().map(|&m| rel[m].unwrap()).min().unwrap_or(0);
        out.push(
            members
                .iter()
                .map(|&m| (m, rel[m].unwrap() - min))
                .collect(),
        );
    }
    Ok(out)
}

/// First fit over rigid groups: buffers tied by [`Alias`]es move together.
/// Groups go largest extent first (ties by first use); each takes the lowest
/// aligned offset at which none of its members overlaps a placed buffer of
/// another group that is live at the same layer. Overlaps *inside* a group
/// are the point of aliasing; [`check`] proves them at access granularity.
pub fn plan_grouped(buffers: &[Buffer], aliases: &[Alias]) -> Result<Plan, String> {
    for a in aliases {
        if a.delta.rem_euclid(ALIGN as i64) != 0 {
            return Err(format!(
                "alias of {} to {} by {} bytes is not {ALIGN}-byte aligned",
                buffers[a.buffer].name, buffers[a.base].name, a.delta
            ));
        }
    }
    let groups = groups(buffers.len(), aliases)?;
    let extent = |g: &Vec<(usize, i64)>| {
        g.iter()
            .map(|&(m, r)| r as usize + buffers[m].size)
            .max()
            .unwrap_or(0)
    };
    let first = |g: &Vec<(usize, i64)>| g.iter().map(|&(m, _)| buffers[m].first).min();
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| (std::cmp::Reverse(extent(&groups[g])), first(&groups[g]), g));
    let mut offsets = vec![usize::MAX; buffers.len()];
    let mut placed: Vec<usize> = Vec::new();
    for &g in &order {
        let members = &groups[g];
        // Every (member, placed buffer) pair that is live at a common layer.
        let mut conflicts: Vec<(i64, usize, usize)> = Vec::new();
        for &(m, r) in members {
            for &q in &placed {
                if buffers[m].size > 0
                    && buffers[q].size > 0
                    && overlaps_in_time(&buffers[m], &buffers[q])
                {
                    conflicts.push((r, buffers[m].size, q));
                }
            }
        }
        let fits = |o: usize| {
            conflicts.iter().all(|&(r, size, q)| {
                let (s, e) = (o + r as usize, o + r as usize + size);
                e <= offsets[q] || offsets[q] + buffers[q].size <= s
            })
        };
        let mut candidates: Vec<usize> = vec![0];
        for &(r, _, q) in &conflicts {
            let end = offsets[q] + buffers[q].size;
            if end as i64 >= r {
                candidates.push(align(end - r as usize));
            }
        }
        candidates.sort_unstable();
        candidates.dedup();
        let at = candidates
            .into_iter()
            .find(|&o| fits(o))
            .expect("past every placed buffer always fits");
        for &(m, r) in members {
            offsets[m] = at + r as usize;
        }
        placed.extend(members.iter().map(|&(m, _)| m));
    }
    Ok(Plan::placed(buffers, offsets))
}

// ------------------------------------------------------------------- checker

/// Proves a plan by replaying every access in order, byte by byte: each
/// arena byte remembers which buffer byte it holds. A write may only replace
/// a byte that is never read again; a read must find exactly the buffer byte
/// it asks for (not clobbered, not garbage). Also checks alignment and that
/// every buffer fits in `peak`. Returns the first violation.
pub fn check(buffers: &[Buffer], accesses: &[Access], plan: &Plan) -> Result<(), String> {
    for (i, b) in buffers.iter().enumerate() {
        let (a0, a1) = (plan.offsets[i], plan.offsets[i] + b.size);
        if a1 > plan.peak {
            return Err(format!(
                "{} ends at {a1}, past the arena ({})",
                b.name, plan.peak
            ));
        }
        if a0 % ALIGN != 0 {
            return Err(format!("{} at {a0} is not {ALIGN}-byte aligned", b.name));
        }
    }
    // Event (1-based) of the last read of every buffer byte; 0: never read.
    let mut last_read: Vec<Vec<u32>> = buffers.iter().map(|b| vec![0; b.size]).collect();
    for (e, a) in accesses.iter().enumerate() {
        if a.end > buffers[a.buffer].size || a.start > a.end {
            return Err(format!(
                "layer {} accesses bytes {}..{} of {} ({} bytes)",
                a.layer, a.start, a.end, buffers[a.buffer].name, buffers[a.buffer].size
            ));
        }
        if a.kind == Kind::Read {
            last_read[a.buffer][a.start..a.end].fill(e as u32 + 1);
        }
    }
    const EMPTY: u32 = u32::MAX;
    let mut owner = vec![EMPTY; plan.peak];
    let mut index = vec![0u32; plan.peak];
    for (e, a) in accesses.iter().enumerate() {
        let base = plan.offsets[a.buffer];
        let name = &buffers[a.buffer].name;
        for i in a.start..a.end {
            let pos = base + i;
            let (ob, oi) = (owner[pos], index[pos] as usize);
            match a.kind {
                Kind::Write => {
                    let same = ob as usize == a.buffer && oi == i;
                    if ob != EMPTY && !same && last_read[ob as usize][oi] > e as u32 + 1 {
                        let later = accesses[last_read[ob as usize][oi] as usize - 1].layer;
                        return Err(format!(
                            "layer {} writes byte {i} of {name} at arena {pos}, clobbering byte {oi} of {} that layer {later} still reads",
                            a.layer, buffers[ob as usize].name
                        ));
                    }
                    owner[pos] = a.buffer as u32;
                    index[pos] = i as u32;
                }
                Kind::Read => {
                    if ob as usize != a.buffer || oi != i {
                        let what = if ob == EMPTY {
                            "never written".to_string()
                        } else {
                            format!("holding byte {oi} of {}", buffers[ob as usize].name)
                        };
                        return Err(format!(
                            "layer {} reads byte {i} of {name} at arena {pos}, which is {what}",
                            a.layer
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Accesses that give each buffer exactly its interval lifetime at layer
/// granularity (written at `first`, read through `last`, all reads of a
/// layer around its writes): what [`plan_greedy`] assumes.
pub fn interval_accesses(buffers: &[Buffer]) -> Vec<Access> {
    let (lo, hi) = (
        buffers.iter().map(|b| b.first).min().unwrap_or(0),
        buffers.iter().map(|b| b.last).max().unwrap_or(-1),
    );
    let mut out = Vec::new();
    for layer in lo..=hi {
        let live = |b: &&Buffer| b.first < layer && layer <= b.last;
        for (i, _) in buffers.iter().enumerate().filter(|(_, b)| live(b)) {
            push(&mut out, layer, Kind::Read, i, 0, buffers[i].size);
        }
        for (i, b) in buffers.iter().enumerate() {
            if b.first == layer {
                push(&mut out, layer, Kind::Write, i, 0, b.size);
            }
        }
        for (i, b) in buffers.iter().enumerate() {
            if b.first <= layer && layer <= b.last {
                push(&mut out, layer, Kind::Read, i, 0, b.size);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::access::in_place_rows;
    use super::*;
    use proptest::prelude::*;

    fn buffers() -> impl Strategy<Value = Vec<Buffer>> {
        prop::collection::vec((1usize..5000, -1i64..20, 0i64..10), 1..40).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (size, first, len))| Buffer {
                    name: format!("t{i}"),
                    size,
                    first,
                    last: first + len,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn greedy_plans_are_valid_and_no_worse_than_naive(b in buffers()) {
            let acc = interval_accesses(&b);
            let g = plan_greedy(&b);
            prop_assert!(check(&b, &acc, &g).is_ok(), "{:?}", check(&b, &acc, &g));
            let n = plan_naive(&b);
            prop_assert!(check(&b, &acc, &n).is_ok());
            prop_assert!(g.peak <= n.peak);
            // Without aliases the grouped planner is an interval planner too.
            let gg = plan_grouped(&b, &[]).unwrap();
            prop_assert!(check(&b, &acc, &gg).is_ok(), "{:?}", check(&b, &acc, &gg));
        }
    }

    fn buf(name: &str, size: usize, first: i64, last: i64) -> Buffer {
        Buffer {
            name: name.into(),
            size,
            first,
            last,
        }
    }

    #[test]
    fn checker_catches_a_clobber() {
        let b = vec![buf("a", 100, 0, 2), buf("b", 100, 1, 3)];
        let bad = Plan {
            offsets: vec![0, 96],
            peak: 208,
        };
        let err = check(&b, &interval_accesses(&b), &bad).unwrap_err();
        assert!(err.contains("clobbering"), "{err}");
    }

    #[test]
    fn checker_catches_a_read_of_unwritten_bytes() {
        let b = vec![buf("a", 32, 0, 0)];
        let acc = vec![Access {
            layer: 0,
            kind: Kind::Read,
            buffer: 0,
            start: 0,
            end: 32,
        }];
        let p = Plan {
            offsets: vec![0],
            peak: 32,
        };
        assert!(check(&b, &acc, &p).unwrap_err().contains("never written"));
    }

    /// A row-streamed in-place layer: out row y may take in row y's bytes,
    /// but not row y+1's (still read by the kernel for row y).
    #[test]
    fn checker_proves_in_place_rows_and_rejects_a_one_row_slip() {
        let (row, h) = (32usize, 8usize);
        let mut b = vec![buf("x", row * h, -1, 0), buf("y", row * h, 0, 1)];
        let mut acc = vec![Access {
            layer: -1,
            kind: Kind::Write,
            buffer: 0,
            start: 0,
            end: row * h,
        }];
        let t = runtime::TensorRef::i8(0, h as u16, 4, 8);
        in_place_rows(0, 1, t, 0, 1, &mut acc);
        acc.push(Access {
            layer: 1,
            kind: Kind::Read,
            buffer: 1,
            start: 0,
            end: row * h,
        });
        set_lifetimes(&mut b, &acc);
        let same = plan_grouped(
            &b,
            &[Alias {
                buffer: 1,
                base: 0,
                delta: 0,
            }],
        )
        .unwrap();
        assert_eq!(same.offsets[0], same.offsets[1]);
        assert_eq!(same.peak, row * h);
        check(&b, &acc, &same).unwrap();
        // Output one row after the input: out row y lands on in row y+1.
        let slip = Plan {
            offsets: vec![0, row],
            peak: row * (h + 1),
        };
        assert!(check(&b, &acc, &slip).unwrap_err().contains("clobbering"));
        // Output one row before the input is fine (write behind).
        let behind = Plan {
            offsets: vec![row, 0],
            peak: row * (h + 1),
        };
        check(&b, &acc, &behind).unwrap();
    }

    #[test]
    fn grouped_planner_keeps_aliases_and_fills_gaps() {
        // A chain a -> b (b 64 bytes behind a), and a scratch live with a.
        let b = vec![buf("a", 256, 0, 1), buf("b", 256, 1, 2), buf("s", 48, 0, 0)];
        let p = plan_grouped(
            &b,
            &[Alias {
                buffer: 1,
                base: 0,
                delta: -64,
            }],
        )
        .unwrap();
        assert_eq!(p.offsets[1] + 64, p.offsets[0]);
        assert_eq!(p.offsets[1], 0);
        // The scratch fits in the 64 bytes before `a` (b is not live at 0).
        assert_eq!(p.offsets[2], 0);
        assert_eq!(p.peak, 320);
    }

    #[test]
    fn inconsistent_aliases_are_an_error() {
        let b = vec![buf("a", 16, 0, 0), buf("b", 16, 0, 0)];
        let al = |d| Alias {
            buffer: 1,
            base: 0,
            delta: d,
        };
        assert!(plan_grouped(&b, &[al(16), al(32)]).is_err());
        assert!(plan_grouped(&b, &[al(8)]).is_err());
    }
}
