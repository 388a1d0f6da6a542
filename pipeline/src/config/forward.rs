//! `type = "forward"`: transport, compression, TLS and queue settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// Forward transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OTLP/gRPC (`endpoint` like `http://host:4317`; plain text).
    #[default]
    Grpc,
    /// OTLP/HTTP protobuf (`endpoint` like `http://host:4318` or
    /// `https://host:4318`; `/v1/metrics` or `/v1/logs` is appended).
    Http,
}

/// Request body compression of `forward`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Send the protobuf as it is.
    None,
    /// gzip (`Content-Encoding: gzip` over HTTP, `grpc-encoding: gzip` over gRPC).
    Gzip,
}

fn forward_timeout() -> u64 {
    10_000
}
fn queue_requests() -> usize {
    1024
}
fn queue_bytes() -> usize {
    64 << 20
}
fn attempts() -> u32 {
    5
}
fn initial_backoff() -> u64 {
    200
}
fn max_backoff() -> u64 {
    10_000
}

/// `type = "forward"`: send a copy of what reaches this processor to another
/// OTLP endpoint, through a bounded queue, with retries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// Processor name.
    pub name: String,
    /// `http://host:port` (plain HTTP/2 for gRPC, HTTP/1.1 for HTTP) or,
    /// for `protocol = "http"`, `https://host:port` (TLS with rustls).
    pub endpoint: String,
    /// `grpc` (default) or `http`.
    #[serde(default)]
    pub protocol: Protocol,
    /// `gzip` or `none`; default `gzip` for `http`, `none` for `grpc`
    /// (see [`ForwardConfig::compression`]).
    #[serde(default)]
    pub compression: Option<Compression>,
    /// `https` endpoints: a PEM file of CA certificates trusted besides the
    /// system's roots (for a private CA).
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Extra request headers (e.g. `authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per attempt, in milliseconds.
    #[serde(default = "forward_timeout")]
    pub timeout_ms: u64,
    /// Requests waiting to be sent; past it copies are dropped (and counted).
    #[serde(default = "queue_requests")]
    pub queue_max_requests: usize,
    /// Bytes (encoded protobuf) waiting or in flight; past it copies are dropped.
    #[serde(default = "queue_bytes")]
    pub queue_max_bytes: usize,
    /// Attempts per request (retryable failures only).
    #[serde(default = "attempts")]
    pub max_attempts: u32,
    /// First retry delay, doubled per attempt.
    #[serde(default = "initial_backoff")]
    pub initial_backoff_ms: u64,
    /// Longest retry delay.
    #[serde(default = "max_backoff")]
    pub max_backoff_ms: u64,
}

impl ForwardConfig {
    /// The compression in effect: as configured, else `gzip` for OTLP/HTTP
    /// and `none` for OTLP/gRPC.
    pub fn compression(&self) -> Compression {
        self.compression.unwrap_or(match self.protocol {
            Protocol::Http => Compression::Gzip,
            Protocol::Grpc => Compression::None,
        })
    }

    /// Whether the endpoint is `https://`.
    pub fn tls(&self) -> bool {
        self.endpoint.starts_with("https://")
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        let uri: axum::http::Uri =
            self.endpoint.parse().map_err(|e| format!("endpoint {:?} is not a URL: {e}", self.endpoint))?;
        match (uri.scheme_str(), self.protocol) {
            (Some("http"), _) | (Some("https"), Protocol::Http) if uri.host().is_some() => {}
            (Some("https"), Protocol::Grpc) => {
                return Err(format!(
                    "endpoint {:?}: gRPC forward is plain text (no TLS); use an http:// endpoint, or \
                     protocol = \"http\" for https://",
                    self.endpoint
                ))
            }
            _ => {
                return Err(format!(
                    "endpoint {:?} must be http://host:port (or https://host:port with protocol = \"http\")",
                    self.endpoint
                ))
            }
        }
        if self.tls_ca_file.is_some() && !self.tls() {
            return Err("tls_ca_file applies to https:// endpoints only".into());
        }
        for (k, v) in &self.headers {
            axum::http::HeaderName::try_from(k.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            axum::http::HeaderValue::try_from(v.as_str()).map_err(|e| format!("header {k:?} value: {e}"))?;
        }
        if self.queue_max_requests == 0 || self.queue_max_bytes == 0 {
            return Err("queue_max_requests and queue_max_bytes must be positive".into());
        }
        if self.max_attempts == 0 || self.timeout_ms == 0 {
            return Err("max_attempts and timeout_ms must be positive".into());
        }
        Ok(())
    }
}
