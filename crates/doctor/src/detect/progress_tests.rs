//! Tests of the progress judgement: constructed curves for each way a run stalls, and the
//! healthy near-misses.
use super::*;
use crate::detect::test_support::{curve, noisy, run_with, Noise};
use crate::Point;

fn kinds(run: &crate::Run) -> Vec<FindingKind> {
    detect(&Ctx::new(run), &[]).iter().map(|f| f.kind).collect()
}

#[test]
fn healthy_power_law_decay_is_progress_not_a_plateau() {
    let run = run_with(
        noisy(800, 0.04, 1, |i| {
            1.2 + 3.0 / (1.0 + i as f64 / 20.0).powf(0.45)
        }),
        Some(65),
    );
    assert!(kinds(&run).is_empty());
}

#[test]
fn batch_four_noise_with_steady_decline_is_healthy() {
    let run = run_with(
        noisy(4000, 0.35, 2, |i| {
            1.3 + 2.9 / (1.0 + i as f64 / 40.0).powf(0.4)
        }),
        Some(65),
    );
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
}

#[test]
fn a_short_healthy_run_is_not_judged_stalled() {
    let run = run_with(
        noisy(50, 0.03, 3, |i| 2.2 + 2.0 * (-(i as f64) / 15.0).exp()),
        Some(65),
    );
    assert!(kinds(&run).is_empty());
}

#[test]
fn a_fast_drop_then_a_wide_band_is_oscillation_and_stagnation() {
    // SGD at a high LR with batch 2: down from 4.2 to ~2 in 100 steps, then a band of
    // ±14% with a trace of a slope, validation above it.
    let mut rng = Noise::new(21);
    let loss: Vec<Point> = curve(3000, |i| {
        2.0 + 2.2 * (-(i as f64) / 30.0).exp() - 1e-5 * i as f64
    })
    .into_iter()
    .map(|p| Point {
        value: p.value * (1.0 + 0.14 * rng.normal()),
        ..p
    })
    .collect();
    let mut run = run_with(loss, Some(65));
    run.val_loss = curve(3000, |_| 2.15).into_iter().step_by(100).collect();
    assert_eq!(
        kinds(&run),
        vec![FindingKind::Oscillation, FindingKind::Stagnation],
        "{:?}",
        detect(&Ctx::new(&run), &[])
    );
}

#[test]
fn a_language_model_falling_in_a_wide_band_is_oscillation() {
    // Still improving on the log-step axis, but each logged loss bursts upward (log-normal
    // swings of ±30%), as after bad optimizer steps; symmetric batch-size noise of the same
    // width is healthy (see `batch_four_noise_with_steady_decline_is_healthy`), so is ±3%,
    // and without a known vocabulary (a classifier's small batches) nothing is said.
    let band = |sd: f64, vocab: Option<usize>| {
        let mut rng = Noise::new(5);
        let loss: Vec<Point> = curve(1000, |i| 1.5 + 3.0 / (1.0 + i as f64 / 40.0).sqrt())
            .into_iter()
            .map(|p| Point {
                value: p.value * (sd * rng.normal()).exp(),
                ..p
            })
            .collect();
        kinds(&run_with(loss, vocab))
    };
    assert_eq!(band(0.3, Some(65)), vec![FindingKind::Oscillation]);
    assert!(band(0.03, Some(65)).is_empty());
    assert!(band(0.3, None).is_empty());
}

#[test]
fn a_classifier_pinned_at_ln_3_is_stagnation() {
    let mut run = run_with(noisy(13, 0.02, 9, |i| 1.10 - 0.003 * i as f64), None);
    run.val_loss = noisy(10, 0.004, 10, |_| 3f64.ln())
        .into_iter()
        .map(|p| Point {
            step: p.step * 13.0,
            ..p
        })
        .collect();
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
    // A classifier that learns leaves ln 3 behind.
    run.val_loss = noisy(10, 0.004, 10, |i| 1.0986 - 0.06 * i as f64)
        .into_iter()
        .map(|p| Point {
            step: p.step * 13.0,
            ..p
        })
        .collect();
    assert!(kinds(&run).is_empty());
}

