//! Tests of the spike detector on a log's first points, where no window before a point exists.
use super::*;
use crate::detect::test_support::{curve, run_with, warned, Noise};

/// A char RNN's 250 single-batch losses falling from ln 79 toward 2, ±3 %.
fn falling_from_ln_v(first: &[f64]) -> Vec<crate::Point> {
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
