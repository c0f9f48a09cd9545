//! Tests of the validation judgements: overfitting and leakage from constructed
//! train/validation pairs.
use super::*;
use crate::detect::test_support::{curve, run_with, spaced, CHAR_MODEL_VAL_CLIMB};

fn every(points: Vec<Point>, k: usize) -> Vec<Point> {
    points.into_iter().step_by(k).collect()
}

#[test]
fn a_slow_noisy_climb_over_hundreds_of_evaluations_is_overfitting() {
    // Validation every 50 steps bottoms at 0.862 and creeps to ~0.90 over 16k steps (under 5 %) with
    // evaluation noise of ±0.004, so single steps go down nearly as often as up.
    let mut rng = crate::detect::test_support::Noise::new(3);
    let val: Vec<Point> = (0..540)
        .map(|i| {
            let s = 50.0 * i as f64;
            let trend = if s < 11_000.0 {
                0.862 + 0.3 * (1.0 - s / 11_000.0).powi(3)
            } else {
                0.862 + 0.04 * (s - 11_000.0) / 16_000.0
            };
            Point {
                step: s,
                value: trend + 0.004 * rng.normal(),
            }
        })
        .collect();
    let mut run = run_with(
        curve(27_000, |i| 0.7 + 0.5 / (1.0 + i as f64 / 1500.0)),
        None,
    );
    run.val_loss = val;
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
}

#[test]
fn three_epochs_above_the_best_with_a_gap_that_grew_sixfold_are_overfitting() {
    // A 7-epoch Keras log: validation 0.697 at epoch 4, then 0.750, 0.730, 0.769 while
    // training falls 0.635 -> 0.385.
    let train = [1.439, 1.159, 0.798, 0.635, 0.571, 0.474, 0.385];
    let val = [1.536, 0.809, 0.707, 0.697, 0.750, 0.730, 0.769];
    let mut run = run_with(crate::detect::test_support::per_epoch(&train), None);
    run.val_loss = crate::detect::test_support::per_epoch(&val);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    // The same evaluations with training falling just as fast beside them (the gap does
    // not grow) are noise around a plateau.
    let mut flat = run_with(crate::detect::test_support::per_epoch(&train), None);
    flat.val_loss =
        crate::detect::test_support::per_epoch(&[1.536, 0.809, 0.707, 0.697, 0.705, 0.701, 0.699]);
    assert!(overfitting(&Ctx::new(&flat)).is_empty());
}

#[test]
fn both_losses_jumping_after_the_best_evaluation_is_not_overfitting() {
    // Four epoch lines (19, 20, 21, 100): both curves jump at epoch 20 and fall back only
    // part of the way; training ends above where it was at validation's best.
    let at = |v: &[(f64, f64)]| -> Vec<Point> {
        v.iter()
            .map(|&(step, value)| Point { step, value })
            .collect()
    };
    let mut run = run_with(
        at(&[
            (19.0, 0.3925),
            (20.0, 0.8816),
            (21.0, 0.7743),
            (100.0, 0.5779),
        ]),
        None,
    );
    run.val_loss = at(&[
        (19.0, 0.365),
        (20.0, 0.7405),
        (21.0, 0.6743),
        (100.0, 0.5234),
    ]);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}

#[test]
fn rising_validation_with_falling_training_is_overfitting() {
    let mut run = run_with(
        curve(900, |i| 4.0 * (-(i as f64) / 150.0).exp() + 0.01),
        Some(65),
    );
    run.val_loss = every(
        curve(900, |i| 2.4 + ((i as f64 - 160.0) / 300.0).powi(2)),
        10,
    );
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert!((f[0].peak_step.unwrap() - 160.0).abs() <= 10.0);
    assert!(
        leakage(&Ctx::new(&run)).is_empty(),
        "memorisation is not leakage"
    );
}

