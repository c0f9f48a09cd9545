//! Sustained rises of the training loss above its best level so far, on the binned trend:
//! one that recovers is `instability`, one that does not is `divergence` (large) or
//! `upward_drift` (slow and small). A rise that starts at a warm restart of the LR is explained
//! by the schedule and only noted. A climb too slow for an episode is [`super::drift`]'s.

use serde_json::json;

use crate::detect::context::LrExcursion;
use crate::detect::stats::{self, median, robust_sd, rolling_median};
use crate::detect::{drift, early_breaks, finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// The smallest rise, relative to the level it left, that an episode which recovers must
/// reach to be called instability.
const MIN_RECOVERED_RISE: f64 = 0.2;
/// How many trend levels (ending at the best one) say where the run stood before a rise.
const STOOD_BINS: usize = 5;

#[derive(Debug, Clone, Copy)]
struct Episode {
    /// Bin of the best level before the rise.
    start: usize,
    peak: usize,
    /// Bin where the level is back near its best; `None` if it never came back.
    end: Option<usize>,
    rise: f64,
    base: f64,
}

fn episodes(level: &[f64], threshold: f64, skip_before: usize) -> Vec<Episode> {
    let n = level.len();
    let mut out = Vec::new();
    let (mut best, mut best_at) = (f64::INFINITY, 0usize);
    let mut b = 0;
    while b < n {
        if level[b] < best {
            best = level[b];
            best_at = b;
        }
        if b >= skip_before && level[b] - best > threshold {
            let mut peak = b;
            let mut end = None;
            let mut k = b;
            while k < n {
                if level[k] > level[peak] {
                    peak = k;
                }
                if level[k] - best < 0.5 * threshold.max(level[peak] - best) {
                    end = Some(k);
                    break;
                }
                k += 1;
            }
            out.push(Episode {
                start: best_at,
                peak,
                end,
                rise: level[peak] - best,
                base: best,
            });
            match end {
                Some(e) => {
                    b = e;
                    best = level[e];
                    best_at = e;
                }
                None => break,
            }
        }
        b += 1;
    }
    out
}

/// Whether the LR warmed up all through a rise: it rose into the peak (from the rise's start)
/// and then on by half again before the loss came back, never stepping down on the way (a
/// warm restart is no warmup: the loss recovering after one says nothing about the rate).
fn outgrown_by_warmup(ctx: &Ctx, start: f64, peak: f64, recovered: f64) -> bool {
    let rising = ctx
        .lr
        .iter()
        .filter(|p| p.step >= start && p.step <= recovered)
        .map(|p| p.value)
        .collect::<Vec<f64>>()
        .windows(2)
        .all(|w| w[1] >= 0.99 * w[0]);
    match (ctx.lr_at(start), ctx.lr_at(peak), ctx.lr_at(recovered)) {
        (Some(a), Some(p), Some(r)) => rising && p > 1.2 * a && r >= 1.5 * p,
        _ => false,
    }
}

/// Robust spread of the bin values around their rolling median over `[from, to]` widened by
/// its own length on each side: the noise of the level near an episode.
fn local_noise(values: &[f64], from: usize, to: usize) -> f64 {
    let len = to.saturating_sub(from).max(4);
    let (a, b) = (from.saturating_sub(len), (to + len + 1).min(values.len()));
    let window = &values[a..b];
    let smooth = rolling_median(window, 2);
    let resid: Vec<f64> = window.iter().zip(&smooth).map(|(v, m)| v - m).collect();
    // Residuals against a five-bin median hold the bin itself and understate a bin's noise
    // (0.73 of its sd); the level, a median of five bins, has 0.54 of a bin's sd. So the
    // level's noise is 0.54 / 0.73 ≈ 0.74 of the residuals' spread.
    0.74 * robust_sd(&resid)
}

pub fn detect(ctx: &Ctx) -> Vec<Finding> {
    let bins = &ctx.bins;
    if bins.len() < 8 {
        return early_breaks::climbs_throughout(ctx)
            .or_else(|| early_breaks::jump_after_the_first(ctx))
            .into_iter()
            .collect();
    }
    let level = rolling_median(&bins.value, 2);
    let init = level[0].max(ctx.init_level());
    let lowest = level.iter().copied().fold(f64::INFINITY, f64::min);
    let descent = (init - lowest).max(0.0);
    let threshold = (5.0 * ctx.bin_noise)
        .max(0.1 * descent)
        .max(0.03 * lowest.abs())
        .max(1e-9);
    let span = ctx.last_step() - ctx.first_step();
    let from_start = ctx.starts_at_beginning();
    let early = ctx.first_step() + 0.03 * span;
    let skip = bins.step.partition_point(|&s| s < early);
    let last = level.len() - 1;
    let mut out = Vec::new();
    for ep in episodes(&level, threshold, skip) {
        // The best level so far is the lowest of many noisy levels, biased low; where the run
        // stood is the median of the last few levels before the rise. Persistent noise (a stretch
        // of easier text, then a harder one) wanders from the one to the other.
        let stood = median(&level[ep.start.saturating_sub(STOOD_BINS - 1)..=ep.start]);
        if level[ep.peak] - stood < threshold {
            continue;
        }
        let (s0, sp) = (bins.step[ep.start], bins.step[ep.peak]);
        let duration = ep.end.map_or(bins.step[last], |e| bins.step[e]) - s0;
        if duration < 0.02 * span || ep.end.unwrap_or(last) - ep.start < 3 {
            continue; // a blip: the spike detector's business
        }
        // Noise shrinks as the loss falls (single-batch logs of a fine-tune swing widely early
        // and barely at the end): the rise must also beat the noise where it happened.
        // A rise that never comes back is measured against the noise where the run stood
        // before it as well: an LR that keeps growing makes the climb ever noisier (4.4 →
        // 5.2, 5.0, 5.5, 5.1, 5.8), and the climb's own turbulence must not hide the climb.
        let noise_here =
            match ep.end {
                Some(e) => local_noise(&bins.value, ep.start, e),
                None => {
                    let len = (last - ep.start).max(4);
                    local_noise(&bins.value, ep.start.saturating_sub(len), ep.start)
                        .min(local_noise(&bins.value, ep.start, last))
                }
            };
        if ep.rise < 5.0 * noise_here {
            continue;
        }
        let restart = ctx.restart_near(s0, 0.05 * span.max(1.0)).or_else(|| {
            ctx.lr_restarts
                .iter()
                .copied()
                .find(|&r| r >= s0 && r <= sp)
        });
        // Bins are coarse: an LR jump up to two bins before the best level still counts.
        let bin_width = span / bins.len().max(1) as f64;
        let lr_jump = ctx.lr_excursion_before(s0, sp, 2.0 * bin_width);
        let lr_note = match (lr_jump, ctx.lr_at(s0), ctx.lr_at(sp)) {
            (Some(e), _, _) => format!(", with {},", e.describe()),
            (None, Some(a), Some(b)) if b > 1.2 * a => {
                format!(" while the LR rises from {} to {}", num(a), num(b))
            }
            (None, Some(_), Some(b)) => format!(" at LR {}", num(b)),
            _ => String::new(),
        };
        let lr_jump_advice = lr_jump.map(|e| lr_jump_advice(&e));
        let evidence = json!({
            "best_level": ep.base,
            "best_step": s0,
            "peak_level": ep.base + ep.rise,
            "peak_step": sp,
            "rise": ep.rise,
            "threshold": threshold,
            "bin_noise_sd": ctx.bin_noise,
            "initial_level": init,
            "total_descent": descent,
            "final_level": level[last],
            "recovered_step": ep.end.map(|e| bins.step[e]),
            "lr_restart_step": restart,
            "lr_at_start": ctx.lr_at(s0),
            "lr_at_peak": ctx.lr_at(sp),
            "lr_excursion": lr_jump,
        });
        // A restart explains a bump, not a climb back above where the run started (or above a
        // uniform guess): that undoes the training, and the restart's peak LR is too high.
        let peak_level = ep.base + ep.rise;
        let undone = peak_level >= init || ctx.refs.ln_vocab.is_some_and(|l| peak_level > l);
        if let Some(r) = restart.filter(|_| !undone) {
            out.push(finding(
                FindingKind::Instability,
                Severity::Info,
                Span::range(s0, ep.end.map_or(bins.step[last], |e| bins.step[e])).with_peak(sp),
                format!(
                    "Loss rises from {} to {} after the LR warm restart at step {}{}: expected with \
                     restarts, explained by the schedule.",
                    num(ep.base),
                    num(ep.base + ep.rise),
                    step_str(r),
                    if ep.end.is_some() { " and comes back down" } else { "" }
                ),
                evidence,
                "Nothing to do; if the bumps cost more than the restart gains, restart to a lower peak LR.",
            ));
            continue;
        }
        match ep.end {
            // A bump that recovers and costs under a fifth of the level is within what the data
            // order and a brisk LR alone do (a harder stretch of text, a shard of other data):
            // instability is a run that loses a real share of where it stood. Sharp one-point
            // jumps are the spike detector's, at a tenth.
            Some(_) if ep.rise < MIN_RECOVERED_RISE * ep.base.abs() => {}
            // A rise during warmup that turns back down while the LR keeps climbing (half as
            // high again by the time it recovers) is not the LR's doing: a rate too high gets
            // worse as it grows. A detector's warmup (RTMDet: 1.10 → 1.79 while more boxes get
            // matched, falling from iteration 16 as the LR doubles to its peak at 30).
            Some(e) if outgrown_by_warmup(ctx, s0, sp, bins.step[e]) => {}
            Some(e) => {
                let se = bins.step[e];
                out.push(finding(
                    FindingKind::Instability,
                    Severity::Warning,
                    Span::range(s0, se).with_peak(sp),
                    format!(
                        "Loss climbs from {} at step {} to {} at step {}{} and only comes back by step {} \
                         ({} steps of lost progress).",
                        num(ep.base),
                        step_str(s0),
                        num(ep.base + ep.rise),
                        step_str(sp),
                        lr_note,
                        step_str(se),
                        step_str(se - s0)
                    ),
                    evidence,
                    lr_jump_advice.clone().unwrap_or_else(|| {
                        format!(
                            "Lower the peak learning rate ×0.5 (or lengthen warmup so it is reached later), \
                             clip gradients at 1.0, and inspect the data of steps {}–{} for a bad stretch.",
                            step_str(s0),
                            step_str(sp)
                        )
                    }),
                ));
            }
            // Held-out loss that keeps falling through the whole rise says the model is
            // still getting better: the training batches got harder (data order), it did not
            // diverge (a word model's batch loss 4.40 → 4.86 while every evaluation falls,
            // 4.77 → 4.36).
            None if validation_falls_through(ctx, s0) => {}
            None => {
                let end_rise = level[last] - ep.base;
                // A log that starts mid-run (an excerpt, a resumed run) shows neither the start
                // nor the descent: "above the initial loss" means nothing there, and a rise is
                // large when it is half the level it left.
                // A run that never fell below its first level (the best is the start) has no
                // descent to measure a rise against: ending above the start is then just
                // rising at all, and its size is judged against the level, as in an excerpt
                // (a Keras MSE creeping 0.176 → 0.198 over 20 epochs drifts, not diverges).
                // A language model whose first log is already well under ln V fell before it.
                let fell_before_log = ctx.refs.ln_vocab.is_some_and(|l| init < l - threshold);
                let measured = from_start && (descent > threshold || fell_before_log);
                let t0 = ctx.train.first().map(|p| p.value);
                let exceeds_init = measured
                    && (level[last] > init || ep.base + ep.rise > 2.0 * init.abs().max(1e-9));
                // A climb that gives back a quarter of the descent and stands ten noise widths
                // clear of the best is no drift (about one noise width, slowly): the run is
                // coming apart (an LR that keeps growing: 2.24 → 3.17 after a fall from 4.38).
                let big = if measured {
                    end_rise >= 0.5 * descent.max(threshold)
                        || exceeds_init
                        || end_rise >= 0.25 * descent && end_rise >= 10.0 * ctx.bin_noise
                } else {
                    // The first logged value counts as a level the run stood at: a rolling
                    // median drops a lone first log (6.24, then 11.0 … 13.6 doubles it).
                    let stood_at = match t0 {
                        Some(first) if from_start => ep.base.min(first),
                        _ => ep.base,
                    };
                    level[last] - stood_at >= 0.5 * stood_at.abs().max(threshold)
                };
                let kind_sev = if big {
                    Some((FindingKind::Divergence, Severity::Error))
                } else if duration >= 0.1 * span {
                    Some((FindingKind::UpwardDrift, Severity::Warning))
                } else {
                    None
                };
                let Some((kind, severity)) = kind_sev else {
                    continue;
                };
                let summary = if kind == FindingKind::Divergence {
                    format!(
                        "Loss rises from its best {} at step {} to {} by step {}{} and does not come back{}.",
                        num(ep.base),
                        step_str(s0),
                        num(level[last]),
                        step_str(bins.step[last]),
                        lr_note,
                        if exceeds_init { format!(", above the initial {}", num(init)) } else { String::new() }
                    )
                } else {
                    format!(
                        "Loss drifts up from {} at step {} to {} at step {} ({} over {} steps){}.",
                        num(ep.base),
                        step_str(s0),
                        num(level[last]),
                        step_str(bins.step[last]),
                        num(end_rise),
                        step_str(duration),
                        match lr_jump {
                            Some(_) => lr_note.trim_end_matches(',').to_string(),
                            None =>
                                format!("{lr_note} with no spike or schedule change to explain it"),
                        }
                    )
                };
                let advice = if let Some(advice) = lr_jump_advice {
                    format!(
                        "{advice} Restart from the checkpoint of step {}.",
                        step_str(s0)
                    )
                } else if kind == FindingKind::Divergence {
                    format!(
                        "Keep the checkpoint from step {}; restart from it with the peak learning rate ×0.3, \
                         gradient clipping at 1.0 and 200+ warmup steps.",
                        step_str(s0)
                    )
                } else {
                    format!(
                        "Keep the checkpoint from step {}; check weight decay and the LR schedule (decay the LR \
                         from there), and look for data-order drift (later shards of different data).",
                        step_str(s0)
                    )
                };
                out.push(finding(
                    kind,
                    severity,
                    Span::range(s0, bins.step[last]).with_peak(sp),
                    summary,
                    evidence,
                    advice,
                ));
            }
        }
    }
    // Bad stretches that recur on a cycle (a hidden state reset every 12 steps) are one
    // pattern, not a dozen instabilities.
    let bumps: Vec<f64> = out
        .iter()
        .filter(|f| f.kind == FindingKind::Instability && f.severity >= Severity::Warning)
        .filter_map(|f| f.peak_step.or(f.start_step))
        .collect();
    if let Some(d) = crate::detect::spikes::spike_cycle(&bumps) {
        out.retain(|f| f.kind != FindingKind::Instability);
        out.push(crate::detect::spikes::cycle_finding(&bumps, d));
    }
    if !out.iter().any(|f| f.severity >= Severity::Warning) {
        out.extend(
            early_breaks::jump_after_the_first(ctx)
                .or_else(|| early_breaks::blown_up_after_a_fresh_start(ctx)),
        );
    }
    if !out.iter().any(|f| f.severity >= Severity::Warning) {
        out.extend(climbing_when_the_log_ends(ctx));
    }
    if !out.iter().any(|f| f.severity >= Severity::Warning) {
        out.extend(drift::slow_drift(ctx).or_else(|| drift::short_climb(ctx)));
    }
    out
}

/// Whether the evaluations from `from` to the log's end (three or more) fall steadily and
/// end clearly (2 %) under the first of them.
pub(crate) fn validation_falls_through(ctx: &Ctx, from: f64) -> bool {
    if ctx.train_is_val {
        return false;
    }
    let evals: Vec<f64> = ctx
        .val
        .iter()
        .filter(|p| p.step >= from)
        .map(|p| p.value)
        .collect();
    evals.len() >= 3
        && evals[evals.len() - 1] < 0.98 * evals[0]
        && stats::order_agreement(&evals) <= -0.6
}

/// The log's last points far above where the run stood, the last the highest: the loss left
/// its level and had not come back when the log ended (a detector's loss 0.054 flat for seven
/// epochs, then 0.060 and 0.064). The spike and episode detectors leave a log's ends unjudged
/// (there is no after to compare with), so this is the only finding such an ending gets. Each
/// point must clear the level before it by ten times its noise and by 10 % of it.
fn climbing_when_the_log_ends(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    let n = t.len();
    if n < 10 || !ctx.lr_restarts.is_empty() || !ctx.lr_excursions.is_empty() {
        return None;
    }
    let before = (n / 4).clamp(5, 50);
    // Longer climbs are the episode detector's (and a long scan would cost a million-point log).
    let longest = (n / 10).clamp(2, 50);
    let values: Vec<f64> = t.iter().map(|p| p.value).collect();
    // The longest run of final points that all stand clear of the stretch before them.
    let (mut k, mut stood) = (0, f64::NAN);
    for tail in (2..=longest.min(n - before)).rev() {
        let pre = &values[n - tail - before..n - tail];
        let level = median(pre);
        let diffs: Vec<f64> = pre.windows(2).map(|w| w[1] - w[0]).collect();
        let noise = robust_sd(&diffs) / std::f64::consts::SQRT_2;
        let clear = (10.0 * noise).max(0.1 * level.abs());
        if level > 0.0 && values[n - tail..].iter().all(|&v| v > level + clear) {
            (k, stood) = (tail, level);
            break;
        }
    }
    let tail = &t[n.checked_sub(k).filter(|_| k >= 2)?..];
    let last = tail[k - 1].value;
    if tail.iter().any(|p| p.value > last) {
        return None; // already coming back down
    }
    Some(finding(
        FindingKind::Divergence,
        Severity::Warning,
        Span::range(tail[0].step, tail[k - 1].step).with_peak(tail[0].step),
        format!(
            "Loss leaves its level {} at step {} and is still climbing when the log ends ({} at \
             step {}, {:+.0}%): the run is going wrong now, and nothing after shows it coming back.",
            num(stood),
            step_str(tail[0].step),
            num(last),
            step_str(tail[k - 1].step),
            100.0 * (last - stood) / stood
        ),
        json!({ "level_before": stood, "climb_start_step": tail[0].step, "last_value": last,
                "points_above": k }),
        format!(
            "Keep the checkpoint from before step {}; if the run goes on climbing, restart from \
             it with the learning rate ×0.3 and gradient clipping at 1.0, and inspect the data \
             of those steps. If the log was cut short, share the rest of it.",
            step_str(tail[0].step)
        ),
    ))
}

/// What to do when a jump of the LR, not the data or the schedule, set the loss off.
pub fn lr_jump_advice(e: &LrExcursion) -> String {
    format!(
        "The learning rate caused this: it was ×{:.0} its level for a moment at step {}. Find what set it \
         (a manual change, a scheduler or optimizer-state bug); the schedule around it is fine. Gradient \
         clipping at 1.0 and rnnlab's guard (`--guard full`: skip or roll back the update) limit the damage.",
        e.peak / e.before,
        step_str(e.start)
    )
}

#[cfg(test)]
#[path = "excursions_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "excursions_size_tests.rs"]
mod size_tests;
