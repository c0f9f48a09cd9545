//! Tests of the zero checks: a loss that reads exactly 0 (or float32's epsilon) where a mean
//! over tokens cannot.

use super::*;
use crate::detect::test_support::{curve, per_epoch, run_with, spaced};
use crate::Run;

fn zeros_of(run: &Run) -> Vec<Finding> {
    pinned_at_zero(&Ctx::new(run)).into_iter().collect()
}

/// `n` points falling geometrically from `start` by `factor` a point, logged as exactly 0 from
/// point `zero_from` on.
fn converging_then_zero(n: usize, zero_from: usize, start: f64, factor: f64) -> Run {
    run_with(
        curve(n, |i| {
            if i < zero_from {
                start * factor.powi(i as i32)
            } else {
                0.0
            }
        }),
        None,
    )
}

#[test]
fn a_loss_that_drops_to_exactly_zero_and_stays_is_invalid() {
    // An HF LoRA run: 1.0778 at step 1, then 0.0 with a NaN gradient norm for 11 steps.
    let run = run_with(curve(12, |i| if i == 0 { 1.0778 } else { 0.0 }), None);
    let f = zeros_of(&run);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::InvalidLoss);
    // A classifier converging toward zero reaches it gradually: not this.
    assert!(zeros_of(&converging_then_zero(40, 30, 0.5, 0.7)).is_empty());
}

#[test]
fn an_excerpt_whose_every_loss_is_exactly_zero_is_invalid() {
    // A LoRA fine-tune pasted from epoch 2.11 on: 'loss': 0.0 on all seven lines.
    let run = run_with(curve(7, |_| 0.0), None);
    let f = zeros_of(&run);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::InvalidLoss);
    assert_eq!(f[0].evidence["zero_points"], 7);
    // Four points are too few to say anything, and one real value among them is a log that
    // rounds a tiny loss, not a pinned one.
    assert!(zeros_of(&run_with(curve(4, |_| 0.0), None)).is_empty());
    let rounded = run_with(curve(7, |i| if i == 3 { 1e-4 } else { 0.0 }), None);
    assert!(zeros_of(&rounded).is_empty());
}

#[test]
fn a_loss_pinned_at_the_clip_floor_is_invalid() {
    // A Keras char LSTM (textgenrnn) per epoch: 3.04 → 0.439, then exactly 1.1921e-07 (the
    // floor of a cross-entropy clipped at 1 − 1e-7) for five epochs.
    let mut values = vec![3.0435, 1.7512, 1.3421, 1.2557, 0.439];
    values.extend([1.1921e-07; 5]);
    let run = run_with(crate::detect::test_support::per_epoch(&values), None);
    let f = zeros_of(&run);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].summary.contains("numerically zero"),
        "{}",
        f[0].summary
    );
    // Tiny values that still move (a classifier converging) are not pinned.
    let moving: Vec<f64> = (0..10)
        .map(|i| if i < 5 { 0.5 } else { 1e-7 * (1.0 + i as f64) })
        .collect();
    let run = run_with(crate::detect::test_support::per_epoch(&moving), None);
    assert!(zeros_of(&run).is_empty());
}

#[test]
fn a_log_that_ends_on_an_exact_zero_after_a_real_loss_is_invalid() {
    // tatsu-lab/stanford_alpaca: FSDP + bf16, 'loss': 1.0645, 1.157, 1.1938, then 0.0.
    let run = run_with(per_epoch(&[1.0645, 1.157, 1.1938, 0.0]), None);
    let f = zeros_of(&run);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].start_step, Some(4.0));
    // A loss printed to two decimals rounds 0.12 → 0.004 to 0.00: no drop from 0.5 or more.
    let rounded = run_with(per_epoch(&[0.3, 0.2, 0.12, 0.0]), None);
    assert!(zeros_of(&rounded).is_empty());
}