#[test]
fn stuck_at_the_unigram_entropy_is_a_unigram_plateau() {
    let run = run_with(
        noisy(800, 0.04, 5, |i| 3.33 + 0.85 * (-(i as f64) / 6.0).exp()),
        Some(65),
    );
    assert_eq!(kinds(&run), vec![FindingKind::UnigramPlateau]);
}

#[test]
fn stuck_between_the_bigram_and_the_unigram_level_is_underfitting_not_a_unigram_plateau() {
    // V = 65 (ln V 4.17; unigram estimated 3.34, bigram 2.50): flat at 2.7, 20 % under the
    // unigram level, so the model uses some context; it is not predicting frequencies alone.
    let run = run_with(
        noisy(800, 0.04, 5, |i| 2.7 + 1.45 * (-(i as f64) / 6.0).exp()),
        Some(65),
    );
    assert_eq!(kinds(&run), vec![FindingKind::Underfitting]);
}

#[test]
fn fast_drop_then_flat_is_stagnation() {
    let run = run_with(
        noisy(800, 0.05, 6, |i| 1.8 + 2.4 * (-(i as f64) / 10.0).exp()),
        Some(65),
    );
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
}

#[test]
fn slow_progress_above_bigram_is_underfitting() {
    let run = run_with(
        noisy(800, 0.03, 8, |i| {
            2.4 + 1.8 / (1.0 + i as f64 / 10.0).powf(0.3)
        }),
        Some(65),
    );
    assert_eq!(kinds(&run), vec![FindingKind::Underfitting]);
}

#[test]
fn creeping_above_or_just_under_an_estimated_unigram_level_is_underfitting() {
    // A word model (V = 2000, ln V 7.6, unigram estimated 0.72 ln V = 5.47) creeping down a
    // power law with a small exponent: about 4 % of its level per doubling.
    let word = |floor: f64| {
        run_with(
            noisy(800, 0.03, 12, move |i| {
                floor + 2.0 / (1.0 + i as f64 / 5.0).powf(0.15)
            }),
            Some(2000),
        )
    };
    // Ends near 0.76 ln V, above the unigram level: not even token frequencies learned.
    let above = word(4.85);
    let found = detect(&Ctx::new(&above), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Underfitting);
    assert!(found[0].summary.contains("unigram"), "{}", found[0].summary);
    // Ends near 0.70 ln V, just under the estimate: real word text's unigram level lies
    // anywhere in 0.64-0.83 ln V, so a run creeping 2 % per doubling there has not clearly
    // left it.
    assert_eq!(kinds(&word(4.39)), vec![FindingKind::Underfitting]);
    // With the unigram level measured (5.47), just under it a run may be leaving it: too
    // close to call.
    let mut measured = word(4.39);
    measured.references.unigram = Some(0.72 * 2000f64.ln());
    assert!(
        kinds(&measured).is_empty(),
        "{:?}",
        detect(&Ctx::new(&measured), &[])
    );
}

#[test]
fn a_run_stopped_above_the_unigram_level_is_underfitting_however_fast_it_falls() {
    // A word model (V = 2000, ln V 7.6, unigram estimated 0.72 ln V = 5.47) that left ln V
    // late (a slow warmup) and still falls ~20 % per doubling when stopped at step 300.
    let stopped_at = |end: f64| {
        run_with(
            noisy(300, 0.03, 21, move |i| {
                7.6 - (7.6 - end) * (i as f64 / 299.0).powi(2)
            }),
            Some(2000),
        )
    };
    // Ends at 5.6, above the unigram level: not even the word frequencies learned.
    let found = detect(&Ctx::new(&stopped_at(5.6)), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Underfitting);
    assert!(
        found[0].summary.contains("still falling"),
        "{}",
        found[0].summary
    );
    // The same run ending at 4.9, under it, is a young run still learning fast.
    assert!(
        kinds(&stopped_at(4.9)).is_empty(),
        "{:?}",
        detect(&Ctx::new(&stopped_at(4.9)), &[])
    );
}

