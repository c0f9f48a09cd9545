//! The data pipeline: corpus → tokenizer → token ids → batches, plus reference levels.
//!
//! [`prepare`] is the entry point: it resolves a [`DataSpec`] (the built-in corpus, a known
//! corpus by name, or files), fits (or reuses) a tokenizer on the training split, encodes every
//! split (through the token cache when a directory is given) and measures [`CorpusStats`].
pub mod batcher;
pub mod builtin;
pub mod cache;
pub mod corpus;
pub mod download;
pub mod error;
pub mod stats;
pub mod tokenizer;

pub use batcher::{Batch, BatchConfig, BatchMode, DataPosition, EvalBatches, TrainBatcher};
pub use builtin::{BuiltinConfig, BuiltinCorpus};
pub use corpus::{Corpus, CorpusSource, Split, SplitFractions};
pub use download::Fetcher;
pub use error::DataError;
pub use stats::CorpusStats;
pub use tokenizer::{AnyTokenizer, TextSize, Tokenizer, TokenizerSpec};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which text to train on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSpec {
    Builtin(BuiltinConfig),
    /// A corpus from the `--data NAME` registry.
    Known(String),
    Source(CorpusSource),
}

impl Default for DataSpec {
    fn default() -> Self {
        DataSpec::Builtin(BuiltinConfig::default())
    }
}

impl DataSpec {
    /// `builtin`, a registry name, or a path (file or directory).
    pub fn parse(name: &str) -> Result<DataSpec, DataError> {
        if name == "builtin" {
            return Ok(DataSpec::default());
        }
        let unknown = match download::lookup(name) {
            Ok(_) => return Ok(DataSpec::Known(name.to_string())),
            Err(e) => e,
        };
        let path = PathBuf::from(name);
        if path.is_dir() {
            Ok(DataSpec::Source(CorpusSource::Dir(path)))
        } else if path.exists() || name.contains(['/', '.']) {
            Ok(DataSpec::Source(CorpusSource::File(path)))
        } else {
            // neither a known name nor a path: the registry error lists the names
            Err(unknown)
        }
    }
}

/// Everything `prepare` needs.
#[derive(Debug, Clone, Default)]
pub struct DataConfig {
    pub data: DataSpec,
    /// `None`: the corpus's usual tokenizer (`char` for builtin and plain files).
    pub tokenizer: Option<TokenizerSpec>,
    /// A tokenizer fitted earlier (resume, eval): used as is instead of fitting.
    pub fitted: Option<AnyTokenizer>,
    /// Split shares for a single text (ignored by explicit train/valid/test files).
    pub fractions: SplitFractions,
    /// Where to cache token ids (`tokens-<split>.bin`), usually the run directory.
    pub token_cache: Option<PathBuf>,
}

/// Token ids of every split, the tokenizer and the reference levels.
#[derive(Debug, Clone)]
pub struct PreparedData {
    pub tokenizer: AnyTokenizer,
    pub train: Arc<[u32]>,
    pub valid: Arc<[u32]>,
    pub test: Arc<[u32]>,
    /// Reference levels on the validation split, per token.
    pub stats: CorpusStats,
    /// What was loaded, for meta.json and messages (`builtin seed=…`, a name, a path).
    pub description: String,
    paths: [PathBuf; 3],
}

impl PreparedData {
    pub fn tokens(&self, split: Split) -> &Arc<[u32]> {
        match split {
            Split::Train => &self.train,
            Split::Valid => &self.valid,
            Split::Test => &self.test,
        }
    }

    /// The file a split came from.
    pub fn path(&self, split: Split) -> &Path {
        &self.paths[split as usize]
    }

    /// Training batches; an error names the training file if it is too small for one batch.
    pub fn train_batcher(&self, config: BatchConfig) -> Result<TrainBatcher, DataError> {
        self.check_fits(Split::Train, config.min_tokens(), || {
            format!("batch {} x (bptt {} + 1)", config.batch_size, config.bptt)
        })?;
        TrainBatcher::new(self.train.clone(), config)
    }

    /// Evaluation batches over a whole split; an error names the split and its file if it is too
    /// small for one batch.
    pub fn eval_batches(
        &self,
        split: Split,
        batch_size: usize,
        bptt: usize,
    ) -> Result<EvalBatches, DataError> {
        self.check_fits(split, EvalBatches::min_tokens(batch_size), || {
            format!("2 tokens per stream x batch {batch_size}")
        })?;
        EvalBatches::new(self.tokens(split).clone(), batch_size, bptt)
    }

