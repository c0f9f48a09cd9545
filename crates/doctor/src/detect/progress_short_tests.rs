//! Tests of progress judgement on short logs and excerpts: what a few points can and cannot say.

use super::*;
use crate::detect::test_support::{at_steps, noisy, run_with, spaced, Noise};
use crate::Point;

fn kinds(run: &crate::Run) -> Vec<FindingKind> {
    detect(&Ctx::new(run), &[]).iter().map(|f| f.kind).collect()
}

#[test]
fn a_short_run_that_never_leaves_its_start_is_stalled_a_short_falling_one_is_not() {
    // An MSE regression logged 25 times: scatter of ±4 % around 944, no trend. With 25
    // points a chance slope of 2.5 standard errors, or a start 7 % high, happens in some
    // draws; most are called stalled.
    let stalled = (41..61)
        .filter(|&seed| {
            kinds(&run_with(noisy(25, 40.0, seed, |_| 944.0), None)) == [FindingKind::Stagnation]
        })
        .count();
    assert!(stalled >= 15, "{stalled} of 20 draws");
    // Sixteen single-batch logs over one epoch, scattering ±20 % around 0.5 with no trend.
    let sixteen = (41..61)
        .filter(|&seed| {
            kinds(&run_with(noisy(16, 0.1, seed, |_| 0.5), None)).contains(&FindingKind::Stagnation)
        })
        .count();
    assert!(sixteen >= 15, "{sixteen} of 20 draws");
    // 25 or 16 points that fall by a third: too short to judge the pace, so nothing is said.
    for seed in 41..61 {
        for n in [16, 25] {
            let falling = noisy(n, 0.02, seed, |i| 0.6 + 0.4 * (-(i as f64) / 6.0).exp());
            assert!(
                kinds(&run_with(falling, None)).is_empty(),
                "seed {seed}, {n} points"
            );
        }
    }
}

#[test]
fn a_noisy_excerpt_of_a_fraction_of_a_doubling_is_healthy_unpaced_a_still_one_is_stalled() {
    // Steps 490-650 of a 4096-token LM still warming up: single-batch losses ±10 % around 5.5.
    // Over 0.4 doublings a healthy pace moves the loss less than that noise hides: nothing in
    // the window is wrong, and the reasons say its pace was not judged.
    let excerpt = |sd: f64, level: f64| {
        let mut rng = Noise::new(12);
        let loss: Vec<Point> = (0..17)
            .map(|i| Point {
                step: 490.0 + 10.0 * i as f64,
                value: level * (1.0 + sd * rng.normal()),
            })
            .collect();
        crate::diagnose(&run_with(loss, Some(4096)))
    };
    let noisy = excerpt(0.08, 5.5);
    assert!(
        crate::detect::test_support::warned(&noisy).is_empty(),
        "{:?}",
        noisy.findings
    );
    assert_eq!(noisy.verdict, crate::report::Verdict::Healthy);
    assert!(
        noisy.reasons[0].contains("pace is not judged"),
        "{:?}",
        noisy.reasons
    );
    // Nor is a rate per doubling quoted from so short a stretch.
    assert!(
        !noisy.reasons.iter().any(|r| r.contains("still improving")),
        "{:?}",
        noisy.reasons
    );
    // The same window standing still to 0.1 % (an MLM loss at 11.17 for 70 steps) could have
    // shown a healthy pace and did not.
    let still = excerpt(0.001, 11.17);
    assert!(
        crate::detect::test_support::warned(&still).contains(&FindingKind::Stagnation)
            || crate::detect::test_support::warned(&still).contains(&FindingKind::Underfitting),
        "{:?}",
        still.findings
    );
}

#[test]
fn a_short_log_with_a_gap_is_judged_whole() {
    // A recommender's summed loss pasted as epochs 1-5, then 79-85: 7.0245 -> 7.0178, a move
    // of 0.1 % in 85 epochs. Its last two doublings (epochs 22-85) hold 7 points, too few for
    // a trend; the whole log holds 12 and shows a run that never left its start.
    let steps = [
        1.0, 2.0, 3.0, 4.0, 5.0, 79.0, 80.0, 81.0, 82.0, 83.0, 84.0, 85.0,
    ];
    let flat = [
        7.0245, 7.021, 7.0205, 7.0201, 7.0199, 7.0185, 7.0185, 7.0183, 7.0182, 7.0182, 7.0179,
        7.0178,
    ];
    let at = |values: &[f64]| -> Vec<Point> {
        steps
            .iter()
            .zip(values)
            .map(|(&step, &value)| Point { step, value })
            .collect()
    };
    assert_eq!(kinds(&run_with(at(&flat), None)), [FindingKind::Stagnation]);
    // The same epochs falling as a healthy run does (a third lower by epoch 5, then slowly):
    // nothing to say.
    let falling: Vec<f64> = steps.iter().map(|s| 2.0 + 5.0 / s.sqrt()).collect();
    assert!(kinds(&run_with(at(&falling), None)).is_empty());
    // An evenly logged 12-point run is untouched by this: its window always had the points.
    let even = spaced(&[7.02; 12], 1.0, 1.0);
    assert_eq!(kinds(&run_with(even, None)), [FindingKind::Stagnation]);
}

