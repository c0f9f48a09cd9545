//! What the validation curve says against the training curve: overfitting (validation rises
//! while training falls) and leakage (losses implausibly low: validation tracking a collapsed
//! training loss, validation far below training, or below the data's floor).

use serde_json::json;

use crate::detect::stats::{median, robust_sd, rolling_median};
use crate::detect::{finding, num, stats, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};
use crate::Point;

fn values(points: &[Point]) -> Vec<f64> {
    points.iter().map(|p| p.value).collect()
}

/// Median training loss over the steps `[from, to]`, falling back to the nearest point.
fn train_level(ctx: &Ctx, from: f64, to: f64) -> f64 {
    let m = stats::median_between(&ctx.train, from, to);
    if m.is_finite() {
        m
    } else {
        stats::value_at(&ctx.train, to).unwrap_or(f64::NAN)
    }
}

/// Median training loss within one evaluation interval before `step`.
fn train_level_at(ctx: &Ctx, step: f64) -> f64 {
    let n = ctx.val.len().max(2) as f64;
    let spacing = (ctx.last_step() - ctx.first_step()) / n;
    train_level(ctx, step - spacing, step)
}

/// A rise of validation from its best that is overfitting without a steady climb to show for
/// it, as a fraction of the best.
const LARGE_RISE: f64 = 0.05;

/// Whether three in four of the steps from `from` through `later` go up.
fn climbs_mostly(from: f64, later: &[f64]) -> bool {
    let ups = usize::from(later.first().is_some_and(|&v| v > from))
        + later.windows(2).filter(|w| w[1] > w[0]).count();
    ups * 4 >= later.len() * 3
}

/// The noise sd of a series from its successive differences, robust: a 3-point median's
/// residuals are zero at every point that is its window's median, a third or more of them,
/// which shrinks their spread where the series swings.
fn difference_noise(xs: &[f64]) -> f64 {
    let steps: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
    robust_sd(&steps) / std::f64::consts::SQRT_2
}

/// A first loss of ln 5 or more: a cross-entropy over at least five outputs (a character
/// model's first epoch, 1.7 nats after starting at ln 29), where validation tracking training
/// at a fifth of the start for twenty evaluations says the validation data was seen.
const MANY_OUTPUTS_START: f64 = 1.609;

