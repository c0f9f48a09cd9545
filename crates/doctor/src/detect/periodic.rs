//! Patterns that repeat every epoch. The common one in multi-epoch fine-tuning is a staircase:
//! flat within an epoch, a sudden drop at each epoch boundary (the model memorises examples it
//! has seen). Drops are found as outliers of the short-window level change on the binned curve,
//! then kept only if they fall on a regular grid (the known steps per epoch, or one estimated
//! from the drops) and the LR log does not explain them (step-decay schedules drop the loss too).

use serde_json::json;

use crate::detect::stats::{median, robust_sd, Bins};
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

const HALF: usize = 3;
/// The shortest period searched for, in logged points: a hidden-state bug that resets the
/// state every 8 steps is as periodic as an epoch.
const MIN_PERIOD: usize = 5;
const DROP_Z: f64 = 5.0;

pub fn detect(ctx: &Ctx) -> Vec<Finding> {
    staircase(ctx)
        .or_else(|| epoch_pattern(ctx))
        .or_else(|| boundary_drops(ctx))
        .or_else(|| boundary_levels(ctx))
        .into_iter()
        .collect()
}

/// A staircase logged many times an epoch but too noisily for [`staircase`]'s drops (a
/// classifier fine-tuned for five epochs, its loss logged batch by batch: ±20 % noise, a drop
/// of a third at each boundary). With the epoch length known, the level over the fifth of an
/// epoch after each boundary is set against the level over the fifth before it, and the same
/// change measured in the middle of that epoch is the control: on a smooth decline the two are
/// alike; on a staircase every boundary change is a drop and its mid-epoch control is not.
/// Levels are medians (a hard batch in a fixed order does not move them) of the log of the
/// loss: a memorised epoch cuts the loss by a factor, so the later drops are small in nats and
/// not in ratio. Three boundaries or more, every one a drop of 5 % or more beyond its control,
/// and the mean beyond four standard errors of the window medians' noise.
fn boundary_levels(ctx: &Ctx) -> Option<Finding> {
    const MIN_BOUNDARIES: usize = 3;
    let p = ctx.run.steps_per_epoch.filter(|p| *p > 0.0)?;
    let t = &ctx.train;
    if ctx.restarts_explain(p) || t.iter().any(|q| q.value <= 0.0) {
        return None;
    }
    let interval = crate::detect::stats::logging_interval(t);
    let width = 0.2 * p;
    let per_window = width / interval;
    if per_window < 5.0 {
        return None;
    }
    let logs: Vec<crate::Point> = t
        .iter()
        .map(|q| crate::Point {
            step: q.step,
            value: q.value.ln(),
        })
        .collect();
    let level =
        |from: f64, to: f64| crate::detect::stats::median_between(&logs, from, to - 0.5 * interval);
    let change_at = |b: f64| level(b, b + width) - level(b - width, b);
    let (first, last) = (ctx.first_step(), ctx.last_step());
    let pairs: Vec<(f64, f64, f64)> = (1..)
        .map(|j| j as f64 * p)
        .take_while(|&b| b + width <= last)
        .filter(|&b| b - 0.5 * p - width >= first)
        .map(|b| (b, change_at(b), change_at(b - 0.5 * p)))
        .filter(|(_, at, mid)| at.is_finite() && mid.is_finite())
        .collect();
    if pairs.len() < MIN_BOUNDARIES {
        return None;
    }
    let tol = 0.1 * p;
    if pairs
        .iter()
        .any(|(b, _, _)| ctx.lr_drops.iter().any(|&d| (d - b).abs() <= tol))
    {
        return None; // a schedule that cuts the LR at the boundaries
    }
    // The noise of one logged point around its neighbours (successive differences over √2),
    // then of a window's median (≈ 1.25 σ / √k) and of a change minus its control (four
    // medians).
    let diffs: Vec<f64> = logs.windows(2).map(|w| w[1].value - w[0].value).collect();
    let sigma = robust_sd(&diffs) / std::f64::consts::SQRT_2;
    let se_one = 2.0 * 1.25 * sigma / per_window.sqrt();
    let beyond: Vec<f64> = pairs.iter().map(|(_, at, mid)| mid - at).collect();
    let mean_beyond = mean(&beyond);
    let every_one = beyond.iter().all(|&d| d >= 0.05);
    if !every_one || mean_beyond < 4.0 * se_one / (pairs.len() as f64).sqrt() {
        return None;
    }
    let mean_drop = 1.0 - (mean(&pairs.iter().map(|x| x.1).collect::<Vec<_>>())).exp();
    let steps: Vec<String> = pairs.iter().take(8).map(|x| step_str(x.0)).collect();
    Some(finding(
        FindingKind::Periodic,
        Severity::Warning,
        Span::range(pairs[0].0, pairs[pairs.len() - 1].0),
        format!(
            "Loss drops at every epoch boundary (every {} steps; at steps {}): the level over the \
             fifth of an epoch after each is {:.0}% under the fifth before it on average, while the \
             same stretch in mid-epoch moves {:.0}% — each pass over the data is memorised.",
            step_str(p.round()),
            steps.join(", "),
            100.0 * mean_drop,
            100.0 * (1.0 - mean(&pairs.iter().map(|x| x.2).collect::<Vec<_>>()).exp()).abs()
        ),
        json!({
            "steps_per_epoch": p,
            "boundaries": pairs.len(),
            "log_change_at_boundaries": pairs.iter().map(|x| x.1).collect::<Vec<_>>(),
            "log_change_mid_epoch": pairs.iter().map(|x| x.2).collect::<Vec<_>>(),
            "standard_error": se_one,
        }),
        "The model memorises the training set epoch by epoch: hold out a validation split and watch \
         it, train fewer epochs (1–3 for fine-tuning), deduplicate the data, and shuffle every epoch.",
    ))
}

