//! Tests of the periodic judgements: epoch staircases, unshuffled epochs, state resets, and
//! the textures that are not cycles.
use super::*;
use crate::detect::test_support::{cosine_restarts, curve, run_with, Noise};
use crate::Point;

/// Epochs completed at `step`: whole ones on a staircase, fractional on a smooth decline.
fn epochs_done(step: f64, per: f64, stairs: bool) -> f64 {
    if stairs {
        (step / per).floor()
    } else {
        step / per
    }
}

#[test]
fn a_staircase_logged_three_times_an_epoch_is_found_by_its_boundary_drops() {
    // A 1559-step epoch logged every 500 steps for 40 epochs: the loss drops 0.06 at each
    // boundary and stays flat (± 0.02 noise) within an epoch.
    let per = 1559.0;
    let run_of = |stairs: bool| {
        let mut rng = Noise::new(17);
        let loss: Vec<Point> = (1..=125)
            .map(|k| {
                let step = 500.0 * k as f64;
                let epochs = epochs_done(step, per, stairs);
                Point {
                    step,
                    value: 4.0 - 0.06 * epochs + 0.02 * rng.normal(),
                }
            })
            .collect();
        let mut run = run_with(loss, None);
        run.steps_per_epoch = Some(per);
        run
    };
    let found = detect(&Ctx::new(&run_of(true)));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Periodic);
    assert!(
        found[0].summary.contains("boundaries"),
        "{}",
        found[0].summary
    );
    assert!(detect(&Ctx::new(&run_of(false))).is_empty());
}

#[test]
fn a_fixed_batch_order_is_not_a_boundary_drop_but_memorisation_is() {
    // 8 epochs of 24 batches logged every step. Fixed order: each batch has a difficulty of
    // its own (sd 0.1), the last one hard (+0.2) and the first easy (−0.1), so every
    // boundary shows the same drop of 0.3 — as does any other pair of positions by chance.
    // Memorisation: batches alike, and a drop of 0.06 at each boundary only.
    let per = 24usize;
    let run_of = |fixed_order: bool| {
        let mut rng = Noise::new(5);
        let mut difficulty: Vec<f64> = (0..per).map(|_| 0.1 * rng.normal()).collect();
        (difficulty[0], difficulty[per - 1]) = (-0.1, 0.2);
        let loss: Vec<Point> = (0..8 * per)
            .map(|i| {
                let (epoch, position) = ((i + 1) / per, (i + 1) % per);
                let value = if fixed_order {
                    2.0 - 0.002 * i as f64 + difficulty[position]
                } else {
                    2.0 - 0.06 * epoch as f64
                };
                Point {
                    step: i as f64 + 1.0,
                    value: value + 0.01 * rng.normal(),
                }
            })
            .collect();
        let mut run = run_with(loss, None);
        run.steps_per_epoch = Some(per as f64);
        run
    };
    assert!(boundary_drops(&Ctx::new(&run_of(true))).is_none());
    let found = boundary_drops(&Ctx::new(&run_of(false))).expect("memorised epochs");
    assert!(found.summary.contains("boundaries"), "{}", found.summary);
}

fn staircase_run(epochs: usize, per: usize, lr_steps: bool) -> crate::Run {
    let mut rng = Noise::new(9);
    let n = epochs * per;
    let loss: Vec<Point> = curve(n, |i| {
        let e = i / per;
        0.2 + 1.8 * 0.6f64.powi(e as i32) + 0.05 * (1.0 - (i % per) as f64 / per as f64)
    })
    .into_iter()
    .map(|p| Point {
        value: p.value * (1.0 + 0.15 * rng.normal()),
        ..p
    })
    .collect();
    let mut run = run_with(loss, None);
    if lr_steps {
        run.lr = curve(n, |i| 1e-3 * 0.3f64.powi((i / per) as i32));
    } else {
        run.lr = curve(n, |i| 1e-4 * (1.0 - i as f64 / n as f64));
    }
    run
}

#[test]
fn epoch_staircase_is_periodic_without_knowing_the_epoch_length() {
    let f = detect(&Ctx::new(&staircase_run(6, 700, false)));
    assert_eq!(f.len(), 1, "{f:?}");
    let p = f[0].evidence["period_steps"].as_f64().unwrap();
    assert!((p - 700.0).abs() < 30.0, "{p}");
}

