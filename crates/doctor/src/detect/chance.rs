//! A cross-entropy at the loss of a uniform guess: ln k for a classifier over k classes, ln V
//! for a language model. A run that sits there learned nothing; one that ends pinned there
//! collapsed to predicting a constant.

use serde_json::json;

use crate::detect::stats::median;
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// A cross-entropy pinned at the loss of a uniform guess for the whole run, on validation
/// (≥ 5 evaluations) or training (≥ 10 points): a classifier at ln k for some k ≤ 20 classes,
/// or a language model at ln V when its vocabulary is known. A run that never left that level
/// learned nothing, whatever the LR schedule did at the end (annealing explains a flat end, not
/// a flat run). A vocabulary-sized loss with no vocabulary given has no level to compare with.
pub fn stuck_at_chance(ctx: &Ctx) -> Option<Finding> {
    if !ctx.family.is_cross_entropy() {
        return None;
    }
    let lm = ctx.refs.ln_vocab;
    if lm.is_none() && ctx.family.lm_sized() {
        return None;
    }
    let (series, what) = if ctx.val.len() >= 5 && !ctx.train_is_val {
        (&ctx.val, "validation")
    } else if ctx.train.len() >= 10 {
        (&ctx.train, "training")
    } else {
        return None;
    };
    let values: Vec<f64> = series.iter().map(|p| p.value).collect();
    let level = median(&values);
    let (chance, name, classes) = match lm {
        Some(l) => (l, "ln V".to_string(), None),
        None => {
            let k =
                (2..=20).find(|&k| ((k as f64).ln() - level).abs() <= 0.015 * (k as f64).ln())?;
            ((k as f64).ln(), format!("ln {k}"), Some(k))
        }
    };
    let near = values
        .iter()
        .filter(|v| (*v - chance).abs() <= 0.03 * chance)
        .count();
    if near * 10 < values.len() * 9 {
        return None;
    }
    // A run stuck at chance goes nowhere, or settles onto it from above (the class prior
    // learned): a series climbing through the band (a character model's validation rising
    // 2.75 → 2.88, past ln 17 on its way) gains over 2 % of the level between its first and
    // last fifths, and is getting worse, not stuck.
    let fifth = (values.len() / 5).max(1);
    let last = median(&values[values.len() - fifth..]);
    let climbed = last - median(&values[..fifth]);
    if climbed > 0.02 * chance {
        return None;
    }
    // Nor is one falling through it: a fine-tune's validation easing 2.25 → 2.15 passes
    // ln 9 = 2.197 on its way down and ends below it, still learning.
    if -climbed > 0.02 * chance && last < (1.0 - 0.015) * chance {
        return None;
    }
    // A series that settled onto the level from above is the class prior learned only if the
    // level is ln k by more than coincidence: near ln 11 and beyond, a converged fine-tune's
    // floor falls within 1.5 % of some ln k three times in four.
    if classes
        .is_some_and(|k| -climbed > 0.02 * chance && (level - chance).abs() > settled_reach(k))
    {
        return None;
    }
    let (from, to) = (series[0].step, series[series.len() - 1].step);
    let (guess, advice) = if lm.is_some() {
        (
            "a uniform guess over the vocabulary — the model is not learning".to_string(),
            "Raise the learning rate ×10 (Adam: 1e-3 to 3e-3 for small models); check that \
             optimizer.step() runs, that zero_grad() is not called between backward() and step(), and \
             that no layer is frozen.",
        )
    } else {
        (
            format!("the loss of a uniform guess over {name} classes — the model predicts chance")
                .replace("ln ", ""),
            "Check that labels match inputs (not shuffled separately), that the classes are balanced \
             or weighted, and raise the learning rate ×3–10; a frozen backbone with a tiny head may \
             need more epochs.",
        )
    };
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "The {what} loss stays at {} ≈ {name} = {} from step {} to {}: {guess}.",
            num(level),
            num(chance),
            step_str(from),
            step_str(to)
        ),
        json!({ "level": level, "chance_level": chance, "points": values.len(),
                "points_at_chance": near, "series": what }),
        advice,
    ))
}

