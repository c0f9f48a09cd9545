//! A validation loss that prints the very same value evaluation after evaluation while
//! training moves: what is evaluated does not change.

use serde_json::json;

use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// How many evaluations at the end must print the very same value to call validation frozen.
const FROZEN_EVALS: usize = 5;

/// Validation that prints the very same value at every one of its last evaluations (five or
/// more; three, below, where no rounding explains it) while training still moves: the
/// evaluated outputs do not change. A model collapsed to one output does it (a triplet loss sat
/// at its margin, a classifier at ln C), so do weights that stopped changing (an LR at 0), and
/// so does an evaluation that never sees the trained weights. Training that creeps on beside
/// it is no progress the user can keep.
pub fn frozen(ctx: &Ctx) -> Option<Finding> {
    let val = &ctx.val;
    if ctx.train_is_val || val.len() < 3 || ctx.train.len() < 3 {
        return None;
    }
    let last = val[val.len() - 1].value;
    let same = val.iter().rev().take_while(|p| p.value == last).count();
    // Three evaluations agreeing to five significant digits are no coincidence either, in a
    // log that repeated no value before, over a quarter of the run or more: the weights stopped
    // changing (an LR gone to 0 mid-run: 2.18682 three times over the last half while training
    // wanders 2.10-2.13). Not where repeats are the log's habit (Ultralytics carries the last
    // validation over between evaluations every 3 epochs), nor in the last few percent of a
    // schedule that anneals to 0 (2.31001 three times in the last 5 %).
    let repeats_before = val[..val.len() - same]
        .windows(2)
        .any(|w| w[0].value == w[1].value);
    let run_span = ctx.last_step() - ctx.first_step();
    let stretch = val[val.len() - 1].step - val[val.len() - same].step;
    let needed = if !repeats_before
        && crate::detect::sanity::significant_digits(last) >= 5
        && stretch >= 0.25 * run_span
    {
        3
    } else {
        FROZEN_EVALS
    };
    if same < needed {
        return None;
    }
    let from = val[val.len() - same].step;
    let to = val[val.len() - 1].step;
    let train: Vec<f64> = ctx
        .train
        .iter()
        .filter(|p| p.step >= from && p.step <= to)
        .map(|p| p.value)
        .collect();
    let (lo, hi) = train
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    // Training moving by 1 % of its level while validation stands to the last printed digit,
    // and by more than two units of the finest digit printed there: a log printing 0.0002
    // stands still for anything between 0.00015 and 0.00025, and training moving 0.0001 ↔
    // 0.0002 beside it is rounding too. (A value's trailing zeros are gone once parsed: the
    // training values beside it tell the printer's precision.)
    let printed_unit = train
        .iter()
        .chain(std::iter::once(&last))
        .filter(|v| v.is_finite() && **v != 0.0)
        .map(|v| {
            let digits = crate::detect::sanity::significant_digits(*v) as i32;
            10f64.powi(v.abs().log10().floor() as i32 - digits + 1)
        })
        .fold(f64::INFINITY, f64::min);
    if train.len() < 2 || hi - lo <= 0.01 * hi.abs().max(lo.abs()) || hi - lo <= 2.0 * printed_unit
    {
        return None;
    }
    if last == 0.0 {
        return Some(zero_validation(same, from, to, lo, hi));
    }
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "Validation loss is exactly {} at each of the last {same} evaluations (steps {}–{}) \
             while training moves between {} and {}: what is evaluated does not change. Either \
             the model has collapsed to one output (a triplet loss at its margin, a classifier at \
             ln of its class count), the weights stopped changing (an LR at 0, every layer \
             frozen), or the evaluation does not use the trained weights.",
            num(last),
            step_str(from),
            step_str(to),
            num(lo),
            num(hi)
        ),
        json!({ "val_value": last, "frozen_evals": same, "train_min": lo, "train_max": hi }),
        "Check that the LR is not 0 and the optimizer holds the parameters being trained; check \
         that evaluation runs the current model (no stale copy, the same weights, model.eval() \
         only switches dropout/batch-norm); check the outputs vary across inputs. For \
         collapsed embeddings, lower the learning rate, normalise the embeddings and mine harder \
         triplets; for a classifier, check the labels and the final layer.",
    ))
}

