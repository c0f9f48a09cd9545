//! Tests of the noise-tail judgements: constructed per-batch losses that scatter by factors.
use super::*;
use crate::detect::test_support::{curve, noisy, run_with, warned, Noise};
use crate::report::FindingKind;
use crate::Point;

/// A classifier at its floor logged one small batch per point: the loss scatters by a factor
/// of ~3 either way around 0.01 (log-normal, sd 1.1 on the log scale), after a first fall.
fn scattered_near_zero(n: usize, seed: u64) -> Vec<Point> {
    let mut rng = Noise::new(seed);
    curve(n, |i| 0.6 * (-(i as f64) / 15.0).exp())
        .into_iter()
        .map(|p| Point {
            value: p.value + 0.01 * (1.1 * rng.normal()).exp(),
            ..p
        })
        .collect()
}

fn spikes_found(loss: &[Point]) -> Vec<FindingKind> {
    let d = crate::diagnose(&run_with(loss.to_vec(), None));
    warned(&d)
        .into_iter()
        .filter(|k| *k == FindingKind::Spike)
        .collect()
}

#[test]
fn a_batch_of_the_tail_is_no_spike_where_the_loss_scatters_by_factors() {
    // 0.12 at a level of 0.01: twelve times the level, robust z above 8 on the linear scale
    // (the MAD is set by the many small values), yet under 3 sd on the log scale, where a
    // loss moving by factors of 3 from batch to batch is measured.
    let mut loss = scattered_near_zero(300, 7);
    let level = 0.01_f64;
    loss[200].value = 0.12;
    let around: Vec<f64> = loss[180..220].iter().map(|p| p.value).collect();
    let steps: Vec<f64> = around.windows(2).map(|p| (p[1] / p[0]).ln()).collect();
    let log_noise = robust_sd(&steps) / std::f64::consts::SQRT_2;
    assert!(log_noise > WIDE_LOG_NOISE, "log noise {log_noise}");
    assert!((0.12 / level).ln() < Z_LOG * log_noise);
    let tail_top = around.iter().copied().fold(0.0, f64::max);
    assert!(tail_top * TAIL_REACH > 0.12, "highest neighbour {tail_top}");
    assert!(spikes_found(&loss).is_empty(), "{:?}", spikes_found(&loss));
}

#[test]
fn a_poisoned_batch_still_stands_out_on_the_log_scale() {
    // Random targets on the same run: 0.01 → 4 is 6 nats up on the log scale, far past 3 sd.
    let mut loss = scattered_near_zero(300, 7);
    loss[200].value = 4.0;
    assert_eq!(spikes_found(&loss), vec![FindingKind::Spike]);
}

#[test]
fn a_jump_far_above_every_neighbour_is_a_spike_however_wide_the_log_noise() {
    // Values down to 1e-5 make the log noise huge (a jump of 40× is under 3 sd), but no
    // neighbour of the jump comes near it: 0.09 → 3.5 on a run whose batches top out at 0.7.
    let mut rng = Noise::new(11);
    let mut loss: Vec<Point> = curve(300, |_| 0.0)
        .into_iter()
        .map(|p| Point {
            value: (0.05 * (2.0 * rng.normal()).exp()).min(0.7),
            ..p
        })
        .collect();
    loss[150].value = 3.5;
    let xs: Vec<f64> = loss.iter().map(|p| p.value).collect();
    let around: Vec<f64> = xs[130..150].iter().chain(&xs[151..171]).copied().collect();
    let steps: Vec<f64> = around.windows(2).map(|p| (p[1] / p[0]).ln()).collect();
    let log_noise = robust_sd(&steps) / std::f64::consts::SQRT_2;
    assert!(
        (3.5_f64 / 0.05).ln() < Z_LOG * log_noise,
        "log noise {log_noise}"
    );
    assert_eq!(spikes_found(&loss), vec![FindingKind::Spike]);
}

#[test]
fn on_an_additive_noise_the_log_scale_changes_nothing() {
    // A char model's loss at 2.0 ± 0.02 (1 % noise): the log noise is tiny, the check stays out.
    let mut loss = noisy(300, 0.02, 3, |_| 2.0);
    loss[150].value = 2.5;
    let spike = Spike {
        onset: 150,
        peak: 150,
        end: 150,
        z: 25.0,
        base: 2.0,
        scale: 0.02,
    };
    let xs: Vec<f64> = loss.iter().map(|p| p.value).collect();
    assert!(!within_multiplicative_noise(&xs, &spike));
    assert_eq!(spikes_found(&loss), vec![FindingKind::Spike]);
}
