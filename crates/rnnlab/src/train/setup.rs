//! Turns a resolved [`Config`] into the engine and data objects a run needs. Every invalid
//! value is an error that names its config key.

use engine::layers::embedding::EmbeddingInit;
use engine::layers::recurrent::CellKind;
use engine::model::ModelSpec;
use engine::optim::{
    AdamConfig, AdamWConfig, LrSchedule, OptimizerConfig, PlateauConfig, RmsPropConfig, Schedule,
    SgdConfig,
};

use crate::config::{Config, ConfigError};
use crate::data::{BatchConfig, BatchMode, DataSpec, SplitFractions, TokenizerSpec};

fn bad(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Value {
        key: key.into(),
        message: message.into(),
    }
}

/// Checks every setting that can be checked without the data, so a bad one fails before
/// any file is written.
pub fn validate(config: &Config) -> Result<(), ConfigError> {
    let t = &config.train;
    if !(t.lr.is_finite() && t.lr > 0.0) {
        return Err(bad(
            "train.lr",
            format!("{} is not a learning rate: it must be positive", t.lr),
        ));
    }
    if !(t.min_lr_ratio.is_finite() && (0.0..=1.0).contains(&t.min_lr_ratio)) {
        return Err(bad("train.min_lr_ratio", "must be in [0, 1]"));
    }
    if !(t.clip.is_finite() && t.clip >= 0.0) {
        return Err(bad("train.clip", "must be 0 (off) or positive"));
    }
    let time = crate::config::parse_duration(&t.time)?;
    if t.steps == 0 && t.epochs == 0 && time.is_none() {
        return Err(bad(
            "train.steps",
            "the run has no end: give train.steps, train.epochs or train.time (--steps, --epochs, --time)",
        ));
    }
    let m = &config.model;
    for (key, v) in [
        ("model.embed", m.embed),
        ("model.hidden", m.hidden),
        ("model.layers", m.layers),
    ] {
        if v == 0 {
            return Err(bad(key, "must be at least 1"));
        }
    }
    if !(0.0..1.0).contains(&m.dropout) {
        return Err(bad("model.dropout", "must be in [0, 1)"));
    }
    if m.tie_weights && m.embed != m.hidden {
        return Err(bad(
            "model.tie_weights",
            format!(
                "needs model.embed ({}) == model.hidden ({})",
                m.embed, m.hidden
            ),
        ));
    }
    model_spec(config, 2)?;
    optimizer(config)?;
    schedule(config, 1000, 1)?;
    batch_config(config)?;
    data_spec(config)?;
    crate::guard::Guard::new(&config.guard, t.seed, std::path::Path::new("."))?;
    Ok(())
}

pub fn cell_kind(config: &Config) -> Result<CellKind, ConfigError> {
    Ok(match config.model.cell.as_str() {
        "lstm" => CellKind::Lstm,
        "gru" => CellKind::Gru,
        "rnn_tanh" | "rnn" | "tanh" => CellKind::RnnTanh,
        "rnn_relu" | "relu" => CellKind::RnnRelu,
        other => {
            return Err(bad(
                "model.cell",
                format!("`{other}` is not one of lstm, gru, rnn_tanh, rnn_relu"),
            ))
        }
    })
}

pub fn model_spec(config: &Config, vocab: usize) -> Result<ModelSpec, ConfigError> {
    let m = &config.model;
    Ok(ModelSpec {
        cell: cell_kind(config)?,
        vocab,
        embed: m.embed,
        hidden: m.hidden,
        layers: m.layers,
        dropout: m.dropout,
        locked_dropout: m.locked_dropout,
        tie_weights: m.tie_weights,
        forget_bias: m.forget_bias,
        embed_init: match m.embed_init.as_str() {
            "auto" => None,
            "normal" => Some(EmbeddingInit::Normal),
            "uniform" => Some(EmbeddingInit::Uniform { bound: 0.1 }),
            other => {
                return Err(ConfigError::Value {
                    key: "model.embed_init".into(),
                    message: format!("`{other}`: expected auto, normal or uniform"),
                })
            }
        },
    })
}

