//! Whole-diagnosis near-misses: runs that look odd but are healthy.
use super::*;
use crate::detect::test_support::{curve, per_epoch, run_with, spaced, warned, Noise};
use crate::Point;

fn noisy(points: Vec<Point>, sd: f64, seed: u64) -> Vec<Point> {
    let mut rng = Noise::new(seed);
    points
        .into_iter()
        .map(|p| Point {
            value: p.value + sd * rng.normal(),
            ..p
        })
        .collect()
}

fn assert_healthy(run: &Run) {
    let d = diagnose(run);
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
    assert!(!d.reasons.is_empty());
}

#[test]
fn batch_four_noise_with_a_steady_log_step_decline_is_healthy() {
    let loss = curve(5000, |i| 1.3 + 2.9 / (1.0 + i as f64 / 30.0).powf(0.4));
    let mut run = run_with(noisy(loss, 0.3, 11), Some(65));
    run.lr = curve(5000, |_| 1e-3);
    assert_healthy(&run);
}

#[test]
fn cosine_with_warm_restarts_is_healthy_and_the_restarts_explained() {
    let (n, cycle) = (2000usize, 500usize);
    let lr = |i: usize| {
        1e-3 * (0.02
            + 0.98 * 0.5 * (1.0 + ((i % cycle) as f64 / cycle as f64 * std::f64::consts::PI).cos()))
    };
    let loss = curve(n, |i| {
        let k = i % cycle;
        let bump = if i >= cycle {
            0.35 * (-(k as f64) / 40.0).exp()
        } else {
            0.0
        };
        1.4 + 2.7 / (1.0 + i as f64 / 25.0).powf(0.5) + bump
    });
    let mut run = run_with(noisy(loss, 0.03, 12), Some(65));
    run.lr = curve(n, lr);
    let d = diagnose(&run);
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
    assert!(
        d.findings.iter().all(|f| f.severity == Severity::Info),
        "{}",
        d.to_terminal()
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r.contains("warm restarts at steps 500, 1000, 1500")),
        "{:?}",
        d.reasons
    );
}

#[test]
fn a_step_decay_schedule_is_healthy() {
    let n = 3000usize;
    let lr = |i: usize| 1e-2 * 0.1f64.powi((i / 1000) as i32);
    let loss = curve(n, |i| {
        let drop = 0.25 * (i / 1000) as f64;
        1.6 + 2.5 / (1.0 + i as f64 / 20.0).powf(0.5) - drop
    });
    let mut run = run_with(noisy(loss, 0.04, 13), Some(65));
    run.lr = curve(n, lr);
    assert_healthy(&run);
}

#[test]
fn a_short_healthy_run_of_fifty_points_is_healthy() {
    let loss = curve(50, |i| 2.3 + 1.9 * (-(i as f64) / 12.0).exp());
    assert_healthy(&run_with(noisy(loss, 0.03, 14), Some(65)));
}

#[test]
fn irregular_steps_with_gaps_are_fine() {
    let loss: Vec<Point> = curve(3000, |i| 1.4 + 2.7 / (1.0 + i as f64 / 25.0).powf(0.5))
        .into_iter()
        .filter(|p| !(800.0..1400.0).contains(&p.step) && (p.step as usize) % 3 != 1)
        .collect();
    assert_healthy(&run_with(noisy(loss, 0.03, 15), Some(65)));
}

#[test]
fn an_empty_run_is_inconclusive_and_says_why() {
    let d = diagnose(&Run::default());
    assert_eq!(d.verdict, Verdict::Inconclusive);
    assert!(d.reasons[0].contains("too few"), "{:?}", d.reasons);
    let json: serde_json::Value = serde_json::from_str(&d.to_json()).unwrap();
    assert_eq!(json["verdict"], "inconclusive");
}

#[test]
fn one_spike_is_one_finding() {
    // A single batch sends the loss to 50.3; the trend bins see a short bump too.
    let mut loss = noisy(
        curve(2000, |i| 1.4 + 2.7 / (1.0 + i as f64 / 25.0).powf(0.5)),
        0.02,
        16,
    );
    for (k, v) in [50.3, 30.0, 12.0, 5.0].into_iter().enumerate() {
        loss[1000 + k].value = v;
    }
    let d = diagnose(&run_with(loss, Some(65)));
    assert_eq!(warned(&d), [FindingKind::Spike], "{}", d.to_terminal());
}

/// Means logged every 10 steps, validation at each, the LR `base(i)` but `peak` at point `at`.
fn epoch_means(
    train: &[f64],
    val: &[f64],
    base: impl Fn(usize) -> f64,
    at: usize,
    peak: f64,
) -> Run {
    let point = |i: usize, v: f64| Point {
        step: 10.0 * (i + 1) as f64,
        value: v,
    };
    let series = |xs: &[f64]| xs.iter().enumerate().map(|(i, &v)| point(i, v)).collect();
    let mut run = run_with(series(train), None);
    run.val_loss = series(val);
    run.lr = (0..train.len())
        .map(|i| point(i, if i == at { peak } else { base(i) }))
        .collect();
    run
}

