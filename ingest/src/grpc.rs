//! OTLP/gRPC: the `MetricsService` on the gRPC port.

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{MetricsService, MetricsServiceServer};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::service::Ingester;

/// gRPC handler for OTLP metrics.
#[derive(Debug, Clone)]
pub struct OtlpMetrics {
    ingester: Ingester,
}

#[tonic::async_trait]
impl MetricsService for OtlpMetrics {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.ingester.export_metrics(request.into_inner()).await.map(Response::new).map_err(|e| e.grpc_status())
    }
}

/// The tonic service, with gzip accepted and the request size limit applied.
pub fn metrics_service(ingester: Ingester) -> MetricsServiceServer<OtlpMetrics> {
    let limit = ingester.limits().max_request_bytes;
    MetricsServiceServer::new(OtlpMetrics { ingester })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}
