//! Arena planning: every tensor gets an offset such that no two tensors that
//! are live at the same time overlap. Offsets are written into the schedule;
//! the runtime does not plan.
//!
//! Two planners: [`plan_naive`] (each tensor its own region; obviously
//! correct) and [`plan_greedy`] (first fit by decreasing size over lifetime
//! intervals, the way TFLite Micro plans). [`check`] proves a plan valid.

/// Alignment of every tensor in the arena (SIMD loads).
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

fn align(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

fn overlaps_in_time(a: &Buffer, b: &Buffer) -> bool {
    a.first <= b.last && b.first <= a.last
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
    let peak = buffers
        .iter()
        .zip(&offsets)
        .map(|(b, &o)| align(o + b.size))
        .max()
        .unwrap_or(0);
    Plan { offsets, peak }
}

/// Proves a plan: every pair of buffers live at the same layer is disjoint
/// in the arena, and everything fits in `peak`. Returns the first conflict.
pub fn check(buffers: &[Buffer], plan: &Plan) -> Result<(), String> {
    for (i, a) in buffers.iter().enumerate() {
        let (a0, a1) = (plan.offsets[i], plan.offsets[i] + a.size);
        if a1 > plan.peak {
            return Err(format!(
                "{} ends at {a1}, past the arena ({})",
                a.name, plan.peak
            ));
        }
        if a0 % ALIGN != 0 {
            return Err(format!("{} at {a0} is not {ALIGN}-byte aligned", a.name));
        }
        for (j, b) in buffers.iter().enumerate().skip(i + 1) {
            let (b0, b1) = (plan.offsets[j], plan.offsets[j] + b.size);
            if overlaps_in_time(a, b) && a0 < b1 && b0 < a1 && a.size > 0 && b.size > 0 {
                return Err(format!(
                    "{} [{a0}, {a1}) and {} [{b0}, {b1}) are both live at layers {}..={} and overlap",
                    a.name,
                    b.name,
                    a.first.max(b.first),
                    a.last.min(b.last)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
            let g = plan_greedy(&b);
            prop_assert!(check(&b, &g).is_ok(), "{:?}", check(&b, &g));
            let n = plan_naive(&b);
            prop_assert!(check(&b, &n).is_ok());
            prop_assert!(g.peak <= n.peak);
        }
    }

    #[test]
    fn checker_catches_a_clobber() {
        let b = vec![
            Buffer {
                name: "a".into(),
                size: 100,
                first: 0,
                last: 2,
            },
            Buffer {
                name: "b".into(),
                size: 100,
                first: 1,
                last: 3,
            },
        ];
        let bad = Plan {
            offsets: vec![0, 96],
            peak: 208,
        };
        assert!(check(&b, &bad).unwrap_err().contains("overlap"));
    }
}
