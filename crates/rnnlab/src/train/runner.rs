//! The step loop of one training run: each step's forward, backward, guard and update,
//! and the periodic evaluations, checkpoints and samples around them.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use engine::model::LanguageModel;
use engine::optim::{clip_grad_norm, global_norm, LrSchedule, Optimizer};
use engine::{Backend, CpuBackend};

use super::lr::{cosine_at, time_fraction};
use super::progress::Progress;
use super::run_dir::{Meta, RunDir};
use super::state::TrainerState;
use super::{horizon, io, notice, setup, TrainError, TrainOptions};
use crate::checkpoint::{self, CheckpointInfo};
use crate::config::Config;
use crate::data::{EvalBatches, PreparedData, TrainBatcher};
use crate::evaluate::{evaluate, EvalResult};
use crate::guard::{Action, Guard, Restorable, StepContext};
use crate::metrics::{EvalRecord, MetricsLog, StepRecord};
use crate::sample::{sample, SampleOptions};

/// What one run's step loop needs, borrowed from [`super::train`], which sets it up.
pub(super) struct Loop<'a> {
    pub(super) opts: &'a TrainOptions,
    pub(super) run: &'a RunDir,
    pub(super) be: &'a CpuBackend,
    pub(super) prepared: &'a PreparedData,
    pub(super) eval_batches: &'a EvalBatches,
    pub(super) base_lr: f32,
    pub(super) time_budget: Option<Duration>,
    pub(super) progress: Progress,
    pub(super) started: Instant,
    pub(super) meta: &'a Meta,
    pub(super) guard: Guard,
    /// Time spent in training steps (not evaluations or checkpoints) in this process.
    pub(super) step_secs: f64,
    /// How long the last evaluation took (kept back from a time budget for the final one).
    pub(super) last_eval_s: f64,
    /// The step of the newest checkpoint on disk (the one resumed from, at first).
    pub(super) checkpointed_at: Option<u64>,
}

/// Steps timed before a wall-time budget is turned into a step horizon for the schedule.
const CALIBRATION_STEPS: u64 = 20;

