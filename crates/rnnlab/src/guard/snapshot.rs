//! The guard's snapshots: a known-good training state (weights, optimizer moments, dropout
//! RNG, detector windows) taken every `snapshot_every` calm steps, what a rollback restores,
//! and what a checkpoint keeps of them.

use engine::optim::AnyOptimizer;
use engine::rng::EngineRng;
use engine::ParamStore;
use serde::{Deserialize, Serialize};

use super::actions::{GuardState, Mode, Reason};
use crate::checkpoint::Slot;
use crate::config::GuardConfig;
use crate::data::DataPosition;
use doctor::online::Detector;

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

impl GuardState {
    /// The snapshots' weights and optimizer moments, which a checkpoint stores as tensors
    /// (see [`crate::checkpoint::tensors`]).
    pub fn slots(&mut self) -> Vec<Slot<'_>> {
        let mut out = Vec::new();
        let held = [
            ("guard.snapshot", &mut self.candidate),
            ("guard.older_snapshot", &mut self.good),
        ];
        for (label, snap) in held {
            if let Some(s) = snap {
                out.push(Slot::weights(format!("{label}.values"), &mut s.values));
                for (name, buf) in s.optimizer.buffers_mut() {
                    out.push(Slot::moments(format!("{label}.optimizer.{name}"), buf));
                }
            }
        }
        out
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

    /// Restores the last good state into `state`, lowers the learning-rate scale when the
    /// trouble came back (see `GuardConfig::lr_lower_after`) and clears the flags. The first rollback of an episode goes to the newest snapshot if it predates
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
        // A passing cause is undone by going back to before it; only trouble that returns in
        // the same episode, or divergence (which builds up under the rate itself), lowers it.
        let lower = self.monitor.rollbacks_in_episode() >= config.lr_lower_after
            || reason == Some(Reason::Divergence);
        state.params.values.copy_from_slice(&snap.values);
        *state.optimizer = snap.optimizer.clone();
        *state.rng = snap.rng.clone();
        self.monitor.rolled_back(snap.detector.clone());
        let before = self.lr_scale;
        if lower {
            self.lr_scale *= config.lr_factor;
        }
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
