//! Series preparation for drawing: TensorBoard-style smoothing, splitting at non-finite values,
//! and per-pixel-column min/max downsampling that keeps every spike.

use doctor::Point;

/// TensorBoard's debiased exponential moving average (weight `w` in [0, 1)).
///
/// Like TensorBoard, non-finite values pass through unchanged and do not enter the average, so a
/// NaN step stays visible as a gap instead of poisoning the rest of the curve.
pub fn smooth_ema(points: &[Point], weight: f64) -> Vec<Point> {
    let w = if weight.is_finite() {
        weight.clamp(0.0, 0.999_999)
    } else {
        0.0
    };
    let mut last = 0.0;
    let mut count = 0i32;
    points
        .iter()
        .map(|p| {
            if !p.value.is_finite() {
                return *p;
            }
            last = last * w + (1.0 - w) * p.value;
            count += 1;
            let debias = 1.0 - w.powi(count);
            Point {
                step: p.step,
                value: if debias > 0.0 { last / debias } else { p.value },
            }
        })
        .collect()
}

/// Steps whose value is NaN or infinite.
pub fn non_finite_steps(points: &[Point]) -> Vec<f64> {
    points
        .iter()
        .filter(|p| !p.value.is_finite() && p.step.is_finite())
        .map(|p| p.step)
        .collect()
}

/// Reduces a finite, step-sorted series to at most four points per pixel column: the first, the
/// minimum, the maximum and the last, in step order. Drawn as a line, the result covers exactly
/// the pixels the full series would, so a one-step spike survives any amount of reduction.
///
/// `column` maps a step to its pixel column (any monotone function; values outside the chart
/// simply land in columns of their own).
pub fn min_max_downsample(points: &[Point], column: impl Fn(f64) -> i64) -> Vec<Point> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let col = column(points[i].step);
        let start = i;
        let (mut lo, mut hi) = (i, i);
        while i < points.len() && column(points[i].step) == col {
            if points[i].value < points[lo].value {
                lo = i;
            }
            if points[i].value > points[hi].value {
                hi = i;
            }
            i += 1;
        }
        let end = i - 1;
        let mut keep = [start, lo, hi, end];
        keep.sort_unstable();
        let mut previous = usize::MAX;
        for k in keep {
            if k != previous {
                out.push(points[k]);
                previous = k;
            }
        }
    }
    out
}

/// The finite (min, max) of values, if any.
pub fn finite_extent(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(values: &[f64]) -> Vec<Point> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| Point {
                step: i as f64,
                value: v,
            })
            .collect()
    }

    #[test]
    fn ema_is_debiased_like_tensorboard() {
        let s = smooth_ema(&pts(&[4.0, 2.0, 3.0]), 0.5);
        // TensorBoard: last = 2.0 → 2.0/(1-0.5)=4; last = 1+1=2 → 2/0.75; last = 1+1.5=2.5 → 2.5/0.875.
        assert!((s[0].value - 4.0).abs() < 1e-12);
        assert!((s[1].value - 2.0 / 0.75).abs() < 1e-12);
        assert!((s[2].value - 2.5 / 0.875).abs() < 1e-12);
        let none = smooth_ema(&pts(&[4.0, 2.0]), 0.0);
        assert_eq!(none[1].value, 2.0);
    }

    #[test]
    fn ema_skips_non_finite_without_poisoning_later_values() {
        let s = smooth_ema(&pts(&[2.0, f64::NAN, 2.0]), 0.9);
        assert!(s[1].value.is_nan());
        assert!((s[2].value - 2.0).abs() < 1e-12);
    }

    #[test]
    fn non_finite_steps_are_listed() {
        let p = pts(&[1.0, 2.0, f64::NAN, f64::INFINITY, 3.0]);
        assert_eq!(non_finite_steps(&p), [2.0, 3.0]);
    }

    #[test]
    fn downsample_keeps_spike_and_ends() {
        let mut values: Vec<f64> = (0..100_000).map(|i| 3.0 - i as f64 * 1e-5).collect();
        values[40_123] = 50.0;
        values[70_001] = -1.0;
        let p = pts(&values);
        let d = min_max_downsample(&p, |s| (s / 100_000.0 * 500.0) as i64);
        assert!(d.len() <= 4 * 500 + 4, "{}", d.len());
        assert!(d.iter().any(|q| q.step == 40_123.0 && q.value == 50.0));
        assert!(d.iter().any(|q| q.step == 70_001.0 && q.value == -1.0));
        assert_eq!(d.first().unwrap().step, 0.0);
        assert_eq!(d.last().unwrap().step, 99_999.0);
        assert!(d.windows(2).all(|w| w[0].step < w[1].step), "stays sorted");
    }

    #[test]
    fn downsample_is_identity_when_points_are_sparse() {
        let p = pts(&[1.0, 5.0, 2.0]);
        assert_eq!(min_max_downsample(&p, |s| s as i64 * 10), p);
    }
}
