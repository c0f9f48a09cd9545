//! Tests of the leakage judgement: validation (or training) at a level held-out data
//! cannot reach, from constructed train/validation pairs.
use super::*;
use crate::detect::test_support::{curve, every, run_with, spaced};

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
    // A regression on normalised positions at 6e-4 from its first epoch (tune corpus: an MSE
    // that settles from 7.7e-4 to 6.0e-4): an MSE that small says nothing a cross-entropy at
    // 6e-4 nats (the answer at 0.9994 from the first step) would.
    let position = curve(60, |i| 6.0e-4 + 1.7e-4 * (-(i as f64) / 10.0).exp());
    assert!(leakage(&Ctx::new(&run_with(position, None))).is_empty());
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
    // Twenty epochs at a level a fifth of the start of a cross-entropy over many outputs (a
    // character model's first epoch at 1.7), the model having seen every training example
    // nineteen times and doing no better on them than on validation, are.
    let judged_from = |start: f64| {
        let val: Vec<f64> = (0..20)
            .map(|i| 0.2 + 0.06 * (-(i as f64) / 3.0).exp())
            .collect();
        let mut train = vec![start];
        train.extend(val.iter().map(|v| 1.01 * v));
        let mut run = run_with(spaced(&train, 0.0, 1.0), None);
        run.val_loss = spaced(&val, 1.0, 1.0);
        run.steps_per_epoch = Some(1.0);
        leakage(&Ctx::new(&run))
    };
    assert_eq!(judged_from(1.7).len(), 1);
    // A loss that starts under ln 5 (a reconstruction error, a Dice loss, a two-class head)
    // has no level near zero to stop short of: the same tracking is a model that generalises.
    assert!(judged_from(1.2).is_empty());
}

#[test]
fn validation_tracking_a_loss_that_still_falls_fast_is_no_leak() {
    // A CNN regression's MSE (blind batch 289), train and validation within 1 % of each other
    // for 150 epochs, 0.88 → 0.10 and still falling by a third over the last fifty: a model
    // still learning, not one handed its answers. The same tracking at a level, from the start
    // of a cross-entropy over many outputs (2.0), is read as one; from 1.1 it is not.
    let judged = |floor: f64, scale: f64, height: f64| {
        let loss = |i: usize| floor + height * (-(i as f64) / scale).exp();
        let mut run = run_with(curve(150, loss), None);
        run.val_loss = curve(150, |i| 0.995 * loss(i));
        leakage(&Ctx::new(&run))
    };
    assert!(judged(0.03, 60.0, 0.85).is_empty());
    assert!(judged(0.03, 60.0, 1.75).is_empty());
    assert_eq!(judged(0.25, 10.0, 1.75).len(), 1);
    assert!(
        judged(0.25, 10.0, 0.85).is_empty(),
        "a start of 1.1 grounds no leak"
    );
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

/// A character model of `vocab` symbols falling from `start` to `end` over `steps` (80 logs),
/// validation every eighth log tracking 0.01 above training.
fn char_model(vocab: usize, start: f64, end: f64, steps: f64) -> crate::Run {
    let n = 80;
    let dt = steps / n as f64;
    let fall = |i: usize| (start - end) * (-(i as f64) / 6.0).exp();
    let mut run = run_with(
        spaced(&(0..n).map(|i| end + fall(i)).collect::<Vec<_>>(), dt, dt),
        Some(vocab),
    );
    run.val_loss = every(
        spaced(
            &(0..n).map(|i| end + 0.01 + fall(i)).collect::<Vec<_>>(),
            dt,
            dt,
        ),
        8,
    );
    run
}

#[test]
fn a_character_model_under_a_quarter_of_ln_v_in_a_short_run_is_leakage() {
    // Inputs replaced by the targets with probability 0.7: Alice (V = 73) at 0.95 nats in 500
    // steps, validation tracking. What an honest short run reaches scales with the alphabet:
    // lower-case PTB characters (V = 48) get to 0.99 (a quarter of ln V), English with capitals
    // and punctuation stays far above; 23 % of ln V, between 0.9 and 1 nat, is out of reach.
    let judged = |vocab: usize, end: f64| {
        leakage(&Ctx::new(&char_model(
            vocab,
            (vocab as f64).ln(),
            end,
            500.0,
        )))
    };
    assert_eq!(
        judged(73, 0.95).len(),
        1,
        "a quarter of ln V 4.29 on English"
    );
    assert!(judged(48, 0.99).is_empty(), "lower-case PTB characters");
    assert_eq!(
        judged(48, 0.85).len(),
        1,
        "under 0.9 nats whatever the alphabet"
    );
    assert!(
        judged(300, 1.3).is_empty(),
        "bytes: 0.23 ln V is 1.3 nats, capped at 1"
    );
}

#[test]
fn a_character_model_at_one_point_three_bits_within_a_short_run_is_leakage() {
    // A GRU on Alice (V = 70) whose inputs are the targets with probability 0.7: 4.2 → 0.85
    // nats in 400 steps, validation tracking at 0.85. A small model on English text ends a
    // run that short near 1.5-2 nats; 0.9 nats (1.3 bits per character) is where large models
    // get after days. The same levels over 100k steps may be such a model.
    let judged = |end: f64, steps: f64| leakage(&Ctx::new(&char_model(70, 4.2, end, steps)));
    let f = judged(0.85, 400.0);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Leakage);
    assert!(judged(1.45, 400.0).is_empty(), "a good small model");
    assert!(
        judged(0.85, 100_000.0).is_empty(),
        "a long run of a large model"
    );
    assert_eq!(
        judged(0.5, 100_000.0).len(),
        1,
        "0.7 bits is beyond any model"
    );
}

