//! The training loop: truncated BPTT over contiguous streams with the hidden state carried
//! across batches, gradient clipping, a warmup-then-decay schedule, periodic full-split
//! evaluation, early stopping, keep-best, atomic checkpoints and exact resume.

pub mod horizon;
pub mod lock;
pub mod lr;
pub mod progress;
pub mod run_dir;
mod runner;
pub mod setup;
pub mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::model::LanguageModel;
use engine::optim::{AnyOptimizer, ReduceOnPlateau};
use engine::rng::seeded;
use engine::{Backend, CpuBackend};
use thiserror::Error;

use crate::checkpoint::{self, CheckpointError};
use crate::config::{parse_duration, Config, ConfigError};
use crate::data::{self, DataError, Fetcher, Split};
use crate::evaluate::EvalResult;
use crate::guard::{Guard, GuardState};
use crate::metrics::{self, MetricsLog};
use progress::Progress;
use run_dir::{Meta, RunDir};
use runner::Loop;
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
    #[error("{path}: {source}{hint}", hint = disk_full_hint(.source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot resume {run}: {message}")]
    Resume { run: PathBuf, message: String },
    #[error("{run}: {message}")]
    Run { run: PathBuf, message: String },
    #[error(transparent)]
    Lock(#[from] lock::LockError),
}

fn disk_full_hint(source: &std::io::Error) -> &'static str {
    if crate::fsutil::is_out_of_space(source) {
        " (out of disk space: nothing was left half-written, the log ends on its last whole \
         line and earlier checkpoints are intact; free some space, then `rnnlab train --resume \
         RUN_DIR` continues from the newest checkpoint)"
    } else {
        ""
    }
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
    /// Stopped by a signal (Ctrl-C, SIGTERM) with a checkpoint saved, not finished.
    pub interrupted: bool,
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

/// Says something the user must know (a damaged checkpoint skipped, a schedule continued),
/// whether or not the progress bar is on.
pub(crate) fn notice(text: &str) {
    eprintln!("rnnlab: {text}");
}

/// Trains according to `opts` and returns a summary; everything is written to the run dir.
/// Every setting is checked before anything is written, and a fresh run that fails before
/// its first step leaves no directory behind.
pub fn train(opts: TrainOptions) -> Result<RunSummary, TrainError> {
    let run = RunDir::new(&opts.run_dir);
    setup::validate(&opts.config)?;
    if opts.resume {
        let saved = Config::from_file(&run.config())?;
        // The run saved the tokenizer an empty setting resolved to.
        let mut now = opts.config.clone();
        if now.data.tokenizer.is_empty() {
            now.data.tokenizer = saved.data.tokenizer.clone();
        }
        if let Some(diff) = first_difference(&now, &saved) {
            return Err(TrainError::Resume {
                run: run.root.clone(),
                message: format!("the config does not match: {diff}"),
            });
        }
    }
    // The run directory and the missing folders above it (a fresh `runs/`).
    let created = crate::fsutil::topmost_missing(&run.root);
    std::fs::create_dir_all(&run.root).map_err(io(&run.root))?;
    let remove_created = || {
        if let Some(top) = &created {
            let _ = std::fs::remove_dir_all(&run.root);
            if let Some(up) = run.root.parent() {
                crate::fsutil::remove_empty_up_to(up, top);
            }
        }
    };
    let lock = match lock::RunLock::acquire(&run.root) {
        Ok(l) => l,
        Err(e) => {
            remove_created();
            return Err(e.into());
        }
    };
    let result = train_locked(&opts, &run);
    if result.is_err() {
        // Nothing of a fresh run that failed before its first step is worth keeping.
        let started = std::fs::metadata(run.metrics()).is_ok_and(|m| m.len() > 0);
        if !started {
            drop(lock);
            remove_created();
            return result;
        }
    }
    drop(lock);
    result
}

/// Where a resume starts: the newest intact checkpoint, or the beginning when the run was
/// stopped before its first one.
enum Start {
    Fresh,
    Over,
    From(PathBuf),
}

