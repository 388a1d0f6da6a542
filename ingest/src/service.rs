//! The ingest service: protocol-independent handling of decoded requests.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use std::time::Duration;

use tidewater_storage::Store;

use crate::cardinality::SeriesLimiter;
use crate::error::Result;
use crate::logs;
use crate::metrics::{self, Converted, PointLimits};
use crate::preprocess::{Preprocess, Refused};
use crate::remote_write::WriteRequest;
use crate::tenant_limits::TenantLimiter;
use tidewater_tenant::{TenancyConfig, Tenant};

/// Request-level limits.
#[derive(Debug, Clone)]
pub struct IngestLimits {
    /// Largest request body after decompression, in bytes.
    pub max_request_bytes: usize,
    /// Per-point limits.
    pub point: PointLimits,
    /// Active series per table (0: unlimited); new series past it are refused.
    pub max_series_per_table: usize,
    /// Ingest requests handled at once (bodies in memory); more get 429 /
    /// `UNAVAILABLE` before their body is read. With `max_request_bytes`
    /// this bounds ingest memory.
    pub max_inflight_requests: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 64 << 20,
            point: PointLimits::default(),
            max_series_per_table: 200_000,
            max_inflight_requests: 64,
        }
    }
}

/// What storing a converted request did.
#[derive(Debug, Default)]
pub struct Stored {
    /// Rows made durable.
    pub accepted: usize,
    /// Points or records refused (conversion, limits, schema clashes).
    pub rejected: usize,
    /// The refusal reasons, joined (empty if none).
    pub message: String,
}

/// Turns decoded OTLP requests into durable table writes.
#[derive(Debug, Clone)]
pub struct Ingester {
    store: Arc<Store>,
    limits: IngestLimits,
    series: Arc<SeriesLimiter>,
    inflight: Arc<tokio::sync::Semaphore>,
    preprocess: Option<Arc<dyn Preprocess>>,
    tenants: Arc<TenantLimiter>,
}

impl Ingester {
    /// An ingester writing to `store`.
    pub fn new(store: Arc<Store>, limits: IngestLimits) -> Self {
        let series = Arc::new(SeriesLimiter::new(limits.max_series_per_table, Duration::from_secs(3600)));
        let inflight = Arc::new(tokio::sync::Semaphore::new(limits.max_inflight_requests.max(1)));
        Self { store, limits, series, inflight, preprocess: None, tenants: Arc::default() }
    }

    /// Apply the per-tenant limits of `config`.
    pub fn with_tenancy(mut self, config: TenancyConfig) -> Self {
        self.tenants = Arc::new(TenantLimiter::new(config));
        self
    }

    /// Run `p` on every request before conversion (the pipeline step).
    pub fn with_preprocess(mut self, p: Arc<dyn Preprocess>) -> Self {
        self.preprocess = Some(p);
        self
    }

    /// Run the pipeline step on a remote write request.
    pub fn preprocess_remote_write(&self, req: &mut WriteRequest) -> Refused {
        self.preprocess.as_ref().map(|p| p.remote_write(req)).unwrap_or_default()
    }

