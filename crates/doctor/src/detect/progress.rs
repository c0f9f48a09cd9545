//! Is the run still making progress, and is where it stopped acceptable? Progress is measured
//! on the log-step axis over the last two doublings of steps (healthy power-law decay keeps a
//! steady drop per doubling; a stalled run does not), restricted to where the LR is still
//! substantial (annealing to zero legitimately flattens the end). A stalled run is then named
//! by its level: at ln V (not learning), at the unigram entropy (ignores context), between
//! unigram and bigram (underfitting), or elsewhere (stagnation, or oscillation when the noise
//! band is wide).

use serde_json::json;

use crate::detect::band::{band_shape, relative_noise, wide_band_while_improving};
use crate::detect::chance;
use crate::detect::near_start;
use crate::detect::pace::{held_out_still, median_sd, pace_is_visible, start_level, start_points};
use crate::detect::stats::{median, rolling_median};
use crate::detect::trend::{judging_window, trend};
use crate::detect::underfit::{estimated_note, near_bigram, underfitting, Above};
use crate::detect::uniform::{AtUniform, WIDE_NOISE};
use crate::detect::zeros;
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// Slow enough that the run will not pass the bigram level soon.
const SLOW_LOG_PER_DOUBLING: f64 = 0.1;
/// Under this share of the bigram level (known or estimated) a flat loss is converged.
const FAR_PAST_BIGRAM: f64 = 0.7;
/// Fewest points in the judging window for any progress judgement (a stall of a run that
/// never moved); the other judgements need 20.
const MIN_SHORT_WINDOW: usize = 10;
/// Relative noise of a validation curve quiet enough to say the model settled without having
/// seen it fall: a held-out mean over many examples moves under 2 % between evaluations.
const QUIET_VAL: f64 = 0.02;
/// Within this fraction of the data's floor (when known) a flat loss is converged.
pub const AT_FLOOR: f64 = 0.05;
fn skip_because(findings: &[Finding]) -> bool {
    findings.iter().any(|f| {
        (matches!(
            f.kind,
            FindingKind::Leakage | FindingKind::Divergence | FindingKind::InvalidLoss
        ) || zeros::is_memorised(f))
            && f.severity >= Severity::Warning
    })
}