#[test]
fn falling_slowly_from_ln_v_with_a_tiny_lr_is_barely_learning() {
    // LR 1e-4 with SGD: a char model (V = 51, ln V 3.93) creeps from 1.1 ln V to ~3.8 over the run,
    // a steady but tiny drop per doubling: stagnation (raise the LR), not underfitting.
    let run = run_with(
        noisy(150, 0.01, 13, |i| {
            1.1 * 51f64.ln() - 0.07 * ((i + 1) as f64).log2()
        }),
        Some(51),
    );
    let found = detect(&Ctx::new(&run), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].kind, FindingKind::Stagnation);
    assert!(
        found[0].summary.contains("barely learning"),
        "{}",
        found[0].summary
    );
}

#[test]
fn a_word_model_stuck_near_the_estimated_unigram_entropy_has_stalled() {
    // V = 2000 words (ln V 7.6): from 7.6 down to ~5.0 (0.66 ln V, within the ±10 % of the
    // unigram entropy of word text, estimated 0.72 ln V = 5.47) and stuck there. Estimated
    // from ln V alone, 9 % off is no evidence of a unigram plateau: a stall, the estimate
    // named in the summary.
    let run_to = |end: f64| {
        run_with(
            noisy(800, 0.03, 8, move |i| {
                end + (7.6 - end) * (-(i as f64) / 60.0).exp()
            }),
            Some(2000),
        )
    };
    let found = detect(&Ctx::new(&run_to(5.0)), &[]);
    assert_eq!(
        found.iter().map(|f| f.kind).collect::<Vec<_>>(),
        [FindingKind::Stagnation]
    );
    assert!(
        found[0].summary.contains("estimated"),
        "{}",
        found[0].summary
    );
    // Measured from the text, the same level is the unigram plateau.
    let mut measured = run_to(5.0);
    measured.references.unigram = Some(5.0);
    assert_eq!(kinds(&measured), vec![FindingKind::UnigramPlateau]);
    // Falling steadily on the log-step axis to 3.5 (0.46 ln V) is healthy.
    let healthy = run_with(
        noisy(800, 0.03, 8, |i| 3.0 + 4.6 / (1.0 + i as f64 / 10.0).sqrt()),
        Some(2000),
    );
    assert!(kinds(&healthy).is_empty());
    // Still falling, slowly (power law), at 0.6 ln V: above the estimated bigram level.
    let slow = run_with(
        noisy(800, 0.03, 8, |i| {
            4.2 + 3.4 / (1.0 + i as f64 / 10.0).powf(0.3)
        }),
        Some(2000),
    );
    assert_eq!(kinds(&slow), vec![FindingKind::Underfitting]);
}

#[test]
fn flat_at_the_data_floor_is_converged_not_stalled() {
    // Flat for 2,600 steps at 1.9 (V = 47: 0.82 of the estimated bigram level 2.31) reads as a
    // stall; 2 % above the corpus' floor it is converged.
    let mut run = run_with(
        noisy(3000, 0.01, 3, |i| 1.9 + 1.9 * (-(i as f64) / 80.0).exp()),
        Some(47),
    );
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
    run.references.floor = Some(1.87);
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
}

#[test]
fn flat_far_past_the_bigram_level_is_converged_not_stalled() {
    // rnnlab's default run: ln V 3.85 down to 0.826 in 400 steps, then flat for 2,600 steps,
    // a third of the estimated bigram level: the model learned what it can, floor or none.
    // (Generated char runs flat at 1.5-1.7 with V ≈ 65 were called stalled the same way.)
    let run = run_with(
        noisy(3000, 0.01, 3, |i| 0.826 + 3.0 * (-(i as f64) / 80.0).exp()),
        Some(47),
    );
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
    let char_run = run_with(
        noisy(800, 0.03, 6, |i| 1.6 + 2.5 * (-(i as f64) / 10.0).exp()),
        Some(65),
    );
    assert!(kinds(&char_run).is_empty(), "{:?}", kinds(&char_run));
    // Near the bigram level the same shape is still a stall (see fast_drop_then_flat…).
    let near = run_with(
        noisy(800, 0.03, 6, |i| 2.1 + 2.0 * (-(i as f64) / 10.0).exp()),
        Some(65),
    );
    assert_eq!(kinds(&near), vec![FindingKind::Stagnation]);
}

