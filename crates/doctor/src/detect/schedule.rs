//! Did the learning-rate schedule end the run's learning too soon? Progress is judged where
//! the LR is still substantial ([`judging_window`]): annealing legitimately flattens the end of
//! a run. But when the LR falls under a quarter of its peak early (a step decay after a third
//! of the run, a plateau scheduler that fires on noise) while the loss is still falling, and the
//! loss then stays flat above the bigram level for the rest of the run, the flat end is not
//! convergence: the schedule stopped a model that was still learning.

use serde_json::json;

use crate::detect::trend::{judging_window, trend};
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// The share of the run spent at under a quarter of the peak LR that makes the decay early.
/// Cosine decay spends a third of the run there and linear decay a quarter: both are normal.
const EARLY_TAIL_SHARE: f64 = 0.4;
/// Fewest logged points in the annealed tail to call it flat.
const MIN_TAIL_POINTS: usize = 10;
/// Fewest logged points before the decay to say the loss was still falling there.
const MIN_HEAD_POINTS: usize = 8;
/// An estimated bigram level (from ln V alone) is rough: a level within 10 % under it may
/// still be above the true one.
const ESTIMATED_BIGRAM_SLACK: f64 = 1.0;

/// An underfitting finding when the schedule annealed the LR early and the loss has not moved
/// since, still above the bigram level. Only for a language model whose vocabulary is known
/// (the bigram level says where "learned something" starts).
pub fn decayed_too_early(ctx: &Ctx) -> Option<Finding> {
    if !ctx.family.is_cross_entropy() || ctx.train_is_val {
        return None;
    }
    let bigram = ctx.refs.bigram?;
    ctx.refs.ln_vocab?;
    let peak = ctx.lr_max.filter(|m| *m > 0.0)?;
    let (from, cut) = judging_window(ctx)?;
    let (first, last) = (ctx.first_step(), ctx.last_step());
    let tail_share = (last - cut) / (last - first).max(1e-9);
    if tail_share < EARLY_TAIL_SHARE {
        return None;
    }
    let head = trend(ctx, &ctx.train, from, cut).filter(|t| t.points >= MIN_HEAD_POINTS)?;
    let tail = trend(ctx, &ctx.train, cut, last).filter(|t| t.points >= MIN_TAIL_POINTS)?;
    let head_falling = !head.flat() && head.log_rate > 2.5 * head.log_rate_se;
    if !head_falling || !tail.flat() {
        return None;
    }
    // Validation still improving in the tail: the annealed steps are doing something.
    if trend(ctx, &ctx.val, cut, last).is_some_and(|v| v.points >= 4 && !v.flat()) {
        return None;
    }
    let above = if bigram.estimated {
        ESTIMATED_BIGRAM_SLACK * bigram.value
    } else {
        bigram.value * 1.05
    };
    if tail.level <= above {
        return None;
    }
    let lr_end = ctx.lr.last().map_or(f64::NAN, |p| p.value);
    Some(finding(
        FindingKind::Underfitting,
        Severity::Warning,
        Span::range(cut, last),
        format!(
            "The learning rate fell under a quarter of its peak ({} → {}) by step {}, {:.0}% into \
             the run, while the loss was still falling ({} nats per doubling over steps {}–{}); \
             since then it has stayed at {}, {} the bigram level{} {}: the schedule stopped a model \
             that was still learning.",
            num(peak),
            num(lr_end),
            step_str(cut),
            100.0 * (1.0 - tail_share),
            num(head.abs_rate),
            step_str(from),
            step_str(cut),
            num(tail.level),
            if tail.level > bigram.value {
                "above"
            } else {
                "near"
            },
            if bigram.estimated {
                " (estimated from ln V)"
            } else {
                ""
            },
            num(bigram.value)
        ),
        json!({
            "lr_peak": peak, "lr_end": lr_end, "decayed_by_step": cut,
            "annealed_share_of_run": tail_share,
            "drop_per_doubling_before": head.abs_rate,
            "drop_per_doubling_after": tail.abs_rate,
            "level": tail.level, "bigram": bigram.value, "bigram_estimated": bigram.estimated,
        }),
        "Decay later or more gently: cosine or linear decay over the whole run, step decays at 50% and \
         75% of it, or a plateau scheduler with more patience; or restart from the last checkpoint at \
         the peak LR.",
    ))
}

/// Share of the run that an LR of exactly zero at its end must span to be a bug: a schedule
/// that decays to zero reaches it at the last step or two.
const ZERO_TAIL_SHARE: f64 = 0.25;