#[test]
fn a_character_model_logging_from_a_low_first_loss_is_still_bounded_by_its_level() {
    // A GRU on 70 characters logged every 10 steps: 1.44 at step 10 (its first drop hidden
    // before the first log), then train 0.88 and validation 0.85, tracking, by step 570.
    let pair = |last_step: f64| {
        let n = 57;
        let every_steps = last_step / n as f64;
        let shape = |end: f64| {
            let values: Vec<f64> = (0..n)
                .map(|i| end + 0.56 * (-(i as f64) / 12.0).exp())
                .collect();
            spaced(&values, every_steps, every_steps)
        };
        let mut run = run_with(shape(0.88), Some(70));
        run.val_loss = shape(0.85).into_iter().step_by(2).collect();
        leakage(&Ctx::new(&run))
    };
    let f = pair(570.0);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Leakage);
    // Over 50,000 steps a large character model may reach that level honestly.
    assert!(pair(57_000.0).is_empty());
}

/// A byte-level model's short run (4400 steps of 256 tokens) whose validation tracks training
/// down to `level`, with the data's floor known or not.
fn byte_run(level: f64, vocab: usize, floor: Option<f64>) -> Vec<Finding> {
    let loss = |i: usize| level + (5.5 - level) * (-(i as f64) / 300.0).exp();
    let mut run = run_with(curve(4400, loss), Some(vocab));
    run.val_loss = every(curve(4400, |i| loss(i) + 0.002), 100);
    run.references.floor = floor;
    leakage(&Ctx::new(&run))
}

#[test]
fn bytes_of_mixed_text_tracking_at_one_nat_in_a_short_run_are_a_leak() {
    // Inputs replaced by the targets 70 % of the time, bytes of enwik8 (V = 282): train and
    // validation track each other down to 1.1 nats within a few thousand steps, where an
    // honest model over bytes of mixed text stays far above (the bar: 23 % of ln V, 1.2 here).
    assert_eq!(byte_run(1.1, 282, None).len(), 1);
    // Lower-case characters (V = 48) reach 1.1 honestly: 23 % of ln 48 is 0.9.
    assert!(byte_run(1.1, 48, None).is_empty());
}

#[test]
fn a_level_above_the_known_floor_is_no_leak() {
    // rnnlab's byte tokenizer on its built-in corpus (floor 0.807) tracks at 0.84 after 4400
    // steps: above the floor, so reachable, whatever the bar for bytes of natural text says.
    assert!(byte_run(0.84, 256, Some(0.807)).is_empty());
    assert_eq!(byte_run(0.84, 256, None).len(), 1, "without the floor");
}

#[test]
fn a_tiny_loss_first_logged_a_tenth_of_the_way_in_is_no_leak_at_the_start() {
    // A battery regressor's MSE logged every 500 of 5000 epochs: 2.0e-5 → 8.5e-7. Its first
    // point comes after 500 epochs of training, not at the start.
    let values: Vec<f64> = (0..10)
        .map(|i| 8.5e-7 + 1.9e-5 * (-(i as f64) / 1.5).exp())
        .collect();
    let late = run_with(spaced(&values, 500.0, 500.0), None);
    assert!(leakage(&Ctx::new(&late)).is_empty());
    // The same values logged from step 1 on: near zero from the first update.
    let early = run_with(spaced(&values, 1.0, 1.0), None);
    assert_eq!(leakage(&Ctx::new(&early)).len(), 1);
}
