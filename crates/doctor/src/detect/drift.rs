//! A slow, steady climb of the training loss: too small for an excursion episode (about one
//! noise sd) but long enough that the rise is sure — `upward_drift`.

use serde_json::json;

use crate::detect::excursions::validation_falls_through;
use crate::detect::stats::{robust_sd, rolling_median};
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// Fewest points for a slow drift: the three stretches it compares need five points each.
const MIN_DRIFT_POINTS: usize = 30;

/// A slow climb too small for an episode (about one noise sd) but long and steady: the level
/// of the last 15 % of the run against the level around its best point, measured against
/// the standard error of that difference (the stretches are long, so a small rise is still
/// sure), rising through the middle too, and with no LR schedule to explain it.
pub(crate) fn slow_drift(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    if t.len() < MIN_DRIFT_POINTS || !ctx.lr_restarts.is_empty() || !ctx.lr_excursions.is_empty() {
        return None;
    }
    let (first, last) = (ctx.first_step(), ctx.last_step());
    let span = last - first;
    let level = rolling_median(&ctx.bins.value, 2);
    let best = (0..level.len()).min_by(|&a, &b| level[a].total_cmp(&level[b]))?;
    let best_step = ctx.bins.step[best];
    if best_step > first + 0.7 * span || best_step < first + 0.05 * span {
        return None;
    }
    let values = |from: f64, to: f64| -> Vec<f64> {
        let a = t.partition_point(|p| p.step < from);
        let b = t.partition_point(|p| p.step <= to);
        t[a..b].iter().map(|p| p.value).collect()
    };
    // A sparse log (a point every few percent of the run) widens the stretches to hold five
    // points each: the standard error below accounts for how few they are.
    let interval = span / (t.len() - 1) as f64;
    let (near, end_len) = (
        (0.05 * span).max(2.5 * interval),
        (0.15 * span).max(5.0 * interval),
    );
    let around = values(best_step - near, best_step + near);
    let tail = values(last - end_len, last);
    let middle = values(
        0.5 * (best_step + last) - near,
        0.5 * (best_step + last) + near,
    );
    if around.len() < 5 || tail.len() < 5 || middle.len() < 3 {
        return None;
    }
    let (base, end, mid) = (
        crate::detect::stats::median(&around),
        crate::detect::stats::median(&tail),
        crate::detect::stats::median(&middle),
    );
    let xs: Vec<f64> = t.iter().map(|p| p.value).collect();
    let smooth = rolling_median(&xs, 5);
    let resid: Vec<f64> = xs.iter().zip(&smooth).map(|(x, m)| x - m).collect();
    let sd = robust_sd(&resid).max(1e-12);
    // A median's standard error is about 1.25 σ/√k.
    let se = 1.25 * sd * (1.0 / around.len() as f64 + 1.0 / tail.len() as f64).sqrt();
    let rise = end - base;
    let steady = mid > base + 0.25 * rise && mid < end - 0.1 * rise;
    if rise < 6.0 * se || rise < 0.5 * sd || !steady || explained(ctx, best_step, last) {
        return None;
    }
    Some(finding(
        FindingKind::UpwardDrift,
        Severity::Warning,
        Span::range(best_step, last),
        format!(
            "Loss drifts up slowly from {} around step {} to {} over the last {} steps ({:.1} noise sd, \
             {:.0} standard errors) and does not come back.",
            num(base),
            step_str(best_step),
            num(end),
            step_str(last - best_step),
            rise / sd,
            rise / se
        ),
        json!({
            "best_level": base,
            "best_step": best_step,
            "middle_level": mid,
            "final_level": end,
            "rise": rise,
            "noise_sd": sd,
            "standard_error": se,
        }),
        format!(
            "Keep the checkpoint from around step {}; decay the learning rate from there, check weight \
             decay, and look for data-order drift (later shards of different data).",
            step_str(best_step)
        ),
    ))
}

/// A climb of the training loss from `from` to `to` that is not the model getting worse: the
/// LR raised over it, or held-out loss falling all through it (the batches got harder, as for
/// an episode).
fn explained(ctx: &Ctx, from: f64, to: f64) -> bool {
    let lr_rises = matches!((ctx.lr_at(from), ctx.lr_at(to)), (Some(a), Some(b)) if b > 1.2 * a);
    lr_rises || validation_falls_through(ctx, from)
}