#[test]
fn a_step_decay_schedule_explains_its_drops() {
    assert!(detect(&Ctx::new(&staircase_run(6, 700, true))).is_empty());
}

#[test]
fn an_unshuffled_epoch_pattern_is_periodic_when_the_epoch_is_known() {
    let mut rng = Noise::new(5);
    let per = 40usize;
    let pattern: Vec<f64> = (0..per).map(|_| 0.15 * rng.normal()).collect();
    let loss = curve(2000, |i| {
        1.5 + 2.0 / (1.0 + i as f64 / 50.0).sqrt() + pattern[i % per]
    })
    .into_iter()
    .map(|p| Point {
        value: p.value + 0.03 * rng.normal(),
        ..p
    })
    .collect();
    let mut run = run_with(loss, Some(65));
    run.steps_per_epoch = Some(per as f64);
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warning);
    // A stateful stream trainer reads the data in this order by design: info, not warning.
    run.fixed_batch_order = true;
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].summary.contains("Expected"), "{}", f[0].summary);
    run.steps_per_epoch = Some(37.0);
    assert!(
        detect(&Ctx::new(&run)).is_empty(),
        "the wrong epoch length shows no pattern"
    );
}

/// The hidden state replaced by noise every 8 steps: the batch after it costs +0.25.
fn state_reset_every_eight_steps() -> Vec<Point> {
    let mut rng = Noise::new(8);
    curve(200, |i| {
        2.8 + 1.4 * (-(i as f64) / 12.0).exp() + if i % 8 == 0 { 0.25 } else { 0.0 }
    })
    .into_iter()
    .map(|p| Point {
        value: p.value + 0.03 * rng.normal(),
        ..p
    })
    .collect()
}

#[test]
fn a_state_reset_every_eight_steps_is_periodic_without_an_epoch_length() {
    let f = detect(&Ctx::new(&run_with(
        state_reset_every_eight_steps(),
        Some(76),
    )));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Periodic);
    assert!(f[0].summary.contains("every 8 steps"), "{}", f[0].summary);
    // With no LR logged, warm restarts on that cycle are one reading the advice names.
    assert!(f[0].advice.contains("log the LR"), "{}", f[0].advice);
    // With the LR logged (and not restarting), they are ruled out.
    let mut run = run_with(state_reset_every_eight_steps(), Some(76));
    run.lr = curve(200, |_| 1e-3);
    let f = detect(&Ctx::new(&run));
    assert!(f.iter().all(|f| !f.advice.contains("log the LR")), "{f:?}");
}

#[test]
fn a_state_reset_cycle_beside_warm_restarts_of_another_cycle_is_periodic() {
    // The state reset every 8 steps under an LR restarting every 30 steps: the restarts explain
    // a cycle of 30 (60, 90), not one of 8. Restarts every 8 steps would explain it.
    let with_restarts_every = |cycle: usize| {
        let mut run = run_with(state_reset_every_eight_steps(), Some(76));
        run.lr = cosine_restarts(200, cycle, 1e-3);
        detect(&Ctx::new(&run))
    };
    let other = with_restarts_every(30);
    assert!(
        other
            .iter()
            .any(|f| f.kind == FindingKind::Periodic && f.summary.contains("every 8 steps")),
        "{other:?}"
    );
    let same = with_restarts_every(8);
    assert!(
        same.iter().all(|f| f.kind != FindingKind::Periodic),
        "{same:?}"
    );
}

