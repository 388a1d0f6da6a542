//! What a run counts, its periodic progress line and its final summary.
//!
//! Points count as acknowledged only when the server answered success, minus
//! what it reported as rejected (OTLP partial success). Retried attempts
//! and failed requests never add to the acknowledged count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Counters shared by the senders.
#[derive(Debug, Default)]
pub struct Counters {
    /// Points the server acknowledged as stored.
    pub acked: AtomicU64,
    /// Points in acknowledged requests that the server reported as rejected.
    pub rejected: AtomicU64,
    /// Points of requests that failed for good (error, or retries exhausted).
    pub failed_points: AtomicU64,
    /// Requests acknowledged.
    pub requests: AtomicU64,
    /// Requests that failed for good.
    pub failed_requests: AtomicU64,
    /// Attempts answered with 429/503 or UNAVAILABLE/RESOURCE_EXHAUSTED and retried.
    pub retries: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    /// Remember the first failure's message (later ones are only counted).
    pub fn note_error(&self, message: &str) {
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert_with(|| message.chars().take(500).collect());
        }
    }

    /// The first failure's message, if any.
    pub fn first_error(&self) -> Option<String> {
        self.first_error.lock().ok().and_then(|e| e.clone())
    }

    /// Add `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Read a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A latency histogram in microseconds (1 µs to 10 min, 3 significant
/// digits; longer values are clamped to 10 min when recorded).
pub fn latency_histogram() -> super::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).map_err(|e| super::Error::Internal(format!("histogram: {e}")))
}

/// Request latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Percentiles of a histogram of microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1_000.0;
        Self {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
        }
    }
}

/// The result of a run (printed as JSON with `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Workload name.
    pub workload: String,
    /// Target name.
    pub target: String,
    /// Endpoint.
    pub endpoint: String,
    /// Senders.
    pub concurrency: usize,
    /// Points per request asked for.
    pub batch_size: usize,
    /// Points generated (acknowledged + rejected + failed).
    pub points_total: u64,
    /// Points acknowledged as stored.
    pub points_acked: u64,
    /// Points reported as rejected in acknowledged requests.
    pub points_rejected: u64,
    /// Points of requests that failed for good.
    pub points_failed: u64,
    /// Requests acknowledged.
    pub requests: u64,
    /// Requests that failed for good.
    pub failed_requests: u64,
    /// Retried attempts (429/503, UNAVAILABLE, RESOURCE_EXHAUSTED with retry info).
    pub retries: u64,
    /// Seconds generating requests before sending (with `--pregenerate`).
    pub generate_secs: f64,
    /// Seconds from the first request to the last answer.
    pub wall_secs: f64,
    /// Acknowledged points per second of wall time.
    pub points_per_sec: f64,
    /// Latency of acknowledged attempts.
    pub latency: Latency,
    /// The first failure, if any.
    pub first_error: Option<String>,
}

impl Summary {
    /// A human-readable report (several lines).
    pub fn to_text(&self) -> String {
        format!(
            "{} -> {} {}: {} points acknowledged in {:.2} s = {} points/s ({} requests, concurrency {}, batch {})\n\
             latency p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n\
             rejected {} points, failed {} requests ({} points), {} retries{}",
            self.workload,
            self.target,
            self.endpoint,
            self.points_acked,
            self.wall_secs,
            human(self.points_per_sec),
            self.requests,
            self.concurrency,
            self.batch_size,
            self.latency.p50_ms,
            self.latency.p95_ms,
            self.latency.p99_ms,
            self.latency.max_ms,
            self.points_rejected,
            self.failed_requests,
            self.points_failed,
            self.retries,
            self.first_error.as_ref().map(|e| format!("\nfirst error: {e}")).unwrap_or_default(),
        )
    }
}

/// `3.31M`, `412.5k`, `12`: a rate or count with an SI suffix.
pub fn human(v: f64) -> String {
    match v.abs() {
        a if a >= 1e9 => format!("{:.2}G", v / 1e9),
        a if a >= 1e6 => format!("{:.2}M", v / 1e6),
        a if a >= 1e3 => format!("{:.1}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

/// The progress line printed every interval.
pub fn progress_line(
    elapsed: Duration,
    c: &Counters,
    last_acked: u64,
    interval: Duration,
    done: u64,
    total: u64,
) -> String {
    let acked = Counters::get(&c.acked);
    let secs = elapsed.as_secs_f64().max(1e-9);
    format!(
        "[loadgen] {:>6.1}s  {} points acked  {}/s now  {}/s avg  requests {}/{}  retries {}  failed {}",
        secs,
        human(acked as f64),
        human(acked.saturating_sub(last_acked) as f64 / interval.as_secs_f64().max(1e-9)),
        human(acked as f64 / secs),
        done,
        total,
        Counters::get(&c.retries),
        Counters::get(&c.failed_requests),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_in_milliseconds() {
        let mut h = latency_histogram().expect("histogram");
        for us in 1..=1_000u64 {
            h.record(us * 10).expect("record");
        }
        let l = Latency::from_histogram(&h);
        assert!((l.p50_ms - 5.0).abs() < 0.01, "{l:?}");
        assert!((l.p99_ms - 9.9).abs() < 0.02, "{l:?}");
        assert!((l.max_ms - 10.0).abs() < 0.02, "{l:?}");
        assert_eq!(Latency::from_histogram(&latency_histogram().expect("histogram")), Latency::default());
    }

    #[test]
    fn human_numbers() {
        assert_eq!(human(3_310_000.0), "3.31M");
        assert_eq!(human(412_500.0), "412.5k");
        assert_eq!(human(12.0), "12");
    }
}
