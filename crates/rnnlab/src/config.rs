//! Run configuration: a TOML file plus `--set section.key=value` overrides. Unknown keys are
//! errors that suggest the nearest valid key; the resolved config is saved with the run.

use doctor::online::{DetectorConfig, Mode, MonitorConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;
use thiserror::Error;

pub use crate::config_doc::describe;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("unknown config key `{key}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("invalid value for `{key}`: {message}")]
    Value { key: String, message: String },
    #[error("override `{0}` is not of the form section.key=value")]
    Override(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// `builtin`, a well-known corpus name (tiny-shakespeare, ptb, wikitext-2, …), or empty when
    /// `path` or `train` is given.
    pub name: String,
    /// A text file or a directory of text files, split by `split`.
    pub path: String,
    /// Training split file (PTB / WikiText-2 style explicit splits; needs `valid`).
    pub train: String,
    /// Validation split file (with `train`).
    pub valid: String,
    /// Test split file (optional, with `train`).
    pub test: String,
    /// Train/valid/test fractions for a single-file corpus (contiguous).
    pub split: [f64; 3],
    /// `char`, `byte`, `word` or `bpe`; empty = the corpus's usual one (`word` for PTB and
    /// WikiText-2, `char` otherwise).
    pub tokenizer: String,
    /// Vocabulary cap for `word`, target size for `bpe` (0 = no cap).
    pub vocab_size: usize,
    /// Seed of the built-in corpus generator.
    pub builtin_seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            name: "builtin".into(),
            path: String::new(),
            train: String::new(),
            valid: String::new(),
            test: String::new(),
            split: [0.9, 0.05, 0.05],
            tokenizer: String::new(),
            vocab_size: 0,
            builtin_seed: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// `lstm`, `gru`, `rnn_tanh` or `rnn_relu`.
    pub cell: String,
    /// Embedding width.
    pub embed: usize,
    /// Hidden units per recurrent layer.
    pub hidden: usize,
    /// Recurrent layers stacked.
    pub layers: usize,
    /// Dropout on embeddings, between layers and on outputs (0 = off).
    pub dropout: f32,
    /// One dropout mask per sequence (variational) instead of per element and step.
    pub locked_dropout: bool,
    /// Share the embedding matrix with the output head (needs embed == hidden).
    pub tie_weights: bool,
    /// LSTM forget-gate bias at init (PyTorch's default init when absent).
    pub forget_bias: Option<f32>,
    /// Embedding init: `normal` N(0, 1) (PyTorch's default), `uniform` U(±0.1) (Zaremba,
    /// PyTorch's word-LM example) or `auto` (normal, uniform when the weights are tied).
    pub embed_init: String,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            cell: "lstm".into(),
            embed: 64,
            hidden: 256,
            layers: 1,
            dropout: 0.0,
            locked_dropout: false,
            tie_weights: false,
            // Measured on tiny Shakespeare (2x512, Adam 2e-3): validation loss at step 200 was
            // 1.997 with forget bias 1 and 1.882 with 0; PyTorch's init gives 1.921.
            forget_bias: None,
            embed_init: "auto".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Sequences per batch (contiguous streams when `carry_state`).
    pub batch: usize,
    /// Validation streams (0 = `batch`). Each stream is scored from a zero state; fewer,
    /// longer streams (PyTorch's word-language-model example uses 10) score a model that leans
    /// on a long-carried state as it is used, where many short ones understate it.
    pub eval_batch: usize,
    /// Truncated-BPTT length.
    pub bptt: usize,
    /// Stop after this many optimizer steps (0 = no step limit).
    pub steps: u64,
    /// Stop after this many epochs (0 = no epoch limit).
    pub epochs: u64,
    /// Wall-time budget such as `10m`, `90s`, `1h` (empty = none).
    pub time: String,
    /// `adam`, `adamw`, `sgd`, `rmsprop`.
    pub optimizer: String,
    /// Peak learning rate (after warmup); must be positive.
    pub lr: f32,
    /// Momentum for `sgd` and `nesterov`.
    pub momentum: f32,
    /// L2 penalty (`adam`, `sgd`, `rmsprop`) or decoupled decay (`adamw`).
    pub weight_decay: f32,
    /// Global-norm clipping threshold (0 = off).
    pub clip: f32,
    /// `constant`, `cosine`, `step`, `exponential`, `cosine_restarts`, `plateau`.
    pub schedule: String,
    /// Steps of linear warmup from 0 to `lr`.
    pub warmup_steps: u64,
    /// Cosine floor as a fraction of `lr`.
    pub min_lr_ratio: f32,
    /// Step/exponential/plateau factor.
    pub gamma: f32,
    /// Step schedule period, restart period, or plateau patience in evaluations.
    pub step_size: u64,
    /// Step schedule: the step of the first decay (0 = after `step_size` steps, as `StepLR`).
    pub decay_start: u64,
    /// Read `warmup_steps`, `step_size` and `decay_start` in epochs instead of steps.
    pub schedule_in_epochs: bool,
    /// Evaluate on the validation split every this many steps.
    pub eval_every: u64,
    /// Stop after this many evaluations without improvement (0 = never).
    pub patience: u64,
    /// Carry the hidden state across batches (contiguous streams); false = shuffled windows.
    pub carry_state: bool,
    /// Seed of the initialisation, dropout and shuffling.
    pub seed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Keep the last K periodic checkpoints (plus the best).
    pub keep_checkpoints: usize,
    /// Write a checkpoint every this many steps (0 = only at the end).
    pub checkpoint_every: u64,
    /// Append a sample to samples.txt every this many steps (0 = only at the end).
    pub sample_every: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch: 32,
            eval_batch: 0,
            bptt: 64,
            steps: 0,
            epochs: 0,
            time: "2m".into(),
            optimizer: "adam".into(),
            lr: 3e-3,
            momentum: 0.9,
            weight_decay: 0.0,
            clip: 1.0,
            schedule: "cosine".into(),
            warmup_steps: 100,
            min_lr_ratio: 0.1,
            gamma: 0.25,
            step_size: 1000,
            decay_start: 0,
            schedule_in_epochs: false,
            eval_every: 100,
            patience: 0,
            carry_state: true,
            seed: 1,
            threads: 0,
            keep_checkpoints: 2,
            checkpoint_every: 500,
            sample_every: 0,
        }
    }
}

