//! Robust statistics the detectors share: medians and MADs, a rolling median for raw series,
//! per-bin medians for trends, and slopes on the log-step axis. Everything here is O(n log n)
//! or better so a million-point curve stays well under a second.

use crate::Point;

/// Scale factor that turns a MAD into a standard deviation for Gaussian noise.
pub const MAD_TO_SD: f64 = 1.4826;

/// Median of a slice (NaN-free input); `NaN` when empty.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    median_in_place(&mut v)
}

/// Median that reorders its argument (saves an allocation on hot paths).
pub fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if n % 2 == 1 {
        upper
    } else {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower + upper)
    }
}

/// The logging interval: the median gap between consecutive logged steps (the upper one of the
/// two middle gaps for an even count), 1 when no step follows another.
pub fn logging_interval(points: &[Point]) -> f64 {
    let mut gaps: Vec<f64> = points
        .windows(2)
        .map(|w| w[1].step - w[0].step)
        .filter(|g| *g > 0.0)
        .collect();
    if gaps.is_empty() {
        return 1.0;
    }
    let mid = gaps.len() / 2;
    *gaps.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// Quantile `q` in [0, 1] by nearest rank.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    let k = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, m, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    *m
}

/// Median absolute deviation from the median, scaled to a standard deviation.
pub fn robust_sd(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = median(xs);
    let mut dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    MAD_TO_SD * median_in_place(&mut dev)
}

/// Centred rolling median with `half` points either side (shrinking at the ends). A sorted
/// window with binary-search insert/remove: O(n · window), fast for the small windows used.
pub fn rolling_median(xs: &[f64], half: usize) -> Vec<f64> {
    let n = xs.len();
    let mut out = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let mut window: Vec<f64> = Vec::with_capacity(2 * half + 2);
    let (mut lo, mut hi) = (0usize, 0usize); // window holds xs[lo..hi]
    for i in 0..n {
        let want_lo = i.saturating_sub(half);
        let want_hi = (i + half + 1).min(n);
        while hi < want_hi {
            let x = xs[hi];
            let pos = window.partition_point(|w| w.total_cmp(&x).is_lt());
            window.insert(pos, x);
            hi += 1;
        }
        while lo < want_lo {
            let x = xs[lo];
            let pos = window.partition_point(|w| w.total_cmp(&x).is_lt());
            window.remove(pos);
            lo += 1;
        }
        let k = window.len();
        out.push(if k % 2 == 1 {
            window[k / 2]
        } else {
            0.5 * (window[k / 2 - 1] + window[k / 2])
        });
    }
    out
}

/// A curve summarised in contiguous bins of points: the trend view every level detector reads.
#[derive(Debug, Clone, Default)]
pub struct Bins {
    /// Median step of each bin.
    pub step: Vec<f64>,
    /// Median value of each bin.
    pub value: Vec<f64>,
    /// Index range `[start, end)` of each bin in the source series.
    pub range: Vec<(usize, usize)>,
}

impl Bins {
    /// At most `max_bins` bins of (nearly) equal point counts.
    pub fn of(points: &[Point], max_bins: usize) -> Bins {
        let n = points.len();
        let nb = max_bins.clamp(1, n.max(1));
        let mut bins = Bins::default();
        if n == 0 {
            return bins;
        }
        let mut scratch = Vec::new();
        for b in 0..nb {
            let (s, e) = (b * n / nb, (b + 1) * n / nb);
            if s == e {
                continue;
            }
            scratch.clear();
            scratch.extend(points[s..e].iter().map(|p| p.value));
            bins.value.push(median_in_place(&mut scratch));
            bins.step.push(points[(s + e - 1) / 2].step);
            bins.range.push((s, e));
        }
        bins
    }

    pub fn len(&self) -> usize {
        self.value.len()
    }

    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Robust spread of bin medians around their own rolling median: the noise a level change
    /// must beat.
    pub fn noise(&self) -> f64 {
        if self.len() < 5 {
            return 0.0;
        }
        let smooth = rolling_median(&self.value, 2);
        let resid: Vec<f64> = self.value.iter().zip(&smooth).map(|(v, s)| v - s).collect();
        robust_sd(&resid)
    }
}

