//! Checks on the values themselves: non-finite losses or gradients, impossible (negative)
//! cross-entropy, a loss pinned at a clip floor or frozen from the start.

use serde_json::json;

use crate::detect::{finding, guard, num, step_str, zeros, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};
use crate::{Point, Run};

fn first_non_finite(points: &[Point]) -> Option<(usize, &Point)> {
    points
        .iter()
        .enumerate()
        .find(|(_, p)| !p.value.is_finite())
}

/// NaN/Inf in a loss (error) or in the gradient norm (a few isolated ones are the fp16 loss
/// scaler skipping steps: info; a persistent run of them: warning).
pub fn non_finite(ctx: &Ctx) -> Vec<Finding> {
    let run = ctx.run;
    let mut out = Vec::new();
    let train =
        first_non_finite(&run.train_loss).map(|(i, p)| ("training loss", i, *p, &run.train_loss));
    let val =
        first_non_finite(&run.val_loss).map(|(i, p)| ("validation loss", i, *p, &run.val_loss));
    let first = match (train, val) {
        (Some(t), Some(v)) => Some(if v.2.step < t.2.step { v } else { t }),
        (t, v) => t.or(v),
    };
    // A NaN the guard kept out of the weights says it all (the gradient norm was NaN with it).
    if train.is_some() && val.is_none() {
        if let Some(caught) = caught_by_guard(run) {
            return vec![caught];
        }
    }
    if let Some((series, idx, p, points)) = first {
        let bad = points.iter().filter(|q| !q.value.is_finite()).count();
        let recovered = points[idx..].iter().any(|q| q.value.is_finite());
        let last_good = points[..idx].iter().rev().find(|q| q.value.is_finite());
        let what = if p.value.is_nan() { "NaN" } else { "infinite" };
        let before = last_good.map_or(String::new(), |q| {
            format!(
                " (last finite value {} at step {})",
                num(q.value),
                step_str(q.step)
            )
        });
        let summary = format!(
            "The {series} becomes {what} at step {}{before}; {bad} of {} logged values are non-finite{}.",
            step_str(p.step),
            points.len(),
            if recovered { ", some later values are finite again" } else { " and it never recovers" }
        );
        let resume = last_good.map_or(" Inspect".to_string(), |q| {
            format!(
                " Resume from a checkpoint before step {} and inspect",
                step_str(q.step)
            )
        });
        out.push(finding(
            FindingKind::NonFinite,
            Severity::Error,
            Span::at(p.step),
            summary,
            json!({
                "series": series,
                "first_step": p.step,
                "non_finite_count": bad,
                "points": points.len(),
                "last_finite_value": last_good.map(|q| q.value),
                "last_finite_step": last_good.map(|q| q.step),
                "recovered": recovered,
            }),
            format!(
                "Lower the peak learning rate ×0.3, clip gradients (max norm 1.0), and look for log(0), \
                 division by zero or fp16 overflow in the loss (use bf16 or a dynamic loss scaler).{resume} \
                 the batch of step {}.",
                step_str(p.step)
            ),
        ));
    }
    if let Some((idx, p)) = first_non_finite(&run.grad_norm) {
        let bad = run
            .grad_norm
            .iter()
            .filter(|q| !q.value.is_finite())
            .count();
        let frac = bad as f64 / run.grad_norm.len() as f64;
        let persistent = run.grad_norm[idx..]
            .iter()
            .take(5)
            .all(|q| !q.value.is_finite());
        let loss_ok = out.is_empty();
        // An fp16 loss scaler overflows while it calibrates (the first steps) and once per
        // growth interval after: isolated, a few in a hundred logged values at most.
        // A skipped step leaves the loss alone; one that jumps with it is no scaler at work.
        let loss_jumped = {
            let t = &ctx.train;
            let i = t.partition_point(|q| q.step < p.step);
            t.get(i).filter(|q| q.step == p.step).is_some_and(|q| {
                let around: Vec<f64> = t[i.saturating_sub(3)..(i + 4).min(t.len())]
                    .iter()
                    .filter(|r| r.step != q.step)
                    .map(|r| r.value)
                    .collect();
                !around.is_empty() && q.value > 3.0 * crate::detect::stats::median(&around).abs()
            })
        };
        let severity = if loss_ok && frac <= 0.05 && !persistent && !loss_jumped {
            Severity::Info
        } else {
            Severity::Warning
        };
        // When the loss itself went non-finite, that finding already says it all.
        if loss_ok {
            out.push(finding(
                FindingKind::NonFinite,
                severity,
                Span::at(p.step),
                format!(
                    "The gradient norm is non-finite at step {} ({bad} of {} values, {:.1}%){}.",
                    step_str(p.step),
                    run.grad_norm.len(),
                    100.0 * frac,
                    if severity == Severity::Info {
                        "; isolated overflows like these are a mixed-precision loss scaler skipping steps"
                    } else {
                        ""
                    }
                ),
                json!({
                    "series": "grad_norm",
                    "first_step": p.step,
                    "non_finite_count": bad,
                    "fraction": frac,
                    "persistent": persistent,
                }),
                "Clip gradients (max norm 1.0); if training in fp16, switch to bf16 or check that \
                 the loss scaler is enabled; lower the learning rate ×0.5 if overflows persist.",
            ));
        }
    }
    out
}

