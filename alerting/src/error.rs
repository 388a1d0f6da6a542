//! The crate's one error type.

use std::path::PathBuf;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem found in a rule file: where and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the file as a whole is at fault).
    pub line: u64,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.reason)
    }
}

/// Everything that can go wrong in alerting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Rule files have errors (each with file and line).
    #[error("{} rule file error(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Rules(Vec<RuleError>),
    /// A configuration value is invalid.
    #[error("alerting configuration: {0}")]
    Config(String),
    /// A rule's query failed or returned an unusable shape.
    #[error("query: {0}")]
    Query(String),
    /// Reading or writing alert state or rule files failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A persisted state file is damaged or of an unknown version.
    #[error("alert state {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A notification could not be delivered.
    #[error("notify {target}: {reason}")]
    Notify {
        /// Receiver name or URL.
        target: String,
        /// What went wrong.
        reason: String,
        /// Whether sending again may succeed (429, 5xx, network).
        retryable: bool,
    },
}

/// Coarse kind of an [`Error`], for HTTP answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong.
    Invalid,
    /// A dependency is unavailable.
    Unavailable,
    /// A bug or I/O failure.
    Internal,
}

impl Error {
    /// The coarse kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Rules(_) | Error::Config(_) | Error::Query(_) => ErrorKind::Invalid,
            Error::Notify { .. } => ErrorKind::Unavailable,
            Error::Io { .. } | Error::State { .. } => ErrorKind::Internal,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}
