//! One attempt at delivering a copy: OTLP/gRPC or OTLP/HTTP protobuf.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::Channel;

use super::Payload;
use crate::config::{ForwardConfig, Protocol};

/// The outcome of one attempt.
#[derive(Debug)]
pub enum Attempt {
    /// Accepted; `rejected` items were refused by the other end (partial success).
    Done {
        /// Items refused.
        rejected: u64,
    },
    /// A failure worth retrying (unavailable, overloaded, timeout, connection).
    Retry {
        /// What happened.
        reason: String,
        /// The delay the other end asked for.
        after: Option<Duration>,
    },
    /// A failure retrying cannot fix.
    Fail(String),
}

/// A client for one endpoint.
#[derive(Debug)]
pub enum Client {
    /// OTLP/gRPC.
    Grpc {
        /// Lazily connected channel (reconnects on its own).
        channel: Channel,
        /// Extra request metadata.
        metadata: MetadataMap,
        /// Per attempt.
        timeout: Duration,
    },
    /// OTLP/HTTP protobuf.
    Http {
        /// The HTTP client.
        client: reqwest::Client,
        /// Endpoint without a trailing slash.
        base: String,
        /// Extra request headers.
        headers: reqwest::header::HeaderMap,
    },
}

impl Client {
    /// A client for `config` (a gRPC channel is created lazily: needs a runtime).
    pub fn new(config: &ForwardConfig) -> Result<Self, String> {
        let timeout = Duration::from_millis(config.timeout_ms);
        match config.protocol {
            Protocol::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(config.endpoint.clone())
                    .map_err(|e| format!("endpoint: {e}"))?
                    .connect_timeout(timeout)
                    .timeout(timeout)
                    .connect_lazy();
                let mut metadata = MetadataMap::new();
                for (k, v) in &config.headers {
                    let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .map_err(|e| format!("header {k:?}: {e}"))?;
                    let value = MetadataValue::try_from(v.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
                    metadata.insert(key, value);
                }
                Ok(Client::Grpc { channel, metadata, timeout })
            }
            Protocol::Http => {
                let mut headers = reqwest::header::HeaderMap::new();
                for (k, v) in &config.headers {
                    let key =
                        reqwest::header::HeaderName::try_from(k.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
                    let value =
                        reqwest::header::HeaderValue::try_from(v.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
                    headers.insert(key, value);
                }
                let client = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .build()
                    .map_err(|e| format!("http client: {e}"))?;
                Ok(Client::Http { client, base: config.endpoint.trim_end_matches('/').to_string(), headers })
            }
        }
    }

    /// One attempt at sending `payload`.
    pub async fn send(&self, payload: &Payload) -> Attempt {
        match self {
            Client::Grpc { channel, metadata, timeout } => {
                let result = match payload {
                    Payload::Metrics(req) => {
                        let request = grpc_request(req.clone(), metadata, *timeout);
                        MetricsServiceClient::new(channel.clone())
                            .export(request)
                            .await
                            .map(|r| r.into_inner().partial_success.map_or(0, |p| p.rejected_data_points))
                    }
                    Payload::Logs(req) => {
                        let request = grpc_request(req.clone(), metadata, *timeout);
                        LogsServiceClient::new(channel.clone())
                            .export(request)
                            .await
                            .map(|r| r.into_inner().partial_success.map_or(0, |p| p.rejected_log_records))
                    }
                };
                match result {
                    Ok(rejected) => Attempt::Done { rejected: rejected.max(0) as u64 },
                    Err(status) => grpc_failure(&status),
                }
            }
            Client::Http { client, base, headers } => {
                let (path, body) = match payload {
                    Payload::Metrics(req) => ("/v1/metrics", req.encode_to_vec()),
                    Payload::Logs(req) => ("/v1/logs", req.encode_to_vec()),
                };
                let sent = client
                    .post(format!("{base}{path}"))
                    .headers(headers.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(body)
                    .send()
                    .await;
                let resp = match sent {
                    Ok(r) => r,
                    Err(e) => return Attempt::Retry { reason: format!("http: {e}"), after: None },
                };
                let status = resp.status();
                let after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let bytes = match resp.bytes().await {
                    Ok(b) => b,
                    Err(e) => return Attempt::Retry { reason: format!("http body: {e}"), after: None },
                };
                if status.is_success() {
                    let rejected = match payload {
                        Payload::Metrics(_) => ExportMetricsServiceResponse::decode(bytes.as_ref())
                            .map(|r| r.partial_success.map_or(0, |p| p.rejected_data_points)),
                        Payload::Logs(_) => ExportLogsServiceResponse::decode(bytes.as_ref())
                            .map(|r| r.partial_success.map_or(0, |p| p.rejected_log_records)),
                    };
                    return Attempt::Done { rejected: rejected.unwrap_or(0).max(0) as u64 };
                }
                let reason = format!("HTTP {status}");
                match status.as_u16() {
                    429 | 502 | 503 | 504 => Attempt::Retry { reason, after },
                    _ => Attempt::Fail(reason),
                }
            }
        }
    }
}

fn grpc_request<T>(message: T, metadata: &MetadataMap, timeout: Duration) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    *request.metadata_mut() = metadata.clone();
    request.set_timeout(timeout);
    request
}

/// Retryable per the OTLP specification: CANCELLED, DEADLINE_EXCEEDED,
/// ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS; RESOURCE_EXHAUSTED only
/// with a retry delay (otherwise it means "too large").
fn grpc_failure(status: &tonic::Status) -> Attempt {
    use tonic::Code;
    let reason = format!("gRPC {:?}: {}", status.code(), status.message());
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Attempt::Retry { reason, after: None },
        Code::ResourceExhausted if status.details().is_empty() => Attempt::Fail(reason),
        Code::ResourceExhausted => Attempt::Retry { reason, after: None },
        _ => Attempt::Fail(reason),
    }
}