#[test]
fn a_loss_that_is_zero_from_the_first_step_is_a_leak_a_tiny_falling_one_is_not() {
    let zero = curve(60, |i| if i < 8 { 1e-5 / (i + 1) as f64 } else { 0.0 });
    let f = leakage(&Ctx::new(&run_with(zero, None)));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Leakage);
    // A loss divided by a large count: tiny, but it starts higher and learns.
    let tiny = curve(100, |i| 0.00018 + 0.0026 * (-(i as f64) / 15.0).exp());
    assert!(leakage(&Ctx::new(&run_with(tiny, None))).is_empty());
    // A regression on normalised targets: training 4e-5 → 2e-6 from its first epoch, and
    // validation hundreds of times higher — no leak shows on held-out data that badly.
    let small = curve(28, |i| 2e-6 + 4e-5 * (-(i as f64) / 3.0).exp());
    let mut run = run_with(small, None);
    assert_eq!(leakage(&Ctx::new(&run)).len(), 1, "without validation");
    run.val_loss = curve(28, |i| 0.0006 + 0.011 * (-(i as f64) / 3.0).exp());
    assert!(leakage(&Ctx::new(&run)).is_empty());
}

#[test]
fn noisy_evaluations_all_above_an_early_best_are_overfitting_a_flat_wiggle_is_not() {
    let train = curve(5420, |i| 0.0003 + 0.68 * (-(i as f64) / 300.0).exp());
    let evals = |values: &[f64]| -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(k, &v)| Point {
                step: 542.0 * (k + 1) as f64 - 1.0,
                value: v,
            })
            .collect()
    };
    let mut run = run_with(train, None);
    run.val_loss = evals(&[
        0.176, 0.166, 0.157, 0.215, 0.195, 0.228, 0.177, 0.237, 0.214, 0.214,
    ]);
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
    run.val_loss = evals(&[
        0.176, 0.166, 0.157, 0.159, 0.161, 0.159, 0.160, 0.162, 0.159, 0.161,
    ]);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}

#[test]
fn later_evaluations_above_a_dip_of_noisy_ones_are_no_overfitting() {
    // A 16-image validation set: its loss jumps 0.03-1.3 from epoch to epoch. The lowest
    // evaluation comes late (every later one is above it, as after any minimum), and the
    // last ones sit under one noise width above it: no rise.
    let train = curve(40, |i| 0.0007 + 0.15 * (-(i as f64) / 8.0).exp());
    let mut run = run_with(train, None);
    let noisy = [
        0.76, 0.18, 0.44, 0.11, 0.033, 0.30, 0.34, 0.17, 0.66, 0.086, 0.14, 0.080, 0.080, 0.46,
        1.29, 0.29, 0.43, 0.39, 0.35, 1.29, 0.31, 0.15, 1.01, 0.044, 0.25, 0.17, 0.20, 0.027, 0.29,
        0.037, 0.068, 0.096, 0.066, 0.075, 0.048, 0.092, 0.061, 0.048, 0.048, 0.053,
    ];
    run.val_loss = curve(40, |i| noisy[i]);
    let f = overfitting(&Ctx::new(&run));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn four_epochs_with_validation_climbing_are_overfitting() {
    let mut run = run_with(
        crate::detect::test_support::per_epoch(&[0.271, 0.117, 0.052, 0.028]),
        None,
    );
    run.val_loss = crate::detect::test_support::per_epoch(&[0.1858, 0.1859, 0.284, 0.305]);
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
}

#[test]
fn a_three_epoch_fine_tune_whose_last_evaluation_jumps_is_overfitting() {
    // BERT on IMDB, three epochs: validation 0.290, 0.268, then 0.369 while training falls
    // 0.444 → 0.247 → 0.134 (the gap grew from -0.02 to 0.24). One evaluation after the best
    // used to be too few to say anything.
    let per_epoch = crate::detect::test_support::per_epoch;
    let mut run = run_with(per_epoch(&[0.444, 0.247, 0.134]), None);
    run.val_loss = per_epoch(&[0.290, 0.268, 0.369]);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    // A last evaluation a little over the best (2 %), or one whose gap to training did not
    // grow (training rose with it), is not enough.
    run.val_loss = per_epoch(&[0.290, 0.268, 0.273]);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
    run.train_loss = per_epoch(&[0.444, 0.247, 0.330]);
    run.val_loss = per_epoch(&[0.290, 0.268, 0.369]);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}

#[test]
fn validation_that_lingers_at_its_best_then_climbs_is_overfitting() {
    // A tiny training subset: validation falls to 2.47, sits there for six evaluations,
    // then climbs to 2.73 while training keeps falling 2.0 -> 1.0.
    let val = [
        3.13, 3.01, 2.81, 2.65, 2.52, 2.47, 2.49, 2.48, 2.49, 2.49, 2.48, 2.50, 2.56, 2.56, 2.58,
        2.61, 2.64, 2.68, 2.73,
    ];
    let mut run = run_with(
        curve(190, |i| 1.0 + 2.9 * (-(i as f64) / 70.0).exp()),
        Some(51),
    );
    run.val_loss = val
        .iter()
        .enumerate()
        .map(|(k, &v)| Point {
            step: 10.0 * k as f64 + 9.0,
            value: v,
        })
        .collect();
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
}

fn points(pairs: &[(f64, f64)]) -> Vec<Point> {
    pairs
        .iter()
        .map(|&(step, value)| Point { step, value })
        .collect()
}

#[test]
fn five_evaluations_rising_while_training_falls_is_overfitting() {
    // Validation every 100 steps 1.38 → 1.52 while training falls 1.21 → 0.82.
    let mut run = run_with(
        curve(500, |i| {
            0.82 + 0.39 * (1.0 - i as f64 / 500.0).powi(2) + 0.9 * (-(i as f64) / 15.0).exp()
        }),
        None,
    );
    run.val_loss = points(&[
        (100.0, 1.38),
        (200.0, 1.41),
        (300.0, 1.45),
        (400.0, 1.49),
        (500.0, 1.52),
    ]);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(100.0));
}

