//! Tests of overfitting on curves with next to no evaluation noise: a boosted model's test
//! error, a full-batch run, where a rise of a fraction of a per cent is still every step real.
use super::*;
use crate::detect::test_support::{curve, noisy, run_with};

/// A CatBoost-like run over 360 iterations: the learn error falls smoothly from 1.17 to 0.65,
/// the test error falls to 0.992 by iteration 58 and then creeps up by `rise` in all, with
/// evaluation noise of sd `noise`.
fn boosted(rise: f64, noise: f64) -> crate::Run {
    let mut run = run_with(
        curve(360, |i| 0.65 + 0.52 * (-(i as f64) / 120.0).exp()),
        None,
    );
    run.val_loss = noisy(360, noise, 5, |i| {
        let x = i as f64;
        if x < 58.0 {
            0.992 + 0.175 * (1.0 - x / 58.0).powi(2)
        } else {
            0.992 + rise * (x - 58.0) / 302.0
        }
    });
    run
}

#[test]
fn a_noise_free_test_error_creeping_up_under_one_per_cent_is_overfitting() {
    // 0.992 → 1.002 (+1.0 %) at noise 0.0002: fifty noise widths, in order.
    let f = overfitting(&Ctx::new(&boosted(0.010, 0.0002)));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!((f[0].peak_step.unwrap() - 58.0).abs() <= 5.0, "{f:?}");
    // The same rise under noise of 0.003 (three noise widths) is a wiggle, not a climb.
    assert!(overfitting(&Ctx::new(&boosted(0.010, 0.003))).is_empty());
}

/// A detector's box loss over 400 epochs: training falls 0.115 → 0.025, validation falls to
/// 0.033 by epoch 130 and then moves by `rise` in all, with evaluation noise of sd 0.0005.
fn box_loss(rise: f64) -> crate::Run {
    let mut run = run_with(
        curve(400, |i| 0.025 + 0.09 * (-(i as f64) / 60.0).exp()),
        None,
    );
    run.val_loss = noisy(400, 0.0005, 11, |i| {
        let x = i as f64;
        if x < 130.0 {
            0.033 + 0.06 * (1.0 - x / 130.0).powi(3)
        } else {
            0.033 + rise * (x - 130.0) / 270.0
        }
    });
    run
}

#[test]
fn a_steady_climb_in_small_units_needs_no_floor_in_the_losss_units() {
    // +0.003 (+9 %, six noise widths) over 270 evaluations in order while training falls: the
    // order is the evidence; 0.01 in the loss's own units would ask a third of the level.
    let f = overfitting(&Ctx::new(&box_loss(0.003)));
    assert_eq!(f.len(), 1, "{f:?}");
    // Validation that stays at its level wanders about it, in no order: not a climb.
    assert!(overfitting(&Ctx::new(&box_loss(0.0))).is_empty());
}
