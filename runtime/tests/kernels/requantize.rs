//! The naive requantization model itself, and rounding ties in every kernel.

use crate::add::*;
use crate::conv::*;
use crate::global_avg_pool::*;
use crate::harness::*;
use crate::squeeze_excite::*;

#[test]
fn naive_requantize_model() {
    // 2^30 * 2^(0 - 31) = 0.5: ties round up (towards +infinity).
    let half = 1 << 30;
    assert_eq!(rq(3, half, 0), 2);
    assert_eq!(rq(-3, half, 0), -1);
    assert_eq!(rq(5, half, 0), 3);
    assert_eq!(rq(-5, half, 0), -2);
    assert_eq!(rq(-4, half, 0), -2);
    // Saturation to i32 before the zero point.
    assert_eq!(rq(i64::from(i32::MAX), i32::MAX, 30), i64::from(i32::MAX));
    assert_eq!(rq(i64::from(i32::MIN), i32::MAX, 30), i64::from(i32::MIN));
    let t = Tally::default();
    assert_eq!(rq_i8(1000, half, 1, 0, &t), 127);
    assert_eq!(rq_i8(-1000, half, 1, 0, &t), -128);
    assert_eq!(rq_i8(100, half, 1, 27, &t), 127);
    assert_eq!(rq_i8(100, half, 1, -27, &t), 73);
    assert_eq!((t.total.get(), t.clamped.get()), (4, 2));
    assert_eq!(
        look(&(0..=255).map(|i: u8| i as i8).collect::<Vec<_>>(), -128),
        0
    );
}

/// Exact ties (`x.5`) round up, towards +infinity, in every kernel that
/// requantizes: scale 0.5 (`2^30 * 2^(0 - 31)`) on odd accumulators.
#[test]
fn rounding_ties_go_up_in_every_kernel() {
    const HALF: i32 = 1 << 30;
    let odd = [-7, -5, -3, -1, 1, 3, 5, 7];
    // floor(v / 2 + 1 / 2)
    let expected = [-3i8, -2, -1, 0, 1, 2, 3, 4];

    // Conv: zero weights, the accumulator is the bias.
    let s = ConvKind::Pointwise.shape(2, 1, 3, 8);
    let ties = (odd.to_vec(), vec![HALF; 8], vec![0; 8]);
    let conv = ConvParams::new(s, (0, 0), vec![0; s.weight_len()], ties.clone());
    let got = conv.run(&[1, 2, 3, 4, 5, 6], &Layout::fixed(2, 0)).unwrap();
    assert_same("conv ties", &[expected, expected].concat(), &got);

    // Fully connected: same, through the bias.
    let fc = ConvParams::new(fc_geometry(2, 8), (0, 0), vec![0; 16], ties);
    assert_same(
        "fc ties",
        &expected,
        &fc.run_fc(&[9, -9], &Layout::fixed(2, 0)).unwrap(),
    );

    // Global pool over one pixel: the accumulator is x - in_zp.
    let gap = GapCase {
        shape: (1, 1, 8),
        input: odd.iter().map(|&v| (v + 3) as i8).collect(),
        in_zp: 3,
        out_zp: 0,
        requant: PerChannel {
            mult: vec![HALF; 8],
            shift: vec![0; 8],
        },
        layout: Layout::fixed(2, 0),
    };
    assert_same("global pool ties", &expected, &gap.run().unwrap());

    // Add: a' = rq(a - a_zp) at scale 0.5 ties, b' = 0, out scale 1.
    let add = AddCase {
        a: odd.iter().map(|&v| v as i8).collect(),
        b: vec![0; 8],
        p: AddParams {
            a_zp: 0,
            a_mult: HALF,
            a_shift: 0,
            b_zp: 0,
            b_mult: HALF,
            b_shift: 0,
            out_zp: 0,
            out_mult: HALF,
            out_shift: 1,
            left_shift: 0,
        },
        at: AddMode::Separate.at((1, 1, 8), Layout::fixed(3, 0)),
    };
    assert_same("add ties", &expected, &add.run().unwrap());

    // Squeeze-excite output step: gate s + 128 = 1, so the accumulator is x - in_zp.
    let mut g = Gen::new(0);
    let mut se = SeParams::seeded(1, 1, 8, 1, &mut g);
    se.sigmoid = vec![-127; 256];
    se.in_zp = 0;
    se.out_zp = 0;
    se.scale = PerChannel {
        mult: vec![HALF; 8],
        shift: vec![0; 8],
    };
    let input: Vec<i8> = odd.iter().map(|&v| v as i8).collect();
    assert_same(
        "se ties",
        &expected,
        &se.run(&input, &Layout::fixed(3, 0)).unwrap(),
    );
}
