//! A loss pinned at (numerical) zero: a mean over tokens or examples that reads exactly 0
//! scores nothing: every label masked, an empty batch, a NaN replaced by 0, outputs saturated
//! at probability 1, or a training set the model has learned by heart.

use serde_json::json;

use crate::detect::stats::median;
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};
use crate::Point;

/// float32 epsilon (1.19e-7) and a little room: at or under it a loss is numerically zero.
const NUMERICAL_ZERO: f64 = 2e-7;

fn numerically_zero(v: f64) -> bool {
    (0.0..=NUMERICAL_ZERO).contains(&v)
}

/// The first of the zero checks that holds (one event, one finding).
pub fn pinned_at_zero(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.run.train_loss;
    every_loss_zero(t)
        .or_else(|| falls_to_zero(t))
        .or_else(|| zero_for_most_of_the_log(t).map(|f| memorised(ctx).unwrap_or(f)))
}

/// A training loss that sank gradually to zero while validation, over the same stretch, is no
/// better than the loss the run started from: the model learned its training examples by heart
/// and nothing that carries over (a classifier trained for 1500 steps on 128 examples: 0.0 in
/// training, 1.73 on validation, above the 0.63 it started at). Scored labels are there, or
/// validation would have nothing to measure either: the zeros are memorisation, not a bug.
/// One event, one finding: this replaces the zero finding.
fn memorised(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.run.train_loss;
    let first_zero = t.iter().find(|p| numerically_zero(p.value))?.step;
    let after: Vec<f64> = ctx
        .run
        .val_loss
        .iter()
        .filter(|p| p.step >= first_zero && p.value.is_finite())
        .map(|p| p.value)
        .collect();
    // The start is the first logged loss or the median of the first few, whichever is higher:
    // a loss that falls three decades in its first three points (0.51, 9e-4, 3e-5) has a
    // median start at the second, far under where it began.
    let start = ctx.init_level().max(t[0].value);
    // The log must show a real start (as `falls_to_zero` asks, 0.1 or more): a run logged from
    // 0.04 on was at zero before the log began, and says nothing of what was learned.
    if after.is_empty() || start.is_nan() || start < 0.1 {
        return None;
    }
    let level = median(&after[after.len().saturating_sub(3)..]);
    if level < start {
        return None;
    }
    let end = t[t.len() - 1].step;
    Some(finding(
        FindingKind::Overfitting,
        Severity::Warning,
        Span::range(first_zero, end),
        format!(
            "The training loss sinks to 0 from step {} on while validation sits at {}, no better \
             than the {} the run started from: the model has learned its training examples by \
             heart and nothing that carries over to new ones.",
            step_str(first_zero),
            num(level),
            num(start)
        ),
        json!({ "first_zero_step": first_zero, "val_level": level, "initial_loss": start,
                "evaluations": after.len() }),
        "Keep the checkpoint with the best validation loss and stop there; get more training \
         data (or augment it), add weight decay or dropout, or use a smaller model: the training \
         set is too small for this model to learn anything but the examples themselves.",
    ))
}

/// An excerpt whose every loss is exactly 0.0 (five points or more: as many as a judgement of
/// anything else needs) shows no fall, only the pinned value.
fn every_loss_zero(t: &[Point]) -> Option<Finding> {
    const MIN_ALL_ZEROS: usize = 5;
    if t.len() < MIN_ALL_ZEROS || t.iter().any(|p| p.value != 0.0) {
        return None;
    }
    let (from, to) = (t[0].step, t[t.len() - 1].step);
    Some(zero_finding(
        Severity::Error,
        Span::range(from, to),
        format!(
            "Every logged training loss is exactly 0 ({} points, steps {}–{}): a loss averaged \
             over tokens is never exactly zero, so nothing is being scored.",
            t.len(),
            step_str(from),
            step_str(to)
        ),
        json!({ "first_zero_step": from, "zero_points": t.len(), "pinned_value": 0.0 }),
    ))
}

