//! The streaming detector: the doctor's spike, divergence and non-finite tests in an online
//! form. Each step's ln(loss) and ln(gradient norm) are scored with a robust z-score against a
//! fixed-size ring of the last accepted (applied) steps; skipped steps never enter the ring, so
//! a burst of bad steps cannot teach the detector that bad is normal.
//!
//! The level is the median of the newest quarter of the ring (little lag while the loss falls
//! fast); the noise scale is the MAD of the step-to-step differences over the whole ring
//! (÷√2), which a falling trend does not inflate the way a plain MAD would.
//!
//! Cost per step: a few selections over a ring of `window` values (64 by default), a few
//! microseconds against tens of milliseconds for a training step (`examples/guard_bench.rs`
//! measures it).

use serde::{Deserialize, Serialize};

use super::window::RollingWindow;
/// Smallest noise scale in log space (0.5%): a perfectly flat window must not turn a
/// rounding-level wobble into an infinite z-score.
const MIN_LOG_SCALE: f64 = 0.005;
/// A batch that starts from a zeroed hidden state (epoch start, after a rollback) has no
/// context for its first tokens and costs more by an amount that grows as BPTT shrinks (about
/// +20% at T = 64 on the built-in corpus): its loss must rise this much more (ln 2, i.e. twice
/// the usual rise factor) to be a spike. A corrupt batch still clears it easily.
const FRESH_STATE_ALLOWANCE: f64 = std::f64::consts::LN_2;
/// Finite steps, accepted or not, whose median is the "recent level" for divergence.
const RECENT_LEVEL: usize = 10;

/// The detector's thresholds (the guard's `[guard]` keys of the same names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Accepted steps in the rolling window the statistics are taken over.
    pub window: usize,
    /// Accepted steps needed before anything but a non-finite value is judged.
    pub warmup: usize,
    /// Robust z-score of ln(loss) against the window that makes a loss spike.
    pub z_loss: f64,
    /// The loss must also be this fraction above the window median (0.2 = 20%).
    pub min_loss_rise: f64,
    /// Robust z-score of ln(gradient norm) that makes a gradient spike.
    pub z_grad: f64,
    /// The gradient norm must also be this many times the window median. Healthy LSTM runs
    /// burst to 5–6× now and then with the loss at its level; a poisoned batch goes well
    /// past 10×.
    pub min_grad_ratio: f64,
    /// Divergence: the recent loss has given back this fraction of the progress made
    /// (from the first window's level down to the best level).
    pub divergence: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            window: 64,
            warmup: 20,
            z_loss: 6.0,
            min_loss_rise: 0.2,
            z_grad: 10.0,
            min_grad_ratio: 10.0,
            divergence: 0.5,
        }
    }
}

impl DetectorConfig {
    /// Checks the thresholds; the error names the key.
    pub fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.window < 2 {
            return Err(("window", "must be at least 2"));
        }
        if self.z_loss.is_nan() || self.z_grad.is_nan() || self.z_loss <= 0.0 || self.z_grad <= 0.0
        {
            return Err(("z_loss", "z thresholds must be positive"));
        }
        if self.min_loss_rise.is_nan()
            || self.min_loss_rise < 0.0
            || self.min_grad_ratio.is_nan()
            || self.min_grad_ratio < 1.0
        {
            return Err(("min_loss_rise", "rise thresholds must be >= 0 (ratio >= 1)"));
        }
        if self.divergence.is_nan() || self.divergence <= 0.0 {
            return Err(("divergence", "must be positive"));
        }
        Ok(())
    }
}

/// What the detector concluded about one step's values, most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Normal,
    NonFinite,
    LossSpike,
    GradSpike,
}

impl Verdict {
    pub fn is_flag(self) -> bool {
        self != Verdict::Normal
    }
}

/// The statistics behind a verdict (written into incident files). Levels are in the
/// series' own units (nats, norm), scales and z-scores in log space.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub verdict: Verdict,
    /// The recent loss level gave back a large part of the progress made (see
    /// [`DetectorConfig::divergence`]); judged over the last few steps, not this one alone.
    pub diverging: bool,
    /// The batch started from a zeroed hidden state (epoch start, after a rollback), so its
    /// loss had to rise further to count as a spike.
    pub fresh_state: bool,
    /// Accepted steps in the window.
    pub window: usize,
    /// Median of the newest accepted steps, and the noise scale of ln(loss).
    pub loss_median: Option<f64>,
    pub loss_log_scale: Option<f64>,
    pub loss_z: Option<f64>,
    pub grad_median: Option<f64>,
    pub grad_log_scale: Option<f64>,
    pub grad_z: Option<f64>,
    /// Median loss of the last few finite steps, and the levels divergence compares it to.
    pub recent_loss: Option<f64>,
    pub initial_loss: Option<f64>,
    pub best_loss: Option<f64>,
}

