//! A training loss that does not move while validation falls well below it: the model learns,
//! but what training reports is not what validation measures.

use serde_json::json;

use crate::detect::stats::median;
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// Training points needed to call the training loss flat (fewer say little about a level).
const MIN_TRAIN_POINTS: usize = 20;
/// Evaluations needed to call validation falling.
const MIN_EVALS: usize = 3;
/// The most the training level may move from the first fifth of the run to the last and still
/// count as not moving.
const FLAT: f64 = 0.05;
/// How far validation must end below the training level: a gap no dropout explains on a loss
/// that never moved.
const FAR_BELOW: f64 = 0.85;
/// How much validation must fall from its first evaluation (which may already sit far below
/// training: the first epoch's learning shows there and not in a smoothed training loss), and
/// how many times the training loss's own change that fall must be.
const VAL_FALL: f64 = 0.05;
const FALL_RATIO: f64 = 3.0;

/// Training flat from the first fifth of the run to the last (within 5 %) while validation
/// falls (by 5 % or more, three times training's change) and ends more than 15 % below it.
/// A model that learns what validation measures lowers the same loss on the batches it trains
/// on, so a training loss that holds still is measuring something else: label smoothing near 1
/// (whose smoothed target holds the loss near a uniform guess), a regulariser or auxiliary term
/// that dominates the sum, or a training loss averaged over padding. Dropout and augmentation
/// lift training above validation, but the training loss still falls as the model learns.
pub fn training_flat_while_validation_learns(ctx: &Ctx) -> Option<Finding> {
    let (train, val) = (&ctx.train, &ctx.val);
    if ctx.train_is_val || train.len() < MIN_TRAIN_POINTS || val.len() < MIN_EVALS {
        return None;
    }
    let values: Vec<f64> = train.iter().map(|p| p.value).collect();
    let k = values.len() / 5;
    let (start, end) = (median(&values[..k]), median(&values[values.len() - k..]));
    if start <= 0.0 || (end - start).abs() > FLAT * start {
        return None;
    }
    // A training loss clearly above a uniform guess's (ln V) is blown up, not measuring something
    // else: the LR, not the loss's definition (a word model at 141 nats beside ln V = 6.9,
    // its validation swinging 327, 148, 137 … 266, 120).
    if ctx.refs.ln_vocab.is_some_and(|l| end > 1.1 * l) {
        return None;
    }
    let (first_val, last_val) = (val[0].value, val[val.len() - 1].value);
    let val_fall = (first_val - last_val) / first_val.abs().max(1e-12);
    let train_change = (end - start).abs() / start;
    if !(last_val < FAR_BELOW * end
        && val_fall >= VAL_FALL
        && val_fall >= FALL_RATIO * train_change)
    {
        return None;
    }
    let (from, to) = (train[0].step, train[train.len() - 1].step);
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "Training loss holds at {} from step {} to {} while validation falls from {} to {}, well below it: \
             the model learns, but the training loss does not show it, so it measures something else.",
            num(end),
            step_str(from),
            step_str(to),
            num(first_val),
            num(last_val)
        ),
        json!({
            "train_start": start,
            "train_end": end,
            "val_first": first_val,
            "val_last": last_val,
            "val_points": val.len(),
        }),
        "Compute the logged training loss as validation computes it (the same loss on a training batch, \
         no smoothing); check label smoothing (0.1 is usual, near 1 the target is a uniform guess), the weight \
         of each regulariser or auxiliary term in the sum, and that padding is masked out of the mean.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{curve, every, run_with};

    /// A character model under label smoothing 0.9: training sits at ln V (3.87) for 400 steps
    /// while validation, scored without smoothing, falls to 3.07.
    fn smoothed(val_end: f64) -> crate::Run {
        let mut run = run_with(curve(400, |i| 3.88 - 0.06 * (i as f64 / 400.0)), Some(48));
        run.val_loss = every(
            curve(400, |i| {
                val_end + (3.8 - val_end) * (-(i as f64) / 80.0).exp()
            }),
            25,
        );
        run
    }

    #[test]
    fn a_flat_training_loss_beside_a_falling_validation_is_a_mismatch() {
        let f = training_flat_while_validation_learns(&Ctx::new(&smoothed(3.07)));
        assert_eq!(f.map(|f| f.kind), Some(FindingKind::Stagnation));
    }

    #[test]
    fn a_training_loss_blown_up_above_ln_v_is_no_mismatch() {
        // A word model blown up by an LR of 99 (PyTorch draw 43, run 058): training holds near
        // 141 nats, far above ln V = 6.9, while validation swings 327, 148, 137 … 266, 120 —
        // last below first. Above a uniform guess the loss is broken, not measuring something
        // else.
        let mut run = run_with(
            curve(42, |i| 141.0 + 12.0 * ((i * 7 % 5) as f64 - 2.0)),
            Some(1000),
        );
        let swings = [
            327.4, 148.2, 137.6, 155.4, 130.3, 106.9, 288.6, 104.1, 265.9, 119.6,
        ];
        run.val_loss = swings
            .iter()
            .enumerate()
            .map(|(k, &value)| crate::Point {
                step: 4.0 * (k + 1) as f64,
                value,
            })
            .collect();
        assert!(training_flat_while_validation_learns(&Ctx::new(&run)).is_none());
        // With no vocabulary there is no uniform guess to compare with: the reading stands.
        run.vocab_size = None;
        assert!(training_flat_while_validation_learns(&Ctx::new(&run)).is_some());
    }

    #[test]
    fn validation_that_falls_a_little_or_a_training_loss_that_falls_is_no_mismatch() {
        // Validation 5 % under a flat training loss: dropout or an easier split.
        assert!(training_flat_while_validation_learns(&Ctx::new(&smoothed(3.6))).is_none());
        // Training that falls with validation: an ordinary run.
        let mut run = run_with(
            curve(400, |i| 1.5 + 2.4 * (-(i as f64) / 60.0).exp()),
            Some(48),
        );
        run.val_loss = every(curve(400, |i| 1.4 + 2.4 * (-(i as f64) / 60.0).exp()), 25);
        assert!(training_flat_while_validation_learns(&Ctx::new(&run)).is_none());
    }
}