/// Ordinary least-squares slope of `y` on `x`; `None` without two distinct `x`.
pub fn ols_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x[..n].iter().sum::<f64>() / n as f64;
    let my = y[..n].iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for i in 0..n {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Offset that makes `ln(step + offset)` finite from the first logged step on: zero when steps
/// start above zero, else the typical spacing.
pub fn log_step_offset(points: &[Point]) -> f64 {
    let first = points.first().map_or(0.0, |p| p.step);
    if first >= 1.0 {
        return 0.0;
    }
    let n = points.len();
    let span = points.last().map_or(0.0, |p| p.step) - first;
    let spacing = if n > 1 { span / (n - 1) as f64 } else { 1.0 };
    spacing.max(1.0) - first.min(0.0)
}

/// Median value of the points whose step lies in `[from, to]`; `NaN` when none.
pub fn median_between(points: &[Point], from: f64, to: f64) -> f64 {
    let a = points.partition_point(|p| p.step < from);
    let b = points.partition_point(|p| p.step <= to);
    if a >= b {
        return f64::NAN;
    }
    let mut v: Vec<f64> = points[a..b].iter().map(|p| p.value).collect();
    median_in_place(&mut v)
}

/// Value of a step-sorted series at `step` (the last point at or before it, else the first).
pub fn value_at(points: &[Point], step: f64) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let i = points.partition_point(|p| p.step <= step);
    Some(points[i.saturating_sub(1)].value)
}

/// Kendall's tau of a sequence against its order (+1: every later value is higher, −1: every
/// later value lower), on at most 60 medians of equal chunks so long series stay cheap.
pub fn order_agreement(xs: &[f64]) -> f64 {
    let chunk = xs.len().div_ceil(60).max(1);
    let v: Vec<f64> = xs.chunks(chunk).map(median).collect();
    let (mut agree, mut pairs) = (0i64, 0i64);
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            pairs += 1;
            agree += match v[j].total_cmp(&v[i]) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
    }
    if pairs == 0 {
        0.0
    } else {
        agree as f64 / pairs as f64
    }
}

/// Whether `xs` falls steadily: Kendall's tau against time at −0.6 or below, or (a longer,
/// noisier series) a tau three standard errors below zero, the spread tau has over `n`
/// points in random order being √(2(2n+5) / (9n(n−1))) (at most 60 chunks, as
/// [`order_agreement`] takes).
pub fn falls_in_order(xs: &[f64]) -> bool {
    if xs.len() < 3 {
        return false;
    }
    let tau = order_agreement(xs);
    let n = xs.len().min(60) as f64;
    let null_sd = (2.0 * (2.0 * n + 5.0) / (9.0 * n * (n - 1.0))).sqrt();
    tau <= -0.6 || tau <= -3.0 * null_sd
}

/// Round for display and evidence: 4 significant digits.
pub fn round4(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let mag = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * mag).round() / mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_handles_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn robust_sd_ignores_an_outlier() {
        let mut xs: Vec<f64> = (0..101).map(|i| (i % 2) as f64).collect();
        xs[50] = 1e9;
        assert!(robust_sd(&xs) < 1.5);
    }

    #[test]
    fn rolling_median_removes_a_single_spike() {
        let mut xs = vec![1.0; 21];
        xs[10] = 100.0;
        let m = rolling_median(&xs, 3);
        assert_eq!(m.len(), 21);
        assert!(m.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn rolling_median_matches_brute_force() {
        let xs: Vec<f64> = (0..57).map(|i| ((i * 37) % 11) as f64).collect();
        let fast = rolling_median(&xs, 4);
        for i in 0..xs.len() {
            let w = &xs[i.saturating_sub(4)..(i + 5).min(xs.len())];
            assert_eq!(fast[i], median(w), "at {i}");
        }
    }

    #[test]
    fn bins_cover_all_points_in_order() {
        let pts: Vec<Point> = (0..1003)
            .map(|i| Point {
                step: i as f64,
                value: i as f64,
            })
            .collect();
        let b = Bins::of(&pts, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(b.range[0].0, 0);
        assert_eq!(b.range[99].1, 1003);
        assert!(b.value.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn order_agreement_is_one_for_a_climb_and_near_zero_for_noise() {
        let climb: Vec<f64> = (0..500)
            .map(|i| i as f64 + 30.0 * ((i * 7) % 5) as f64)
            .collect();
        assert!(order_agreement(&climb) > 0.9);
        let fall: Vec<f64> = (0..10).map(|i| -(i as f64)).collect();
        assert_eq!(order_agreement(&fall), -1.0);
        let noise: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64).collect();
        assert!(order_agreement(&noise).abs() < 0.2);
        assert_eq!(order_agreement(&[1.0]), 0.0);
    }

    #[test]
    fn ols_slope_recovers_a_line() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [1.0, 3.0, 5.0, 7.0];
        assert!((ols_slope(&x, &y).unwrap() - 2.0).abs() < 1e-12);
        assert!(ols_slope(&[1.0, 1.0], &[0.0, 1.0]).is_none());
    }
}
