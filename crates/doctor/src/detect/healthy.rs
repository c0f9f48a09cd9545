//! Why a run looks healthy, in sentences with numbers: where it started against ln V, when it
//! passed the unigram and bigram levels, whether it still improves on the log-step axis, whether
//! the noise band is stable, and whether validation tracks training.

use crate::detect::band::{noise_band, NoiseBand};
use crate::detect::stats::rolling_median;
use crate::detect::trend::{judging_window, trend};
use crate::detect::{num, step_str, Ctx};

/// Fewest training points a healthy verdict needs: below this a trend cannot be told from
/// noise, and one bad value cannot be told from a real change.
pub const MIN_POINTS_FOR_HEALTHY: usize = 10;

/// Why the evidence is too thin to call a problem-free run healthy, and what would settle
/// it; `None` when there is enough.
pub fn too_thin(ctx: &Ctx) -> Option<Vec<String>> {
    let n = ctx.train.len();
    // A window from late in a run (steps 12250–12291) is judged on what it shows: a flat,
    // steady stretch is what a healthy run looks like there. Its pace is left unjudged, and the
    // reasons say so.
    if n >= MIN_POINTS_FOR_HEALTHY {
        return None;
    }
    // An epoch-level log (Keras, Lightning's `*_epoch`) that evaluates at every point: each
    // value is a mean over a whole epoch, and validation checks the training curve point by
    // point. Half the points each, with both curves, carry as much as ten single batches.
    let paired = !ctx.train_is_val
        && ctx.val.len() >= MIN_POINTS_FOR_HEALTHY / 2
        && n >= MIN_POINTS_FOR_HEALTHY / 2;
    if paired || falls_every_step(ctx).is_some() {
        return None;
    }
    let what = if ctx.train_is_val {
        "validation"
    } else {
        "training"
    };
    Some(vec![
        format!("only {n} finite {what} loss values: too few to judge a trend or its noise"),
        format!(
            "share at least {MIN_POINTS_FOR_HEALTHY} (better 50+) logged values, from the start of \
             the run, with validation losses if there are any"
        ),
    ])
}

/// Fewest points of a short log that falls at every step to be called healthy (the issue's
/// six pasted console lines).
const MIN_FALLING_POINTS: usize = 6;

/// A short log (6-9 points) that falls as a run that learns does: every training value lower
/// than the one before, by 5 % or more in all, or values in falling order (Kendall's tau
/// ≤ −0.7: a bump or two in nine, odds of 1 in 300 for a flat log's noise) by 2 % or more,
/// each bump under 2 % (a larger one may be a spike that so few points cannot place). The one
/// thing so few points can show. A sentence saying so, or `None`.
fn falls_every_step(ctx: &Ctx) -> Option<String> {
    let t = &ctx.train;
    let n = t.len();
    if !(MIN_FALLING_POINTS..MIN_POINTS_FOR_HEALTHY).contains(&n) || ctx.train_is_val {
        return None;
    }
    let (first, last) = (t[0].value, t[n - 1].value);
    if first <= 0.0 {
        return None;
    }
    let fall = 100.0 * (1.0 - last / first);
    let every = t.windows(2).all(|w| w[1].value < w[0].value);
    let values: Vec<f64> = t.iter().map(|p| p.value).collect();
    let small_bumps = t.windows(2).all(|w| w[1].value <= 1.02 * w[0].value);
    let in_order = small_bumps && crate::detect::stats::order_agreement(&values) <= -0.7;
    let how = if every && fall >= 5.0 {
        format!("each of its {n} values is lower than the one before")
    } else if in_order && fall >= 2.0 {
        format!("its {n} values fall in order, small bumps aside")
    } else {
        return None;
    };
    Some(format!(
        "{how} ({} → {}, −{fall:.0}%): learning, though {n} points cannot show its pace or noise",
        num(first),
        num(last),
    ))
}