/// Reusable buffer for the selections; never saved, never compared.
#[derive(Debug, Clone, Default)]
struct Scratch(Vec<f64>);

impl PartialEq for Scratch {
    fn eq(&self, _: &Scratch) -> bool {
        true
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// ln(loss) of accepted steps.
    loss: RollingWindow,
    /// ln(gradient norm) of accepted steps.
    grad: RollingWindow,
    /// ln(loss) of the last finite steps, skipped or not.
    recent: RollingWindow,
    /// ln of the window median once the window first filled to `warmup`.
    initial_level: Option<f64>,
    /// Lowest window median seen (ln).
    best_level: Option<f64>,
    #[serde(skip)]
    scratch: Scratch,
}

/// Robust z of `x` against a level and noise scale in log space, with the scale floored.
fn robust_z(x: f64, level: f64, noise: f64) -> (f64, f64) {
    let scale = noise.max(MIN_LOG_SCALE);
    ((x - level) / scale, scale)
}

impl Detector {
    pub fn new(window: usize) -> Detector {
        Detector {
            loss: RollingWindow::new(window),
            grad: RollingWindow::new(window),
            recent: RollingWindow::new(RECENT_LEVEL),
            initial_level: None,
            best_level: None,
            scratch: Scratch(Vec::with_capacity(window)),
        }
    }

    pub fn accepted(&self) -> usize {
        self.loss.len()
    }

    /// Scores one step. The windows are not changed except the short "recent" one; call
    /// [`Detector::accept`] when the update is applied. With `fresh_state` (the batch started
    /// from a zeroed hidden state) a loss spike must clear `FRESH_STATE_ALLOWANCE` more.
    pub fn assess(
        &mut self,
        loss: f64,
        grad_norm: Option<f64>,
        fresh_state: bool,
        config: &DetectorConfig,
    ) -> Reading {
        let mut reading = Reading {
            verdict: Verdict::Normal,
            diverging: false,
            fresh_state,
            window: self.loss.len(),
            loss_median: None,
            loss_log_scale: None,
            loss_z: None,
            grad_median: None,
            grad_log_scale: None,
            grad_z: None,
            recent_loss: None,
            initial_loss: self.initial_level.map(f64::exp),
            best_loss: self.best_level.map(f64::exp),
        };
        if !loss.is_finite() || grad_norm.is_some_and(|g| !g.is_finite()) {
            reading.verdict = Verdict::NonFinite;
            return reading;
        }
        let ln_loss = loss.max(1e-12).ln();
        self.recent.push(ln_loss);
        let recent = self
            .recent
            .median(&mut self.scratch.0)
            .filter(|_| self.recent.len() >= RECENT_LEVEL);
        let level_steps = (self.loss.capacity() / 4).max(3);
        reading.recent_loss = recent.map(f64::exp);
        let mut loss_spike = false;
        if let Some((median, noise)) = self.loss.level_and_noise(level_steps, &mut self.scratch.0) {
            let (z, scale) = robust_z(ln_loss, median, noise);
            reading.loss_median = Some(median.exp());
            reading.loss_log_scale = Some(scale);
            reading.loss_z = Some(z);
            let allowance = if fresh_state {
                FRESH_STATE_ALLOWANCE
            } else {
                0.0
            };
            loss_spike =
                z >= config.z_loss && ln_loss - median >= config.min_loss_rise.ln_1p() + allowance;
        }
        let mut grad_spike = false;
        let grad_level = match grad_norm {
            Some(_) => self.grad.level_and_noise(level_steps, &mut self.scratch.0),
            None => None,
        };
        if let (Some(g), Some((median, noise))) = (grad_norm, grad_level) {
            let ln_grad = g.max(1e-12).ln();
            let (z, scale) = robust_z(ln_grad, median, noise);
            reading.grad_median = Some(median.exp());
            reading.grad_log_scale = Some(scale);
            reading.grad_z = Some(z);
            grad_spike = z >= config.z_grad && ln_grad - median >= config.min_grad_ratio.ln();
        }
        // A model leaving a plateau (the loss falling far below its window) grows its
        // gradient several-fold: that is learning, not a bad batch.
        if reading.loss_z.is_some_and(|z| z <= -config.z_loss) {
            grad_spike = false;
        }
        if self.loss.len() < config.warmup.max(1) {
            return reading;
        }
        reading.diverging = self.diverged(recent, config);
        reading.verdict = if loss_spike {
            Verdict::LossSpike
        } else if grad_spike {
            Verdict::GradSpike
        } else {
            Verdict::Normal
        };
        reading
    }

