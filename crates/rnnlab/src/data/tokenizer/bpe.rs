//! Byte-level BPE through Hugging Face `tokenizers` (built pure-Rust: `fancy-regex`, no
//! onig/esaxx C++). Trained on the training split, or loaded from a `tokenizer.json`.
//!
//! Encoding works line by line (lines keep their `\n`), in chunks, so a large split never becomes
//! one giant pre-tokenizer input; the same chunking is used for every text, so ids are
//! reproducible. Byte-level pre-tokenization makes `decode(encode(t)) == t` for any text.
use super::super::error::DataError;
use super::Tokenizer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::Path;
use std::str::FromStr;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{NormalizerWrapper, PostProcessorWrapper, TokenizerBuilder, TokenizerImpl};

/// Lines are grouped into chunks of about this many bytes for encoding.
const CHUNK_BYTES: usize = 1 << 16;

#[derive(Clone)]
pub struct BpeTokenizer {
    // boxed: the HF tokenizer is large and lives inside the `AnyTokenizer` enum
    inner: Box<tokenizers::Tokenizer>,
}

impl std::fmt::Debug for BpeTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BpeTokenizer(vocab={})", self.vocab_size())
    }
}

type TypedBpe = TokenizerImpl<BPE, NormalizerWrapper, ByteLevel, PostProcessorWrapper, ByteLevel>;

impl BpeTokenizer {
    /// Train a byte-level BPE with `vocab_size` entries on `train`.
    pub fn train(train: &str, vocab_size: usize) -> Result<BpeTokenizer, DataError> {
        let alphabet = ByteLevel::alphabet();
        if vocab_size < alphabet.len() {
            return Err(DataError::Tokenizer(format!(
                "bpe vocabulary size {vocab_size} is below the 256 byte symbols it must hold"
            )));
        }
        let mut trainer = BpeTrainerBuilder::new()
            .show_progress(false)
            .vocab_size(vocab_size)
            .min_frequency(2)
            .initial_alphabet(alphabet.into_iter().collect())
            .build();
        let byte_level = ByteLevel::new(false, true, true);
        let mut typed: TypedBpe = TokenizerBuilder::new()
            .with_model(BPE::default())
            .with_normalizer(None)
            .with_pre_tokenizer(Some(byte_level))
            .with_post_processor(None)
            .with_decoder(Some(byte_level))
            .build()
            .map_err(|e| DataError::Tokenizer(format!("bpe setup: {e}")))?;
        typed
            .train(&mut trainer, chunks(train))
            .map_err(|e| DataError::Tokenizer(format!("bpe training: {e}")))?;
        // Go through JSON to get the type-erased tokenizer that `from_file` also yields.
        let json = typed
            .to_string(false)
            .map_err(|e| DataError::Tokenizer(format!("bpe serialize: {e}")))?;
        Self::from_json_str(&json).map_err(DataError::Tokenizer)
    }

    /// Load a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<BpeTokenizer, DataError> {
        let json = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        Self::from_json_str(&json).map_err(|message| DataError::TokenizerFile {
            path: path.to_path_buf(),
            message,
        })
    }

    fn from_json_str(json: &str) -> Result<BpeTokenizer, String> {
        let inner = tokenizers::Tokenizer::from_str(json).map_err(|e| e.to_string())?;
        Ok(BpeTokenizer {
            inner: Box::new(inner),
        })
    }

    /// The Hugging Face JSON (what `tokenizer.json` holds).
    pub fn hf_json(&self) -> String {
        self.inner
            .to_string(false)
            .expect("a loaded tokenizer serializes")
    }
}

/// Consecutive whole lines, about `CHUNK_BYTES` each.
fn chunks(text: &str) -> impl Iterator<Item = &str> + Send {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len().min(CHUNK_BYTES);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        // extend to the end of the line so chunk borders fall on line breaks
        end = rest[end..].find('\n').map_or(rest.len(), |i| end + i + 1);
        let (chunk, tail) = rest.split_at(end);
        rest = tail;
        Some(chunk)
    })
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3);
        for chunk in chunks(text) {
            // Byte-level BPE has no failure mode on valid UTF-8 input.
            let enc = self
                .inner
                .encode_fast(chunk, false)
                .expect("byte-level BPE encodes any text");
            ids.extend_from_slice(enc.get_ids());
        }
        ids
    }

    fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

impl Serialize for BpeTokenizer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let value: serde_json::Value =
            serde_json::from_str(&self.hf_json()).map_err(serde::ser::Error::custom)?;
        #[derive(Serialize)]
        struct Wrapper {
            tokenizer: serde_json::Value,
        }
        Wrapper { tokenizer: value }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for BpeTokenizer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper {
            tokenizer: serde_json::Value,
        }
        let w = Wrapper::deserialize(d)?;
        BpeTokenizer::from_json_str(&w.tokenizer.to_string()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_text() -> String {
        let words = ["lower", "newest", "widest", "low", "new", "wide", "ünïcode"];
        let mut s = String::new();
        for i in 0..400 {
            s.push_str(words[i % words.len()]);
            s.push(if i % 9 == 8 { '\n' } else { ' ' });
        }
        s
    }

    #[test]
    fn trained_bpe_round_trips_and_compresses() {
        let text = sample_text();
        let tok = BpeTokenizer::train(&text, 300).unwrap();
        assert!(
            tok.vocab_size() > 256 && tok.vocab_size() <= 300,
            "{}",
            tok.vocab_size()
        );
        let ids = tok.encode(&text);
        assert!(
            ids.len() < text.len() / 2,
            "merges should shorten the text: {}",
            ids.len()
        );
        assert_eq!(tok.decode(&ids), text);
        // unseen text still round-trips (byte-level)
        let odd = "zebra ☃ 12\n";
        assert_eq!(tok.decode(&tok.encode(odd)), odd);
    }

    #[test]
    fn loads_a_saved_tokenizer_json() {
        let text = sample_text();
        let tok = BpeTokenizer::train(&text, 280).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, tok.hf_json()).unwrap();
        let loaded = BpeTokenizer::from_file(&path).unwrap();
        assert_eq!(loaded.encode(&text), tok.encode(&text));
    }

    #[test]
    fn bad_tokenizer_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.json");
        std::fs::write(&path, "{\"not\": \"a tokenizer\"}").unwrap();
        let err = BpeTokenizer::from_file(&path).unwrap_err();
        assert!(err.to_string().contains("broken.json"), "{err}");
    }

    #[test]
    fn chunks_cover_the_text_on_line_borders() {
        let text = "line one\n".repeat(20_000);
        let parts: Vec<&str> = chunks(&text).collect();
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.ends_with('\n')));
        assert_eq!(parts.concat(), text);
    }
}
