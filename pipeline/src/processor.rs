//! The processor trait and what a run reports.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

/// What one processor run reports besides the request it changed.
#[derive(Debug, Default)]
pub struct Report {
    /// Points refused in a way the sender must hear about (OTLP partial success).
    pub refused: usize,
    /// Reasons for `refused` (a few, for the partial-success message).
    pub reasons: Vec<String>,
    /// Items the processor could not handle (they pass on unchanged).
    pub errors: u64,
    /// Points or records removed as configured (filter, sample), not
    /// refused. A processor that removes anything counts it here or in
    /// `refused`: the pipeline does not count the request again.
    pub dropped: usize,
}

impl Report {
    /// Count `n` refused points with a reason.
    pub fn refuse(&mut self, n: usize, reason: String) {
        if n == 0 {
            return;
        }
        self.refused += n;
        if self.reasons.len() < 5 && !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }
}

/// Delivery figures of a processor that sends data elsewhere (`forward`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Points or records the other endpoint accepted.
    pub delivered: u64,
    /// Points or records that could not be delivered (queue full, retries
    /// exhausted, refused by the other end).
    pub undelivered: u64,
    /// Bytes waiting in the queue (and in flight).
    pub queued_bytes: u64,
}

/// One processor. A processor is built for one signal; the config refuses
/// processors in a signal they do not apply to, so the other method keeps
/// its default (no change).
pub trait Processor: Send + Sync + std::fmt::Debug {
    /// Process a metrics request in place.
    fn metrics(&self, _req: &mut ExportMetricsServiceRequest, _report: &mut Report) {}

    /// Process a logs request in place.
    fn logs(&self, _req: &mut ExportLogsServiceRequest, _report: &mut Report) {}

    /// Stop and finish pending work by `deadline` (`forward`: send what is
    /// queued). Returns the task to wait for, if there is one.
    fn shutdown(&self, _deadline: std::time::Instant) -> Option<tokio::task::JoinHandle<()>> {
        None
    }

    /// Delivery figures, for processors that send data elsewhere.
    fn delivery(&self) -> Option<Delivery> {
        None
    }
}