pub fn detect(ctx: &Ctx, earlier: &[Finding]) -> Vec<Finding> {
    if skip_because(earlier) {
        return Vec::new();
    }
    if let Some(f) = chance::stuck_at_chance(ctx).or_else(|| chance::pinned_at_chance(ctx)) {
        return vec![f];
    }
    if ctx.train.len() < MIN_SHORT_WINDOW {
        return Vec::new();
    }
    let Some((mut from, mut to)) = judging_window(ctx) else {
        return Vec::new();
    };
    let mut train = trend(ctx, &ctx.train, from, to);
    // An LR annealed (or cut on a plateau) early leaves too short a window to judge the pace,
    // but not the question whether the run ever left its start: that is asked of the whole run.
    // So does a window whose points cover under a quarter of it (a log with a gap: a
    // fine-tune's first 60 batches, then the last 81 of its second epoch): a slope over a
    // sliver of the axis is noise, not a pace.
    let judged_doublings = ctx.log2_step(to) - ctx.log2_step(from);
    let thin = train.is_none_or(|t| {
        t.points < MIN_SHORT_WINDOW || t.covered_doublings < 0.25 * judged_doublings
    });
    let cut_short = thin && to < ctx.last_step();
    if cut_short {
        (from, to) = (
            ctx.first_step() + 0.25 * (ctx.last_step() - ctx.first_step()),
            ctx.last_step(),
        );
        train = trend(ctx, &ctx.train, from, to);
    } else if thin {
        // A short log whose last two doublings hold few points (epochs 1-5 pasted, then
        // 79-85) is judged whole: whether it ever left its start is still a fair question.
        (from, to) = (ctx.first_step(), ctx.last_step());
        train = trend(ctx, &ctx.train, from, to);
    }
    let Some(mut train) = train else {
        return Vec::new();
    };
    // Under 20 points a slope says little: only a run that never left its start (or ln V)
    // can be called stalled, and nothing else is judged.
    let mut short = train.points < 20 || cut_short;
    // An LR cut early leaves few points before it; a loss as flat after the cut as before
    // it (a frozen model at its best already) is judged on the whole stretch.
    if short && !cut_short && !thin && to < ctx.last_step() {
        if let Some(whole) =
            trend(ctx, &ctx.train, from, ctx.last_step()).filter(|t| t.points >= 20 && t.flat())
        {
            (train, to, short) = (whole, ctx.last_step(), false);
        }
    }
    if train.points < MIN_SHORT_WINDOW {
        return Vec::new();
    }
    let val = trend(ctx, &ctx.val, from, to).filter(|t| t.points >= 4 && !ctx.train_is_val);
    let refs = &ctx.refs;
    // Judge the level on validation when there is one: that is what the data allows.
    let level = val.map_or(train.level, |v| v.level);
    let init = ctx.init_level();
    // Too few evaluations for a trend still say it when each is lower than the last and
    // they fall by 10 % in all: per-batch training noise can hide the progress they show.
    let evals: Vec<f64> = ctx
        .val
        .iter()
        .filter(|p| p.step >= from && p.step <= to)
        .map(|p| p.value)
        .collect();
    let evals_fall = !ctx.train_is_val
        && evals.len() >= 2
        && evals.windows(2).all(|w| w[1] < w[0])
        && evals[evals.len() - 1] < 0.9 * evals[0];
    let val_improving = val.is_some_and(|v| !v.flat()) || evals_fall;
    // A slow late rate alone is not a stall: a long power-law run slows down smoothly. A stall
    // is a rate that collapsed against the run's earlier pace, or a run that never moved.
    let head = (train.to - train.from) * 0.05;
    let level_at_from =
        crate::detect::stats::median_between(&ctx.train, train.from, train.from + head);
    // A window that starts at the first step (a short or gappy log judged whole) has no
    // earlier pace to compare with: not an infinitely fast one that any pace has collapsed from.
    let early_doublings = ctx.log2_step(train.from) - ctx.log2_step(ctx.first_step());
    let early_rate = if early_doublings > 0.0 {
        (init - level_at_from) / early_doublings
    } else {
        f64::NAN
    };
    let start_level = start_level(ctx);
    // The start is a median of a few points: within its own uncertainty of the end level
    // (2.5 sd of that median, from the window's noise) counts as not having moved either.
    let band = relative_noise(&ctx.train, from, to, train.level);
    let start_sd = median_sd(band * train.level.abs(), start_points(ctx));
    let never_moved = pace_is_visible(ctx, start_sd, start_level)
        && start_level - train.level < (0.05 * start_level.abs()).max(2.5 * start_sd);
    // Validation that never left its first evaluations says the same of what the data allows.
    let val_never_moved = val.is_some_and(|v| {
        let first: Vec<f64> = ctx.val.iter().take(3).map(|p| p.value).collect();
        let start = median(&first);
        let sd = median_sd(
            relative_noise(&ctx.val, from, to, v.level) * v.level.abs(),
            3,
        );
        start - v.level < (0.05 * start.abs()).max(2.5 * sd)
    });
    let at_ln_v = refs.ln_vocab.is_some_and(|l| level >= 0.9 * l);
    // A long log (30+ points over the last two doublings) that gains under 1.5 % per doubling
    // in a narrow band has stalled, whatever its start: a per-epoch log hides the first drop
    // inside its first point (0.146, 0.134, then 0.132 → 0.126 over 98 epochs), so the early
    // pace it would be compared with is never seen.
    let window_doublings = ctx.log2_step(train.to) - ctx.log2_step(train.from);
    let long_flat = train.points >= 30
        && window_doublings >= 1.9
        && train.log_rate < 0.015
        && band < 0.5 * WIDE_NOISE;
    let collapsed = train.abs_rate < 0.25 * early_rate || long_flat;
    // In a wide noise band a small fitted slope is not progress unless it stands clear of its
    // own uncertainty (2.5 standard errors).
    let lost_in_band = band >= WIDE_NOISE && train.log_rate < 2.5 * train.log_rate_se;
    // A run that never left its start (or ln V) needs no minimum slope to be stalled: a slope
    // that does not stand clear of its noise is enough.
    let insignificant = train.log_rate < 2.5 * train.log_rate_se;
    let flat = train.flat() || lost_in_band || ((never_moved || at_ln_v) && insignificant);
    // A run at the data's floor (the loss the best models reach on it) has nowhere to go:
    // flat there is converged, not stalled.
    let at_floor = refs
        .floor
        .is_some_and(|f| level <= f + AT_FLOOR * f.abs().max(1.0));
    // Past the bigram level a model uses context and returns diminish: a slow fall that stands
    // clear of its noise, in a narrow band, is a run converging, not a stall ...
    // An estimated bigram level (from ln V alone) is rough: the level must be clearly (10 %) under it.
    let converging_past_bigram = refs
        .bigram
        .is_some_and(|b| level < if b.estimated { 0.9 } else { 1.0 } * b.value)
        && band < WIDE_NOISE
        && train.log_rate > 2.5 * train.log_rate_se
        // ... and validation keeps at least half its pace (a training loss that creeps down
        // while validation stands still is not converging on anything held out).
        && val.is_none_or(|v| v.abs_rate >= 0.5 * train.abs_rate);
    // Far past the bigram level (a char model at 1.5 nats where a lookup table of pairs gets
    // 2.5) a loss that flattened in a narrow band has learned what this model and LR give: a
    // converged run, not a stall (the stall advice, "the LR is too high to settle", asks for
    // a schedule, not a fix).
    // A wider band counts as narrow there when it has the shape of small batches' sampling (a
    // per-token mean over 32 tokens scatters ±9 %): independent, symmetric draws, no bursts.
    // (Read only where it decides: the shape costs a sort of the window.)
    let sampling_band = || {
        refs.ln_vocab.is_some() && {
            let shape = band_shape(&ctx.train, from, to);
            shape.points >= 30 && shape.looks_like_sampling()
        }
    };
    let far_past_bigram = refs
        .bigram
        .is_some_and(|b| level < FAR_PAST_BIGRAM * b.value)
        && !never_moved
        && (band < WIDE_NOISE || sampling_band());
    // With no reference level, a loss still falling 3 % or more per doubling over a doubling
    // or more, in a narrow band and far clear of its noise, is converging however slow that
    // looks beside its first drop (MAE pre-training: 0.244 → 0.223 over epochs 115-634).
    let converging_steadily = refs.bigram.is_none()
        && band < 0.5 * WIDE_NOISE
        && train.log_rate >= 0.03
        && window_doublings >= 1.0
        && train.log_rate > 4.0 * train.log_rate_se
        && val.is_none_or(|v| !v.flat());
    let stalled = !far_past_bigram
        && !converging_steadily
        && flat
        && (if short {
            (never_moved || val_never_moved || at_ln_v) && (insignificant || train.flat())
        } else {
            collapsed || never_moved || at_ln_v
        })
        && !val_improving
        && level > 0.05
        && !at_floor
        && !converging_past_bigram;
    let evidence = |extra: serde_json::Value| {
        let mut e = json!({
            "window_start": train.from,
            "window_end": train.to,
            "drop_per_doubling": train.abs_rate,
            "log_drop_per_doubling": train.log_rate,
            "level": level,
            "train_level": train.level,
            "val_level": val.map(|v| v.level),
            "val_drop_per_doubling": val.map(|v| v.abs_rate),
            "initial_loss": init,
            "early_drop_per_doubling": early_rate,
            "ln_vocab": refs.ln_vocab,
            "unigram": refs.unigram.map(|r| r.value),
            "unigram_estimated": refs.unigram.map(|r| r.estimated),
            "bigram": refs.bigram.map(|r| r.value),
            "bigram_estimated": refs.bigram.map(|r| r.estimated),
            "lr_at_end": ctx.lr_at(to),
        });
        if let (Some(m), serde_json::Value::Object(x)) = (e.as_object_mut(), extra) {
            m.extend(x);
        }
        e
    };
    let rate_text = format!(
        "{} nats per doubling of steps over steps {}–{}",
        num(train.abs_rate.max(0.0)),
        step_str(from),
        step_str(to)
    );
    let lr_text = ctx.lr_at(to).map_or(String::new(), |l| {
        format!(" with the LR still at {}", num(l))
    });
    let at_uniform = |ln_vocab: f64, onset: f64| AtUniform {
        ctx,
        ln_vocab,
        level,
        train_level: train.level,
        band,
        rising: train.rising(),
        onset,
        to,
        rate_text: &rate_text,
        lr_text: &lr_text,
        evidence: evidence(json!({})),
    };
    if !stalled && short {
        return Vec::new();
    }
    if !stalled {
        if let Some(f) = wide_band_while_improving(ctx, band, &train, val, &rate_text) {
            return vec![f];
        }
        // Still moving: only underfitting can be said, when it moves too slowly above the bigram
        // level — or above the unigram level, where it has not even learned token frequencies.
        let Some(bigram) = refs.bigram else {
            return near_start::still_near_a_fresh_start(ctx, level, &rate_text)
                .into_iter()
                .collect();
        };
        // A run that ends above the unigram level has not learned what token frequencies
        // alone give, however fast it still falls: it stopped far too early.
        // Underfitting is a model that cannot fit what it trains on: a training loss already
        // past the reference while validation stays above it is a generalisation gap instead.
        let level = level.min(train.level);
        let above_unigram = refs.unigram.is_some_and(|u| level > u.value);
        // Slow, and far enough above the bigram level that this pace takes more than one and a
        // half doublings of the run to reach it: a decaying power law slows as it goes, so a
        // level much further off is not reached by training on (a 4-unit RNN 1.7 doublings
        // off at 7 % per doubling stays above it; 32-unit ones 0.7-1.1 off pass it).
        let doublings_to_bigram = (level / bigram.value).ln() / train.log_rate.max(1e-9);
        let slow = train.log_rate < SLOW_LOG_PER_DOUBLING && doublings_to_bigram > 1.5;
        if !(slow || above_unigram) || level <= near_bigram(bigram.value, refs.unigram) {
            return Vec::new();
        }
        // Blown far above a uniform guess's loss early and still above it: the LR, not the
        // model's size.
        if let Some(f) = refs
            .ln_vocab
            .and_then(|l| at_uniform(l, from).blown_up_and_recovering())
        {
            return vec![f];
        }
        // Still at (or above) a uniform guess's loss: barely learning at all.
        if let Some(l) = refs.ln_vocab.filter(|_| at_ln_v && slow) {
            return at_uniform(l, ctx.first_step()).judge(false);
        }
        let reference = match refs.unigram {
            Some(u) if level > u.value => Above::Unigram(u),
            // Just under it a run may be leaving it: too close to call, unless it barely moves
            // and the level is only estimated (0.64-0.83 ln V on real text): then it has not
            // clearly left it.
            Some(u) if level >= 0.95 * u.value && !(slow && u.estimated) => return Vec::new(),
            _ => Above::Bigram(bigram),
        };
        return vec![underfitting(
            ctx,
            level,
            reference,
            &rate_text,
            slow,
            evidence(json!({})),
        )];
    }
    // A level first reached after the judged window (validation's, under a step decay that
    // comes after it) gives no onset inside it: the stall spans the window then.
    let onset = Some(plateau_onset(ctx, level.min(train.level), init))
        .filter(|&s| s <= to)
        .unwrap_or(from);
    let lnv = refs.ln_vocab;
    let near = |r: f64| (level - r).abs() <= (0.1 * r).max(0.15);
    let band_finding = |from: f64| {
        finding(
            FindingKind::Oscillation,
            Severity::Warning,
            Span::range(from, to),
            format!(
                "Loss swings in a wide band (robust sd {:.0}% of the level {}) without progress from step {} \
                 to {}{lr_text}{} ({rate_text}).",
                100.0 * band,
                num(level),
                step_str(from),
                step_str(to),
                val.map_or(String::new(), |v| format!(", validation at {}", num(v.level)))
            ),
            evidence(json!({ "onset_step": from, "relative_noise": band })),
            "Lower the learning rate ×0.3 or raise the batch size ×4 (or accumulate gradients); decay the LR \
             once the loss stops falling.",
        )
    };
    if let Some(l) = lnv.filter(|l| level >= 0.9 * l) {
        return at_uniform(l, onset).judge(true);
    }
    // Near the unigram level, estimated or known, by the same ±10 %: under it the model uses
    // some context (underfitting, below); the ln V stall above took what is near ln V.
    let at_unigram = refs.unigram.is_some_and(|u| near(u.value));
    // Stuck at a reference level inside a wide band: the band is its own finding (the LR or
    // the batch is off), whatever the level says about the model.
    let band_too = |mut out: Vec<Finding>| {
        if band >= WIDE_NOISE {
            out.insert(0, band_finding(onset));
        }
        out
    };
    if let Some(u) = refs.unigram.filter(|_| at_unigram) {
        // An estimate from ln V alone is rough (real text lies ±10 % around it): near it the
        // run has stalled, but whether at the unigram level only the data's own entropy can
        // say. On the estimate itself (within 1.5 %) the typical text it stands for says it.
        let off_the_estimate = (level - u.value).abs() > 0.015 * u.value;
        let checks = "that the inputs reach the model (not zeroed, not all padding), that the \
                      recurrent state is carried (not reset every step), and that inputs and targets \
                      are aligned by one position.";
        let (kind, severity, near, reading, advice) = if u.estimated && off_the_estimate {
            (
                FindingKind::Stagnation,
                Severity::Warning,
                "near ",
                "if that is your data's unigram entropy, the model predicts character/token \
                 frequencies and ignores the context",
                format!(
                    "Measure the data's unigram entropy (--corpus with the training text); if the \
                     loss sits at it, check {checks}"
                ),
            )
        } else {
            (
                FindingKind::UnigramPlateau,
                Severity::Error,
                "",
                "the model predicts character/token frequencies and ignores the context",
                format!("Check {checks}"),
            )
        };
        return band_too(vec![finding(
            kind,
            severity,
            Span::range(onset, to),
            format!(
                "Loss is stuck at {} from step {}, {near}the unigram entropy{} {}: {reading} ({rate_text}).",
                num(level),
                step_str(onset),
                estimated_note(refs.unigram, refs.ln_vocab),
                num(u.value)
            ),
            evidence(json!({ "onset_step": onset })),
            &advice,
        )]);
    }
    if let Some(b) = refs
        .bigram
        .filter(|b| level > near_bigram(b.value, refs.unigram))
    {
        return band_too(vec![underfitting(
            ctx,
            level,
            Above::Bigram(b),
            &rate_text,
            true,
            evidence(json!({ "onset_step": onset })),
        )]);
    }
    let noise = band;
    // Without a vocabulary the batch noise of the loss is unknown (a classifier's per-batch
    // loss at batch 8 scatters ±20 %): validation that sits quiet at its best says the model
    // has converged, and the training band is sampling, not an optimizer bouncing.
    let blown_start = earlier.iter().any(|f| f.kind == FindingKind::InitLossOff);
    let settled_val = refs.ln_vocab.is_none()
        && val.is_some_and(|v| {
            let best = ctx
                .val
                .iter()
                .map(|p| p.value)
                .fold(f64::INFINITY, f64::min);
            let val_noise = relative_noise(&ctx.val, from, to, v.level);
            v.points >= 5
                && !v.rising()
                && val_noise < 0.5 * WIDE_NOISE
                && v.level <= 1.05 * best
                // ... after it fell well below where it started (not a model stuck there), or a
                // tenth below it while neither curve stayed at its start (a first evaluation a
                // tenth high, above the next ones, is no fall), or, quieter still, after training
                // fell so before the first evaluation. A first loss far off is a blow-up, not a
                // start.
                && (v.level < 0.7 * ctx.val[0].value
                    || (v.level < 0.9 * ctx.val[0].value && !never_moved && !val_never_moved)
                    || (!blown_start && v.level < 0.7 * init && val_noise < QUIET_VAL))
        });
    if settled_val || (refs.ln_vocab.is_none() && last_evals_settled(ctx, init, train.level)) {
        return Vec::new();
    }
    // With no vocabulary and no validation, a band after a real drop (a fifth of the start or
    // more) cannot be told from the scatter of small batches' losses (a LoRA notebook at
    // batch 2 scatters ±10-25 % around its plateau): said as information, and the verdict is
    // inconclusive (see `band::unexplained_band`).
    let shape = band_shape(&ctx.train, onset, to);
    let unexplained = refs.ln_vocab.is_none()
        && ctx.val.is_empty()
        && init - level > 0.2 * init.abs()
        && noise >= WIDE_NOISE
        && (noise < 0.3 || (shape.looks_like_sampling() && shape.points >= 40));
    if unexplained {
        let mut f = band_finding(onset);
        f.severity = Severity::Info;
        // ... unless its shape tells: independent, symmetric draws are the batches' scatter
        // around a converged level (task runs: classifiers at their label-noise floor, MSE
        // regressions at batch 32), where an optimizer bouncing bursts upward or persists.
        if shape.looks_like_sampling() {
            f.summary = format!(
                "after its drop the loss scatters ±{:.0}% around {} from step {} to {} as \
                 independent, symmetric draws (no bursts upward, no run of high or low points): \
                 the scatter of small batches around a converged level, not steps too large",
                100.0 * band,
                num(level),
                step_str(onset),
                step_str(to)
            );
            f.evidence.insert("sampling".into(), json!(true));
            f.evidence
                .insert("upward_skew".into(), json!(shape.upward_skew));
            f.evidence
                .insert("lag1_autocorrelation".into(), json!(shape.lag1));
        } else {
            f.evidence.insert("unexplained".into(), json!(true));
        }
        return vec![f];
    }
    let oscillating = noise >= WIDE_NOISE;
    let fast_drop = init.is_finite() && init - level > 0.3 * init.abs();
    let span = Span::range(onset, to);
    let stall = |what: &str, advice: &str| {
        finding(
            FindingKind::Stagnation,
            Severity::Warning,
            span,
            format!(
                "Loss {what}: level {} from step {} to {}{lr_text} ({rate_text}).",
                num(level),
                step_str(onset),
                step_str(to),
            ),
            evidence(json!({ "onset_step": onset, "relative_noise": noise })),
            advice,
        )
    };
    // With no reference level, a pace that collapsed after a fall is how a run converges as
    // much as how it stalls (a fine-tune settling after its first drop, an autoencoder's L1
    // easing 0.0749 -> 0.0739 over 30 epochs, an ELBO flattening at 700): only a run that never
    // left its start, or a long flat band, says stall there.
    // Validation that never left its first evaluations grounds it too.
    let pace_only = refs.bigram.is_none()
        && !(never_moved || val_never_moved || at_ln_v || long_flat || held_out_still(ctx));
    if pace_only {
        // The band, where there is one, is still its own finding: the LR or the batch is off.
        return if oscillating {
            vec![band_finding(onset)]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    if oscillating {
        // A wide band and no progress are two findings: the band says the LR or the batch is
        // off, the stall says the time is wasted.
        out.push(band_finding(onset));
        out.push(stall(
            "makes no progress inside that band",
            "The run is spending its steps in the band: decay the learning rate (cosine or step decay) from \
             the plateau onset, or stop and restart at a lower LR.",
        ));
    } else if fast_drop && lr_cut_during(ctx, onset, to) {
        // The LR was already cut on the plateau and the loss did not answer: not an LR too
        // high to settle, but a model at what it can reach.
    } else if fast_drop
        && refs.ln_vocab.is_none()
        && evals.len() >= 4
        && evals.windows(2).all(|w| w[1] < w[0])
    {
        // With no reference level, four or more evaluations over the flat stretch, each lower
        // than the last (1 in 24 by chance), say the model still learns what is held out: a
        // fine-tune past its fast first drop, not an LR too high to settle.
    } else if fast_drop {
        out.push(stall(
            "stops improving after a fast early drop",
            "The learning rate is likely too high to settle: lower it ×0.3, or decay it (cosine or step decay) \
             from the plateau onset; compare validation against a run at the lower rate.",
        ));
    } else if never_moved || val_never_moved || at_ln_v {
        out.push(stall(
            "barely moves from where it started",
            "Raise the learning rate ×10 or check that gradients reach the parameters (optimizer.step() runs, no \
             frozen layers, no detached graph); check that batches change from step to step.",
        ));
    } else {
        // It fell (a tenth to a third of its start), then its pace collapsed: neither a run
        // that never left its start nor the fast drop of an LR too high to settle.
        let what = format!(
            "stops improving after falling from {} to {}",
            num(init),
            num(level)
        );
        out.push(stall(
            &what,
            "Decay the learning rate from the plateau onset (cosine or step decay) if it is still at its peak; if \
             validation has stopped improving too, the model has learned what it can from this data at this size: \
             stop here, or add capacity or data.",
        ));
    }
    out
}

/// Too few evaluations for a validation trend can still show a model that converged: the last
/// three within [`QUIET_VAL`] of each other and at the best of all, after validation fell 5 %
/// from its first evaluation and training a fifth from its start (a classifier at batch 16:
/// validation 0.864, 0.793, 0.787, 0.786, 0.786 while its batch losses scatter ±22 %). A
/// model stuck at its start (a BCE classifier at its label prior) moves neither curve.
fn last_evals_settled(ctx: &Ctx, init: f64, train_level: f64) -> bool {
    let v: Vec<f64> = ctx.val.iter().map(|p| p.value).collect();
    if ctx.train_is_val || v.len() < 4 || init - train_level <= 0.2 * init.abs() {
        return false;
    }
    let last = v[v.len() - 1];
    let tail = &v[v.len() - 3..];
    let (lo, hi) = tail
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let best = v.iter().copied().fold(f64::INFINITY, f64::min);
    lo > 0.0
        && hi - lo < QUIET_VAL * lo
        && last <= (1.0 + 0.5 * QUIET_VAL) * best
        && v[0] >= 1.05 * last
}

/// Whether a step-decay cut of the LR falls inside `[from, to]`.
fn lr_cut_during(ctx: &Ctx, from: f64, to: f64) -> bool {
    ctx.lr_drops.iter().any(|&d| d > from && d <= to)
}

/// First step at which the level came within reach of where it ended.
fn plateau_onset(ctx: &Ctx, final_level: f64, init: f64) -> f64 {
    let b = &ctx.bins;
    let level = rolling_median(&b.value, 2);
    let reach = (3.0 * ctx.bin_noise)
        .max(0.05 * (init - final_level).abs())
        .max(0.01 * final_level.abs())
        .max(1e-9);
    level
        .iter()
        .position(|&v| v <= final_level + reach)
        .map_or(ctx.first_step(), |i| b.step[i])
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "progress_short_tests.rs"]
mod short_tests;

#[cfg(test)]
#[path = "progress_schedule_tests.rs"]
mod schedule_tests;

#[cfg(test)]
#[path = "progress_refs_tests.rs"]
mod refs_tests;

#[cfg(test)]
#[path = "progress_val_tests.rs"]
mod val_tests;
