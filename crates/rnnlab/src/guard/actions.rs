//! What the guard does about a step, cheapest first: apply the update, skip it, roll back to
//! the last good state (and lower the learning rate), or stop. Snapshots and rollbacks are in
//! [`super::snapshot`]. The guard's whole state lives
//! in [`GuardState`], which a checkpoint saves with the trainer state so a resumed run decides
//! exactly as the uninterrupted one would.

use doctor::online::{Monitor, MonitorConfig};
use serde::{Deserialize, Serialize};

pub use doctor::online::{Action, Decision, Mode, Reason};

use super::snapshot::Snapshot;
use crate::config::GuardConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardState {
    /// The doctor's streaming judgement and decision state.
    pub monitor: Monitor,
    /// Multiplies the learning rate; a rollback that lowers it multiplies it by `lr_factor`
    /// (see `GuardConfig::lr_lower_after`). After a calm
    /// stretch it is brought back to 1 over `lr_restore_steps` (see [`GuardState::lr_scale_at`]);
    /// this field holds the factor as of the last flagged step.
    pub lr_scale: f32,
    /// The newest snapshot, and the one before it (which had a clean stretch after it).
    pub(super) candidate: Option<Snapshot>,
    pub(super) good: Option<Snapshot>,
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
}
