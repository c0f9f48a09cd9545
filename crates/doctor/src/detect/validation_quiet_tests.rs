//! Tests of overfitting on curves with next to no evaluation noise: a boosted model's test
//! error, a full-batch run, where a rise of a fraction of a per cent is still every step real.
use super::*;
use crate::detect::test_support::{curve, run_with, Noise};

/// A CatBoost-like run over 360 iterations: the learn error falls smoothly from 1.17 to 0.65,
/// the test error falls to 0.992 by iteration 58 and then creeps up by `rise` in all, with
/// evaluation noise of sd `noise`.
fn boosted(rise: f64, noise: f64) -> crate::Run {
    let mut rng = Noise::new(5);
    let mut run = run_with(
        curve(360, |i| 0.65 + 0.52 * (-(i as f64) / 120.0).exp()),
        None,
    );
    run.val_loss = curve(360, |i| {
        let x = i as f64;
        if x < 58.0 {
            0.992 + 0.175 * (1.0 - x / 58.0).powi(2)
        } else {
            0.992 + rise * (x - 58.0) / 302.0
        }
    })
    .into_iter()
    .map(|p| Point {
        value: p.value + noise * rng.normal(),
        ..p
    })
    .collect();
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
