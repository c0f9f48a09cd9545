//! A fixed-size ring of the newest values with the robust statistics the online detector
//! needs: the median of the newest part (the level) and the noise scale from step-to-step
//! differences (which a steady trend does not inflate the way a plain MAD would).

use serde::{Deserialize, Serialize};

/// MAD → standard deviation for normal noise.
pub const MAD_TO_SD: f64 = 1.4826;

/// A ring of the last `capacity` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingWindow {
    values: Vec<f64>,
    next: usize,
    capacity: usize,
}

impl RollingWindow {
    pub fn new(capacity: usize) -> RollingWindow {
        RollingWindow {
            values: Vec::with_capacity(capacity.max(1)),
            next: 0,
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, x: f64) {
        if self.values.len() < self.capacity {
            self.values.push(x);
        } else {
            self.values[self.next] = x;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values oldest first.
    pub fn ordered(&self) -> impl Iterator<Item = f64> + '_ {
        let start = if self.values.len() < self.capacity {
            0
        } else {
            self.next
        };
        let (newer, older) = self.values.split_at(start);
        older.iter().chain(newer).copied()
    }

    /// Median of the whole window, or `None` when empty.
    pub fn median(&self, scratch: &mut Vec<f64>) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        scratch.clear();
        scratch.extend_from_slice(&self.values);
        Some(select_median(scratch))
    }

    /// `(level, noise)`: the median of the newest `recent` values, and the robust standard
    /// deviation of the noise from the step-to-step differences (MAD around their median,
    /// so a steady trend is not counted as noise). `None` below 3 values.
    pub fn level_and_noise(&self, recent: usize, scratch: &mut Vec<f64>) -> Option<(f64, f64)> {
        let n = self.values.len();
        if n < 3 {
            return None;
        }
        scratch.clear();
        scratch.extend(self.ordered().skip(n.saturating_sub(recent.max(1))));
        let level = select_median(scratch);
        scratch.clear();
        let mut prev = None;
        for x in self.ordered() {
            if let Some(p) = prev {
                scratch.push(x - p);
            }
            prev = Some(x);
        }
        let center = select_median(scratch);
        for d in scratch.iter_mut() {
            *d = (*d - center).abs();
        }
        let noise = MAD_TO_SD * select_median(scratch) / std::f64::consts::SQRT_2;
        Some((level, noise))
    }
}

/// The median by selection (the mean of the two middle values for an even count).
pub fn select_median(xs: &mut [f64]) -> f64 {
    let n = xs.len();
    let mid = n / 2;
    let (lower, upper_mid, _) = xs.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper_mid;
    if n % 2 == 1 {
        upper
    } else {
        let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        0.5 * (lower_max + upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_median(xs: &[f64]) -> f64 {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            0.5 * (v[n / 2 - 1] + v[n / 2])
        }
    }

    /// Deterministic noise in [-1, 1].
    fn wobble(i: usize) -> f64 {
        ((i as f64 * 12.9898).sin() * 43758.5453).fract()
    }

    #[test]
    fn ring_statistics_match_a_sort_after_wrapping() {
        let mut w = RollingWindow::new(7);
        let mut all = Vec::new();
        let mut scratch = Vec::new();
        for i in 0..30 {
            let x = wobble(i) * 10.0;
            w.push(x);
            all.push(x);
            let tail = &all[all.len().saturating_sub(7)..];
            assert_eq!(w.ordered().collect::<Vec<_>>(), tail);
            assert_eq!(w.median(&mut scratch).unwrap(), sorted_median(tail));
            if tail.len() >= 3 {
                let (level, noise) = w.level_and_noise(3, &mut scratch).unwrap();
                assert_eq!(level, sorted_median(&tail[tail.len() - 3..]));
                let diffs: Vec<f64> = tail.windows(2).map(|p| p[1] - p[0]).collect();
                let m = sorted_median(&diffs);
                let dev: Vec<f64> = diffs.iter().map(|d| (d - m).abs()).collect();
                assert!((noise - MAD_TO_SD * sorted_median(&dev) / 2f64.sqrt()).abs() < 1e-12);
            }
        }
        assert_eq!(w.len(), 7);
        assert!(RollingWindow::new(3).median(&mut scratch).is_none());
    }

    #[test]
    fn a_steady_trend_is_not_noise() {
        let mut w = RollingWindow::new(64);
        let mut scratch = Vec::new();
        for i in 0..64 {
            w.push(3.0 - 0.02 * i as f64 + 0.01 * wobble(i));
        }
        let (level, noise) = w.level_and_noise(16, &mut scratch).unwrap();
        // The trend spans 1.26 over the window; the noise is ±0.01.
        assert!(noise < 0.02, "noise {noise}");
        assert!((level - (3.0 - 0.02 * 55.5)).abs() < 0.02, "level {level}");
    }
}
