//! Tests of the spike detector on a log's first points, where no window before a point exists.
use super::*;
use crate::detect::test_support::{curve, decaying, run_with, warned, Noise};
use crate::Point;

fn diagnose_spikes(loss: &[Point]) -> crate::report::Diagnosis {
    crate::diagnose(&run_with(loss.to_vec(), None))
}

/// A char RNN's 250 single-batch losses falling from ln 79 toward 2, ±3 %.
fn falling_from_ln_v(first: &[f64]) -> Vec<Point> {
    let mut rng = Noise::new(3);
    let mut loss = curve(250, |i| 2.0 + 2.4 / (1.0 + i as f64 / 8.0));
    for p in loss.iter_mut() {
        p.value *= 1.0 + 0.03 * rng.normal();
    }
    for (p, &v) in loss.iter_mut().zip(first) {
        p.value = v;
    }
    loss
}

#[test]
fn a_blow_up_among_the_first_points_is_a_spike() {
    // Adam at a high LR without warmup (PyTorch corpus run s2-002): 4.40, 4.11, then 74.5 and
    // 272, back to 9.1 and 3.3 by step 6. Those first points have no window before them, yet
    // the jump stands far above every point logged before it and after it.
    let loss = falling_from_ln_v(&[4.40, 4.11, 74.5, 272.2, 9.07, 3.27]);
    let f = detect(&Ctx::new(&run_with(loss, Some(79))));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Spike);
    assert_eq!(f[0].peak_step, Some(3.0)); // the 272 (steps count from 0 here)
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn the_first_steps_wobbling_is_no_spike() {
    // The optimizer finding its feet: 4.40, 4.11, then 5.9 (1.4× the points before it) and
    // back to the fall. Far jumps only are judged where no window before a point exists.
    let loss = falling_from_ln_v(&[4.40, 4.11, 5.9, 4.6, 3.9, 3.5]);
    let f = detect(&Ctx::new(&run_with(loss.clone(), Some(79))));
    assert!(f.is_empty(), "{f:?}");
    assert!(warned(&crate::diagnose(&run_with(loss, Some(79)))).is_empty());
}

#[test]
fn a_jump_in_the_first_steps_of_the_fall_is_a_spike() {
    // A char RNN logged every step: 4.40 at step 5, 5.67 at step 6, back to the fall after;
    // here a jump at the ninth of 500 steps (a baseline needs a few points on each side).
    // Inside the first 2 % of the run, where no spike used to be looked for.
    let mut loss = decaying(500, 0.01, 11);
    loss[8].value *= 1.3;
    let d = diagnose_spikes(&loss);
    let spike = d
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Spike && f.severity >= Severity::Warning)
        .expect("spike");
    assert_eq!(spike.peak_step, Some(loss[8].step));
    // The fall itself, without the jump, has none.
    assert!(warned(&diagnose_spikes(&decaying(500, 0.01, 11))).is_empty());
}

#[test]
fn a_first_point_blown_up_by_orders_of_magnitude_does_not_set_the_spike_scale() {
    // A ReLU RNN logged as 5-step means: the first interval caught one exploding step
    // (8e11), then 2.80 falling to ~1.97; a bad batch at step 90 reads 3.51 (the PyTorch
    // draw's bad batch). Against a start of 8e11 no jump is "large on the run's scale".
    let mut rng = crate::detect::test_support::Noise::new(4);
    let mut points: Vec<Point> = (1..=52)
        .map(|k| Point {
            step: 5.0 * k as f64,
            value: 1.9 + 0.9 * (-(k as f64) / 6.0).exp() + 0.015 * rng.normal(),
        })
        .collect();
    points[0].value = 7.98e11;
    points[17].value = 3.51;
    let run = run_with(points, Some(74));
    let f = detect(&Ctx::new(&run));
    assert!(
        f.iter()
            .any(|f| f.kind == FindingKind::Spike && f.peak_step == Some(90.0)),
        "{f:?}"
    );
}