pub fn optimizer(config: &Config) -> Result<OptimizerConfig, ConfigError> {
    let t = &config.train;
    let wd = t.weight_decay as f64;
    Ok(match t.optimizer.as_str() {
        "adam" => OptimizerConfig::Adam(AdamConfig {
            weight_decay: wd,
            ..AdamConfig::default()
        }),
        "adamw" => OptimizerConfig::AdamW(AdamWConfig {
            weight_decay: wd,
            ..AdamWConfig::default()
        }),
        "sgd" => OptimizerConfig::Sgd(SgdConfig {
            momentum: t.momentum as f64,
            weight_decay: wd,
            ..SgdConfig::default()
        }),
        "nesterov" => OptimizerConfig::Sgd(SgdConfig {
            momentum: t.momentum as f64,
            nesterov: true,
            weight_decay: wd,
            ..SgdConfig::default()
        }),
        "rmsprop" => OptimizerConfig::RmsProp(RmsPropConfig {
            weight_decay: wd,
            ..RmsPropConfig::default()
        }),
        other => {
            return Err(bad(
                "train.optimizer",
                format!("`{other}` is not one of adam, adamw, sgd, nesterov, rmsprop"),
            ))
        }
    })
}

/// The step schedule over `total_steps` updates (the horizon is needed by cosine), and the
/// reduce-on-plateau controller when `train.schedule = "plateau"`.
pub fn schedule(
    config: &Config,
    total_steps: u64,
    steps_per_epoch: u64,
) -> Result<(LrSchedule, Option<PlateauConfig>), ConfigError> {
    let t = &config.train;
    let unit = if t.schedule_in_epochs {
        steps_per_epoch.max(1)
    } else {
        1
    };
    let (warmup, step_size, decay_start) = (
        t.warmup_steps * unit,
        t.step_size * unit,
        t.decay_start * unit,
    );
    let decay_steps = total_steps.saturating_sub(warmup).max(1);
    let min_lr = (t.lr * t.min_lr_ratio) as f64;
    let mut plateau = None;
    let schedule = match t.schedule.as_str() {
        "constant" => Schedule::Constant,
        "cosine" => Schedule::Cosine {
            total_steps: decay_steps,
            min_lr,
        },
        "step" => Schedule::Step {
            step_size: step_size.max(1),
            gamma: t.gamma as f64,
            // The schedule's clock starts after warmup.
            first_decay: (decay_start > 0).then(|| decay_start.saturating_sub(warmup)),
        },
        "exponential" => Schedule::Exponential {
            gamma: t.gamma as f64,
        },
        "cosine_restarts" => Schedule::CosineWarmRestarts {
            t0: step_size.max(1),
            t_mult: 1,
            min_lr,
        },
        "plateau" => {
            plateau = Some(PlateauConfig {
                factor: t.gamma as f64,
                patience: t.step_size.min(u32::MAX as u64) as u32,
                ..PlateauConfig::default()
            });
            Schedule::Constant
        }
        other => {
            return Err(bad(
                "train.schedule",
                format!(
                    "`{other}` is not one of constant, cosine, step, exponential, cosine_restarts, plateau"
                ),
            ))
        }
    };
    let schedule = LrSchedule::new(schedule, t.warmup_steps)
        .map_err(|e| bad("train.schedule", e.to_string()))?;
    Ok((schedule, plateau))
}

pub fn batch_config(config: &Config) -> Result<BatchConfig, ConfigError> {
    let t = &config.train;
    if t.batch == 0 {
        return Err(bad("train.batch", "must be at least 1"));
    }
    if t.bptt == 0 {
        return Err(bad("train.bptt", "must be at least 1"));
    }
    Ok(BatchConfig {
        batch_size: t.batch,
        bptt: t.bptt,
        mode: if t.carry_state {
            BatchMode::Streams
        } else {
            BatchMode::ShuffledWindows { seed: t.seed }
        },
    })
}

