//! The training guard: watches every step's loss and pre-clip gradient norm while training
//! and acts before a bad update spreads, cheapest action first:
//!
//! 1. a non-finite loss or gradient → the update is skipped (weights and optimizer moments
//!    untouched);
//! 2. a spike (robust z-score of ln loss or ln gradient norm against a rolling window of
//!    applied steps, the doctor's [`doctor::online`] judgement) → the update is skipped;
//! 3. repeated spikes (`rollback_after` within `recent` steps) or divergence (the recent loss
//!    gave back `divergence` of the progress made) → roll back to the last good state (kept
//!    in memory every `snapshot_every` steps and saved with the checkpoints) and skip the data
//!    between it and now; if trouble comes back in the same episode (or the run diverged),
//!    also multiply the learning rate by `lr_factor` (`lr_lower_after`; once the run has been
//!    calm for `snapshot_every` steps it returns to the schedule over `lr_restore_steps`);
//! 4. still failing after `max_rollbacks` rollbacks → restore the good state, save it as
//!    `checkpoints/before-trouble/`, and stop.
//!
//! The step counter never goes back: a rollback restores weights, optimizer moments and
//! dropout RNG, zeroes the carried hidden state (the one in hand belongs to the discarded
//! model and to data the restored model never saw) and training continues with the next
//! batch, so `metrics.jsonl` stays one monotone run. Every action writes
//! `incidents/step-<N>.json` ([`incident`]) and a `guard_skip` / `guard_rollback` /
//! `guard_stop` event line, which the doctor attaches to the spike it belongs to.
//!
//! `guard.mode = "skip"` allows actions 1–2 only, `"off"` none (a NaN update is applied, as
//! without a guard). Fault injection for tests and demonstrations is in [`inject`].

pub mod actions;
pub mod incident;
pub mod inject;
pub mod snapshot;

#[cfg(test)]
mod actions_tests;
#[cfg(test)]
mod e2e_tests;

use std::path::{Path, PathBuf};

pub use actions::{Action, Decision, GuardState, Mode, Reason};
pub use doctor::online::{MonitorConfig, Reading, Verdict};
pub use inject::{Fault, Injector};
pub use snapshot::{Restorable, RollbackInfo, Snapshot};

use crate::config::{ConfigError, GuardConfig};
use crate::data::{AnyTokenizer, Batch, DataPosition};
use incident::{BatchRecord, Incident, Observed};

/// Where a stopped run saves its last good state.
pub const BEFORE_TROUBLE: &str = "before-trouble";

/// The guard of one run: its settings and faults. Its changing state is [`GuardState`],
/// held in the trainer state so checkpoints carry it.
#[derive(Debug, Clone)]
pub struct Guard {
    pub config: GuardConfig,
    pub mode: Mode,
    /// The doctor's decision rules, resolved from `config`.
    pub monitor: MonitorConfig,
    injector: Injector,
    run_root: PathBuf,
}

/// What the loop knows about the step being judged.
pub struct StepContext<'a> {
    pub step: u64,
    pub loss: f64,
    pub grad_norm: f64,
    pub lr: f32,
    pub batch: &'a Batch,
    pub tokenizer: &'a AnyTokenizer,
    /// The batcher's position after this batch.
    pub data: DataPosition,
}

/// What the guard did, for the event line and the loop.
#[derive(Debug, Clone)]
pub struct Acted {
    pub action: Action,
    /// `metrics.jsonl` event name and detail.
    pub event: &'static str,
    pub detail: String,
    pub incident: PathBuf,
    /// For a stop: where the loop must save the restored state.
    pub stop_checkpoint: Option<PathBuf>,
}

impl Guard {
    /// Checks the settings and parses the faults (`seed` makes injected data reproducible).
    pub fn new(config: &GuardConfig, seed: u64, run_root: &Path) -> Result<Guard, ConfigError> {
        let monitor = config.monitor_config()?;
        if !(config.lr_factor > 0.0 && config.lr_factor <= 1.0) {
            return Err(ConfigError::Value {
                key: "guard.lr_factor".into(),
                message: "must be in (0, 1]".into(),
            });
        }
        Ok(Guard {
            config: config.clone(),
            mode: monitor.mode,
            monitor,
            injector: Injector::new(&config.inject, seed)?,
            run_root: run_root.to_path_buf(),
        })
    }

    /// The learning rate to use at `step`: the scheduled one times the guard's factor, unless
    /// an injected `lr-spike` replaces it.
    pub fn lr(&self, state: &GuardState, step: u64, scheduled: f32) -> f32 {
        self.injector
            .lr(step, scheduled * state.lr_scale_at(&self.config, step))
    }

    /// At the start of a step: keep a good state every `snapshot_every` steps.
    pub fn before_step(
        &self,
        state: &mut GuardState,
        step: u64,
        data: DataPosition,
        trainer: Restorable<'_>,
    ) {
        state.maybe_snapshot(&self.config, self.mode, step, data, trainer);
    }