/// How close to ln k a loss that fell onto it must sit to be read as chance over k classes:
/// 1.5 % of it, but under a tenth of the gap to ln (k + 1). The gaps shrink as 1/k, so a window
/// of 1.5 % holds three quarters of all levels near ln 11 (a converged fine-tune's 2.375 is no
/// sign of 11 classes); a tenth of the gap leaves one level in five a coincidence.
fn settled_reach(k: u32) -> f64 {
    let k = k as f64;
    (0.015 * k.ln()).min(0.1 * ((k + 1.0) / k).ln())
}

/// How close to ln k a loss must sit to be "pinned" there: a model that predicts the class
/// prior of a balanced task hits ln k to the third decimal, batch after batch.
const PINNED: f64 = 0.002;
/// Class counts of common benchmarks beyond 20 (CIFAR-100, Food-101 and UCF101, Flowers-102,
/// Tiny ImageNet and CUB-200, ImageNet): pinned to the third decimal, a loss at their ln k is
/// no coincidence.
const COMMON_CLASS_COUNTS: [u32; 5] = [100, 101, 102, 200, 1000];
/// Fewest consecutive points at the end, and their least share of the series.
const MIN_PINNED_POINTS: usize = 4;
const MIN_PINNED_SHARE: f64 = 0.3;

/// A loss that ends pinned at ln k (k ≤ 20 classes or a common benchmark's; ln V for a language model whose vocabulary
/// is known) for its last four or more points, and for at least 30 % of the run: whatever came
/// before (surges, a fall), the model now outputs the uniform guess — dead units, saturated
/// outputs or an LR that blew the weights up. Checked on training, then on validation.
pub fn pinned_at_chance(ctx: &Ctx) -> Option<Finding> {
    if !ctx.family.is_cross_entropy() {
        return None;
    }
    let candidates = |v: f64| -> Option<(f64, String)> {
        if let Some(l) = ctx.refs.ln_vocab {
            return ((v - l).abs() <= PINNED * l).then(|| (l, "ln V".to_string()));
        }
        (2..=20u32).chain(COMMON_CLASS_COUNTS).find_map(|k| {
            let c = (k as f64).ln();
            ((v - c).abs() <= PINNED * c).then(|| (c, format!("ln {k}")))
        })
    };
    let series: [(&[crate::Point], &str); 2] = [(&ctx.train, "training"), (&ctx.val, "validation")];
    for (points, what) in series {
        if points.len() < MIN_PINNED_POINTS || (what == "validation" && ctx.train_is_val) {
            continue;
        }
        let (chance, name) = candidates(points[points.len() - 1].value)?;
        let run = points
            .iter()
            .rev()
            .take_while(|p| (p.value - chance).abs() <= PINNED * chance)
            .count();
        if run < MIN_PINNED_POINTS || (run as f64) < MIN_PINNED_SHARE * points.len() as f64 {
            continue;
        }
        let from = points[points.len() - run].step;
        let to = points[points.len() - 1].step;
        return Some(finding(
            FindingKind::Stagnation,
            Severity::Warning,
            Span::range(from, to),
            format!(
                "The {what} loss is pinned at {} = {name} (a uniform guess) for its last {run} points, \
                 steps {}–{}: the model has collapsed to predicting the same distribution for every \
                 input.",
                num(chance),
                step_str(from),
                step_str(to)
            ),
            json!({ "chance_level": chance, "pinned_points": run, "series": what,
                    "points": points.len(), "tolerance": PINNED }),
            "Restart from a checkpoint before the collapse with the learning rate ×0.1 and gradient \
             clipping at 1.0; check the output layer (saturated sigmoid/softmax, logits scaled up), \
             that labels match inputs, and for dead ReLUs (use LeakyReLU or a lower LR).",
        ));
    }
    None
}

