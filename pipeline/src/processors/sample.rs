//! `sample` (logs): keep a fraction of records per severity class. Errors
//! and fatal records are kept unless `keep_errors = false`. Records with a
//! trace id are kept or dropped together (the decision is a hash of the trace
//! id); others use a pseudo-random sequence.

use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::config::{SampleConfig, SeverityClass};
use crate::processor::{Processor, Report};

/// The `sample` processor.
#[derive(Debug)]
pub struct Sample {
    config: SampleConfig,
    state: AtomicU64,
}

/// splitmix64: a well-mixed 64-bit value from a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Sample {
    /// The processor for `config`, with its pseudo-random sequence starting at `seed`.
    pub fn new(config: SampleConfig, seed: u64) -> Self {
        Self { config, state: AtomicU64::new(seed) }
    }

    fn keep(&self, r: &LogRecord) -> bool {
        let class = SeverityClass::of(r.severity_number);
        if self.config.keep_errors && class >= SeverityClass::Error {
            return true;
        }
        let rate = self.config.by_severity.get(&class).copied().unwrap_or(self.config.rate);
        if rate >= 1.0 {
            return true;
        }
        if rate <= 0.0 {
            return false;
        }
        let draw = if r.trace_id.is_empty() {
            mix(self.state.fetch_add(1, Ordering::Relaxed))
        } else {
            let mut h = [0u8; 8];
            h.copy_from_slice(&blake3::hash(&r.trace_id).as_bytes()[..8]);
            u64::from_le_bytes(h)
        };
        // The top 53 bits as a fraction in [0, 1).
        ((draw >> 11) as f64 / (1u64 << 53) as f64) < rate
    }
}

impl Processor for Sample {
    fn logs(&self, req: &mut ExportLogsServiceRequest, report: &mut Report) {
        for sl in req.resource_logs.iter_mut().flat_map(|r| &mut r.scope_logs) {
            let before = sl.log_records.len();
            sl.log_records.retain(|r| self.keep(r));
            report.dropped += before - sl.log_records.len();
        }
        crate::otlp::prune_logs(req);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::{self, fixtures::*};

    fn processor(body: &str) -> Sample {
        let text = format!("[[pipelines.logs]]\nname = \"s\"\ntype = \"sample\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let ProcessorConfig::Sample(s) = c.logs[0].0.clone() else { panic!("sample") };
        Sample::new(s, 7)
    }

    fn kept(s: &Sample, severity: i32, n: usize) -> usize {
        let mut req = logs_request((0..n).map(|_| record(severity, "x", vec![])).collect());
        s.logs(&mut req, &mut Report::default());
        otlp::log_records(&req)
    }

    #[test]
    fn rates_per_severity_and_errors_are_kept() {
        let s = processor("rate = 0.5\nby_severity = { debug = 0.0, warn = 1.0 }\n");
        assert_eq!(kept(&s, 5, 1000), 0, "debug rate 0");
        assert_eq!(kept(&s, 13, 1000), 1000, "warn rate 1");
        assert_eq!(kept(&s, 17, 1000), 1000, "errors kept");
        let info = kept(&s, 9, 10_000);
        assert!((4_700..=5_300).contains(&info), "about half of info kept: {info}");
        let all = processor("rate = 0.0\nkeep_errors = false\n");
        assert_eq!(kept(&all, 21, 100), 0, "errors dropped when told");
    }

    #[test]
    fn records_of_one_trace_share_their_fate() {
        let s = processor("rate = 0.5\n");
        let mut fates = std::collections::HashSet::new();
        for _ in 0..20 {
            let mut rec = record(9, "x", vec![]);
            rec.trace_id = vec![7; 16];
            let mut req = logs_request(vec![rec]);
            s.logs(&mut req, &mut Report::default());
            fates.insert(otlp::log_records(&req));
        }
        assert_eq!(fates.len(), 1);
    }
}
