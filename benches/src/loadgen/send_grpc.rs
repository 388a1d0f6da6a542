//! OTLP/gRPC with pre-encoded bodies.
//!
//! The request is already protobuf bytes ([`super::payload`]), so a codec
//! that writes them as they are replaces the generated client (whose codec
//! would re-encode a message). `UNAVAILABLE` is retried after the server's
//! `RetryInfo` delay (1 s without one); `RESOURCE_EXHAUSTED` is retried
//! only with `RetryInfo`, as the OTLP specification says; other errors fail.

use std::marker::PhantomData;

use bytes::{BufMut, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use super::payload::{Payload, Signal};
use super::sender::{Outcome, DEFAULT_RETRY_AFTER};
use super::{Error, Result};

const METRICS_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
const LOGS_EXPORT: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
/// Largest message sent or accepted.
const MAX_MESSAGE: usize = 256 << 20;

/// Sends to one gRPC endpoint over its own HTTP/2 connection.
pub struct GrpcSender {
    client: tonic::client::Grpc<Channel>,
}

impl GrpcSender {
    /// Connect to `endpoint` (e.g. `http://127.0.0.1:4317`).
    pub async fn connect(endpoint: &str) -> Result<Self> {
        let err = |reason: String| Error::Connect { endpoint: endpoint.into(), reason };
        let channel = Channel::from_shared(endpoint.to_string())
            .map_err(|e| err(e.to_string()))?
            .connect()
            .await
            .map_err(|e| err(e.to_string()))?;
        let client = tonic::client::Grpc::new(channel)
            .max_encoding_message_size(MAX_MESSAGE)
            .max_decoding_message_size(MAX_MESSAGE);
        Ok(Self { client })
    }

    /// Send once.
    pub async fn send(&mut self, payload: &Payload) -> Outcome {
        if let Err(e) = self.client.ready().await {
            return Outcome::Failed(format!("gRPC channel not ready: {e}"));
        }
        let request = tonic::Request::new(payload.body.clone());
        match payload.signal {
            Signal::Metrics => {
                let path = PathAndQuery::from_static(METRICS_EXPORT);
                match self.client.unary(request, path, RawCodec::<ExportMetricsServiceResponse>::default()).await {
                    Ok(r) => Outcome::Acked {
                        rejected: r.into_inner().partial_success.map_or(0, |p| p.rejected_data_points).max(0) as u64,
                    },
                    Err(status) => classify(&status),
                }
            }
            Signal::Logs => {
                let path = PathAndQuery::from_static(LOGS_EXPORT);
                match self.client.unary(request, path, RawCodec::<ExportLogsServiceResponse>::default()).await {
                    Ok(r) => Outcome::Acked {
                        rejected: r.into_inner().partial_success.map_or(0, |p| p.rejected_log_records).max(0) as u64,
                    },
                    Err(status) => classify(&status),
                }
            }
        }
    }
}

/// Turn a gRPC error status into an [`Outcome`].
pub fn classify(status: &Status) -> Outcome {
    let delay = status.get_details_retry_info().and_then(|r| r.retry_delay);
    let reason = format!("{:?}: {}", status.code(), status.message());
    match status.code() {
        Code::Unavailable => Outcome::Retry { after: delay.unwrap_or(DEFAULT_RETRY_AFTER), reason },
        Code::ResourceExhausted => match delay {
            Some(after) => Outcome::Retry { after, reason },
            None => Outcome::Failed(reason),
        },
        _ => Outcome::Failed(reason),
    }
}

/// Sends `Bytes` as they are; decodes the answer `R` with prost.
struct RawCodec<R>(PhantomData<fn() -> R>);

impl<R> Default for RawCodec<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<R: prost::Message + Default + Send + 'static> Codec for RawCodec<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<R>;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstDecoder(PhantomData)
    }
}

/// Writes pre-encoded protobuf bytes.
struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

/// Decodes an answer message.
struct ProstDecoder<R>(PhantomData<fn() -> R>);

impl<R: prost::Message + Default> Decoder for ProstDecoder<R> {
    type Item = R;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        R::decode(src).map(Some).map_err(|e| Status::internal(format!("decoding the answer: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic_types::ErrorDetails;

    use super::*;

    #[test]
    fn retries_unavailable_and_resource_exhausted_with_retry_info() {
        let info = ErrorDetails::with_retry_info(Some(Duration::from_secs(2)));
        let unavailable = Status::with_error_details(Code::Unavailable, "busy", info.clone());
        assert!(matches!(classify(&unavailable), Outcome::Retry { after, .. } if after == Duration::from_secs(2)));
        let plain = Status::unavailable("shutting down");
        assert!(matches!(classify(&plain), Outcome::Retry { after, .. } if after == DEFAULT_RETRY_AFTER));
        let exhausted = Status::with_error_details(Code::ResourceExhausted, "overloaded", info);
        assert!(matches!(classify(&exhausted), Outcome::Retry { .. }));
        assert!(matches!(classify(&Status::resource_exhausted("too large")), Outcome::Failed(_)));
        assert!(matches!(classify(&Status::invalid_argument("bad")), Outcome::Failed(m) if m.contains("bad")));
    }
}
