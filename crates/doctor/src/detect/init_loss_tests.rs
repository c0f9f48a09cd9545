//! Tests of the initial-loss check.

use super::*;
use crate::detect::test_support::{at_steps, curve, per_epoch, run_with};
use crate::Point;

#[test]
fn init_far_above_ln_v_is_flagged_and_near_it_is_not() {
    let high = run_with(
        curve(200, |i| 9.0 * (-(i as f64) / 20.0).exp() + 2.0),
        Some(65),
    );
    let f = init_loss_off(&Ctx::new(&high));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    let ok = run_with(
        curve(200, |i| 2.2 * (-(i as f64) / 50.0).exp() + 2.0),
        Some(65),
    );
    assert!(init_loss_off(&Ctx::new(&ok)).is_empty());
}

#[test]
fn implausible_init_without_vocabulary() {
    let run = run_with(curve(100, |i| 25.0 * (-(i as f64) / 5.0).exp() + 3.0), None);
    assert_eq!(init_loss_off(&Ctx::new(&run)).len(), 1);
}

#[test]
fn an_unnamed_loss_starting_near_twice_ln_v_may_be_a_sum_of_two_heads() {
    // A tracker's summed losses (20.4 → 2.0 over 50 epochs) and a flow-matching model's total
    // (19.8 → 0.93, blind batch 99): a start under twice ln 270k says nothing about a scale.
    let from = |start: f64| {
        run_with(
            curve(50, |i| (start - 2.0) * (-(i as f64) / 6.0).exp() + 2.0),
            None,
        )
    };
    assert!(init_loss_off(&Ctx::new(&from(20.4))).is_empty());
    // A detector's 86 nats at the first iteration needs logits far apart: a scale off.
    assert_eq!(init_loss_off(&Ctx::new(&from(86.0))).len(), 1);
}

#[test]
fn a_blow_up_in_the_first_logged_steps_is_not_a_bad_init() {
    // Logged every 10 steps: the loss climbs from 8.7 to 19.6 after the first point (an LR
    // far too high), while a bad init only falls from its first value.
    let pts = [
        8.7, 11.3, 11.5, 15.6, 19.6, 12.3, 10.9, 11.6, 9.7, 9.0, 8.0, 7.5,
    ];
    let mut run = run_with(
        (0..40)
            .map(|i| Point {
                step: 10.0 * (i + 1) as f64,
                value: pts.get(i).copied().unwrap_or(7.0),
            })
            .collect(),
        Some(1000),
    );
    assert!(init_loss_off(&Ctx::new(&run)).is_empty());
    // The same start falling steadily is a bad init (mean-logged from step 10).
    run.train_loss = (0..40)
        .map(|i| Point {
            step: 10.0 * (i + 1) as f64,
            value: 4.0 + 11.0 * (-(i as f64) / 4.0).exp(),
        })
        .collect();
    assert_eq!(init_loss_off(&Ctx::new(&run)).len(), 1);
}

#[test]
fn a_loss_held_far_up_until_the_lr_is_cut_diverged_it_was_not_a_bad_init() {
    // The PyTorch word-LM example at lr 20: printed losses of 18-19 (over any vocabulary's
    // ln V) for five epochs, then 8.5 from the step the LR is cut to 5.
    let n = 60;
    let mut run = run_with(
        curve(n, |i| {
            let i = i as f64;
            if i < 40.0 {
                18.5 + 0.4 * (i * 1.7).sin()
            } else {
                8.5 - 0.02 * (i - 40.0)
            }
        }),
        None,
    );
    for p in &mut run.train_loss {
        p.step *= 200.0;
    }
    run.lr = curve(n, |i| if i < 40 { 20.0 } else { 5.0 });
    for p in &mut run.lr {
        p.step *= 200.0;
    }
    let f = init_loss_off(&Ctx::new(&run));
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::Divergence);
    assert_eq!(f[0].evidence["lr_cut_step"], 40.0 * 200.0);
    // Without the LR cut (no LR logged) a start of 18.5 with no vocabulary grounds nothing
    // (a sum of two heads starts there); one of 30 is a bad start that held.
    run.lr.clear();
    assert!(init_loss_off(&Ctx::new(&run)).is_empty());
    for p in run.train_loss.iter_mut().take(40) {
        p.value += 11.5;
    }
    let kinds: Vec<_> = init_loss_off(&Ctx::new(&run))
        .iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![FindingKind::InitLossOff, FindingKind::Stagnation]
    );
}

