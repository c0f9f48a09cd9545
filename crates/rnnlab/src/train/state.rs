//! Everything besides the weights that a checkpoint must hold for a bit-identical resume.

use engine::layers::recurrent::RecurrentState;
use engine::optim::{AnyOptimizer, ReduceOnPlateau};
use engine::rng::EngineRng;
use serde::{Deserialize, Serialize};

use super::lr::ScheduleState;
use crate::checkpoint::{Slot, StateTensors};
use crate::data::DataPosition;
use crate::guard::GuardState;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainerState {
    /// Steps taken, updates skipped by the guard included (the next step's index).
    pub step: u64,
    pub tokens: u64,
    /// Training wall time so far, carried over a resume.
    pub elapsed_s: f64,
    pub optimizer: AnyOptimizer,
    /// Dropout randomness.
    pub rng: EngineRng,
    pub data: DataPosition,
    /// The hidden state carried into the next batch.
    pub hidden: RecurrentState,
    pub plateau: Option<ReduceOnPlateau>,
    pub best_val: Option<f64>,
    pub evals_without_improvement: u64,
    /// Steps the LR schedule decays over (fixed once known, so a resume keeps the schedule).
    pub horizon: Option<u64>,
    /// Length of `metrics.jsonl` when the checkpoint was taken; a resume cuts the log back
    /// to it so the log reads as one uninterrupted run.
    pub metrics_bytes: u64,
    /// The training guard's detector windows, snapshots and learning-rate factor.
    pub guard: GuardState,
    /// How far the learning-rate decay has come (see [`super::lr`]).
    #[serde(default)]
    pub schedule: ScheduleState,
    /// The newest evaluation: step, loss, tokens (a resumed finished run does not repeat it).
    #[serde(default)]
    pub last_eval: Option<(u64, f64, usize)>,
}

impl StateTensors for TrainerState {
    /// The optimizer's moments and the guard's snapshots go into `trainer.safetensors`.
    fn slots(&mut self) -> Vec<Slot<'_>> {
        let mut out: Vec<Slot<'_>> = self
            .optimizer
            .buffers_mut()
            .into_iter()
            .map(|(name, buf)| Slot::moments(format!("optimizer.{name}"), buf))
            .collect();
        out.extend(self.guard.slots());
        out
    }
}
