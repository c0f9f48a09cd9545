//! Tokenizers behind one trait, plus the serializable [`AnyTokenizer`] saved with each run.
//!
//! | kind | vocabulary | unseen input |
//! |---|---|---|
//! | `char` | the distinct characters of the training split, sorted by code point | `<unk>` (the last id) exists only if valid/test held a character the training split lacks; text encoded later with no `<unk>` drops unseen characters |
//! | `byte` | the 256 byte values | none: every input works, even invalid UTF-8 |
//! | `word` | whitespace-separated words of the training split plus `<eos>` (one per line), by frequency | `<unk>` |
//! | `bpe` | byte-level BPE from HF `tokenizers`, trained on the training split or loaded from `tokenizer.json` (cargo feature `bpe`, on by default) | none: byte-level covers every input |
#[cfg(feature = "bpe")]
mod bpe;
#[cfg(not(feature = "bpe"))]
#[path = "bpe_disabled.rs"]
mod bpe;
mod byte;
mod char;
mod word;

pub use self::bpe::BpeTokenizer;
#[cfg(not(feature = "bpe"))]
pub use self::bpe::BPE_DISABLED;
pub use self::byte::ByteTokenizer;
pub use self::char::CharTokenizer;
pub use self::word::WordTokenizer;

use super::error::DataError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What every tokenizer does.
pub trait Tokenizer {
    fn encode(&self, text: &str) -> Vec<u32>;
    fn decode(&self, ids: &[u32]) -> String;
    fn vocab_size(&self) -> usize;
}

/// How to build a tokenizer (the configuration side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TokenizerSpec {
    Char,
    Byte,
    Word {
        /// Keep only the most frequent words (including `<eos>` and `<unk>`).
        #[serde(default)]
        max_vocab: Option<usize>,
    },
    Bpe {
        /// Vocabulary size when training.
        #[serde(default = "default_bpe_vocab")]
        vocab_size: usize,
        /// Load this `tokenizer.json` instead of training.
        #[serde(default)]
        file: Option<PathBuf>,
    },
}

fn default_bpe_vocab() -> usize {
    1024
}

/// `--tokenizer bpe` / `tokenizer.json` need the `bpe` feature; without it, say so up front.
#[cfg(feature = "bpe")]
fn bpe_available(_name: &str) -> Result<(), DataError> {
    Ok(())
}

#[cfg(not(feature = "bpe"))]
fn bpe_available(name: &str) -> Result<(), DataError> {
    Err(DataError::Tokenizer(format!("`{name}`: {BPE_DISABLED}")))
}

impl TokenizerSpec {
    /// Parse a command-line name: `char`, `byte`, `word`, `word:10000`, `bpe`, `bpe:4000`,
    /// or a path ending in `.json` (a `tokenizer.json` to load).
    pub fn parse(name: &str) -> Result<TokenizerSpec, DataError> {
        let (kind, arg) = match name.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (name, None),
        };
        let number = |a: &str| {
            a.parse::<usize>()
                .map_err(|_| DataError::Tokenizer(format!("`{name}`: `{a}` is not a number")))
        };
        match (kind, arg) {
            ("char", None) => Ok(TokenizerSpec::Char),
            ("byte", None) => Ok(TokenizerSpec::Byte),
            ("word", a) => Ok(TokenizerSpec::Word {
                max_vocab: a.map(number).transpose()?,
            }),
            ("bpe", a) => {
                bpe_available(name)?;
                Ok(TokenizerSpec::Bpe {
                    vocab_size: a.map(number).transpose()?.unwrap_or_else(default_bpe_vocab),
                    file: None,
                })
            }
            _ if name.ends_with(".json") => {
                bpe_available(name)?;
                Ok(TokenizerSpec::Bpe {
                    vocab_size: 0,
                    file: Some(PathBuf::from(name)),
                })
            }
            _ => Err(DataError::Tokenizer(format!(
                "unknown tokenizer `{name}`; use char, byte, word[:MAX_VOCAB], bpe[:VOCAB] or a tokenizer.json"
            ))),
        }
    }

    /// Whether this tokenizer needs valid UTF-8 input.
    pub fn needs_text(&self) -> bool {
        !matches!(self, TokenizerSpec::Byte)
    }

    /// Build the tokenizer from the training text; `others` (valid, test) only decide whether an
    /// `<unk>` id must be reserved.
    pub fn fit(&self, train: &str, others: &[&str]) -> Result<AnyTokenizer, DataError> {
        Ok(match self {
            TokenizerSpec::Char => AnyTokenizer::Char(CharTokenizer::fit(train, others)),
            TokenizerSpec::Byte => AnyTokenizer::Byte(ByteTokenizer),
            TokenizerSpec::Word { max_vocab } => {
                AnyTokenizer::Word(WordTokenizer::fit(train, others, *max_vocab)?)
            }
            TokenizerSpec::Bpe {
                file: Some(path), ..
            } => AnyTokenizer::Bpe(BpeTokenizer::from_file(path)?),
            TokenizerSpec::Bpe { vocab_size, .. } => {
                AnyTokenizer::Bpe(BpeTokenizer::train(train, *vocab_size)?)
            }
        })
    }
}

