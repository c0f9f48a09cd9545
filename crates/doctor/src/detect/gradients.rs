//! Gradient-norm pathologies (only when grad norms are logged): spikes far above the local
//! median or a sustained blow-up (exploding), and a collapse toward zero while the loss is flat
//! (vanishing).

use serde_json::json;

use crate::detect::stats::{median, rolling_median};
use crate::detect::trend::{judging_window, trend};
use crate::detect::{excursions, finding, guard, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// A gradient spike: this many times the local median. Healthy large runs show 5–8×.
const SPIKE_RATIO: f64 = 10.0;
/// A norm this many times the ones before it, just before the loss turned non-finite: the
/// spikes that count as a warning even alone (see `exploding`).
const BLOW_UP: f64 = 30.0;

pub fn detect(ctx: &Ctx) -> Vec<Finding> {
    let g = &ctx.grad;
    if g.len() < 20 {
        return absurd_scale(ctx)
            .or_else(|| blown_up_before_non_finite(ctx))
            .into_iter()
            .collect();
    }
    let mut out = Vec::new();
    out.extend(exploding(ctx).or_else(|| absurd_scale(ctx)));
    out.extend(vanishing(ctx));
    out
}

fn exploding(ctx: &Ctx) -> Option<Finding> {
    let g = &ctx.grad;
    let logs: Vec<f64> = g.iter().map(|p| p.value.max(1e-30).ln()).collect();
    let base = rolling_median(&logs, 5);
    let (first, last) = (g[0].step, g[g.len() - 1].step);
    let skip = g.partition_point(|p| p.step < first + 0.02 * (last - first));
    let mut events: Vec<(usize, f64)> = Vec::new();
    let mut i = skip;
    while i < g.len() {
        let ratio = (logs[i] - base[i]).exp();
        if ratio >= SPIKE_RATIO {
            let mut j = i;
            let mut best = (i, ratio);
            while j + 1 < g.len() && (logs[j + 1] - base[j + 1]).exp() >= SPIKE_RATIO / 2.0 {
                j += 1;
                let r = (logs[j] - base[j]).exp();
                if r > best.1 {
                    best = (j, r);
                }
            }
            events.push(best);
            i = j + 1;
        } else {
            i += 1;
        }
    }
    // Sustained growth: the late median far above the median after the initial transient.
    let n = g.len();
    let vals: Vec<f64> = g.iter().map(|p| p.value).collect();
    let early = median(&vals[n / 10..(3 * n / 10).max(n / 10 + 1)]);
    let late = median(&vals[n - (n / 10).max(1)..]);
    let growth = late / early.max(1e-30);
    let sustained = growth >= 10.0;
    if events.is_empty() && !sustained {
        return None;
    }
    let max_ratio = events.iter().map(|e| e.1).fold(0.0, f64::max);
    // A burst that lasts a few logged points lifts its own local median: against the run's
    // typical norm it may still be far out.
    // Against the whole run's typical norm only where the spike did something: the loss
    // answered it, or it sits in a burst (its neighbourhood's median 3x that of the points
    // before). A norm that decays a thousandfold as a fine-tune converges makes a lone quiet
    // wobble look huge against the converged end.
    let typical = median(&vals);
    let in_burst = |k: usize| {
        let (lo, hi) = (k.saturating_sub(10), (k + 11).min(n));
        lo >= 5 && median(&vals[lo..hi]) >= 3.0 * median(&vals[..lo])
    };
    let max_of_typical = events
        .iter()
        .filter(|e| in_burst(e.0) || loss_answers(ctx, g[e.0].step))
        .map(|e| g[e.0].value / typical.max(1e-30))
        .fold(0.0, f64::max);
    // One spike in the first twentieth of the run, while the loss is still in its fast fall
    // and keeps falling through it: the early transient's rough landscape, not an explosion.
    let early_lone = !sustained
        && events.len() == 1
        && g[events[0].0].step <= first + 0.05 * (last - first)
        && !loss_answers(ctx, g[events[0].0].step);
    // Spikes whose updates the training guard skipped or rolled back never reached the
    // weights: handled, as the loss spikes it caught are (one event, no advice to do again
    // what the guard did).
    let spacing = (last - first) / (n - 1).max(1) as f64;
    let handled_events: Vec<&crate::Event> = events
        .iter()
        .filter_map(|e| {
            ctx.run.events.iter().find(|ev| {
                guard::undid_update(ev) && (ev.step - g[e.0].step).abs() <= spacing.max(1.0)
            })
        })
        .collect();
    let handled: Vec<String> = handled_events
        .iter()
        .map(|ev| guard::describe(ev))
        .collect();
    let all_handled = !sustained && !events.is_empty() && handled.len() == events.len();
    let severity = if early_lone || all_handled {
        Severity::Info
    } else if sustained || events.len() >= 3 || max_ratio >= 30.0 || max_of_typical >= 30.0 {
        Severity::Warning
    } else {
        Severity::Info
    };
    let steps: Vec<String> = events
        .iter()
        .take(8)
        .map(|e| step_str(g[e.0].step))
        .collect();
    let (start, peak) = match events.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        Some(&(k, _)) => (g[events[0].0].step, g[k].step),
        None => (g[n / 10].step, g[n - 1].step),
    };
    let end = match events.last() {
        Some(&(k, _)) if !sustained => g[k].step,
        _ => g[n - 1].step,
    };
    // Spikes that all follow a brief jump of the LR are its doing, not the batches'.
    let jumps: Option<Vec<_>> = events
        .iter()
        .map(|e| ctx.lr_excursion_before(g[e.0].step, g[e.0].step, 2.0 * spacing.max(1.0)))
        .collect();
    let lr_jump = jumps
        .and_then(|j| j.first().copied())
        .filter(|_| !sustained);
    let summary = if sustained {
        format!(
            "The gradient norm grows {:.0}× over the run (median {} early, {} at the end){}.",
            growth,
            num(early),
            num(late),
            if events.is_empty() {
                String::new()
            } else {
                format!(
                    ", with {} spikes above {SPIKE_RATIO}× the local median",
                    events.len()
                )
            }
        )
    } else {
        format!(
            "The gradient norm spikes {} time{} above {SPIKE_RATIO}× its local median (largest {:.0}× at step {}; steps {}).",
            events.len(),
            if events.len() == 1 { "" } else { "s" },
            max_ratio,
            step_str(peak),
            steps.join(", ")
        )
    };
    let summary = match &lr_jump {
        Some(e) => format!(
            "{}, right after {}.",
            summary.trim_end_matches('.'),
            e.describe()
        ),
        None => summary,
    };
    let summary = if all_handled {
        format!(
            "{}; {}, so no such update reached the weights.",
            summary.trim_end_matches('.'),
            handled.join(", ")
        )
    } else {
        summary
    };
    Some(finding(
        FindingKind::ExplodingGradients,
        severity,
        // Growth spans the run; spikes span only the steps they hit.
        Span::range(start, end.max(start)).with_peak(peak),
        summary,
        json!({
            "spikes": events.len(),
            "max_ratio": max_ratio,
            "spike_steps": events.iter().map(|e| g[e.0].step).collect::<Vec<_>>(),
            "handled_steps": handled_events.iter().map(|ev| ev.step).collect::<Vec<_>>(),
            "median_early": early,
            "median_late": late,
            "growth": growth,
            "lr_excursion": lr_jump,
        }),
        match &lr_jump {
            _ if all_handled => "Handled: the training guard kept these updates out of the weights. \
                 Nothing to do unless the skips recur; frequent ones mean the learning rate is near \
                 its stability limit (lower it ×0.7)."
                .to_string(),
            Some(e) => excursions::lr_jump_advice(e),
            // A norm that grows over the run has no batches to blame: check what keeps adding
            // to the gradient (an LR that grows, gradients never zeroed between steps).
            None if steps.is_empty() => "Clip gradients at max norm 1.0 and lower the learning rate ×0.5; \
                 a norm that grows steadily is something that keeps adding up: check that the \
                 gradients are zeroed every step (optimizer.zero_grad()) and that the LR schedule \
                 does not grow; for recurrent nets also shorten the truncated-BPTT length."
                .to_string(),
            None => format!(
                "Clip gradients at max norm 1.0, lower the learning rate ×0.5, and inspect the batches of steps \
                 {}; for recurrent nets also shorten the truncated-BPTT length.",
                steps.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
            ),
        },
    ))
}