    /// The recent level has given back `config.divergence` of the progress from the initial
    /// level to the best one (and at least 10% in loss), or is above the initial level.
    fn diverged(&self, recent: Option<f64>, config: &DetectorConfig) -> bool {
        let (Some(recent), Some(initial), Some(best)) =
            (recent, self.initial_level, self.best_level)
        else {
            return false;
        };
        let progress = (initial - best).max(0.0);
        recent - best > (config.divergence * progress).max(0.1f64.ln_1p())
    }

    /// Adds an applied step to the windows and updates the reference levels.
    pub fn accept(&mut self, loss: f64, grad_norm: Option<f64>, config: &DetectorConfig) {
        if !loss.is_finite() || grad_norm.is_some_and(|g| !g.is_finite()) {
            return;
        }
        self.loss.push(loss.max(1e-12).ln());
        if let Some(g) = grad_norm {
            self.grad.push(g.max(1e-12).ln());
        }
        if self.loss.len() < config.warmup.max(1) {
            return;
        }
        if let Some(median) = self.loss.median(&mut self.scratch.0) {
            self.initial_level.get_or_insert(median);
            self.best_level = Some(self.best_level.map_or(median, |b| b.min(median)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1].
    fn wobble(i: usize) -> f64 {
        ((i as f64 * 12.9898).sin() * 43758.5453).fract()
    }

    fn warmed(config: &DetectorConfig, level: f64) -> Detector {
        let mut d = Detector::new(config.window);
        for i in 0..config.window {
            let loss = level * (1.0 + 0.02 * wobble(i));
            let grad = 0.5 * (1.0 + 0.1 * wobble(i + 1000));
            assert_eq!(
                d.assess(loss, Some(grad), false, config).verdict,
                Verdict::Normal
            );
            d.accept(loss, Some(grad), config);
        }
        d
    }

    #[test]
    fn a_jump_in_loss_is_a_spike_and_noise_is_not() {
        let config = DetectorConfig::default();
        let mut d = warmed(&config, 2.0);
        let r = d.assess(2.05, Some(0.5), false, &config);
        assert_eq!(r.verdict, Verdict::Normal, "{r:?}");
        let r = d.assess(5.0, Some(0.5), false, &config);
        assert_eq!(r.verdict, Verdict::LossSpike, "{r:?}");
        assert!(r.loss_z.unwrap() > 20.0);
        assert!((r.loss_median.unwrap() - 2.0).abs() < 0.05);
        // A large relative jump in a very quiet window still needs `min_loss_rise`.
        let r = d.assess(2.0 * 1.15, Some(0.5), false, &config);
        assert_eq!(r.verdict, Verdict::Normal, "{r:?}");
    }

    #[test]
    fn a_batch_from_a_zeroed_state_may_cost_more() {
        let config = DetectorConfig::default();
        let mut d = warmed(&config, 2.0);
        // An epoch start costs ~20-60% more loss: no spike when the state was reset...
        let r = d.assess(3.2, Some(0.5), true, &config);
        assert_eq!(r.verdict, Verdict::Normal, "{r:?}");
        assert!(r.fresh_state && r.loss_z.unwrap() > 6.0);
        // ...but the same loss from a carried state is one, so is a corrupt batch (random
        // targets cost about ln V) after a reset, and NaN is always caught.
        assert_eq!(
            d.assess(3.2, Some(0.5), false, &config).verdict,
            Verdict::LossSpike
        );
        assert_eq!(
            d.assess(6.0, Some(0.5), true, &config).verdict,
            Verdict::LossSpike
        );
        assert_eq!(
            d.assess(f64::NAN, Some(0.5), true, &config).verdict,
            Verdict::NonFinite
        );
        assert_eq!(
            d.assess(2.0, Some(20.0), true, &config).verdict,
            Verdict::GradSpike
        );
    }

    #[test]
    fn a_gradient_burst_alone_is_a_gradient_spike() {
        let config = DetectorConfig::default();
        let mut d = warmed(&config, 2.0);
        assert_eq!(
            d.assess(2.0, Some(1.2), false, &config).verdict,
            Verdict::Normal
        );
        let r = d.assess(2.0, Some(20.0), false, &config);
        assert_eq!(r.verdict, Verdict::GradSpike, "{r:?}");
    }

    #[test]
    fn a_healthy_sixfold_gradient_burst_is_not_a_spike() {
        // The default run (built-in corpus, LSTM 1x256) at step 975: gradient norm 1.15
        // against a window median of 0.196 (robust z 18.6), the loss at its level. Clipping
        // bounds that update; skipping it only made a healthy run report an intervention.
        let config = DetectorConfig::default();
        let mut d = Detector::new(config.window);
        for i in 0..config.window {
            let (loss, grad) = (
                0.85 * (1.0 + 0.01 * wobble(i)),
                0.196 * (1.0 + 0.05 * wobble(i + 7)),
            );
            d.accept(loss, Some(grad), &config);
        }
        let r = d.assess(0.8504, Some(1.1506), true, &config);
        assert_eq!(r.verdict, Verdict::Normal, "{r:?}");
        assert!(
            r.grad_z.unwrap() > config.z_grad,
            "the z-score alone would flag it"
        );
    }

    #[test]
    fn leaving_the_initial_plateau_is_not_a_spike() {
        // Tiny Shakespeare, 2x512 LSTM, Adam with LR warmup: the loss sits at ln 65 for a
        // dozen steps, then falls while the gradient norm grows elevenfold in five steps.
        let steps = [
            (4.17, 0.26),
            (4.17, 0.25),
            (4.17, 0.24),
            (4.16, 0.26),
            (4.16, 0.24),
            (4.16, 0.26),
            (4.15, 0.25),
            (4.14, 0.26),
            (4.13, 0.26),
            (4.12, 0.28),
            (4.11, 0.30),
            (4.08, 0.34),
            (4.06, 0.37),
            (4.01, 0.46),
            (3.95, 0.59),
            (3.82, 0.88),
            (3.65, 0.94),
            (3.50, 1.31),
            (3.48, 2.85),
            (3.51, 2.87),
            (3.37, 1.81),
            (3.44, 1.92),
            (3.53, 1.94),
            (3.42, 2.07),
            (3.30, 0.95),
        ];
        let config = DetectorConfig::default();
        let mut d = Detector::new(config.window);
        for (i, &(loss, grad)) in steps.iter().enumerate() {
            let r = d.assess(loss, Some(grad), false, &config);
            assert_eq!(r.verdict, Verdict::Normal, "step {i}: {r:?}");
            d.accept(loss, Some(grad), &config);
        }
        // A gradient burst with the loss at its recent level is still a spike.
        let level = d
            .assess(3.4, Some(1.0), false, &config)
            .loss_median
            .unwrap();
        let r = d.assess(level, Some(40.0), false, &config);
        assert_eq!(r.verdict, Verdict::GradSpike, "{r:?}");
    }

    #[test]
    fn non_finite_values_are_flagged_even_before_warmup() {
        let config = DetectorConfig::default();
        let mut d = Detector::new(config.window);
        assert_eq!(
            d.assess(f64::NAN, Some(1.0), false, &config).verdict,
            Verdict::NonFinite
        );
        assert_eq!(
            d.assess(1.0, Some(f64::INFINITY), false, &config).verdict,
            Verdict::NonFinite
        );
        d.accept(f64::NAN, Some(1.0), &config);
        assert_eq!(d.accepted(), 0, "non-finite steps never enter the window");
        // Before warmup nothing else is judged.
        d.accept(1.0, Some(1.0), &config);
        assert_eq!(
            d.assess(100.0, Some(1.0), false, &config).verdict,
            Verdict::Normal
        );
    }

    #[test]
    fn skipped_steps_stay_out_of_the_window() {
        let config = DetectorConfig::default();
        let mut d = warmed(&config, 2.0);
        // A run of bad steps that are all skipped keeps being judged against the good level.
        for _ in 0..200 {
            let r = d.assess(4.0, Some(0.5), false, &config);
            assert!(r.verdict.is_flag(), "{r:?}");
        }
        assert!(
            (d.assess(4.0, Some(0.5), false, &config)
                .loss_median
                .unwrap()
                - 2.0)
                .abs()
                < 0.05
        );
    }

    #[test]
    fn a_slow_climb_that_gives_back_the_progress_is_divergence() {
        let config = DetectorConfig::default();
        let mut d = Detector::new(config.window);
        // Progress from 4 down to 1.5, then a slow accepted climb with no single spike.
        let mut verdicts = Vec::new();
        for i in 0..400 {
            let loss = if i < 200 {
                1.5 + 2.5 * (-(i as f64) / 40.0).exp()
            } else {
                1.5 + (i - 200) as f64 * 0.01
            } * (1.0 + 0.01 * wobble(i));
            let r = d.assess(loss, Some(0.5), false, &config);
            assert_eq!(r.verdict, Verdict::Normal, "no single step stands out");
            verdicts.push(r.diverging);
            d.accept(loss, Some(0.5), &config);
        }
        assert!(verdicts[..220].iter().all(|v| !v));
        let first = verdicts.iter().position(|v| *v);
        // Half the progress (≈1.25 nats on the log scale ≈ loss 2.4 or so) is given back by ~300.
        assert!(
            first.is_some_and(|f| (250..350).contains(&f)),
            "first divergence at {first:?}"
        );
    }
}
