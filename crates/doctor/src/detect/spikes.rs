//! Sudden jumps that recover, found on the raw series: each point against a rolling median of
//! its neighbours, scaled by the local noise (block MAD of the residuals). Events the trainer
//! logged (guard skips and rollbacks) are attached to the spike they belong to.

use serde_json::json;

use crate::detect::spike_tails::{heavy_tailed, within_multiplicative_noise};
use crate::detect::spikes_short;
use crate::detect::stats::{median, robust_sd, rolling_median};
use crate::detect::{excursions, finding, guard, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};
use crate::Event;

/// Robust z a peak must reach, and the z that still counts as "inside the spike".
const Z_PEAK: f64 = 8.0;
const Z_INSIDE: f64 = 3.0;
/// The jump must also be large next to the level itself: 10% of it. (z ≥ 8 against the local
/// noise already tells a jump from noise; this keeps a tight band's small wobbles out.)
const MIN_RELATIVE: f64 = 0.1;
/// On a quiet curve (a mean over many batches per logged point) a jump this far out of the
/// noise needs only half of [`MIN_RELATIVE`]: 2.52 → 2.70 → 2.51 at robust z in the
/// thousands is a bad batch anyone sees.
const Z_FAR: f64 = 30.0;
/// A spike must also rise by this fraction of where the run started: a fine-tune that falls
/// through decades has bumps that are large next to its late level and yet invisible on the
/// scale of the run (0.008 → 0.019 after starting at 0.36).
const MIN_JUMP_OF_START: f64 = 0.05;
/// Far out of the noise (robust z ≥ [`Z_FAR`]) and a quarter above its level, a jump needs
/// only this share of `min_jump` (2 % of the start instead of 5 %): a pre-training run at 0.48
/// after starting at 5.3 that jumps to 0.64 for two points, with batches varying by 0.005.
/// Not at a level near zero ([`ONE_HARD_EXAMPLE`]), where one hard batch makes such jumps.
const FAR_JUMP_SHARE: f64 = 0.4;
/// The rise over the local level (a quarter) that [`FAR_JUMP_SHARE`] asks for.
const FAR_RELATIVE: f64 = 0.25;
/// How far above the level before it a point among a log's last ones, which have no level
/// after them, must stand to be judged a spike.
const END_MULTIPLE: f64 = 3.0;
/// Report at most this many spikes (the largest); the evidence keeps the total.
const MAX_REPORTED: usize = 5;
/// What one confidently wrong example adds to a batch-mean cross-entropy near zero (nats).
const ONE_HARD_EXAMPLE: f64 = 0.1;
/// How far back (in steps) a warm restart still explains a jump where points are single
/// steps: the time a raised LR takes to throw the loss up. On a coarser log the reach is three
/// logged points.
const RESTART_REACH: f64 = 10.0;

#[derive(Debug, Clone)]
pub struct Spike {
    pub onset: usize,
    pub peak: usize,
    pub end: usize,
    pub z: f64,
    pub base: f64,
    pub scale: f64,
}

/// An independent cause on record just before a point: a jump of the learning rate, brief
/// (back within a few logged points: an injected or mistaken LR) or long (a warm restart's
/// cycle, after which a bump is the schedule's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    BriefLrJump,
    LrJump,
}

