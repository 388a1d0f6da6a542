//! The one error type of the ingest crate, and its mappings to HTTP and gRPC.

use axum::http::StatusCode;
use tidewater_storage::ErrorKind;

/// Errors answering an ingest request as a whole.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not a valid message of the expected type.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The body (after decompression) is larger than allowed.
    #[error("request body larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The content type is not one we decode.
    #[error("unsupported content type {0:?}; use application/x-protobuf or application/json")]
    UnsupportedMediaType(String),
    /// The content encoding is not one we decode.
    #[error("unsupported content encoding {0:?}; use gzip, zstd or none")]
    UnsupportedEncoding(String),
    /// A tenant went over one of its limits; retry after `retry_after`.
    #[error("tenant {tenant:?} is over its limit {limit}; retry later")]
    TenantLimit {
        /// The tenant.
        tenant: String,
        /// The limit, as configured (`name = value`).
        limit: String,
        /// When the request may pass.
        retry_after: std::time::Duration,
    },
    /// The store refused or failed the write.
    #[error(transparent)]
    Storage(#[from] tidewater_storage::Error),
}

/// Result with the ingest [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seconds a client should wait before retrying an overloaded write.
pub const RETRY_AFTER_SECS: u64 = 1;

impl Error {
    /// The HTTP status for this error.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Error::Malformed(_) | Error::UnsupportedEncoding(_) => StatusCode::BAD_REQUEST,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::TenantLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Storage(e) => match e.kind() {
                ErrorKind::Invalid => StatusCode::BAD_REQUEST,
                ErrorKind::Overloaded => StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// The gRPC status for this error. Internal detail is logged, not sent.
    pub fn grpc_status(&self) -> tonic::Status {
        match self {
            Error::Malformed(_) | Error::UnsupportedEncoding(_) | Error::UnsupportedMediaType(_) => {
                tonic::Status::invalid_argument(self.to_string())
            }
            Error::TooLarge { .. } => tonic::Status::resource_exhausted(self.to_string()),
            // RESOURCE_EXHAUSTED with RetryInfo: OTLP clients retry it after the delay.
            Error::TenantLimit { .. } => {
                use tonic_types::{ErrorDetails, StatusExt};
                tonic::Status::with_error_details(
                    tonic::Code::ResourceExhausted,
                    self.to_string(),
                    ErrorDetails::with_retry_info(Some(self.retry_after())),
                )
            }
            Error::Storage(e) => match e.kind() {
                ErrorKind::Invalid => tonic::Status::invalid_argument(self.to_string()),
                // UNAVAILABLE with RetryInfo: OTLP clients retry after the delay.
                ErrorKind::Overloaded | ErrorKind::Unavailable => {
                    use tonic_types::{ErrorDetails, StatusExt};
                    tonic::Status::with_error_details(
                        tonic::Code::Unavailable,
                        self.to_string(),
                        ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(RETRY_AFTER_SECS))),
                    )
                }
                ErrorKind::Internal => {
                    tracing::error!(error = %self, "ingest failed");
                    tonic::Status::internal("internal storage error")
                }
            },
        }
    }

    /// The message sent to an HTTP client (internal detail is logged instead).
    pub fn public_message(&self) -> String {
        match self {
            Error::Storage(e) if e.kind() == ErrorKind::Internal => {
                tracing::error!(error = %self, "ingest failed");
                "internal storage error".to_string()
            }
            _ => self.to_string(),
        }
    }

    /// Whether the client should retry later (overload, shutdown, a tenant's rate).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::TenantLimit { .. })
            || matches!(self, Error::Storage(e) if matches!(e.kind(), ErrorKind::Overloaded | ErrorKind::Unavailable))
    }

    /// How long a client should wait before retrying (`Retry-After`).
    pub fn retry_after(&self) -> std::time::Duration {
        match self {
            Error::TenantLimit { retry_after, .. } => *retry_after,
            _ => std::time::Duration::from_secs(RETRY_AFTER_SECS),
        }
    }
}
