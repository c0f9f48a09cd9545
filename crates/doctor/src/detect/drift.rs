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
    let lr_rises =
        matches!((ctx.lr_at(best_step), ctx.lr_at(last)), (Some(a), Some(b)) if b > 1.2 * a);
    // Held-out loss falling all through the climb: the batches got harder, the model did not
    // get worse (as for an episode).
    if rise < 6.0 * se
        || rise < 0.5 * sd
        || !steady
        || lr_rises
        || validation_falls_through(ctx, best_step)
    {
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