#[test]
fn a_language_model_at_ln_v_all_run_is_stalled_even_when_the_lr_anneals() {
    // An LR far too low, step-decayed: the loss never leaves ln V = ln 79, and the LR falls
    // under a quarter of its peak early, so the usual judging window is too short.
    let ln_v = 79f64.ln();
    let mut run = run_with(noisy(41, 0.002, 31, |i| ln_v - 0.0005 * i as f64), Some(79));
    run.lr = curve(41, |i| 1e-6 * 0.1f64.powi((i / 10) as i32));
    assert_eq!(kinds(&run), [FindingKind::Stagnation]);
    // The same run learning from ln V is not stuck there.
    let mut learning = run_with(
        noisy(41, 0.002, 31, |i| {
            2.0 + (ln_v - 2.0) * (-(i as f64) / 5.0).exp()
        }),
        Some(79),
    );
    learning.lr = run.lr.clone();
    assert!(kinds(&learning).is_empty(), "{:?}", kinds(&learning));
}

#[test]
fn a_slow_steady_fall_well_past_the_bigram_level_is_converging_not_stalled() {
    // A small char model (V = 49, bigram estimated 2.3) drops fast to ~1.6, then keeps falling
    // 0.04 nats per doubling of steps with a narrow band.
    let slow_tail = |floor: f64| {
        move |i: usize| {
            let t = (i + 1) as f64;
            floor + 2.3 * (-t / 12.0).exp() - 0.04 * (t / 60.0).max(1.0).log2()
        }
    };
    let run = run_with(noisy(250, 0.02, 51, slow_tail(1.6)), Some(49));
    assert!(kinds(&run).is_empty(), "{:?}", kinds(&run));
    // Ending near 2.02 (0.52 ln V) is past the bigram level of English characters (0.40–0.58
    // ln V measured, 0.6 estimated): converging too.
    let run = run_with(noisy(250, 0.02, 51, slow_tail(2.1)), Some(49));
    assert!(kinds(&run).is_empty(), "{:?}", kinds(&run));
    // The same pace at 2.6, above the bigram level, is a model that stopped learning early.
    let run = run_with(noisy(250, 0.02, 51, slow_tail(2.6)), Some(49));
    let stall_family = [
        FindingKind::Stagnation,
        FindingKind::Underfitting,
        FindingKind::UnigramPlateau,
    ];
    assert!(
        kinds(&run).iter().any(|k| stall_family.contains(k)),
        "{:?}",
        kinds(&run)
    );
}

#[test]
fn a_classifier_whose_lr_is_cut_on_a_plateau_from_the_start_is_stalled() {
    // ReduceLROnPlateau halves the LR from epoch 5 on because nothing improves: 35 epochs,
    // training 0.551 -> 0.524, validation 0.551 -> 0.5465 and flat. The cuts froze the run;
    // they do not explain why it never left its start.
    let mut run = run_with(
        crate::detect::test_support::per_epoch(
            &(0..35)
                .map(|e| 0.5245 + 0.027 * (-(e as f64) / 8.0).exp())
                .collect::<Vec<_>>(),
        ),
        None,
    );
    run.val_loss = crate::detect::test_support::per_epoch(
        &(0..35)
            .map(|e| 0.5465 + 0.005 * (-(e as f64) / 3.0).exp())
            .collect::<Vec<_>>(),
    );
    run.lr = crate::detect::test_support::per_epoch(
        &(0..35)
            .map(|e: i32| 1e-3 * 0.25f64.powi((e - 3).max(0) / 4))
            .collect::<Vec<_>>(),
    );
    assert_eq!(kinds(&run), [FindingKind::Stagnation]);
}

#[test]
fn a_regression_is_judged_by_its_relative_pace_not_nats() {
    // An MSE at ~55 creeping 10 % over 20 epochs (1.5 "nats" per doubling, 3 % in log terms)
    // while validation scatters around 60 with no progress: stalled.
    let mut rng = Noise::new(61);
    let mut run = run_with(
        (1..=21)
            .map(|e| Point {
                step: 250.0 * e as f64 - 1.0,
                value: if e == 1 { 154.6 } else { 58.0 - 0.3 * e as f64 },
            })
            .collect(),
        None,
    );
    run.val_loss = (1..=21)
        .map(|e| Point {
            step: 250.0 * e as f64 - 1.0,
            value: 59.5 + 4.0 * rng.normal(),
        })
        .collect();
    let k = kinds(&run);
    assert!(
        k.contains(&FindingKind::Stagnation) || k.contains(&FindingKind::Oscillation),
        "{k:?}"
    );
}

