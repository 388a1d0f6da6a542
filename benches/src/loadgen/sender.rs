//! One attempt at sending a payload, whatever the transport.

use std::time::Duration;

use super::payload::{Payload, Target};
use super::send_grpc::GrpcSender;
use super::send_http::HttpSender;
use super::Result;

/// Wait used when an overloaded server does not say how long to wait.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server stored the request, except `rejected` points (OTLP partial success).
    Acked {
        /// Points the server reported as rejected.
        rejected: u64,
    },
    /// The server is overloaded: try again after `after`.
    Retry {
        /// How long the server asked to wait.
        after: Duration,
        /// Status and message, for the log.
        reason: String,
    },
    /// The request failed and will not be retried.
    Failed(String),
}

/// A connection to the target (one per sender task).
pub enum Sender {
    /// OTLP/HTTP or remote write.
    Http(HttpSender),
    /// OTLP/gRPC.
    Grpc(GrpcSender),
}

impl Sender {
    /// Connect to `endpoint` for `target`.
    pub async fn connect(target: Target, endpoint: &str) -> Result<Self> {
        match target {
            Target::OtlpGrpc => Ok(Sender::Grpc(GrpcSender::connect(endpoint).await?)),
            Target::OtlpHttp | Target::RemoteWrite => Ok(Sender::Http(HttpSender::new(target, endpoint)?)),
        }
    }

    /// Send once.
    pub async fn send(&mut self, payload: &Payload) -> Outcome {
        match self {
            Sender::Http(h) => h.send(payload).await,
            Sender::Grpc(g) => g.send(payload).await,
        }
    }
}