#[test]
fn a_loss_that_reads_zero_for_most_of_the_run_is_invalid_however_it_got_there() {
    // A QLoRA fine-tune run for 889 epochs of a tiny set: 0.0328 at step 10, then the HF
    // Trainer's four decimals read 0.0 at all 99 later logs.
    let run = run_with(curve(100, |i| if i == 0 { 0.0328 } else { 0.0 }), None);
    let f = zeros_of(&run);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::InvalidLoss);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].evidence["zero_points"], 99);
    // A converging run that reaches the logger's zero for its last third is no such run.
    assert!(zeros_of(&converging_then_zero(60, 40, 0.8, 0.8)).is_empty());
    // Nor one whose small loss the logger rounds to 0.0001 as often as to 0.0.
    let rounded = run_with(
        curve(60, |i| match i {
            0..=9 => 0.5 * 0.5f64.powi(i as i32),
            _ if i % 2 == 0 => 1e-4,
            _ => 0.0,
        }),
        None,
    );
    assert!(zeros_of(&rounded).is_empty());
}

#[test]
fn a_blow_up_between_two_stretches_of_zeros_does_not_hide_the_second() {
    // A Keras triplet network per epoch: 3278.58, 0.0, 778.32, then exactly 0.0 to epoch 10.
    let mut losses = vec![3278.58, 0.0, 778.32];
    losses.extend([0.0; 7]);
    let f = zeros_of(&run_with(per_epoch(&losses), None));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].start_step, Some(4.0));
    assert_eq!(f[0].severity, Severity::Error);
}

#[test]
fn a_loss_sunk_to_zero_with_validation_no_better_than_the_start_is_memorised() {
    // A two-class text classifier trained for 1500 steps on 128 examples, logged every 25:
    // 0.63, 0.028, then 0.0 to the end, while validation reads 1.727 at every evaluation,
    // above the 0.63 the run started from. The zeros are the training set learned by heart.
    let memorised = |val: f64| {
        let mut run = converging_then_zero(60, 2, 0.63, 0.044);
        run.val_loss = spaced(&[val; 7], 8.0, 8.0);
        zeros_of(&run)
    };
    let f = memorised(1.727);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Overfitting);
    assert!(is_memorised(&f[0]));
    assert!(!f[0].summary.contains("  "), "{}", f[0].summary);
    // Validation well under the start says the model learned something that carries over:
    // the zeros stay what they were (a loss that scores nothing it can still learn from).
    assert_eq!(memorised(0.2)[0].kind, FindingKind::InvalidLoss);
    // A log that starts at 0.04 was at zero before it began: nothing to compare with.
    let mut late = converging_then_zero(60, 2, 0.04, 0.3);
    late.val_loss = spaced(&[0.3132; 7], 8.0, 8.0);
    assert_eq!(zeros_of(&late)[0].kind, FindingKind::InvalidLoss);
}

#[test]
fn a_loss_that_falls_three_decades_at_once_still_shows_its_start() {
    // A two-class classifier on 128 examples, logged every 5 steps as means (task run 75-005):
    // 0.506, 9.4e-4, 2.8e-5, then ever smaller to 3.6e-8, while validation sits at 2.55-2.62,
    // above the 0.506 it started from. The median of the first three points (9.4e-4) is no
    // start: the first point is.
    let mut run = run_with(
        curve(160, |i| match i {
            0 => 0.506,
            _ => 1e-3 * 0.03f64.powf((i as f64 - 1.0) / 3.0).max(3.6e-5),
        }),
        None,
    );
    run.val_loss = spaced(&[2.618, 2.599, 2.579, 2.569, 2.563, 2.557], 16.0, 16.0);
    let f = zeros_of(&run);
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(is_memorised(&f[0]), "{f:?}");
}

#[test]
fn a_memorised_run_has_no_progress_to_judge() {
    // One event, one finding: no stall or band is read into the zeros after it.
    let mut run = converging_then_zero(60, 2, 0.63, 0.044);
    run.val_loss = spaced(&[1.727; 7], 8.0, 8.0);
    let d = crate::diagnose(&run);
    let kinds: Vec<FindingKind> = d.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec![FindingKind::Overfitting], "{kinds:?}");
}