/// Per-point baseline (rolling median) and local noise scale of a series.
pub fn baseline_and_scale(xs: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = xs.len();
    let half = (n / 10).clamp(2, 10);
    // Baseline: the higher of the medians just before and just after each point, so a steep
    // but smooth trend never looks like a spike (a centred window is biased at the ends).
    let h = (half / 2).max(1);
    let side = rolling_median(xs, h);
    let base: Vec<f64> = (0..n)
        .map(|i| {
            let left = (i > h).then(|| side[i - h - 1]);
            let right = (i + h + 1 < n).then(|| side[i + h + 1]);
            match (left, right) {
                (Some(l), Some(r)) => l.max(r),
                // Near the start the points logged before stand in for the left window (in
                // the early fall they lie above the level), for a jump far above them only:
                // the first steps' wobbles are the optimizer finding its feet.
                (None, Some(r)) if i >= 2 => {
                    let before = median(&xs[..i]).max(r);
                    if before > 0.0 && xs[i] >= END_MULTIPLE * before {
                        before
                    } else {
                        f64::INFINITY
                    }
                }
                // At the very ends only one side exists, which a trend biases: no verdict there.
                _ => f64::INFINITY,
            }
        })
        .collect();
    // Residuals against the local (centred) median of the short window, for the noise scale.
    let resid: Vec<f64> = xs.iter().zip(&side).map(|(x, b)| x - b).collect();
    let block = (8 * half).max(40).min(n.max(1));
    // A remainder under half a block joins the last whole block: the spread of a 2-point tail
    // is no noise estimate, and smoothed with its neighbour it halved the scale of a 42-point
    // log (a 12 % wobble of one batch became a z-9 spike).
    let nblocks = if n % block < block / 2 {
        (n / block).max(1)
    } else {
        n.div_ceil(block)
    };
    let block_sd: Vec<f64> = (0..nblocks)
        .map(|b| {
            let end = if b + 1 == nblocks { n } else { (b + 1) * block };
            robust_sd(&resid[b * block..end])
        })
        .collect();
    // Smooth block scales across neighbours so one noisy block does not hide or fake spikes.
    let smooth = rolling_median(&block_sd, 1);
    // A median over a short window holds the point itself, so the residuals understate the
    // noise: by 0.47 (h = 1), 0.73 (2), 0.82 (3) and 0.89 (5) of white noise's sd. Bring
    // every window to the long series' footing (h = 5), where the z thresholds were set, so
    // a 16-point log is not judged with a ruler half as long.
    let shrink = match h {
        1 => 0.47,
        2 => 0.73,
        3 => 0.82,
        4 => 0.86,
        _ => 0.89,
    };
    let widen = 0.89 / shrink;
    // A three- or five-point median is the point itself for a third of the points or more
    // (all of a zigzag's turning points, every point of a smooth monotone stretch): with few
    // points (one block) half the residuals can be exactly 0 and the MAD collapses (a 43-point
    // char-GRU log, 21 zeros: a scale of 0.002 where batches scatter ±0.03). The spread of
    // successive differences (over √2) does not depend on the window, so it bounds the scale
    // from below there.
    let floor = if h <= 2 && n >= 5 {
        let diffs: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
        robust_sd(&diffs) / std::f64::consts::SQRT_2
    } else {
        0.0
    };
    let scale = (0..n)
        .map(|i| {
            let s = (widen * smooth[(i / block).min(nblocks - 1)]).max(floor);
            s.max(1e-3 * side[i].abs()).max(1e-12)
        })
        .collect();
    (base, scale)
}

/// The spacing of spikes that recur on a cycle: at least four, each gap within 15 % of the
/// median gap or (once, for a spike lost in noise) of twice it. Bumps of a heavy-tailed noise
/// fall where they may; a hidden-state reset, an accumulation boundary or a hook that runs every
/// so many steps strikes on time.
pub(crate) fn spike_cycle(peaks: &[f64]) -> Option<f64> {
    if peaks.len() < 4 {
        return None;
    }
    let gaps: Vec<f64> = peaks.windows(2).map(|w| w[1] - w[0]).collect();
    let d = median(&gaps);
    if d <= 0.0 {
        return None;
    }
    let near = |g: f64, k: f64| (g - k * d).abs() <= 0.15 * k * d;
    let single = gaps.iter().filter(|&&g| near(g, 1.0)).count();
    let double = gaps.iter().filter(|&&g| near(g, 2.0)).count();
    (single + double == gaps.len() && double <= 1 && single >= 3).then_some(d)
}