impl Loop<'_> {
    fn config(&self) -> &Config {
        &self.opts.config
    }

    pub(super) fn elapsed(&self, state: &TrainerState) -> f64 {
        state.elapsed_s + self.started.elapsed().as_secs_f64()
    }

    /// The step horizon when the run is bounded by steps or epochs; a time-bounded run gets
    /// one after [`CALIBRATION_STEPS`] timed steps.
    fn fixed_horizon(&self, batcher: &TrainBatcher) -> Option<u64> {
        let t = &self.config().train;
        let by_epochs = (t.epochs > 0).then(|| t.epochs * batcher.batches_per_epoch() as u64);
        match (t.steps > 0, by_epochs) {
            (true, Some(e)) => Some(t.steps.min(e)),
            (true, None) => Some(t.steps),
            (false, e) => e,
        }
    }

    /// The step at which the remaining budget runs out: training steps of `step_s`, an
    /// evaluation of `eval_s` every `eval_every` steps, and the final one.
    fn horizon_within(
        &self,
        state: &TrainerState,
        budget: Duration,
        step_s: f64,
        eval_s: f64,
    ) -> u64 {
        let remaining = budget.as_secs_f64() - self.elapsed(state);
        state.step
            + horizon::steps_within(remaining, step_s, eval_s, self.config().train.eval_every)
    }

    fn schedule(&self, horizon: u64) -> Result<LrSchedule, TrainError> {
        Ok(setup::schedule(self.config(), horizon, self.meta.steps_per_epoch)?.0)
    }

    /// How the run's end is defined, and the raw fraction of it done at `state.step`.
    fn end_and_fraction(&self, state: &TrainerState, fixed: Option<u64>) -> (String, f64) {
        let w = self.config().train.warmup_steps;
        match (fixed, self.time_budget) {
            (Some(h), _) => {
                let raw = state.step.saturating_sub(w) as f64 / h.saturating_sub(w).max(1) as f64;
                (format!("steps {h}"), raw)
            }
            (None, Some(b)) => {
                let budget = b.as_secs_f64();
                let elapsed = self.elapsed(state);
                let from = state.schedule.warmup_end_s.unwrap_or(elapsed);
                (
                    format!("time {budget}s"),
                    time_fraction(elapsed, budget, from, 0.0),
                )
            }
            (None, None) => ("unbounded".into(), 0.0),
        }
    }

    /// The scheduled learning rate of `step` (before the plateau and guard factors). After
    /// warmup a cosine decays on the fraction of the run done: of its steps, or of its time
    /// budget when it has no step bound; the fraction never goes back (see [`super::lr`]).
    fn scheduled_lr(
        &self,
        state: &mut TrainerState,
        schedule: &LrSchedule,
        step: u64,
        time_bounded: bool,
    ) -> f32 {
        let t = &self.config().train;
        let w = schedule.warmup_steps;
        if step < w || t.schedule != "cosine" {
            return schedule.lr_at(self.base_lr, step);
        }
        let raw = if time_bounded {
            let elapsed = self.elapsed(state);
            let from = *state.schedule.warmup_end_s.get_or_insert(elapsed);
            let budget = self.time_budget.map_or(0.0, |b| b.as_secs_f64());
            time_fraction(elapsed, budget, from, self.last_eval_s)
        } else {
            let h = state.horizon.unwrap_or(u64::MAX / 4);
            (step - w) as f64 / h.saturating_sub(w).max(1) as f64
        };
        let p = state.schedule.advance(raw);
        if time_bounded || state.schedule.anchor.is_some() {
            cosine_at(self.base_lr, (t.lr * t.min_lr_ratio) as f64, p)
        } else {
            schedule.lr_at(self.base_lr, step)
        }
    }

    pub(super) fn run(
        &mut self,
        model: &mut LanguageModel,
        batcher: &mut TrainBatcher,
        state: &mut TrainerState,
        log: &mut MetricsLog,
    ) -> Result<(String, Option<EvalResult>, bool), TrainError> {
        let t = self.config().train.clone();
        // A step or epoch bound in the config wins (a resume may extend the run); a
        // time-bounded run keeps the horizon it calibrated.
        let fixed = self.fixed_horizon(batcher);
        let time_bounded = fixed.is_none() && self.time_budget.is_some();
        let (end, raw_now) = self.end_and_fraction(state, fixed);
        if let Some(how) = state.schedule.moved_end(&end, raw_now) {
            if t.schedule == "cosine" {
                notice(&how);
            }
            if time_bounded {
                // The calibrated horizon was for the old budget.
                state.horizon = None;
            }
        }
        if fixed.is_some() {
            state.horizon = fixed;
        }
        // Until a time-bounded run is calibrated, its schedule runs as if it had no end.
        let mut schedule = self.schedule(state.horizon.unwrap_or(u64::MAX / 4))?;
        self.progress.set_total(state.horizon.unwrap_or(0));
        let calibration_start = (state.step, Instant::now());
        let mut last_eval: Option<(u64, EvalResult)> = state
            .last_eval
            .map(|(step, loss, tokens)| (step, EvalResult { loss, tokens }));
        let stopped = loop {
            if let Some(h) = state.horizon.filter(|&h| state.step >= h) {
                break format!("reached step {h}");
            }
            if t.epochs > 0 && batcher.position().epoch >= t.epochs {
                break format!("completed {} epochs", t.epochs);
            }
            if self
                .time_budget
                .is_some_and(|b| self.elapsed(state) >= b.as_secs_f64())
            {
                break format!("used the time budget of {}", t.time);
            }
            if self.opts.stop.load(Ordering::SeqCst) {
                self.progress
                    .println("interrupted: saving a checkpoint (interrupt again to quit at once)");
                self.checkpoint(model, state, batcher, None, log)?;
                log.event(state.step, "interrupted", "checkpoint saved")
                    .map_err(io(log.path()))?;
                return Ok(("interrupted; resume with --resume".into(), None, true));
            }
            if let Some(reason) =
                self.train_step(model, batcher, state, log, &schedule, time_bounded)?
            {
                break reason;
            }

            if state.horizon.is_none() && state.step == calibration_start.0 + CALIBRATION_STEPS {
                if let Some(budget) = self.time_budget {
                    let per_step =
                        calibration_start.1.elapsed().as_secs_f64() / CALIBRATION_STEPS as f64;
                    let step_tokens = t.batch * t.bptt;
                    let eval_tokens = self.eval_batches.num_targets();
                    let eval_s = horizon::guessed_eval_secs(per_step, eval_tokens, step_tokens);
                    let horizon = self.horizon_within(state, budget, per_step, eval_s);
                    state.horizon = Some(horizon);
                    schedule = self.schedule(horizon)?;
                    self.progress.set_total(horizon);
                }
            }
            let at_end = state.horizon == Some(state.step);
            if t.eval_every > 0 && state.step.is_multiple_of(t.eval_every) || at_end {
                let eval_start = Instant::now();
                let result = self.evaluate(model, state, log)?;
                last_eval = Some((state.step, result));
                self.last_eval_s = eval_start.elapsed().as_secs_f64();
                // The first estimate knew neither the cost of evaluation nor the warmed-up
                // step time; re-aim the horizon so the run ends on the budget, not before.
                if let (Some(budget), false, true) = (self.time_budget, at_end, time_bounded) {
                    let steps = state.step - calibration_start.0;
                    let per_step = self.step_secs / steps as f64;
                    let eval_s = eval_start.elapsed().as_secs_f64();
                    let horizon = self.horizon_within(state, budget, per_step, eval_s);
                    state.horizon = Some(horizon);
                    schedule = self.schedule(horizon)?;
                    self.progress.set_total(horizon);
                }
                if t.patience > 0 && state.evals_without_improvement >= t.patience {
                    log.event(
                        state.step,
                        "early_stop",
                        format!("no improvement in {} evaluations", t.patience),
                    )
                    .map_err(io(log.path()))?;
                    break format!("early stop: no improvement in {} evaluations", t.patience);
                }
            }
            if t.checkpoint_every > 0 && state.step.is_multiple_of(t.checkpoint_every) {
                self.checkpoint(model, state, batcher, last_eval.map(|(_, v)| v.loss), log)?;
            }
            if t.sample_every > 0 && state.step.is_multiple_of(t.sample_every) {
                self.write_sample(model, state.step)?;
            }
        };
        // Every run ends with an evaluation, a checkpoint and a sample.
        let result = match last_eval {
            Some((step, v)) if step == state.step => v,
            _ => self.evaluate(model, state, log)?,
        };
        if self.checkpointed_at != Some(state.step) {
            self.checkpoint(model, state, batcher, Some(result.loss), log)?;
        }
        // A resumed run that had already finished has its sample.
        if !self.run.has_sample(state.step) {
            self.write_sample(model, state.step)?;
        }
        log.event(state.step, "end", stopped.clone())
            .map_err(io(log.path()))?;
        Ok((stopped, Some(result), false))
    }

    /// One step; returns a reason to stop when the guard gives up on the run.
    fn train_step(
        &mut self,
        model: &mut LanguageModel,
        batcher: &mut TrainBatcher,
        state: &mut TrainerState,
        log: &mut MetricsLog,
        schedule: &LrSchedule,
        time_bounded: bool,
    ) -> Result<Option<String>, TrainError> {
        let t = &self.opts.config.train;
        let step_start = Instant::now();
        let step = state.step;
        self.guard.before_step(
            &mut state.guard,
            step,
            batcher.position(),
            Restorable {
                params: &mut model.params,
                optimizer: &mut state.optimizer,
                rng: &mut state.rng,
            },
        );
        let mut lr = self.scheduled_lr(state, schedule, step, time_bounded);
        if let Some(p) = &state.plateau {
            lr = p.apply(lr);
        }
        let lr = self.guard.lr(&state.guard, step, lr);
        let mut batch = batcher.next_batch();
        self.guard
            .corrupt_batch(step, &mut batch, self.meta.vocab_size);
        if batch.reset_state {
            state.hidden = model.zero_state(batch.batch_size);
        }
        self.be.install(&mut || model.params.zero_grads());
        let mut ce = model.train_batch(
            self.be,
            &batch.inputs,
            &batch.targets,
            batch.seq_len,
            batch.batch_size,
            &mut state.hidden,
            &mut state.rng,
        )?;
        self.guard
            .poison(step, &mut ce.mean, &mut model.params.grads);
        let mut norm = Ok(0.0);
        self.be.install(&mut || {
            norm = if t.clip > 0.0 {
                clip_grad_norm(&mut model.params, t.clip)
            } else {
                Ok(global_norm(&model.params.grads))
            }
        });
        let grad_norm = norm?;
        // The guard judges the step before its update is applied.
        let decision = self.guard.decide(
            &mut state.guard,
            step,
            ce.mean,
            grad_norm as f64,
            batch.reset_state,
        );
        let mut stop = None;
        if decision.action == Action::Apply {
            let mut stepped = Ok(());
            self.be
                .install(&mut || stepped = state.optimizer.step(&mut model.params, lr));
            stepped?;
            self.guard
                .applied(&mut state.guard, ce.mean, grad_norm as f64);
        } else {
            let ctx = StepContext {
                step,
                loss: ce.mean,
                grad_norm: grad_norm as f64,
                lr,
                batch: &batch,
                tokenizer: &self.prepared.tokenizer,
                data: batcher.position(),
            };
            let acted = self
                .guard
                .act(
                    &mut state.guard,
                    &decision,
                    &ctx,
                    Restorable {
                        params: &mut model.params,
                        optimizer: &mut state.optimizer,
                        rng: &mut state.rng,
                    },
                )
                .map_err(io(&self.run.root.join("incidents")))?;
            if matches!(acted.action, Action::Rollback | Action::Stop) {
                // The carried state came from the discarded weights.
                state.hidden = model.zero_state(batch.batch_size);
            }
            if let Some(dir) = &acted.stop_checkpoint {
                let info = CheckpointInfo {
                    step,
                    val_loss: None,
                    params: model.params.len(),
                };
                checkpoint::write_checkpoint(dir, &model.params, state, &info)?;
                stop = Some(format!("the guard stopped the run: {}", acted.detail));
            }
            self.progress.println(&format!("guard: {}", acted.detail));
            log.event(step, acted.event, acted.detail)
                .map_err(io(log.path()))?;
        }
        let tokens = batch.targets.len() as u64;
        state.tokens += tokens;
        let secs = step_start.elapsed().as_secs_f64();
        self.step_secs += secs;
        let record = StepRecord {
            step,
            epoch: batcher.position().epoch as f64
                + batcher.position().index as f64 / batcher.batches_per_epoch() as f64,
            tokens: state.tokens,
            loss: ce.mean,
            lr: lr as f64,
            grad_norm: grad_norm as f64,
            clipped: t.clip > 0.0 && grad_norm > t.clip,
            tok_per_s: tokens as f64 / secs.max(1e-9),
            time_s: self.elapsed(state),
        };
        log.step(&record).map_err(io(log.path()))?;
        self.progress
            .update(state.step, ce.mean, lr as f64, record.tok_per_s);
        state.step += 1;
        Ok(stop)
    }

    fn evaluate(
        &mut self,
        model: &mut LanguageModel,
        state: &mut TrainerState,
        log: &mut MetricsLog,
    ) -> Result<EvalResult, TrainError> {
        let result = evaluate(self.be, std::slice::from_mut(model), self.eval_batches)?;
        state.last_eval = Some((state.step, result.loss, result.tokens));
        log.eval(&EvalRecord {
            step: state.step,
            epoch: state.tokens as f64 / self.meta.train_tokens.max(1) as f64,
            tokens: state.tokens,
            val_loss: result.loss,
            val_ppl: result.perplexity(),
            val_bpc: result.bits(),
            time_s: self.elapsed(state),
        })
        .map_err(io(log.path()))?;
        let improved = state.best_val.is_none_or(|b| result.loss < b);
        if improved {
            state.best_val = Some(result.loss);
            state.evals_without_improvement = 0;
            let info = CheckpointInfo {
                step: state.step,
                val_loss: Some(result.loss),
                params: model.params.len(),
            };
            checkpoint::write_checkpoint(&self.run.best(), &model.params, &mut (), &info)?;
        } else {
            state.evals_without_improvement += 1;
        }
        if let Some(p) = &mut state.plateau {
            if p.observe(result.loss) {
                log.event(
                    state.step,
                    "lr_reduced",
                    format!("validation loss {:.4} did not improve", result.loss),
                )
                .map_err(io(log.path()))?;
            }
        }
        self.progress.val_loss = Some(result.loss);
        let floor = self.meta.references.floor.map_or(String::new(), |f| {
            format!(" (floor {f:.4}, +{:.4})", result.loss - f)
        });
        self.progress.println(&format!(
            "step {:>6}  val loss {:.4}{floor}  ppl {:.2}  bits {:.3}",
            state.step,
            result.loss,
            result.perplexity(),
            result.bits()
        ));
        Ok(result)
    }

    fn checkpoint(
        &mut self,
        model: &LanguageModel,
        state: &mut TrainerState,
        batcher: &TrainBatcher,
        val_loss: Option<f64>,
        log: &mut MetricsLog,
    ) -> Result<(), TrainError> {
        state.data = batcher.position();
        state.metrics_bytes = log.len().map_err(io(log.path()))?;
        let dir = checkpoint::step_dir(&self.run.checkpoints(), state.step);
        let info = CheckpointInfo {
            step: state.step,
            val_loss,
            params: model.params.len(),
        };
        let mut saved = state.clone();
        saved.elapsed_s = self.elapsed(state);
        saved.guard = state.guard.for_checkpoint();
        checkpoint::write_checkpoint(&dir, &model.params, &mut saved, &info)?;
        checkpoint::prune(
            &self.run.checkpoints(),
            self.config().train.keep_checkpoints,
        )?;
        log.event(
            state.step,
            "checkpoint",
            checkpoint::step_dir_name(state.step),
        )
        .map_err(io(log.path()))?;
        self.checkpointed_at = Some(state.step);
        Ok(())
    }

    fn write_sample(&self, model: &mut LanguageModel, step: u64) -> Result<(), TrainError> {
        let text = sample(
            self.be,
            model,
            &self.prepared.tokenizer,
            &SampleOptions {
                prompt: String::new(),
                len: 200,
                temperature: 0.8,
                top_k: 0,
                top_p: 1.0,
                seed: step,
            },
            |_| {},
        )?;
        self.run
            .append_sample(step, &text)
            .map_err(io(&self.run.samples()))
    }
}