/// A staircase logged only a few times per epoch (a fine-tune logging every 500 steps of a
/// 1559-step epoch) has too few points per step for [`staircase`]'s drops. Compared pair by
/// pair instead: on a smooth decline the change between two consecutive logs does not care
/// whether an epoch boundary lies between them; on a staircase the changes across a boundary
/// are the drops and those within an epoch are flat. Needs the epoch length and at least four
/// boundaries crossed (Welch's t of the two groups' mean change ≥ 4, medians agreeing).
///
/// Data in a fixed order pairs the same two batches across every boundary, and each position
/// in the epoch has a change of its own that repeats epoch after epoch: the t-test alone would
/// find that pair. So where enough positions in the epoch are logged twice or more, the
/// boundary must also stand out among them ([`BOUNDARY_Z`] robust sd of the positions' mean
/// changes): memorisation makes the boundary special, batch order makes every position so.
fn boundary_drops(ctx: &Ctx) -> Option<Finding> {
    let p = ctx.run.steps_per_epoch.filter(|p| *p > 0.0)?;
    let t = &ctx.train;
    if t.len() < 20 || ctx.restarts_explain(p) {
        return None;
    }
    let interval = crate::detect::stats::logging_interval(t);
    let (mut across, mut within) = (Vec::new(), Vec::new());
    // Mean change per position in the epoch (by the later point's offset, one logging interval
    // per position).
    let mut by_position: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for w in t.windows(2) {
        let change = w[1].value - w[0].value;
        if (w[1].step / p).floor() > (w[0].step / p).floor() {
            across.push(change);
        } else {
            within.push(change);
            let position = ((w[1].step % p) / interval).floor() as u64;
            by_position.entry(position).or_default().push(change);
        }
    }
    // Every pair crossing a boundary means fewer than two logs per epoch: no "within".
    if across.len() < 4 || within.len() < across.len() {
        return None;
    }
    let (ma, mw) = (mean(&across), mean(&within));
    let se =
        (variance(&across) / across.len() as f64 + variance(&within) / within.len() as f64).sqrt();
    let t_stat = (mw - ma) / se.max(1e-12);
    let median_drop = median(&within) - median(&across);
    if t_stat < 4.0 || median_drop <= 0.0 {
        return None;
    }
    let position_means: Vec<f64> = by_position
        .values()
        .filter(|c| c.len() >= 2)
        .map(|c| mean(c))
        .collect();
    let boundary_z = (position_means.len() >= MIN_POSITIONS)
        .then(|| (median(&position_means) - ma) / robust_sd(&position_means).max(1e-12));
    if boundary_z.is_some_and(|z| z < BOUNDARY_Z) {
        return None;
    }
    Some(finding(
        FindingKind::Periodic,
        Severity::Warning,
        Span::range(ctx.first_step(), ctx.last_step()),
        format!(
            "Loss falls in steps at the epoch boundaries (every {} steps): across a boundary it \
             changes by {} on average, within an epoch by {} (t = {:.1} over {} boundaries) — \
             flat while an epoch lasts, a drop when the data comes round again: each pass over \
             the data is memorised.",
            step_str(p.round()),
            num(ma),
            num(mw),
            t_stat,
            across.len()
        ),
        json!({
            "steps_per_epoch": p,
            "boundaries_crossed": across.len(),
            "mean_change_across": ma,
            "mean_change_within": mw,
            "t_statistic": t_stat,
            "boundary_z_among_positions": boundary_z,
        }),
        "The model memorises the training set epoch by epoch: hold out a validation split and watch \
         it, train fewer epochs (1–3 for fine-tuning), deduplicate the data, and shuffle every epoch.",
    ))
}