#[test]
fn a_small_steady_climb_of_eval_loss_is_overfitting() {
    // A fine-tune's eval loss creeping 2.52 → 2.62 over its last evaluations (+4%).
    let mut run = run_with(
        curve(1000, |i| 2.9 - 0.9 * (i as f64 / 1000.0).sqrt()),
        None,
    );
    run.val_loss = points(&[
        (200.0, 2.70),
        (400.0, 2.52),
        (600.0, 2.55),
        (800.0, 2.58),
        (1000.0, 2.62),
    ]);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].peak_step, Some(400.0));
    // The same +4% wandering up and down is not enough.
    run.val_loss = points(&[
        (200.0, 2.70),
        (400.0, 2.52),
        (600.0, 2.61),
        (800.0, 2.53),
        (1000.0, 2.62),
    ]);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}

#[test]
fn validation_tracking_training_is_not_overfitting() {
    let mut run = run_with(
        curve(800, |i| 1.6 + 2.5 / (1.0 + i as f64 / 30.0).sqrt()),
        Some(65),
    );
    run.val_loss = every(
        curve(800, |i| 1.7 + 2.5 / (1.0 + i as f64 / 30.0).sqrt()),
        25,
    );
    assert!(overfitting(&Ctx::new(&run)).is_empty());
    assert!(leakage(&Ctx::new(&run)).is_empty());
}

#[test]
fn validation_collapsing_with_training_is_leakage() {
    let mut run = run_with(
        curve(400, |i| 4.1 * (-(i as f64) / 15.0).exp() + 0.002),
        Some(65),
    );
    run.val_loss = every(curve(400, |i| 4.1 * (-(i as f64) / 15.0).exp() + 0.003), 25);
    let f = leakage(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, FindingKind::Leakage);
}

#[test]
fn a_classifier_starting_near_four_nats_may_fit_validation_to_near_zero() {
    // FjordVision's per-epoch log: a 57-class classifier starts at 4.04 (ln 57) and both
    // losses fall to ~0.02, tracking. A start of 4 nats is as much a classifier's as a
    // character model's: without a vocabulary that says language model, no leak is read.
    let pairs = |end: f64| curve(20, |i| end + 4.02 * (-(i as f64) / 1.5).exp());
    let mut run = run_with(pairs(0.023), None);
    run.val_loss = pairs(0.021);
    assert!(leakage(&Ctx::new(&run)).is_empty());
    // The same curves with the vocabulary of a character model are a leak.
    let mut lm = run_with(pairs(0.023), Some(57));
    lm.val_loss = pairs(0.021);
    assert_eq!(leakage(&Ctx::new(&lm)).len(), 1);
}