#[test]
fn a_loss_named_for_a_variational_bound_starting_high_is_no_bad_scale() {
    // A VAE's Lightning column `train_elbo_loss`: 326 → 4.2 is a bound over many pixels
    // falling, not a cross-entropy whose output scale is off (blind batch 127).
    let mut run = run_with(
        curve(200, |i| 4.2 + 322.0 * (-(i as f64) / 4.0).exp()),
        None,
    );
    assert_eq!(init_loss_off(&Ctx::new(&run)).len(), 1, "unnamed");
    run.columns.train_loss = Some("train_elbo_loss".into());
    assert!(init_loss_off(&Ctx::new(&run)).is_empty());
    // A known vocabulary says language model whatever the column is called.
    run.vocab_size = Some(50257);
    assert_eq!(init_loss_off(&Ctx::new(&run)).len(), 1, "with a vocabulary");
}

#[test]
fn a_first_loss_off_for_one_step_only_is_no_bad_start() {
    // Logged every 5 steps from step 1 (V = 45, ln V 3.81): 7.2 at step 1, then 4.15, 3.05
    // and falling: the first update fixed the output scale.
    let at = |values: &[f64]| -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Point {
                step: if i == 0 { 1.0 } else { 5.0 * i as f64 },
                value,
            })
            .collect()
    };
    let tail = |from: f64| (0..60).map(move |i| from * (-(i as f64) / 40.0).exp() + 1.1);
    let once: Vec<f64> = [7.2, 4.15].into_iter().chain(tail(1.95)).collect();
    assert!(init_loss_off(&Ctx::new(&run_with(at(&once), Some(45)))).is_empty());
    // Held there for the next points too: the run started off.
    let held: Vec<f64> = [7.2, 7.0, 6.6].into_iter().chain(tail(4.8)).collect();
    let f = init_loss_off(&Ctx::new(&run_with(at(&held), Some(45))));
    assert_eq!(f.len(), 1, "{f:?}");
}

#[test]
fn validation_scored_on_the_starts_scale_after_training_began_is_no_bad_scale() {
    // An embedding model's margin loss per epoch, 37 → 0.33 (blind batch): unnamed, it reads as
    // a cross-entropy whose output scale was off, until its first evaluation after an epoch of
    // training also sits at 34, beyond any cross-entropy a few updates leave.
    let train = per_epoch(
        &(0..24)
            .map(|i| 0.3 + 36.7 * (-(i as f64) / 3.0).exp())
            .collect::<Vec<_>>(),
    );
    let mut run = run_with(train, None);
    assert_eq!(
        init_loss_off(&Ctx::new(&run)).len(),
        1,
        "without validation"
    );
    run.val_loss = per_epoch(
        &(0..24)
            .map(|i| 4.0 + 30.4 * (-(i as f64) / 3.0).exp())
            .collect::<Vec<_>>(),
    );
    assert!(init_loss_off(&Ctx::new(&run)).is_empty());
    // An evaluation at step 0 scores the start itself: it says nothing of the loss's scale.
    let mut run = run_with(curve(100, |i| 25.0 * (-(i as f64) / 5.0).exp() + 3.0), None);
    run.val_loss = at_steps(&[(0.0, 28.0), (50.0, 3.2), (100.0, 3.1)]);
    assert_eq!(
        init_loss_off(&Ctx::new(&run)).len(),
        1,
        "an evaluation at step 0"
    );
}
