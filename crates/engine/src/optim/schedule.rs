//! Learning-rate schedules. [`LrSchedule::lr_at`] is a pure function of the step, so a resumed
//! run needs only the step count; [`ReduceOnPlateau`] reacts to validation losses and so keeps
//! (serialisable) state.
//!
//! `step` is the 0-based index of the update about to be applied. A linear warmup of
//! `warmup_steps` ramps `base_lr · (step + 1) / warmup_steps`; the decay shape's clock starts at
//! 0 when the warmup ends, so e.g. `Cosine { total_steps }` counts steps after warmup.

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

use crate::{EngineError, Result};

/// The decay shape, after any warmup. Formulas are PyTorch's closed forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    Constant,
    /// `base · gamma^⌊step / step_size⌋` (`StepLR`).
    /// With `first_decay` set, the first decay comes at that step and then every
    /// `step_size` (`base · gamma^(⌊(step − first)/step_size⌋ + 1)`), e.g. Zaremba et al.'s
    /// "halve every epoch after the fourth"; unset it is `StepLR` (first decay at `step_size`).
    Step {
        step_size: u64,
        gamma: f64,
        #[serde(default)]
        first_decay: Option<u64>,
    },
    /// `base · gamma^step` (`ExponentialLR`).
    Exponential {
        gamma: f64,
    },
    /// Half a cosine from `base` to `min_lr` over `total_steps`, then `min_lr`
    /// (`CosineAnnealingLR` without its periodic continuation).
    Cosine {
        total_steps: u64,
        #[serde(default)]
        min_lr: f64,
    },
    /// Cosine from `base` to `min_lr` over periods `t0, t0·t_mult, t0·t_mult², …`, jumping
    /// back to `base` at each restart (`CosineAnnealingWarmRestarts`).
    CosineWarmRestarts {
        t0: u64,
        #[serde(default = "one")]
        t_mult: u64,
        #[serde(default)]
        min_lr: f64,
    },
}

fn one() -> u64 {
    1
}

fn cosine(base: f64, min_lr: f64, t: f64, period: f64) -> f64 {
    min_lr + (base - min_lr) * (1.0 + (PI * t / period).cos()) / 2.0
}

