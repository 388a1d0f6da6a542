//! The ingest service: protocol-independent handling of decoded requests.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use tidewater_storage::Store;

use crate::error::Result;
use crate::logs;
use crate::metrics::{self, Converted, PointLimits};

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
        let converted = metrics::convert(&req, &self.limits.point);
        drop(req);
        let (rejected, message) = self.store_converted(converted, "metrics").await?;
        let partial_success = (rejected > 0)
            .then_some(ExportMetricsPartialSuccess { rejected_data_points: rejected as i64, error_message: message });
        Ok(ExportMetricsServiceResponse { partial_success })
    }

    /// Store a logs request into the `logs` table; records that break a rule
    /// are reported in the partial success.
    pub async fn export_logs(&self, req: ExportLogsServiceRequest) -> Result<ExportLogsServiceResponse> {
        let converted = logs::convert(&req, self.limits.max_request_bytes);
        drop(req);
        let (rejected, message) = self.store_converted(converted, "logs").await?;
        let partial_success = (rejected > 0)
            .then_some(ExportLogsPartialSuccess { rejected_log_records: rejected as i64, error_message: message });
        Ok(ExportLogsServiceResponse { partial_success })
    }

    /// Write converted rows; returns the total rejected count and the reasons.
    async fn store_converted(&self, mut converted: Converted, signal: &'static str) -> Result<(usize, String)> {
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
        tracing::debug!(signal, accepted = outcome.accepted_rows, rejected, "export");
        Ok((rejected, reasons.join("; ")))
    }

    /// Store already-converted table batches (Prometheus remote write).
    pub async fn write_tables(&self, writes: Vec<tidewater_storage::TableWrite>) -> Result<tidewater_storage::WriteOutcome> {
        Ok(self.store.write(writes).await?)
    }
}