/// The size of a text in characters and bytes (see [`AnyTokenizer::text_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSize {
    pub chars: u64,
    pub bytes: u64,
}

impl TextSize {
    /// Bits per character and per byte of a loss of `nats` per token over a text of `tokens`
    /// tokens of this size.
    pub fn bits(&self, nats: f64, tokens: u64) -> (Option<f64>, Option<f64>) {
        let per = |units: u64| {
            (units > 0).then(|| nats * tokens as f64 / units as f64 / std::f64::consts::LN_2)
        };
        (per(self.chars), per(self.bytes))
    }
}

/// A fitted tokenizer of any kind; serializes to JSON for the run directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AnyTokenizer {
    Char(CharTokenizer),
    Byte(ByteTokenizer),
    Word(WordTokenizer),
    Bpe(BpeTokenizer),
}

impl AnyTokenizer {
    pub fn kind(&self) -> &'static str {
        match self {
            AnyTokenizer::Char(_) => "char",
            AnyTokenizer::Byte(_) => "byte",
            AnyTokenizer::Word(_) => "word",
            AnyTokenizer::Bpe(_) => "bpe",
        }
    }

    /// Same as [`Tokenizer::encode`], callable without importing the trait.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner().encode(text)
    }

    /// Same as [`Tokenizer::decode`].
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner().decode(ids)
    }

    /// Same as [`Tokenizer::vocab_size`].
    pub fn vocab_size(&self) -> usize {
        self.inner().vocab_size()
    }

    /// What happens to text the vocabulary does not cover: the count of characters it lacks
    /// and whether they are scored as `<unk>` (else dropped). Characters for `char`, those of
    /// unknown words for `word`, those lost in a round trip for `bpe` (none for the byte-level
    /// BPE rnnlab trains), none for `byte`.
    pub fn unknown_chars(&self, text: &str) -> (usize, bool) {
        match self {
            AnyTokenizer::Char(t) => (t.unknown_chars(text), t.unk_id().is_some()),
            AnyTokenizer::Byte(_) => (0, false),
            AnyTokenizer::Word(t) => (t.unknown_chars(text), t.unk_id().is_some()),
            AnyTokenizer::Bpe(_) => {
                let back = self.decode(&self.encode(text));
                let lost = text.chars().count().saturating_sub(back.chars().count());
                (lost + back.matches('\u{FFFD}').count(), false)
            }
        }
    }

    /// Characters and bytes of the text `ids` stand for (decoded: for `word`, words joined by
    /// single spaces), so a loss per token converts to bits per character and per byte
    /// whatever the tokenizer.
    pub fn text_size(&self, ids: &[u32]) -> TextSize {
        let text = self.decode(ids);
        TextSize {
            chars: text.chars().count() as u64,
            bytes: match self {
                AnyTokenizer::Byte(_) => ids.len() as u64,
                _ => text.len() as u64,
            },
        }
    }

    fn inner(&self) -> &dyn Tokenizer {
        match self {
            AnyTokenizer::Char(t) => t,
            AnyTokenizer::Byte(t) => t,
            AnyTokenizer::Word(t) => t,
            AnyTokenizer::Bpe(t) => t,
        }
    }

    /// Encode raw bytes: the byte tokenizer takes anything, the others need UTF-8 and report the
    /// offending offset against `path`.
    pub fn encode_bytes(&self, bytes: &[u8], path: &Path) -> Result<Vec<u32>, DataError> {
        if let AnyTokenizer::Byte(b) = self {
            return Ok(b.encode_raw(bytes));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| DataError::InvalidUtf8 {
            path: path.to_path_buf(),
            offset: e.valid_up_to() as u64,
        })?;
        Ok(self.encode(text))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("tokenizer state is always serializable")
    }

    pub fn from_json(json: &str) -> Result<AnyTokenizer, DataError> {
        serde_json::from_str(json)
            .map_err(|e| DataError::Tokenizer(format!("bad tokenizer JSON: {e}")))
    }

    pub fn save(&self, path: &Path) -> Result<(), DataError> {
        std::fs::write(path, self.to_json()).map_err(|e| DataError::io(path, e))
    }

    pub fn load(path: &Path) -> Result<AnyTokenizer, DataError> {
        let json = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        serde_json::from_str(&json).map_err(|e| DataError::TokenizerFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

impl Tokenizer for AnyTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        AnyTokenizer::encode(self, text)
    }
    fn decode(&self, ids: &[u32]) -> String {
        AnyTokenizer::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        AnyTokenizer::vocab_size(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "the cat sat on the mat.\nthe dog sat too.\n";

    #[test]
    fn every_kind_round_trips_through_json() {
        let mut specs = vec![
            TokenizerSpec::Char,
            TokenizerSpec::Byte,
            TokenizerSpec::Word { max_vocab: None },
        ];
        if cfg!(feature = "bpe") {
            specs.push(TokenizerSpec::Bpe {
                vocab_size: 300,
                file: None,
            });
        }
        for spec in specs {
            let tok = spec.fit(TEXT, &[]).unwrap();
            let back = AnyTokenizer::from_json(&tok.to_json()).unwrap();
            assert_eq!(back.kind(), tok.kind());
            assert_eq!(back.vocab_size(), tok.vocab_size());
            assert_eq!(back.encode(TEXT), tok.encode(TEXT), "{spec:?}");
            assert_eq!(
                back.decode(&tok.encode(TEXT)),
                tok.decode(&tok.encode(TEXT))
            );
        }
    }

    #[test]
    fn parse_names() {
        assert_eq!(TokenizerSpec::parse("char").unwrap(), TokenizerSpec::Char);
        assert_eq!(
            TokenizerSpec::parse("word:10000").unwrap(),
            TokenizerSpec::Word {
                max_vocab: Some(10000)
            }
        );
        #[cfg(feature = "bpe")]
        {
            assert_eq!(
                TokenizerSpec::parse("bpe:500").unwrap(),
                TokenizerSpec::Bpe {
                    vocab_size: 500,
                    file: None
                }
            );
            assert!(matches!(
                TokenizerSpec::parse("runs/x/tokenizer.json").unwrap(),
                TokenizerSpec::Bpe { file: Some(_), .. }
            ));
        }
        assert!(TokenizerSpec::parse("wordpiece").is_err());
        assert!(TokenizerSpec::parse("word:many").is_err());
    }

    #[cfg(not(feature = "bpe"))]
    #[test]
    fn bpe_without_the_feature_says_how_to_get_it() {
        for name in ["bpe", "bpe:500", "runs/x/tokenizer.json"] {
            let msg = TokenizerSpec::parse(name).unwrap_err().to_string();
            assert!(
                msg.contains(name)
                    && msg.contains("`bpe` feature")
                    && msg.contains("--features bpe"),
                "{msg}"
            );
        }
        // a spec from a config file, and a run's saved BPE tokenizer, fail the same way
        let spec = TokenizerSpec::Bpe {
            vocab_size: 300,
            file: None,
        };
        let msg = spec.fit(TEXT, &[]).unwrap_err().to_string();
        assert!(msg.contains("`bpe` feature"), "{msg}");
        let msg = AnyTokenizer::from_json(r#"{"kind":"bpe","tokenizer":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`bpe` feature"), "{msg}");
    }

    #[test]
    fn non_utf8_bytes_need_the_byte_tokenizer() {
        let bytes = b"ab\xffcd";
        let path = Path::new("data/blob.bin");
        let char_tok = TokenizerSpec::Char.fit("abcd", &[]).unwrap();
        let err = char_tok.encode_bytes(bytes, path).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("blob.bin")
                && msg.contains("offset 2")
                && msg.contains("--tokenizer byte"),
            "{msg}"
        );
        let byte_tok = TokenizerSpec::Byte.fit("", &[]).unwrap();
        assert_eq!(
            byte_tok.encode_bytes(bytes, path).unwrap(),
            vec![97, 98, 255, 99, 100]
        );
    }

    #[test]
    fn every_tokenizer_counts_unknown_characters_and_sizes_its_text() {
        let char_tok = AnyTokenizer::Char(CharTokenizer::fit(TEXT, &["xyz"]));
        assert_eq!(char_tok.unknown_chars("the ox"), (1, true));
        assert_eq!(
            AnyTokenizer::Byte(ByteTokenizer).unknown_chars("ünï"),
            (0, false)
        );
        let word = AnyTokenizer::Word(WordTokenizer::fit(TEXT, &["a bird"], None).unwrap());
        // "bird" and "flew" are unknown words: their 8 characters, scored as <unk>.
        assert_eq!(word.unknown_chars("the bird flew"), (8, true));
        assert_eq!(word.unknown_chars("the cat sat"), (0, true));

        // Sizes of the decoded text: a word's tokens stand for several characters each.
        let ids = word.encode("the cat sat on the mat.\n");
        let size = word.text_size(&ids);
        assert_eq!(ids.len(), 7, "six words and <eos>");
        assert_eq!(size.chars, 24);
        let (bpc, bpb) = size.bits(std::f64::consts::LN_2, ids.len() as u64);
        assert!((bpc.unwrap() - 7.0 / 24.0).abs() < 1e-12);
        assert!(
            (bpb.unwrap() - 7.0 / 24.0).abs() < 1e-12,
            "ASCII: bytes = chars"
        );
        let bytes = AnyTokenizer::Byte(ByteTokenizer);
        let ids = bytes.encode("ünï");
        assert_eq!(bytes.text_size(&ids), TextSize { chars: 3, bytes: 5 });
    }
}
