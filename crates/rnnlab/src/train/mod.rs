//! The training loop: truncated BPTT over contiguous streams with the hidden state carried
//! across batches, gradient clipping, a warmup-then-decay schedule, periodic full-split
//! evaluation, early stopping, keep-best, atomic checkpoints and exact resume.

pub mod horizon;
pub mod progress;
pub mod run_dir;
pub mod setup;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::model::LanguageModel;
use engine::optim::{
    clip_grad_norm, global_norm, AnyOptimizer, LrSchedule, Optimizer, ReduceOnPlateau,
};
use engine::rng::seeded;
use engine::{Backend, CpuBackend};
use thiserror::Error;

use crate::checkpoint::{self, CheckpointError, CheckpointInfo};
use crate::config::{parse_duration, Config, ConfigError};
use crate::data::{self, DataError, EvalBatches, Fetcher, PreparedData, Split, TrainBatcher};
use crate::evaluate::{evaluate, EvalResult};
use crate::guard::{Action, Guard, GuardState, Restorable, StepContext};
use crate::metrics::{self, EvalRecord, MetricsLog, StepRecord};
use crate::sample::{sample, SampleOptions};
use progress::Progress;
use run_dir::{Meta, RunDir};
use state::TrainerState;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("model: {0}")]
    Engine(#[from] engine::EngineError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resume {run}: {message}")]
    Resume { run: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub struct TrainOptions {
    pub config: Config,
    pub run_dir: PathBuf,
    /// Continue the run in `run_dir` from its newest checkpoint.
    pub resume: bool,
    pub quiet: bool,
    /// Set (e.g. by Ctrl-C) to save a checkpoint and stop after the current step.
    pub stop: Arc<AtomicBool>,
    pub fetcher: Fetcher,
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub steps: u64,
    pub tokens: u64,
    pub elapsed: Duration,
    pub final_val: Option<EvalResult>,
    pub best_val: Option<f64>,
    pub references: run_dir::References,
    pub stopped_because: String,
    /// What the training guard did over the whole run.
    pub guard: GuardSummary,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardSummary {
    pub skips: u64,
    pub rollbacks: u32,
    /// The learning-rate factor the run ended with (1 without rollbacks).
    pub lr_scale: f32,
}

/// Config keys a resume may change: only how long to go on.
const RESUMABLE_CHANGES: [&str; 4] = [
    "train.steps",
    "train.epochs",
    "train.time",
    "train.patience",
];

fn first_difference(a: &Config, b: &Config) -> Option<String> {
    let (ta, tb) = (
        toml::Table::try_from(a).expect("config serializes"),
        toml::Table::try_from(b).expect("config serializes"),
    );
    for (section, va) in &ta {
        let (Some(sa), Some(sb)) = (va.as_table(), tb.get(section).and_then(|v| v.as_table()))
        else {
            continue;
        };
        for (key, x) in sa {
            let full = format!("{section}.{key}");
            if sb.get(key) != Some(x) && !RESUMABLE_CHANGES.contains(&full.as_str()) {
                return Some(format!(
                    "`{full}` is {} in the run but {} now",
                    sb.get(key).map_or("unset".into(), |v| v.to_string()),
                    x
                ));
            }
        }
    }
    None
}

/// Trains according to `opts` and returns a summary; everything is written to the run dir.
pub fn train(opts: TrainOptions) -> Result<RunSummary, TrainError> {
    let run = RunDir::new(&opts.run_dir);
    let config = &opts.config;
    if opts.resume {
        let saved = Config::from_file(&run.config())?;
        if let Some(diff) = first_difference(config, &saved) {
            return Err(TrainError::Resume {
                run: run.root.clone(),
                message: format!("the config does not match: {diff}"),
            });
        }
    } else if run.metrics().exists() {
        return Err(TrainError::Resume {
            run: run.root.clone(),
            message: "the run directory already holds a run; use --resume to continue it or pick another --name".into(),
        });
    }
    // Bad guard settings or fault specs fail before anything is written.
    let guard = Guard::new(&config.guard, config.train.seed, &run.root)?;
    std::fs::create_dir_all(&run.root).map_err(io(&run.root))?;

    // Data: the tokenizer of a resumed run is reused as saved, never refitted.
    let (data_spec, tokenizer, fractions) = setup::data_spec(config)?;
    let fitted = if opts.resume {
        Some(data::AnyTokenizer::load(&run.tokenizer())?)
    } else {
        None
    };
    let prepared = data::prepare(
        &data::DataConfig {
            data: data_spec,
            tokenizer,
            fitted,
            fractions,
            token_cache: Some(run.root.clone()),
        },
        &opts.fetcher,
    )?;
    let batch_config = setup::batch_config(config)?;
    let mut batcher = prepared.train_batcher(batch_config)?;
    let eval_batches =
        prepared.eval_batches(Split::Valid, config.train.batch, config.train.bptt)?;

    let vocab = prepared.tokenizer.vocab_size();
    let spec = setup::model_spec(config, vocab)?;
    let mut model = LanguageModel::new(spec, config.train.seed)?;
    let be = CpuBackend::new(config.train.threads);
    let base_lr = config.train.lr;
    let (_, plateau_config) = setup::schedule(config, 1, 1)?;

    let mut state = if opts.resume {
        let latest = checkpoint::list_step_checkpoints(&run.checkpoints())
            .pop()
            .ok_or_else(|| TrainError::Resume {
                run: run.root.clone(),
                message: "no checkpoint under checkpoints/".into(),
            })?;
        let meta = run.read_meta().map_err(|m| TrainError::Resume {
            run: run.root.clone(),
            message: m,
        })?;
        if meta.vocab_size != vocab {
            return Err(TrainError::Resume {
                run: run.root.clone(),
                message: format!(
                    "the vocabulary has {vocab} tokens now but {} in the run",
                    meta.vocab_size
                ),
            });
        }
        checkpoint::load_safetensors_into(&latest.join("model.safetensors"), &mut model.params)?;
        let state: TrainerState = checkpoint::read_trainer_state(&latest)?;
        batcher.seek(state.data)?;
        // Drop what was logged after the checkpoint, so the log continues as if never cut.
        metrics::truncate_to(&run.metrics(), state.metrics_bytes).map_err(io(&run.metrics()))?;
        state
    } else {
        let optimizer = AnyOptimizer::new(&setup::optimizer(config)?)?;
        std::fs::write(run.config(), config.to_toml()).map_err(io(&run.config()))?;
        prepared.tokenizer.save(&run.tokenizer())?;
        TrainerState {
            step: 0,
            tokens: 0,
            elapsed_s: 0.0,
            optimizer,
            rng: seeded(config.train.seed ^ 0x5eed_d20b),
            data: batcher.position(),
            hidden: model.zero_state(config.train.batch),
            plateau: plateau_config.map(ReduceOnPlateau::new).transpose()?,
            best_val: None,
            evals_without_improvement: 0,
            horizon: None,
            metrics_bytes: 0,
            guard: GuardState::new(&config.guard),
        }
    };
    let meta = Meta {
        vocab_size: vocab,
        tokenizer: prepared.tokenizer.kind().to_string(),
        data: prepared.description.clone(),
        references: (&prepared.stats).into(),
        steps_per_epoch: batcher.batches_per_epoch() as u64,
        batching: if config.train.carry_state {
            "streams"
        } else {
            "windows"
        }
        .into(),
        tokens_per_step: batcher.tokens_per_batch() as u64,
        train_tokens: prepared.train.len() as u64,
        valid_tokens: prepared.valid.len() as u64,
        params: model.params.len(),
        threads: be.threads(),
        rnnlab_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: run_dir::git_commit(),
    };
    run.write_meta(&meta).map_err(io(&run.meta()))?;
    let mut log = MetricsLog::open(&run.metrics()).map_err(io(&run.metrics()))?;

    let mut ctx = Loop {
        opts: &opts,
        run: &run,
        be: &be,
        prepared: &prepared,
        eval_batches: &eval_batches,
        base_lr,
        time_budget: parse_duration(&config.train.time)?,
        progress: Progress::new(0, opts.quiet),
        started: Instant::now(),
        meta: &meta,
        guard,
        step_secs: 0.0,
    };
    let outcome = ctx.run(&mut model, &mut batcher, &mut state, &mut log);
    ctx.progress.finish();
    state.elapsed_s = ctx.elapsed(&state);
    let (stopped_because, final_val) = outcome?;
    Ok(RunSummary {
        run_dir: run.root.clone(),
        steps: state.step,
        tokens: state.tokens,
        elapsed: Duration::from_secs_f64(state.elapsed_s),
        final_val,
        best_val: state.best_val,
        references: meta.references.clone(),
        stopped_because,
        guard: GuardSummary {
            skips: state.guard.skips_total,
            rollbacks: state.guard.rollbacks_total,
            lr_scale: state.guard.lr_scale,
        },
    })
}

struct Loop<'a> {
    opts: &'a TrainOptions,
    run: &'a RunDir,
    be: &'a CpuBackend,
    prepared: &'a PreparedData,
    eval_batches: &'a EvalBatches,
    base_lr: f32,
    time_budget: Option<Duration>,
    progress: Progress,
    started: Instant,
    meta: &'a Meta,
    guard: Guard,
    /// Time spent in training steps (not evaluations or checkpoints) in this process.
    step_secs: f64,
}

/// Steps timed before a wall-time budget is turned into a step horizon for the schedule.
const CALIBRATION_STEPS: u64 = 20;

impl Loop<'_> {
    fn config(&self) -> &Config {
        &self.opts.config
    }

    fn elapsed(&self, state: &TrainerState) -> f64 {
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

    fn run(
        &mut self,
        model: &mut LanguageModel,
        batcher: &mut TrainBatcher,
        state: &mut TrainerState,
        log: &mut MetricsLog,
    ) -> Result<(String, Option<EvalResult>), TrainError> {
        let t = self.config().train.clone();
        // A step or epoch bound in the config wins (a resume may extend the run); a
        // time-bounded run keeps the horizon it calibrated.
        let fixed = self.fixed_horizon(batcher);
        let time_bounded = fixed.is_none();
        if fixed.is_some() {
            state.horizon = fixed;
        }
        // Until a time-bounded run is calibrated, its schedule runs as if it had no end.
        let mut schedule = self.schedule(state.horizon.unwrap_or(u64::MAX / 4))?;
        self.progress.set_total(state.horizon.unwrap_or(0));
        let calibration_start = (state.step, Instant::now());
        let mut last_eval: Option<(u64, EvalResult)> = None;
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
                self.checkpoint(model, state, batcher, None, log)?;
                log.event(state.step, "interrupted", "checkpoint saved")
                    .map_err(io(log.path()))?;
                return Ok(("interrupted; resume with --resume".into(), None));
            }
            if let Some(reason) = self.train_step(model, batcher, state, log, &schedule)? {
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
                log.event(state.step, "checkpoint", format!("step-{:08}", state.step))
                    .map_err(io(log.path()))?;
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
        self.checkpoint(model, state, batcher, Some(result.loss), log)?;
        self.write_sample(model, state.step)?;
        log.event(state.step, "end", stopped.clone())
            .map_err(io(log.path()))?;
        Ok((stopped, Some(result)))
    }

    /// One step; returns a reason to stop when the guard gives up on the run.
    fn train_step(
        &mut self,
        model: &mut LanguageModel,
        batcher: &mut TrainBatcher,
        state: &mut TrainerState,
        log: &mut MetricsLog,
        schedule: &LrSchedule,
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
        let mut lr = schedule.lr_at(self.base_lr, step);
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
                checkpoint::write_checkpoint(dir, &model.params, &*state, &info)?;
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
            checkpoint::write_checkpoint(&self.run.best(), &model.params, &(), &info)?;
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
        &self,
        model: &LanguageModel,
        state: &mut TrainerState,
        batcher: &TrainBatcher,
        val_loss: Option<f64>,
        log: &MetricsLog,
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
        checkpoint::write_checkpoint(&dir, &model.params, &saved, &info)?;
        checkpoint::prune(
            &self.run.checkpoints(),
            self.config().train.keep_checkpoints,
        )?;
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