/// Noise of a minibatch loss around a uniform guess (±1 %: 2.29-2.31 about ln 10).
const AT_CHANCE: f64 = 0.01;
/// Fewest leading points at chance, and their least share of the training series.
const MIN_STALL_POINTS: usize = 5;
const MIN_STALL_SHARE: f64 = 0.2;

/// A cross-entropy that sits at a uniform guess's loss (ln k for k ≤ 20 classes or a common
/// benchmark's, ln V when the vocabulary is known) for its first fifth or more, then learns
/// (later below 0.8 of that level): the model spent that stretch unable to move, the mark of
/// weights initialised far too small (a signal that vanishes through the layers), saturated
/// units or an LR too low to leave the start. The escape does not undo the lost time, and the
/// same cause often slows the rest of the run.
pub fn stalled_at_chance_first(ctx: &Ctx) -> Option<Finding> {
    if !ctx.family.is_cross_entropy() || !ctx.starts_at_beginning() {
        return None;
    }
    let t = &ctx.train;
    let first = t.first()?.value;
    let chance = match ctx.refs.ln_vocab {
        Some(l) => ((first - l).abs() <= AT_CHANCE * l).then_some((l, "ln V".to_string())),
        None => (2..=20u32).chain(COMMON_CLASS_COUNTS).find_map(|k| {
            let c = (k as f64).ln();
            ((first - c).abs() <= AT_CHANCE * c).then(|| (c, format!("ln {k}")))
        }),
    };
    let (level, name) = chance?;
    let stall = t
        .iter()
        .take_while(|p| (p.value - level).abs() <= AT_CHANCE * level)
        .count();
    let learned = t[stall..].iter().any(|p| p.value < 0.8 * level);
    if stall < MIN_STALL_POINTS || (stall as f64) < MIN_STALL_SHARE * t.len() as f64 || !learned {
        return None;
    }
    let (from, to) = (t[0].step, t[stall - 1].step);
    let span = (ctx.last_step() - from).max(f64::MIN_POSITIVE);
    let share = (to - from) / span;
    // A fifth of the run in steps too, counted up to the first point that left chance (the
    // stall may have lasted until then): a paste of iterations 0-7 at ln V during warmup,
    // then iteration 591 at 6.9, holds many points of a stretch that was 0.1 % of the run.
    let at_most = t.get(stall).map_or(ctx.last_step(), |p| p.step) - from;
    if at_most < MIN_STALL_SHARE * span {
        return None;
    }
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "The loss sits at {} = {name} (a uniform guess) for its first {stall} points, steps {}–{} \
             ({:.0}% of the run), before it starts to learn: for that stretch the model could not \
             move from its start.",
            num(level),
            step_str(from),
            step_str(to),
            100.0 * share
        ),
        json!({ "chance_level": level, "stalled_points": stall, "points": t.len(),
                "share_of_run": share, "tolerance": AT_CHANCE }),
        "Initialise with the framework's default (Kaiming/Xavier) scale rather than a tiny \
         constant, check for saturated activations at the start, and use a warmup to a normal LR \
         rather than a tiny constant one.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{per_epoch, run_with, CHAR_MODEL_VAL_CLIMB};

    #[test]
    fn a_binary_classifier_that_surges_then_sits_at_ln2_is_stuck() {
        let mut values = vec![
            0.6773, 2.4587, 5.3353, 1.0234, 10.6901, 1.9899, 3.5713, 0.6869,
        ];
        // ln 2 as logged, to four decimals.
        let logged_ln2 = (std::f64::consts::LN_2 * 1e4).round() / 1e4;
        values.extend([logged_ln2; 20]);
        let run = run_with(per_epoch(&values), None);
        let f = pinned_at_chance(&Ctx::new(&run)).expect("pinned");
        assert_eq!(f.kind, FindingKind::Stagnation);
        assert!(f.summary.contains("ln 2"), "{}", f.summary);
    }

    #[test]
    fn a_validation_climbing_through_a_chance_level_is_not_stuck_there() {
        // A character model trained on (blind batch 106): validation every 10 steps rises
        // steadily 2.754 → 2.882 while training falls, passing ln 17 = 2.833 on its way.
        let val = CHAR_MODEL_VAL_CLIMB;
        let train: Vec<f64> = (0..24).map(|i| 0.98 - 0.003 * i as f64).collect();
        let mut run = run_with(per_epoch(&train), None);
        run.val_loss = per_epoch(&val);
        assert!(stuck_at_chance(&Ctx::new(&run)).is_none());
        // The same band without the climb is a classifier sitting at ln 17.
        let flat: Vec<f64> = (0..24)
            .map(|i| 2.833 + if i % 2 == 0 { 0.01 } else { -0.01 })
            .collect();
        run.val_loss = per_epoch(&flat);
        assert!(stuck_at_chance(&Ctx::new(&run)).is_some());
    }

    #[test]
    fn a_validation_falling_through_a_chance_level_is_not_stuck_there() {
        // A character fine-tune: validation eases 2.250 → 2.148 over 15 evaluations, passing
        // ln 9 = 2.197 on its way down, while training falls 2.22 → 1.96.
        let val: Vec<f64> = (0..15).map(|i| 2.250 - 0.0073 * i as f64).collect();
        let train: Vec<f64> = (0..15).map(|i| 2.22 - 0.0185 * i as f64).collect();
        let mut run = run_with(per_epoch(&train), None);
        run.val_loss = per_epoch(&val);
        assert!(stuck_at_chance(&Ctx::new(&run)).is_none());
        // Settling onto ln 9 from above (the class prior learned) is still stuck.
        let settles: Vec<f64> = (0..15)
            .map(|i| 9f64.ln() + 0.05 * (-(i as f64) / 1.5).exp())
            .collect();
        run.val_loss = per_epoch(&settles);
        assert!(stuck_at_chance(&Ctx::new(&run)).is_some());
    }

    #[test]
    fn a_fine_tune_settling_near_ln_11_by_coincidence_is_not_at_chance() {
        // A character fine-tune (task run 66-003): validation 2.520 at its first evaluation,
        // then easing to 2.364-2.37, within 1.5 % of ln 11 = 2.398. A level settled onto from
        // above is the class prior only where ln k is hit closer than coincidence allows:
        // there, 2.375 is as near ln 11 as three in four levels are to some ln k.
        let val: Vec<f64> = (0..20)
            .map(|i| 2.364 + 0.156 * (-(i as f64) / 1.5).exp())
            .collect();
        let train: Vec<f64> = (0..20).map(|i| 2.62 - 0.011 * i as f64).collect();
        let mut run = run_with(per_epoch(&train), None);
        run.val_loss = per_epoch(&val);
        assert!(stuck_at_chance(&Ctx::new(&run)).is_none());
        // Settling onto ln 10 itself (2.3026 → 2.31) is still stuck at chance.
        let at_ln10: Vec<f64> = (0..20)
            .map(|i| 2.31 + 0.2 * (-(i as f64) / 1.5).exp())
            .collect();
        run.val_loss = per_epoch(&at_ln10);
        let f = stuck_at_chance(&Ctx::new(&run)).expect("at ln 10");
        assert!(f.summary.contains("ln 10"), "{}", f.summary);
    }

    #[test]
    fn four_epochs_at_ln4_are_enough_when_that_exact() {
        let run = run_with(
            per_epoch(&[1.356284, 1.386393, 1.386381, 1.386302, 1.386312]),
            None,
        );
        assert!(pinned_at_chance(&Ctx::new(&run)).is_some());
    }

    #[test]
    fn an_imagenet_sized_classifier_pinned_at_ln_1000_is_stuck() {
        // A Caffe solver log: the smoothed loss sits at ln 1000 = 6.9078 from the start.
        let run = run_with(
            per_epoch(&[6.91161, 6.90501, 6.90635, 6.90681, 6.90704]),
            None,
        );
        let f = pinned_at_chance(&Ctx::new(&run)).expect("pinned");
        assert!(f.summary.contains("ln 1000"), "{}", f.summary);
        // A loss merely passing near ln 1000 (0.5 % off at the end) is not pinned there.
        let near = run_with(per_epoch(&[7.5, 7.2, 7.0, 6.95, 6.94, 6.943]), None);
        assert!(pinned_at_chance(&Ctx::new(&near)).is_none());
    }

    #[test]
    fn a_classifier_at_ln10_for_a_third_of_its_run_before_learning_stalled() {
        // STAT453's MLP on MNIST with every weight drawn from N(0, 0.001): 2.29-2.31 for 17 of
        // 50 epochs, then down to 0.05. A run that leaves ln 10 at once is a normal start.
        let values = |stall: usize| -> Vec<f64> {
            (0..50)
                .map(|i| {
                    if i < stall {
                        std::f64::consts::LN_10 + 0.005 * if i % 2 == 0 { 1.0 } else { -1.0 }
                    } else {
                        0.05 + 1.9 * (-((i - stall) as f64) / 4.0).exp()
                    }
                })
                .collect()
        };
        let run = run_with(per_epoch(&values(17)), None);
        let f = stalled_at_chance_first(&Ctx::new(&run)).expect("stalled");
        assert_eq!(f.kind, FindingKind::Stagnation);
        assert!(f.summary.contains("ln 10"), "{}", f.summary);
        assert_eq!(f.end_step, Some(17.0));
        assert!(
            stalled_at_chance_first(&Ctx::new(&run_with(per_epoch(&values(2)), None))).is_none()
        );
    }

    #[test]
    fn a_classifier_passing_through_ln2_is_not_pinned() {
        // Falls through 0.693 on its way down, and ends well below.
        let run = run_with(
            per_epoch(&[
                0.9, 0.8, 0.7, 0.6932, 0.6930, 0.69312, 0.65, 0.55, 0.45, 0.40,
            ]),
            None,
        );
        assert!(pinned_at_chance(&Ctx::new(&run)).is_none());
        // Ending near but not at ln 2 (0.5 % off) is a slow classifier, not a collapse.
        let near = run_with(
            per_epoch(&[0.9, 0.8, 0.72, 0.70, 0.697, 0.697, 0.6965]),
            None,
        );
        assert!(pinned_at_chance(&Ctx::new(&near)).is_none());
    }

    #[test]
    fn a_few_warmup_iterations_at_ln_v_pasted_before_a_late_point_are_no_stall() {
        // nanoGPT on GPT-2 BPE (V = 50257), pasted from a console: iterations 0-7 at
        // 10.82-10.84 while the LR warms up, then iterations 591, 592 and 6184 (6.89, 6.76,
        // 3.25). Eight of eleven points sit at ln V, but they span under 10 % of the run.
        let mut points: Vec<crate::Point> = (0..8)
            .map(|i| crate::Point {
                step: i as f64,
                value: 10.83 - 0.002 * (i % 3) as f64,
            })
            .collect();
        for (step, value) in [(591.0, 6.891), (592.0, 6.760), (6184.0, 3.252)] {
            points.push(crate::Point { step, value });
        }
        let run = run_with(points.clone(), Some(50257));
        assert!(stalled_at_chance_first(&Ctx::new(&run)).is_none());
        // The same eight points spread over the first 40 % of the run are a stall.
        let mut spread: Vec<crate::Point> = points
            .iter()
            .enumerate()
            .map(|(i, p)| crate::Point {
                step: if i < 8 { 350.0 * i as f64 } else { p.step },
                ..*p
            })
            .collect();
        spread[8].step = 2600.0;
        spread[9].step = 2601.0;
        let run = run_with(spread, Some(50257));
        assert!(stalled_at_chance_first(&Ctx::new(&run)).is_some());
    }
}