#[test]
fn validation_below_training_in_a_fine_tune_is_not_leakage() {
    // Whisper-like fine-tune: train 2.9 → 0.83 with dropout, eval 1.2 → 0.35.
    let mut run = run_with(
        curve(2000, |i| 0.8 + 2.1 * (-(i as f64) / 300.0).exp()),
        None,
    );
    run.val_loss = every(
        curve(2000, |i| 0.33 + 0.9 * (-(i as f64) / 300.0).exp()),
        100,
    );
    assert!(leakage(&Ctx::new(&run)).is_empty());
    // Collapsing toward zero while training stays high is suspicious.
    run.val_loss = every(
        curve(2000, |i| 0.02 + 0.9 * (-(i as f64) / 100.0).exp()),
        100,
    );
    let f = leakage(&Ctx::new(&run));
    assert_eq!(f.len(), 1);
    // The message names both levels and the share, each in its place.
    assert!(
        f[0].summary.contains("while training loss stays at 0.8")
            && f[0].summary.contains("% lower"),
        "{}",
        f[0].summary
    );
}

#[test]
fn validation_near_zero_that_goes_negative_is_no_collapse() {
    // A weather forecaster's Gaussian NLL (Lightning, 30 epochs): training 2.57 → 0.98,
    // validation jumping between −0.27 and 0.69. Zero is no floor for such a loss; the same
    // levels all above zero would be a collapse.
    let jumps = [0.2, -0.2, 0.05, -0.1, 0.3];
    let val =
        |f: &dyn Fn(f64) -> f64| curve(30, |i| f(jumps[i % 5]) + 0.4 * (-(i as f64) / 2.0).exp());
    let mut run = run_with(curve(30, |i| 0.95 + 1.6 * (-(i as f64) / 2.0).exp()), None);
    run.val_loss = val(&|j| j);
    assert!(leakage(&Ctx::new(&run)).is_empty());
    run.val_loss = val(&|j| 0.3 * (j + 0.21));
    assert_eq!(leakage(&Ctx::new(&run)).len(), 1);
}

#[test]
fn a_fine_tune_with_mixup_whose_test_loss_is_a_third_of_training_is_not_leakage() {
    // MAE's ViT-B fine-tune, one line per epoch: mixup and label smoothing hold the training
    // loss at ~0.72 while the test loss falls to 0.21 (96 % accuracy). Validation that far
    // under training is what soft targets do; only one near zero says a leak.
    let pair = |val_end: f64| {
        let mut run = run_with(
            curve(100, |i| 0.72 + 2.1 * (-(i as f64) / 12.0).exp()),
            None,
        );
        run.val_loss = curve(100, |i| val_end + 2.4 * (-(i as f64) / 10.0).exp());
        leakage(&Ctx::new(&run))
    };
    assert!(pair(0.209).is_empty());
    assert_eq!(pair(0.02).len(), 1);
}

#[test]
fn a_word_model_from_scratch_at_perplexity_two_and_a_half_is_leakage() {
    // V = 2000 words, from ln V = 7.6 down to 0.9 nats on held-out text: no model does that.
    let leak_below = |end: f64, start: f64, val_below: f64| {
        let mut run = run_with(
            curve(400, |i| end + (start - end) * (-(i as f64) / 40.0).exp()),
            Some(2000),
        );
        run.val_loss = every(
            curve(400, |i| {
                end - val_below + (start - end) * (-(i as f64) / 40.0).exp()
            }),
            20,
        );
        leakage(&Ctx::new(&run))
    };
    let leak = |end: f64, start: f64| leak_below(end, start, 0.1);
    assert_eq!(leak(1.0, 7.6).len(), 1);
    // Validation well under training (no dropout explains 0.9 on held-out words) too.
    assert_eq!(leak_below(1.3, 7.6, 0.4).len(), 1);
    // A healthy word model ends near 4–5 nats; a fine-tune that starts low may reach 0.9.
    assert!(leak(4.3, 7.6).is_empty());
    assert!(leak(1.0, 2.5).is_empty());
}