#[test]
fn a_cycle_is_reported_at_its_fundamental_not_at_a_multiple() {
    // A character LSTM whose hidden state is replaced by noise every 40 steps, logged every 5
    // (PyTorch seed 147, run 48): a jump every 8 points. Detrended with a wider window the
    // autocorrelation peaks at 16 points; read at 16, the 8 beside it looks like a stronger
    // half-period and no cycle was reported.
    let loss = [
        4.32832, 3.711, 3.34665, 3.16121, 3.22576, 3.0696, 3.03128, 3.76161, 3.0686, 3.05474,
        3.01665, 3.06736, 3.14993, 2.974, 3.06169, 3.62858, 3.13822, 3.01027, 3.00323, 3.02408,
        3.05335, 3.05271, 3.06462, 3.63902, 3.06495, 3.03751, 2.86322, 2.96334, 2.92241, 2.92927,
        3.04451, 3.7538, 3.04235, 3.03304, 2.95314, 3.03087, 3.09382, 3.06102, 3.11505, 3.6415,
        3.2256, 2.98569, 3.01928, 3.03443, 3.03623, 3.00441, 2.92448, 3.58451, 3.06644, 2.99027,
        3.11333, 3.03442, 3.13226, 2.99323, 3.03887, 3.66579,
    ];
    let run = run_with(
        crate::detect::test_support::spaced(&loss, 5.0, 5.0),
        Some(82),
    );
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].summary.contains("every 40 steps"), "{}", f[0].summary);
}

#[test]
fn streams_alternating_in_difficulty_every_other_batch_are_not_a_cycle() {
    // Contiguous streams whose batches alternate easy/hard (±0.045): periodic at 2, 4, 6…
    // logged points, but a period of 2 is batch-to-batch texture, not an epoch or a bug.
    let mut rng = Noise::new(38);
    let loss = curve(250, |i| {
        1.4 + 2.5 * (-(i as f64) / 10.0).exp() + if i % 2 == 1 { 0.045 } else { -0.045 }
    })
    .into_iter()
    .map(|p| Point {
        value: p.value + 0.02 * rng.normal(),
        ..p
    })
    .collect();
    let f = detect(&Ctx::new(&run_with(loss, Some(50))));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn smooth_decay_has_no_staircase() {
    let mut rng = Noise::new(3);
    let loss = curve(5000, |i| 1.0 + 2.0 / (1.0 + i as f64 / 50.0).sqrt())
        .into_iter()
        .map(|p| Point {
            value: p.value * (1.0 + 0.1 * rng.normal()),
            ..p
        })
        .collect();
    assert!(detect(&Ctx::new(&run_with(loss, None))).is_empty());
}

#[test]
fn a_state_reset_cycle_in_a_log_of_fifty_points_is_periodic() {
    // A hidden-state bug logged every 5 steps for 250 steps: 50 points, the reset costing
    // +0.25 every 6th log. Eight cycles are enough to see one; 60 points had been required.
    let mut rng = Noise::new(40);
    let loss: Vec<Point> = curve(50, |i| {
        2.8 + 1.4 * (-(i as f64) / 6.0).exp() + if i % 6 == 0 { 0.25 } else { 0.0 }
    })
    .into_iter()
    .map(|p| Point {
        step: 5.0 * p.step,
        value: p.value + 0.03 * rng.normal(),
    })
    .collect();
    let f = detect(&Ctx::new(&run_with(loss, Some(62))));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Periodic);
}

#[test]
fn a_cycle_shorter_than_an_epoch_too_long_to_repeat_is_still_found() {
    // A TRL SFT run of 500 steps (0.27 epoch, so an epoch of ~1820 steps is known) whose loss
    // jumps every 50 steps and falls back within them: a sawtooth, read as healthy when the
    // known epoch, too long to repeat in the log, stopped the search.
    let loss: Vec<Point> = (1..=50)
        .map(|i| {
            let step = 10.0 * i as f64;
            let phase = (i - 1) % 5;
            let level = 1.2 + 3.0 * (-step / 120.0).exp();
            Point {
                step,
                value: level * (1.0 + if phase == 0 && i > 5 { 0.7 } else { 0.0 }),
            }
        })
        .collect();
    let mut run = run_with(loss, None);
    run.steps_per_epoch = Some(1820.0);
    let f = detect(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Periodic);
    assert!(f[0].summary.contains("every 50 steps"), "{}", f[0].summary);
}

