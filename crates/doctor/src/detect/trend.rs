//! The trend of a loss on the log-step axis: healthy power-law decay keeps a steady drop per
//! doubling of steps, a stalled run does not. Measured over a judging window (the last two
//! doublings of steps before the LR is annealed away), from bin medians, with the slope's
//! standard error so a slope can be told from noise.

use crate::detect::stats::{median, ols_slope};
use crate::detect::Ctx;
use crate::Point;

/// "No meaningful progress": less than this drop per doubling of steps, both in nats and in
/// log-loss (the second keeps tiny-but-improving losses, the first large-but-improving ones).
const FLAT_ABS_PER_DOUBLING: f64 = 0.06;
pub const FLAT_LOG_PER_DOUBLING: f64 = 0.05;

#[derive(Debug, Clone, Copy)]
pub struct Trend {
    pub from: f64,
    pub to: f64,
    /// Drop per doubling of steps, in nats (positive = improving).
    pub abs_rate: f64,
    /// Drop per doubling in ln(loss).
    pub log_rate: f64,
    /// Standard error of `log_rate` from the residuals of the fit.
    pub log_rate_se: f64,
    /// Median level over the last quarter of the window.
    pub level: f64,
    pub points: usize,
    /// Doublings of steps between the window's first and last point: a log with a gap can
    /// leave a window whose points cover a sliver of it.
    pub covered_doublings: f64,
    /// The loss is a cross-entropy, so a drop in nats means something on its own.
    pub in_nats: bool,
}

impl Trend {
    /// No meaningful progress. Nats are a cross-entropy's unit: a regression's or a summed
    /// loss's scale is arbitrary, so only the relative (log) rate judges those.
    pub fn flat(&self) -> bool {
        let relative = self.log_rate < FLAT_LOG_PER_DOUBLING;
        relative && (!self.in_nats || self.abs_rate < FLAT_ABS_PER_DOUBLING)
    }

    /// Climbing: log-loss growing by more than the flat band per doubling, clear of its noise
    /// (2.5 standard errors).
    pub fn rising(&self) -> bool {
        self.log_rate < -FLAT_LOG_PER_DOUBLING && self.log_rate < -2.5 * self.log_rate_se
    }
}

/// Trend of `points` over `[from, to]` on the log-step axis, from up to 60 bin medians.
pub fn trend(ctx: &Ctx, points: &[Point], from: f64, to: f64) -> Option<Trend> {
    let a = points.partition_point(|p| p.step < from);
    let b = points.partition_point(|p| p.step <= to);
    if b <= a || b - a < 5 {
        return None;
    }
    let window = &points[a..b];
    let bins = crate::detect::stats::Bins::of(window, 60);
    let u: Vec<f64> = bins.step.iter().map(|&s| ctx.log2_step(s)).collect();
    let abs_rate = -ols_slope(&u, &bins.value)?;
    // A loss at or below zero (a negative Dice, an SI-SNR, a density's NLL) has no logarithm:
    // its relative pace is the drop against its own magnitude, so a negative Dice going from
    // −0.22 to −0.52 is progress, not a flat line at ln 1e-9.
    let (log_rate, log_rate_se) = if bins.value.iter().all(|&v| v > 0.0) {
        let ln: Vec<f64> = bins.value.iter().map(|v| v.ln()).collect();
        let rate = -ols_slope(&u, &ln)?;
        (rate, slope_standard_error(&u, &ln, -rate))
    } else {
        let scale = median(&bins.value.iter().map(|v| v.abs()).collect::<Vec<_>>()).max(1e-9);
        let se = slope_standard_error(&u, &bins.value, -abs_rate) / scale;
        (abs_rate / scale, se)
    };
    let q = window.len() - window.len() / 4;
    let level = median(
        &window[q.min(window.len() - 1)..]
            .iter()
            .map(|p| p.value)
            .collect::<Vec<_>>(),
    );
    Some(Trend {
        from,
        to,
        abs_rate,
        log_rate,
        log_rate_se,
        level,
        points: window.len(),
        covered_doublings: ctx.log2_step(window[window.len() - 1].step)
            - ctx.log2_step(window[0].step),
        in_nats: ctx.family.is_cross_entropy(),
    })
}

/// Standard error of an OLS slope `slope` of `y` on `x`.
fn slope_standard_error(x: &[f64], y: &[f64], slope: f64) -> f64 {
    let n = x.len().min(y.len());
    if n < 3 {
        return f64::INFINITY;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let sxx: f64 = x[..n].iter().map(|v| (v - mx).powi(2)).sum();
    let rss: f64 = (0..n)
        .map(|i| (y[i] - my - slope * (x[i] - mx)).powi(2))
        .sum();
    if sxx <= 0.0 {
        return f64::INFINITY;
    }
    (rss / (n - 2) as f64 / sxx).sqrt()
}

/// The step range progress is judged on: the last two doublings of steps before the LR falls
/// under a quarter of its peak.
pub fn judging_window(ctx: &Ctx) -> Option<(f64, f64)> {
    let (first, mut last) = (ctx.first_step(), ctx.last_step());
    if let Some(max) = ctx.lr_max.filter(|m| *m > 0.0) {
        let still_high = ctx
            .lr
            .iter()
            .rev()
            .find(|p| p.value >= 0.25 * max && p.step >= first);
        last = last.min(still_high.map_or(first, |p| p.step));
    }
    let off = ctx.log_offset;
    let from = ((last + off) / 4.0 - off).max(first + 0.1 * (last - first));
    (last > from).then_some((from, last))
}
