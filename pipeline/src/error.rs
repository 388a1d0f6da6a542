//! The one error type of the pipeline crate.

/// Errors loading, building or reloading pipelines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid: file, line and reason are in the message.
    #[error("{0}")]
    Config(String),
    /// The configuration file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// Reload was asked but the server was started without a config file.
    #[error("no configuration file to reload pipelines from (start with --config)")]
    NoConfigFile,
    /// A processor that needs the async runtime (forward) was built outside one.
    #[error("processor {0:?} needs a Tokio runtime")]
    NoRuntime(String),
}

impl Error {
    /// Whether the caller (not the server) is at fault: HTTP 400 rather than 500.
    pub fn is_invalid(&self) -> bool {
        matches!(self, Error::Config(_) | Error::NoConfigFile)
    }
}

/// Result with the pipeline [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