#[test]
fn an_epoch_mean_jump_after_an_lr_excursion_is_one_finding() {
    // A regression logged as means with validation at every point (task run 71-004): the
    // LR jumps ×47 for one step at 120 and the mean jumps 1.28 → 5.86, back by 170. The
    // jump (read as an epoch mean's instability) and the climb it leaves are one event.
    let train = [
        8.184, 4.634, 2.065, 1.995, 1.512, 1.381, 1.550, 1.194, 1.229, 1.280, 1.148, 2.112, 5.865,
        3.753, 2.854, 2.144, 1.635, 1.478, 1.311, 1.371, 1.044, 1.146, 1.271, 1.271, 1.090, 1.200,
        1.023, 1.121, 1.153, 1.435,
    ];
    let val = [
        6.711, 2.909, 1.723, 1.472, 1.491, 1.347, 1.452, 1.366, 1.387, 1.386, 1.290, 6.172, 4.735,
        3.487, 2.459, 1.943, 1.622, 1.438, 1.368, 1.351, 1.330, 1.314, 1.312, 1.296, 1.290, 1.290,
        1.290, 1.289, 1.289, 1.289,
    ];
    let decay = |i: usize| 0.0022 * (1.0 - i as f64 / 30.0);
    let d = diagnose(&epoch_means(&train, &val, decay, 11, 0.0713));
    assert_eq!(
        warned(&d),
        [FindingKind::Instability],
        "{}",
        d.to_terminal()
    );
    // A classifier's means (task run 76-031): LR ×50 at step 190, the mean 0.58 → 2.61,
    // and still a tenth above its earlier level after: the jump says the lost ground itself.
    let train = [
        1.559, 1.494, 1.448, 1.278, 0.983, 1.015, 1.008, 0.873, 0.663, 0.737, 0.941, 0.818, 0.767,
        0.747, 0.678, 0.553, 0.619, 0.585, 2.606, 1.060, 1.270, 1.112, 0.949, 0.948, 0.765, 0.912,
        0.643, 0.844, 0.902, 0.985,
    ];
    let val = [
        1.556, 1.483, 1.373, 1.220, 1.055, 0.925, 0.844, 0.795, 0.777, 0.795, 0.765, 0.749, 0.757,
        0.747, 0.766, 0.755, 0.782, 0.758, 1.437, 1.177, 1.083, 1.027, 0.960, 0.898, 0.865, 0.835,
        0.817, 0.804, 0.799, 0.787,
    ];
    let d = diagnose(&epoch_means(&train, &val, |_| 0.00063, 18, 0.0315));
    let instabilities = warned(&d)
        .into_iter()
        .filter(|k| *k == FindingKind::Instability)
        .count();
    assert_eq!(instabilities, 1, "{}", d.to_terminal());
}

#[test]
fn a_mean_over_part_of_an_epoch_that_jumps_once_is_a_spike() {
    // A regression logged as means every 25 steps of a 156-step epoch, validation at each
    // (task run 22-022): one corrupted batch at 157 lifts the mean 26.1 → 50.1 at 175, back
    // at 200. Points a sixth of an epoch apart are not epoch means: one bad batch moves them.
    let train = [
        28.43, 28.24, 27.93, 27.58, 26.01, 26.12, 50.1, 25.92, 25.02, 25.25, 25.51, 25.67,
    ];
    let val = [
        27.96, 27.42, 26.77, 26.0, 25.74, 25.46, 25.2, 25.03, 24.98, 24.93, 24.88, 24.82,
    ];
    let mut run = run_with(spaced(&train, 25.0, 25.0), None);
    run.val_loss = spaced(&val, 25.0, 25.0);
    run.steps_per_epoch = Some(156.0);
    let d = diagnose(&run);
    assert_eq!(warned(&d), [FindingKind::Spike], "{}", d.to_terminal());
    // Without the epoch's length the same points read as epoch means: lost ground.
    run.steps_per_epoch = None;
    let d = diagnose(&run);
    assert_eq!(
        warned(&d),
        [FindingKind::Instability],
        "{}",
        d.to_terminal()
    );
}

#[test]
fn validation_frozen_after_the_lr_reached_zero_is_the_one_lr_finding() {
    // An exponential decay that reaches 0 at step 80 of 300 (rnnlab draw 34, run 028):
    // training scatters around 1.85 from there and validation reads 1.853 at every
    // evaluation from step 100. The LR at 0 explains the frozen evaluations: one finding.
    let mut rng = crate::detect::test_support::Noise::new(5);
    let train: Vec<Point> = (0..300)
        .map(|i| Point {
            step: i as f64,
            value: (1.85 + 2.0 * (-(i as f64) / 15.0).exp()) * (1.0 + 0.02 * rng.normal()),
        })
        .collect();
    let mut run = run_with(train, Some(47));
    run.val_loss = (1..=15)
        .map(|k| {
            let step = 20.0 * k as f64;
            let value = if step >= 100.0 {
                1.853
            } else {
                1.85 + 2.0 * (-step / 15.0).exp()
            };
            Point { step, value }
        })
        .collect();
    run.lr = (0..300)
        .map(|i| Point {
            step: i as f64,
            value: if i < 80 { 0.6 * 0.9f64.powi(i) } else { 0.0 },
        })
        .collect();
    let d = diagnose(&run);
    let stalls = d
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Stagnation && f.severity >= Severity::Warning)
        .count();
    assert_eq!(stalls, 1, "{}", d.to_terminal());
    assert!(d
        .findings
        .iter()
        .any(|f| f.evidence.contains_key("lr_zero_from")));
}