#[test]
fn validation_that_never_returns_to_its_first_evaluation_with_training_rising_is_divergence() {
    // A Whisper fine-tune with the LR warmed up to 3e-3: five sparse training logs rise with
    // the ramp, and twenty evaluations never get back to the first.
    let pts = |v: &[(f64, f64)]| -> Vec<Point> {
        v.iter()
            .map(|&(step, value)| Point { step, value })
            .collect()
    };
    let train = [
        (500.0, 1.2366),
        (1000.0, 2.028),
        (1500.0, 2.157),
        (2000.0, 1.9848),
        (2500.0, 1.7866),
    ];
    let evals: Vec<(f64, f64)> = [
        2.55, 3.62, 3.49, 3.19, 3.96, 3.98, 3.72, 4.46, 4.0, 4.17, 3.64, 3.68, 3.93, 3.55, 3.45,
        3.32, 3.42, 3.29, 3.15, 3.42,
    ]
    .iter()
    .enumerate()
    .map(|(i, &v)| (132.0 * (i + 1) as f64, v))
    .collect();
    let mut run = run_with(pts(&train), None);
    run.val_loss = pts(&evals);
    let f = worse_on_both(&Ctx::new(&run), &[]).expect("divergence");
    assert_eq!(f.kind, FindingKind::Divergence);
    // Training that falls while validation climbs is overfitting's, not this.
    let falling: Vec<(f64, f64)> = train
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| (s, 1.2 - 0.1 * i as f64))
        .collect();
    let mut run = run_with(pts(&falling), None);
    run.val_loss = pts(&evals);
    assert!(worse_on_both(&Ctx::new(&run), &[]).is_none());
}

#[test]
fn validation_printing_the_same_value_while_training_moves_is_frozen() {
    // A FaceNet triplet-loss run in Keras: val_loss 0.2000 (the margin) at every epoch while
    // training creeps 0.1902 → 0.1775.
    let mut run = run_with(
        spaced(
            &[0.1902, 0.1872, 0.1844, 0.182, 0.1794, 0.1777, 0.1775],
            2.0,
            1.0,
        ),
        None,
    );
    run.val_loss = (1..=8)
        .map(|s| Point {
            step: s as f64,
            value: 0.2,
        })
        .collect();
    let f = frozen(&Ctx::new(&run)).expect("frozen validation");
    assert_eq!(f.kind, FindingKind::Stagnation);
    assert_eq!(f.start_step, Some(1.0));
    // Four identical evaluations are not yet enough; nor is validation standing still beside
    // a training loss that stands still too (a run that has converged and prints rounded).
    run.val_loss[3].value = 0.2001;
    assert!(frozen(&Ctx::new(&run)).is_none());
    run.val_loss[3].value = 0.2;
    for p in &mut run.train_loss {
        p.value = 0.1775;
    }
    assert!(frozen(&Ctx::new(&run)).is_none());
}

#[test]
fn validation_tracking_training_inside_the_first_epoch_is_no_leak() {
    // An SFT on templated chat (blind batch 91): one epoch of 1138 steps, logged every 100,
    // train 0.738 → 0.215 and eval tracking it 0.275 → 0.214. Every training batch is new to
    // the model in its first epoch, so the training loss is a held-out estimate too.
    let train = [
        0.738, 0.2608, 0.2457, 0.2351, 0.2304, 0.2245, 0.2192, 0.2199, 0.2172, 0.2148,
    ];
    let val = [
        0.2752, 0.2498, 0.2364, 0.2284, 0.2242, 0.2209, 0.2183, 0.2161, 0.2152, 0.2141,
    ];
    let judged = |steps_per_epoch: f64| {
        let mut run = run_with(spaced(&train, 100.0, 100.0), None);
        run.val_loss = spaced(&val, 100.0, 100.0);
        run.steps_per_epoch = Some(steps_per_epoch);
        leakage(&Ctx::new(&run))
    };
    assert!(judged(1138.0).is_empty());
    // Ten epochs of such tracking are no leak either: a model that does not overfit tracks as
    // closely (a segmentation U-Net's Dice loss, 0.284 vs 0.281, over 16 epochs).
    assert!(judged(100.0).is_empty());
    // Twenty epochs at a level a fifth of the start, the model having seen every training
    // example nineteen times and doing no better on them than on validation, are.
    let val: Vec<f64> = (0..20)
        .map(|i| 0.2 + 0.06 * (-(i as f64) / 3.0).exp())
        .collect();
    let mut train = vec![1.2];
    train.extend(val.iter().map(|v| 1.01 * v));
    let mut run = run_with(spaced(&train, 0.0, 1.0), None);
    run.val_loss = spaced(&val, 1.0, 1.0);
    run.steps_per_epoch = Some(1.0);
    assert_eq!(leakage(&Ctx::new(&run)).len(), 1);
}

