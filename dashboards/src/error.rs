//! The one error type of the dashboards crate.

use std::path::PathBuf;

/// Errors loading provisioned dashboards.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The dashboards directory or a file in it cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A dashboard file is not a valid dashboard.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file (or the built-in dashboard's name).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Result with the dashboards [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
