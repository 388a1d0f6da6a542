//! The query crate's error type and its HTTP mapping. Inside plans we speak
//! DataFusion's own error type; this enum is what the endpoints answer.

use axum::http::StatusCode;
use datafusion::error::DataFusionError;

/// Errors answering a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Planning or execution failed.
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    /// The request itself is unusable (no query, unknown format).
    #[error("{0}")]
    BadRequest(String),
    /// The query ran longer than allowed.
    #[error("query exceeded the timeout of {0:?}")]
    Timeout(std::time::Duration),
    /// Too many queries are running.
    #[error("too many queries running (limit {0}); retry later")]
    TooManyQueries(usize),
    /// A tenant is over one of its limits (e.g. its concurrent queries).
    #[error("tenant {tenant:?} is over its limit {limit}; retry later")]
    TenantLimit {
        /// The tenant.
        tenant: String,
        /// The limit, as configured (`name = value`).
        limit: String,
    },
    /// The result has more rows than allowed.
    #[error("the result has more than max_result_rows = {0} rows; add a LIMIT or aggregate")]
    ResultTooLarge(usize),
    /// The query task failed outside DataFusion (a bug).
    #[error("query task failed: {0}")]
    Task(String),
}

/// Result with the query [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the user's request caused the error (as opposed to a fault of ours).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::BadRequest(_)
            | Error::Timeout(_)
            | Error::TooManyQueries(_)
            | Error::TenantLimit { .. }
            | Error::ResultTooLarge(_) => true,
            Error::Task(_) => false,
            Error::DataFusion(e) => is_user_df_error(e.find_root()),
        }
    }

    /// The HTTP status for this error.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Error::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::TooManyQueries(_) | Error::TenantLimit { .. } => StatusCode::TOO_MANY_REQUESTS,
            e if e.is_user_error() => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

fn is_user_df_error(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Execution(_)
        | DataFusionError::ResourcesExhausted(_)
        | DataFusionError::ArrowError(..) => true,
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => is_user_df_error(inner),
        DataFusionError::Collection(errs) => errs.first().is_some_and(is_user_df_error),
        _ => false,
    }
}
