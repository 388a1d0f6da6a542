//! OTLP/HTTP (protobuf) and Prometheus remote write over HTTP/1.1.
//!
//! 2xx is success (an OTLP body may report rejected points); 429 and 503
//! are retried after `Retry-After` (seconds; 1 s when absent or a date);
//! anything else fails the request.

use std::time::Duration;

use http::{header, HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use super::payload::{Payload, Signal, Target};
use super::sender::{Outcome, DEFAULT_RETRY_AFTER};
use super::{Error, Result};

/// Sends to one HTTP endpoint.
pub struct HttpSender {
    client: reqwest::Client,
    target: Target,
    metrics_url: String,
    logs_url: String,
}

impl HttpSender {
    /// A sender for `target` at `endpoint` (scheme, host and port; the path
    /// is the target's: `/v1/metrics`, `/v1/logs` or `/api/v1/write`).
    pub fn new(target: Target, endpoint: &str) -> Result<Self> {
        let base = endpoint.trim_end_matches('/');
        let (metrics_url, logs_url) = match target {
            Target::RemoteWrite => (format!("{base}/api/v1/write"), String::new()),
            _ => (format!("{base}/v1/metrics"), format!("{base}/v1/logs")),
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Connect { endpoint: endpoint.into(), reason: e.to_string() })?;
        Ok(Self { client, target, metrics_url, logs_url })
    }

    /// Send once.
    pub async fn send(&self, payload: &Payload) -> Outcome {
        let url = match payload.signal {
            Signal::Metrics => &self.metrics_url,
            Signal::Logs => &self.logs_url,
        };
        let mut req =
            self.client.post(url).header(header::CONTENT_TYPE, "application/x-protobuf").body(payload.body.clone());
        if self.target == Target::RemoteWrite {
            req = req.header(header::CONTENT_ENCODING, "snappy").header("X-Prometheus-Remote-Write-Version", "0.1.0");
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("POST {url}: {e}")),
        };
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(format!("POST {url}: reading the answer: {e}")),
        };
        classify(status, retry_after, &body, payload.signal, self.target == Target::RemoteWrite)
    }
}

/// `Retry-After` in seconds, if present and numeric.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// Turn an HTTP answer into an [`Outcome`].
pub fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    signal: Signal,
    remote_write: bool,
) -> Outcome {
    if status.is_success() {
        let rejected = if remote_write || body.is_empty() { 0 } else { rejected_points(body, signal) };
        return Outcome::Acked { rejected };
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return Outcome::Retry {
            after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
            reason: format!("{status}: {text}"),
        };
    }
    Outcome::Failed(format!("{status}: {text}"))
}

/// Rejected points reported in an OTLP success body (0 if it does not decode).
fn rejected_points(body: &[u8], signal: Signal) -> u64 {
    let n = match signal {
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| p.rejected_data_points),
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| p.rejected_log_records),
    };
    n.max(0) as u64
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsPartialSuccess;

    use super::*;

    #[test]
    fn classifies_answers() {
        let partial = ExportMetricsServiceResponse {
            partial_success: Some(ExportMetricsPartialSuccess { rejected_data_points: 3, error_message: "x".into() }),
        }
        .encode_to_vec();
        assert_eq!(classify(StatusCode::OK, None, &partial, Signal::Metrics, false), Outcome::Acked { rejected: 3 });
        assert_eq!(classify(StatusCode::NO_CONTENT, None, b"", Signal::Metrics, true), Outcome::Acked { rejected: 0 });
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(2)), b"busy", Signal::Metrics, true),
            Outcome::Retry { after: Duration::from_secs(2), reason: "429 Too Many Requests: busy".into() }
        );
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, None, b"", Signal::Logs, false),
            Outcome::Retry { after, .. } if after == DEFAULT_RETRY_AFTER
        ));
        assert!(
            matches!(classify(StatusCode::BAD_REQUEST, None, b"bad", Signal::Metrics, true), Outcome::Failed(m) if m.contains("bad"))
        );
    }

    #[test]
    fn reads_retry_after_seconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, "3".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("header"));
        assert_eq!(retry_after(&h), None);
    }
}