/// The training guard (see `rnnlab::guard`): what it watches for and what it may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// `full` (skip, roll back, stop), `skip` (skip updates only) or `off` (apply every
    /// update, NaN included).
    pub mode: String,
    /// Skip an update whose loss or gradient norm is NaN or infinite.
    pub skip_non_finite: bool,
    /// Skip an update whose loss or gradient norm is a spike.
    pub skip_spikes: bool,
    /// Roll back to the last good state on repeated spikes or divergence (`full` only).
    pub rollback: bool,
    /// Stop the run once `max_rollbacks` rollbacks did not help (`full` only).
    pub stop: bool,
    /// Accepted steps in the rolling window the statistics are taken over.
    pub window: usize,
    /// Accepted steps needed before anything but a non-finite value is judged.
    pub warmup: usize,
    /// Robust z-score of ln(loss) against the window that makes a loss spike.
    pub z_loss: f64,
    /// The loss must also be this fraction above the window median (0.2 = 20%).
    pub min_loss_rise: f64,
    /// Robust z-score of ln(gradient norm) that makes a gradient spike.
    pub z_grad: f64,
    /// The gradient norm must also be this many times the window median. Healthy LSTM runs
    /// burst to 5–6× now and then with the loss at its level (the default run, PTB); a
    /// poisoned batch goes well past 10×.
    pub min_grad_ratio: f64,
    /// This many flagged steps within `recent` steps call for a rollback.
    pub rollback_after: usize,
    /// The window, in steps, of `rollback_after`.
    pub recent: u64,
    /// Divergence: the recent loss has given back this fraction of the progress made
    /// (from the first window's level down to the best level).
    pub divergence: f64,
    /// Keep a good state in memory every this many steps.
    pub snapshot_every: u64,
    /// Learning-rate factor applied at a rollback that lowers the rate (see `lr_lower_after`).
    pub lr_factor: f32,
    /// Rollbacks in one episode of trouble that keep the learning rate: the first rollback to a
    /// state from before the trouble undoes a passing cause (a bad stretch of data, a brief LR
    /// excursion) by itself; trouble that comes back in the same episode (or divergence) points
    /// at the rate, which is then multiplied by `lr_factor` (0 = lower it at every rollback).
    pub lr_lower_after: u32,
    /// Once the run has been calm for `snapshot_every` steps after trouble, the learning rate
    /// returns to the schedule linearly over this many steps (0 = the lowered rate stays).
    pub lr_restore_steps: u64,
    /// Rollbacks in one episode of trouble before the run is stopped.
    pub max_rollbacks: u32,
    /// Fault injection, a testing aid: `bad-batch@STEP`, `corrupt-text@STEP`,
    /// `nan@STEP`, `lr-spike@STEP:LR[:STEPS]`.
    pub inject: Vec<String>,
}

