//! The one error type of the storage crate.

use std::path::PathBuf;

/// What kind of failure an [`Error`] is, for mapping to protocol answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller sent something that can never be stored (schema clash, bad name).
    Invalid,
    /// The store is busy (queues or memory full); retry later.
    Overloaded,
    /// The store is shutting down or not ready.
    Unavailable,
    /// Anything else: a bug or an I/O failure on our side.
    Internal,
}

/// Errors raised by the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a named path.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A persisted file failed its magic, version or checksum check.
    #[error("corrupt {what} at {path}: {reason}")]
    Corrupt {
        /// What was being read (WAL, manifest, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// Arrow encoding or decoding failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Parquet encoding or decoding failed.
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Object store access failed.
    #[error("object store error: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A batch does not fit the table it is written to.
    #[error("table {table}: {reason}")]
    SchemaClash {
        /// The table.
        table: String,
        /// What clashed.
        reason: String,
    },
    /// The write queue or memory budget is full.
    #[error("storage overloaded: {0}")]
    Overloaded(String),
    /// The store is closed.
    #[error("storage is shutting down")]
    Closed,
    /// The storage configuration cannot work (bad object store URL, wrong open call).
    #[error("storage configuration: {0}")]
    Config(String),
    /// JSON (manifest) encoding failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// Classify the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::SchemaClash { .. } => ErrorKind::Invalid,
            Error::Overloaded(_) => ErrorKind::Overloaded,
            Error::Closed => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }

    /// Wrap an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}

/// Result with the storage [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