/// Positions in the epoch (logged at least twice) needed to judge whether the boundary stands
/// out among them, and by how many robust sd it must.
const MIN_POSITIONS: usize = 5;
const BOUNDARY_Z: f64 = 3.0;

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// Sample variance (n − 1).
fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len().max(2) - 1) as f64
}

/// Autocorrelation of `r` at `lag` (r has mean ~0), each sum normalised by its own number of
/// terms so a long lag is not biased toward zero.
fn autocorr(r: &[f64], lag: usize) -> f64 {
    let n = r.len();
    if lag == 0 || lag >= n {
        return 0.0;
    }
    let den: f64 = r.iter().map(|x| x * x).sum::<f64>() / n as f64;
    let num: f64 = r.iter().zip(&r[lag..]).map(|(a, b)| a * b).sum::<f64>() / (n - lag) as f64;
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Residuals of `xs` around a rolling median of half-width `half`, mean removed.
fn detrended(xs: &[f64], half: usize) -> Vec<f64> {
    let base = crate::detect::stats::rolling_median(xs, half);
    let mut r: Vec<f64> = xs.iter().zip(&base).map(|(x, b)| x - b).collect();
    let mean = r.iter().sum::<f64>() / r.len().max(1) as f64;
    r.iter_mut().for_each(|x| *x -= mean);
    r
}

/// The epoch length in points, found from the data when nobody said: the lag (at least 5
/// points, at most a third of the run) whose autocorrelation of the detrended loss is highest
/// and repeats at twice the lag. Searched on at most ~1200 block medians, detrending with a
/// few window widths (each serves the lags near twice its half-width).
fn find_period(xs: &[f64]) -> Option<usize> {
    // Forty points hold eight cycles of the shortest period sought (MIN_PERIOD points).
    if xs.len() < 40 {
        return None;
    }
    let stride = xs.len().div_ceil(1200);
    let ys: Vec<f64> = xs.chunks(stride).map(median).collect();
    let m = ys.len();
    let mut best: Option<(usize, f64, f64)> = None;
    let mut half = 3usize;
    while 2 * half <= m / 3 {
        let r = detrended(&ys, half);
        let lags = (half * 8 / 5).max(MIN_PERIOD)..=(half * 12 / 5).min(m / 3);
        for lag in lags {
            let ac = autocorr(&r, lag);
            if best.is_none_or(|b| ac > b.1) {
                best = Some((lag, ac, autocorr(&r, 2 * lag)));
            }
        }
        half = (half * 7 / 5).max(half + 1);
    }
    let (lag, ac, twice) = best?;
    if ac < 0.3 || (2 * lag < m / 2 && twice < 0.5 * ac) {
        return None;
    }
    // A multiple of a shorter cycle (an alternation every 2 batches repeats at 6 too): the
    // pattern belongs to its fundamental, and one shorter than MIN_PERIOD is batch-to-batch
    // texture (streams of unequal difficulty), not an epoch or a bug's cycle. A fundamental of
    // MIN_PERIOD or more is the period (a state reset every 8 points repeats at 16 as strongly,
    // and a wider detrending window can favour 16).
    let strong: Vec<usize> = (2..=lag / 2)
        .filter(|k| lag % k == 0)
        .map(|k| lag / k)
        .filter(|&d| {
            // Each candidate judged with a detrending window of its own size, as the search does.
            let r = detrended(&ys, (d / 2).max(1));
            autocorr(&r, d) >= 0.8 * ac
        })
        .collect();
    if strong.iter().any(|&d| d < MIN_PERIOD) {
        return None;
    }
    Some(strong.into_iter().min().unwrap_or(lag) * stride)
}

/// With a known epoch length: the detrended loss repeats with that period (the same batches in
/// the same order every epoch: data not shuffled).
fn epoch_pattern(ctx: &Ctx) -> Option<Finding> {
    let t = &ctx.train;
    let n = t.len();
    if n < 50 {
        return None;
    }
    let spacing = (ctx.last_step() - ctx.first_step()) / (n - 1) as f64;
    let xs: Vec<f64> = t.iter().map(|q| q.value).collect();
    // An epoch too long for three to fit in the log (an SFT run of 0.27 epoch) says nothing
    // about a shorter cycle in it: the period is then searched for as when no epoch is known.
    let known = ctx
        .run
        .steps_per_epoch
        .filter(|p| *p > 0.0 && 3 * (p / spacing).round() as usize <= n);
    let (p, lag) = match known {
        Some(p) => (p, (p / spacing).round() as usize),
        None => {
            // Warm restarts of the LR repeat at their own cycle, for another reason.
            let lag = find_period(&xs).filter(|&l| !ctx.restarts_explain(l as f64 * spacing))?;
            (lag as f64 * spacing, lag)
        }
    };
    if lag < 4 || n < 3 * lag || (lag as f64 * spacing - p).abs() > 0.05 * p {
        return None;
    }
    let r = detrended(&xs, lag / 2);
    let at_period = autocorr(&r, lag);
    let at_half = autocorr(&r, lag / 2).max(autocorr(&r, lag + lag / 2));
    let chance = 3.0 / (n as f64).sqrt();
    // A known epoch is one lag tested: chance (three standard errors over its n − lag products)
    // is the bar. A lag found by searching them all is the best of a dozen or more chances:
    // four standard errors (0.52 over 60 points, where noise alone reaches 0.44), and 0.3.
    let floor = if known.is_some() {
        3.0 / ((n - lag) as f64).sqrt()
    } else {
        (4.0 / (n as f64).sqrt()).max(0.3)
    };
    if at_period < floor || at_period < at_half + 0.2 || at_period < chance {
        return None;
    }
    let amplitude = robust_sd(&r);
    let evidence = json!({
        "steps_per_epoch": p,
        "period_known": known.is_some(),
        "lag_points": lag,
        "autocorrelation_at_epoch": at_period,
        "autocorrelation_off_epoch": at_half,
        "chance_level": chance,
        "pattern_sd": amplitude,
        "fixed_batch_order": ctx.run.fixed_batch_order,
    });
    let measured = format!(
        "The loss repeats the same pattern every {} steps{}: autocorrelation {:.2} at that \
         lag against {:.2} off it, amplitude ± {}",
        step_str(p.round()),
        if known.is_some() {
            " (one epoch)"
        } else {
            " (found from the data: an epoch-like period)"
        },
        at_period,
        at_half,
        num(amplitude)
    );
    let span = Span::range(ctx.first_step(), ctx.last_step());
    if ctx.run.fixed_batch_order {
        // Truncated BPTT over contiguous streams cannot shuffle: each epoch walks the same
        // text in the same order, and the loss traces how hard each stretch of it is.
        return Some(finding(
            FindingKind::Periodic,
            Severity::Info,
            span,
            format!(
                "{measured}. Expected: the run reads the corpus as contiguous streams with the \
                 hidden state carried, so every epoch sees the same text in the same order and \
                 the loss follows how hard each part of it is."
            ),
            evidence,
            "Nothing to fix. To check that the model is not memorising the order, compare with \
             shuffled windows (rnnlab: --set train.carry_state=false).",
        ));
    }
    if known.is_some() {
        return Some(finding(
            FindingKind::Periodic,
            Severity::Warning,
            span,
            format!("{measured}; batches arrive in the same order every epoch."),
            evidence,
            "Shuffle the training data every epoch (DataLoader(shuffle=True) or a new permutation \
             per epoch); check for repeated or sorted data (by length, by source).",
        ));
    }
    // A period found from the data may be an epoch, or anything else the loop does every so
    // many steps.
    Some(finding(
        FindingKind::Periodic,
        Severity::Warning,
        span,
        format!(
            "{measured}; something repeats every {} steps: the same batches in the same order, or \
             code that runs on that cycle.",
            step_str(p.round())
        ),
        evidence,
        format!(
            "If {} steps is an epoch, shuffle the training data every epoch; otherwise look for \
             what runs every {} steps: a hidden-state reset or re-initialisation, a gradient \
             accumulation boundary, a scheduler or evaluation hook that disturbs training{}.",
            step_str(p.round()),
            step_str(p.round()),
            // Warm restarts repeat at their cycle and are judged from the LR when it is logged.
            if ctx.lr.is_empty() {
                "; a schedule with warm restarts on that cycle explains it (log the LR to tell)"
            } else {
                ""
            }
        ),
    ))
}

/// Robust z of the short-window level change at each bin (negative = drop).
fn jump_z(m: &[f64]) -> Vec<f64> {
    let nb = m.len();
    let jump: Vec<f64> = (HALF..nb - HALF)
        .map(|b| median(&m[b..b + HALF]) - median(&m[b - HALF..b]))
        .collect();
    let centre = median(&jump);
    let sd = robust_sd(&jump).max(1e-12);
    jump.iter().map(|j| (j - centre) / sd).collect()
}

/// Candidate drops: (step, robust z), strongest first. A drop counts on the linear or the log
/// scale: early drops are large in nats, late ones (at small losses) large in ratio.
fn drops(bins: &Bins, skip_before: usize) -> Vec<(f64, f64)> {
    let m = &bins.value;
    let nb = m.len();
    if nb < 8 * HALF {
        return Vec::new();
    }
    let mut z = jump_z(m);
    if m.iter().all(|&v| v > 0.0) {
        let logs: Vec<f64> = m.iter().map(|v| v.ln()).collect();
        for (a, b) in z.iter_mut().zip(jump_z(&logs)) {
            *a = a.min(b);
        }
    }
    let mut cand: Vec<(usize, f64)> = z
        .iter()
        .enumerate()
        .map(|(i, &z)| (i + HALF, z))
        .filter(|&(b, z)| b >= skip_before && z <= -DROP_Z)
        .collect();
    cand.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut kept: Vec<(usize, f64)> = Vec::new();
    for (b, z) in cand {
        if kept.iter().all(|&(k, _)| k.abs_diff(b) > 2 * HALF) {
            kept.push((b, z));
        }
    }
    // The boundary lies between the last bin before and the first bin after the jump.
    kept.into_iter()
        .map(|(b, z)| (0.5 * (bins.step[b - 1] + bins.step[b]), z))
        .collect()
}

/// Refine a period guess by least squares over the drops it explains (drop i ≈ j_i · P).
fn refine_period(steps: &[f64], guess: f64) -> f64 {
    let mut p = guess;
    for _ in 0..3 {
        let (mut sj, mut jj) = (0.0, 0.0);
        for &s in steps {
            let j = (s / p).round();
            if j >= 1.0 && (s - j * p).abs() <= 0.15 * p {
                sj += s * j;
                jj += j * j;
            }
        }
        if jj > 0.0 {
            p = sj / jj;
        }
    }
    p
}

fn staircase(ctx: &Ctx) -> Option<Finding> {
    if ctx.train.len() < 60 {
        return None;
    }
    let bins = Bins::of(&ctx.train, 600);
    let (first, last) = (ctx.first_step(), ctx.last_step());
    let skip = bins
        .step
        .partition_point(|&s| s < first + 0.05 * (last - first));
    let cands = drops(&bins, skip);
    if cands.len() < 2 {
        return None;
    }
    let bin_width = (last - first) / bins.len() as f64;
    let known = ctx.run.steps_per_epoch.filter(|p| *p > 0.0);
    let mut steps: Vec<f64> = cands.iter().take(12).map(|c| c.0).collect();
    steps.sort_by(f64::total_cmp);
    let period = known.or_else(|| {
        let gaps: Vec<f64> = steps.windows(2).map(|w| w[1] - w[0]).collect();
        let g = median(&gaps);
        (g.is_finite() && g > 0.0).then(|| refine_period(&steps, g))
    })?;
    let boundaries: Vec<f64> = (1..)
        .map(|j| j as f64 * period)
        // A boundary needs room after it for its drop to show.
        .take_while(|&b| b < last - (0.1 * period).max((HALF + 1) as f64 * bin_width))
        .filter(|&b| b > first + 0.05 * (last - first))
        .collect();
    if boundaries.len() < 2 {
        return None;
    }
    let tol = (0.03 * period).max(1.5 * bin_width);
    let matched: Vec<(f64, f64)> = boundaries
        .iter()
        .filter_map(|&b| {
            cands
                .iter()
                .find(|c| (c.0 - b).abs() <= tol)
                .map(|c| (c.0, c.1))
        })
        .collect();
    let off_grid = cands
        .iter()
        .filter(|c| boundaries.iter().all(|&b| (c.0 - b).abs() > tol))
        .count();
    if matched.len() < 2 || 5 * matched.len() < 3 * boundaries.len() || off_grid > matched.len() {
        return None;
    }
    let lr_explained = matched
        .iter()
        .filter(|(b, _)| ctx.lr_drops.iter().any(|&d| (d - b).abs() <= tol))
        .count();
    if 2 * lr_explained >= matched.len() {
        return None; // a step-decay schedule: each LR drop lowers the loss, as it should
    }
    let sizes: Vec<f64> = matched
        .iter()
        .map(|m| ctx.level_near(m.0 - 0.1 * period, 1) - ctx.level_near(m.0 + 0.1 * period, 1))
        .collect();
    let mean_drop = sizes.iter().sum::<f64>() / sizes.len() as f64;
    let steps: Vec<String> = matched.iter().take(8).map(|m| step_str(m.0)).collect();
    Some(finding(
        FindingKind::Periodic,
        Severity::Warning,
        Span::range(matched[0].0, matched[matched.len() - 1].0),
        format!(
            "Loss drops suddenly every {} steps{} (at steps {}{}; mean drop {}) and stays flat in between: each \
             pass over the data is memorised.",
            step_str(period.round()),
            if known.is_some() { ", exactly at the epoch boundaries" } else { ", a regular epoch-like grid" },
            steps.join(", "),
            if matched.len() > 8 { ", …" } else { "" },
            num(mean_drop)
        ),
        json!({
            "period_steps": period,
            "period_known": known.is_some(),
            "boundaries": boundaries.len(),
            "drops_on_boundaries": matched.len(),
            "drops_off_grid": off_grid,
            "drop_steps": matched.iter().map(|m| m.0).collect::<Vec<_>>(),
            "mean_drop": mean_drop,
            "drop_z": matched.iter().map(|m| m.1).collect::<Vec<_>>(),
            "lr_drops_at_boundaries": lr_explained,
        }),
        "The model memorises the training set epoch by epoch: hold out a validation split and watch it, \
         train fewer epochs (1–3 for fine-tuning), deduplicate the data, and shuffle every epoch; if the data \
         is not reshuffled between epochs, enable it.",
    ))
}

#[cfg(test)]
#[path = "periodic_tests.rs"]
mod tests;