    fn check_fits(
        &self,
        split: Split,
        needed: usize,
        detail: impl FnOnce() -> String,
    ) -> Result<(), DataError> {
        let tokens = self.tokens(split).len();
        if tokens < needed {
            return Err(DataError::SplitTooSmall {
                split: split.name().to_string(),
                path: self.path(split).to_path_buf(),
                tokens,
                needed,
                detail: detail(),
            });
        }
        Ok(())
    }
}

/// Load, tokenize and measure a corpus.
pub fn prepare(config: &DataConfig, fetcher: &Fetcher) -> Result<PreparedData, DataError> {
    let mut default_tokenizer = "char";
    let mut floor_nats: Option<f64> = None;
    let (corpus, description) = match &config.data {
        DataSpec::Builtin(b) => {
            let generated = BuiltinCorpus::generate(b);
            floor_nats = Some(generated.valid_floor.total_nats);
            let label = format!("builtin(seed={},chars={})", b.seed, b.chars);
            let corpus =
                Corpus::from_texts(&label, generated.train, generated.valid, generated.test);
            (corpus, label)
        }
        DataSpec::Known(name) => {
            let known = download::lookup(name)?;
            default_tokenizer = known.default_tokenizer;
            let source = fetcher.source(known)?;
            (Corpus::load(&source, config.fractions)?, name.clone())
        }
        DataSpec::Source(source) => {
            let description = match source {
                CorpusSource::File(p) | CorpusSource::Dir(p) => p.display().to_string(),
                CorpusSource::Files { train, .. } => train.display().to_string(),
            };
            (Corpus::load(source, config.fractions)?, description)
        }
    };
    let spec = match &config.tokenizer {
        Some(s) => s.clone(),
        None => TokenizerSpec::parse(default_tokenizer)?,
    };
    let tokenizer = match &config.fitted {
        Some(t) => t.clone(),
        None if spec.needs_text() => {
            let others = [corpus.text(Split::Valid)?, corpus.text(Split::Test)?];
            spec.fit(corpus.text(Split::Train)?, &others)?
        }
        None => spec.fit("", &[])?,
    };
    let tokenizer_json = tokenizer.to_json();
    let mut ids: Vec<Arc<[u32]>> = Vec::with_capacity(3);
    for split in Split::ALL {
        let bytes = corpus.bytes(split);
        let encode = || -> Result<Vec<u32>, DataError> {
            match &tokenizer {
                AnyTokenizer::Byte(_) => tokenizer.encode_bytes(bytes, corpus.path(split)),
                _ => Ok(tokenizer.encode(corpus.text(split)?)),
            }
        };
        let encoded = match &config.token_cache {
            Some(dir) => {
                let key = cache::cache_key(bytes, &tokenizer_json, split.name());
                let path = dir.join(format!("tokens-{split}.bin"));
                cache::load_or_encode(&path, &key, encode)?.0
            }
            None => encode()?,
        };
        ids.push(encoded.into());
    }
    let [train, valid, test]: [Arc<[u32]>; 3] = ids.try_into().expect("three splits");
    // The floor is per character; for another lossless tokenization the same total spread over
    // its tokens is the per-token floor. Lossy ones (word: whitespace is normalized) get none.
    let floor = floor_nats.and_then(|total| {
        let text = corpus.text(Split::Valid).ok()?;
        (!valid.is_empty() && tokenizer.decode(&valid) == text).then(|| total / valid.len() as f64)
    });
    let stats = CorpusStats::compute(&train, &valid, tokenizer.vocab_size(), floor);
    let paths = Split::ALL.map(|s| corpus.path(s).to_path_buf());
    Ok(PreparedData {
        tokenizer,
        train,
        valid,
        test,
        stats,
        description,
        paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline(dir: &Path) -> Fetcher {
        Fetcher {
            data_dirs: vec![],
            cache_dir: dir.join("cache"),
            offline: true,
        }
    }

    fn small_builtin() -> DataSpec {
        DataSpec::Builtin(BuiltinConfig {
            chars: 100_000,
            ..BuiltinConfig::default()
        })
    }

    #[test]
    fn builtin_char_pipeline_has_a_floor_and_caches_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let config = DataConfig {
            data: small_builtin(),
            token_cache: Some(dir.path().join("run")),
            ..DataConfig::default()
        };
        let data = prepare(&config, &offline(dir.path())).unwrap();
        assert_eq!(data.tokenizer.kind(), "char");
        let floor = data.stats.floor.expect("builtin has a floor");
        assert!(floor < data.stats.bigram && data.stats.bigram < data.stats.unigram);
        assert!(dir.path().join("run/tokens-valid.bin").is_file());
        let again = prepare(&config, &offline(dir.path())).unwrap();
        assert_eq!(again.valid, data.valid);
        assert_eq!(again.stats, data.stats);
    }

    #[cfg(feature = "bpe")]
    #[test]
    fn builtin_floor_per_token_scales_with_the_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let char_data = prepare(
            &DataConfig {
                data: small_builtin(),
                ..DataConfig::default()
            },
            &offline(dir.path()),
        )
        .unwrap();
        let bpe_data = prepare(
            &DataConfig {
                data: small_builtin(),
                tokenizer: Some(TokenizerSpec::Bpe {
                    vocab_size: 400,
                    file: None,
                }),
                ..DataConfig::default()
            },
            &offline(dir.path()),
        )
        .unwrap();
        // same total nats over fewer tokens
        let char_total = char_data.stats.floor.unwrap() * char_data.valid.len() as f64;
        let bpe_total = bpe_data.stats.floor.unwrap() * bpe_data.valid.len() as f64;
        assert!((char_total - bpe_total).abs() < 1e-6 * char_total);
        assert!(bpe_data.valid.len() < char_data.valid.len());
        let word_data = prepare(
            &DataConfig {
                data: small_builtin(),
                tokenizer: Some(TokenizerSpec::Word { max_vocab: None }),
                ..DataConfig::default()
            },
            &offline(dir.path()),
        )
        .unwrap();
        assert_eq!(word_data.stats.floor, None, "word tokenization is lossy");
    }

    #[test]
    fn too_small_validation_split_names_split_file_and_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let train = dir.path().join("train.txt");
        let valid = dir.path().join("valid.txt");
        std::fs::write(&train, "abcdefgh".repeat(100)).unwrap();
        std::fs::write(&valid, "abc").unwrap();
        let config = DataConfig {
            data: DataSpec::Source(CorpusSource::Files {
                train,
                valid,
                test: None,
            }),
            ..DataConfig::default()
        };
        let data = prepare(&config, &offline(dir.path())).unwrap();
        let err = data
            .eval_batches(Split::Valid, 4, 10)
            .unwrap_err()
            .to_string();
        assert!(err.contains("valid") && err.contains("valid.txt"), "{err}");
        assert!(
            err.contains("3 tokens") && err.contains("at least 8"),
            "{err}"
        );
        let err = data
            .train_batcher(BatchConfig {
                batch_size: 32,
                bptt: 64,
                mode: BatchMode::Streams,
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train.txt") && err.contains("800 tokens"),
            "{err}"
        );
        assert!(data
            .train_batcher(BatchConfig {
                batch_size: 4,
                bptt: 10,
                mode: BatchMode::Streams
            })
            .is_ok());
    }

    #[test]
    fn binary_file_with_char_tokenizer_suggests_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob.bin");
        let mut bytes = b"plain text ".repeat(50);
        bytes.extend_from_slice(&[0xff, 0x00, 0xfe]);
        std::fs::write(&path, &bytes).unwrap();
        let mut config = DataConfig {
            data: DataSpec::Source(CorpusSource::File(path)),
            fractions: SplitFractions {
                train: 0.5,
                valid: 0.5,
                test: 0.0,
            },
            ..DataConfig::default()
        };
        let err = prepare(&config, &offline(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("blob.bin") && err.contains("--tokenizer byte") && err.contains("550"),
            "{err}"
        );
        config.tokenizer = Some(TokenizerSpec::Byte);
        let data = prepare(&config, &offline(dir.path())).unwrap();
        assert_eq!(data.tokenizer.vocab_size(), 256);
        assert_eq!(data.train.len() + data.valid.len(), bytes.len());
    }

    #[test]
    fn known_corpus_from_local_data_dir() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        if !shared.join("tinyshakespeare/input.txt").is_file() {
            crate::test_skip::skip(
                "known_corpus_from_local_data_dir",
                &format!("tiny Shakespeare not under {}", shared.display()),
            );
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher {
            data_dirs: vec![shared],
            cache_dir: dir.path().join("cache"),
            offline: true,
        };
        let config = DataConfig {
            data: DataSpec::parse("tiny-shakespeare").unwrap(),
            ..DataConfig::default()
        };
        let data = prepare(&config, &fetcher).unwrap();
        assert_eq!(data.tokenizer.vocab_size(), 65);
        assert_eq!(
            data.train.len() + data.valid.len() + data.test.len(),
            1_115_394
        );
        assert_eq!(data.stats.floor, None);
    }

    #[test]
    fn data_spec_parsing() {
        assert_eq!(DataSpec::parse("builtin").unwrap(), DataSpec::default());
        assert_eq!(
            DataSpec::parse("ptb").unwrap(),
            DataSpec::Known("ptb".into())
        );
        assert!(matches!(
            DataSpec::parse("some/file.txt").unwrap(),
            DataSpec::Source(CorpusSource::File(_))
        ));
        assert!(DataSpec::parse("shakespear").is_err());
    }
}