impl Schedule {
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(EngineError::Config(format!("lr schedule: {msg}")));
        let gamma_ok = |g: f64| g > 0.0 && g.is_finite();
        let min_ok = |m: f64| m >= 0.0 && m.is_finite();
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step {
                step_size, gamma, ..
            } => {
                if step_size == 0 || !gamma_ok(gamma) {
                    return bad(format!(
                        "step needs step_size > 0 and gamma > 0, got {step_size} and {gamma}"
                    ));
                }
                Ok(())
            }
            Schedule::Exponential { gamma } if !gamma_ok(gamma) => {
                bad(format!("exponential gamma must be > 0, got {gamma}"))
            }
            Schedule::Exponential { .. } => Ok(()),
            Schedule::Cosine {
                total_steps,
                min_lr,
            } => {
                if total_steps == 0 || !min_ok(min_lr) {
                    return bad(format!(
                        "cosine needs total_steps > 0 and min_lr >= 0, got {total_steps} and {min_lr}"
                    ));
                }
                Ok(())
            }
            Schedule::CosineWarmRestarts { t0, t_mult, min_lr } => {
                if t0 == 0 || t_mult == 0 || !min_ok(min_lr) {
                    return bad(format!(
                        "cosine_warm_restarts needs t0 > 0, t_mult >= 1, min_lr >= 0, got {t0}, {t_mult}, {min_lr}"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Learning rate at `step` of the decay phase.
    pub fn lr_at(&self, base_lr: f32, step: u64) -> f32 {
        let base = base_lr as f64;
        let lr = match *self {
            Schedule::Constant => base,
            Schedule::Step {
                step_size,
                gamma,
                first_decay,
            } => {
                let size = step_size.max(1);
                let first = first_decay.unwrap_or(size);
                let decays = if step < first {
                    0
                } else {
                    (step - first) / size + 1
                };
                base * gamma.powf(decays as f64)
            }
            Schedule::Exponential { gamma } => base * gamma.powf(step as f64),
            Schedule::Cosine {
                total_steps,
                min_lr,
            } => {
                if step >= total_steps {
                    min_lr
                } else {
                    cosine(base, min_lr, step as f64, total_steps as f64)
                }
            }
            Schedule::CosineWarmRestarts { t0, t_mult, min_lr } => {
                let (t_cur, period) = restart_position(step, t0.max(1), t_mult.max(1));
                cosine(base, min_lr, t_cur as f64, period as f64)
            }
        };
        lr as f32
    }
}

/// Position inside the current period and that period's length, in whole steps (exact,
/// unlike PyTorch's float logarithm).
fn restart_position(step: u64, t0: u64, t_mult: u64) -> (u64, u64) {
    if t_mult == 1 {
        return (step % t0, t0);
    }
    let (mut t_cur, mut period) = (step, t0);
    while t_cur >= period {
        t_cur -= period;
        period = period.saturating_mul(t_mult);
    }
    (t_cur, period)
}

/// A decay [`Schedule`] behind an optional linear warmup; reads flat from a config, e.g.
/// `{"kind": "cosine", "total_steps": 10000, "min_lr": 1e-5, "warmup_steps": 500}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    #[serde(flatten)]
    pub schedule: Schedule,
    #[serde(default)]
    pub warmup_steps: u64,
}

impl LrSchedule {
    pub fn new(schedule: Schedule, warmup_steps: u64) -> Result<Self> {
        schedule.validate()?;
        Ok(LrSchedule {
            schedule,
            warmup_steps,
        })
    }

    pub fn validate(&self) -> Result<()> {
        self.schedule.validate()
    }

    /// Learning rate for the update with 0-based index `step`.
    pub fn lr_at(&self, base_lr: f32, step: u64) -> f32 {
        if step < self.warmup_steps {
            let ramp = (step + 1) as f64 / self.warmup_steps as f64;
            return (base_lr as f64 * ramp) as f32;
        }
        self.schedule.lr_at(base_lr, step - self.warmup_steps)
    }
}

/// How much better a loss must be than the best so far to count as an improvement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// `loss < best · (1 − threshold)`.
    #[default]
    Rel,
    /// `loss < best − threshold`.
    Abs,
}

/// Defaults follow PyTorch's word-language-model example: divide the rate by 4 after any
/// validation loss that does not strictly beat the best so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlateauConfig {
    pub factor: f64,
    /// Evaluations without improvement tolerated before reducing.
    pub patience: u32,
    pub threshold: f64,
    pub threshold_mode: ThresholdMode,
    /// Evaluations to wait after a reduction before counting bad ones again.
    pub cooldown: u32,
    /// The rate is never reduced below this.
    pub min_lr: f64,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        PlateauConfig {
            factor: 0.25,
            patience: 0,
            threshold: 0.0,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// `ReduceLROnPlateau` (mode "min") as a multiplier on whatever the schedule gives, so it
/// composes with warmup and decay; `apply` never raises a rate and never cuts below `min_lr`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceOnPlateau {
    pub config: PlateauConfig,
    /// Best loss seen (None before the first finite one; JSON has no infinity).
    best: Option<f64>,
    bad_evaluations: u32,
    cooldown_left: u32,
    scale: f64,
    reductions: u32,
}

impl ReduceOnPlateau {
    pub fn new(config: PlateauConfig) -> Result<Self> {
        let c = &config;
        if !(c.factor > 0.0 && c.factor < 1.0) {
            return Err(EngineError::Config(format!(
                "reduce-on-plateau factor must be in (0, 1), got {}",
                c.factor
            )));
        }
        if !(c.threshold >= 0.0
            && c.threshold.is_finite()
            && c.min_lr >= 0.0
            && c.min_lr.is_finite())
        {
            return Err(EngineError::Config(format!(
                "reduce-on-plateau threshold ({}) and min_lr ({}) must be finite and >= 0",
                c.threshold, c.min_lr
            )));
        }
        Ok(ReduceOnPlateau {
            config,
            best: None,
            bad_evaluations: 0,
            cooldown_left: 0,
            scale: 1.0,
            reductions: 0,
        })
    }

    fn is_better(&self, loss: f64) -> bool {
        let Some(best) = self.best else {
            return loss.is_finite();
        };
        let t = self.config.threshold;
        match self.config.threshold_mode {
            ThresholdMode::Rel => loss < best * (1.0 - t),
            ThresholdMode::Abs => loss < best - t,
        }
    }

    /// Feeds one validation loss; returns true when it triggered a reduction. A NaN loss
    /// counts as no improvement.
    pub fn observe(&mut self, loss: f64) -> bool {
        if self.is_better(loss) {
            self.best = Some(loss);
            self.bad_evaluations = 0;
        } else {
            self.bad_evaluations += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_evaluations = 0;
        }
        if self.bad_evaluations > self.config.patience {
            self.scale *= self.config.factor;
            self.reductions += 1;
            self.cooldown_left = self.config.cooldown;
            self.bad_evaluations = 0;
            return true;
        }
        false
    }

    /// Product of all reductions so far.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn reductions(&self) -> u32 {
        self.reductions
    }

    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The reduced rate for a scheduled `lr`: `max(lr · scale, min(min_lr, lr))`.
    pub fn apply(&self, lr: f32) -> f32 {
        if self.scale == 1.0 {
            return lr;
        }
        let reduced = (lr as f64 * self.scale) as f32;
        reduced.max((self.config.min_lr as f32).min(lr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() <= 1e-6 * b.abs().max(1e-3)
    }

    fn plain(schedule: Schedule) -> LrSchedule {
        LrSchedule::new(schedule, 0).unwrap()
    }

    #[test]
    fn step_and_exponential() {
        let s = plain(Schedule::Step {
            step_size: 10,
            gamma: 0.5,
            first_decay: None,
        });
        let got: Vec<f32> = [0, 9, 10, 19, 20, 35].map(|t| s.lr_at(1.0, t)).to_vec();
        assert_eq!(got, vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.125]);
        // Zaremba et al.: 4 epochs of 10 steps at full rate, then halved every epoch.
        let z = plain(Schedule::Step {
            step_size: 10,
            gamma: 0.5,
            first_decay: Some(40),
        });
        let got: Vec<f32> = [0, 39, 40, 49, 50, 60].map(|t| z.lr_at(1.0, t)).to_vec();
        assert_eq!(got, vec![1.0, 1.0, 0.5, 0.5, 0.25, 0.125]);
        let e = plain(Schedule::Exponential { gamma: 0.9 });
        assert_eq!(e.lr_at(2.0, 0), 2.0);
        assert!(close(e.lr_at(2.0, 3), 2.0 * 0.729));
    }

    #[test]
    fn cosine_hits_start_midpoint_floor() {
        let s = plain(Schedule::Cosine {
            total_steps: 100,
            min_lr: 0.1,
        });
        assert_eq!(s.lr_at(1.0, 0), 1.0);
        assert!(close(s.lr_at(1.0, 50), 0.55), "{}", s.lr_at(1.0, 50));
        // A quarter of the way: 0.1 + 0.9 · (1 + cos(π/4)) / 2.
        let quarter = 0.1 + 0.9 * (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0;
        assert!(close(s.lr_at(1.0, 25), quarter));
        assert!(close(s.lr_at(1.0, 100), 0.1));
        assert!(close(s.lr_at(1.0, 5000), 0.1), "stays at the floor");
        // Monotone non-increasing.
        let lrs: Vec<f32> = (0..=100).map(|t| s.lr_at(1.0, t)).collect();
        assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn warm_restarts_jump_back_at_period_boundaries() {
        let s = plain(Schedule::CosineWarmRestarts {
            t0: 10,
            t_mult: 2,
            min_lr: 0.0,
        });
        // Periods: [0, 10), [10, 30), [30, 70).
        for restart in [0, 10, 30, 70] {
            assert_eq!(s.lr_at(1.0, restart), 1.0, "restart at {restart}");
        }
        assert!(close(s.lr_at(1.0, 5), 0.5));
        assert!(close(s.lr_at(1.0, 20), 0.5));
        assert!(close(s.lr_at(1.0, 50), 0.5));
        assert!(s.lr_at(1.0, 29) < 0.01 && s.lr_at(1.0, 9) < 0.03);
        let flat = plain(Schedule::CosineWarmRestarts {
            t0: 4,
            t_mult: 1,
            min_lr: 0.2,
        });
        assert_eq!(flat.lr_at(1.0, 4), 1.0);
        assert!(close(flat.lr_at(1.0, 6), 0.6));
        assert!(close(flat.lr_at(1.0, 4_000_000_002), 0.6));
    }

    #[test]
    fn warmup_ramps_then_hands_over_to_the_decay_clock() {
        let s = LrSchedule::new(
            Schedule::Cosine {
                total_steps: 10,
                min_lr: 0.0,
            },
            4,
        )
        .unwrap();
        let ramp: Vec<f32> = (0..4).map(|t| s.lr_at(0.8, t)).collect();
        assert_eq!(ramp, vec![0.2, 0.4, 0.6, 0.8]);
        assert_eq!(s.lr_at(0.8, 4), 0.8, "decay starts at its own step 0");
        assert!(
            close(s.lr_at(0.8, 9), 0.4),
            "cosine midpoint 5 steps after warmup"
        );
        assert_eq!(s.lr_at(0.8, 14), 0.0);
        let constant = LrSchedule::new(Schedule::Constant, 2).unwrap();
        assert_eq!(constant.lr_at(1.0, 0), 0.5);
        assert_eq!(constant.lr_at(1.0, 1000), 1.0);
    }

    #[test]
    fn reads_flat_from_config_and_rejects_nonsense() {
        let s: LrSchedule = serde_json::from_str(
            r#"{"kind":"cosine_warm_restarts","t0":100,"min_lr":1e-5,"warmup_steps":10}"#,
        )
        .unwrap();
        assert_eq!(s.warmup_steps, 10);
        assert_eq!(
            s.schedule,
            Schedule::CosineWarmRestarts {
                t0: 100,
                t_mult: 1,
                min_lr: 1e-5
            }
        );
        let c: LrSchedule = serde_json::from_str(r#"{"kind":"constant"}"#).unwrap();
        assert_eq!(c.warmup_steps, 0);
        for bad in [
            Schedule::Step {
                step_size: 0,
                gamma: 0.5,
                first_decay: None,
            },
            Schedule::Exponential { gamma: -1.0 },
            Schedule::Cosine {
                total_steps: 0,
                min_lr: 0.0,
            },
            Schedule::CosineWarmRestarts {
                t0: 5,
                t_mult: 0,
                min_lr: 0.0,
            },
        ] {
            assert!(LrSchedule::new(bad.clone(), 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plateau_respects_min_lr_and_composes_with_schedule() {
        let mut p = ReduceOnPlateau::new(PlateauConfig {
            min_lr: 0.3,
            ..Default::default()
        })
        .unwrap();
        assert!(!p.observe(4.0));
        assert_eq!(p.apply(2.0), 2.0);
        assert!(p.observe(4.0), "no strict improvement → ÷4");
        assert_eq!(p.apply(2.0), 0.5);
        assert!(p.observe(f64::NAN), "NaN is not an improvement");
        assert_eq!(p.apply(2.0), 0.3, "floored at min_lr");
        assert_eq!(p.apply(0.1), 0.1, "never raises a lower scheduled rate");
        assert_eq!((p.reductions(), p.best()), (2, Some(4.0)));
        assert!(ReduceOnPlateau::new(PlateauConfig {
            factor: 1.0,
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn plateau_state_survives_a_checkpoint() {
        let mut p = ReduceOnPlateau::new(PlateauConfig::default()).unwrap();
        let text = serde_json::to_string(&p).unwrap();
        let fresh: ReduceOnPlateau = serde_json::from_str(&text).unwrap();
        assert_eq!(fresh, p, "round trip before any loss (best = None)");
        p.observe(3.0);
        p.observe(3.5);
        let mut restored: ReduceOnPlateau =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(restored, p);
        assert_eq!(restored.observe(3.2), p.observe(3.2));
        assert_eq!(restored.apply(1.0), 0.0625);
    }
}