    /// Injected batch faults (testing aid); returns whether the batch was changed.
    pub fn corrupt_batch(&self, step: u64, batch: &mut Batch, vocab: usize) -> bool {
        self.injector.corrupt_batch(step, batch, vocab)
    }

    /// Injected NaN (testing aid); returns whether the loss and gradients were poisoned.
    pub fn poison(&self, step: u64, loss: &mut f64, grads: &mut [f32]) -> bool {
        self.injector.poison(step, loss, grads)
    }

    /// Judges the step before its update is applied; `fresh_state` when the batch started
    /// from a zeroed hidden state (see [`GuardState::decide`]).
    pub fn decide(
        &self,
        state: &mut GuardState,
        step: u64,
        loss: f64,
        grad_norm: f64,
        fresh_state: bool,
    ) -> Decision {
        state.decide(
            &self.monitor,
            &self.config,
            step,
            loss,
            grad_norm,
            fresh_state,
        )
    }

    /// Records an applied update.
    pub fn applied(&self, state: &mut GuardState, loss: f64, grad_norm: f64) {
        state.applied(&self.monitor, loss, grad_norm);
    }

    /// Carries out a skip, rollback or stop and writes its incident file. The caller logs the
    /// event, zeroes the hidden state after a rollback or stop, and saves the stop checkpoint.
    pub fn act(
        &self,
        state: &mut GuardState,
        decision: &Decision,
        ctx: &StepContext<'_>,
        trainer: Restorable<'_>,
    ) -> std::io::Result<Acted> {
        let what = decision.reason.map_or("anomaly", Reason::describe);
        let seen = describe_reading(ctx, &decision.reading);
        let mut rollback = None;
        let mut restored_step = None;
        let mut stop_checkpoint = None;
        let summary = match decision.action {
            Action::Apply => format!("step {}: {what} ({seen}); update applied", ctx.step),
            Action::Skip => format!("step {}: {what} ({seen}); update skipped", ctx.step),
            Action::Rollback => match state.rollback(&self.config, decision.reason, trainer) {
                Some(info) => {
                    rollback = Some(info);
                    format!(
                        "step {}: {what} ({seen}); rolled back to the state of step {} \
                         (skipping the data of epoch {} batch {} up to here), learning-rate \
                         factor {} -> {} (rollback {} of this episode)",
                        ctx.step,
                        info.to_step,
                        info.data_from.epoch,
                        info.data_from.index,
                        info.lr_scale_before,
                        info.lr_scale_after,
                        info.rollbacks_in_episode,
                    )
                }
                None => format!(
                    "step {}: {what} ({seen}); no good state to roll back to",
                    ctx.step
                ),
            },
            Action::Stop => {
                restored_step = state.restore_for_stop(trainer);
                let dir = self.run_root.join("checkpoints").join(BEFORE_TROUBLE);
                stop_checkpoint = Some(dir.clone());
                format!(
                    "step {}: {what} ({seen}) persists after {} rollbacks; stopped with the state \
                     of step {} saved in {}",
                    ctx.step,
                    self.config.max_rollbacks,
                    restored_step.map_or("?".into(), |s| s.to_string()),
                    dir.display()
                )
            }
        };
        let incident = Incident {
            step: ctx.step,
            action: decision.action,
            reason: decision.reason,
            summary: summary.clone(),
            observed: Observed {
                loss: ctx.loss,
                grad_norm: ctx.grad_norm,
                lr: ctx.lr as f64,
            },
            statistics: decision.reading,
            lr_scale: state.lr_scale,
            rollback,
            restored_step,
            checkpoint: stop_checkpoint.clone(),
            injected: self.injector.at(ctx.step),
            batch: BatchRecord::new(ctx.batch, ctx.tokenizer, ctx.data),
        };
        let path = incident::write(&self.run_root, &incident)?;
        Ok(Acted {
            action: decision.action,
            event: decision.action.event(),
            detail: summary,
            incident: path,
            stop_checkpoint,
        })
    }
}

/// "loss 7.1 vs median 1.32, robust z 45; grad norm 3.2 vs 0.41, z 12".
fn describe_reading(ctx: &StepContext<'_>, r: &Reading) -> String {
    let mut parts = vec![format!("loss {:.4}", ctx.loss)];
    if let (Some(m), Some(z)) = (r.loss_median, r.loss_z) {
        parts.push(format!("window median {m:.4}, robust z {z:.1}"));
    }
    parts.push(format!("grad norm {:.4}", ctx.grad_norm));
    if let (Some(m), Some(z)) = (r.grad_median, r.grad_z) {
        parts.push(format!("window median {m:.4}, robust z {z:.1}"));
    }
    if r.diverging {
        if let (Some(recent), Some(best)) = (r.recent_loss, r.best_loss) {
            parts.push(format!("recent loss {recent:.4} vs best {best:.4}"));
        }
    }
    parts.join(", ")
}
