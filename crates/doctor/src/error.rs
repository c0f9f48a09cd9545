use std::path::PathBuf;
use thiserror::Error;

/// Where in a file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Line(usize),
    Byte(u64),
    Whole,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Byte(n) => write!(f, "byte offset {n}"),
            Location::Whole => write!(f, "file"),
        }
    }
}

#[derive(Debug, Error)]
pub enum DoctorError {
    /// A file could not be read as any supported format: names the file, where, and what was expected.
    #[error("{path}: {location}: {message}")]
    Parse {
        path: PathBuf,
        location: Location,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

impl DoctorError {
    pub fn parse(path: impl Into<PathBuf>, location: Location, message: impl Into<String>) -> Self {
        DoctorError::Parse {
            path: path.into(),
            location,
            message: message.into(),
        }
    }
}