/// The LR logged as zero from some step to the end of the run, a quarter of it or more: no
/// update happens there, so the loss can only hold where it was. Schedulers do this when told
/// the run is shorter than it is (`num_training_steps` or `T_max` in epochs where they expect
/// steps, OneCycle's `total_steps`), or when stepped per batch where they expect epochs.
pub fn lr_at_zero(ctx: &Ctx) -> Option<Finding> {
    let peak = ctx.lr_max.filter(|m| *m > 0.0)?;
    let lr = &ctx.lr;
    let zeros = lr
        .iter()
        .rev()
        .take_while(|p| p.value.abs() <= 1e-9 * peak)
        .count();
    if zeros < 5 || zeros == lr.len() {
        return None;
    }
    let from = lr[lr.len() - zeros].step;
    let (first, last) = (ctx.first_step(), ctx.last_step());
    let share = (last - from) / (last - first).max(1e-9);
    let after: Vec<f64> = ctx
        .train
        .iter()
        .filter(|p| p.step >= from)
        .map(|p| p.value)
        .collect();
    if share < ZERO_TAIL_SHARE || after.len() < 5 {
        return None;
    }
    // A loss that still falls there was updated: the logged LR is not the one in effect.
    if !trend(ctx, &ctx.train, from, last).is_some_and(|t| t.flat()) {
        return None;
    }
    let level = crate::detect::stats::median(&after);
    Some(finding(
        FindingKind::Stagnation,
        Severity::Warning,
        Span::range(from, last),
        format!(
            "The learning rate is 0 from step {} to the end ({:.0}% of the run, after a peak of \
             {}): no update happens there, and the loss holds at {}.",
            step_str(from),
            100.0 * share,
            num(peak),
            num(level)
        ),
        json!({ "lr_zero_from": from, "share_of_run": share, "lr_peak": peak, "level": level }),
        "Check the scheduler's length: it reached 0 long before the run ended (num_training_steps or \
         T_max given in epochs where steps are expected, OneCycle's total_steps, a scheduler stepped \
         per batch that expects epochs). The LR should reach 0, if at all, at the last step.",
    ))
}

#[cfg(test)]
mod tests {
    use crate::detect::test_support::{curve, run_with, warned, Noise};
    use crate::report::FindingKind;
    use crate::{diagnose, Point};

    /// A char model (V = 71, ln V 4.26) falling fast at LR 2e-3, until the LR is cut ×10 at
    /// `cut` and again ×10 every 100 steps; after the cut the loss stays where it was.
    fn step_decayed(cut: usize, stall_level: f64) -> crate::Run {
        let n = 440;
        let mut noise = Noise::new(11);
        let jitter: Vec<f64> = (0..n).map(|_| 0.015 * noise.normal()).collect();
        let train = curve(n, |i| {
            let s = (i + 1) as f64;
            let falling = stall_level
                + (4.26 - stall_level) * (-(s / 30.0)).exp()
                + 0.3 * (1.0 - s / cut as f64);
            let level = if i < cut { falling } else { stall_level };
            level * (1.0 + jitter[i])
        });
        let mut run = run_with(train, Some(71));
        run.lr = (0..n)
            .map(|i| Point {
                step: i as f64,
                value: 2e-3
                    * 0.1f64.powi(if i < cut {
                        0
                    } else {
                        1 + ((i - cut) / 100) as i32
                    }),
            })
            .collect();
        run
    }

    #[test]
    fn an_lr_cut_a_quarter_in_that_leaves_the_loss_flat_above_bigram_is_underfitting() {
        let d = diagnose(&step_decayed(110, 2.75));
        assert!(
            warned(&d).contains(&FindingKind::Underfitting),
            "{:?}",
            d.findings
        );
        let f = d
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Underfitting)
            .unwrap();
        assert!(f.summary.contains("schedule stopped"), "{}", f.summary);
    }

    #[test]
    fn the_same_cut_after_the_loss_passed_the_bigram_level_is_not_flagged() {
        let d = diagnose(&step_decayed(110, 1.9));
        assert!(warned(&d).is_empty(), "{:?}", d.findings);
    }

    #[test]
    fn an_lr_at_zero_for_the_last_two_thirds_of_the_run_is_stagnation() {
        // A scheduler told the run is a third as long as it is: the LR reaches 0 at step 150
        // of 450 and stays there; the loss holds where it was.
        let lr_to = |zero_from: usize| {
            let mut run = step_decayed(zero_from, 2.2);
            run.lr = (0..450)
                .map(|i| Point {
                    step: i as f64,
                    value: 2e-3 * (1.0 - i as f64 / zero_from as f64).max(0.0),
                })
                .collect();
            run
        };
        let at_zero = |run: &crate::Run| {
            diagnose(run)
                .findings
                .into_iter()
                .find(|f| f.summary.contains("learning rate is 0"))
        };
        let f = at_zero(&lr_to(150)).expect("an LR at zero from step 150");
        assert_eq!(f.kind, FindingKind::Stagnation);
        assert_eq!(f.start_step, Some(150.0));
        // A linear decay that reaches 0 at the last step is the schedule ending.
        assert!(at_zero(&lr_to(449)).is_none());
        // A loss that keeps falling beside an LR logged as 0 was updated: another LR.
        let mut falling = lr_to(150);
        falling.train_loss = step_decayed(450, 2.2).train_loss;
        assert!(at_zero(&falling).is_none());
    }

    #[test]
    fn a_cut_late_in_the_run_is_ordinary_annealing() {
        // (Still above bigram, so the trend rule may call the pace slow; not the schedule.)
        let d = diagnose(&step_decayed(300, 2.75));
        assert!(
            !d.findings
                .iter()
                .any(|f| f.summary.contains("schedule stopped")),
            "{:?}",
            d.findings
        );
    }
}