#[test]
fn a_noisy_plateau_after_a_drop_with_nothing_to_judge_the_noise_by_is_inconclusive() {
    // Unsloth's 60-step LoRA notebook at batch 2 (a run published with its trainer state):
    // 1.86 → ~1.0 by step 11, then a ±8 % band. With no vocabulary and no validation that band
    // is batch scatter or an LR too high, and nothing tells which: inconclusive, saying what
    // would settle it (it had read as oscillation and stagnation).
    let values = [
        1.855, 2.406, 1.7874, 2.0706, 1.6683, 1.6722, 1.2307, 1.3704, 1.1393, 1.2747, 1.0306,
        1.0229, 0.9927, 1.1591, 0.9734, 0.9646, 1.0753, 1.3015, 1.0298, 0.9257, 0.9567, 0.9776,
        0.9012, 1.0319, 1.1061, 1.1143, 1.0914, 0.9391, 0.8848, 0.9426, 0.9142, 0.9207, 1.0247,
        0.8679, 0.9655, 0.9079, 0.9086, 0.8058, 1.1398, 1.2166, 0.9633, 0.9762, 0.9461, 0.9249,
        0.9752, 0.9711, 0.9255, 1.2337, 0.9318, 1.0852, 1.0638, 0.9727, 0.9993, 1.2449, 0.8583,
        1.0717, 0.926, 0.8454, 0.8974, 0.9575,
    ];
    let loss = spaced(&values, 1.0, 1.0);
    let d = crate::detect::diagnose(&run_with(loss.clone(), None));
    assert_eq!(
        d.verdict,
        crate::report::Verdict::Inconclusive,
        "{}",
        d.to_terminal()
    );
    assert!(
        d.reasons.iter().any(|r| r.contains("validation")),
        "{:?}",
        d.reasons
    );
    // With validation beside it the band is judged as before, not left open.
    let mut with_val = run_with(loss, None);
    with_val.val_loss = spaced(&[1.3, 1.25, 1.24, 1.26, 1.25, 1.27], 10.0, 10.0);
    let d = crate::detect::diagnose(&with_val);
    assert_ne!(
        d.verdict,
        crate::report::Verdict::Inconclusive,
        "{}",
        d.to_terminal()
    );
}

#[test]
fn a_gappy_log_judged_whole_has_no_earlier_pace_to_have_collapsed_from() {
    // Three excerpts of one DGCNN run (epochs 1-6, 32-38, 160-166, from an issue thread),
    // train and test loss converging under a cosine schedule: the last two doublings hold
    // too few points, so the log is judged whole, from its first step, where the "early
    // pace" it was compared with came out as 2.8e8 nats per doubling: a stall.
    let mut run = run_with(
        at_steps(&[
            (1.0, 1.7869),
            (2.0, 1.5500),
            (3.0, 1.5140),
            (4.0, 1.4960),
            (5.0, 1.4858),
            (6.0, 1.4771),
            (32.0, 1.4299),
            (33.0, 1.4305),
            (34.0, 1.4285),
            (35.0, 1.4275),
            (36.0, 1.4269),
            (37.0, 1.4289),
            (38.0, 1.4259),
            (160.0, 1.3815),
            (161.0, 1.3813),
            (162.0, 1.3811),
            (163.0, 1.3802),
            (164.0, 1.3804),
            (165.0, 1.3805),
            (166.0, 1.3795),
        ]),
        None,
    );
    run.val_loss = at_steps(&[
        (1.0, 1.6206),
        (2.0, 1.5171),
        (3.0, 1.4937),
        (4.0, 1.4636),
        (5.0, 1.4647),
        (31.0, 1.4337),
        (32.0, 1.4346),
        (33.0, 1.4324),
        (34.0, 1.4471),
        (35.0, 1.4258),
        (36.0, 1.4445),
        (37.0, 1.4304),
        (38.0, 1.4499),
        (159.0, 1.4071),
        (160.0, 1.4070),
        (161.0, 1.4074),
        (162.0, 1.4087),
        (163.0, 1.4051),
        (164.0, 1.4062),
        (165.0, 1.4033),
        (166.0, 1.4044),
    ]);
    assert!(
        !kinds(&run).contains(&FindingKind::Stagnation),
        "{:?}",
        kinds(&run)
    );
}