/// A gradient norm whose median is this large has exploded, whatever its trend: healthy runs
/// log 0.1-100, and a norm read before unscaling a float16 loss scale (×65536) stays under 1e7.
const ABSURD_NORM: f64 = 1e8;

/// A gradient norm at an absurd scale over the whole log (five points or more): a log too
/// short for spikes and growth to be measured, or one where clipping keeps the run alive
/// (a ReLU RNN at 1e17 before the clip), still shows gradients that have blown up.
fn absurd_scale(ctx: &Ctx) -> Option<Finding> {
    let g = &ctx.grad;
    let vals: Vec<f64> = g
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    if vals.len() < 5 {
        return None;
    }
    let typical = median(&vals);
    if typical < ABSURD_NORM {
        return None;
    }
    let (first, last) = (g[0].step, g[g.len() - 1].step);
    Some(finding(
        FindingKind::ExplodingGradients,
        Severity::Warning,
        Span::range(first, last),
        format!(
            "The gradient norm sits at {} (median of {} logged values, up to {}): gradients \
             of a healthy run are 0.1-100, so these have exploded.",
            num(typical),
            vals.len(),
            num(vals.iter().copied().fold(f64::MIN, f64::max))
        ),
        json!({ "median_norm": typical, "points": vals.len() }),
        "Clip gradients at max norm 1.0 and lower the learning rate ×0.1; check the loss is a \
         mean over tokens (not a sum) and, for recurrent nets, shorten the truncated-BPTT length. \
         If the norm is logged before a float16 loss scale is removed, log it after.",
    ))
}