#[test]
fn a_weak_repeat_at_a_known_epoch_is_periodic_the_same_repeat_searched_for_is_not() {
    // Six epochs of 32 batches in a fixed order, each batch with a difficulty of its own (sd
    // 0.03) under batch noise of sd 0.05: the detrended loss repeats at the epoch with an
    // autocorrelation near 0.27. One lag tested (the epoch is known) is judged against chance
    // (3/√(n − lag) ≈ 0.23); a lag found by searching them all needs 0.3.
    let per = 32usize;
    let run_of = |difficulty_sd: f64, known: bool| {
        let mut rng = Noise::new(11);
        let difficulty: Vec<f64> = (0..per).map(|_| difficulty_sd * rng.normal()).collect();
        let loss: Vec<Point> = (0..6 * per)
            .map(|i| Point {
                step: (i + 1) as f64,
                value: 2.5 - 0.6 * (i as f64 / 192.0) + difficulty[i % per] + 0.05 * rng.normal(),
            })
            .collect();
        let mut run = run_with(loss, None);
        run.steps_per_epoch = known.then_some(per as f64);
        run
    };
    let found = epoch_pattern(&Ctx::new(&run_of(0.03, true)));
    let f = found.expect("a weak repeat at the known epoch");
    let ac = f.evidence["autocorrelation_at_epoch"].as_f64().unwrap();
    assert!((0.2..0.3).contains(&ac), "{ac}");
    assert!(epoch_pattern(&Ctx::new(&run_of(0.03, false))).is_none());
    assert!(epoch_pattern(&Ctx::new(&run_of(0.0, true))).is_none());
}

#[test]
fn a_noisy_staircase_logged_every_step_is_found_by_the_levels_around_its_boundaries() {
    // A classifier fine-tuned for 5 epochs of 109 batches, its loss logged batch by batch
    // (±20 % noise): the level falls by a third at each epoch boundary and barely moves within.
    let per = 109.0;
    let run_of = |stairs: bool, lr_cut: bool| {
        let mut rng = Noise::new(3);
        let loss: Vec<Point> = (0..545)
            .map(|k| {
                let step = k as f64;
                let epochs = epochs_done(step, per, stairs);
                Point {
                    step,
                    value: 0.5 * 0.65f64.powf(epochs) * (1.0 + 0.2 * rng.normal()).max(0.2),
                }
            })
            .collect();
        let mut run = run_with(loss, None);
        run.steps_per_epoch = Some(per);
        if lr_cut {
            // A step-decay schedule that cuts the LR at every boundary explains the drops.
            run.lr = (0..545)
                .map(|k| Point {
                    step: k as f64,
                    value: 1e-3 * 0.5f64.powf((k as f64 / per).floor()),
                })
                .collect();
        }
        run
    };
    let found = boundary_levels(&Ctx::new(&run_of(true, false)));
    let f = found.expect("a staircase");
    assert_eq!(f.kind, FindingKind::Periodic);
    assert_eq!(f.evidence["boundaries"], 4);
    // The same fall spread smoothly over the epochs, and the staircase a schedule explains.
    assert!(boundary_levels(&Ctx::new(&run_of(false, false))).is_none());
    assert!(boundary_levels(&Ctx::new(&run_of(true, true))).is_none());
    assert!(detect(&Ctx::new(&run_of(false, false))).is_empty());
}

#[test]
fn a_lag_searched_for_must_beat_the_best_of_many_chances() {
    // Sixty points of batch noise (sd 0.05) around a smooth fall, no cycle in them. Searching
    // a dozen lags, the best autocorrelation reaches 0.39-0.44 for some seeds (6 in 300): more
    // than one lag's chance (3/√60 = 0.39), not more than the best of the search gives. A
    // searched lag must reach 4/√n (0.52 here); a state-reset cycle in 50 points does (above).
    for seed in [114, 117, 151] {
        let mut rng = Noise::new(seed);
        let loss: Vec<Point> = curve(60, |i| {
            1.6 + 0.7 / (1.0 + (6.0 * (i as f64 / 40.0 - 1.0)).exp())
        })
        .into_iter()
        .map(|p| Point {
            step: 5.0 * (p.step + 1.0),
            value: p.value + 0.05 * rng.normal(),
        })
        .collect();
        let f = epoch_pattern(&Ctx::new(&run_with(loss, None)));
        assert!(f.is_none(), "seed {seed}: {f:?}");
    }
}
