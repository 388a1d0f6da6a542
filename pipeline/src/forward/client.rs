//! One attempt at delivering a copy: OTLP/gRPC or OTLP/HTTP protobuf,
//! optionally gzip-compressed; OTLP/HTTP also over `https://` (rustls).

use std::io::Write;
use std::time::Duration;

use axum::body::Bytes;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::Channel;

use super::Payload;
use crate::config::{Compression, ForwardConfig, Protocol};

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
        /// Compress requests with gzip.
        gzip: bool,
    },
    /// OTLP/HTTP protobuf.
    Http {
        /// The HTTP client.
        client: reqwest::Client,
        /// Endpoint without a trailing slash.
        base: String,
        /// Extra request headers.
        headers: reqwest::header::HeaderMap,
        /// Compress bodies with gzip (`Content-Encoding: gzip`).
        gzip: bool,
    },
}

/// `body` gzip-compressed.
pub fn gzip_body(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), flate2::Compression::fast());
    e.write_all(body)?;
    e.finish()
}

impl Client {
    /// A client for `config` (a gRPC channel is created lazily: needs a runtime).
    pub fn new(config: &ForwardConfig) -> Result<Self, String> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let gzip = config.compression() == Compression::Gzip;
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
                Ok(Client::Grpc { channel, metadata, timeout, gzip })
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
                let mut builder = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout);
                if config.tls() {
                    builder = builder.https_only(true);
                }
                if let Some(path) = &config.tls_ca_file {
                    let pem = std::fs::read(path).map_err(|e| format!("tls_ca_file {}: {e}", path.display()))?;
                    let certs = reqwest::Certificate::from_pem_bundle(&pem)
                        .map_err(|e| format!("tls_ca_file {}: {e}", path.display()))?;
                    if certs.is_empty() {
                        return Err(format!("tls_ca_file {}: no PEM certificate", path.display()));
                    }
                    for c in certs {
                        builder = builder.add_root_certificate(c);
                    }
                }
                let client = builder.build().map_err(|e| format!("http client: {e}"))?;
                Ok(Client::Http { client, base: config.endpoint.trim_end_matches('/').to_string(), headers, gzip })
            }
        }
    }

    /// The HTTP body of `payload` (encoded, compressed if configured),
    /// made once for all attempts; `None` for gRPC (tonic encodes).
    pub fn body(&self, payload: &Payload) -> Result<Option<Bytes>, String> {
        let Client::Http { gzip, .. } = self else { return Ok(None) };
        let encoded = match payload {
            Payload::Metrics(req) => req.encode_to_vec(),
            Payload::Logs(req) => req.encode_to_vec(),
        };
        if *gzip {
            return gzip_body(&encoded).map(|b| Some(Bytes::from(b))).map_err(|e| format!("gzip: {e}"));
        }
        Ok(Some(Bytes::from(encoded)))
    }

    /// One attempt at sending `payload` (`body`: from [`Client::body`]).
    pub async fn send(&self, payload: &Payload, body: Option<&Bytes>) -> Attempt {
        match self {
            Client::Grpc { channel, metadata, timeout, gzip } => {
                let result = match payload {
                    Payload::Metrics(req) => {
                        let request = grpc_request(req.clone(), metadata, *timeout);
                        let mut client = MetricsServiceClient::new(channel.clone());
                        if *gzip {
                            client = client.send_compressed(CompressionEncoding::Gzip);
                        }
                        client
                            .export(request)
                            .await
                            .map(|r| r.into_inner().partial_success.map_or(0, |p| p.rejected_data_points))
                    }
                    Payload::Logs(req) => {
                        let request = grpc_request(req.clone(), metadata, *timeout);
                        let mut client = LogsServiceClient::new(channel.clone());
                        if *gzip {
                            client = client.send_compressed(CompressionEncoding::Gzip);
                        }
                        client
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
            Client::Http { client, base, headers, gzip } => {
                let path = match payload {
                    Payload::Metrics(_) => "/v1/metrics",
                    Payload::Logs(_) => "/v1/logs",
                };
                let Some(body) = body else { return Attempt::Fail("no body".into()) };
                let mut request = client
                    .post(format!("{base}{path}"))
                    .headers(headers.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf");
                if *gzip {
                    request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
                }
                let sent = request.body(body.clone()).send().await;
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