pub fn overfitting(ctx: &Ctx) -> Vec<Finding> {
    let val = &ctx.val;
    // Three evaluations that climb while training falls are overfitting, however short the run.
    if val.len() < 3 || ctx.train_is_val || ctx.train.len() < 3 {
        return Vec::new();
    }
    let raw = values(val);
    let smooth = if raw.len() >= 7 {
        rolling_median(&raw, 1)
    } else {
        raw.clone()
    };
    // With few evaluations a rolling median moves the minimum off the best evaluation: pick
    // the best on the raw values then.
    let pick = if raw.len() < 10 { &raw } else { &smooth };
    let best = (0..pick.len())
        .min_by(|&a, &b| pick[a].total_cmp(&pick[b]))
        .unwrap_or(0);
    // The evaluation noise, over the whole run and from the best on, whichever is larger:
    // validation that sat still for half the run and swings once the model learns (a
    // detector's box loss: 0.100 ± 0.0003 for 45 epochs, then 0.054-0.128 from epoch to
    // epoch) has a whole-run noise of nearly nothing.
    let noise = if raw.len() >= 7 {
        let after_best = &raw[best..];
        let local = if after_best.len() >= 7 {
            difference_noise(after_best)
        } else {
            0.0
        };
        let residuals: Vec<f64> = raw.iter().zip(&smooth).map(|(a, b)| a - b).collect();
        robust_sd(&residuals).max(local)
    } else {
        0.0
    };
    let after = &raw[best + 1..];
    let best_val = pick[best];
    // The last evaluation the lowest of all: whatever rose between, validation came back and
    // the run ends at its best checkpoint (a noisy linear probe: 0.76, up to 0.86, then 0.744).
    if raw.len() >= 5 && raw[raw.len() - 1] <= raw.iter().copied().fold(f64::INFINITY, f64::min) {
        return Vec::new();
    }
    // A last evaluation alone after the best (a three-epoch fine-tune: 0.290, 0.268, 0.369)
    // is a rise when it is a large one (the 5 % a wandering rise needs, below) and the gap to
    // training at least doubled with it: an evaluation over a whole held-out set is a quiet
    // measurement, and the widening gap is the memorising itself.
    let one_jump = after.len() == 1 && after[0] > best_val + LARGE_RISE * best_val.abs();
    if after.is_empty() {
        return Vec::new();
    }
    // A steady climb over three or more evaluations is evidence even when small (a fine-tune's
    // eval loss creeping 2.52 → 2.62); a rise that wanders needs to be larger.
    // Many noisy evaluations climb steadily when their order agrees with time (Kendall's tau),
    // even where single steps go down as often as up.
    let steady = after.len() >= 3 && climbs_mostly(best_val, after)
        || after.len() >= 8 && stats::order_agreement(after) >= 0.5;
    // The end level from the last sixth of the run; along a steady climb from no more than
    // the last quarter of it, as a longer median reaches back into the climb it measures.
    let k = if steady {
        (raw.len() / 6).min(after.len() / 4).max(1)
    } else {
        (raw.len() / 6).max(1)
    };
    let end_val = median(&raw[raw.len() - k..]);
    let rise = end_val - best_val;
    // Five or more evaluations after the lowest one, every one above it, are a rise no noise
    // makes (1 in 32 for a coin): then the margins below ask for one noise width, not three.
    // Not none: every evaluation after a minimum is above it, so where the noise is as large
    // as the level (16 validation images: 0.03-1.3 from epoch to epoch) a late dip is the
    // minimum, and the evaluations after it say nothing unless they stand clear of the noise.
    let raw_best = (0..raw.len())
        .min_by(|&a, &b| raw[a].total_cmp(&raw[b]))
        .unwrap_or(0);
    // They must not drift down, though: after a lucky dip in a flat band every later
    // evaluation is above the dip too, and a band that keeps settling is no climb.
    let all_above = raw.len() - raw_best > 5
        && raw[raw_best + 1..]
            .iter()
            .all(|&v| v > raw[raw_best] + 0.01 * raw[raw_best].abs())
        && stats::order_agreement(&raw[raw_best + 1..]) >= 0.0;
    // Three or more evaluations after the best, every one above it, while the gap to training
    // at least doubled: the "a gap that grows while validation rises", however few the
    // evaluations. Their own spread then says little about noise: it is the rise itself.
    let gaps = || {
        let (b, e) = (val[raw_best].step, val[val.len() - 1].step);
        let gap_best = raw[raw_best] - train_level_at(ctx, b);
        let gap_end = raw[raw.len() - 1] - train_level_at(ctx, e);
        (gap_best, gap_end)
    };
    let gap_doubled = || {
        let (gap_best, gap_end) = gaps();
        gap_best.is_finite() && gap_end.is_finite() && gap_end > 2.0 * gap_best.max(0.0) + 1e-12
    };
    // Doubled from above zero: a gap that opens from validation below training doubles
    // trivially.
    let gap_grew = || {
        let (gap_best, gap_end) = gaps();
        gap_best > 0.0 && gap_end > 2.0 * gap_best
    };
    if after.len() < 2 && !(one_jump && gap_doubled()) {
        return Vec::new();
    }
    if after.len() == 2 && !gap_doubled() {
        return Vec::new();
    }
    let few_all_above = raw.len() - raw_best > 3
        && raw[raw_best + 1..]
            .iter()
            .all(|&v| v > raw[raw_best] + 0.01 * raw[raw_best].abs())
        && gap_doubled();
    let margin_noise = if all_above || few_all_above {
        noise / 3.0
    } else {
        noise
    };
    // Sustained: most evaluations of the later half after the best stay clearly above it (a
    // validation loss often lingers at its best for a while before it climbs).
    let margin = (2.0 * margin_noise).max(0.01 * best_val.abs());
    let later = &after[after.len() / 2..];
    let above =
        later.iter().filter(|&&v| v > best_val + margin).count() as f64 / later.len() as f64;
    // A steady climb needs less rise than one that wanders (above).
    // Five or more evaluations after the lowest, each higher than the one before, are a climb
    // no noise makes (1 in 720 in random order): then 1 % is rise enough.
    let after_raw = &raw[raw_best..];
    // Four such climbs are a 1 in 24 order: enough with the gap to training doubled beside them
    // (a word LM's validation 4.734, 4.741, 4.758, 4.783, 4.813 while training falls 4.18 → 3.26).
    let climbs_needed = if gap_grew() { 5 } else { 6 };
    // A curve with next to no evaluation noise (a boosted model's test error, a full-batch
    // run) climbing in order over twenty or more evaluations, by twenty noise widths: every
    // step of it is real, so half a per cent is rise enough, in any unit (CatBoost's test
    // error 0.9923 → 1.0021 over 300 iterations at noise 0.0003).
    let quiet_climb =
        after_raw.len() >= 20 && stats::order_agreement(after_raw) >= 0.5 && rise > 20.0 * noise;
    let strictly_climbing = quiet_climb
        || after_raw.len() >= climbs_needed && after_raw.windows(2).all(|w| w[1] > w[0]);
    let needed = if quiet_climb {
        0.005
    } else if strictly_climbing {
        0.01
    } else if steady {
        0.02
    } else {
        LARGE_RISE
    };
    // A hundredth in the loss's own units keeps a wandering rise of a near-zero loss from
    // counting; a climb in order is evidence by its order, whatever the unit (a detector's box
    // loss climbing 0.033 → 0.036 over 270 epochs would need a third of its level).
    let floor = if quiet_climb || steady { 0.0 } else { 0.01 };
    // Such a climb is sustained by its order alone, however close to the best its first steps
    // stay (a rolling median's best sits on them; a fine-tune's validation 2.093, 2.097, 2.098
    // … 2.120 leaves half its later points within 1 % of the best).
    if rise < (needed * best_val.abs()).max(3.0 * margin_noise).max(floor)
        || (above < 0.7 && !strictly_climbing)
    {
        return Vec::new();
    }
    let best_step = val[best].step;
    let last_step = val[val.len() - 1].step;
    let spacing = (last_step - val[0].step) / (val.len() - 1) as f64;
    // Training where validation was best: the median of the points around it, or, when the
    // log is as sparse as the evaluations (a few epoch lines, unevenly spaced), the training
    // value logged with that evaluation, so a later point's jump is not averaged in.
    let (lo, hi) = (best_step - spacing * 0.5, best_step + spacing * 0.5);
    let as_sparse = ctx.train.len() <= 2 * val.len();
    let train_best = match stats::value_at(&ctx.train, best_step) {
        Some(v) if as_sparse => v,
        _ => train_level(ctx, lo, hi),
    };
    let train_end = train_level(ctx, last_step - spacing, last_step);
    // Falling: by more than the trend's noise, or (a short log, whose noise estimate is mostly
    // its own fast trend) by 3 % with every later point in order.
    let train_after: Vec<f64> = ctx
        .train
        .iter()
        .filter(|p| p.step >= best_step)
        .map(|p| p.value)
        .collect();
    let in_order = stats::falls_in_order(&train_after);
    let drop = train_best - train_end;
    let falling = drop > 0.03 * train_best.abs() && (drop > 3.0 * ctx.bin_noise || in_order);
    // Four or more evaluations after the best, each above it and climbing, while training
    // holds its level or falls (too noisily to say which): held-out loss worsening while the
    // training loss does not is the memorising, whatever the training noise.
    // Measured from the best evaluation as picked above and from the lowest raw one (a
    // rolling median can move the best off it).
    let climbs_from = |from: f64, later: &[f64]| {
        later.len() >= 4
            && later.iter().all(|&v| v > from + 0.01 * from.abs())
            && climbs_mostly(from, later)
    };
    let climbs_above =
        climbs_from(best_val, after) || climbs_from(raw[raw_best], &raw[raw_best + 1..]);
    let holding = train_end <= train_best + ctx.bin_noise.max(0.01 * train_best.abs());
    if !(falling || (climbs_above && holding)) {
        return Vec::new(); // training is not falling: not overfitting (maybe instability)
    }
    vec![finding(
        FindingKind::Overfitting,
        Severity::Warning,
        Span::range(best_step, last_step).with_peak(best_step),
        format!(
            "Validation loss rises from its best {} at step {} to {} by step {} (+{:.0}%) while training loss \
             keeps falling from {} to {}: the model memorises the training set.",
            num(best_val),
            step_str(best_step),
            num(end_val),
            step_str(last_step),
            100.0 * rise / best_val.abs().max(1e-12),
            num(train_best),
            num(train_end)
        ),
        json!({
            "best_val": best_val,
            "best_step": best_step,
            "final_val": end_val,
            "val_rise": rise,
            "val_noise_sd": noise,
            "train_at_best": train_best,
            "final_train": train_end,
            "gap_at_end": end_val - train_end,
            "val_points": val.len(),
        }),
        format!(
            "Keep the checkpoint from step {} and stop there (early stopping on validation loss); then add \
             data or augmentation, raise dropout (0.2–0.5) or weight decay, or shrink the model.",
            step_str(best_step)
        ),
    )]
}