#[test]
fn a_fine_tune_starting_at_six_nats_may_fit_a_narrow_task_to_a_fifth_of_a_nat() {
    // A LoRA SFT for natural language to shell commands (checkpoint 100 of 255): train 6.70 →
    // 0.19 by step 100, eval 0.37 → 0.18. The 6.7 start is a new prompt format, not a model
    // from scratch: without a vocabulary nothing says the level is out of reach.
    let train = [
        6.7004, 3.8026, 1.6738, 0.8816, 0.4976, 0.302, 0.2247, 0.2176, 0.1839, 0.1933,
    ];
    let mut run = run_with(spaced(&train, 10.0, 10.0), None);
    run.val_loss = spaced(&[0.36899, 0.1817], 50.0, 50.0);
    assert!(leakage(&Ctx::new(&run)).is_empty());
}

#[test]
fn a_tiny_loss_in_an_excerpt_from_late_in_a_run_is_no_leak() {
    // SLEAP's confidence-map loss, epochs 11-21 pasted in a thread about speed: 1.95e-5 →
    // 1.35e-5. A window that starts late may show a model converged there; only a loss that
    // is ~0 from the run's first step knew every answer before it learned.
    let values = [
        1.95e-5, 1.8771e-5, 1.7938e-5, 1.7122e-5, 1.6554e-5, 1.5951e-5, 1.5357e-5, 1.4846e-5,
        1.4381e-5, 1.4076e-5, 1.3512e-5,
    ];
    let late = run_with(spaced(&values, 11.0, 1.0), None);
    assert!(leakage(&Ctx::new(&late)).is_empty());
    let from_the_start = run_with(spaced(&values, 1.0, 1.0), None);
    assert_eq!(leakage(&Ctx::new(&from_the_start)).len(), 1);
}

#[test]
fn noisy_training_that_falls_significantly_under_a_steadily_rising_validation_is_overfitting() {
    // A character LSTM trained again on a small book (blind batch 106): last-batch losses
    // every 10 steps wander 0.98 → 0.90 (Kendall's tau −0.49 over 24 points, 3.4 standard
    // errors below zero, but not the −0.6 a short series needs) while validation climbs
    // 2.754 → 2.882.
    let train = [
        0.9805, 0.9289, 0.9564, 0.9409, 0.9304, 0.9779, 0.9513, 0.9132, 0.9371, 0.9196, 0.9067,
        0.9595, 0.9252, 0.888, 0.9206, 0.9088, 0.902, 0.9386, 0.9251, 0.8768, 0.9002, 0.908,
        0.8849, 0.922,
    ];
    let val = CHAR_MODEL_VAL_CLIMB;
    let mut run = run_with(spaced(&train, 10.0, 10.0), None);
    run.val_loss = spaced(&val, 10.0, 10.0);
    let found = overfitting(&Ctx::new(&run));
    assert_eq!(found.len(), 1, "{found:?}");
    // The same wander with no order to it (the values shuffled) is no fall.
    let mut shuffled = train;
    shuffled.swap(0, 23);
    shuffled.swap(1, 19);
    shuffled.swap(5, 22);
    run.train_loss = spaced(&shuffled, 10.0, 10.0);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}

#[test]
fn evaluations_climbing_from_the_best_while_noisy_training_holds_are_overfitting() {
    // A small GPT evaluated every 200 steps: validation bottoms at 4.84 and climbs 5.01, 5.02,
    // 5.07, 5.09, while the training loss (one batch per log) wanders 3.6-4.2, too noisily to
    // call falling, but not up.
    let train = spaced(
        &[
            10.96, 5.73, 4.90, 4.53, 4.08, 4.48, 4.19, 3.92, 4.17, 4.05, 3.71, 3.80, 3.89, 3.83,
            3.64, 3.63,
        ],
        0.0,
        200.0,
    );
    let val = [
        10.77, 5.82, 5.33, 5.08, 5.04, 4.90, 4.99, 4.86, 4.94, 4.97, 4.86, 4.84, 5.01, 5.02, 5.07,
        5.09,
    ];
    let mut run = run_with(train, None);
    run.val_loss = spaced(&val, 0.0, 200.0);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    // The same evaluations holding at their best instead: nothing.
    let mut flat = val;
    flat[12..].copy_from_slice(&[4.85, 4.87, 4.84, 4.86]);
    run.val_loss = spaced(&flat, 0.0, 200.0);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}
