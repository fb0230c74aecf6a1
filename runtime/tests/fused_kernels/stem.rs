//! `Layer::Stem`, overlapping its input, against two `Reference` convs with
//! the intermediate in full.

use proptest::prelude::*;
use runtime::{Error, Layer, Stem};

use crate::harness::*;

#[derive(Clone, Debug)]
pub struct StemCase {
    pub first: Geometry,
    pub second: Geometry,
    pub slack: usize,
    pub seed: u64,
}

pub fn stem_case() -> impl Strategy<Value = StemCase> {
    (
        (2usize..=20, 2usize..=20, 1usize..=3, 1usize..=6),
        (
            prop_oneof![Just(1usize), Just(3), Just(5)],
            1usize..=2,
            0usize..=2,
        ),
        (
            grouping(),
            prop_oneof![Just(1usize), Just(3), Just(5)],
            1usize..=3,
            0usize..=2,
        ),
        prop_oneof![3 => Just(0usize), 1 => 1usize..40],
        any::<u64>(),
    )
        .prop_filter_map(
            "both convs must have outputs",
            |((h, w, cin, mid), (k1, s1, p1), (grp, k2, s2, p2), slack, seed)| {
                let first = Geometry {
                    h,
                    w,
                    cin,
                    cout: mid,
                    groups: 1,
                    k: k1,
                    stride: s1,
                    pad: p1.min(k1 / 2),
                };
                if !first.valid() {
                    return None;
                }
                let (mh, mw) = first.out_hw();
                let (cout, groups) = grp.apply(mid);
                let second = Geometry {
                    h: mh,
                    w: mw,
                    cin: mid,
                    cout,
                    groups,
                    k: k2,
                    stride: s2,
                    pad: p2.min(k2 / 2),
                };
                second.valid().then_some(StemCase {
                    first,
                    second,
                    slack,
                    seed,
                })
            },
        )
}

pub fn stem_property(case: StemCase) -> Result<(), TestCaseError> {
    let mut r = Gen::new(case.seed);
    let a = ConvParams::seeded(case.first, true, true, &mut r);
    let b = ConvParams::seeded(case.second, false, r.next_u64() % 2 == 0, &mut r);
    let (x, expected) = reference_chain(&a, &b, &mut r);

    // Streamed: the output `lead + slack` before the input, the ring after.
    let mut blob = Blob::new();
    let stem = Stem {
        first: a.conv(&mut blob, a.input(0), a.output(0)),
        second: b.conv(&mut blob, a.output(0), b.output(0)),
    };
    let (stem, arena) = check_streamed(
        "streamed stem",
        &blob.0,
        stem,
        &x,
        &expected,
        case.slack,
        &mut r,
    )?;
    assert_eq!(
        Layer::Stem(stem).scratch_bytes(),
        Stem::ring_bytes(case.second.k, case.second.w, case.second.cin)
    );

    let (lead, output) = (stem.write_behind_bytes(), stem.second.output);
    if lead > 0 && case.slack == 0 && lead - 1 < output.len() {
        let mut bad = stem;
        bad.first.input.offset -= 1;
        let r = run(
            &blob.0,
            &[Layer::Stem(bad)],
            bad.first.input,
            output,
            &arena,
            &x,
        );
        prop_assert_eq!(r.map(|_| ()), Err(Error::InvalidLayer { layer: 0 }));
    }
    Ok(())
}

property_tests! {
    stem_matches_two_reference_convs: 300 of stem_case() => stem_property;
}

/// FastViT's stem (3x3/s2/p1 twice) at 256x256 needs its output one input
/// row (768 bytes) before the input, and a 3-row ring of 128x48.
#[test]
fn stem_lead_and_ring_of_fastvit() {
    let conv = |input, output, groups| bare_conv(input, output, (3, 2, 1), groups);
    let mid = tensor(0, 128, 128, 48);
    let stem = Stem {
        first: conv(tensor(0, 256, 256, 3), mid, 1),
        second: conv(mid, tensor(0, 64, 64, 48), 48),
    };
    assert_eq!(stem.write_behind_bytes(), 256 * 3);
    assert_eq!(Layer::Stem(stem).scratch_bytes(), 3 * 128 * 48);
}
