//! Axis scales. Charts are drawn in *transformed* space (identity or log10) on plain linear
//! plotters axes, with tick positions chosen here, so linear and log charts share one code path.

/// How values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log10,
}

/// One axis: its scale and its range in transformed space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    pub scale: Scale,
    pub lo: f64,
    pub hi: f64,
}

impl Scale {
    /// The transformed value, or `None` where the scale cannot show it (≤ 0 on a log axis).
    pub fn forward(self, v: f64) -> Option<f64> {
        match self {
            Scale::Linear => v.is_finite().then_some(v),
            Scale::Log10 => (v.is_finite() && v > 0.0).then(|| v.log10()),
        }
    }

    pub fn inverse(self, t: f64) -> f64 {
        match self {
            Scale::Linear => t,
            Scale::Log10 => 10f64.powf(t),
        }
    }
}

impl Axis {
    /// An axis spanning the data extent `(min, max)` (raw values) with a little padding.
    pub fn fit(scale: Scale, extent: Option<(f64, f64)>, pad_fraction: f64) -> Axis {
        let (lo, hi) = match extent.and_then(|(a, b)| Some((scale.forward(a)?, scale.forward(b)?)))
        {
            Some((a, b)) => (a, b),
            None => (0.0, 1.0),
        };
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            let half = if lo.abs() > 0.0 { lo.abs() * 0.05 } else { 0.5 };
            (lo - half, hi + half)
        };
        let pad = (hi - lo) * pad_fraction;
        Axis {
            scale,
            lo: lo - pad,
            hi: hi + pad,
        }
    }

    /// Where a raw value sits along the axis, 0 at `lo` and 1 at `hi`.
    pub fn fraction(&self, v: f64) -> Option<f64> {
        Some((self.scale.forward(v)? - self.lo) / (self.hi - self.lo))
    }

    /// Major tick positions in transformed space and the light (minor) ones.
    pub fn ticks(&self, target: usize) -> (Vec<f64>, Vec<f64>) {
        match self.scale {
            Scale::Linear => {
                let step = nice_step((self.hi - self.lo) / target.max(1) as f64);
                let major = multiples(self.lo, self.hi, step);
                let minor = multiples(self.lo, self.hi, step / 5.0);
                (major, minor)
            }
            Scale::Log10 => log_ticks(self.lo, self.hi, target),
        }
    }

    /// The label of a tick at transformed position `t`.
    pub fn label(&self, t: f64) -> String {
        format_number(self.scale.inverse(t))
    }
}

/// 1, 2 or 5 times a power of ten, the nearest to `raw` (so about `target` ticks show).
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let m = raw / power;
    let nice = if m < 1.5 {
        1.0
    } else if m < 3.0 {
        2.0
    } else if m < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    if last - first > 10_000 {
        return Vec::new();
    }
    // Round away float noise (0.30000000000000004) so labels and grid agree.
    (first..=last)
        .map(|k| round_sig(k as f64 * step, 12))
        .collect()
}

fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// Decades as major ticks; when the axis spans under two decades, 2× and 5× too, and the
/// in-between integers as light ticks.
fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<f64>) {
    let decades = hi - lo;
    let mut major = Vec::new();
    let mut minor = Vec::new();
    let every = ((decades / target.max(1) as f64).ceil() as i64).max(1);
    for d in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in 1..10 {
            let t = d as f64 + (m as f64).log10();
            if t < lo || t > hi {
                continue;
            }
            let is_major = if m == 1 {
                d % every == 0
            } else {
                decades < 2.0 && (m == 2 || m == 5) || decades < 0.6
            };
            if is_major {
                major.push(t);
            } else if decades < 6.0 {
                minor.push(t);
            }
        }
    }
    (major, minor)
}

/// Compact number formatting for tick labels and readouts: 0.003, 1.5k, 2e-05, 4.17.
pub fn format_number(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    if (1e-3..1e4).contains(&a) {
        let s = format!("{:.4}", round_sig(v, 4));
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return s.to_string();
    }
    if (1e4..1e9).contains(&a) {
        let (div, suffix) = if a >= 1e6 { (1e6, "M") } else { (1e3, "k") };
        let s = format!("{:.2}", round_sig(v / div, 4));
        return format!("{}{suffix}", s.trim_end_matches('0').trim_end_matches('.'));
    }
    let s = format!("{:.2e}", v);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_inside() {
        let a = Axis {
            scale: Scale::Linear,
            lo: 1.37,
            hi: 4.4,
        };
        let (major, minor) = a.ticks(6);
        assert_eq!(major, [1.5, 2.0, 2.5, 3.0, 3.5, 4.0]);
        assert!(minor.len() > major.len());
        assert_eq!(a.label(0.1 + 0.2), "0.3");
    }

    #[test]
    fn log_ticks_are_decades_with_labels() {
        let a = Axis {
            scale: Scale::Log10,
            lo: 0.0,
            hi: 6.0,
        };
        let (major, _) = a.ticks(6);
        assert_eq!(major.len(), 7);
        assert_eq!(a.label(major[3]), "1000");
        assert_eq!(a.label(major[4]), "10k");
        let narrow = Axis {
            scale: Scale::Log10,
            lo: 2f64.log10(),
            hi: 5f64.log10(),
        };
        let labels: Vec<String> = narrow.ticks(6).0.iter().map(|&t| narrow.label(t)).collect();
        assert!(
            labels.contains(&"3".to_string()) && labels.contains(&"5".to_string()),
            "{labels:?}"
        );
    }

    #[test]
    fn fit_pads_and_survives_degenerate_input() {
        let a = Axis::fit(Scale::Linear, Some((2.0, 4.0)), 0.05);
        assert!((a.lo - 1.9).abs() < 1e-12 && (a.hi - 4.1).abs() < 1e-12);
        let flat = Axis::fit(Scale::Linear, Some((3.0, 3.0)), 0.0);
        assert!(flat.hi > flat.lo);
        let log = Axis::fit(Scale::Log10, Some((10.0, 1000.0)), 0.0);
        assert_eq!((log.lo, log.hi), (1.0, 3.0));
        assert_eq!(
            Axis::fit(Scale::Log10, Some((0.0, 5.0)), 0.0),
            Axis {
                scale: Scale::Log10,
                lo: 0.0,
                hi: 1.0
            }
        );
        assert_eq!(log.fraction(100.0), Some(0.5));
        assert_eq!(log.fraction(-1.0), None);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_number(0.003), "0.003");
        assert_eq!(format_number(4.174387), "4.174");
        assert_eq!(format_number(25_000.0), "25k");
        assert_eq!(format_number(2e-5), "2e-5");
        assert_eq!(format_number(1_500_000.0), "1.5M");
    }
}