impl GuardConfig {
    /// The streaming detector's thresholds.
    pub fn detector(&self) -> DetectorConfig {
        DetectorConfig {
            window: self.window,
            warmup: self.warmup,
            z_loss: self.z_loss,
            min_loss_rise: self.min_loss_rise,
            z_grad: self.z_grad,
            min_grad_ratio: self.min_grad_ratio,
            divergence: self.divergence,
        }
    }

    /// The doctor's decision rules with these settings; an error names the `guard.` key.
    pub fn monitor_config(&self) -> Result<MonitorConfig, ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Value {
            key: format!("guard.{key}"),
            message,
        };
        let mode = Mode::parse(&self.mode).map_err(|m| bad("mode", m))?;
        let detector = self.detector();
        detector
            .validate()
            .map_err(|(key, message)| bad(key, message.into()))?;
        Ok(MonitorConfig {
            mode,
            skip_non_finite: self.skip_non_finite,
            skip_spikes: self.skip_spikes,
            rollback: self.rollback,
            stop: self.stop,
            rollback_after: self.rollback_after,
            recent: self.recent,
            max_rollbacks: self.max_rollbacks,
            detector,
        })
    }
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            mode: "full".into(),
            skip_non_finite: true,
            skip_spikes: true,
            rollback: true,
            stop: true,
            window: 64,
            warmup: 20,
            z_loss: 6.0,
            min_loss_rise: 0.2,
            z_grad: 10.0,
            min_grad_ratio: 10.0,
            rollback_after: 3,
            recent: 10,
            divergence: 0.5,
            snapshot_every: 50,
            lr_factor: 0.5,
            lr_lower_after: 1,
            lr_restore_steps: 300,
            max_rollbacks: 3,
            inject: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data: DataConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub guard: GuardConfig,
}

impl Config {
    /// Reads a TOML file (unknown keys are errors naming the nearest valid key).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Config::from_toml(&text).map_err(|e| match e {
            ConfigError::File { message, .. } => ConfigError::File {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let value: toml::Table = toml::from_str(text).map_err(|e| ConfigError::File {
            path: "<config>".into(),
            message: e.to_string(),
        })?;
        check_keys(&value)?;
        Config::deserialize(toml::Value::Table(value)).map_err(|e| ConfigError::File {
            path: "<config>".into(),
            message: e.to_string(),
        })
    }

    /// Applies `section.key=value` overrides; the value is read as a TOML literal, or as a
    /// string when it is not one (so `--set data.name=ptb` needs no quotes).
    pub fn with_overrides(&self, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut table = toml::Table::try_from(self).expect("config serializes to TOML");
        for item in overrides {
            let (key, raw) = item
                .split_once('=')
                .ok_or_else(|| ConfigError::Override(item.clone()))?;
            let Some((section, field)) = key.trim().split_once('.') else {
                // `hidden=512`: the key without its section.
                return Err(match check_key("?", Some(key.trim())) {
                    Err(ConfigError::UnknownKey {
                        suggestion: Some(s),
                        ..
                    }) => ConfigError::UnknownKey {
                        key: key.trim().to_string(),
                        suggestion: Some(s),
                    },
                    _ => ConfigError::Override(item.clone()),
                });
            };
            check_key(section, Some(field))?;
            let value = parse_literal(raw.trim());
            table
                .get_mut(section)
                .and_then(|s| s.as_table_mut())
                .expect("checked section")
                .insert(field.to_string(), value);
            // Blame the override that does not fit, not all of them.
            Config::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
                ConfigError::Value {
                    key: format!("{section}.{field}"),
                    message: format!("`{}`: {}", raw.trim(), e.message()),
                }
            })?;
        }
        Ok(Config::deserialize(toml::Value::Table(table)).expect("checked above"))
    }

    /// The config as TOML, numbers as written (`lr = 0.003`, not the f32's
    /// `0.003000000026077032`).
    pub fn to_toml(&self) -> String {
        let mut table = toml::Table::try_from(self).expect("config serializes to TOML");
        for (_, section) in table.iter_mut() {
            if let Some(fields) = section.as_table_mut() {
                for (_, v) in fields.iter_mut() {
                    shortest_float(v);
                }
            }
        }
        toml::to_string_pretty(&table).expect("config serializes to TOML")
    }
}

