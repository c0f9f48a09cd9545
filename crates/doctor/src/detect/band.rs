//! The noise band: how widely the raw points scatter around their running median, early and
//! late in the run. A stable band is a sign of health; one that widens several-fold while the
//! run goes on says the optimizer started bouncing (a learning rate too high for where the run
//! now is, or loss terms that fight each other). A band that is wide and bursts upward while
//! the loss still falls says the same (`wide_band_while_improving`, called by the progress
//! judgement, which owns the trend). A band that climbs back above a uniform guess again and
//! again is instability as well (`crossing_uniform`), and a validation curve that jumps by
//! factors between evaluations is a band of its own (`validation_swings`).

use serde_json::json;

use crate::detect::stats::{median, quantile, robust_sd, rolling_median};
use crate::detect::trend::Trend;
use crate::detect::{finding, num, step_str, Ctx, Span};
use crate::report::{Finding, FindingKind, Severity};
use crate::Point;

/// How many times wider the late band must be than the early one to count as widening, and
/// how wide it must be at least (relative spread).
const WIDENS: f64 = 5.0;
const WIDE_LATE: f64 = 0.05;
/// How many times wider the late band must be in loss units.
const WIDENS_ABSOLUTE: f64 = 2.0;
/// Relative noise above which a language model's still-falling loss is called oscillating.
const WIDE_LM_NOISE: f64 = 0.10;

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
/// spread grows without the optimizer bouncing any more than before. Without a vocabulary, a
/// late band of 40 points or more must also bounce (bursts upward or runs of high points, see
/// [`band_shape`]), not only be wide: fewer points do not show their shape.
pub fn widening(ctx: &Ctx) -> Option<Finding> {
    let b = noise_band(ctx)?;
    // A model sitting at a uniform guess outputs the same thing for every batch: its tight
    // band early is no place the optimizer settled.
    let n = ctx.train.len();
    let early_end = ctx.train[2 * n / 5 - 1].step;
    if crate::detect::chance::stalled_at_chance_first(ctx)
        .is_some_and(|f| f.end_step.is_some_and(|e| e >= early_end))
    {
        return None;
    }
    let absolute = (b.late * b.late_level.abs()) / (b.early * b.early_level.abs()).max(1e-300);
    if b.late < WIDENS * b.early || b.late < WIDE_LATE || absolute < WIDENS_ABSOLUTE {
        return None;
    }
    let (from, to) = (ctx.train[4 * n / 5].step, ctx.last_step());
    // Without a vocabulary the loss may be a classifier's batch mean, which spreads as most
    // examples reach near zero and a few stay wrong (±7 % at 0.68, ±40 % at 0.24): a late band
    // of independent, symmetric draws (on the log scale) is then that scatter, no bounce. A
    // language model's per-token mean over a batch has no such spread to grow.
    let shape = band_shape(&ctx.train, from, to);
    if ctx.refs.ln_vocab.is_none() && shape.points >= 40 && shape.looks_like_sampling() {
        return None;
    }
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

/// A language model's loss is a mean over the tokens of a batch. A band wider than
/// [`WIDE_LM_NOISE`] of the level (robust sd) whose shape says the optimizer bounces (see
/// [`band_shape`]) is oscillation even while the trend still falls: the LR is too high (or the
/// batch too small) for where the run is. Only with a known vocabulary, where the loss is
/// known to be a per-token mean.
pub fn wide_band_while_improving(
    ctx: &Ctx,
    band: f64,
    train: &Trend,
    val: Option<Trend>,
    rate_text: &str,
) -> Option<Finding> {
    // Only with a known vocabulary.
    ctx.refs.ln_vocab?;
    if band < WIDE_LM_NOISE {
        return None;
    }
    // Small batches alone also give a wide band, but of independent, near-symmetric draws.
    // An optimizer bouncing leaves a mark sampling cannot: bursts upward (the loss jumps after
    // a bad step and falls back) and deviations that persist from one logged point to the next.
    let shape = band_shape(&ctx.train, train.from, train.to);
    if shape.looks_like_sampling() {
        return None;
    }
    Some(finding(
        FindingKind::Oscillation,
        Severity::Warning,
        Span::range(train.from, train.to),
        format!(
            "Loss swings in a wide band (robust sd {:.0}% of the level {}) with bursts upward, as \
             after overshooting optimizer steps, from step {} to {}{}; it still falls ({rate_text}), \
             but slower and noisier than at a lower LR.",
            100.0 * band,
            num(train.level),
            step_str(train.from),
            step_str(train.to),
            val.map_or(String::new(), |v| format!(", validation at {}", num(v.level)))
        ),
        json!({ "relative_noise": band, "level": train.level, "wide_above": WIDE_LM_NOISE,
                "upward_skew": shape.upward_skew, "lag1_autocorrelation": shape.lag1,
                "lr_at_end": ctx.lr_at(train.to) }),
        "Lower the learning rate ×0.3 or raise the batch size ×4 (or accumulate gradients); decay the LR \
         as the loss falls.",
    ))
}

pub(crate) struct BandShape {
    /// (q90 − median) / (median − q10) of the residuals: 1 for symmetric noise.
    pub(crate) upward_skew: f64,
    /// Lag-1 autocorrelation of the residuals: 0 for independent batches.
    pub(crate) lag1: f64,
    /// How many points the shape was read from (the lag-1 estimate's error is ~1/√n).
    pub(crate) points: usize,
}

impl BandShape {
    /// Independent, near-symmetric draws: what small batches' losses give, with no mark of an
    /// optimizer bouncing (bursts upward, deviations that persist).
    pub(crate) fn looks_like_sampling(&self) -> bool {
        self.upward_skew < 1.5 && self.lag1 < 0.15
    }
}

/// How the raw points over `[from, to]` scatter around their rolling median (of their logs,
/// where the band is a quarter of the level or wider).
pub(crate) fn band_shape(points: &[Point], from: f64, to: f64) -> BandShape {
    // A window that starts after it ends (a plateau found after the judging window) is empty.
    let a = points.partition_point(|p| p.step < from);
    let b = points.partition_point(|p| p.step <= to).max(a);
    let mut xs: Vec<f64> = points[a..b].iter().map(|p| p.value).collect();
    let base = rolling_median(&xs, 5);
    let mut r: Vec<f64> = xs.iter().zip(&base).map(|(x, m)| x - m).collect();
    let wide = robust_sd(&r) >= 0.25 * median(&xs).abs();
    // A loss bounded by zero that scatters by a quarter of its level or more (a classifier's
    // batch loss near its floor) scatters by factors: sampling is symmetric on the log scale,
    // and on the linear one its long upper tail would read as bursts upward.
    if wide && xs.iter().all(|v| *v > 0.0) {
        xs.iter_mut().for_each(|v| *v = v.ln());
        let base = rolling_median(&xs, 5);
        r = xs.iter().zip(&base).map(|(x, m)| x - m).collect();
    }
    let (q10, q50, q90) = (quantile(&r, 0.1), quantile(&r, 0.5), quantile(&r, 0.9));
    let upward_skew = (q90 - q50) / (q50 - q10).max(1e-12);
    let mean = r.iter().sum::<f64>() / r.len().max(1) as f64;
    let var: f64 = r.iter().map(|v| (v - mean).powi(2)).sum();
    let cov: f64 = r.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
    let lag1 = if var > 0.0 { cov / var } else { 0.0 };
    BandShape {
        upward_skew,
        lag1,
        points: xs.len(),
    }
}

/// Robust spread of the raw points around their rolling median, relative to the level.
pub fn relative_noise(points: &[Point], from: f64, to: f64, level: f64) -> f64 {
    let a = points.partition_point(|p| p.step < from);
    let b = points.partition_point(|p| p.step <= to).max(a);
    let xs: Vec<f64> = points[a..b].iter().map(|p| p.value).collect();
    let base = rolling_median(&xs, 5);
    let r: Vec<f64> = xs.iter().zip(&base).map(|(x, m)| x - m).collect();
    robust_sd(&r) * (11.0f64 / 10.0).sqrt() / level.abs().max(1e-9)
}

/// Fewest climbs of a band above the uniform guess's loss that make it instability.
const MIN_UNIFORM_CROSSINGS: usize = 3;

/// A wide band whose swings climb back above ln V, the loss of a uniform guess, again and
/// again (three or more separate climbs, each from under it): every climb throws away all the
/// model had learned, and it learns it again. That is repeated bad stretches, instability,
/// beside the band itself (a band below ln V is only noise). Needs a known vocabulary.
pub fn crossing_uniform(ctx: &Ctx, findings: &[Finding]) -> Option<Finding> {
    let ln_vocab = ctx.refs.ln_vocab?;
    let band = findings
        .iter()
        .find(|f| f.kind == FindingKind::Oscillation && f.severity >= Severity::Warning)?;
    let (from, to) = (band.start_step?, band.end_step?);
    let (mut crossings, mut below, mut first) = (0, false, None);
    for p in ctx.train.iter().filter(|p| p.step >= from && p.step <= to) {
        if p.value > ln_vocab && below {
            crossings += 1;
            first.get_or_insert(p.step);
        }
        below = p.value < ln_vocab;
    }
    if crossings < MIN_UNIFORM_CROSSINGS {
        return None;
    }
    Some(finding(
        FindingKind::Instability,
        Severity::Warning,
        Span::range(from, to).with_peak(first?),
        format!(
            "Inside the band the loss climbs back above ln V = {} (a uniform guess) {crossings} \
             times between steps {} and {}: each climb throws away what the model had learned.",
            num(ln_vocab),
            step_str(from),
            step_str(to)
        ),
        json!({ "ln_vocab": ln_vocab, "crossings": crossings, "first_crossing_step": first }),
        "Lower the learning rate ×0.1 (the updates overshoot far enough to undo training) and clip \
         gradients at 1.0; raise the batch size if it is below 16.",
    ))
}

/// Fewest evaluations for validation's swings to be judged.
const MIN_SWING_EVALS: usize = 6;

/// Validation that jumps by a factor of two or more from one evaluation to the next, as its
/// typical move (the median over its evaluations after the first): whatever its trend, the
/// evaluated model, or the evaluation, is erratic (a learning rate too high for
/// where the run is, batch-norm statistics from tiny batches, a validation set of a few
/// dozen examples). A model's loss on fixed held-out data moves gradually between
/// evaluations; a classifier's 3.29, 0.92, 1.43, 1.85, 0.58, 2.30, 0.17, 1.52, 0.14, 2.81
/// says nothing about where it stands.
pub fn validation_swings(ctx: &Ctx) -> Option<Finding> {
    let val: Vec<&Point> = ctx.val.iter().filter(|p| p.value > 0.0).collect();
    if ctx.train_is_val || val.len() < MIN_SWING_EVALS {
        return None;
    }
    let moves: Vec<f64> = val[1..]
        .windows(2)
        .map(|w| (w[1].value / w[0].value).ln().abs())
        .collect();
    let typical = median(&moves);
    // Near zero a ratio says little (0.0004 → 0.0008 is a factor of two and nothing on the
    // run's scale): the typical move must also be a tenth of where the run started.
    let steps: Vec<f64> = val[1..]
        .windows(2)
        .map(|w| (w[1].value - w[0].value).abs())
        .collect();
    let scale = ctx.init_level().abs().max(val[0].value);
    if typical < std::f64::consts::LN_2 || median(&steps) < 0.1 * scale {
        return None;
    }
    let values: Vec<f64> = val.iter().map(|p| p.value).collect();
    let (lo, hi) = (quantile(&values, 0.0), quantile(&values, 1.0));
    let (from, to) = (val[1].step, val[val.len() - 1].step);
    Some(finding(
        FindingKind::Oscillation,
        Severity::Warning,
        Span::range(from, to),
        format!(
            "Validation loss swings by a factor of {:.1} from one evaluation to the next (typical \
             move, steps {}–{}), between {} and {}: the evaluated model, or the evaluation, is \
             erratic, and where the run stands on held-out data is unknown.",
            typical.exp(),
            step_str(from),
            step_str(to),
            num(lo),
            num(hi)
        ),
        json!({ "typical_ratio": typical.exp(), "evaluations": val.len(), "val_min": lo, "val_max": hi }),
        "Lower the learning rate ×0.3; with batch norm and small batches, evaluate in train-mode \
         statistics or raise the batch size; enlarge the validation set if it holds only a few \
         dozen examples; check that evaluation uses model.eval() and the same preprocessing.",
    ))
}

/// Takes out the band `progress::detect` read as the batches' scatter: no finding, but a
/// reason a healthy verdict gives.
pub fn take_sampling_band(findings: &mut Vec<Finding>) -> Option<String> {
    let i = findings
        .iter()
        .position(|f| f.severity == Severity::Info && f.evidence.get("sampling").is_some())?;
    Some(findings.remove(i).summary)
}

/// Why the evidence is thin when the only band found is one no vocabulary or validation can
/// tell from batch noise.
pub fn unexplained_band(findings: &[Finding]) -> Option<Vec<String>> {
    let f = findings.iter().find(|f| {
        f.kind == FindingKind::Oscillation
            && f.severity == Severity::Info
            && f.evidence.get("unexplained").is_some()
    })?;
    let band = f.evidence.get("relative_noise").and_then(|v| v.as_f64())?;
    Some(vec![format!(
        "after its drop the loss moves in a band of ±{:.0}% with no progress; with no vocabulary \
         size and no validation losses that cannot be told from the scatter of small batches \
         (normal) or steps too large to settle (oscillation): share validation losses, or the \
         batch size and learning rate",
        100.0 * band
    )])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{curve, per_epoch, run_with, Noise};
    use crate::Point;

    /// A smooth decline over 250 points with ±0.3 % noise that turns to ±`late_sd` (relative,
    /// on the log scale) after 60 %: with `bursts`, every seventh point jumps up by three
    /// widths, as after an overshooting step; without, the draws are independent and
    /// symmetric, as sampling gives.
    fn widening_run(late_sd: f64, bursts: bool, vocab: Option<usize>) -> crate::Run {
        let mut rng = Noise::new(31);
        let loss: Vec<Point> = curve(250, |i| 0.1 + 0.4 * (-(i as f64) / 33.0).exp())
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let sd = if i < 150 { 0.003 } else { late_sd };
                let burst = if bursts && i % 7 == 0 { 3.0 } else { 0.0 };
                Point {
                    value: p.value * (sd * (rng.normal() + burst)).exp(),
                    ..p
                }
            })
            .collect();
        run_with(loss, vocab)
    }

    fn run(late_sd: f64) -> crate::Run {
        widening_run(late_sd, true, None)
    }

    #[test]
    fn a_band_that_climbs_above_a_uniform_guess_again_and_again_is_instability() {
        // A word model (V = 1000, ln V = 6.91) at an LR far too high: its loss swings 4.9-8.9
        // around 6.5. A band is an Oscillation finding; its climbs over ln V are the run
        // throwing away what it learned, each time.
        let mut rng = Noise::new(7);
        let mut swings = |centre: f64| -> Vec<Point> {
            curve(300, |_| 0.0)
                .into_iter()
                .map(|p| Point {
                    value: centre + 0.9 * rng.normal(),
                    ..p
                })
                .collect()
        };
        let band = finding(
            FindingKind::Oscillation,
            Severity::Warning,
            Span::range(0.0, 299.0),
            "a wide band".into(),
            json!({}),
            "",
        );
        let run = run_with(swings(6.5), Some(1000));
        let f = crossing_uniform(&Ctx::new(&run), std::slice::from_ref(&band)).expect("crosses");
        assert_eq!(f.kind, FindingKind::Instability);
        // The same band two nats lower never reaches a uniform guess: only a band.
        let lower = run_with(swings(4.5), Some(1000));
        assert!(crossing_uniform(&Ctx::new(&lower), std::slice::from_ref(&band)).is_none());
        // Without a vocabulary there is no uniform guess to cross.
        let unknown = run_with(swings(6.5), None);
        assert!(crossing_uniform(&Ctx::new(&unknown), std::slice::from_ref(&band)).is_none());
    }

    #[test]
    fn validation_jumping_by_factors_between_evaluations_is_oscillation() {
        // A binary image classifier (a Cross Validated question, blind batch 113): training
        // falls steadily while validation jumps 3.29, 0.92, 1.43, 1.85, 0.58, 2.30, 0.17 ….
        let train = [2.27, 1.55, 1.07, 0.87, 0.59, 0.52, 0.38, 0.32, 0.21, 0.34];
        let val = [3.29, 0.92, 1.43, 1.85, 0.58, 2.30, 0.17, 1.52, 0.14, 2.81];
        let mut run = run_with(per_epoch(&train), None);
        run.val_loss = per_epoch(&val);
        let f = validation_swings(&Ctx::new(&run)).expect("swings");
        assert_eq!(f.kind, FindingKind::Oscillation);
        // A validation that moves gradually (a few percent between evaluations) is not.
        run.val_loss = per_epoch(&[1.9, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.78, 0.77, 0.76]);
        assert!(validation_swings(&Ctx::new(&run)).is_none());
        // Near zero a factor of two is nothing on the run's scale (an almost perfect
        // classifier's 0.0155, 0.0013, 0.0008, 0.0076 … after a start at 0.34).
        let tiny: Vec<f64> = val.iter().map(|v| v * 0.004).collect();
        run.val_loss = per_epoch(&tiny);
        assert!(validation_swings(&Ctx::new(&run)).is_none());
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
    fn a_widened_band_of_independent_draws_is_a_classifiers_scatter_unless_the_loss_is_per_token() {
        // The same twentyfold widening as independent, symmetric draws: with no vocabulary, the
        // batch mean of a classifier whose examples mostly reach near zero (task draw 80: ±7 %
        // at 0.68, ±40 % at 0.24). A language model's per-token mean has no such spread.
        assert!(widening(&Ctx::new(&widening_run(0.15, false, None))).is_none());
        let lm = widening_run(0.15, false, Some(50));
        assert!(widening(&Ctx::new(&lm)).is_some());
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
    #[test]
    fn a_band_measured_while_the_model_sat_at_chance_is_no_settled_band() {
        // At ln 10 for the first 40 % (the model outputs the same for every batch: ±0.1 %),
        // then a minibatch loss near 0.08 scattering ±30 %: wider, but never settled before.
        let mut rng = Noise::new(3);
        let loss: Vec<Point> = (0..250)
            .map(|i| {
                let level = if i < 100 {
                    std::f64::consts::LN_10 * (1.0 + 0.001 * rng.normal())
                } else {
                    let mean = 0.07 + 2.0 * (-((i - 100) as f64) / 10.0).exp();
                    mean * (1.0 + 0.3 * rng.normal())
                };
                Point {
                    step: (i + 1) as f64,
                    value: level,
                }
            })
            .collect();
        let ctx_run = run_with(loss, None);
        let ctx = Ctx::new(&ctx_run);
        let b = noise_band(&ctx).unwrap();
        assert!(b.late > WIDENS * b.early, "{b:?}");
        assert!(widening(&ctx).is_none());
    }
}