#[test]
fn six_epochs_with_validation_at_each_are_enough_six_losses_alone_are_not() {
    let mut run = run_with(per_epoch(&[1.9, 1.2, 0.95, 0.81, 0.92, 0.66]), None);
    assert_eq!(diagnose(&run).verdict, Verdict::Inconclusive);
    run.val_loss = per_epoch(&[1.4, 1.1, 0.97, 0.9, 0.86, 0.84]);
    let d = diagnose(&run);
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
}

#[test]
fn six_losses_each_lower_than_the_last_are_healthy_so_far() {
    // A maintainer's reference log, one line per epoch: every value under the one before.
    let run = run_with(per_epoch(&[1.9, 1.2, 0.95, 0.81, 0.72, 0.66]), None);
    let d = diagnose(&run);
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
    assert!(
        d.reasons[0].contains("lower than the one before"),
        "{:?}",
        d.reasons
    );
    // Five points are too few, and so is a fall of 2 % in all (a flat stretch).
    let five = run_with(per_epoch(&[1.9, 1.2, 0.95, 0.81, 0.72]), None);
    assert_eq!(diagnose(&five).verdict, Verdict::Inconclusive);
    let flat = run_with(per_epoch(&[2.00, 1.998, 1.995, 1.99, 1.985, 1.98]), None);
    assert_eq!(diagnose(&flat).verdict, Verdict::Inconclusive);
}

#[test]
fn nine_losses_falling_in_order_with_a_small_bump_are_healthy_so_far() {
    // An OCR model's report every 500 steps, mid-way through its first epoch: 1.655 → 1.601
    // (−3 %) with one bump of 0.2 %.
    let window = [
        1.655, 1.634, 1.638, 1.634, 1.630, 1.622, 1.607, 1.601, 1.600,
    ];
    let run = run_with(spaced(&window, 30500.0, 500.0), None);
    let d = diagnose(&run);
    assert_eq!(d.verdict, Verdict::Healthy, "{}", d.to_terminal());
    assert!(d.reasons[0].contains("fall in order"), "{:?}", d.reasons);
    // A bump of 6 % among so few points may be a spike they cannot place.
    let mut bumped = window;
    bumped[2] = 1.73;
    let run = run_with(spaced(&bumped, 30500.0, 500.0), None);
    assert_eq!(diagnose(&run).verdict, Verdict::Inconclusive);
}

#[test]
fn three_points_are_not_healthy() {
    let loss = vec![
        Point {
            step: 0.0,
            value: 2.3,
        },
        Point {
            step: 1.0,
            value: 2.1,
        },
        Point {
            step: 2.0,
            value: 2.0,
        },
    ];
    let d = diagnose(&run_with(loss, None));
    assert_eq!(d.verdict, Verdict::Inconclusive, "{}", d.to_terminal());
    assert!(
        d.reasons.iter().any(|r| r.contains("at least")),
        "{:?}",
        d.reasons
    );
}

#[test]
fn a_gradient_spike_the_guard_skipped_is_said_once() {
    // The README's main job from a fresh clone (session 38): the guard skipped the updates of
    // two gradient-norm spikes (steps 1733 and 4189) and the loss never moved. The gradient
    // judgement says so, as information; the spike judgement said it again ("the guard
    // intervened 2 times without a visible loss spike").
    let mut run = run_with(
        curve(4985, |i| 0.815 + 3.0 / (1.0 + i as f64 / 40.0)),
        Some(47),
    );
    run.grad_norm = curve(4985, |i| match i {
        1733 => 3.8,
        4189 => 2.9,
        _ => 0.15,
    });
    run.events = [1733.0, 4189.0]
        .iter()
        .map(|&step| crate::Event {
            step,
            kind: "guard_skip".into(),
            detail: String::new(),
        })
        .collect();
    let d = diagnose(&run);
    let about_guard: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.summary.contains("guard"))
        .collect();
    assert_eq!(about_guard.len(), 1, "{:?}", d.findings);
    assert_eq!(about_guard[0].kind, FindingKind::ExplodingGradients);
    // A guard intervention with no gradient spike beside it is still said.
    run.grad_norm = curve(4985, |i| if i == 1733 { 3.8 } else { 0.15 });
    let d = diagnose(&run);
    assert!(
        d.findings
            .iter()
            .any(|f| f.kind == FindingKind::Spike && f.summary.contains("4189")),
        "{:?}",
        d.findings
    );
}
