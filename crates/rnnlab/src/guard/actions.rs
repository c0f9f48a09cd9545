//! What the guard does about a step, cheapest first: apply the update, skip it, roll back to
//! the last good state (and lower the learning rate), or stop. The guard's whole state lives
//! in [`GuardState`], which a checkpoint saves with the trainer state so a resumed run decides
//! exactly as the uninterrupted one would.

use doctor::online::{Detector, Monitor, MonitorConfig};
use engine::optim::AnyOptimizer;
use engine::rng::EngineRng;
use engine::ParamStore;
use serde::{Deserialize, Serialize};

pub use doctor::online::{Action, Decision, Mode, Reason};

use crate::config::GuardConfig;
use crate::data::DataPosition;

/// A known-good training state kept in memory (and in checkpoints) to roll back to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The step about to run when the snapshot was taken.
    pub step: u64,
    pub data: DataPosition,
    values: Vec<f32>,
    optimizer: AnyOptimizer,
    rng: EngineRng,
    detector: Detector,
}

/// What a rollback did (for the incident file and the event line).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RollbackInfo {
    /// The restored state is the one from the start of this step.
    pub to_step: u64,
    /// Data position of the restored state: the batches from here to the current position
    /// are skipped (the restored model never trains on them).
    pub data_from: DataPosition,
    pub lr_scale_before: f32,
    pub lr_scale_after: f32,
    pub rollbacks_in_episode: u32,
    pub rollbacks_total: u32,
}

/// The parts of the trainer a rollback restores.
pub struct Restorable<'a> {
    pub params: &'a mut ParamStore,
    pub optimizer: &'a mut AnyOptimizer,
    pub rng: &'a mut EngineRng,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardState {
    /// The doctor's streaming judgement and decision state.
    pub monitor: Monitor,
    /// Multiplies the learning rate; every rollback multiplies it by `lr_factor`. After a calm
    /// stretch it is brought back to 1 over `lr_restore_steps` (see [`GuardState::lr_scale_at`]);
    /// this field holds the factor as of the last flagged step.
    pub lr_scale: f32,
    /// The newest snapshot, and the one before it (which had a clean stretch after it).
    candidate: Option<Snapshot>,
    good: Option<Snapshot>,
}

impl GuardState {
    pub fn new(config: &GuardConfig) -> GuardState {
        GuardState {
            monitor: Monitor::new(&config.detector()),
            lr_scale: 1.0,
            candidate: None,
            good: None,
        }
    }

    /// The state as a checkpoint keeps it: only the newest snapshot. The older one matters
    /// only until the next snapshot is taken (`snapshot_every` steps at most), when the newest
    /// becomes the older one anyway; keeping both doubled the checkpoint's size.
    pub fn for_checkpoint(&self) -> GuardState {
        GuardState {
            good: None,
            ..self.clone()
        }
    }

    /// Steps of the snapshots held (newest last), for reports and tests.
    pub fn snapshot_steps(&self) -> Vec<u64> {
        [&self.good, &self.candidate]
            .into_iter()
            .flatten()
            .map(|s| s.step)
            .collect()
    }

    /// At the start of `step`: every `snapshot_every` steps, when nothing was flagged since
    /// the last snapshot, the previous snapshot becomes the good one and a new one is taken.
    pub fn maybe_snapshot(
        &mut self,
        config: &GuardConfig,
        mode: Mode,
        step: u64,
        data: DataPosition,
        state: Restorable<'_>,
    ) {
        let every = config.snapshot_every.max(1);
        #[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; MSRV is 1.80
        let due = step % every == 0;
        if mode != Mode::Full || !config.rollback || !due {
            return;
        }
        if !self.monitor.quiet_for(step, every) {
            return;
        }
        if let Some(c) = self.candidate.take() {
            self.good = Some(c);
        }
        self.candidate = Some(Snapshot {
            step,
            data,
            values: state.params.values.clone(),
            optimizer: state.optimizer.clone(),
            rng: state.rng.clone(),
            detector: self.monitor.detector.clone(),
        });
        self.monitor.snapshot_taken();
    }