/// Both curves end worse than they began: validation never returns to its first evaluation
/// (five or more, ending over 10 % above it) while training also ends over 10 % above its
/// start. Not overfitting (training would fall): the updates make the model worse everywhere,
/// as a learning rate too high does to a fine-tune. Left to other findings that already say
/// divergence or overfitting.
pub fn worse_on_both(ctx: &Ctx, earlier: &[Finding]) -> Option<Finding> {
    let said = earlier.iter().any(|f| {
        matches!(f.kind, FindingKind::Divergence | FindingKind::Overfitting)
            && f.severity >= Severity::Warning
    });
    let (val, train) = (&ctx.val, &ctx.train);
    if said || ctx.train_is_val || val.len() < 5 || train.len() < 3 {
        return None;
    }
    let first = val[0].value;
    let last = val[val.len() - 1].value;
    let never_back = val[1..].iter().all(|p| p.value > first);
    let head = (train.len() / 5).max(1);
    let train_start = median(&values(&train[..head]));
    let train_end = median(&values(&train[train.len() - head..]));
    if !(never_back && last > 1.1 * first && train_end > 1.1 * train_start) {
        return None;
    }
    let (from, to) = (val[0].step, val[val.len() - 1].step);
    Some(finding(
        FindingKind::Divergence,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "Validation never gets back to its first evaluation ({} at step {}; it ends at {}), \
             and training ends above where it started ({} → {}): the updates make the model \
             worse on both, which is a learning rate too high for the run (a fine-tune most of all).",
            num(first),
            step_str(from),
            num(last),
            num(train_start),
            num(train_end)
        ),
        json!({ "val_first": first, "val_last": last, "val_points": val.len(),
                "train_start": train_start, "train_end": train_end }),
        "Lower the learning rate ×0.1–0.3 (fine-tunes: 1e-5 to 5e-5, LoRA 1e-4 to 2e-4), add \
         warmup, and keep the checkpoint of the first evaluation, the best this run made.",
    ))
}