/// A non-finite training loss whose every occurrence a guard kept out of the weights (a skip
/// or a rollback logged at that step), with finite losses after the last one: the run is fine,
/// but something poisoned those batches and the user should look at it.
fn caught_by_guard(run: &Run) -> Option<Finding> {
    let points = &run.train_loss;
    let bad: Vec<&Point> = points.iter().filter(|q| !q.value.is_finite()).collect();
    let last_bad = bad.last()?.step;
    if !points
        .iter()
        .any(|q| q.step > last_bad && q.value.is_finite())
    {
        return None;
    }
    let mut caught = Vec::new();
    for q in &bad {
        let e = run
            .events
            .iter()
            .find(|e| guard::undid_update(e) && (e.step - q.step).abs() < 0.5)?;
        caught.push(guard::describe(e));
    }
    let first = bad[0];
    let what = if first.value.is_nan() {
        "NaN"
    } else {
        "infinite"
    };
    Some(finding(
        FindingKind::NonFinite,
        Severity::Warning,
        Span::at(first.step),
        format!(
            "The training loss is {what} at step {} ({} of {} logged values); the guard kept {} \
             out of the weights and training went on with finite losses.",
            step_str(first.step),
            bad.len(),
            points.len(),
            if bad.len() == 1 {
                "that update"
            } else {
                "each of those updates"
            }
        ),
        json!({
            "series": "training loss",
            "first_step": first.step,
            "non_finite_count": bad.len(),
            "points": points.len(),
            "guard_events": caught,
        }),
        format!(
            "Nothing to repair in the weights. Find what poisoned the batch: the guard's record of \
             step {} (rnnlab: `incidents/step-{}.json` in the run directory) has the values it saw \
             and the data position. If it recurs, lower the learning rate ×0.5 or clean that data.",
            step_str(first.step),
            step_str(first.step)
        ),
    ))
}

