//! Stand-in for the BPE tokenizer in a build without the `bpe` feature (no Hugging Face
//! `tokenizers` dependency). No value of it can exist: every way to get one (training, loading a
//! `tokenizer.json`, reading a run's saved BPE tokenizer) is an error saying how to get a build
//! that has it.
use super::super::error::DataError;
use super::Tokenizer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::convert::Infallible;
use std::path::Path;

/// Why BPE is unavailable and what to do about it.
pub const BPE_DISABLED: &str = "this rnnlab was built without the `bpe` feature; rebuild it with \
     the default features (`cargo install --path crates/rnnlab`) or with `--features bpe`, or use \
     --tokenizer char, byte or word";

#[derive(Debug, Clone)]
pub struct BpeTokenizer {
    never: Infallible,
}

impl BpeTokenizer {
    pub fn train(_train: &str, _vocab_size: usize) -> Result<BpeTokenizer, DataError> {
        Err(DataError::Tokenizer(BPE_DISABLED.to_string()))
    }

    pub fn from_file(path: &Path) -> Result<BpeTokenizer, DataError> {
        Err(DataError::TokenizerFile {
            path: path.to_path_buf(),
            message: BPE_DISABLED.to_string(),
        })
    }

    pub fn hf_json(&self) -> String {
        match self.never {}
    }
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, _text: &str) -> Vec<u32> {
        match self.never {}
    }

    fn decode(&self, _ids: &[u32]) -> String {
        match self.never {}
    }

    fn vocab_size(&self) -> usize {
        match self.never {}
    }
}

impl Serialize for BpeTokenizer {
    fn serialize<S: Serializer>(&self, _s: S) -> Result<S::Ok, S::Error> {
        match self.never {}
    }
}

impl<'de> Deserialize<'de> for BpeTokenizer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Err(serde::de::Error::custom(BPE_DISABLED))
    }
}