pub fn leakage(ctx: &Ctx) -> Vec<Finding> {
    if ctx.train.len() < 5 || ctx.train_is_val {
        return Vec::new();
    }
    if let Some(f) = zero_from_the_start(ctx) {
        return vec![f];
    }
    let refs = &ctx.refs;
    let train_final = ctx.final_level();
    let init = ctx.init_level();
    let low = implausibly_low(ctx, init);
    let val = &ctx.val;
    let advice = "Check the data pipeline for leaks: targets shifted by one (inputs must not contain the \
                  token being predicted), overlapping train/validation windows (split the text before \
                  cutting windows, not after), duplicated documents across splits, or a causal mask missing.";
    // A validation loss that itself goes negative (a Gaussian negative log-likelihood) has no
    // floor at zero: a level near zero is no collapse toward one.
    if val.iter().any(|p| p.value < 0.0) {
        return Vec::new();
    }
    if val.len() >= 2 {
        let k = (val.len() / 3).max(1);
        let tail = &val[val.len() - k..];
        let val_level = median(&values(tail));
        let (from, to) = (tail[0].step, tail[tail.len() - 1].step);
        let train_level = train_level(ctx, from, to.max(from));
        let evidence = json!({
            "val_level": val_level,
            "train_level": train_level,
            "initial_loss": init,
            "implausible_below": low,
            "ln_vocab": refs.ln_vocab,
            "floor": refs.floor,
        });
        let tracks = (val_level - train_level).abs() <= 0.15 * val_level.max(train_level) + 0.005;
        // "Implausibly low" needs grounds: a known vocabulary. A classifier or a fine-tune
        // legitimately fits its task to near zero.
        // Without grounds, only a long, gapless tracking at a level a fit to zero would have
        // left behind says the validation data is the training data: twenty evaluations or
        // more (a character model tracking at 0.25 over 29 epochs). Sixteen epochs of a
        // segmentation U-Net's Dice loss tracking at 0.28 are a model that does not overfit.
        // No start grounds it alone: one near 4 nats is a 55-class classifier's as much as a
        // character model's (FjordVision's 4.04 → 0.02 is healthy), and one of 6+ nats may be
        // a fine-tune meeting a new prompt format (a LoRA SFT for shell commands: 6.70 → 0.19
        // in 100 steps, eval 0.18 on the same narrow task).
        // Nor does a loss that starts under ln 5 say it: a Dice or IoU loss, a reconstruction
        // error, a multi-label BCE or a classifier over two to four classes has no level near
        // zero it must stop short of, and its validation tracks training wherever the model
        // generalises (an adversarial autoencoder's reconstruction, 0.87 → 0.21, with
        // validation 0.23 over 40 epochs).
        // (A known vocabulary makes the family a vocabulary-sized cross-entropy.)
        let grounded = ctx.refs.ln_vocab.is_some();
        // Within the first epoch every training batch is new to the model, so the training
        // loss is itself a held-out estimate: validation tracking it there says nothing,
        // whatever the level (an SFT on templated chat tracks at 0.21 for its one epoch).
        let first_epoch = ctx
            .run
            .steps_per_epoch
            .is_some_and(|spe| ctx.last_step() <= 1.05 * spe);
        // And only at a level: validation still falling fast over the tail (by more than a
        // sixth from its first half to its second) tracks a model that is still learning, as a
        // CNN regression's MSE does at 0.87 → 0.10 over 150 epochs.
        let half = tail.len() / 2;
        let settled =
            median(&values(&tail[..half.max(1)])) <= 1.15 * median(&values(&tail[half..]));
        let gapless = || {
            let last: Vec<&Point> = val.iter().rev().take(5).collect();
            !first_epoch
                && init >= MANY_OUTPUTS_START
                && settled
                && val.len() >= 20
                && val_level > 0.1
                && last.iter().all(|p| {
                    let t = train_level_at(ctx, p.step);
                    (p.value - t).abs() <= 0.1 * t.max(p.value)
                })
        };
        // Validation under training is no excuse here: at an implausible level it only makes
        // the leak plainer.
        // Nor is validation a little above a training loss that is itself implausibly low for
        // the known vocabulary: both at ~0 differ by a large ratio and a meaningless amount.
        let both_implausible = ctx.refs.ln_vocab.is_some() && train_level < low;
        let tracks_or_below = tracks || val_level < train_level || both_implausible;
        // A character model needs no fall to see from its first logged loss: its level alone
        // says it (a GRU logging from step 10, already at 1.4 nats with 70 characters, ends at
        // 0.85 on validation after 570 steps: its inputs carry the targets).
        let fell = init > 3.0 * val_level || character_short_run(ctx);
        if val_level < low && tracks_or_below && fell && (grounded || gapless()) {
            return vec![finding(
                FindingKind::Leakage,
                Severity::Error,
                Span::range(from, to),
                format!(
                    "Validation loss tracks training loss down to {} (training {}), implausibly low for held-out \
                     data{}: the model sees what it should predict.",
                    num(val_level),
                    num(train_level),
                    refs.ln_vocab.map_or(String::new(), |l| format!(" ({:.1}% of ln V = {})", 100.0 * val_level / l, num(l)))
                ),
                evidence,
                advice,
            )];
        }
        // Validation below training is normal in fine-tunes (dropout and augmentation act on
        // the training side only, the evaluation set may be easier): only a validation loss
        // that collapses toward zero (half the implausible level) while training does not is
        // suspicious: mixup and label smoothing hold training at 0.7 over a test loss of 0.21.
        if val_level < 0.5 * low && val_level < 0.3 * train_level && train_level - val_level > 0.2 {
            return vec![finding(
                FindingKind::Leakage,
                Severity::Warning,
                Span::range(from, to),
                format!(
                    "Validation loss collapses to {} while training loss stays at {} ({:.0}% lower); dropout alone \
                     does not explain that.",
                    num(val_level),
                    num(train_level),
                    100.0 * (1.0 - val_level / train_level)
                ),
                evidence,
                "Check that validation examples are not also in the training set and that validation is scored \
                 with the same loss (per token, same masking) as training.",
            )];
        }
        if let Some(floor) = refs.floor.filter(|f| val_level < 0.8 * f) {
            return vec![finding(
                FindingKind::Leakage,
                Severity::Error,
                Span::range(from, to),
                format!(
                    "Validation loss {} is below the data's floor {}: no model can do that on held-out text.",
                    num(val_level),
                    num(floor)
                ),
                evidence,
                advice,
            )];
        }
        return Vec::new();
    }
    // No validation: only a known reference can call a collapsed training loss implausible.
    let collapse = refs.floor.map(|f| train_final < 0.5 * f).unwrap_or(false)
        || refs
            .ln_vocab
            .is_some_and(|l| train_final < 0.03 * l && init > 0.5 * l);
    if !collapse {
        return Vec::new();
    }
    vec![finding(
        FindingKind::Leakage,
        Severity::Warning,
        Span::range(ctx.first_step(), ctx.last_step()),
        format!(
            "Training loss collapses to {}{}; with no validation curve this is either a leak or memorisation \
             of a tiny dataset.",
            num(train_final),
            match (refs.floor, refs.ln_vocab) {
                (Some(f), _) => format!(", below the data's floor {}", num(f)),
                (None, Some(l)) => format!(" ({:.1}% of ln V = {})", 100.0 * train_final / l, num(l)),
                _ => String::new(),
            }
        ),
        json!({ "final_train": train_final, "floor": refs.floor, "ln_vocab": refs.ln_vocab, "initial_loss": init }),
        format!("{advice} Log a validation loss to tell a leak from memorisation."),
    )]
}

