use thiserror::Error;

/// Errors at the engine's public API: bad shapes or configurations, never panics.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum EngineError {
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: String,
        got: String,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("unknown parameter `{0}`")]
    UnknownParam(String),
}

impl EngineError {
    pub fn shape(what: impl Into<String>, expected: impl ToString, got: impl ToString) -> Self {
        EngineError::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}

/// Returns a shape error unless `got == expected`.
pub fn check_len(what: &str, expected: usize, got: usize) -> crate::Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(EngineError::shape(what, expected, got))
    }
}