/// Find spikes in a value series (indices refer to `xs`).
/// `min_jump`: the smallest jump worth a look in absolute terms (losses logged with few decimals
/// make quantisation steps look like huge z at tiny levels); [`FAR_JUMP_SHARE`] of it far out
/// of the noise.
/// `caused(i)` says an independent cause (a logged jump of the learning rate
/// just before point `i`) is on record: a jump there needs only half the relative size and half
/// the z, since the cause, not the size alone, tells it from noise.
pub fn find(xs: &[f64], min_jump: f64, caused: impl Fn(usize) -> Option<Cause>) -> Vec<Spike> {
    let n = xs.len();
    if n < 10 {
        return if n >= 4 {
            spikes_short::find_short(xs)
        } else {
            Vec::new()
        };
    }
    let (mut base, scale) = baseline_and_scale(xs);
    // After a brief LR jump (a few logged points, not a schedule's restart) the level before
    // it is the baseline: the loss often lingers up after the jump, and the higher of the two
    // sides would measure the jump against its own aftermath.
    // (The same short-window median as the baseline's, taken only where needed.)
    let causes: Vec<Option<Cause>> = (0..n).map(caused).collect();
    let h = ((n / 10).clamp(2, 10) / 2).max(1);
    for (i, b) in base.iter_mut().enumerate() {
        if i > 2 * h && causes[i] == Some(Cause::BriefLrJump) {
            *b = median(&xs[i - 2 * h - 1..i]);
        }
    }
    // The last points have no "after" and so no baseline. One there that stands far out of
    // everything before it still is a jump anyone sees (an object detector at 0.1-0.8 that
    // logs 3418 as its last line): against the median of the points just before it, one at
    // [`END_MULTIPLE`] times that level and [`Z_FAR`] out of the noise is judged too. Only a
    // point alone: two far up in a row at the end are a climb, which
    // `climbing_when_the_log_ends` reports as a divergence (one event, one finding).
    let far_at_end = |i: usize| {
        let left = median(&xs[i - 2 * h - 1..i]);
        (left > 0.0 && xs[i] >= END_MULTIPLE * left && (xs[i] - left) / scale[i] >= Z_FAR)
            .then_some(left)
    };
    let tail: Vec<(usize, Option<f64>)> = (n / 2..n)
        .filter(|&i| base[i].is_infinite() && i > 2 * h)
        .map(|i| (i, far_at_end(i)))
        .collect();
    for (k, &(i, far)) in tail.iter().enumerate() {
        let neighbour_far = |j: Option<&(usize, Option<f64>)>| j.is_some_and(|t| t.1.is_some());
        let alone = !neighbour_far(k.checked_sub(1).and_then(|k| tail.get(k)))
            && !neighbour_far(tail.get(k + 1));
        if let (Some(left), true) = (far, alone) {
            base[i] = left;
        }
    }
    let z: Vec<f64> = (0..n).map(|i| (xs[i] - base[i]) / scale[i]).collect();
    let mut spikes = Vec::new();
    let mut i = 0;
    while i < n {
        let rel = (xs[i] - base[i]) / base[i].abs().max(1e-9);
        let min_relative = if causes[i].is_some() {
            0.5 * MIN_RELATIVE
        } else {
            MIN_RELATIVE
        };
        let min_relative = if z[i] >= Z_FAR {
            0.5 * min_relative
        } else {
            min_relative
        };
        // The cause on record also makes a jump at that point likely: half the z will do.
        let z_peak = if causes[i].is_some() {
            0.5 * Z_PEAK
        } else {
            Z_PEAK
        };
        let min_jump = if z[i] >= Z_FAR && rel >= FAR_RELATIVE && base[i] >= ONE_HARD_EXAMPLE {
            min_jump * FAR_JUMP_SHARE
        } else {
            min_jump
        };
        if z[i] >= z_peak && rel >= min_relative && xs[i] - base[i] >= min_jump {
            let mut onset = i;
            while onset > 0 && z[onset - 1] >= Z_INSIDE {
                onset -= 1;
            }
            let mut end = i;
            while end + 1 < n && z[end + 1] >= Z_INSIDE {
                end += 1;
            }
            let peak = (onset..=end)
                .max_by(|&a, &b| z[a].total_cmp(&z[b]))
                .unwrap_or(i);
            spikes.push(Spike {
                onset,
                peak,
                end,
                z: z[peak],
                base: base[peak],
                scale: scale[peak],
            });
            i = end + 1;
        } else {
            i += 1;
        }
    }
    spikes
}

