//! The run directory `runs/<name>/`: `config.toml`, `meta.json`, `tokenizer.json`,
//! `metrics.jsonl`, `checkpoints/`, `samples.txt`. `meta.json` is what the doctor reads for
//! the vocabulary size, reference levels and steps per epoch.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::data::CorpusStats;
use crate::fsutil::write_atomic;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct References {
    pub ln_vocab: f64,
    pub unigram: f64,
    pub bigram: f64,
    pub floor: Option<f64>,
}

impl From<&CorpusStats> for References {
    fn from(s: &CorpusStats) -> Self {
        References {
            ln_vocab: s.ln_vocab,
            unigram: s.unigram,
            bigram: s.bigram,
            floor: s.floor,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub vocab_size: usize,
    pub tokenizer: String,
    pub data: String,
    /// Loss levels of the validation split in nats per token.
    pub references: References,
    pub steps_per_epoch: u64,
    /// `streams` (B contiguous streams, hidden state carried: the same batches in the same
    /// order every epoch, by design) or `windows` (shuffled independent windows).
    #[serde(default)]
    pub batching: String,
    pub tokens_per_step: u64,
    pub train_tokens: u64,
    pub valid_tokens: u64,
    /// Characters and bytes of the validation text, for bits per character and per byte
    /// whatever the tokenizer (absent in runs from before it was recorded).
    #[serde(default)]
    pub valid_size: Option<crate::data::TextSize>,
    pub params: usize,
    pub threads: usize,
    pub rnnlab_version: String,
    pub git_commit: Option<String>,
}

pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> RunDir {
        RunDir { root: root.into() }
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn meta(&self) -> PathBuf {
        self.root.join("meta.json")
    }
    pub fn tokenizer(&self) -> PathBuf {
        self.root.join("tokenizer.json")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }
    pub fn best(&self) -> PathBuf {
        self.checkpoints().join("best")
    }
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples.txt")
    }

    pub fn write_meta(&self, meta: &Meta) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(meta).map_err(std::io::Error::other)?;
        write_atomic(&self.meta(), &json)
    }

    pub fn read_meta(&self) -> Result<Meta, String> {
        let path = self.meta();
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Whether `samples.txt` holds a sample of `step`.
    pub fn has_sample(&self, step: u64) -> bool {
        std::fs::read_to_string(self.samples())
            .is_ok_and(|t| t.contains(&format!("=== step {step} ===\n")))
    }

    /// Appends a sample to `samples.txt` under a header naming the step.
    pub fn append_sample(&self, step: u64, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.samples())?;
        let record = format!("=== step {step} ===\n{text}\n\n");
        f.write_all(record.as_bytes())
    }
}

/// A fresh run name: `<data>-<cell>-<UTC timestamp>`.
pub fn default_name(data: &str, cell: &str) -> String {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "")
        .replace('T', "-")
        .trim_end_matches('Z')
        .to_string();
    let data: String = Path::new(data)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| data.to_string())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{data}-{cell}-{stamp}")
}

/// The commit of the working directory's git checkout, when there is one.
pub fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_filesystem_safe() {
        let n = default_name("../shared/data/tiny shakespeare.txt", "lstm");
        assert!(n.starts_with("tiny-shakespeare-lstm-"), "{n}");
        assert!(!n.contains(['/', ':', ' ']), "{n}");
    }
}
