//! Tests of the progress judgement by what a run has to measure against: its measured reference
//! levels (the unigram and bigram entropies of its data: how near the bigram level is near
//! enough), and its evaluations where it has none.
use super::*;
use crate::detect::test_support::{curve, noisy, run_with, Noise};
use crate::Point;

fn kinds(run: &crate::Run) -> Vec<FindingKind> {
    detect(&Ctx::new(run), &[]).iter().map(|f| f.kind).collect()
}

/// A run measured against its own levels, `unigram` and `bigram`.
fn with_levels(mut run: crate::Run, unigram: f64, bigram: f64) -> crate::Run {
    run.references.unigram = Some(unigram);
    run.references.bigram = Some(bigram);
    run
}

#[test]
fn slow_progress_that_reaches_the_bigram_level_within_a_doubling_and_a_half_is_not_underfitting() {
    // A small character model (ln V 4.17, unigram 3.33 and bigram 2.52 measured) ending 0.17
    // nats above the bigram level after 600 steps, falling ~5 % of its level per doubling:
    // under a doubling and a half of the run takes it there, so it is learning, not stuck.
    let with_bigram = |bigram: f64| {
        let run = run_with(
            noisy(600, 0.02, 31, |i| {
                2.35 + 2.3 / (1.0 + i as f64 / 8.0).powf(0.45)
            }),
            Some(65),
        );
        with_levels(run, 3.33, bigram)
    };
    assert_eq!(kinds(&with_bigram(2.52)), vec![]);
    // The same pace against a bigram level far below: many doublings away.
    assert_eq!(kinds(&with_bigram(1.9)), vec![FindingKind::Underfitting]);
}

#[test]
fn slow_progress_within_a_third_of_the_unigram_to_bigram_gap_is_not_underfitting() {
    // A word model (V = 500, ln V 6.21; unigram 4.40 and bigram 3.34 measured) crawling at
    // ~2 % of its level per doubling and ending at 3.58: 0.24 (7 %) above the bigram level, a
    // quarter of the way back to the unigram level. A lookup table of pairs on the training
    // text gets 3.34; a small recurrent model that close has learned what pairs give.
    let crawl = |end: f64| {
        let run = run_with(
            noisy(800, 0.01, 5, move |i| {
                end + 0.08 * (800.0 / (i as f64 + 1.0)).log2()
            }),
            Some(500),
        );
        with_levels(run, 4.4, 3.34)
    };
    assert_eq!(kinds(&crawl(3.58)), vec![]);
    // Halfway back to the unigram level at the same pace: underfitting.
    assert_eq!(kinds(&crawl(3.8)), vec![FindingKind::Underfitting]);
}

#[test]
fn a_flat_fine_tune_whose_every_evaluation_is_lower_is_not_stalled() {
    // A QLoRA chat fine-tune (no vocabulary given): 3.3 -> 1.2 in the first 300 steps, then
    // ~1.14 ± 0.04 to step 2200, evaluated every 200 steps at 1.199, 1.180, ... 1.101.
    let flat_after_drop = |val: Vec<f64>| {
        let mut run = run_with(
            noisy(2200, 0.04, 9, |i| {
                1.12 + 2.2 * (-(i as f64) / 60.0).exp() + 0.03 * (1.0 - i as f64 / 2200.0)
            }),
            None,
        );
        run.val_loss = val
            .iter()
            .enumerate()
            .map(|(k, &value)| crate::Point {
                step: 200.0 * (k + 1) as f64,
                value,
            })
            .collect();
        run
    };
    let falling: Vec<f64> = (0..11).map(|k| 1.199 - 0.0098 * k as f64).collect();
    assert_eq!(kinds(&flat_after_drop(falling.clone())), vec![]);
    // The same evaluations in a shuffled order: the stall stands.
    let mut wandering = falling;
    wandering.swap(3, 8);
    wandering.swap(5, 10);
    assert_eq!(
        kinds(&flat_after_drop(wandering)),
        vec![FindingKind::Stagnation]
    );
}