pub fn detect(ctx: &Ctx) -> Vec<Finding> {
    let t = &ctx.train;
    let xs: Vec<f64> = t.iter().map(|p| p.value).collect();
    // From the first points on: the baseline is the higher of the medians before and after a
    // point, so in the fast early fall a point must rise above the losses logged before it,
    // which a falling run does not do by chance (a char RNN's 4.40 → 5.67 at step 6 of 500).
    let spacing_guess = if t.len() > 1 {
        (ctx.last_step() - ctx.first_step()) / (t.len() - 1) as f64
    } else {
        1.0
    };
    let after_lr_jump = |i: usize| {
        let s = t[i].step;
        let e = ctx.lr_excursion_before(s, s, 3.0 * spacing_guess.max(1.0))?;
        Some(if e.end - e.start <= 5.0 * spacing_guess {
            Cause::BriefLrJump
        } else {
            Cause::LrJump
        })
    };
    // Where the run started: a first point blown up by orders of magnitude (a mean over the
    // first interval that caught one exploding step: 8e11, then 2.8) is not the scale.
    let head = median(&xs[..xs.len().min(3)]).abs();
    let init = ctx.init_level().abs();
    let start = if init > 10.0 * head { head } else { init };
    let mut spikes = find(&xs, MIN_JUMP_OF_START * start, after_lr_jump);
    spikes.retain(|s| !within_multiplicative_noise(&xs, s));
    let total = spikes.len();
    let peaks: Vec<f64> = spikes.iter().map(|s| t[s.peak].step).collect();
    let cycle = spike_cycle(&peaks);
    let heavy_tail = cycle.is_none() && heavy_tailed(&xs, &spikes);
    spikes.sort_by(|a, b| b.z.total_cmp(&a.z));
    spikes.truncate(MAX_REPORTED);
    spikes.sort_by_key(|s| s.peak);
    let grad_median = median(&ctx.grad.iter().map(|p| p.value).collect::<Vec<_>>());
    let spacing = if t.len() > 1 {
        (ctx.last_step() - ctx.first_step()) / (t.len() - 1) as f64
    } else {
        1.0
    };
    let guard: Vec<&Event> = ctx
        .run
        .events
        .iter()
        .filter(|e| guard::is_guard_event(e))
        .collect();
    let mut used = vec![false; guard.len()];
    let mut out = Vec::new();
    for s in &spikes {
        let (onset, peak, end) = (t[s.onset].step, t[s.peak].step, t[s.end].step);
        let value = t[s.peak].value;
        let recovery = t.get(s.end + 1).map_or(end, |p| p.step) - peak;
        // Lingering: the level after the spike stays above the level before it.
        let w = 10usize;
        let before = median(&xs[s.onset.saturating_sub(w)..s.onset]);
        let after = median(&xs[(s.end + 1).min(xs.len())..(s.end + 1 + w).min(xs.len())]);
        let lingering = after.is_finite() && before.is_finite() && after - before > 3.0 * s.scale;
        let window = 2.0 * spacing.max(1.0);
        let mut notes = Vec::new();
        let mut undone = false;
        for (g, e) in guard.iter().enumerate() {
            if e.step >= onset - window && e.step <= end + window {
                used[g] = true;
                undone |= guard::undid_update(e);
                notes.push(guard::describe(e));
            }
        }
        let grad_at = ctx
            .grad
            .iter()
            .filter(|p| (p.step - peak).abs() <= window)
            .min_by(|a, b| (a.step - peak).abs().total_cmp(&(b.step - peak).abs()))
            .map(|p| p.value);
        // A restart explains a jump, not one above where the run started or above a uniform
        // guess: that is a batch (or an LR) the model could not take.
        let beyond_start =
            value >= ctx.init_level() || ctx.refs.ln_vocab.is_some_and(|l| value > l);
        // The restart must come before the peak: the LR logged high only after the jump did
        // not cause it. An LR excursion just before the jump is the nearer cause: a restart
        // ten steps earlier does not excuse a step's LR a hundred times the schedule.
        let lr_jump = ctx.lr_excursion_before(onset, peak, window);
        let restart = ctx
            .restart_near(onset, (1.5 * window).max(RESTART_REACH))
            .filter(|&r| !beyond_start && r <= peak && lr_jump.is_none());
        let ratio = value / s.base.abs().max(1e-12);
        // A stateful trainer zeroes its hidden state at each epoch start, so the first batch
        // of an epoch costs a little more: a small one-step bump there is expected.
        let epoch_start = ctx
            .run
            .steps_per_epoch
            .filter(|&spe| spe >= 2.0 && ratio < 1.5 && !lingering && recovery <= 2.0 * spacing)
            .and_then(|spe| {
                let k = (peak / spe).round();
                (k >= 1.0 && (peak - k * spe).abs() <= window).then_some(k + 1.0)
            });
        // Logged every step, each point is one batch, and an epoch's last batch is often a
        // partial one (the remainder of the dataset): a lone jump there that is gone at the
        // next step is that small batch's noise. The last batch is step k·E - 1 in a log
        // counted from 0, k·E in one counted from 1; a log starting elsewhere is not judged.
        let first_step = t[0].step;
        let epoch_edge = ctx
            .run
            .steps_per_epoch
            .filter(|&spe| spe >= 8.0 && spacing <= 1.0 && !lingering && recovery <= 1.0)
            .filter(|_| first_step == 0.0 || first_step == 1.0)
            .and_then(|spe| {
                let k = ((peak + 1.0 - first_step) / spe).round();
                (k >= 1.0 && peak + 1.0 - first_step == k * spe).then_some(k)
            })
            .filter(|_| epoch_start.is_none());
        // The guard skipped or rolled back the bad update and the loss came back: handled.
        let handled = undone && !lingering;
        // Near zero a cross-entropy's batch mean jumps by factors for one hard example: one
        // confidently wrong answer in a batch of 32 adds −ln(0.05)/32 ≈ 0.09 nats. A jump under
        // that, from a level under it, is that example, not a bad batch. (Not in an epoch's
        // mean, which one example barely moves.)
        let one_example = ctx.family.is_cross_entropy()
            && !ctx.epoch_level()
            && s.base.abs() < ONE_HARD_EXAMPLE
            && value - s.base < ONE_HARD_EXAMPLE
            && !lingering;
        let severity = if restart.is_some()
            || one_example
            || epoch_start.is_some()
            || epoch_edge.is_some()
            || handled
            || heavy_tail
            || cycle.is_some()
        {
            Severity::Info
        } else {
            Severity::Warning
        };
        // A jump on the last logged point has no "after": whether it comes back is unknown.
        let at_end = s.end + 1 >= t.len();
        let outcome = if at_end {
            "and the log ends there".to_string()
        } else {
            format!(
                "{} after {} step{}",
                if lingering {
                    "and lingers above its earlier level"
                } else {
                    "and recovers"
                },
                step_str(recovery),
                if recovery == 1.0 { "" } else { "s" }
            )
        };
        // A ratio to a baseline at or below zero means nothing: say the jump in loss units.
        let size = if s.base > 0.0 {
            format!("{:.1}× the baseline", value / s.base)
        } else {
            format!("{} above the baseline", num(value - s.base))
        };
        let mut summary = format!(
            "Loss jumps from {} to {} ({size}, robust z {:.0}) at step {}, {outcome}{}",
            num(s.base),
            num(value),
            s.z,
            step_str(peak),
            restart.map_or(String::new(), |r| format!(
                ", right after the LR restart at step {}",
                step_str(r)
            ))
        );
        if let Some(e) = &lr_jump {
            summary.push_str(&format!(", right after {}", e.describe()));
        }
        if let Some(epoch) = epoch_start {
            summary.push_str(&format!(
                " at the start of epoch {epoch:.0}, where a stateful trainer resets its hidden state"
            ));
        }
        if let Some(k) = epoch_edge {
            summary.push_str(&format!(
                " on the last batch of epoch {k:.0}, often a partial one (the dataset's remainder)"
            ));
        }
        if one_example {
            summary.push_str(&format!(
                "; under {ONE_HARD_EXAMPLE} nats, what one hard example adds to a batch's mean near zero"
            ));
        }
        if !notes.is_empty() {
            summary.push_str(&format!("; {}", notes.join(", ")));
        }
        summary.push('.');
        let advice = if cycle.is_some() {
            "One of a cycle of spikes: see the periodic finding for what runs on that cycle."
                .to_string()
        } else if heavy_tail && !handled {
            format!(
                "{total} bumps of similar size in {} logged points: this run's batch-to-batch noise has \
                 heavy tails (hard batches, single-batch logging), not isolated bad batches. Log a mean \
                 over the logging interval to see the trend; nothing to fix unless the bumps grow.",
                xs.len()
            )
        } else if handled {
            "Handled: the training guard kept this update out of the weights and the loss came back. \
             Look at the incident file's batch if you want to know what was wrong with it."
                .to_string()
        } else if epoch_start.is_some() {
            "Expected: the first batch of an epoch starts from a zero hidden state. Nothing to do."
                .to_string()
        } else if epoch_edge.is_some() {
            "Expected: one small batch's loss is noisy. Nothing to do; drop_last=True in the \
             DataLoader keeps partial batches out if the jumps bother you."
                .to_string()
        } else if restart.is_some() {
            "Explained by the warm restart; if the jumps are large, restart to a lower peak LR (×0.5).".to_string()
        } else if let Some(e) = &lr_jump {
            excursions::lr_jump_advice(e)
        } else {
            format!(
                "Inspect the batch of step {}: a corrupt, mislabelled or extreme batch gives a one-step spike. \
                 If spikes recur, clip gradients at 1.0, lower the learning rate ×0.5, and skip updates whose \
                 loss exceeds 3× the running median{}.",
                step_str(peak),
                if lingering {
                    format!("; keep the checkpoint from step {}", step_str(t[s.onset.saturating_sub(1)].step))
                } else {
                    String::new()
                }
            )
        };
        // An epoch's mean does not move for one bad batch: a jump there means the model was
        // worse for much of the epoch, lost progress rather than one poisoned step.
        let (kind, summary, advice) = if ctx.epoch_level() && severity == Severity::Warning {
            (
                FindingKind::Instability,
                format!(
                    "The epoch-mean loss jumps from {} to {} at step {}, {}: one bad batch barely moves \
                     a mean over a whole epoch, so the model lost ground for much of it.",
                    num(s.base),
                    num(value),
                    step_str(peak),
                    if at_end {
                        "and the log ends there".to_string()
                    } else if lingering {
                        format!("and stays above its earlier level after {}", step_str(recovery))
                    } else {
                        format!("and comes back after {}", step_str(recovery))
                    }
                ),
                "Lower the learning rate ×0.5 (or decay it when the validation loss stops falling), clip \
                 gradients at 1.0, and check that the data is shuffled every epoch."
                    .to_string(),
            )
        } else {
            (FindingKind::Spike, summary, advice)
        };
        out.push(finding(
            kind,
            severity,
            Span::range(onset, end).with_peak(peak),
            summary,
            json!({
                "peak_value": value,
                "baseline": s.base,
                "ratio": ratio,
                "epoch_start": epoch_start,
                "robust_z": s.z,
                "noise_sd": s.scale,
                "recovery_steps": recovery,
                "lingering": lingering,
                "level_before": before,
                "level_after": after,
                "grad_norm_at_peak": grad_at,
                "grad_norm_median": grad_median,
                "lr_restart_step": restart,
                "lr_excursion": lr_jump,
                "guard_events": notes,
                "spikes_total": total,
                "in_cycle": cycle.is_some(),
            }),
            advice,
        ));
    }
    if let Some(d) = cycle {
        out.push(cycle_finding(&peaks, d));
    }
    let lonely: Vec<&&Event> = guard
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e)
        .collect();
    if let (Some(first), Some(last)) = (lonely.first(), lonely.last()) {
        let steps: Vec<String> = lonely.iter().take(10).map(|e| step_str(e.step)).collect();
        out.push(finding(
            FindingKind::Spike,
            Severity::Info,
            Span::range(first.step, last.step),
            format!(
                "The training guard intervened {} time{} (steps {}{}) without a visible loss spike.",
                lonely.len(),
                if lonely.len() == 1 { "" } else { "s" },
                steps.join(", "),
                if lonely.len() > 10 { ", …" } else { "" }
            ),
            json!({ "guard_events": lonely.iter().map(|e| guard::describe(e)).collect::<Vec<_>>(),
                    "guard_steps": lonely.iter().map(|e| e.step).collect::<Vec<_>>() }),
            "Nothing to do if the loss stays on course; frequent interventions mean the learning rate is \
             near its stability limit (lower it ×0.7).",
        ));
    }
    out
}