    /// Judges one step's loss and pre-clip gradient norm, before its update is applied.
    /// `fresh_state`: the batch started from a zeroed hidden state (the first batch of an
    /// epoch); the batch after a rollback counts as one too.
    pub fn decide(
        &mut self,
        config: &MonitorConfig,
        guard: &GuardConfig,
        step: u64,
        loss: f64,
        grad_norm: f64,
        fresh_state: bool,
    ) -> Decision {
        // Where the restoration of the learning rate got to before this step: if the step
        // is flagged (trouble again), the restoration stops there.
        let scale_now = self.lr_scale_at(guard, step);
        let can_roll_back = self.candidate.is_some();
        let decision = self.monitor.observe(
            config,
            step,
            loss,
            Some(grad_norm),
            fresh_state,
            can_roll_back,
        );
        if self.monitor.last_flag() == Some(step) {
            self.lr_scale = scale_now;
        }
        decision
    }

    /// The learning-rate factor at `step`: `lr_scale`, brought back linearly to 1 over
    /// `lr_restore_steps` once `snapshot_every` steps have passed without a flag.
    pub fn lr_scale_at(&self, config: &GuardConfig, step: u64) -> f32 {
        if self.lr_scale >= 1.0 || config.lr_restore_steps == 0 {
            return self.lr_scale;
        }
        let calm_from = self
            .monitor
            .last_flag()
            .map_or(0, |f| f + config.snapshot_every.max(1));
        if step < calm_from {
            return self.lr_scale;
        }
        let p = ((step - calm_from) as f64 / config.lr_restore_steps as f64).min(1.0);
        (self.lr_scale as f64 + (1.0 - self.lr_scale as f64) * p) as f32
    }

    /// Records an applied update in the detector's windows.
    pub fn applied(&mut self, config: &MonitorConfig, loss: f64, grad_norm: f64) {
        self.monitor.applied(config, loss, Some(grad_norm));
    }

    pub fn skips_total(&self) -> u64 {
        self.monitor.skips_total
    }

    pub fn rollbacks_total(&self) -> u32 {
        self.monitor.rollbacks_total
    }

    /// Restores the last good state into `state`, lowers the learning-rate scale and clears
    /// the flags. The first rollback of an episode goes to the newest snapshot if it predates
    /// the trouble; later ones (and divergence, which builds up slowly) to the older one.
    /// Returns `None` when no snapshot exists.
    pub fn rollback(
        &mut self,
        config: &GuardConfig,
        reason: Option<Reason>,
        state: Restorable<'_>,
    ) -> Option<RollbackInfo> {
        let trouble_start = self.monitor.trouble_start().unwrap_or(u64::MAX);
        let newest_is_clean = self
            .candidate
            .as_ref()
            .is_some_and(|c| c.step < trouble_start);
        let use_newest = self.monitor.rollbacks_in_episode() == 0
            && newest_is_clean
            && reason != Some(Reason::Divergence)
            || self.good.is_none();
        if !use_newest {
            // The newest snapshot may hold the damage; forget it.
            self.candidate = self.good.clone();
        }
        let snap = self.candidate.as_ref()?;
        state.params.values.copy_from_slice(&snap.values);
        *state.optimizer = snap.optimizer.clone();
        *state.rng = snap.rng.clone();
        self.monitor.rolled_back(snap.detector.clone());
        let before = self.lr_scale;
        self.lr_scale *= config.lr_factor;
        Some(RollbackInfo {
            to_step: snap.step,
            data_from: snap.data,
            lr_scale_before: before,
            lr_scale_after: self.lr_scale,
            rollbacks_in_episode: self.monitor.rollbacks_in_episode(),
            rollbacks_total: self.monitor.rollbacks_total,
        })
    }

