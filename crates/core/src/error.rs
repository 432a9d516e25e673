//! The domain's errors, by meaning. Edges (HTTP, CLI) map them to status codes and exit codes.

use std::fmt;

/// A rule broken by one field of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `metadata.tempo` or `tags[3]`.
    pub field: String,
    /// The rule, phrased so a person can fix the input.
    pub rule: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.rule)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The caller sent something that breaks a rule.
    #[error("invalid input: {0}")]
    Invalid(FieldError),
    /// The named things do not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A dependency (model, store, provider) cannot serve now; the message says how to fix it.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The disk is full: the write committed nothing and can be retried once space is freed.
    #[error("insufficient storage: {0}")]
    StorageFull(String),
    /// A bug or an unexpected failure of a dependency; details are logged, not shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        CoreError::Invalid(FieldError::new(field, rule))
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// A count that must lie between 1 and `max`, e.g. `top_k`.
pub fn check_count(field: &str, value: usize, max: usize) -> Result<()> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(CoreError::invalid(
            field,
            format!("must be between 1 and {max} (got {value})"),
        ))
    }
}