#[test]
fn stuck_at_the_unigram_level_in_a_wide_band_is_also_oscillation() {
    // SGD at a far too high LR: a char model (V = 65) drops to ~3.3, the estimated unigram
    // level, and bounces ±12 % there; the band says the LR, the level says what was learned.
    let run = run_with(
        noisy(500, 0.4, 71, |i| 3.3 + 0.9 * (-(i as f64) / 5.0).exp()),
        Some(65),
    );
    let k = kinds(&run);
    assert!(k.contains(&FindingKind::Oscillation), "{k:?}");
    // Whether the level is named a unigram plateau depends on how close the noisy level
    // sits to the estimated unigram entropy (within 1.5 %); a stall either way.
    assert!(
        k.contains(&FindingKind::UnigramPlateau) || k.contains(&FindingKind::Stagnation),
        "{k:?}"
    );
}

#[test]
fn per_batch_noise_without_a_trend_is_no_stall_while_each_evaluation_improves() {
    // A Lightning classifier logging one batch's loss every 50 steps: 1.1 down to a ±40 %
    // band around 0.18, while its three epoch evaluations fall 0.254 → 0.203 → 0.168.
    let mut rng = Noise::new(5);
    let loss: Vec<Point> = curve(46, |i| 0.18 + 0.9 * (-(i as f64) / 2.0).exp())
        .into_iter()
        .map(|p| Point {
            step: 49.0 + 50.0 * p.step,
            value: (p.value * (1.0 + 0.4 * rng.normal())).max(0.01),
        })
        .collect();
    let mut run = run_with(loss, None);
    let evals = [(781.0, 0.2543), (1563.0, 0.2034), (2299.0, 0.1682)];
    run.val_loss = crate::detect::test_support::at_steps(&evals);
    let k = kinds(&run);
    assert!(!k.contains(&FindingKind::Stagnation), "{k:?}");
    // Evaluations that stand still leave the stall standing.
    run.val_loss = evals
        .iter()
        .map(|&(step, _)| Point { step, value: 0.2 })
        .collect();
    assert!(
        kinds(&run).contains(&FindingKind::Stagnation),
        "{:?}",
        kinds(&run)
    );
}

#[test]
fn a_plateau_that_ignores_an_lr_cut_is_not_an_lr_too_high() {
    // Down fast to ~1.8, then flat; the step schedule cuts the LR ×0.3 at step 400 and the
    // loss does not answer: the model is at what it can reach, not bouncing on a high LR.
    let mut run = run_with(
        noisy(800, 0.05, 6, |i| 1.8 + 2.4 * (-(i as f64) / 10.0).exp()),
        Some(65),
    );
    let flat = kinds(&run);
    assert_eq!(flat, vec![FindingKind::Stagnation]);
    run.lr = curve(800, |i| if i < 400 { 1e-3 } else { 3e-4 });
    let k = kinds(&run);
    assert!(!k.contains(&FindingKind::Stagnation), "{k:?}");
}

#[test]
fn a_loss_still_falling_steadily_with_no_reference_is_converging_not_stalled() {
    // MAE pre-training, one line every 5 epochs: 0.755 → 0.26 by epoch 50, then 0.244 at 115
    // down to 0.223 at 634, smoothly (the reconstruction loss has no noise to speak of): 3–4 %
    // per doubling of steps, far clear of its noise, is progress, not a plateau. Had read as
    // "stops improving after a fast early drop".
    let mae = |tail_rate: f64| {
        curve(128, |i| {
            let epoch = 5.0 * i as f64 + 1.0;
            let fast = 0.5 * (-epoch / 12.0).exp();
            0.2443 * (epoch / 115.0).powf(-tail_rate) + fast
        })
    };
    let run = run_with(mae(0.055), None);
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
    // The same shape at 1 % per doubling has stopped.
    let run = run_with(mae(0.014), None);
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
}

