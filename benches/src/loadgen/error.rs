//! The load generator's error type.

/// Errors that stop a load generator run (per-request failures are counted
/// in [`super::stats`], not raised).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options do not fit together (e.g. logs over remote write).
    #[error("invalid options: {0}")]
    Config(String),
    /// Encoding a request failed.
    #[error("encoding a request: {0}")]
    Encode(String),
    /// The target could not be reached at all.
    #[error("connecting to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        reason: String,
    },
    /// A sender or generator task ended abnormally.
    #[error("internal: {0}")]
    Internal(String),
}

/// Result with the load generator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