pub fn reasons(ctx: &Ctx) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(why) = falls_every_step(ctx) {
        out.push(why);
    }
    let pace_hidden = crate::detect::pace::pace_hidden(ctx);
    if let Some(why) = &pace_hidden {
        out.push(format!(
            "nothing wrong in this window of the run, and steady; but its pace is not judged: {why} \
             (share the run from its start for that)"
        ));
    }
    let init = ctx.init_level();
    let refs = &ctx.refs;
    let first = ctx.first_step();
    if let Some(l) = refs.ln_vocab {
        if first <= 10.0_f64.max(0.02 * ctx.last_step()) && (init - l).abs() <= 0.2 * l {
            out.push(format!("loss at init {} ≈ ln V = {}", num(init), num(l)));
        }
    }
    let level = rolling_median(&ctx.bins.value, 2);
    if let (Some(f), Some(&end)) = (refs.floor, level.last()) {
        let within = crate::detect::progress::AT_FLOOR * f.abs().max(1.0);
        if end <= f + within {
            out.push(format!(
                "converged: the loss ends at {}, within {} of the data's floor {}",
                num(end),
                num((end - f).max(0.0)),
                num(f)
            ));
        }
    }
    for (name, r) in [("unigram", refs.unigram), ("bigram", refs.bigram)] {
        let Some(r) = r else { continue };
        if let Some(i) = level.iter().position(|&v| v < r.value) {
            out.push(format!(
                "fell below the {name} level {}{} by step {}",
                num(r.value),
                if r.estimated {
                    " (estimated from ln V)"
                } else {
                    ""
                },
                step_str(ctx.bins.step[i])
            ));
        }
    }
    if let Some(t) = judging_window(ctx).and_then(|(a, b)| trend(ctx, &ctx.train, a, b)) {
        if !t.flat() && pace_hidden.is_none() {
            // A loss falling through decades (a grokking run at 1e-5) falls in ratio while its
            // fitted slope in nats can come out as a rise: say the ratio then.
            let pace = if t.abs_rate > 0.0 && t.in_nats {
                format!("−{} nats", num(t.abs_rate))
            } else if t.abs_rate > 0.0 {
                // Not a cross-entropy: its units are the loss's own.
                format!("−{}", num(t.abs_rate))
            } else {
                format!("{:.0}% lower", 100.0 * (1.0 - (-t.log_rate).exp()))
            };
            out.push(format!(
                "still improving on the log-step axis: {pace} per doubling of steps over steps {}–{}",
                step_str(t.from),
                step_str(t.to)
            ));
        }
    }
    if let (Some(max), Some(end)) = (ctx.lr_max, ctx.lr.last()) {
        if end.value < 0.25 * max {
            out.push(format!(
                "the learning rate anneals from {} to {}, so the flattening at the end is expected",
                num(max),
                num(end.value)
            ));
        }
    }
    if !ctx.lr_restarts.is_empty() {
        let steps: Vec<String> = ctx
            .lr_restarts
            .iter()
            .take(6)
            .map(|&s| step_str(s))
            .collect();
        out.push(format!(
            "the LR log shows warm restarts at steps {}{}, which explain the bumps after them",
            steps.join(", "),
            if ctx.lr_restarts.len() > 6 {
                ", …"
            } else {
                ""
            }
        ));
    }
    if let Some(NoiseBand { early, late, .. }) = noise_band(ctx) {
        if late <= 2.0 * early {
            out.push(format!(
                "noise band stable: relative spread {:.1}% early, {:.1}% late",
                100.0 * early,
                100.0 * late
            ));
        }
    }
    if ctx.val.len() >= 3 && !ctx.train_is_val {
        let v = ctx.val[ctx.val.len() - 1];
        let t = crate::detect::stats::median_between(
            &ctx.train,
            v.step - 0.02 * ctx.last_step(),
            v.step,
        );
        // A validation loss twice the training loss or more is a generalisation gap, even
        // when it does not rise: it does not "track" training, and the reason says so.
        let how = if t > 0.0 && v.value >= 2.0 * t {
            "validation not rising, though far above training"
        } else {
            "validation tracking training"
        };
        if t.is_finite() {
            out.push(format!(
                "{how}: {} vs {} at step {} (gap {:+})",
                num(v.value),
                num(t),
                step_str(v.step),
                num(v.value - t)
            ));
        }
    }
    if out.is_empty() {
        out.push(nothing_positive(ctx));
    }
    out
}

