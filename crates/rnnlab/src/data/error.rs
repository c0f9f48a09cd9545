//! One error type for the whole data pipeline. Every variant that concerns a file names it, so
//! the message alone tells a person what to fix.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: file not found")]
    Missing { path: PathBuf },
    #[error("{path}: file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: directory holds no files")]
    EmptyDir { path: PathBuf },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write: {source}{hint}", hint = if crate::fsutil::is_out_of_space(.source) { " (out of disk space: free some space and run again)" } else { "" })]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: invalid UTF-8 at byte offset {offset}; for binary input use `--tokenizer byte`"
    )]
    InvalidUtf8 { path: PathBuf, offset: u64 },
    #[error(
        "{split} split ({path}) has {tokens} tokens, too few for one batch: it needs at least {needed} ({detail})"
    )]
    SplitTooSmall {
        split: String,
        path: PathBuf,
        tokens: usize,
        needed: usize,
        detail: String,
    },
    #[error("invalid split fractions {train}/{valid}/{test}: each must be >= 0, train > 0, sum 1")]
    BadFractions { train: f64, valid: f64, test: f64 },
    #[error("unknown corpus `{name}`; known: {known}")]
    UnknownCorpus { name: String, known: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{path}: tokenizer file: {message}")]
    TokenizerFile { path: PathBuf, message: String },
    #[error("{path}: download from {url} failed: {message}. Offline? Put the file at {path} (or in $RNNLAB_DATA) and rerun")]
    Download {
        path: PathBuf,
        url: String,
        message: String,
    },
    #[error("{path}: not found locally, and this rnnlab was built without the `download` feature. Put the file (from {url}) at {path} (or in $RNNLAB_DATA) and rerun, or rebuild with the default features (`cargo install --path crates/rnnlab`) or with `--features download` to fetch it")]
    NoDownload { path: PathBuf, url: String },
    #[error("{path}: sha256 mismatch: expected {expected}, got {actual}")]
    Checksum {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("batching: {0}")]
    Batching(String),
}

impl DataError {
    /// Wrap an I/O error, turning "not found" into the clearer `Missing`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing { path }
        } else {
            DataError::Io { path, source }
        }
    }
}
