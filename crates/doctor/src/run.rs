//! The normalised training run every parser produces and every detector reads.

use serde::{Deserialize, Serialize};

/// One logged value at a global optimizer step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub step: f64,
    pub value: f64,
}

/// Something the trainer did or saw at a step (checkpoint, guard skip, rollback, early stop…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub step: f64,
    pub kind: String,
    #[serde(default)]
    pub detail: String,
}

/// Loss levels the data allows, in nats per token. All optional: unknown unless a run's
/// metadata, a flag or a corpus supplies them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct References {
    /// ln V: the loss of a uniform prediction, what a fresh model should start near.
    pub ln_vocab: Option<f64>,
    /// Entropy of the unigram distribution: a model that ignores context converges here.
    pub unigram: Option<f64>,
    /// Conditional entropy of the next token given the previous one.
    pub bigram: Option<f64>,
    /// The best loss any model can reach (known exactly for rnnlab's built-in corpus).
    pub floor: Option<f64>,
}

/// A training run's curves, each sorted by step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Display name (file or run directory).
    pub name: String,
    pub train_loss: Vec<Point>,
    pub val_loss: Vec<Point>,
    pub lr: Vec<Point>,
    /// Global gradient norm before clipping.
    pub grad_norm: Vec<Point>,
    pub events: Vec<Event>,
    pub references: References,
    pub steps_per_epoch: Option<f64>,
    /// The trainer feeds the same batches in the same order every epoch on purpose
    /// (contiguous streams with a carried hidden state), so an epoch-periodic loss is expected.
    #[serde(default)]
    pub fixed_batch_order: bool,
    pub vocab_size: Option<usize>,
    /// What the reader had to leave out or guess, for the user to see (a log cut off in the
    /// middle of its last line, …); the curves are still judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Which column or tag each series was read from, so a user can check the reader's pick.
    #[serde(default, skip_serializing_if = "SeriesNames::is_empty")]
    pub columns: SeriesNames,
}

/// The source column (table) or tag (TensorBoard) of each series; `None` where the reader
/// found none, or where the format has no names (text logs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesNames {
    pub step: Option<String>,
    pub train_loss: Option<String>,
    pub val_loss: Option<String>,
    pub lr: Option<String>,
    pub grad_norm: Option<String>,
}

impl SeriesNames {
    pub fn is_empty(&self) -> bool {
        *self == SeriesNames::default()
    }

    /// `step ← "global_step", training loss ← "loss", …` for the names known.
    pub fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [
            ("step", &self.step),
            ("training loss", &self.train_loss),
            ("validation", &self.val_loss),
            ("learning rate", &self.lr),
            ("gradient norm", &self.grad_norm),
        ]
        .into_iter()
        .filter_map(|(what, name)| name.as_ref().map(|n| format!("{what} ← \"{n}\"")))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}
