//! The ingest service: protocol-independent handling of decoded requests.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tidewater_storage::Store;

use crate::error::Result;
use crate::metrics::{self, PointLimits};

/// Request-level limits.
#[derive(Debug, Clone)]
pub struct IngestLimits {
    /// Largest request body after decompression, in bytes.
    pub max_request_bytes: usize,
    /// Per-point limits.
    pub point: PointLimits,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self { max_request_bytes: 64 << 20, point: PointLimits::default() }
    }
}

/// Turns decoded OTLP requests into durable table writes.
#[derive(Debug, Clone)]
pub struct Ingester {
    store: Arc<Store>,
    limits: IngestLimits,
}

impl Ingester {
    /// An ingester writing to `store`.
    pub fn new(store: Arc<Store>, limits: IngestLimits) -> Self {
        Self { store, limits }
    }

    /// The configured limits.
    pub fn limits(&self) -> &IngestLimits {
        &self.limits
    }

    /// Store a metrics request; points that break a rule are reported in the
    /// partial success, everything else is durable when this returns.
    pub async fn export_metrics(&self, req: ExportMetricsServiceRequest) -> Result<ExportMetricsServiceResponse> {
        let mut converted = metrics::convert(&req, &self.limits.point);
        drop(req);
        let writes = std::mem::take(&mut converted.writes);
        let outcome = self.store.write(writes).await?;
        let mut rejected = converted.rejected;
        let mut reasons = converted.reasons;
        for (table, rows, reason) in outcome.rejected {
            rejected += rows;
            if reasons.len() < 5 {
                reasons.push(format!("{table}: {reason}"));
            }
        }
        tracing::debug!(accepted = outcome.accepted_rows, rejected, "metrics export");
        let partial_success = (rejected > 0).then(|| ExportMetricsPartialSuccess {
            rejected_data_points: rejected as i64,
            error_message: reasons.join("; "),
        });
        Ok(ExportMetricsServiceResponse { partial_success })
    }
}
