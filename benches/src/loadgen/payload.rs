//! Targets and request bodies: a [`Batch`] is encoded once into the bytes a
//! target expects, so senders only move bytes (and pre-generated runs keep
//! the encoding cost out of the timed part).

use bytes::Bytes;
use prost::Message;
use serde::Serialize;

use super::workload::Batch;
use super::{otlp_encode, remote_write, Error, Result};

/// Where and how requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// OTLP over gRPC (`MetricsService/Export`, `LogsService/Export`).
    OtlpGrpc,
    /// OTLP over HTTP with protobuf bodies (`/v1/metrics`, `/v1/logs`).
    OtlpHttp,
    /// Prometheus remote write 1.0 (`/api/v1/write`, snappy protobuf).
    RemoteWrite,
}

impl Target {
    /// The command-line name (`otlp-grpc`, `otlp-http`, `remote-write`).
    pub fn name(self) -> &'static str {
        match self {
            Target::OtlpGrpc => "otlp-grpc",
            Target::OtlpHttp => "otlp-http",
            Target::RemoteWrite => "remote-write",
        }
    }

    /// The endpoint used when none is given.
    pub fn default_endpoint(self) -> &'static str {
        match self {
            Target::OtlpGrpc => "http://127.0.0.1:4317",
            Target::OtlpHttp | Target::RemoteWrite => "http://127.0.0.1:4318",
        }
    }
}

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Metrics.
    Metrics,
    /// Logs.
    Logs,
}

/// An encoded request.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The body as sent (protobuf; snappy-compressed for remote write).
    pub body: Bytes,
    /// Points it carries: OTLP data points or log records, remote-write samples.
    pub points: u64,
    /// Metrics or logs.
    pub signal: Signal,
}

/// Encode a batch for a target.
pub fn encode(batch: &Batch, target: Target) -> Result<Payload> {
    match (batch, target) {
        (Batch::Metrics(m), Target::RemoteWrite) => {
            let body = remote_write::encode(&remote_write::write_request(m))?;
            Ok(Payload { body: body.into(), points: m.samples() as u64, signal: Signal::Metrics })
        }
        (Batch::Metrics(m), Target::OtlpGrpc | Target::OtlpHttp) => {
            let body = otlp_encode::metrics_request(m).encode_to_vec();
            Ok(Payload { body: body.into(), points: m.points() as u64, signal: Signal::Metrics })
        }
        (Batch::Logs(req), Target::OtlpGrpc | Target::OtlpHttp) => {
            let points = req.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len() as u64).sum();
            Ok(Payload { body: req.encode_to_vec().into(), points, signal: Signal::Logs })
        }
        (Batch::Logs(_), Target::RemoteWrite) => Err(Error::Config("remote write carries metrics only".into())),
    }
}