    /// Restores the oldest good state without changing the learning rate, before stopping.
    pub fn restore_for_stop(&mut self, state: Restorable<'_>) -> Option<u64> {
        let snap = self.good.as_ref().or(self.candidate.as_ref())?;
        state.params.values.copy_from_slice(&snap.values);
        *state.optimizer = snap.optimizer.clone();
        *state.rng = snap.rng.clone();
        self.monitor.restored_for_stop(snap.detector.clone());
        Some(snap.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::optim::{AdamConfig, OptimizerConfig};
    use engine::rng::seeded;

    struct Trainer {
        params: ParamStore,
        optimizer: AnyOptimizer,
        rng: EngineRng,
    }

    impl Trainer {
        fn new() -> Trainer {
            let mut params = ParamStore::new();
            params.add("w", &[3]);
            Trainer {
                params,
                optimizer: AnyOptimizer::new(&OptimizerConfig::Adam(AdamConfig::default()))
                    .unwrap(),
                rng: seeded(1),
            }
        }
        fn parts(&mut self) -> Restorable<'_> {
            Restorable {
                params: &mut self.params,
                optimizer: &mut self.optimizer,
                rng: &mut self.rng,
            }
        }
    }

    fn monitor_config(config: &GuardConfig, mode: Mode) -> MonitorConfig {
        MonitorConfig {
            mode,
            ..config.monitor_config().unwrap()
        }
    }

    fn wobble(i: u64) -> f64 {
        ((i as f64 * 12.9898).sin() * 43758.5453).fract()
    }

    /// Runs steps `from..to` with `loss(step)`, applying accepted updates as a weight
    /// change of +1 so a rollback is visible in the weights; returns the decisions.
    fn drive(
        g: &mut GuardState,
        t: &mut Trainer,
        config: &GuardConfig,
        mode: Mode,
        steps: std::ops::Range<u64>,
        loss: impl Fn(u64) -> f64,
    ) -> Vec<(u64, Action)> {
        let mut out = Vec::new();
        for step in steps {
            g.maybe_snapshot(config, mode, step, DataPosition::default(), t.parts());
            let l = loss(step);
            let mc = monitor_config(config, mode);
            let d = g.decide(&mc, config, step, l, 1.0 + 0.05 * wobble(step), false);
            match d.action {
                Action::Apply => {
                    g.applied(&mc, l, 1.0);
                    t.params.values[0] += 1.0;
                }
                Action::Skip => {}
                Action::Rollback => {
                    g.rollback(config, d.reason, t.parts()).unwrap();
                }
                Action::Stop => {
                    g.restore_for_stop(t.parts()).unwrap();
                }
            }
            if d.action != Action::Apply {
                out.push((step, d.action));
            }
            if d.action == Action::Stop {
                break;
            }
        }
        out
    }

    fn healthy(step: u64) -> f64 {
        2.0 * (1.0 + 0.02 * wobble(step))
    }

    #[test]
    fn one_bad_step_is_skipped_and_nothing_else_happens() {
        let config = GuardConfig::default();
        let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
        let acts = drive(&mut g, &mut t, &config, Mode::Full, 0..300, |s| {
            if s == 150 {
                9.0
            } else {
                healthy(s)
            }
        });
        assert_eq!(acts, [(150, Action::Skip)]);
        assert_eq!(t.params.values[0], 299.0, "every other update applied");
        assert_eq!(g.lr_scale, 1.0);
        assert_eq!(g.skips_total(), 1);
    }

    #[test]
    fn a_nan_is_applied_when_the_guard_is_off_and_skipped_otherwise() {
        let config = GuardConfig::default();
        for (mode, want) in [
            (Mode::Off, Action::Apply),
            (Mode::Skip, Action::Skip),
            (Mode::Full, Action::Skip),
        ] {
            let mut g = GuardState::new(&config);
            assert_eq!(
                g.decide(
                    &monitor_config(&config, mode),
                    &config,
                    0,
                    f64::NAN,
                    1.0,
                    false
                )
                .action,
                want,
                "{mode:?}"
            );
        }
        let off_switch = GuardConfig {
            skip_non_finite: false,
            ..GuardConfig::default()
        };
        let mut g = GuardState::new(&off_switch);
        assert_eq!(
            g.decide(
                &monitor_config(&off_switch, Mode::Full),
                &off_switch,
                0,
                f64::NAN,
                1.0,
                false
            )
            .action,
            Action::Apply
        );
    }

    #[test]
    fn repeated_spikes_roll_back_to_the_state_before_them_and_halve_the_lr() {
        let config = GuardConfig::default();
        let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
        // Damage shows from step 173 on and lasts until a rollback.
        let acts = drive(&mut g, &mut t, &config, Mode::Full, 0..176, |s| {
            if s >= 173 {
                6.0
            } else {
                healthy(s)
            }
        });
        assert_eq!(
            acts,
            [
                (173, Action::Skip),
                (174, Action::Skip),
                (175, Action::Rollback)
            ]
        );
        // Snapshot at 150 (state after 150 updates) is the one restored.
        assert_eq!(t.params.values[0], 150.0);
        assert_eq!(g.lr_scale, 0.5);
        assert_eq!(g.rollbacks_total(), 1);
        // Healthy again: no more actions, and a new snapshot only after a clean stretch.
        let acts = drive(&mut g, &mut t, &config, Mode::Full, 176..400, healthy);
        assert!(acts.is_empty(), "{acts:?}");
        assert_eq!(g.snapshot_steps(), [300, 350]);
        // The lowered rate holds through a calm stretch, then returns to the schedule.
        let calm = 175 + config.snapshot_every;
        assert_eq!(g.lr_scale_at(&config, calm - 1), 0.5);
        let half = calm + config.lr_restore_steps / 2;
        assert!((g.lr_scale_at(&config, half) - 0.75).abs() < 1e-6);
        assert_eq!(g.lr_scale_at(&config, calm + config.lr_restore_steps), 1.0);
        let keep = GuardConfig {
            lr_restore_steps: 0,
            ..config.clone()
        };
        assert_eq!(
            g.lr_scale_at(&keep, 10_000),
            0.5,
            "restoring can be turned off"
        );
    }

    #[test]
    fn new_trouble_stops_the_restoration_where_it_got_to() {
        let config = GuardConfig::default();
        let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
        drive(&mut g, &mut t, &config, Mode::Full, 0..176, |s| {
            if s >= 173 {
                6.0
            } else {
                healthy(s)
            }
        });
        let halfway = 175 + config.snapshot_every + config.lr_restore_steps / 2;
        drive(&mut g, &mut t, &config, Mode::Full, 176..halfway, healthy);
        // One spike half-way through the restoration: skipped, and the factor holds at 0.75.
        let acts = drive(
            &mut g,
            &mut t,
            &config,
            Mode::Full,
            halfway..halfway + 1,
            |_| 9.0,
        );
        assert_eq!(acts, [(halfway, Action::Skip)]);
        assert!((g.lr_scale - 0.75).abs() < 1e-3, "{}", g.lr_scale);
        assert!((g.lr_scale_at(&config, halfway + 10) - g.lr_scale).abs() < 1e-7);
    }

    #[test]
    fn skip_mode_never_rolls_back() {
        let config = GuardConfig::default();
        let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
        let acts = drive(&mut g, &mut t, &config, Mode::Skip, 0..200, |s| {
            if s >= 100 {
                6.0
            } else {
                healthy(s)
            }
        });
        assert!(acts.iter().all(|(_, a)| *a == Action::Skip));
        assert_eq!(acts.len(), 100);
        assert!(g.snapshot_steps().is_empty());
    }

    #[test]
    fn trouble_that_outlasts_max_rollbacks_stops_at_a_state_from_before_it() {
        let config = GuardConfig::default();
        let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
        let acts = drive(&mut g, &mut t, &config, Mode::Full, 0..1000, |s| {
            if s >= 120 {
                6.0
            } else {
                healthy(s)
            }
        });
        let rollbacks = acts.iter().filter(|a| a.1 == Action::Rollback).count();
        assert_eq!(rollbacks as u32, config.max_rollbacks);
        assert_eq!(acts.last().unwrap().1, Action::Stop);
        // Good state: the older snapshot (step 50), never one taken inside the trouble.
        assert_eq!(t.params.values[0], 50.0);
        assert!((g.lr_scale - 0.5f32.powi(3)).abs() < 1e-7);
    }

    #[test]
    fn the_state_round_trips_through_a_checkpoint() {
        let config = GuardConfig::default();
        let (mut g, mut t) = (GuardState::new(&config), Trainer::new());
        drive(&mut g, &mut t, &config, Mode::Full, 0..120, healthy);
        // The encoding checkpoints use for the trainer state.
        let bytes = rmp_serde::to_vec_named(&g).unwrap();
        let back: GuardState = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(back, g);
        // A checkpoint keeps the newest snapshot only.
        assert_eq!(g.snapshot_steps(), [50, 100]);
        let saved = g.for_checkpoint();
        assert_eq!(saved.snapshot_steps(), [100]);
        let one = rmp_serde::to_vec_named(&saved).unwrap().len();
        assert!(one < bytes.len(), "{one} vs {} bytes", bytes.len());
        let bad = GuardConfig {
            mode: "maybe".into(),
            ..GuardConfig::default()
        };
        assert!(bad
            .monitor_config()
            .unwrap_err()
            .to_string()
            .contains("guard.mode"));
    }
}
