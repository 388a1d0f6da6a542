//! The pipeline step: a hook that sees every decoded request before it is
//! converted to Arrow and written to the WAL (`tidewater-pipeline`
//! implements it; without one, requests go straight to conversion).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::metrics::Converted;
use crate::remote_write::WriteRequest;

/// Points or records the hook refused, reported to the sender like
/// conversion refusals (OTLP partial success).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refused {
    /// How many.
    pub count: usize,
    /// Why (a few distinct reasons).
    pub reasons: Vec<String>,
}

impl Refused {
    /// Add these refusals to a conversion's.
    pub fn add_to(self, converted: &mut Converted) {
        converted.rejected += self.count;
        for r in self.reasons {
            if converted.reasons.len() < 5 && !converted.reasons.contains(&r) {
                converted.reasons.push(r);
            }
        }
    }
}

/// Runs on decoded requests before conversion; may change or drop anything.
/// Called inline on the request's task: implementations must not block.
pub trait Preprocess: Send + Sync + std::fmt::Debug {
    /// An OTLP metrics request.
    fn metrics(&self, req: &mut ExportMetricsServiceRequest) -> Refused;
    /// An OTLP logs request.
    fn logs(&self, req: &mut ExportLogsServiceRequest) -> Refused;
    /// A Prometheus remote write request.
    fn remote_write(&self, req: &mut WriteRequest) -> Refused;
}
