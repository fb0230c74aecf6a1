//! `ConvVariant::WriteBehind`, overlapping its input at the least lead,
//! against `Reference`.

use proptest::prelude::*;
use runtime::{Conv, ConvVariant};

use crate::harness::*;

#[derive(Clone, Debug)]
pub struct BehindCase {
    pub g: Geometry,
    /// Extra bytes between the least lead and the actual one.
    pub slack: usize,
    pub seed: u64,
}

pub fn behind_case() -> impl Strategy<Value = BehindCase> {
    (
        (1usize..=12, 1usize..=12, 1usize..=5, grouping()),
        (1usize..=7, 1usize..=3, 0usize..=3),
        prop_oneof![3 => Just(0usize), 1 => 1usize..40],
        any::<u64>(),
    )
        .prop_filter_map(
            "conv must have an output",
            |((h, w, cin, grp), (k, stride, pad), slack, seed)| {
                let (cout, groups) = grp.apply(cin);
                let g = Geometry::drawn((h, w), (cin, cout, groups), (k, stride, pad))?;
                Some(BehindCase { g, slack, seed })
            },
        )
}

pub fn behind_property(case: BehindCase) -> Result<(), TestCaseError> {
    let mut r = Gen::new(case.seed);
    let p = ConvParams::seeded(case.g, false, r.next_u64() % 2 == 0, &mut r);
    let c = Apart::random(&p, &mut r);

    // Output `lead + slack` bytes before the input: they overlap unless the
    // output is shorter than that.
    let mut blob = Blob::new();
    let mut conv = p.conv(&mut blob, p.input(0), p.output(0));
    conv.variant = ConvVariant::WriteBehind;
    check_write_behind("write-behind conv", &blob, conv, &c, case.slack, &mut r)
}

property_tests! {
    write_behind_conv_matches_reference: 300 of behind_case() => behind_property;
}

/// FastViT's downsampling geometry (7x7/s2/p3, x2 channels) writes 2 input
/// rows behind its read position.
#[test]
fn write_behind_lead_of_the_fastvit_downsample() {
    let conv = Conv {
        variant: ConvVariant::WriteBehind,
        ..bare_conv(tensor(0, 64, 64, 48), tensor(0, 32, 32, 96), (7, 2, 3), 48)
    };
    assert_eq!(conv.write_behind_bytes(), 2 * 64 * 48);
}
