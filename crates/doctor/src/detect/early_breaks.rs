//! Breaks the trend bins cannot see, at a log's very start or in a log too short for
//! episodes: a jump right after the first logged point that stays, a blow-up right after a
//! fresh start at ln V, and a short log that only climbs. [`super::excursions`] calls them.

use serde_json::json;

use crate::detect::stats::{median, robust_sd};
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// A short log (five to seven points, too few for the trend episodes) whose loss only climbs:
/// at most one step down, the last point its highest, and at least 1.5× its lowest, which
/// comes in the first half. A run that learns falls at first; this one gets worse all along.
pub(super) fn climbs_throughout(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    let n = t.len();
    if !(5..8).contains(&n) {
        return None;
    }
    let v: Vec<f64> = t.iter().map(|p| p.value).collect();
    let downs = v.windows(2).filter(|w| w[1] < w[0]).count();
    let (low_at, low) = v
        .iter()
        .copied()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let last = v[n - 1];
    let at_top = v.iter().all(|&x| x <= last);
    if downs > 1 || !at_top || low_at >= n / 2 || low <= 0.0 || last < 1.5 * low {
        return None;
    }
    let (from, to) = (t[low_at].step, t[n - 1].step);
    Some(finding(
        FindingKind::Divergence,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "Across its {n} logged points the loss only climbs: from {} at step {} to {} at step {} \
             (×{:.1}). A run that learns falls at first; this one gets worse all along.",
            num(low),
            step_str(from),
            num(last),
            step_str(to),
            last / low
        ),
        json!({ "lowest": low, "lowest_step": from, "final_level": last, "points": n,
                "steps_down": downs }),
        "Lower the learning rate ×0.1 and add warmup; check that the loss is the one to minimise \
         (no sign flip, the right targets) and that the optimizer steps on the model being trained.",
    ))
}

/// The log's first point far under everything after it: the loss jumped right after that
/// point and stayed (a resume that loaded the wrong state, a broken batch pipeline). A run's
/// first loss is normally its highest; one under the rest by half, and by ten times the
/// rest's noise, with the last quarter still up there, is a run that diverged at its second
/// logged step. (Trend bins and the head's median hide a single first point.)
pub(super) fn jump_after_the_first(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    if t.len() < 5 || t[0].value <= 0.0 {
        return None;
    }
    let first = t[0].value;
    let rest: Vec<f64> = t[1..].iter().map(|p| p.value).collect();
    let level = median(&rest);
    let tail = median(&rest[rest.len() * 3 / 4..]);
    let noise = robust_sd(&rest);
    // A short log (5-9 points) has no noise to measure: it says so only when every later
    // point is three times the first or more (Graph WaveNet's MAE: 11.5, then 352-427;
    // DSen2-CR's 2.6, then 1288 and on to 4e11; SRFBN's L1 batch loss: 27.9, then 101-120 at
    // every batch after).
    let jumped = if t.len() < 10 {
        rest.iter().all(|&v| v >= 3.0 * first)
    } else {
        level >= 2.0 * first && tail >= 2.0 * first && level - first >= 10.0 * noise
    };
    if !jumped {
        return None;
    }
    let (jump, last) = (t[1].step, ctx.last_step());
    Some(finding(
        FindingKind::Divergence,
        Severity::Error,
        Span::range(jump, last).with_peak(jump),
        format!(
            "Loss jumps from {} at step {} to {} at step {} and stays there ({:.1}× the first \
             logged value, to step {}): the run broke right after its first logged step.",
            num(first),
            step_str(t[0].step),
            num(t[1].value),
            step_str(jump),
            level / first,
            step_str(last)
        ),
        json!({ "first_loss": first, "level_after": level, "final_level": tail,
                "noise_sd_after": noise, "jump_step": jump }),
        "If the run was resumed there, check that the checkpoint restored the model and optimizer \
         state (and the LR schedule's step); otherwise inspect the batches and the LR at that \
         step, lower the LR ×0.1 and clip gradients at 1.0.",
    ))
}

/// A fresh model's first log (at ln V, the vocabulary known) and the next logs three times
/// that or more: the first updates blew the model up (an LR far too high), and the run spent
/// the steps until the loss came back under its first value relearning what it had at
/// initialisation. Trend levels start after the jump and the episodes skip a run's first
/// steps, so only the first point shows where the run stood. Runs that never come back are
/// [`jump_after_the_first`]'s divergence.
pub(super) fn blown_up_after_a_fresh_start(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    let ln_v = ctx.refs.ln_vocab?;
    if t.len() < 10 || !ctx.starts_at_beginning() {
        return None;
    }
    let first = t[0].value;
    if !(first > 0.0 && first <= 1.15 * ln_v) {
        return None;
    }
    let k = (t.len() / 10).clamp(3, 10);
    let head: Vec<f64> = t[1..=k].iter().map(|p| p.value).collect();
    if median(&head) < 3.0 * first {
        return None;
    }
    let back = k + 1 + t[k + 1..].iter().position(|p| p.value <= first)?;
    let jump = t[1].step;
    let peak = t[1..back]
        .iter()
        .copied()
        .fold(t[1], |m, p| if p.value > m.value { p } else { m });
    let recovered = t[back].step;
    Some(finding(
        FindingKind::Instability,
        Severity::Warning,
        Span::range(jump, recovered).with_peak(peak.step),
        format!(
            "Loss starts at {} (≈ ln V = {}, a fresh model) and jumps to {} by step {}, peaking \
             at {} at step {}; it only comes back under its first value at step {}: the first \
             updates blew the model up, and those steps relearned what it had at initialisation.",
            num(first),
            num(ln_v),
            num(median(&head)),
            step_str(t[k].step),
            num(peak.value),
            step_str(peak.step),
            step_str(recovered)
        ),
        json!({ "first_loss": first, "ln_vocab": ln_v, "level_after_jump": median(&head),
                "peak_value": peak.value, "peak_step": peak.step, "recovered_step": recovered }),
        "Lower the learning rate ×0.1 and warm it up over the first few hundred steps; clip \
         gradients at 1.0.",
    ))
}
