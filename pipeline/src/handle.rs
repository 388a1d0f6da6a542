//! [`Pipelines`]: the running pipelines of both signals, swapped whole on
//! reload, and the ingest hook that runs them.
//!
//! A reload builds the new pipelines next to the running ones; only when all
//! of them built is the swap made, so an invalid config leaves the running
//! pipelines in place. A processor whose config did not change is carried
//! over as it is (its counters, series-limit state and forward queue).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use parking_lot::{Mutex, RwLock};
use tidewater_ingest::preprocess::{Preprocess, Refused};
use tidewater_ingest::remote_write::WriteRequest;

use crate::config::{PipelinesConfig, Signal};
use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, StageStats};
use crate::processor::Report;

/// How long [`Pipelines::shutdown`] should let `forward` queues drain.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The pipelines in use.
#[derive(Debug)]
struct Active {
    metrics: Pipeline,
    logs: Pipeline,
    generation: u64,
}

/// What a load or reload did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Loaded {
    /// Processors in the metrics pipeline.
    pub metrics: usize,
    /// Processors in the logs pipeline.
    pub logs: usize,
    /// Processors carried over unchanged from the previous pipelines.
    pub unchanged: usize,
    /// Counts loads, starting at 1.
    pub generation: u64,
}

/// The running pipelines; cheap to share (`Arc`), reloadable in place.
#[derive(Debug)]
pub struct Pipelines {
    active: RwLock<Arc<Active>>,
    config_file: Option<PathBuf>,
    reloading: Mutex<()>,
}

fn refused(r: Report) -> Refused {
    Refused { count: r.refused, reasons: r.reasons }
}

impl Pipelines {
    /// Start the pipelines of `config`; `config_file` is where reloads read
    /// `[pipelines]` from. A `forward` processor needs a Tokio runtime.
    pub fn new(config: &PipelinesConfig, config_file: Option<PathBuf>) -> Result<Self> {
        let empty = Arc::new(Active {
            metrics: Pipeline::new(Signal::Metrics, Vec::new()),
            logs: Pipeline::new(Signal::Logs, Vec::new()),
            generation: 0,
        });
        let p = Self { active: RwLock::new(empty), config_file, reloading: Mutex::new(()) };
        p.apply(config)?;
        Ok(p)
    }

    /// Replace the pipelines by those of `config`; on error nothing changes.
    pub fn apply(&self, config: &PipelinesConfig) -> Result<Loaded> {
        config.validate()?;
        let _one_at_a_time = self.reloading.lock();
        let old = self.active.read().clone();
        let (metrics, kept_m) = Pipeline::build(Signal::Metrics, config, Some(&old.metrics))?;
        let (logs, kept_l) = Pipeline::build(Signal::Logs, config, Some(&old.logs))?;
        let loaded = Loaded {
            metrics: metrics.stages().len(),
            logs: logs.stages().len(),
            unchanged: kept_m + kept_l,
            generation: old.generation + 1,
        };
        *self.active.write() = Arc::new(Active { metrics, logs, generation: loaded.generation });
        Ok(loaded)
    }

    /// Read `[pipelines]` from the config file again and apply it. Blocking
    /// (file I/O): call from a blocking thread in async code.
    pub fn reload(&self) -> Result<Loaded> {
        let path = self.config_file.as_ref().ok_or(Error::NoConfigFile)?;
        let config = PipelinesConfig::from_file(path)?;
        self.apply(&config)
    }

    fn current(&self) -> Arc<Active> {
        self.active.read().clone()
    }

    /// Counters of every processor, metrics first.
    pub fn stats(&self) -> Vec<StageStats> {
        let a = self.current();
        let mut out = a.metrics.stats();
        out.extend(a.logs.stats());
        out
    }

    /// Shut down: every `forward` stops taking copies and sends what is
    /// queued for at most `within` (see [`DRAIN_TIMEOUT`]); what is still
    /// queued then counts as undelivered. Call once ingest has stopped,
    /// before the runtime ends.
    pub async fn shutdown(&self, within: Duration) {
        let deadline = Instant::now() + within;
        let a = self.current();
        let tasks: Vec<_> =
            a.metrics.stages().iter().chain(a.logs.stages()).filter_map(|s| s.processor.shutdown(deadline)).collect();
        // The tasks stop at the deadline on their own; the grace is for the
        // bookkeeping after it.
        let grace = tokio::time::Instant::from_std(deadline) + Duration::from_millis(500);
        for t in tasks {
            if tokio::time::timeout_at(grace, t).await.is_err() {
                tracing::warn!("pipelines: a forward queue did not stop by its shutdown deadline");
            }
        }
    }