/// A run that turned non-finite within its first logged points leaves too few norms for the
/// spike search; the last ones before the loss turned, [`BLOW_UP`] times the ones before them
/// (0.6, 0.5, 0.7, 1.2, then 1914 and NaN), are the explosion that did it.
fn blown_up_before_non_finite(ctx: &Ctx) -> Option<Finding> {
    let turned = ctx.run.train_loss.get(ctx.train.len())?;
    if turned.value.is_finite() {
        return None;
    }
    let before: Vec<&crate::Point> = ctx.grad.iter().filter(|p| p.step <= turned.step).collect();
    if before.len() < 4 {
        return None;
    }
    let (earlier, last) = before.split_at(before.len() - 2);
    let typical = median(&earlier.iter().map(|p| p.value).collect::<Vec<_>>());
    let peak = last.iter().max_by(|a, b| a.value.total_cmp(&b.value))?;
    let ratio = peak.value / typical.max(1e-30);
    if ratio < BLOW_UP {
        return None;
    }
    Some(finding(
        FindingKind::ExplodingGradients,
        Severity::Warning,
        Span::range(peak.step, turned.step).with_peak(peak.step),
        format!(
            "The gradient norm jumps to {} at step {}, {:.0}× the {} logged before it, and the \
             loss is non-finite from step {}: the gradients exploded and took the weights with \
             them.",
            num(peak.value),
            step_str(peak.step),
            ratio,
            num(typical),
            step_str(turned.step)
        ),
        json!({ "peak_norm": peak.value, "median_before": typical, "ratio": ratio, "non_finite_step": turned.step }),
        "Clip gradients at max norm 1.0 and lower the learning rate ×0.1 (or warm it up over the \
         first few hundred steps); for recurrent nets, shorten the truncated-BPTT length.",
    ))
}

/// Whether the training loss, at the logged points around `step` (the one before it to the
/// one after), rises 10 % above the point logged before them: the loss answered a gradient
/// spike there.
fn loss_answers(ctx: &Ctx, step: f64) -> bool {
    let t = &ctx.train;
    let k = t.partition_point(|p| p.step < step);
    let Some(before) = t[..k.saturating_sub(1)].last().map(|p| p.value) else {
        return false;
    };
    t[k.saturating_sub(1)..(k + 2).min(t.len())]
        .iter()
        .any(|p| p.value > 1.1 * before)
}