    /// Admit one request, or refuse it as overloaded when
    /// `max_inflight_requests` are already being handled. Hold the permit
    /// until the request is answered.
    pub fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        self.inflight.clone().try_acquire_owned().map_err(|_| {
            tidewater_telemetry::metrics::INGEST_REFUSED_REQUESTS.inc(&[]);
            crate::Error::Storage(tidewater_storage::Error::Overloaded(format!(
                "{} ingest requests in flight",
                self.limits.max_inflight_requests
            )))
        })
    }

    /// The configured limits.
    pub fn limits(&self) -> &IngestLimits {
        &self.limits
    }

    /// Store a metrics request; points that break a rule are reported in the
    /// partial success, everything else is durable when this returns.
    pub async fn export_metrics(
        &self,
        tenant: &Tenant,
        mut req: ExportMetricsServiceRequest,
    ) -> Result<ExportMetricsServiceResponse> {
        let refused = self.preprocess.as_ref().map(|p| p.metrics(&mut req)).unwrap_or_default();
        let mut converted = metrics::convert(&req, &self.limits.point);
        drop(req);
        refused.add_to(&mut converted);
        let s = self.store(tenant, converted, "metrics").await?;
        let partial_success = (s.rejected > 0).then_some(ExportMetricsPartialSuccess {
            rejected_data_points: s.rejected as i64,
            error_message: s.message,
        });
        Ok(ExportMetricsServiceResponse { partial_success })
    }

    /// Store a logs request into the `logs` table; records that break a rule
    /// are reported in the partial success.
    pub async fn export_logs(
        &self,
        tenant: &Tenant,
        mut req: ExportLogsServiceRequest,
    ) -> Result<ExportLogsServiceResponse> {
        let refused = self.preprocess.as_ref().map(|p| p.logs(&mut req)).unwrap_or_default();
        let mut converted = logs::convert(&req, self.limits.max_request_bytes);
        drop(req);
        refused.add_to(&mut converted);
        let s = self.store(tenant, converted, "logs").await?;
        let partial_success = (s.rejected > 0)
            .then_some(ExportLogsPartialSuccess { rejected_log_records: s.rejected as i64, error_message: s.message });
        Ok(ExportLogsServiceResponse { partial_success })
    }

    /// Write converted rows into `tenant`'s tables, after its rate limit
    /// (over it, the whole request is refused, retryable) and the series
    /// limits (new series past them are dropped and reported); every
    /// refusal (conversion, limits, schema clashes) is counted with its reason.
    pub async fn store(&self, tenant: &Tenant, mut converted: Converted, signal: &'static str) -> Result<Stored> {
        let mut writes = std::mem::take(&mut converted.writes);
        let samples: usize = writes.iter().map(|w| w.batch.num_rows()).sum();
        self.tenants.take_samples(tenant, samples)?;
        if !tenant.is_default() {
            writes.iter_mut().for_each(|w| w.table = tenant.storage_name(&w.table));
        }
        let (over_limit, limit_reasons) = self.series.apply(&mut writes);
        let (over_tenant_limit, tenant_reasons) = self.tenants.apply_series_limit(tenant, &mut writes)?;
        let over_limit = over_limit + over_tenant_limit;
        let mut rejected = converted.rejected + over_limit;
        let mut reasons = converted.reasons;
        reasons.extend(limit_reasons);
        reasons.extend(tenant_reasons);
        let mut accepted = 0;
        let rejected_points = &tidewater_telemetry::metrics::INGEST_REJECTED;
        rejected_points.add(&[signal, "invalid"], converted.rejected as u64);
        rejected_points.add(&[signal, "series_limit"], over_limit as u64);
        if !writes.is_empty() {
            let rows: usize = writes.iter().map(|w| w.batch.num_rows()).sum();
            let outcome = match self.store.write(writes).await {
                Ok(o) => o,
                Err(e) => {
                    let overloaded = e.kind() == tidewater_storage::error::ErrorKind::Overloaded;
                    rejected_points.add(&[signal, if overloaded { "overloaded" } else { "error" }], rows as u64);
                    return Err(e.into());
                }
            };
            accepted = outcome.accepted_rows;
            for (table, rows, reason) in outcome.rejected {
                rejected += rows;
                rejected_points.add(&[signal, "schema_conflict"], rows as u64);
                let table = tenant.local_name(&table).unwrap_or(&table);
                reasons.push(format!("{table}: {reason}"));
            }
        }
        tidewater_telemetry::metrics::INGEST_POINTS.add(&[signal], accepted as u64);
        reasons.truncate(5);
        tracing::debug!(signal, accepted, rejected, "export");
        Ok(Stored { accepted, rejected, message: reasons.join("; ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidewater_storage::StoreConfig;

    #[test]
    fn admission_refuses_past_the_in_flight_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(StoreConfig::new(dir.path())).expect("store");
        let ingester = Ingester::new(store, IngestLimits { max_inflight_requests: 2, ..IngestLimits::default() });
        let a = ingester.admit().expect("first");
        let _b = ingester.admit().expect("second");
        let err = ingester.admit().expect_err("third is refused");
        assert!(err.is_retryable() && err.to_string().contains("2 ingest requests in flight"), "{err}");
        drop(a);
        let _c = ingester.admit().expect("a permit came back");
    }
}