/// The reason when nothing positive can be said: no detector found a problem, but the loss
/// does not clearly fall over its last doublings and nothing grounds its level. The verdict
/// stands on the absence of problems, and the reason says so instead of saying nothing.
fn nothing_positive(ctx: &Ctx) -> String {
    let t = &ctx.train;
    let level = |points: &[crate::Point]| {
        crate::detect::stats::median(&points.iter().map(|p| p.value).collect::<Vec<_>>())
    };
    let k = 3.min(t.len());
    format!(
        "no problem found in {} training losses over steps {}–{} ({} at the start, {} at the end); \
         but nothing shows progress either: the loss is not clearly falling over its last \
         doublings of steps, and {}",
        t.len(),
        step_str(ctx.first_step()),
        step_str(ctx.last_step()),
        num(level(&t[..k])),
        num(level(&t[t.len() - k..])),
        if ctx.refs.ln_vocab.is_none() && ctx.val.is_empty() {
            "with no vocabulary size and no validation losses nothing says whether that level is \
             where this run should be (pass --vocab-size, or share validation losses)"
        } else {
            "the levels known do not settle whether it is where this run should be"
        }
    )
}

#[cfg(test)]
mod tests {
    use crate::detect::test_support::{run_with, spaced};

    #[test]
    fn a_loss_falling_through_decades_quotes_its_pace_as_a_ratio() {
        // A grokking run's training loss, 4.75 down to 2e-7 then one point at 1.1e-4: its
        // fitted slope in nats came out as a rise and the reason read "−-6.858e-6 nats".
        let values = [
            4.75, 1.12, 0.0172, 0.00578, 0.00188, 6.3e-4, 2.13e-4, 7.32e-5, 2.55e-5, 9.1e-6,
            3.41e-6, 1.42e-6, 7.15e-7, 4.69e-7, 3.64e-7, 3.28e-7, 3.2e-7, 3.15e-7, 3.12e-7,
            3.09e-7, 3.07e-7, 3.04e-7, 3.01e-7, 2.97e-7, 2.91e-7, 2.88e-7, 2.83e-7, 2.76e-7,
            2.72e-7, 2.66e-7, 2.62e-7, 2.57e-7, 2.49e-7, 2.37e-7, 2.27e-7, 2.19e-7, 2.07e-7,
            1.87e-7, 2.05e-7, 1.1e-4,
        ];
        let d = crate::diagnose(&run_with(spaced(&values, 0.0, 100.0), None));
        let pace: Vec<&String> = d
            .reasons
            .iter()
            .filter(|r| r.contains("per doubling"))
            .collect();
        assert!(pace.iter().all(|r| !r.contains("−-")), "{pace:?}");
    }

    #[test]
    fn a_healthy_verdict_always_gives_a_reason() {
        // A CTC recogniser's loss after its fast drop, 14 points with no validation and no
        // vocabulary: no detector fires, and the verdict used to come with no reason at all.
        let values = [
            103.2, 103.1, 102.7, 63.1, 29.1, 28.8, 28.5, 28.4, 28.3, 25.3, 25.2, 25.3, 25.6, 25.5,
        ];
        let steps = [
            10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 1100.0, 1110.0, 1120.0, 1130.0,
            1140.0,
        ];
        let loss = steps
            .iter()
            .zip(values)
            .map(|(&step, value)| crate::Point { step, value })
            .collect();
        let d = crate::diagnose(&run_with(loss, None));
        assert_eq!(
            d.verdict,
            crate::report::Verdict::Healthy,
            "{:?}",
            d.findings
        );
        assert_eq!(d.reasons.len(), 1, "{:?}", d.reasons);
        assert!(
            d.reasons[0].contains("no problem found in 14 training losses")
                && d.reasons[0].contains("--vocab-size"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    // A pasted loss of -0.3927 is data, not an approximation of π/8.
    #[allow(clippy::approx_constant)]
    fn a_negative_loss_that_falls_is_still_improving() {
        // A Keras U-Net's −dice_coef over ten epochs (a published issue thread): it has no
        // logarithm, and its pace read as flat ("nothing shows progress either").
        let values = [
            -0.0853, -0.2196, -0.245, -0.2607, -0.3141, -0.3927, -0.4538, -0.4979, -0.5239, -0.5417,
        ];
        let d = crate::diagnose(&run_with(spaced(&values, 1.0, 1.0), None));
        assert_eq!(
            d.verdict,
            crate::report::Verdict::Healthy,
            "{:?}",
            d.findings
        );
        assert!(
            d.reasons.iter().any(|r| r.contains("still improving")),
            "{:?}",
            d.reasons
        );
        assert!(
            d.reasons.iter().all(|r| !r.contains("nats")),
            "{:?}",
            d.reasons
        );
    }
}
