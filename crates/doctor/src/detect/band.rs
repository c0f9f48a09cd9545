//! The noise band: how widely the raw points scatter around their running median, early and
//! late in the run. A stable band is a sign of health; one that widens several-fold while the
//! run goes on says the optimizer started bouncing (a learning rate too high for where the run
//! now is, or loss terms that fight each other).

use serde_json::json;

use crate::detect::stats::{median, robust_sd, rolling_median};
use crate::detect::{finding, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};

/// How many times wider the late band must be than the early one to count as widening, and
/// how wide it must be at least (relative spread).
const WIDENS: f64 = 5.0;
const WIDE_LATE: f64 = 0.05;
/// How many times wider the late band must be in loss units.
const WIDENS_ABSOLUTE: f64 = 2.0;

/// Relative spread (robust sd of the residuals against a rolling median, over the level) of
/// the second and the last fifth of the training points, with their median levels.
#[derive(Debug, Clone, Copy)]
pub struct NoiseBand {
    pub early: f64,
    pub late: f64,
    pub early_level: f64,
    pub late_level: f64,
}

pub fn noise_band(ctx: &Ctx) -> Option<NoiseBand> {
    let n = ctx.train.len();
    if n < 100 {
        return None;
    }
    let part = |a: usize, b: usize| {
        let xs: Vec<f64> = ctx.train[a..b].iter().map(|p| p.value).collect();
        let base = rolling_median(&xs, 5);
        let r: Vec<f64> = xs
            .iter()
            .zip(&base)
            .map(|(x, m)| (x - m) / m.abs().max(1e-9))
            .collect();
        (robust_sd(&r), median(&xs))
    };
    let ((early, early_level), (late, late_level)) = (part(n / 5, 2 * n / 5), part(4 * n / 5, n));
    Some(NoiseBand {
        early,
        late,
        early_level,
        late_level,
    })
}

/// The band widening [`WIDENS`]-fold to at least [`WIDE_LATE`] of the level, and at least
/// [`WIDENS_ABSOLUTE`]-fold in the loss's own units: a loss falling toward zero keeps some
/// absolute scatter (an epoch's mean over batches, a few hard examples), so its relative
/// spread grows without the optimizer bouncing any more than before.
pub fn widening(ctx: &Ctx) -> Option<Finding> {
    let b = noise_band(ctx)?;
    let absolute = (b.late * b.late_level.abs()) / (b.early * b.early_level.abs()).max(1e-300);
    if b.late < WIDENS * b.early || b.late < WIDE_LATE || absolute < WIDENS_ABSOLUTE {
        return None;
    }
    let n = ctx.train.len();
    let (from, to) = (ctx.train[4 * n / 5].step, ctx.last_step());
    Some(finding(
        FindingKind::Oscillation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "The loss band widens from ±{:.1}% of the level early in the run to ±{:.1}% at the end \
             ({:.0}× wider): the optimizer bounces where it used to settle.",
            100.0 * b.early,
            100.0 * b.late,
            b.late / b.early.max(1e-12)
        ),
        json!({ "relative_spread_early": b.early, "relative_spread_late": b.late,
                "level_early": b.early_level, "level_late": b.late_level }),
        "Decay the learning rate from where the band widens (or lower it ×0.3); with a loss that is a sum \
         of terms, reweight or normalise the terms that swing.",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{curve, run_with, Noise};
    use crate::Point;

    fn run(late_sd: f64) -> crate::Run {
        // A smooth decline with ±0.3 % noise that turns to ±`late_sd` (relative) after 60 %.
        let mut rng = Noise::new(31);
        let loss: Vec<Point> = curve(150, |i| 0.1 + 0.4 * (-(i as f64) / 20.0).exp())
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let sd = if i < 90 { 0.003 } else { late_sd };
                Point {
                    value: p.value * (1.0 + sd * rng.normal()),
                    ..p
                }
            })
            .collect();
        run_with(loss, None)
    }

    #[test]
    fn a_band_that_widens_twentyfold_is_oscillation_and_a_steady_one_is_not() {
        let f = widening(&Ctx::new(&run(0.15))).expect("widened band");
        assert_eq!(f.kind, FindingKind::Oscillation);
        assert!(widening(&Ctx::new(&run(0.003))).is_none());
        // Twice as wide is within what a falling loss does to a relative spread.
        assert!(widening(&Ctx::new(&run(0.006))).is_none());
    }

    #[test]
    fn a_relative_band_that_widens_only_because_the_loss_fell_is_not_oscillation() {
        // Epoch means falling from 3 to 0.15 with the same ±0.012 absolute scatter throughout:
        // ±0.6 % of the level early, ±8 % at the end, but no wider in loss units.
        let mut rng = Noise::new(5);
        let loss = curve(100, |i| 0.1 + 2.9 * (-(i as f64) / 22.0).exp())
            .into_iter()
            .map(|p| Point {
                value: p.value + 0.012 * rng.normal(),
                ..p
            })
            .collect();
        let run = run_with(loss, None);
        let ctx = Ctx::new(&run);
        let b = noise_band(&ctx).unwrap();
        assert!(b.late > WIDENS * b.early && b.late > WIDE_LATE, "{b:?}");
        assert!(widening(&ctx).is_none());
    }
}
