//! OTLP/HTTP: `POST /v1/metrics` with protobuf or JSON bodies, optionally
//! gzip- or zstd-compressed. Answers use the request's content type; errors
//! carry a `google.rpc.Status` as the OTLP specification asks.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Extension;
use axum::Router;
use prost::Message;
use tidewater_tenant::Tenant;

use crate::error::{Error, Result};
use crate::grpc::{Logs, Metrics, Signal};
use crate::remote_write;
use crate::service::Ingester;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `google.rpc.Status`, the error body of OTLP/HTTP.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Protobuf,
    Json,
}

/// Routes for OTLP/HTTP ingest.
pub fn router(ingester: Ingester) -> Router {
    // Compressed bodies are limited here; decompressed size is checked in `decompress`.
    let limit = ingester.limits().max_request_bytes;
    Router::new()
        .route("/v1/metrics", post(export::<Metrics>))
        .route("/v1/logs", post(export::<Logs>))
        .route(remote_write::PATH, post(prometheus_remote_write))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(ingester.clone(), admit))
        .with_state(ingester)
}

/// `POST /v1/metrics` and `/v1/logs`: decode, hand to the signal's export, answer.
async fn export<S: Signal>(
    State(ingester): State<Ingester>,
    tenant: Option<Extension<Tenant>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response
where
    S::Request: serde::de::DeserializeOwned,
    S::Response: serde::Serialize,
{
    let format = match content_type(&headers) {
        Ok(f) => f,
        Err(e) => return error_response(Format::Protobuf, &e),
    };
    let result = async {
        let body = decompress(&headers, body, ingester.limits().max_request_bytes)?;
        let req: S::Request = decode(format, &body)?;
        S::export(ingester, tenant_of(tenant), req).await
    }
    .await;
    match result {
        Ok(resp) => match format {
            Format::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], resp.encode_to_vec()).into_response(),
            Format::Json => match json_body(&resp) {
                Ok(b) => ([(header::CONTENT_TYPE, JSON)], b).into_response(),
                Err(e) => error_response(format, &e),
            },
        },
        Err(e) => error_response(format, &e),
    }
}

/// The JSON answer: `{}` on full success (no `partialSuccess: null`), and
/// int64 counts as strings, as the protobuf JSON mapping says.
fn json_body<T: serde::Serialize>(resp: &T) -> Result<Vec<u8>> {
    let mut v = serde_json::to_value(resp).map_err(|e| Error::Malformed(e.to_string()))?;
    if let Some(obj) = v.as_object_mut() {
        obj.retain(|_, x| !x.is_null());
        if let Some(partial) = obj.get_mut("partialSuccess").and_then(|p| p.as_object_mut()) {
            for key in ["rejectedDataPoints", "rejectedLogRecords"] {
                if let Some(n) = partial.get_mut(key) {
                    if n.is_number() {
                        *n = serde_json::Value::String(n.to_string());
                    }
                }
            }
        }
    }
    serde_json::to_vec(&v).map_err(|e| Error::Malformed(e.to_string()))
}

/// The tenant the auth layer put on the request; the default one when auth is off.
fn tenant_of(tenant: Option<Extension<Tenant>>) -> Tenant {
    tenant.map(|Extension(t)| t).unwrap_or_default()
}

/// Refuse a request before its body is read when too many are in flight.
async fn admit(
    State(ingester): State<Ingester>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match ingester.admit() {
        Ok(_permit) => next.run(req).await,
        Err(e) => text_error_response(&e),
    }
}

async fn prometheus_remote_write(
    State(ingester): State<Ingester>,
    tenant: Option<Extension<Tenant>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match remote_write::handle(&ingester, &tenant_of(tenant), &headers, &body).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => text_error_response(&e),
    }
}

fn content_type(headers: &HeaderMap) -> Result<Format> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let base = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match base.as_str() {
        PROTOBUF | "application/protobuf" => Ok(Format::Protobuf),
        JSON => Ok(Format::Json),
        _ => Err(Error::UnsupportedMediaType(ct.to_string())),
    }
}

fn decode<T: Message + Default + serde::de::DeserializeOwned>(format: Format, body: &[u8]) -> Result<T> {
    match format {
        Format::Protobuf => T::decode(body).map_err(|e| Error::Malformed(format!("protobuf: {e}"))),
        Format::Json => serde_json::from_slice(body).map_err(|e| Error::Malformed(format!("json: {e}"))),
    }
}

/// Undo `Content-Encoding`, refusing output larger than `limit`.
pub fn decompress(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes> {
    let enc =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match enc.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" => Box::new(flate2::read::GzDecoder::new(&body[..])),
        "zstd" => {
            Box::new(zstd::stream::read::Decoder::new(&body[..]).map_err(|e| Error::Malformed(format!("zstd: {e}")))?)
        }
        other => return Err(Error::UnsupportedEncoding(other.to_string())),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read =
        reader.take(limit as u64 + 1).read_to_end(&mut out).map_err(|e| Error::Malformed(format!("{enc}: {e}")))?;
    if read > limit {
        return Err(Error::TooLarge { limit });
    }
    Ok(Bytes::from(out))
}

fn error_response(format: Format, e: &Error) -> Response {
    let status = e.http_status();
    let code = grpc_code(status);
    let body = RpcStatus { code, message: e.public_message() };
    let mut resp = match format {
        Format::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], body.encode_to_vec()).into_response(),
        Format::Json => ([(header::CONTENT_TYPE, JSON)], serde_json::to_vec(&body).unwrap_or_default()).into_response(),
    };
    *resp.status_mut() = status;
    if e.is_retryable() {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(e.retry_after().as_secs().max(1)));
    }
    resp
}

/// An error as plain text (remote write has no structured error body).
fn text_error_response(e: &Error) -> Response {
    let mut resp =
        (e.http_status(), [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], e.public_message()).into_response();
    if e.is_retryable() {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(e.retry_after().as_secs().max(1)));
    }
    resp
}

fn grpc_code(status: StatusCode) -> i32 {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => tonic::Code::InvalidArgument as i32,
        StatusCode::PAYLOAD_TOO_LARGE => tonic::Code::ResourceExhausted as i32,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable as i32,
        _ => tonic::Code::Internal as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

    const METRICS: &str = include_str!("../../tests/fixtures/otlp/metrics.json");
    const LOGS: &str = include_str!("../../tests/fixtures/otlp/logs.json");

    #[test]
    fn spec_json_examples_decode() {
        let m: ExportMetricsServiceRequest = decode(Format::Json, METRICS.as_bytes()).expect("metrics example");
        let c = crate::metrics::convert(&m, &crate::metrics::PointLimits::default());
        assert_eq!((c.points, c.rejected), (3, 0), "{:?}", c.reasons);
        let l: ExportLogsServiceRequest = decode(Format::Json, LOGS.as_bytes()).expect("logs example");
        let rec = &l.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(
            rec.trace_id,
            vec![0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F, 0xC6, 0x0C]
        );
        assert_eq!(rec.time_unix_nano, 1_544_712_660_300_000_000);
    }

    #[test]
    fn int64_as_string_and_unknown_fields_are_accepted() {
        let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[
            {"asInt":"42","timeUnixNano":"1544712660300000000","someFutureField":1}]}}]}]}],"another":true}"#;
        let m: ExportMetricsServiceRequest = decode(Format::Json, body.as_bytes()).expect("decodes");
        let c = crate::metrics::convert(&m, &crate::metrics::PointLimits::default());
        assert_eq!(c.points, 1);
    }
}