/// Validation printing exactly 0 evaluation after evaluation while training moves: no model
/// scores a held-out loss of exactly zero, again and again. The loss is not measured there: a
/// validation set with no targets (a detector's validation labels missing or mis-pathed leave
/// its box and class losses 0 with nothing to match), or a term the evaluation never computes
/// and logs as its placeholder.
fn zero_validation(same: usize, from: f64, to: f64, lo: f64, hi: f64) -> Finding {
    finding(
        FindingKind::InvalidLoss,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "Validation loss is exactly 0 at each of the last {same} evaluations (steps {}–{}) \
             while training moves between {} and {}: no held-out loss is exactly zero, so it is \
             not being measured (a validation set with no targets, or a term the evaluation never \
             computes).",
            step_str(from),
            step_str(to),
            num(lo),
            num(hi)
        ),
        json!({ "val_value": 0.0, "frozen_evals": same, "train_min": lo, "train_max": hi }),
        "Check that the validation set holds labels and that they are found (for a detector: the \
         label files beside the validation images, the class ids in range); check which loss terms \
         the evaluation computes before reading validation loss.",
    )
}

/// Whether a finding is [`zero_validation`]'s: a validation loss not measured, which leakage
/// (validation far below training) must not report again.
pub fn is_unmeasured_validation(f: &Finding) -> bool {
    f.kind == FindingKind::InvalidLoss && f.evidence.contains_key("frozen_evals")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{run_with, spaced};
    use crate::Point;

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
        // Nor beside training that moves by one unit of what the log prints: a GTSRB classifier
        // whose losses are printed to four decimals, validation 0.0002 for eight epochs while
        // training reads 0.0002, 0.0001, 0.0001, 0.0002, …
        let mut rounded = run_with(
            spaced(
                &[0.0002, 0.0001, 0.0001, 0.0002, 0.0001, 0.0001, 0.0001],
                2.0,
                1.0,
            ),
            None,
        );
        rounded.val_loss = run
            .val_loss
            .iter()
            .map(|p| Point {
                value: 0.0002,
                ..*p
            })
            .collect();
        assert!(frozen(&Ctx::new(&rounded)).is_none());
    }

    #[test]
    fn three_evaluations_equal_to_five_digits_over_a_long_stretch_are_frozen() {
        // An LR that went to 0 mid-run (novel set 3, seed 9): validation 2.253, then 2.18682 at
        // each of three evaluations over the second half while training wanders 2.10-2.13.
        let train: Vec<f64> = (0..56)
            .map(|i| 2.115 + 0.015 * ((i * 7 % 5) as f64 - 2.0) / 2.0)
            .collect();
        let judged = |evals: &[(f64, f64)]| {
            let mut run = run_with(spaced(&train, 25.0, 25.0), None);
            run.val_loss = crate::detect::test_support::at_steps(evals);
            frozen(&Ctx::new(&run))
        };
        let lr_gone = [
            (350.0, 2.253),
            (700.0, 2.18682),
            (1050.0, 2.18682),
            (1400.0, 2.18682),
        ];
        assert!(judged(&lr_gone).is_some());
        // Not where the log repeats values anyway (validation carried over between evaluations).
        let carried = [
            (350.0, 2.253),
            (525.0, 2.253),
            (700.0, 2.18682),
            (1050.0, 2.18682),
            (1400.0, 2.18682),
        ];
        assert!(judged(&carried).is_none());
        // Nor three in the last few percent of the run, where a schedule annealed to 0.
        let annealed = [
            (700.0, 2.20011),
            (1000.0, 2.19004),
            (1350.0, 2.18682),
            (1375.0, 2.18682),
            (1400.0, 2.18682),
        ];
        assert!(judged(&annealed).is_none());
        // Nor three equal at four digits: a log that rounds can repeat by chance.
        let rounded = [
            (350.0, 2.253),
            (700.0, 2.187),
            (1050.0, 2.187),
            (1400.0, 2.187),
        ];
        assert!(judged(&rounded).is_none());
    }

    #[test]
    fn validation_at_exactly_zero_every_evaluation_is_an_invalid_loss_not_leakage() {
        // A mean-teacher detector in the YOLOv5 results layout: the box loss falls 4.64 → 1.85
        // while val/box_loss reads exactly 0 at all 20 epochs (the validation labels never
        // matched). Not a frozen model, and not validation far below training: not measured.
        let train: Vec<f64> = (0..20)
            .map(|i| 1.85 + 2.79 * (-(i as f64) / 3.0).exp())
            .collect();
        let mut run = run_with(spaced(&train, 1.0, 1.0), None);
        run.val_loss = spaced(&[0.0; 20], 1.0, 1.0);
        let f = frozen(&Ctx::new(&run)).expect("validation at zero");
        assert_eq!(f.kind, FindingKind::InvalidLoss);
        let d = crate::detect::diagnose(&run);
        assert_eq!(
            crate::detect::test_support::warned(&d),
            vec![FindingKind::InvalidLoss]
        );
    }
}
