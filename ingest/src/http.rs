//! OTLP/HTTP: `POST /v1/metrics` with protobuf or JSON bodies, optionally
//! gzip- or zstd-compressed. Answers use the request's content type; errors
//! carry a `google.rpc.Status` as the OTLP specification asks.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;

use crate::error::{Error, Result, RETRY_AFTER_SECS};
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
        .route("/v1/metrics", post(export_metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(ingester)
}

async fn export_metrics(State(ingester): State<Ingester>, headers: HeaderMap, body: Bytes) -> Response {
    let format = match content_type(&headers) {
        Ok(f) => f,
        Err(e) => return error_response(Format::Protobuf, &e),
    };
    let result = async {
        let body = decompress(&headers, body, ingester.limits().max_request_bytes)?;
        let req: ExportMetricsServiceRequest = decode(format, &body)?;
        ingester.export_metrics(req).await
    }
    .await;
    match result {
        Ok(resp) => match format {
            Format::Protobuf => ([(header::CONTENT_TYPE, PROTOBUF)], resp.encode_to_vec()).into_response(),
            Format::Json => match serde_json::to_vec(&resp) {
                Ok(b) => ([(header::CONTENT_TYPE, JSON)], b).into_response(),
                Err(e) => error_response(format, &Error::Malformed(e.to_string())),
            },
        },
        Err(e) => error_response(format, &e),
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
    let enc = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match enc.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" => Box::new(flate2::read::GzDecoder::new(&body[..])),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(&body[..]).map_err(|e| Error::Malformed(format!("zstd: {e}")))?),
        other => return Err(Error::UnsupportedEncoding(other.to_string())),
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let read = reader.take(limit as u64 + 1).read_to_end(&mut out).map_err(|e| Error::Malformed(format!("{enc}: {e}")))?;
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
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
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