/// What to load, and with which tokenizer.
pub fn data_spec(
    config: &Config,
) -> Result<(DataSpec, Option<TokenizerSpec>, SplitFractions), ConfigError> {
    use crate::data::builtin::BuiltinConfig;
    use crate::data::CorpusSource;
    use std::path::PathBuf;
    let d = &config.data;
    let [train, valid, test] = d.split;
    let fractions = SplitFractions { train, valid, test };
    let spec = if !d.train.is_empty() {
        if d.valid.is_empty() {
            return Err(bad(
                "data.valid",
                "a validation file is needed with data.train",
            ));
        }
        DataSpec::Source(CorpusSource::Files {
            train: PathBuf::from(&d.train),
            valid: PathBuf::from(&d.valid),
            test: (!d.test.is_empty()).then(|| PathBuf::from(&d.test)),
        })
    } else if !d.path.is_empty() {
        DataSpec::parse(&d.path).map_err(|e| bad("data.path", e.to_string()))?
    } else if d.name == "builtin" {
        DataSpec::Builtin(BuiltinConfig {
            seed: d.builtin_seed,
            ..BuiltinConfig::default()
        })
    } else {
        DataSpec::parse(&d.name).map_err(|e| bad("data.name", e.to_string()))?
    };
    let tokenizer = match d.tokenizer.as_str() {
        "" => None,
        name => {
            let mut spec =
                TokenizerSpec::parse(name).map_err(|e| bad("data.tokenizer", e.to_string()))?;
            if d.vocab_size > 0 {
                match &mut spec {
                    TokenizerSpec::Word { max_vocab } => *max_vocab = Some(d.vocab_size),
                    TokenizerSpec::Bpe { vocab_size, .. } => *vocab_size = d.vocab_size,
                    _ => {}
                }
            }
            Some(spec)
        }
    };
    Ok((spec, tokenizer, fractions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_resolves_and_bad_names_cite_their_key() {
        let c = Config::default();
        assert_eq!(cell_kind(&c).unwrap(), CellKind::Lstm);
        assert!(optimizer(&c).is_ok());
        assert!(schedule(&c, 1000, 10).is_ok());
        assert!(batch_config(&c).is_ok());
        assert!(data_spec(&c).is_ok());
        let c = c
            .with_overrides(&[
                "model.cell=transformer".into(),
                "train.schedule=linear".into(),
            ])
            .unwrap();
        assert!(cell_kind(&c)
            .unwrap_err()
            .to_string()
            .contains("model.cell"));
        assert!(schedule(&c, 10, 10)
            .unwrap_err()
            .to_string()
            .contains("train.schedule"));
    }

    #[test]
    fn validation_blames_the_right_key() {
        let check = |set: &str| {
            let c = Config::default().with_overrides(&[set.into()]).unwrap();
            validate(&c).unwrap_err().to_string()
        };
        let e = check("train.lr=-0.001");
        assert!(e.contains("`train.lr`") && !e.contains("schedule"), "{e}");
        assert!(check("train.lr=0").contains("`train.lr`"));
        assert!(check("model.cell=transformer").contains("`model.cell`"));
        assert!(check("model.hidden=0").contains("`model.hidden`"));
        let c = Config::default()
            .with_overrides(&["train.time=''".into(), "train.steps=0".into()])
            .unwrap();
        assert!(validate(&c).unwrap_err().to_string().contains("no end"));
        assert!(validate(&Config::default()).is_ok());
    }

    #[test]
    fn cosine_decays_to_its_floor_at_the_horizon() {
        let c = Config::default();
        let (s, _) = schedule(&c, 1000, 10).unwrap();
        assert!((s.lr_at(c.train.lr, 999) - c.train.lr * c.train.min_lr_ratio).abs() < 1e-5);
        assert!(s.lr_at(c.train.lr, 0) < c.train.lr, "warmup starts low");
    }

    #[test]
    fn zaremba_schedule_in_epochs() {
        let c = Config::default()
            .with_overrides(&[
                "train.schedule=step".into(),
                "train.lr=1.0".into(),
                "train.gamma=0.5".into(),
                "train.step_size=1".into(),
                "train.decay_start=4".into(),
                "train.warmup_steps=0".into(),
                "train.schedule_in_epochs=true".into(),
            ])
            .unwrap();
        let (s, _) = schedule(&c, 1300, 100).unwrap();
        let at = |step| s.lr_at(1.0, step);
        assert_eq!(
            [at(0), at(399), at(400), at(499), at(500)],
            [1.0, 1.0, 0.5, 0.5, 0.25]
        );
    }
}
