//! Tests of the validation judgements: overfitting (and a diverging validation) from constructed
//! train/validation pairs.
use super::*;
use crate::detect::test_support::{at_steps, curve, every, run_with, spaced, CHAR_MODEL_VAL_CLIMB};

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
    let mut run = run_with(
        at_steps(&[
            (19.0, 0.3925),
            (20.0, 0.8816),
            (21.0, 0.7743),
            (100.0, 0.5779),
        ]),
        None,
    );
    run.val_loss = at_steps(&[
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
fn evaluations_above_a_late_dip_that_keep_settling_are_no_overfitting() {
    // A classifier under LR cuts: validation settles into a band (0.13-0.23), dips once to
    // 0.130, and the evaluations after the dip, all above it, drift down to 0.155. Each being
    // above the lowest is what follows any minimum; nothing climbs.
    let band = [
        0.2804, 0.2071, 0.2436, 0.1982, 0.2393, 0.1742, 0.2252, 0.1949, 0.1836, 0.163, 0.2122,
        0.2333, 0.149, 0.1581, 0.1636, 0.1854, 0.1494, 0.1538, 0.1486, 0.2009, 0.1654, 0.1661,
        0.2094, 0.1962, 0.2013, 0.2281, 0.1602, 0.162, 0.1445, 0.1552, 0.1302, 0.1724, 0.1699,
        0.173, 0.166, 0.1516, 0.152, 0.1382, 0.1676, 0.1347, 0.1425, 0.1673, 0.1513, 0.1612,
        0.1635, 0.1574, 0.1767, 0.1573, 0.1554, 0.1473, 0.1483, 0.1517, 0.1611, 0.1583, 0.1548,
        0.1534, 0.1549, 0.1499, 0.1422, 0.155,
    ];
    let n = band.len();
    let train = curve(n, |i| 0.015 + 0.2 * (-(i as f64) / 15.0).exp());
    let mut run = run_with(train, None);
    run.val_loss = curve(n, |i| band[i]);
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

#[test]
fn five_evaluations_rising_while_training_falls_is_overfitting() {
    // Validation every 100 steps 1.38 → 1.52 while training falls 1.21 → 0.82.
    let mut run = run_with(
        curve(500, |i| {
            0.82 + 0.39 * (1.0 - i as f64 / 500.0).powi(2) + 0.9 * (-(i as f64) / 15.0).exp()
        }),
        None,
    );
    run.val_loss = at_steps(&[
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
    run.val_loss = at_steps(&[
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
    run.val_loss = at_steps(&[
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
fn validation_that_never_returns_to_its_first_evaluation_with_training_rising_is_divergence() {
    // A Whisper fine-tune with the LR warmed up to 3e-3: five sparse training logs rise with
    // the ramp, and twenty evaluations never get back to the first.
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
    let mut run = run_with(at_steps(&train), None);
    run.val_loss = at_steps(&evals);
    let f = worse_on_both(&Ctx::new(&run), &[]).expect("divergence");
    assert_eq!(f.kind, FindingKind::Divergence);
    // Training that falls while validation climbs is overfitting's, not this.
    let falling: Vec<(f64, f64)> = train
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| (s, 1.2 - 0.1 * i as f64))
        .collect();
    let mut run = run_with(at_steps(&falling), None);
    run.val_loss = at_steps(&evals);
    assert!(worse_on_both(&Ctx::new(&run), &[]).is_none());
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

#[test]
fn a_validation_that_ends_at_its_lowest_evaluation_is_not_overfitting() {
    // A frozen-backbone ViT probe (blind batch 191): evaluations every 100 steps sit at
    // 0.76-0.79, wander up to 0.82-0.86, and the last is the lowest of all (0.744) while the
    // training loss creeps down from 0.50 to 0.38.
    let evals = [
        0.8029, 0.7598, 0.7680, 0.7605, 0.7907, 0.7795, 0.7781, 0.8661, 0.8347, 0.8165, 0.7580,
        0.8645, 0.8278, 0.8379, 0.8412, 0.8228, 0.8398, 0.7441,
    ];
    let mut run = run_with(
        curve(180, |i| 0.38 + 0.12 * (-(i as f64) / 60.0).exp()),
        None,
    );
    run.train_loss
        .iter_mut()
        .for_each(|p| p.step = 10.0 * (p.step + 1.0));
    run.val_loss = spaced(&evals, 100.0, 100.0);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
    // The same evaluations without the last one rose and stayed up.
    run.val_loss.pop();
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
}

#[test]
fn validation_still_for_half_the_run_then_swinging_is_judged_by_its_late_noise() {
    // A detector's box loss: validation pinned at 0.100 ± 0.0003 for 45 epochs, then, once
    // the model learns, swinging 0.054-0.128 from epoch to epoch around ~0.08 while training
    // falls 0.10 -> 0.055. The swings' tops late in the run are no rise above them.
    let train = curve(91, |i| {
        if i < 45 {
            0.105 - 0.00005 * i as f64
        } else {
            0.055 + 0.048 * (-(i as f64 - 45.0) / 12.0).exp()
        }
    });
    let swings = [
        0.078, 0.109, 0.082, 0.108, 0.120, 0.088, 0.119, 0.116, 0.068, 0.128,
    ];
    let late = [0.067, 0.054, 0.064, 0.071, 0.118, 0.099, 0.073];
    let mut val: Vec<f64> = (0..45)
        .map(|i| 0.100 + 0.0003 * if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    while val.len() < 91 - late.len() {
        val.push(swings[val.len() % swings.len()]);
    }
    val.extend(late);
    let mut run = run_with(train, None);
    run.val_loss = curve(91, |i| val[i]);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
    // Validation that follows training down out of its quiet stretch and then climbs steadily
    // by as much is overfitting.
    let mut climbing = val[..45].to_vec();
    climbing.extend((0..20).map(|i| 0.100 - 0.0015 * i as f64));
    climbing.extend((0..26).map(|i| 0.0715 + 0.0013 * i as f64));
    run.val_loss = curve(91, |i| climbing[i]);
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
}

#[test]
fn a_late_steady_climb_is_measured_at_its_end_not_over_a_sixth_of_the_run() {
    // 100 epochs: validation bottoms at 0.823 at epoch 74, then climbs steadily (+1.5e-3 an
    // epoch, ±4e-4) to 0.861 while training falls 0.70 -> 0.44. The median of the last sixth
    // (16 epochs) reaches back into the climb and reads a rise under 2 %.
    let mut rng = crate::detect::test_support::Noise::new(7);
    let val: Vec<f64> = (0..100)
        .map(|i| {
            let e = i as f64;
            let trend = if i < 74 {
                0.823 + 0.4 * (-(e / 12.0)).exp() + 0.02 * (1.0 - e / 74.0)
            } else {
                0.823 + 0.0015 * (e - 73.0)
            };
            trend + 0.0004 * rng.normal()
        })
        .collect();
    let mut run = run_with(
        curve(100, |i| 0.44 + 1.1 * (-(i as f64) / 45.0).exp()),
        None,
    );
    run.val_loss = curve(100, |i| val[i]);
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
}

#[test]
fn validation_higher_at_each_of_eight_epochs_after_its_best_is_overfitting_though_small() {
    // A 10-epoch translation model: training falls 5.90 -> 4.02 while validation bottoms at
    // 4.712 (epoch 2) and then rises at every epoch to 4.811 (+2 %, +1.9 % from the 3-point
    // median's best): small, but no noise orders eight evaluations like that.
    let train = [
        5.905, 5.023, 4.603, 4.402, 4.300, 4.207, 4.145, 4.097, 4.061, 4.022,
    ];
    let val = [
        4.8919, 4.7115, 4.7235, 4.724, 4.7487, 4.7587, 4.7649, 4.781, 4.8085, 4.8112,
    ];
    let mut run = run_with(crate::detect::test_support::per_epoch(&train), None);
    run.val_loss = crate::detect::test_support::per_epoch(&val);
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
    // The same evaluations, one of them out of order: a 2 % rise is needed again.
    let mut wobbly = val;
    wobbly.swap(5, 6);
    run.val_loss = crate::detect::test_support::per_epoch(&wobbly);
    let f = overfitting(&Ctx::new(&run));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn two_evaluations_above_the_best_need_the_gap_to_training_to_grow() {
    // An imputation model validated on a different, easier metric (validation 3x below
    // training): validation 0.116, 0.162, 0.123, 0.145 over epochs 8-11 (the smoothed best is
    // epoch 9, two evaluations before the end) while training keeps falling 0.49 -> 0.42. The
    // gap never grows (validation stays far below training): two evaluations above a noisy
    // best are not memorising (a SAITS run from a PyPOTS issue thread).
    let train = [
        1.04, 0.766, 0.711, 0.674, 0.615, 0.584, 0.544, 0.489, 0.463, 0.457, 0.424,
    ];
    let val = [
        0.481, 0.449, 0.380, 0.352, 0.327, 0.271, 0.180, 0.116, 0.162, 0.123, 0.145,
    ];
    let mut run = run_with(crate::detect::test_support::per_epoch(&train), None);
    run.val_loss = crate::detect::test_support::per_epoch(&val);
    let f = overfitting(&Ctx::new(&run));
    assert!(f.is_empty(), "{f:?}");
    // The same two evaluations climbing above training: the gap grew, overfitting.
    let mut above = val;
    above[9] = 0.52;
    above[10] = 0.60;
    run.val_loss = crate::detect::test_support::per_epoch(&above);
    assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
}

#[test]
fn four_climbs_in_a_row_while_the_gap_to_training_doubles_are_overfitting() {
    // A 10-epoch word LM: training falls 6.11 -> 3.26 while validation bottoms at 4.734
    // (epoch 6) and climbs at each of the four epochs after it to 4.813 (+1.7 %); the gap to
    // training grows from 0.56 to 1.56.
    let train = [
        6.111, 5.430, 5.067, 4.744, 4.445, 4.176, 3.914, 3.675, 3.458, 3.255,
    ];
    let val = [
        5.270, 5.046, 4.870, 4.806, 4.751, 4.734, 4.741, 4.758, 4.783, 4.813,
    ];
    let mut run = run_with(crate::detect::test_support::per_epoch(&train), None);
    run.val_loss = crate::detect::test_support::per_epoch(&val);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    // The same climb beside training that falls slowly (the gap grows 0.33 -> 0.61, short of
    // doubling): four climbs in a row alone are not enough.
    let slow = [
        6.111, 5.430, 5.067, 4.744, 4.500, 4.400, 4.350, 4.300, 4.250, 4.200,
    ];
    let mut run = run_with(crate::detect::test_support::per_epoch(&slow), None);
    run.val_loss = crate::detect::test_support::per_epoch(&val);
    let f = overfitting(&Ctx::new(&run));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn validation_climbing_at_every_evaluation_after_its_best_is_sustained_however_small_its_first_steps(
) {
    // A char-LSTM fine-tune on a tiny set (task run t2-002): validation bottoms at 2.093 and
    // climbs at each of its seven later evaluations to 2.120 (+1.3 %) while training falls
    // 1.58 → 1.46. Half its later points sit within 1 % of the best, but seven climbs in a row
    // are no noise (1 in 5040), and the gap to training grew by a third, not twofold.
    let val = [
        (35.0, 2.41551),
        (70.0, 2.22171),
        (105.0, 2.15094),
        (140.0, 2.12648),
        (175.0, 2.11401),
        (210.0, 2.1054),
        (245.0, 2.09833),
        (280.0, 2.09599),
        (315.0, 2.09372),
        (350.0, 2.09265),
        (385.0, 2.09718),
        (420.0, 2.09814),
        (455.0, 2.10181),
        (490.0, 2.10437),
        (525.0, 2.11142),
        (560.0, 2.11491),
        (595.0, 2.1195),
    ];
    let train = curve(120, |i| {
        1.45 + 1.2 * (-(i as f64) / 12.0).exp() + 0.3 * (1.0 - i as f64 / 120.0)
    });
    let mut run = run_with(
        train
            .into_iter()
            .map(|p| Point {
                step: 5.0 * (p.step + 1.0),
                ..p
            })
            .collect(),
        None,
    );
    run.val_loss = at_steps(&val);
    let f = overfitting(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    // The same evaluations with one step down among the later ones climb in no order that
    // proves anything by itself: too small a rise for a wandering one.
    let mut wandering = val;
    wandering[13].1 = 2.0990;
    run.val_loss = at_steps(&wandering);
    assert!(overfitting(&Ctx::new(&run)).is_empty());
}
