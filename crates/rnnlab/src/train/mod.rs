//! The training loop: truncated BPTT over contiguous streams with the hidden state carried
//! across batches, gradient clipping, a warmup-then-decay schedule, periodic full-split
//! evaluation, early stopping, keep-best, atomic checkpoints and exact resume.

pub mod horizon;
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
            skips: state.guard.skips_total(),
            rollbacks: state.guard.rollbacks_total(),
            lr_scale: state.guard.lr_scale,
        },
    })
}