/// Spikes at `peaks` recurring every `d` steps: one periodic finding for the cycle (each spike
/// stays listed, as information).
pub(crate) fn cycle_finding(peaks: &[f64], d: f64) -> Finding {
    let listed: Vec<String> = peaks.iter().take(8).map(|&p| step_str(p)).collect();
    finding(
        FindingKind::Periodic,
        Severity::Warning,
        Span::range(peaks[0], peaks[peaks.len() - 1]),
        format!(
            "The loss spikes every {} steps ({} spikes, at steps {}{}): something in the training \
             loop runs on that cycle.",
            step_str(d.round()),
            peaks.len(),
            listed.join(", "),
            if peaks.len() > 8 { ", …" } else { "" }
        ),
        json!({ "period_steps": d, "spike_steps": peaks, "spikes": peaks.len() }),
        format!(
            "Look for what happens every {} steps: a hidden state reset or re-initialised (instead of \
             carried and detached), a gradient-accumulation boundary, an evaluation or checkpoint hook \
             that leaves the model in eval mode or changes the data, or an epoch of that length \
             (shuffle it).",
            step_str(d.round())
        ),
    )
}

#[cfg(test)]
#[path = "spikes_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "spikes_start_tests.rs"]
mod start_tests;

#[cfg(test)]
#[path = "spikes_lr_tests.rs"]
mod lr_tests;