    /// Run the metrics pipeline.
    pub fn run_metrics(&self, req: &mut ExportMetricsServiceRequest) -> Report {
        self.current().metrics.metrics(req)
    }

    /// Run the logs pipeline.
    pub fn run_logs(&self, req: &mut ExportLogsServiceRequest) -> Report {
        self.current().logs.logs(req)
    }
}

impl Preprocess for Pipelines {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest) -> Refused {
        refused(self.run_metrics(req))
    }

    fn logs(&self, req: &mut ExportLogsServiceRequest) -> Refused {
        refused(self.run_logs(req))
    }

    fn remote_write(&self, req: &mut WriteRequest) -> Refused {
        refused(crate::remote_write::run(&self.current().metrics, req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{self, fixtures::*};

    const TWO: &str = r#"
[[pipelines.metrics]]
name = "drop-debug"
type = "filter"
metric_names = ["debug.*"]

[[pipelines.metrics]]
name = "limit"
type = "cardinality_limit"
max_series = 1
"#;

    fn config(text: &str) -> PipelinesConfig {
        PipelinesConfig::from_toml(text, "test").expect("config")
    }

    #[test]
    fn runs_in_order_counts_and_reports_refusals() {
        let p = Pipelines::new(&config(TWO), None).expect("starts");
        let mut req = metrics_request(
            &[],
            vec![
                gauge("debug.x", vec![point(1, 1.0, vec![])]),
                gauge("up", vec![point(1, 1.0, attrs(&[("a", "1")])), point(1, 1.0, attrs(&[("a", "2")]))]),
            ],
        );
        let r = Preprocess::metrics(&p, &mut req);
        assert_eq!(r.count, 1);
        assert!(r.reasons[0].contains("\"limit\""), "{:?}", r.reasons);
        assert_eq!(otlp::metric_points(&req), 1);
        let s = p.stats();
        let row = |i: usize| (s[i].name.as_str(), s[i].items_in, s[i].items_out, s[i].dropped, s[i].refused);
        assert_eq!(row(0), ("drop-debug", 3, 2, 1, 0));
        assert_eq!(row(1), ("limit", 2, 1, 1, 1));
    }

    #[test]
    fn reload_keeps_unchanged_processors_and_refuses_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tidewater.toml");
        std::fs::write(&path, TWO).expect("write");
        let p = Pipelines::new(&PipelinesConfig::from_file(&path).expect("config"), Some(path.clone())).expect("start");
        let mut req = metrics_request(&[], vec![gauge("up", vec![point(1, 1.0, attrs(&[("a", "1")]))])]);
        Preprocess::metrics(&p, &mut req);

        // Change the filter only: the limit keeps its series and counters.
        std::fs::write(&path, TWO.replace("debug.*", "tmp.*")).expect("write");
        let loaded = p.reload().expect("reloads");
        assert_eq!((loaded.metrics, loaded.unchanged, loaded.generation), (2, 1, 2));
        let mut req = metrics_request(&[], vec![gauge("up", vec![point(1, 1.0, attrs(&[("a", "2")]))])]);
        assert_eq!(Preprocess::metrics(&p, &mut req).count, 1, "the limit remembers series a=1");
        assert_eq!(p.stats()[1].items_in, 2);
        assert_eq!(p.stats()[0].items_in, 1, "the new filter starts from zero");

        // A broken file is refused with its line; the running pipeline stays.
        std::fs::write(&path, format!("{TWO}\n[[pipelines.logs]]\nname = \"x\"\ntype = \"sample\"\nrate = 7\n"))
            .expect("write");
        let e = p.reload().expect_err("invalid").to_string();
        assert!(e.contains("tidewater.toml:") && e.contains("between 0 and 1"), "{e}");
        assert!(e.contains("tidewater.toml:12:"), "line of the bad processor: {e}");
        assert_eq!(p.stats().len(), 2);
        let mut tmp = metrics_request(&[], vec![gauge("tmp.x", vec![point(1, 1.0, vec![])])]);
        Preprocess::metrics(&p, &mut tmp);
        assert!(tmp.resource_metrics.is_empty(), "the running filter is still tmp.*");
    }

    #[test]
    fn reload_without_a_file_is_refused() {
        let p = Pipelines::new(&PipelinesConfig::default(), None).expect("starts");
        assert!(matches!(p.reload(), Err(Error::NoConfigFile)));
        let mut req = logs_request(vec![record(9, "x", vec![])]);
        assert_eq!(Preprocess::logs(&p, &mut req), Refused::default());
        assert_eq!(otlp::log_records(&req), 1, "no pipeline: unchanged");
    }
}