/// A cross-entropy that is already ~0 at the first logged step and stays there: a model
/// that starts out knowing every answer was never given anything to learn (the target is in
/// the inputs, the labels are constant, or the loss ignores the prediction). Near zero is
/// under 1e-4: a regression on normalised targets (positions, prices, heat maps) lives at
/// 1e-4-1e-3 from its first epoch, and nothing in the values tells it from a cross-entropy.
fn zero_from_the_start(ctx: &Ctx) -> Option<Finding> {
    const NEAR_ZERO: f64 = 1e-4;
    let (init, end) = (ctx.init_level(), ctx.final_level());
    // An excerpt that starts late in a run may just show a model that has converged there;
    // so may a first point logged a tenth of the way in (every 500 of 5000 epochs), however
    // regular the logging: "already at the start" needs a point near it.
    let (first, last) = (ctx.first_step(), ctx.last_step());
    if !ctx.family.is_cross_entropy()
        || !ctx.starts_at_beginning()
        || first > 10.0_f64.max(0.02 * last)
        || ctx.train.len() < 10
        || init >= NEAR_ZERO
        || end >= NEAR_ZERO
    {
        return None;
    }
    let max = ctx.train.iter().map(|p| p.value).fold(0.0, f64::max);
    if max >= 10.0 * NEAR_ZERO {
        return None;
    }
    // Targets that leak into the inputs leak on held-out data too: validation ten times
    // training or more says the small numbers are the loss's own scale (a regression on
    // normalised targets: train 4e-5, validation 0.011), not a model that knows every answer.
    let val = values(&ctx.val);
    if !ctx.train_is_val && !val.is_empty() && end > 0.0 && median(&val) >= 10.0 * end {
        return None;
    }
    Some(finding(
        FindingKind::Leakage,
        Severity::Error,
        Span::range(ctx.first_step(), ctx.last_step()),
        format!(
            "The training loss is already {} at the first logged step and never rises above {}: a \
             model that starts out knowing every answer has nothing to learn.",
            num(init),
            num(max)
        ),
        json!({ "initial_loss": init, "final_train": end, "max_train": max }),
        "Check that the targets are not in the inputs (a label column left among the features, \
         targets not shifted), that the labels are not all one class, and that the loss is \
         computed on the model's output (not on the targets themselves).",
    ))
}