/// A loss that falls in one logged step from a real value (≥ 0.1) to exactly 0.0, or to the
/// floor a clipped cross-entropy bottoms out at (Keras clips probabilities at 1 − 1e-7: the loss
/// reads 1.1921e-07), and stays at exactly that value (three points or more): a mean over
/// tokens or examples is never exactly zero and never repeats to the last digit, so nothing is
/// being scored — every label masked (-100), an empty batch, a NaN replaced by 0, or
/// predictions saturated at probability 1. Every such fall is tried: a blow-up between two
/// stretches of zeros does not hide the second. A run converging toward zero approaches it
/// gradually and is not this.
fn falls_to_zero(t: &[Point]) -> Option<Finding> {
    const MIN_ZEROS: usize = 3;
    (1..t.len())
        .filter(|&i| t[i - 1].value >= 0.1 && numerically_zero(t[i].value))
        .find_map(|start| {
            let pinned = t[start].value;
            let zeros = t[start..].iter().take_while(|p| p.value == pinned).count();
            // Where the log ends on it, one exact 0.0 after a loss of 0.5 or more is already no
            // rounding of a small loss: the log stops before it can show the zero stays.
            let ends_on_a_drop =
                start + zeros == t.len() && pinned == 0.0 && t[start - 1].value >= 0.5;
            if (zeros < MIN_ZEROS && !ends_on_a_drop) || zeros * 5 < t.len() {
                return None;
            }
            let (from, to) = (t[start].step, t[start + zeros - 1].step);
            let what = if pinned == 0.0 {
                "exactly 0".to_string()
            } else {
                format!(
                    "{pinned:e}, numerically zero (float32 epsilon; a clipped cross-entropy's floor),"
                )
            };
            Some(zero_finding(
                Severity::Error,
                Span::range(from, to),
                format!(
                    "The training loss falls from {} to {what} at step {} and stays at exactly that \
                     value for {} points (to step {}): a loss averaged over tokens is never \
                     exactly zero, so nothing is being scored.",
                    num(t[start - 1].value),
                    step_str(from),
                    zeros,
                    step_str(to)
                ),
                json!({ "first_zero_step": from, "zero_points": zeros, "pinned_value": pinned,
                        "loss_before": t[start - 1].value }),
            ))
        })
}

/// A log that reads (numerically) zero for most of its length, to its end, however it got
/// there: from the first zero on, at most one point in ten above float32's epsilon, and the
/// zeros at least half the log and five points. A small loss rounded by the logger (the HF
/// Trainer prints four decimals: a loss under 5e-5 reads 0.0) is no fault on a few points, but
/// a run that spends most of its steps there scores nothing it can still learn from: every
/// label masked, a model that has learned its few examples by heart, or targets it can see.
/// Either way the curve stopped carrying information; the steps after the first zero were
/// spent for nothing. The log must show the loss before it (an excerpt that starts among the
/// zeros may be the tail of a long run, and one real value there is a rounded small loss).
fn zero_for_most_of_the_log(t: &[Point]) -> Option<Finding> {
    const MIN_ZEROS: usize = 5;
    let first = t.iter().position(|p| numerically_zero(p.value))?;
    if first == 0 {
        return None;
    }
    if !numerically_zero(t.last()?.value) {
        return None;
    }
    let tail = &t[first..];
    let zeros = tail.iter().filter(|p| numerically_zero(p.value)).count();
    let others = tail.len() - zeros;
    if zeros < MIN_ZEROS || 2 * zeros < t.len() || others > tail.len().div_ceil(10) {
        return None;
    }
    let (from, to) = (t[first].step, t[t.len() - 1].step);
    let before = t[first - 1].value;
    Some(zero_finding(
        Severity::Warning,
        Span::range(from, to),
        format!(
            "The training loss reads 0 at {zeros} of the {} logged points from step {} to the end \
             (step {}), after {}: a mean loss that rounds to zero for most of the run scores nothing the \
             model can still learn from. Either nothing is being scored, or the model has learned \
             its examples by heart (too few of them, too many epochs) or can see its targets.",
            t.len(),
            step_str(from),
            step_str(to),
            num(before)
        ),
        json!({ "first_zero_step": from, "zero_points": zeros, "points": t.len(),
                "loss_before": before }),
    ))
}

/// Whether a finding is [`memorised`]'s: a training loss at zero, with no progress to judge.
pub fn is_memorised(f: &Finding) -> bool {
    f.kind == FindingKind::Overfitting && f.evidence.contains_key("first_zero_step")
}

/// The finding for a loss pinned at (numerical) zero, with what to check.
fn zero_finding(
    severity: Severity,
    span: Span,
    message: String,
    evidence: serde_json::Value,
) -> Finding {
    finding(
        FindingKind::InvalidLoss,
        severity,
        span,
        message,
        evidence,
        "Check that some labels survive masking (not all -100: prompt masking, truncation that cuts \
         every answer), that the batch is not empty, and whether the loss turned NaN and was \
         replaced by 0 (fp16 overflow: use bf16 or a loss scaler, clip gradients). A loss pinned at \
         the clip floor means the outputs saturated: look for the targets among the inputs, or an \
         LR so high the logits blew up. A loss that rounds to zero after many epochs of a small \
         set: stop far earlier, add data, and judge the run by a held-out validation loss.",
    )
}

#[cfg(test)]
#[path = "zeros_tests.rs"]
mod tests;
