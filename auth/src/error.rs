//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong while loading tokens or hashing a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tokens file could not be read.
    #[error("reading tokens file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The tokens file is not valid TOML of the expected shape.
    #[error("tokens file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A token entry is invalid (names the token, never its secret).
    #[error("auth token {name:?}: {message}")]
    InvalidToken {
        /// The token's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The `[auth]` section is inconsistent.
    #[error("auth: {0}")]
    Config(String),
    /// Hashing failed (argon2).
    #[error("hashing the token: {0}")]
    Hash(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