fn choose_start(opts: &TrainOptions, run: &RunDir) -> Result<Start, TrainError> {
    let (newest, damaged) = checkpoint::newest_intact(&run.checkpoints());
    if !opts.resume {
        let has_run = std::fs::metadata(run.metrics()).is_ok_and(|m| m.len() > 0);
        if has_run {
            let what = if newest.is_some() || !damaged.is_empty() {
                "already holds a run; `--resume` continues it"
            } else {
                "holds a run stopped before its first checkpoint; `--resume` starts it over"
            };
            return Err(TrainError::Run {
                run: run.root.clone(),
                message: format!("{what}, or pick another --name (or delete the directory)"),
            });
        }
        return Ok(Start::Fresh);
    }
    for e in &damaged {
        notice(&format!("{e}; skipping it"));
    }
    match newest {
        Some(dir) => {
            if !damaged.is_empty() {
                notice(&format!(
                    "resuming from {}, the newest intact checkpoint",
                    dir.display()
                ));
            }
            Ok(Start::From(dir))
        }
        None if damaged.is_empty() => {
            notice(&format!(
                "{} has no checkpoint yet (stopped before the first one): starting it over from step 0",
                run.root.display()
            ));
            Ok(Start::Over)
        }
        None => Err(TrainError::Resume {
            run: run.root.clone(),
            message: format!(
                "every checkpoint is damaged ({}); restore them from a copy, or delete the \
                 run directory and train again",
                damaged.len()
            ),
        }),
    }
}

fn train_locked(opts: &TrainOptions, run: &RunDir) -> Result<RunSummary, TrainError> {
    let config = &opts.config;
    checkpoint::recover(&run.checkpoints())?;
    let start = choose_start(opts, run)?;
    let resume_from = match &start {
        Start::From(dir) => Some(dir.clone()),
        _ => None,
    };
    let guard = Guard::new(&config.guard, config.train.seed, &run.root)?;

    // Data: the tokenizer of a resumed run is reused as saved, never refitted.
    let (data_spec, tokenizer, fractions) = setup::data_spec(config)?;
    let fitted = if resume_from.is_some() {
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
    let eval_streams = match config.train.eval_batch {
        0 => config.train.batch,
        n => n,
    };
    let eval_batches = prepared.eval_batches(Split::Valid, eval_streams, config.train.bptt)?;

    let vocab = prepared.tokenizer.vocab_size();
    let spec = setup::model_spec(config, vocab)?;
    let mut model = LanguageModel::new(spec, config.train.seed)?;
    let be = CpuBackend::new(config.train.threads);
    let base_lr = config.train.lr;
    let (_, plateau_config) = setup::schedule(config, 1, 1)?;

    let mut resumed_checkpoint_event = None;
    let mut state = if let Some(latest) = &resume_from {
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
        checkpoint::load_weights(latest, &mut model.params)?;
        let state: TrainerState = checkpoint::read_trainer_state(latest, model.params.len())?;
        batcher.seek(state.data)?;
        // Drop what was logged after the checkpoint, so the log continues as if never cut.
        metrics::truncate_to(&run.metrics(), state.metrics_bytes).map_err(io(&run.metrics()))?;
        let name = latest.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref() == Some(&checkpoint::step_dir_name(state.step)) {
            resumed_checkpoint_event = name;
        }
        state
    } else {
        let optimizer = AnyOptimizer::new(&setup::optimizer(config)?)?;
        // Saved as resolved: an empty tokenizer setting becomes the one the corpus got.
        let mut resolved = config.clone();
        if resolved.data.tokenizer.is_empty() {
            resolved.data.tokenizer = prepared.tokenizer.kind().to_string();
        }
        crate::fsutil::write_atomic(&run.config(), resolved.to_toml().as_bytes())
            .map_err(io(&run.config()))?;
        prepared.tokenizer.save(&run.tokenizer())?;
        if matches!(start, Start::Over) {
            metrics::truncate_to(&run.metrics(), 0).map_err(io(&run.metrics()))?;
        }
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
            schedule: Default::default(),
            last_eval: None,
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
        valid_size: Some(prepared.tokenizer.text_size(&prepared.valid)),
        params: model.params.len(),
        threads: be.threads(),
        rnnlab_version: env!("CARGO_PKG_VERSION").to_string(),
        git_commit: run_dir::git_commit(),
    };
    run.write_meta(&meta).map_err(io(&run.meta()))?;
    let mut log = MetricsLog::open(&run.metrics())
        .map_err(io(&run.metrics()))?
        .with_tensorboard(&run.root);
    if state.step > 0 {
        log.resumed_at(state.step);
    }
    if let Some(name) = resumed_checkpoint_event {
        // The checkpoint's own event line came after the length it recorded; put it back.
        log.event(state.step, "checkpoint", name)
            .map_err(io(log.path()))?;
    }

    let mut ctx = Loop {
        opts,
        run,
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
        last_eval_s: 0.0,
        checkpointed_at: resume_from.as_ref().map(|_| state.step),
    };
    let outcome = ctx.run(&mut model, &mut batcher, &mut state, &mut log);
    ctx.progress.finish();
    state.elapsed_s = ctx.elapsed(&state);
    let (stopped_because, final_val, interrupted) = outcome?;
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
            skips: state.guard.skips_total(),
            rollbacks: state.guard.rollbacks_total(),
            lr_scale: state.guard.lr_scale_at(&config.guard, state.step),
        },
        interrupted,
    })
}
