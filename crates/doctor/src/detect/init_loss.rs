//! The first loss against what a fresh model gives: a cross-entropy starts near ln V (a
//! uniform guess). Far above is a bad initialisation or output scale, unless the loss was held
//! up by the LR or blew up in the first steps; far below is a fine-tune (information) or a leak.

use serde_json::json;

use crate::detect::family::MAX_LN_VOCAB;
use crate::detect::{finding, num, stats, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// The first losses of a fresh model sit near ln V (uniform prediction). Far above means the
/// initialisation or output scale is off; far below means the model already knows the
/// answer: a fine-tuned checkpoint (fine) or a leak / masked loss (not fine), so that is info.
pub fn init_loss_off(ctx: &Ctx) -> Vec<Finding> {
    let t = &ctx.train;
    if t.len() < 5 || ctx.train_is_val {
        return Vec::new();
    }
    let first = t[0].step;
    let span = ctx.last_step() - first;
    // Only judge a log that starts at the beginning of training.
    if !ctx.starts_at_beginning() || span <= 0.0 {
        return Vec::new();
    }
    // A loss logged at step 0 or 1 is the loss before (or of) the first update: the start
    // itself, whatever the following steps do (an LR blow-up at step 2 is not a bad init).
    // A first point logged later is a mean over the first steps: use the head's median.
    let head: Vec<f64> = t.iter().take(3).map(|p| p.value).collect();
    let init = if first <= 1.0 {
        t[0].value
    } else {
        if head_climbs(t) {
            return Vec::new();
        }
        stats::median(&head)
    };
    let fin = ctx.final_level();
    let advice_high =
        "Scale the output layer's initial weights down (e.g. std 0.02 or zero-init the \
                       head/bias) so the first loss is ≈ ln V, check that the loss is averaged per \
                       token (not summed over the sequence), and add 100–200 warmup steps.";
    let implausible = match ctx.refs.ln_vocab {
        Some(lnv) => init > (1.2 * lnv).max(lnv + 0.7),
        None => ctx.family.is_cross_entropy() && t[0].value.max(init) > MAX_LN_VOCAB + 0.5,
    };
    if let Some(f) = implausible
        .then(|| held_up_by_the_lr(ctx, t[0].value.max(init)))
        .flatten()
    {
        return vec![f];
    }
    match ctx.refs.ln_vocab {
        Some(lnv) => {
            // Against a known ln V, a first loss off for one step only (the next points back
            // near ln V) is an output scale the first update already fixed: the head's median
            // says where the run started. (A blow-up at step 2 leaves the first value.)
            let init = if first <= 1.0 {
                init.min(stats::median(&head))
            } else {
                init
            };
            if init > (1.2 * lnv).max(lnv + 0.7) {
                let ratio = init / lnv;
                vec![finding(
                    FindingKind::InitLossOff,
                    Severity::Warning,
                    Span::at(first),
                    format!(
                        "The first losses ({}) are {:.2}× ln V = {}: the model starts far more confident \
                         (and wrong) than a uniform guess.",
                        num(init),
                        ratio,
                        num(lnv)
                    ),
                    json!({ "init_loss": init, "ln_vocab": lnv, "ratio": ratio, "final_loss": fin }),
                    advice_high,
                )]
            } else if init < 0.5 * lnv {
                vec![finding(
                    FindingKind::InitLossOff,
                    Severity::Info,
                    Span::at(first),
                    format!(
                        "The first losses ({}) are already far below ln V = {}: expected when fine-tuning \
                         a pretrained model, suspicious when training from scratch.",
                        num(init),
                        num(lnv)
                    ),
                    json!({ "init_loss": init, "ln_vocab": lnv, "ratio": init / lnv }),
                    "If this run starts from scratch, check for a target leak (targets visible in the \
                     inputs) or a loss mask that drops most tokens; for a fine-tune nothing to do.",
                )]
            } else {
                Vec::new()
            }
        }
        None => {
            // Unknown vocabulary: only a cross-entropy that later settles where a cross-entropy
            // does gives grounds, and then the first value itself (a bad start drops within a
            // few steps, so a median of the head would hide it). An unnamed loss may be a sum
            // of two heads (a detector's class and box terms, a tracker's, a forecaster's
            // quantiles), which starts near twice ln V: only a start beyond twice the largest
            // vocabulary's is out of reach of any such sum (16-33 at the start of healthy
            // trackers and forecasters; 86-740 in runs whose scale was off).
            let start = t[0].value.max(init);
            let beyond_two_heads = 2.0 * MAX_LN_VOCAB;
            if !ctx.family.is_cross_entropy()
                || start <= beyond_two_heads
                || fin >= 0.5 * start
                || held_out_on_the_same_scale(ctx)
            {
                return Vec::new();
            }
            let mut out = vec![finding(
                FindingKind::InitLossOff,
                Severity::Warning,
                Span::at(first),
                format!(
                    "The first loss ({}) is above twice ln of any realistic vocabulary (ln 270k ≈ {}), \
                     more than even a sum of two heads starts at, and the run then falls to {}: the \
                     initial output scale is far off.",
                    num(start),
                    num(MAX_LN_VOCAB),
                    num(fin)
                ),
                json!({ "init_loss": start, "max_plausible_init": beyond_two_heads, "final_loss": fin,
                        "loss_family": ctx.family.assumption() }),
                advice_high,
            )];
            out.extend(stall_after_bad_start(ctx, start, fin));
            out
        }
    }
}

/// A bad output scale is what the first updates fix: held-out data scored after training
/// began (step 1 on: an evaluation at step 0 sees the start itself) would lie under ln of any
/// vocabulary. One above it says the loss lives on that scale (a margin loss's 34 at its first
/// epoch, a regression's 36, a summed ASR loss's 196): its start is no scale to fix.
fn held_out_on_the_same_scale(ctx: &Ctx) -> bool {
    ctx.val
        .iter()
        .find(|p| p.step >= 1.0)
        .is_some_and(|p| p.value > MAX_LN_VOCAB)
}

/// A first point logged after several steps is a mean over them, and a bad start can only
/// fall (or hold) after it: a head that climbs higher (10 % within the next five points) is an
/// LR blow-up in the first steps, which the later points already averaged in.
pub(crate) fn head_climbs(t: &[crate::Point]) -> bool {
    t.len() > 1
        && t[0].step > 1.0
        && t[1..6.min(t.len())]
            .iter()
            .any(|p| p.value > 1.1 * t[0].value)
}

/// How many of the first points stay within 15% of the first loss.
fn points_held_at(t: &[crate::Point], start: f64) -> usize {
    t.iter()
        .take_while(|p| (p.value - start).abs() <= 0.15 * start)
        .count()
}

/// A loss held above any plausible start (≥ 15 points) that falls only when the LR is cut:
/// the LR kept it there, not the initialisation. A saturated init falls on its own pace at
/// any LR; a loss that sat far above ln V until the LR came down was blown up by the steps
/// (the first logged point may already be after the blow-up).
fn held_up_by_the_lr(ctx: &Ctx, start: f64) -> Option<Finding> {
    let t = &ctx.train;
    let held = points_held_at(t, start);
    if held < 15 || held >= t.len() {
        return None;
    }
    let (last_held, next) = (t[held - 1].step, t[held].step);
    let cut = *ctx.lr_drops.iter().find(|&&d| d > last_held && d <= next)?;
    let level = stats::median(&t[..held].iter().map(|p| p.value).collect::<Vec<_>>());
    let (lr_before, lr_after) = (ctx.lr_at(last_held)?, ctx.lr_at(next)?);
    Some(finding(
        FindingKind::Divergence,
        Severity::Error,
        Span::range(t[0].step, last_held),
        format!(
            "The loss sits at {} (far above where any fresh model starts) for {held} points, \
             steps {}–{}, and falls only when the LR is cut from {} to {} at step {}: the \
             learning rate blew the model up and held it there.",
            num(level),
            step_str(t[0].step),
            step_str(last_held),
            num(lr_before),
            num(lr_after),
            step_str(cut)
        ),
        json!({ "level": level, "points": held, "lr_cut_step": cut, "lr_before": lr_before,
                "lr_after": lr_after, "loss_after": t[held].value }),
        "Start at the LR the run recovered at (or lower), clip gradients at 0.25–1.0, and add \
         100–200 warmup steps; the steps spent at the high LR were wasted.",
    ))
}

/// A bad start that holds: the first ≥ 15 points stay within 15% of the first loss before the
/// run finally drops. Reported beside the bad start, since the wasted steps are their own cost.
fn stall_after_bad_start(ctx: &Ctx, start: f64, fin: f64) -> Option<Finding> {
    let t = &ctx.train;
    let held = points_held_at(t, start);
    if held < 15 || held >= t.len() || start - fin < 0.5 * start {
        return None;
    }
    let level = stats::median(&t[..held].iter().map(|p| p.value).collect::<Vec<_>>());
    let (from, to) = (t[0].step, t[held - 1].step);
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "After the bad start the loss stays at {} for {held} points (steps {}–{}) before it \
             falls: the saturated outputs give almost no gradient.",
            num(level),
            step_str(from),
            step_str(to)
        ),
        json!({ "level": level, "points": held, "final_loss": fin }),
        "Fix the initial output scale (see init_loss_off); with a sane start these steps are not wasted.",
    ))
}

#[cfg(test)]
#[path = "init_loss_tests.rs"]
mod tests;