#[test]
fn a_long_per_epoch_log_that_gains_almost_nothing_is_stagnation() {
    // A segmentation net's epoch means: 0.1459, 0.1335, 0.1301 at epoch 11, 0.1286 at 21, then
    // 0.1259 at epoch 100 (±0.2 % noise). The fast drop sits inside the first epochs; the last
    // 80 gain 2 %.
    let knots = [
        (1.0, 0.1459),
        (2.0, 0.1335),
        (11.0, 0.1301),
        (21.0, 0.1286),
        (51.0, 0.1276),
        (100.0, 0.1259),
    ];
    let at = |e: f64, scale_tail: f64| {
        let k = knots
            .windows(2)
            .find(|w| e <= w[1].0)
            .unwrap_or(&knots[4..6]);
        let (a, b) = (k[0], k[1]);
        let v = a.1 + (b.1 - a.1) * (e - a.0) / (b.0 - a.0);
        // Scale the descent after epoch 21 to make a run that still converges.
        if e > 21.0 {
            0.1286 - scale_tail * (0.1286 - v)
        } else {
            v
        }
    };
    let run = |scale_tail: f64| {
        let mut rng = Noise::new(7);
        let points: Vec<Point> = (1..=100)
            .map(|e| Point {
                step: e as f64,
                value: at(e as f64, scale_tail) * (1.0 + 0.002 * rng.normal()),
            })
            .collect();
        run_with(points, None)
    };
    assert_eq!(kinds(&run(1.0)), vec![FindingKind::Stagnation]);
    // Falling three times as fast over those epochs (6 %), it is still converging.
    let converging = run(3.0);
    assert!(
        kinds(&converging).is_empty(),
        "{:?}",
        detect(&Ctx::new(&converging), &[])
    );
}

#[test]
fn a_log_with_a_gap_is_judged_whole_not_on_its_last_sliver() {
    // A batch-2 fine-tune (blind batch 114) logged its first 60 batches and the last 81 of its
    // second epoch (steps 20129-20209): per-batch losses scatter ±37 % around 1.7, then around
    // 0.85. The last two doublings of steps hold only that final sliver of 0.006 doublings,
    // whose slope is noise; the whole log shows the level halving.
    let mut rng = Noise::new(11);
    let mut loss: Vec<Point> = (0..60)
        .map(|i| Point {
            step: i as f64,
            value: (1.7 * (1.0 + 0.37 * rng.normal())).max(0.1),
        })
        .collect();
    loss.extend((20129..20210).map(|s| Point {
        step: s as f64,
        value: (0.85 * (1.0 + 0.37 * rng.normal())).max(0.05),
    }));
    let found = kinds(&run_with(loss, None));
    assert!(
        !found.contains(&FindingKind::Stagnation) && !found.contains(&FindingKind::Oscillation),
        "{found:?}"
    );
}

#[test]
fn a_stall_after_a_modest_fall_says_it_fell_and_does_not_ask_for_a_tenfold_lr() {
    // An LLM fine-tune's first page (LLaMA-Factory, fresh published batch 431): 2.35 → 2.05
    // over 15 logs, then 2.05 → 2.02 over 60 more. It moved (14 %), so "barely moves from
    // where it started" and "raise the LR ×10" were wrong; it stalled after falling.
    let loss: Vec<Point> = noisy(77, 0.004, 43, |i| 2.015 + 0.34 * (-(i as f64) / 6.0).exp())
        .into_iter()
        .map(|p| Point {
            step: 5.0 * (p.step + 1.0),
            ..p
        })
        .collect();
    let f = detect(&Ctx::new(&run_with(loss, None)), &[]);
    let stall = f
        .iter()
        .find(|f| f.kind == FindingKind::Stagnation)
        .expect("a stall");
    assert!(
        stall.summary.contains("after falling from"),
        "{}",
        stall.summary
    );
    assert!(!stall.advice.contains("×10"), "{}", stall.advice);
    // A run that never left its start still says so.
    let f = detect(
        &Ctx::new(&run_with(noisy(77, 0.004, 43, |_| 2.35), None)),
        &[],
    );
    assert!(
        f.iter().any(|f| f.summary.contains("barely moves")),
        "{f:?}"
    );
}