/// Fewest climbs in a row after the lowest point that make a short log's rise sure: five
/// points in order, 1 in 120 for noise.
const SHORT_CLIMBS: usize = 4;

/// A short log (too short for [`slow_drift`]) whose training loss, after falling to its
/// lowest, is higher at every later point to the end, four or more of them, and ends 5 %
/// above the lowest: a Keras CIFAR-10 CNN at 1.093 after epoch 4, then 1.104, 1.140, 1.185,
/// 1.214, 1.237. An epoch's mean or a few logged batches in that order are no noise.
pub(crate) fn short_climb(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    let n = t.len();
    if !(SHORT_CLIMBS + 2..MIN_DRIFT_POINTS).contains(&n)
        || !ctx.lr_restarts.is_empty()
        || !ctx.lr_excursions.is_empty()
    {
        return None;
    }
    let best = (0..n).min_by(|&a, &b| t[a].value.total_cmp(&t[b].value))?;
    let (low, end) = (t[best].value, t[n - 1].value);
    let climbs = n - 1 - best;
    // It fell first, and mostly in order: a log that rises from its first point is a warmup's
    // or a start's, and in a band that jumps up and down (a diffusion run's per-batch loss at
    // 0.13-1.85) a run of climbs from its lowest dip is the band's.
    let in_order = t[best..].windows(2).all(|w| w[1].value > w[0].value);
    let ups_before = t[..=best]
        .windows(2)
        .filter(|w| w[1].value > w[0].value)
        .count();
    if best == 0
        || 3 * ups_before > best
        || climbs < SHORT_CLIMBS
        || !in_order
        || low <= 0.0
        || end < 1.05 * low
    {
        return None;
    }
    if explained(ctx, t[best].step, t[n - 1].step) {
        return None;
    }
    Some(finding(
        FindingKind::UpwardDrift,
        Severity::Warning,
        Span::range(t[best].step, t[n - 1].step).with_peak(t[best].step),
        format!(
            "Loss rises at each of its last {climbs} logs, from its lowest {} at step {} to {} at \
             step {} (+{:.0}%), and is still rising when the log ends.",
            num(low),
            step_str(t[best].step),
            num(end),
            step_str(t[n - 1].step),
            100.0 * (end - low) / low
        ),
        json!({ "best_level": low, "best_step": t[best].step, "final_level": end,
                "climbs": climbs }),
        format!(
            "Keep the checkpoint from step {}; lower the learning rate (×0.3) or decay it from \
             there, and check that the data is shuffled every epoch.",
            step_str(t[best].step)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{run_with, spaced};

    #[test]
    fn a_short_log_that_falls_then_climbs_at_every_point_is_upward_drift() {
        // Keras' CIFAR-10 CNN example, epoch means (an issue thread): 1.587 -> 1.093 at epoch
        // 4, then higher at each of the five epochs after it.
        let values = [
            1.587, 1.217, 1.120, 1.093, 1.104, 1.140, 1.185, 1.214, 1.237,
        ];
        let f = short_climb(&Ctx::new(&run_with(spaced(&values, 1.0, 1.0), None)));
        let f = f.expect("a climb");
        assert_eq!(f.kind, FindingKind::UpwardDrift);
        assert_eq!(f.start_step, Some(4.0));
        // One point out of order is no sure climb in so few points.
        let mut wobbly = values;
        wobbly[6] = 1.10;
        assert!(short_climb(&Ctx::new(&run_with(spaced(&wobbly, 1.0, 1.0), None))).is_none());
        // Nor is a run of climbs from the lowest dip of a band that jumps up and down.
        let band = [
            1.70, 0.74, 0.18, 1.64, 1.70, 1.54, 1.85, 0.13, 0.44, 1.40, 1.47, 1.63, 1.85,
        ];
        assert!(short_climb(&Ctx::new(&run_with(spaced(&band, 100.0, 100.0), None))).is_none());
    }
}