#[test]
fn a_word_model_crawling_well_above_half_of_ln_v_is_underfitting() {
    // A word model (V = 500, ln V 6.21, no levels measured) crawling at ~2 % of its level per
    // doubling and ending at 3.85 (0.62 ln V). Word text's bigram level sits near half of
    // ln V (3.1); taking the character share (0.6 ln V = 3.73) for any vocabulary under 512
    // called it at the bigram level, so healthy.
    let run = run_with(
        noisy(800, 0.01, 5, |i| {
            3.85 + 0.08 * (800.0 / (i as f64 + 1.0)).log2()
        }),
        Some(500),
    );
    assert_eq!(kinds(&run), vec![FindingKind::Underfitting]);
}

#[test]
fn a_model_that_fits_its_training_data_past_the_bigram_level_is_not_underfitting() {
    // A character model (V = 65, ln V 4.17; bigram estimated 0.6 ln V = 2.50) whose training
    // loss crawls down to 2.2 while validation, every 50 steps, creeps from 3.0 to 2.9: the
    // model fits what it trains on; the gap is generalisation, not a model too small.
    let mut run = run_with(
        noisy(800, 0.01, 7, |i| {
            2.2 + 0.08 * (800.0 / (i as f64 + 1.0)).log2()
        }),
        Some(65),
    );
    run.val_loss = (1..=16)
        .map(|k| crate::Point {
            step: 50.0 * k as f64,
            value: 3.0 - 0.1 * (k as f64 / 16.0),
        })
        .collect();
    assert!(!kinds(&run).contains(&FindingKind::Underfitting));
}

#[test]
fn a_small_batch_band_far_past_the_bigram_level_is_a_converged_run() {
    // A character model (V = 47, ln V 3.85; bigram estimated 2.31) at batch 2 × 16 tokens:
    // down to 1.4 nats, then each logged batch scatters ±9 % around it, independently and
    // symmetrically (a 32-token mean), and validation sits flat at the same level. Far past
    // the bigram level that band is the batches' sampling, not an LR too high to settle; a
    // band that bursts upward (the loss thrown up by overshooting steps) still is one.
    let band = |bursts: bool| {
        let mut rng = Noise::new(11);
        let loss: Vec<Point> = curve(600, |i| 1.4 + 0.8 * (-(i as f64) / 20.0).exp())
            .into_iter()
            .map(|p| {
                let n = rng.normal();
                let swing = if bursts { 0.25 * n.abs() } else { 0.09 * n };
                Point {
                    value: p.value * (1.0 + swing),
                    ..p
                }
            })
            .collect();
        let mut run = run_with(loss, Some(47));
        run.val_loss = curve(600, |_| 1.45).into_iter().step_by(50).collect();
        kinds(&run)
    };
    assert!(band(false).is_empty(), "{:?}", band(false));
    assert!(
        band(true).contains(&FindingKind::Oscillation),
        "{:?}",
        band(true)
    );
}

#[test]
fn without_a_reference_a_pace_that_slowed_after_a_fall_is_no_stall() {
    // A VAE's ELBO per epoch, 824 → 700 and flattening as the KL term settles, validation
    // beside it: nothing says 700 is not where this model and data end. Before, the pace
    // (under a quarter of its early one) made it a stall.
    let elbo = |i: usize| 700.0 + 124.0 * (-(i as f64) / 3.0).exp();
    let mut run = run_with(curve(30, elbo), None);
    // Its validation, first scored after an epoch, starts at 765: no fall of a tenth to
    // call the run settled by.
    run.val_loss = curve(30, |i| 700.0 + 65.0 * (-(i as f64) / 3.0).exp());
    assert!(kinds(&run).is_empty(), "{:?}", detect(&Ctx::new(&run), &[]));
    // Grounds for a stall stay: validation that never left its first evaluations ...
    run.val_loss = curve(30, |_| 760.0);
    assert_eq!(kinds(&run), vec![FindingKind::Stagnation]);
    // ... or a run that never left its start.
    let flat = run_with(curve(60, |i| 2.0 - 0.001 * i as f64), None);
    assert_eq!(kinds(&flat), vec![FindingKind::Stagnation]);
    // With a vocabulary (a reference level), the collapsed pace still says it.
    let lm = run_with(
        curve(200, |i| 2.6 + 1.6 * (-(i as f64) / 8.0).exp()),
        Some(65),
    );
    assert!(
        kinds(&lm).contains(&FindingKind::Stagnation),
        "{:?}",
        kinds(&lm)
    );
}