/// Cross-entropy is never negative: a negative value means the loss is applied to the wrong
/// thing (probabilities instead of logits, a sign error, a reward instead of a loss). But a
/// negative loss is a bug only where the loss is known to be one that cannot go negative: a
/// Gaussian or flow NLL, a Dice-based loss, an ELBO or an RL objective goes negative by design.
/// Without that knowledge (no vocabulary, no name that says cross-entropy) the finding is
/// information, and [`negative_of_unknown_kind`] says what it means for the verdict.
pub fn invalid_loss(ctx: &Ctx) -> Vec<Finding> {
    let run = ctx.run;
    let neg: Vec<&Point> = run
        .train_loss
        .iter()
        .chain(run.val_loss.iter())
        .filter(|p| p.value.is_finite() && p.value < -1e-6)
        .collect();
    let Some(first) = neg.iter().min_by(|a, b| a.step.total_cmp(&b.step)) else {
        return zeros::pinned_at_zero(ctx).into_iter().collect();
    };
    let min = neg.iter().map(|p| p.value).fold(f64::INFINITY, f64::min);
    let never_negative = never_negative_by_name(run);
    let runaway = runs_away_below_zero(&ctx.train);
    let grounded = ctx.refs.ln_vocab.is_some() || never_negative.is_some() || runaway.is_some();
    let (severity, why) = if grounded {
        let why = match (never_negative, runaway) {
            (Some(name), _) => format!("\"{name}\" names a loss that cannot be negative"),
            (None, Some((from, to))) => format!(
                "it keeps falling without slowing ({} → {} from the first to the last third of \
                 the run): a loss with no floor is being exploited, not minimised, whatever it is \
                 (a likelihood whose variance or scale collapses, targets outside the range the \
                 loss assumes, a sign error)",
                num(from),
                num(to)
            ),
            (None, None) => "the vocabulary is known, so it is a cross-entropy".to_string(),
        };
        (Severity::Error, why)
    } else {
        (
            Severity::Info,
            "impossible for a cross-entropy, a CTC or a squared error, but normal for a Gaussian \
             or flow negative log-likelihood, a Dice-based loss, an ELBO or an RL objective; \
             nothing here says which this is (give --vocab-size for a language model)"
                .to_string(),
        )
    };
    vec![finding(
        FindingKind::InvalidLoss,
        severity,
        Span::at(first.step),
        format!(
            "{} logged losses are negative (first at step {}, minimum {}): {why}.",
            neg.len(),
            step_str(first.step),
            num(min)
        ),
        json!({
            "negative_count": neg.len(),
            "first_step": first.step,
            "min_value": min,
            "loss_known_non_negative": grounded,
        }),
        "If the loss is a cross-entropy: it must receive raw logits (not softmax probabilities or \
         log-probabilities passed twice), targets as class indices, and no sign flip or extra \
         regulariser subtracted from the logged value.",
    )]
}

/// Where losses that are a negated similarity (Dice, cosine, correlation) bottom out.
const BOUNDED_SIMILARITY_FLOOR: f64 = -1.0;

/// A training loss below zero that runs away: negative over its second half, its first third's
/// median negative and its last third's at least twice as far below zero, and falling at least
/// as fast (0.8×) over the last third as over the middle one, and past −1. A density's negative
/// log-likelihood goes below zero and levels off (a flow from −88 to −124 over 300 epochs,
/// slowing); one that doubles and keeps its pace has nothing left to level off at. Above −1 it
/// may be a similarity bounded there (a negative Dice, cosine or correlation: a U-Net's −0.09 to
/// −0.54 over ten epochs is learning, not exploiting). Returns the first and last thirds' medians.
fn runs_away_below_zero(train: &[Point]) -> Option<(f64, f64)> {
    let values: Vec<f64> = train.iter().map(|p| p.value).collect();
    let n = values.len();
    if n < 10 || values[n / 2..].iter().any(|v| *v >= 0.0) {
        return None;
    }
    let third = |k: usize| crate::detect::stats::median(&values[k * n / 3..(k + 1) * n / 3]);
    let (first, middle, last) = (third(0), third(1), third(2));
    let doubled = first < 0.0 && last <= 2.0 * first && last < BOUNDED_SIMILARITY_FLOOR;
    let keeps_pace = middle < first && last - middle <= 0.8 * (middle - first);
    (doubled && keeps_pace).then_some((first, last))
}

/// What a negative loss of unknown kind means for the verdict, with the sentence that says so.
#[derive(Debug, Clone)]
pub enum NegativeLoss {
    /// Below zero by design as far as its shape shows: a reason a healthy verdict gives.
    SignedByDesign(String),
    /// Its sign swings: a reason the evidence is too thin to call the run healthy.
    SwingsAboutZero(String),
}

/// Fewest changes of sign, point to point, that make a training loss one that swings about zero.
const SIGN_SWINGS: usize = 3;

