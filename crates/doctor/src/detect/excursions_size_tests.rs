//! Tests of how large a climb that never comes back must be to be divergence rather than
//! upward drift: against the descent before it, the noise, and the level where no descent
//! was logged.
use super::*;
use crate::detect::test_support::{curve, run_with, spaced, Noise};
use crate::Point;

#[test]
fn a_small_rise_in_an_excerpt_from_mid_run_is_drift_not_divergence() {
    // Epochs 129-139 of a 200-epoch run: the training loss creeps up 5 %; the log shows
    // neither the start nor the descent, so "above the first loss" means nothing.
    let loss: Vec<Point> = [
        0.8410, 0.8435, 0.8536, 0.8509, 0.8497, 0.8604, 0.8597, 0.8686, 0.8729, 0.8688, 0.8812,
    ]
    .iter()
    .enumerate()
    .map(|(i, &value)| Point {
        step: 129.0 + i as f64,
        value,
    })
    .collect();
    let f = detect(&Ctx::new(&run_with(loss.clone(), None)));
    assert!(f.iter().all(|f| f.kind != FindingKind::Divergence), "{f:?}");
    // The same values logged from the first epoch never fell: a 5 % creep is drift there
    // too; one that climbs by half its level diverges.
    let from_start: Vec<Point> = loss
        .iter()
        .enumerate()
        .map(|(i, p)| Point {
            step: (i + 1) as f64,
            ..*p
        })
        .collect();
    let f = detect(&Ctx::new(&run_with(from_start.clone(), None)));
    assert!(f.iter().all(|f| f.kind != FindingKind::Divergence), "{f:?}");
    let climbs_by_half: Vec<Point> = from_start
        .iter()
        .enumerate()
        .map(|(i, p)| Point {
            value: p.value + 0.045 * i as f64,
            ..*p
        })
        .collect();
    let f = detect(&Ctx::new(&run_with(climbs_by_half, None)));
    assert!(f.iter().any(|f| f.kind == FindingKind::Divergence), "{f:?}");
}

#[test]
fn a_loss_that_never_fell_creeping_up_a_tenth_drifts_and_doubling_diverges() {
    // An MSE that starts at its best and creeps up about 10 % over 20 epochs: with no descent
    // to measure the rise against, "above the initial loss" is just rising at all.
    let creep: Vec<f64> = (0..20)
        .map(|i| 0.176 + 0.0012 * i as f64 + if i % 2 == 0 { 0.002 } else { -0.002 })
        .collect();
    let found = detect(&Ctx::new(&run_with(spaced(&creep, 1.0, 1.0), None)));
    let kinds: Vec<FindingKind> = found.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FindingKind::UpwardDrift), "{kinds:?}");
    assert!(!kinds.contains(&FindingKind::Divergence), "{kinds:?}");
    // A lone first log the rolling median drops, then a climb that doubles it.
    let doubling = [
        6.24, 11.03, 12.62, 13.41, 13.88, 14.19, 14.41, 13.04, 13.34, 13.58, 13.7,
    ];
    let found = detect(&Ctx::new(&run_with(spaced(&doubling, 1.0, 1.0), None)));
    assert!(
        found.iter().any(|f| f.kind == FindingKind::Divergence),
        "{found:?}"
    );
}

#[test]
fn a_climb_that_gives_back_a_quarter_of_the_descent_far_above_the_noise_is_divergence() {
    // A char model falls from 4.1 to 1.6 in 600 steps; then its LR grows ×1.01 a step and the
    // loss climbs ever faster, 0.8 by the end: a third of the descent, dozens of noise widths
    // (sd 0.03). Not the slow drift of about one noise width: the run is coming apart. A climb
    // of 0.45 (a sixth of the descent) stays drift.
    let climb = |height: f64| {
        let mut rng = Noise::new(3);
        let loss: Vec<Point> = curve(1000, |i| {
            let x = i as f64;
            let base = 1.5 + 2.6 * (-x / 120.0).exp();
            let rise = if x > 600.0 {
                height * ((x - 600.0) / 80.0).exp_m1() / (400.0f64 / 80.0).exp_m1()
            } else {
                0.0
            };
            base + rise
        })
        .into_iter()
        .map(|p| Point {
            value: p.value + 0.03 * rng.normal(),
            ..p
        })
        .collect();
        detect(&Ctx::new(&run_with(loss, Some(65))))
            .iter()
            .map(|f| f.kind)
            .collect::<Vec<FindingKind>>()
    };
    let big = climb(0.8);
    assert!(big.contains(&FindingKind::Divergence), "{big:?}");
    let small = climb(0.45);
    assert!(small.contains(&FindingKind::UpwardDrift), "{small:?}");
    assert!(!small.contains(&FindingKind::Divergence), "{small:?}");
}