fn vanishing(ctx: &Ctx) -> Option<Finding> {
    let g = &ctx.grad;
    let n = g.len();
    let vals: Vec<f64> = g.iter().map(|p| p.value).collect();
    let early = median(&vals[n / 20..(n * 3 / 20).max(n / 20 + 1)]);
    let late = median(&vals[n - (n / 10).max(1)..]);
    let collapsed = late < 0.02 * early || (late < 1e-7 && early > 0.0);
    if !collapsed {
        return None;
    }
    let (from, to) = judging_window(ctx)?;
    let t = trend(ctx, &ctx.train, from, to)?;
    // A loss that goes to ~0 legitimately takes its gradients with it.
    if !t.flat() || t.level < 0.05 {
        return None;
    }
    Some(finding(
        FindingKind::VanishingGradients,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "The gradient norm collapses from {} to {} ({:.0}× smaller) while the loss sits flat at {}.",
            num(early),
            num(late),
            early / late.max(1e-30),
            num(t.level)
        ),
        json!({ "grad_early": early, "grad_late": late, "loss_level": t.level, "drop_per_doubling": t.abs_rate }),
        "Use a gated cell (LSTM/GRU) or residual connections, check the initialisation (orthogonal recurrent \
         weights, forget-gate bias 1.0), avoid saturating activations, and make sure the LR schedule has not \
         decayed to ~0.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{curve, run_with};

    #[test]
    fn repeated_gradient_spikes_are_exploding() {
        let mut run = run_with(
            curve(1000, |i| 1.5 + 2.6 / (1.0 + i as f64 / 40.0).sqrt()),
            Some(65),
        );
        run.grad_norm = curve(1000, |i| {
            if i % 200 == 150 {
                25.0
            } else {
                0.3 + 0.01 * (i % 7) as f64
            }
        });
        let f = detect(&Ctx::new(&run));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::ExplodingGradients);
        assert_eq!(f[0].severity, Severity::Warning);
    }

    #[test]
    fn a_norm_blown_up_just_before_the_loss_turns_non_finite_is_exploding() {
        // No clipping, SGD at a high LR (PyTorch corpus run s94-058): norms 0.66, 0.54, 0.53,
        // 0.67, 1.16, then 1914 with the loss at 42.6, and NaN from step 7 on. Six finite
        // norms are too few for the spike search; the jump before the NaN says what happened.
        let losses = [4.24, 4.18, 4.06, 3.91, 3.66, 42.6];
        let norms = [0.66, 0.54, 0.53, 0.67, 1.16, 1914.0];
        let blown = |last: f64| {
            let mut run = run_with(
                curve(40, |i| losses.get(i).copied().unwrap_or(f64::NAN)),
                Some(65),
            );
            run.grad_norm = curve(40, |i| match i {
                5 => last,
                _ => norms.get(i).copied().unwrap_or(f64::NAN),
            });
            detect(&Ctx::new(&run))
        };
        let f = blown(1914.0);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::ExplodingGradients);
        assert_eq!(f[0].severity, Severity::Warning);
        assert_eq!(f[0].peak_step, Some(5.0));
        // A norm that only doubled before the NaN names no explosion.
        assert!(blown(2.3).is_empty());
    }

    #[test]
    fn a_gradient_spike_whose_update_the_guard_skipped_is_handled() {
        // rnnlab's default run (README's first command): the norm reads 54× its neighbours once,
        // at step 3841 of 5295, and the guard skipped that update; the loss never moved.
        let mut run = run_with(
            curve(5295, |i| 0.81 + 3.0 / (1.0 + i as f64 / 40.0)),
            Some(47),
        );
        run.grad_norm = curve(5295, |i| if i == 3841 { 10.5 } else { 0.19 });
        let f = detect(&Ctx::new(&run));
        assert_eq!(f[0].severity, Severity::Warning, "{f:?}");
        run.events = vec![crate::Event {
            step: 3841.0,
            kind: "guard_skip".into(),
            detail: String::new(),
        }];
        let f = detect(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Info, "{f:?}");
        assert!(
            f[0].summary.contains("skipped the update at step 3841"),
            "{}",
            f[0].summary
        );
        assert!(f[0].advice.starts_with("Handled"), "{}", f[0].advice);
    }

    #[test]
    fn a_gradient_norm_at_an_absurd_scale_has_exploded_however_short_the_log() {
        // An HF LM run with a gradient filter (issue "Exploding Gradients"): ten logs, the
        // norm 5.7e12 growing ×1.5 a log to 1.4e14 while the loss sits at 11.1-11.4.
        let mut run = run_with(curve(10, |i| 11.3 + 0.1 * ((i % 3) as f64 - 1.0)), None);
        run.grad_norm = curve(10, |i| 5.7e12 * 1.5f64.powi(i as i32));
        let f = detect(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::ExplodingGradients);
        assert_eq!(f[0].severity, Severity::Warning);
        // A norm read before a float16 loss scale is removed (×65536 of ~10) is not this.
        run.grad_norm = curve(10, |i| 6.5e5 + 1e4 * (i % 3) as f64);
        assert!(detect(&Ctx::new(&run)).is_empty());
    }

    #[test]
    fn one_gradient_spike_in_the_early_fall_is_information() {
        // An HF causal-LM fine-tune logged every 100 of 10000 steps (blind batch 91): the
        // loss falls 3.28 → 1.11 → 0.99 → 0.40 and the gradient norm reads 28 (43× its
        // neighbours) once, at step 300, while the loss keeps falling through it.
        let at = |spike: usize| {
            let mut run = run_with(curve(100, |i| 0.2 + 3.0 * (-(i as f64) / 3.0).exp()), None);
            run.grad_norm = curve(100, |i| if i == spike { 28.0 } else { 0.65 });
            detect(&Ctx::new(&run))
        };
        let early = at(3);
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].severity, Severity::Info);
        // The same spike mid-run is a warning.
        assert_eq!(at(50)[0].severity, Severity::Warning);
    }

    #[test]
    fn a_quiet_late_gradient_wobble_of_a_converging_fine_tune_is_information() {
        // A classifier fine-tune logged every 20 steps (blind batch 260): the norm decays
        // 3.2 -> 0.002 as the loss goes 1.36 -> 0.0001, and reads 0.34 once at step 220 (12x
        // its neighbours, 130x the whole run's median) while the loss does not move. Here
        // 0.6 against neighbours near 0.05.
        let mut run = run_with(curve(80, |i| 1e-4 + 1.36 * (-(i as f64) / 2.5).exp()), None);
        run.grad_norm = curve(80, |i| {
            if i == 10 {
                0.6
            } else {
                0.0015 + 3.0 * (-(i as f64) / 2.0).exp() + 0.03 * (-(i as f64) / 20.0).exp()
            }
        });
        let f = detect(&Ctx::new(&run));
        assert!(f.iter().all(|f| f.severity == Severity::Info), "{f:?}");
    }

    #[test]
    fn a_gradient_spike_after_an_lr_jump_blames_the_lr() {
        let mut run = run_with(
            curve(1000, |i| 1.5 + 2.6 / (1.0 + i as f64 / 40.0).sqrt()),
            Some(65),
        );
        run.grad_norm = curve(1000, |i| if i == 501 { 6.0 } else { 0.3 });
        run.lr = curve(1000, |i| if i == 500 { 0.5 } else { 0.002 });
        let f = detect(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary.ends_with(
                "right after a jump of the learning rate from 0.002 to 0.5 (×250) at step 500."
            ),
            "{}",
            f[0].summary
        );
        assert!(
            f[0].advice.starts_with("The learning rate caused this"),
            "{}",
            f[0].advice
        );
        // A second spike far from the jump: the batches are suspects again.
        run.grad_norm[800].value = 6.0;
        let f = detect(&Ctx::new(&run));
        assert!(
            f[0].advice
                .contains("inspect the batches of steps 501, 800"),
            "{}",
            f[0].advice
        );
    }

    #[test]
    fn a_burst_of_a_few_points_far_above_the_typical_norm_is_exploding() {
        // A burst of twenty logged points around 15 with a peak of 240, in a run whose norm
        // is ~3: the burst lifts its own local median to ~15, yet 240 is 80× the run's typical.
        let mut grad = curve(90, |_| 3.0);
        for (k, p) in grad.iter_mut().enumerate().take(50).skip(30) {
            p.value = if k == 40 {
                240.0
            } else {
                12.0 + (k % 4) as f64 * 2.0
            };
        }
        let mut run = run_with(
            curve(90, |i| 2.0 + 2.0 * (-(i as f64) / 20.0).exp()),
            Some(65),
        );
        run.grad_norm = grad;
        let f = exploding(&Ctx::new(&run));
        assert!(
            f.as_ref().is_some_and(|f| f.severity == Severity::Warning),
            "{f:?}"
        );
    }

    #[test]
    fn ordinary_gradient_jitter_is_fine() {
        let mut run = run_with(
            curve(1000, |i| 1.5 + 2.6 / (1.0 + i as f64 / 40.0).sqrt()),
            Some(65),
        );
        run.grad_norm = curve(1000, |i| {
            0.3 * (1.0 + 0.5 * ((i * 7919) % 13) as f64 / 13.0)
        });
        assert!(detect(&Ctx::new(&run)).is_empty());
    }

    #[test]
    fn a_norm_that_grows_all_run_names_what_adds_up_not_batches() {
        // optimizer.zero_grad() dropped: the logged norm climbs smoothly 0.7 → 22, no spike.
        let mut run = run_with(curve(100, |i| 2.0 + (-(i as f64) / 20.0).exp()), None);
        run.grad_norm = curve(100, |i| 0.7 * 1.036f64.powi(i as i32));
        let f = detect(&Ctx::new(&run));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, FindingKind::ExplodingGradients);
        assert!(f[0].advice.contains("zero_grad"), "{}", f[0].advice);
        assert!(!f[0].advice.contains("steps ;"), "{}", f[0].advice);
    }

    #[test]
    fn collapsing_gradients_with_a_flat_loss_are_vanishing() {
        let mut run = run_with(curve(800, |i| 3.0 + 0.01 * ((i % 5) as f64)), None);
        run.grad_norm = curve(800, |i| 0.5 * (-(i as f64) / 60.0).exp());
        let kinds: Vec<_> = detect(&Ctx::new(&run)).iter().map(|f| f.kind).collect();
        assert_eq!(kinds, vec![FindingKind::VanishingGradients]);
    }
}