/// What a negative loss of unknown kind says about the verdict. A loss that stays below zero,
/// or passes through it once on its way down, is signed by design in the runs people show (a
/// negative Dice or SI-SNR, a Gaussian or flow NLL, an ELBO): its shape is judged like any
/// other, and the healthy verdict says what would make it a bug. One whose sign swings back and
/// forth (a policy-gradient or GAN objective) has no floor to measure progress against: the
/// evidence is thin.
pub fn negative_of_unknown_kind(ctx: &Ctx, findings: &[Finding]) -> Option<NegativeLoss> {
    let f = findings
        .iter()
        .find(|f| f.kind == FindingKind::InvalidLoss && f.severity == Severity::Info)?;
    let min = f.evidence.get("min_value").and_then(|v| v.as_f64())?;
    let values: Vec<f64> = ctx
        .train
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    let swings = values
        .windows(2)
        .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
        .count();
    if swings >= SIGN_SWINGS {
        return Some(NegativeLoss::SwingsAboutZero(format!(
            "the loss changes sign {swings} times (minimum {}): an objective that swings about \
             zero, as a policy-gradient or GAN loss does, has no floor to judge progress against, \
             and nothing says which kind this is (give --vocab-size for a language model's \
             cross-entropy); nothing else is wrong",
            num(min)
        )));
    }
    Some(NegativeLoss::SignedByDesign(format!(
        "the loss goes below zero (minimum {}) and is read as signed by design (a negative Dice \
         or SI-SNR, a Gaussian or flow NLL, an ELBO); if it is a cross-entropy, a CTC or a \
         squared error, that is a bug (give --vocab-size for a language model)",
        num(min)
    )))
}

/// The name of a logged loss (series or column) that says it cannot be negative: a
/// cross-entropy, a CTC, a binary log-loss, a perplexity's log. `nll` alone does not: a
/// Gaussian NLL goes negative.
fn never_negative_by_name(run: &crate::Run) -> Option<String> {
    const WORDS: [&str; 9] = [
        "ce",
        "xent",
        "crossentropy",
        "cross_entropy",
        "ctc",
        "bce",
        "logloss",
        "log_loss",
        "perplexity",
    ];
    [&run.columns.train_loss, &run.columns.val_loss]
        .into_iter()
        .flatten()
        .find(|name| {
            let lower = name.to_ascii_lowercase();
            lower.contains("entropy")
                || lower
                    .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .flat_map(|w| std::iter::once(w).chain(w.split('_')))
                    .any(|w| WORDS.contains(&w))
        })
        .cloned()
}

/// A loss that jumps to at least twice anything before it and then repeats that value to the
/// last digit for three or more points, to the end of the log: a mean over a batch never
/// repeats exactly unless the computation saturated (probabilities underflowed to a clamp:
/// Caffe's per-token −ln(FLT_MIN) = 87.34) or a constant replaced it. The run blew up and
/// stays blown up.
pub fn saturated(ctx: &Ctx) -> Option<Finding> {
    const MIN_REPEATS: usize = 3;
    let t = &ctx.train;
    let pinned = t.last()?.value;
    let repeats = t.iter().rev().take_while(|p| p.value == pinned).count();
    if repeats < MIN_REPEATS || repeats == t.len() || pinned <= 0.0 {
        return None;
    }
    let start = t.len() - repeats;
    let before = t[..start]
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    if pinned < 2.0 * before {
        return None;
    }
    let (from, to) = (t[start].step, t[t.len() - 1].step);
    Some(finding(
        FindingKind::Divergence,
        Severity::Error,
        Span::range(from, to),
        format!(
            "The training loss jumps from {} to {} at step {} and repeats exactly that value for {} \
             points (to step {}): a loss averaged over a batch never repeats to the last digit \
             unless it saturated (probabilities underflowed to a clamp, as Caffe's per-token \
             −ln(FLT_MIN) = 87.34) or a constant replaced it. The run blew up and stays there.",
            num(t[start - 1].value),
            num(pinned),
            step_str(from),
            repeats,
            step_str(to)
        ),
        json!({ "pinned_value": pinned, "repeats": repeats, "loss_before": t[start - 1].value,
                "max_before": before }),
        "Restart from a checkpoint before the jump with the learning rate ×0.1 and gradient \
         clipping at 1.0; compute the loss from logits (log-softmax inside the loss), not from \
         probabilities that can underflow.",
    ))
}