/// ln 512: above it the vocabulary is words or subwords, not characters or bytes.
const BYTE_VOCAB_LN: f64 = 6.24;
/// Steps within which no honest character model gets near 1.3 bits per character.
const SHORT_RUN_STEPS: f64 = 5000.0;

/// A character (or byte) model's run short enough that its level is bounded whatever its
/// first logged loss: fine-tunes of character models are rare, and one logging from step 10
/// hides its first drop.
fn character_short_run(ctx: &Ctx) -> bool {
    ctx.refs.ln_vocab.is_some_and(|l| l <= BYTE_VOCAB_LN) && ctx.last_step() <= SHORT_RUN_STEPS
}

/// Per-token loss below which held-out natural text is out of reach for any model, from the
/// best published results: characters ≥ 0.94 bits (enwik8; text8 and PTB ≥ 1.0), so below 0.8
/// bits (0.55 nats) is a leak; a word or subword token spans ~4 characters and the best models
/// stay above ~2.3 nats on open text (1.1 on synthetic stories), so below 1 nat (perplexity
/// 2.7) is a leak. Only for a run that starts from scratch: a fine-tune may have memorised its
/// domain already. A pretrained model starts a fine-tune well under half of ln V (GPT-2 on a
/// new domain: ~3.5 of 10.8); a fresh one starts at ln V, and even its first logged value, a
/// mean over the first interval, stays above half of it. A short character run is bounded
/// whatever its start ([`character_short_run`]).
fn implausibly_low(ctx: &Ctx, init: f64) -> f64 {
    // 0.9 nats is 1.3 bits per character: what large models reach on English text after days
    // of training (an LSTM on enwik8), not a run of a few thousand steps. What a short honest
    // run reaches scales with the alphabet (lower-case PTB characters, V = 48, get to 0.99 =
    // 0.26 ln V; English with capitals stays far above, and a few thousand steps over the
    // bytes of mixed text, V = 200-350, stay above 1.2), so the bar is 23 % of ln V, kept
    // between 0.9 and 1.2 nats. A longer run may be such a model; below 0.55 (0.8 bits) none is.
    let bar = match ctx.refs.ln_vocab {
        Some(l) if character_short_run(ctx) => (0.23 * l).clamp(0.9, 1.2),
        Some(l) if init >= 0.5 * l && l > BYTE_VOCAB_LN => 1.0,
        Some(l) if init >= 0.5 * l => 0.55,
        Some(l) => (0.08 * l).min(0.5),
        None => 0.3,
    };
    // Where the data's floor is known (rnnlab's own runs), every level above it is reachable:
    // a byte model on the built-in corpus gets to 0.84 in two minutes, its floor being 0.81.
    ctx.refs.floor.map_or(bar, |f| bar.min(f))
}

#[cfg(test)]
#[path = "validation_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "validation_quiet_tests.rs"]
mod quiet_tests;

#[cfg(test)]
#[path = "leakage_tests.rs"]
mod leakage_tests;
