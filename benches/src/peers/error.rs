//! The peer harness's error type.

/// Why a harness run stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A server or the load generator did not start, answer or stop as expected.
    #[error("{0}")]
    Process(String),
    /// An HTTP request (query, flush, readiness) failed.
    #[error("{0}")]
    Http(String),
    /// An answer could not be read.
    #[error("reading an answer: {0}")]
    Answer(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { what: what.into(), source }
    }
}

/// Result with the harness [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