/// A training loss that prints the very same non-zero value at every one of five or more logs
/// from the first (or from the second: a first log that is an epoch's mean, or the loss before
/// any update, can hold the moves made before the network died): no update changes what the
/// model outputs (a network dead or saturated from the start, parameters frozen, an optimizer
/// that never steps). Zero has its own finding.
/// "The same" is to float32's precision (a part in a million): a Keras LSTM's 0.48743418,
/// 0.48743412, 0.48743403 … differ only in the rounding of a sum; or to the precision the log
/// prints (a unit of its last digit: 0.7534, 0.7533, 0.7534 …).
pub fn frozen_from_the_start(ctx: &Ctx) -> Option<Finding> {
    const MIN_LOGS: usize = 5;
    if ctx.train_is_val {
        return None;
    }
    let t = &ctx.train;
    if t.len() < MIN_LOGS {
        return None;
    }
    // The range of the logs after the first, in one pass: from it, the largest move away from
    // the first log or from the second.
    let (lo, hi) = t[1..]
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.value), hi.max(p.value))
        });
    let largest_move = |from: f64| (hi - from).abs().max((lo - from).abs());
    let frozen = (0..2).find(|&skip| {
        t.len() >= skip + MIN_LOGS && is_frozen(&t[skip..], largest_move(t[skip].value))
    })?;
    let t = &t[frozen..];
    let (from, to) = (t[0].step, t[t.len() - 1].step);
    let since = if frozen == 0 {
        String::new()
    } else {
        format!(" after the first ({})", ctx.train[0].value)
    };
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "The training loss is {} at every one of its {} logs{since} (steps {}–{}), to the \
             precision it is printed with: no update changes what the model outputs.",
            num(t[0].value),
            t.len(),
            step_str(from),
            step_str(to)
        ),
        json!({ "value": t[0].value, "logs": t.len(), "skipped_first": frozen == 1 }),
        "Check that optimizer.step() runs and the parameters have requires_grad (none frozen by \
         mistake), that gradients are non-zero (a saturated or dead network: lower the learning \
         rate, check the init and normalisation), and that the logged value is recomputed each step.",
    ))
}

/// Whether every value of `t` (non-zero) is its first to float32's precision or to a unit of
/// the last digit printed, `largest_move` being the farthest any of them lies from the first.
fn is_frozen(t: &[Point], largest_move: f64) -> bool {
    // A unit of the last digit printed must be under this share of the value for a log that
    // repeats it to say the loss does not move: three significant digits.
    const COARSEST_UNIT: f64 = 0.01;
    const FLOAT32_PRECISION: f64 = 1e-6;
    let first = t[0].value;
    if first == 0.0 {
        return false;
    }
    // Printed to four digits (Keras' progress bar), a frozen loss still reads 0.7534, 0.7533:
    // frozen means within float32's precision, or within a unit of the last digit the log
    // prints. The digits are counted only while they could still hide the largest move (a
    // moving log's first finely printed value settles it: no formatting of a million points).
    if largest_move > FLOAT32_PRECISION * first.abs() {
        let magnitude = first.abs().log10().floor();
        let mut digits = 0;
        for p in t {
            digits = digits.max(significant_digits(p.value));
            let printed_unit = 10f64.powf(magnitude - digits as f64 + 1.0);
            if largest_move > 1.01 * printed_unit {
                return false;
            }
            // Printed too coarsely to see a loss move at all (−0.006, −0.005: a unit of the
            // last digit is a sixth of the value) is no evidence that nothing changes.
            if printed_unit > COARSEST_UNIT * first.abs() {
                return false;
            }
        }
    }
    true
}

/// How many significant digits the shortest decimal form of `v` has (0.7534 → 4).
pub(crate) fn significant_digits(v: f64) -> usize {
    let sci = format!("{:e}", v.abs());
    let mantissa = sci.split('e').next().unwrap_or("");
    mantissa.chars().filter(|c| c.is_ascii_digit()).count()
}

#[cfg(test)]
#[path = "sanity_tests.rs"]
mod tests;