/// A float that is exactly an f32 (an f32 field, or a round number) is written as the f32's
/// shortest decimal, which reads back to the same f32.
pub(crate) fn shortest_float(v: &mut toml::Value) {
    match v {
        toml::Value::Float(f) if (*f as f32) as f64 == *f && f.is_finite() => {
            if let Ok(short) = (*f as f32).to_string().parse::<f64>() {
                *f = short;
            }
        }
        toml::Value::Array(items) => items.iter_mut().for_each(shortest_float),
        _ => {}
    }
}

fn parse_literal(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Every valid `section.key`, taken from the default config so the list never goes stale.
fn valid_keys() -> Vec<(String, Vec<String>)> {
    let table = toml::Table::try_from(Config::default()).expect("config serializes to TOML");
    let mut sections: Vec<(String, Vec<String>)> = table
        .iter()
        .map(|(s, v)| {
            let mut keys: Vec<String> = v
                .as_table()
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            // Optional fields are absent from the serialized default.
            if s == "model" {
                keys.push("forget_bias".into());
            }
            (s.clone(), keys)
        })
        .collect();
    sections.sort();
    sections
}

fn check_key(section: &str, field: Option<&str>) -> Result<(), ConfigError> {
    let keys = valid_keys();
    let all: Vec<String> = keys
        .iter()
        .flat_map(|(s, fs)| fs.iter().map(move |f| format!("{s}.{f}")))
        .collect();
    let full = match field {
        Some(f) => format!("{section}.{f}"),
        None => section.to_string(),
    };
    let known = match (keys.iter().find(|(s, _)| s == section), field) {
        (Some(_), None) => true,
        (Some((_, fs)), Some(f)) => fs.iter().any(|k| k == f),
        (None, _) => false,
    };
    if known {
        return Ok(());
    }
    // A section is compared with section names; a key with every `section.key`, and its bare
    // name with the bare field names, so `hiden` finds `model.hidden`.
    let candidates: Vec<(usize, String)> = match field {
        None => keys
            .iter()
            .map(|(s, _)| (strsim::levenshtein(s, section), s.clone()))
            .collect(),
        Some(f) => all
            .iter()
            .map(|k| {
                let bare = k.split_once('.').map_or(k.as_str(), |(_, b)| b);
                let d = strsim::levenshtein(k, &full).min(strsim::levenshtein(bare, f));
                (d, k.clone())
            })
            .collect(),
    };
    let suggestion = candidates
        .into_iter()
        .min()
        .filter(|(d, _)| *d <= 3)
        .map(|(_, k)| k);
    Err(ConfigError::UnknownKey {
        key: full,
        suggestion,
    })
}

fn check_keys(table: &toml::Table) -> Result<(), ConfigError> {
    for (section, value) in table {
        check_key(section, None)?;
        if let Some(fields) = value.as_table() {
            for field in fields.keys() {
                check_key(section, Some(field))?;
            }
        }
    }
    Ok(())
}

/// Parses a wall-time budget such as `90s`, `10m`, `1.5h` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Option<std::time::Duration>, ConfigError> {
    let t = text.trim();
    if t.is_empty() || t == "0" {
        return Ok(None);
    }
    let (num, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => f64::NAN,
    };
    let secs = num
        .trim()
        .parse::<f64>()
        .map(|n| n * scale)
        .unwrap_or(f64::NAN);
    if !secs.is_finite() || secs < 0.0 {
        return Err(ConfigError::Value {
            key: "train.time".into(),
            message: format!("`{text}` is not a duration like 90s, 10m or 1.5h"),
        });
    }
    Ok(Some(std::time::Duration::from_secs_f64(secs)))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
