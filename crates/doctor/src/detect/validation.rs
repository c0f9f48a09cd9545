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
    let noise = if raw.len() >= 7 {
        let r: Vec<f64> = raw.iter().zip(&smooth).map(|(a, b)| a - b).collect();
        robust_sd(&r)
    } else {
        0.0
    };
    // With few evaluations a rolling median moves the minimum off the best evaluation: pick
    // the best on the raw values then.
    let pick = if raw.len() < 10 { &raw } else { &smooth };
    let best = (0..pick.len())
        .min_by(|&a, &b| pick[a].total_cmp(&pick[b]))
        .unwrap_or(0);
    let after = &raw[best + 1..];
    if after.len() < 2 {
        return Vec::new();
    }
    let best_val = pick[best];
    let k = (raw.len() / 6).max(1);
    let end_val = median(&raw[raw.len() - k..]);
    let rise = end_val - best_val;
    // Five or more evaluations after the lowest one, every one above it, are a rise no noise
    // makes (1 in 32 for a coin): then the noise does not set the margins below.
    let raw_best = (0..raw.len())
        .min_by(|&a, &b| raw[a].total_cmp(&raw[b]))
        .unwrap_or(0);
    let all_above = raw.len() - raw_best > 5
        && raw[raw_best + 1..]
            .iter()
            .all(|&v| v > raw[raw_best] + 0.01 * raw[raw_best].abs());
    // Three or more evaluations after the best, every one above it, while the gap to training
    // at least doubled: the "a gap that grows while validation rises", however few the
    // evaluations. Their own spread then says little about noise: it is the rise itself.
    let gap_doubled = || {
        let (b, e) = (val[raw_best].step, val[val.len() - 1].step);
        let gap_best = raw[raw_best] - train_level_at(ctx, b);
        let gap_end = raw[raw.len() - 1] - train_level_at(ctx, e);
        gap_best.is_finite() && gap_end.is_finite() && gap_end > 2.0 * gap_best.max(0.0) + 1e-12
    };
    let few_all_above = raw.len() - raw_best > 3
        && raw[raw_best + 1..]
            .iter()
            .all(|&v| v > raw[raw_best] + 0.01 * raw[raw_best].abs())
        && gap_doubled();
    let margin_noise = if all_above || few_all_above {
        0.0
    } else {
        noise
    };
    // Sustained: most evaluations of the later half after the best stay clearly above it (a
    // validation loss often lingers at its best for a while before it climbs).
    let margin = (2.0 * margin_noise).max(0.01 * best_val.abs());
    let later = &after[after.len() / 2..];
    let above =
        later.iter().filter(|&&v| v > best_val + margin).count() as f64 / later.len() as f64;
    // A steady climb over three or more evaluations is evidence even when small (a fine-tune's
    // eval loss creeping 2.52 → 2.62); a rise that wanders needs to be larger.
    let ups = after
        .windows(2)
        .filter(|w| w[1] > w[0])
        .count()
        .saturating_add(usize::from(after[0] > best_val));
    // Many noisy evaluations climb steadily when their order agrees with time (Kendall's tau),
    // even where single steps go down as often as up.
    let steady = after.len() >= 3 && ups * 4 >= after.len() * 3
        || after.len() >= 8 && stats::order_agreement(after) >= 0.5;
    let needed = if steady { 0.02 } else { 0.05 };
    if rise < (needed * best_val.abs()).max(3.0 * margin_noise).max(0.01) || above < 0.7 {
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
    let in_order = train_after.len() >= 3 && stats::order_agreement(&train_after) <= -0.6;
    let drop = train_best - train_end;
    let falling = drop > 0.03 * train_best.abs() && (drop > 3.0 * ctx.bin_noise || in_order);
    if !falling {
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
        // "Implausibly low" needs grounds: a known vocabulary, or a start the size of a
        // vocabulary. A classifier or a fine-tune legitimately fits its task to near zero.
        // Without grounds, only a long, gapless tracking at a level a fit to zero would have
        // left behind says the validation data is the training data.
        let grounded = ctx.family.lm_sized();
        let gapless = || {
            let last: Vec<&Point> = val.iter().rev().take(5).collect();
            val.len() >= 8
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
        if val_level < low && tracks_or_below && init > 3.0 * val_level && (grounded || gapless()) {
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
        // that collapses toward zero while training does not is suspicious.
        if val_level < low && val_level < 0.3 * train_level && train_level - val_level > 0.2 {
            return vec![finding(
                FindingKind::Leakage,
                Severity::Warning,
                Span::range(from, to),
                format!(
                    "Validation loss collapses to {} while training loss stays at {} ({:.0}% lower); dropout alone \
                     does not explain that.",
                    num(val_level),
                    100.0 * (1.0 - val_level / train_level),
                    num(train_level)
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
/// the inputs, the labels are constant, or the loss ignores the prediction).
fn zero_from_the_start(ctx: &Ctx) -> Option<Finding> {
    const NEAR_ZERO: f64 = 1e-3;
    let (init, end) = (ctx.init_level(), ctx.final_level());
    if !ctx.family.is_cross_entropy()
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

/// Per-token loss below which held-out natural text is out of reach for any model, from the
/// best published results: characters ≥ 0.94 bits (enwik8; text8 and PTB ≥ 1.0), so below 0.8
/// bits (0.55 nats) is a leak; a word or subword token spans ~4 characters and the best models
/// stay above ~2.3 nats on open text (1.1 on synthetic stories), so below 1 nat (perplexity
/// 2.7) is a leak. Only for a run that starts from scratch: a fine-tune may have memorised its
/// domain already. A pretrained model starts a fine-tune well under half of ln V (GPT-2 on a
/// new domain: ~3.5 of 10.8); a fresh one starts at ln V, and even its first logged value, a
/// mean over the first interval, stays above half of it.
fn implausibly_low(ctx: &Ctx, init: f64) -> f64 {
    const BYTE_VOCAB_LN: f64 = 6.24; // ln 512
    match ctx.refs.ln_vocab {
        Some(l) if init >= 0.5 * l && l > BYTE_VOCAB_LN => 1.0,
        Some(l) if init >= 0.5 * l => 0.55,
        Some(l) => (0.08 * l).min(0.5),
        None => 0.3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{curve, run_with};

    fn every(points: Vec<Point>, k: usize) -> Vec<Point> {
        points.into_iter().step_by(k).collect()
    }

    #[test]
    fn a_slow_noisy_climb_over_hundreds_of_evaluations_is_overfitting() {
        // Validation every 50 steps bottoms at 0.862 and creeps to ~0.90 over 16k steps (under 5 %) with
        // evaluation noise of ±0.004, so single steps go down nearly as often as up.
        let mut rng = crate::detect::test_support::Noise::new(3);
        let val: Vec<Point> = (0..540)
            .map(|i| {
                let s = 50.0 * i as f64;
                let trend = if s < 11_000.0 {
                    0.862 + 0.3 * (1.0 - s / 11_000.0).powi(3)
                } else {
                    0.862 + 0.04 * (s - 11_000.0) / 16_000.0
                };
                Point {
                    step: s,
                    value: trend + 0.004 * rng.normal(),
                }
            })
            .collect();
        let mut run = run_with(
            curve(27_000, |i| 0.7 + 0.5 / (1.0 + i as f64 / 1500.0)),
            None,
        );
        run.val_loss = val;
        let f = overfitting(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
    }

    #[test]
    fn three_epochs_above_the_best_with_a_gap_that_grew_sixfold_are_overfitting() {
        // A 7-epoch Keras log: validation 0.697 at epoch 4, then 0.750, 0.730, 0.769 while
        // training falls 0.635 -> 0.385.
        let train = [1.439, 1.159, 0.798, 0.635, 0.571, 0.474, 0.385];
        let val = [1.536, 0.809, 0.707, 0.697, 0.750, 0.730, 0.769];
        let mut run = run_with(crate::detect::test_support::per_epoch(&train), None);
        run.val_loss = crate::detect::test_support::per_epoch(&val);
        let f = overfitting(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        // The same evaluations with training falling just as fast beside them (the gap does
        // not grow) are noise around a plateau.
        let mut flat = run_with(crate::detect::test_support::per_epoch(&train), None);
        flat.val_loss = crate::detect::test_support::per_epoch(&[
            1.536, 0.809, 0.707, 0.697, 0.705, 0.701, 0.699,
        ]);
        assert!(overfitting(&Ctx::new(&flat)).is_empty());
    }

    #[test]
    fn both_losses_jumping_after_the_best_evaluation_is_not_overfitting() {
        // Four epoch lines (19, 20, 21, 100): both curves jump at epoch 20 and fall back only
        // part of the way; training ends above where it was at validation's best.
        let at = |v: &[(f64, f64)]| -> Vec<Point> {
            v.iter()
                .map(|&(step, value)| Point { step, value })
                .collect()
        };
        let mut run = run_with(
            at(&[
                (19.0, 0.3925),
                (20.0, 0.8816),
                (21.0, 0.7743),
                (100.0, 0.5779),
            ]),
            None,
        );
        run.val_loss = at(&[
            (19.0, 0.365),
            (20.0, 0.7405),
            (21.0, 0.6743),
            (100.0, 0.5234),
        ]);
        assert!(overfitting(&Ctx::new(&run)).is_empty());
    }

    #[test]
    fn rising_validation_with_falling_training_is_overfitting() {
        let mut run = run_with(
            curve(900, |i| 4.0 * (-(i as f64) / 150.0).exp() + 0.01),
            Some(65),
        );
        run.val_loss = every(
            curve(900, |i| 2.4 + ((i as f64 - 160.0) / 300.0).powi(2)),
            10,
        );
        let f = overfitting(&Ctx::new(&run));
        assert_eq!(f.len(), 1);
        assert!((f[0].peak_step.unwrap() - 160.0).abs() <= 10.0);
        assert!(
            leakage(&Ctx::new(&run)).is_empty(),
            "memorisation is not leakage"
        );
    }

    #[test]
    fn a_loss_that_is_zero_from_the_first_step_is_a_leak_a_tiny_falling_one_is_not() {
        let zero = curve(60, |i| if i < 8 { 1e-5 / (i + 1) as f64 } else { 0.0 });
        let f = leakage(&Ctx::new(&run_with(zero, None)));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::Leakage);
        // A loss divided by a large count: tiny, but it starts higher and learns.
        let tiny = curve(100, |i| 0.00018 + 0.0026 * (-(i as f64) / 15.0).exp());
        assert!(leakage(&Ctx::new(&run_with(tiny, None))).is_empty());
    }

    #[test]
    fn noisy_evaluations_all_above_an_early_best_are_overfitting_a_flat_wiggle_is_not() {
        let train = curve(5420, |i| 0.0003 + 0.68 * (-(i as f64) / 300.0).exp());
        let evals = |values: &[f64]| -> Vec<Point> {
            values
                .iter()
                .enumerate()
                .map(|(k, &v)| Point {
                    step: 542.0 * (k + 1) as f64 - 1.0,
                    value: v,
                })
                .collect()
        };
        let mut run = run_with(train, None);
        run.val_loss = evals(&[
            0.176, 0.166, 0.157, 0.215, 0.195, 0.228, 0.177, 0.237, 0.214, 0.214,
        ]);
        assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
        run.val_loss = evals(&[
            0.176, 0.166, 0.157, 0.159, 0.161, 0.159, 0.160, 0.162, 0.159, 0.161,
        ]);
        assert!(overfitting(&Ctx::new(&run)).is_empty());
    }

    #[test]
    fn four_epochs_with_validation_climbing_are_overfitting() {
        let mut run = run_with(
            crate::detect::test_support::per_epoch(&[0.271, 0.117, 0.052, 0.028]),
            None,
        );
        run.val_loss = crate::detect::test_support::per_epoch(&[0.1858, 0.1859, 0.284, 0.305]);
        assert_eq!(overfitting(&Ctx::new(&run)).len(), 1);
    }

    #[test]
    fn validation_that_lingers_at_its_best_then_climbs_is_overfitting() {
        // A tiny training subset: validation falls to 2.47, sits there for six evaluations,
        // then climbs to 2.73 while training keeps falling 2.0 -> 1.0.
        let val = [
            3.13, 3.01, 2.81, 2.65, 2.52, 2.47, 2.49, 2.48, 2.49, 2.49, 2.48, 2.50, 2.56, 2.56,
            2.58, 2.61, 2.64, 2.68, 2.73,
        ];
        let mut run = run_with(
            curve(190, |i| 1.0 + 2.9 * (-(i as f64) / 70.0).exp()),
            Some(51),
        );
        run.val_loss = val
            .iter()
            .enumerate()
            .map(|(k, &v)| Point {
                step: 10.0 * k as f64 + 9.0,
                value: v,
            })
            .collect();
        let f = overfitting(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
    }

    fn points(pairs: &[(f64, f64)]) -> Vec<Point> {
        pairs
            .iter()
            .map(|&(step, value)| Point { step, value })
            .collect()
    }

    #[test]
    fn five_evaluations_rising_while_training_falls_is_overfitting() {
        // Validation every 100 steps 1.38 → 1.52 while training falls 1.21 → 0.82.
        let mut run = run_with(
            curve(500, |i| {
                0.82 + 0.39 * (1.0 - i as f64 / 500.0).powi(2) + 0.9 * (-(i as f64) / 15.0).exp()
            }),
            None,
        );
        run.val_loss = points(&[
            (100.0, 1.38),
            (200.0, 1.41),
            (300.0, 1.45),
            (400.0, 1.49),
            (500.0, 1.52),
        ]);
        let f = overfitting(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].peak_step, Some(100.0));
    }

    #[test]
    fn a_small_steady_climb_of_eval_loss_is_overfitting() {
        // A fine-tune's eval loss creeping 2.52 → 2.62 over its last evaluations (+4%).
        let mut run = run_with(
            curve(1000, |i| 2.9 - 0.9 * (i as f64 / 1000.0).sqrt()),
            None,
        );
        run.val_loss = points(&[
            (200.0, 2.70),
            (400.0, 2.52),
            (600.0, 2.55),
            (800.0, 2.58),
            (1000.0, 2.62),
        ]);
        let f = overfitting(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].peak_step, Some(400.0));
        // The same +4% wandering up and down is not enough.
        run.val_loss = points(&[
            (200.0, 2.70),
            (400.0, 2.52),
            (600.0, 2.61),
            (800.0, 2.53),
            (1000.0, 2.62),
        ]);
        assert!(overfitting(&Ctx::new(&run)).is_empty());
    }

    #[test]
    fn validation_tracking_training_is_not_overfitting() {
        let mut run = run_with(
            curve(800, |i| 1.6 + 2.5 / (1.0 + i as f64 / 30.0).sqrt()),
            Some(65),
        );
        run.val_loss = every(
            curve(800, |i| 1.7 + 2.5 / (1.0 + i as f64 / 30.0).sqrt()),
            25,
        );
        assert!(overfitting(&Ctx::new(&run)).is_empty());
        assert!(leakage(&Ctx::new(&run)).is_empty());
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
        assert_eq!(leakage(&Ctx::new(&run)).len(), 1);
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
}
