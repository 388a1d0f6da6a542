//! OTLP/gRPC services on the gRPC port.
//!
//! Hand-rolled instead of the generated `MetricsServiceServer` for one
//! reason: the generated server uses tonic's prost codec, which answers a
//! malformed message with `INTERNAL`. OTLP asks for `INVALID_ARGUMENT`, so
//! [`OtlpCodec`] decodes with prost and maps the error; everything else
//! (framing, gzip, size limits) is tonic's, except that an over-limit
//! message is answered `RESOURCE_EXHAUSTED` rather than tonic's `OUT_OF_RANGE`.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use prost::Message;
use tidewater_tenant::Tenant;
use tonic::body::Body;
use tonic::codec::{BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::Status;

use crate::service::Ingester;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One OTLP signal's `Export` method.
pub trait Signal: Send + Sync + 'static {
    /// Fully qualified gRPC service name.
    const NAME: &'static str;
    /// Request message.
    type Request: Message + Default + Send + 'static;
    /// Response message.
    type Response: Message + Send + 'static;
    /// Handle one decoded request.
    fn export(
        ingester: Ingester,
        tenant: Tenant,
        req: Self::Request,
    ) -> BoxFuture<Result<Self::Response, crate::Error>>;
}

/// `opentelemetry.proto.collector.metrics.v1.MetricsService`.
#[derive(Debug)]
pub struct Metrics;

impl Signal for Metrics {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    type Request = ExportMetricsServiceRequest;
    type Response = ExportMetricsServiceResponse;
    fn export(
        ingester: Ingester,
        tenant: Tenant,
        req: Self::Request,
    ) -> BoxFuture<Result<Self::Response, crate::Error>> {
        Box::pin(async move { ingester.export_metrics(&tenant, req).await })
    }
}

/// `opentelemetry.proto.collector.logs.v1.LogsService`.
#[derive(Debug)]
pub struct Logs;

impl Signal for Logs {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
    type Request = ExportLogsServiceRequest;
    type Response = ExportLogsServiceResponse;
    fn export(
        ingester: Ingester,
        tenant: Tenant,
        req: Self::Request,
    ) -> BoxFuture<Result<Self::Response, crate::Error>> {
        Box::pin(async move { ingester.export_logs(&tenant, req).await })
    }
}

/// A tonic service for one signal.
#[derive(Debug)]
pub struct OtlpService<S> {
    ingester: Ingester,
    _signal: PhantomData<S>,
}

impl<S> Clone for OtlpService<S> {
    fn clone(&self) -> Self {
        Self { ingester: self.ingester.clone(), _signal: PhantomData }
    }
}

impl<S: Signal> OtlpService<S> {
    /// A service answering `S`'s `Export` with `ingester`.
    pub fn new(ingester: Ingester) -> Self {
        Self { ingester, _signal: PhantomData }
    }
}

impl<S: Signal> NamedService for OtlpService<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: Signal> tower::Service<Request<Body>> for OtlpService<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let ingester = self.ingester.clone();
        Box::pin(async move {
            if !req.uri().path().ends_with("/Export") {
                return Ok(Status::unimplemented(format!("no method {}", req.uri().path())).into_http());
            }
            // Admission before tonic reads the body bounds ingest memory.
            let _permit = match ingester.admit() {
                Ok(p) => p,
                Err(e) => return Ok(e.grpc_status().into_http()),
            };
            let limit = ingester.limits().max_request_bytes;
            let mut compression = EnabledCompressionEncodings::default();
            compression.enable(CompressionEncoding::Gzip);
            let mut grpc = Grpc::new(OtlpCodec::<S::Response, S::Request>::default())
                .apply_compression_config(compression, compression)
                .apply_max_message_size_config(Some(limit), None);
            let mut resp = grpc.unary(Unary::<S>(ingester, PhantomData), req).await;
            // tonic answers an over-limit message with OUT_OF_RANGE; OTLP
            // asks for RESOURCE_EXHAUSTED (a non-retryable size refusal).
            let out_of_range = (tonic::Code::OutOfRange as i32).to_string();
            if resp.headers().get("grpc-status").is_some_and(|v| v.as_bytes() == out_of_range.as_bytes()) {
                resp.headers_mut()
                    .insert("grpc-status", http::HeaderValue::from(tonic::Code::ResourceExhausted as i32));
            }
            Ok(resp)
        })
    }
}

struct Unary<S>(Ingester, PhantomData<S>);

impl<S: Signal> UnaryService<S::Request> for Unary<S> {
    type Response = S::Response;
    type Future = BoxFuture<Result<tonic::Response<S::Response>, Status>>;

    fn call(&mut self, request: tonic::Request<S::Request>) -> Self::Future {
        let ingester = self.0.clone();
        // The auth layer puts the tenant on the request; none when auth is off.
        let tenant = request.extensions().get::<Tenant>().cloned().unwrap_or_default();
        Box::pin(async move {
            S::export(ingester, tenant, request.into_inner())
                .await
                .map(tonic::Response::new)
                .map_err(|e| e.grpc_status())
        })
    }
}

/// Prost encoding; decoding maps errors to `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct OtlpCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for OtlpCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T: Message + Send + 'static, U: Message + Default + Send + 'static> Codec for OtlpCodec<T, U> {
    type Encode = T;
    type Decode = U;
    type Encoder = tonic_prost::ProstEncoder<T>;
    type Decoder = OtlpDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        tonic_prost::ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        OtlpDecoder(PhantomData)
    }
}

/// Decodes a prost message; a malformed one is `INVALID_ARGUMENT`.
#[derive(Debug)]
pub struct OtlpDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for OtlpDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|e| Status::invalid_argument(format!("malformed protobuf: {e}")))
    }
}
