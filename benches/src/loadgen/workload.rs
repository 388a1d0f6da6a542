//! Workloads and their shards: what is generated, independent of transport.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use serde::Serialize;

use super::model::MetricBatch;
use super::payload::Target;
use super::plan::Cut;
use super::{logs, otel_http, tsbs, Error, Result};

/// Which data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// TSBS devops "cpu-only": per host 10 tags and 10 integer cpu fields
    /// (`cpu_usage_user` ...), each a random walk clamped to [0, 100].
    TsbsCpu,
    /// OTel HTTP server metrics for `scale` services x `routes` routes:
    /// request counter, request duration histogram, active requests gauge.
    OtelHttp,
    /// Logs of `scale` services: nginx access lines and JSON application
    /// logs with trace ids.
    Logs,
}

/// Everything that determines the generated data.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// The workload.
    pub kind: WorkloadKind,
    /// Seed of every random choice.
    pub seed: u64,
    /// Hosts (tsbs-cpu) or services (otel-http, logs).
    pub scale: usize,
    /// Time of the first tick, Unix nanoseconds.
    pub start_ns: i64,
    /// Time between ticks, nanoseconds.
    pub interval_ns: i64,
    /// Number of ticks.
    pub ticks: u64,
    /// Routes per service (otel-http).
    pub routes: usize,
    /// Log records per service per tick (logs).
    pub logs_per_tick: usize,
}

impl Spec {
    /// Unix nanoseconds of tick `i`.
    pub fn tick_time(&self, i: u64) -> i64 {
        self.start_ns.saturating_add((i as i64).saturating_mul(self.interval_ns))
    }
}

/// The content of one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    /// Metric series.
    Metrics(MetricBatch),
    /// An OTLP logs request.
    Logs(ExportLogsServiceRequest),
}

/// One sender's share of a workload: a fixed set of entities, produced
/// request by request in time order.
pub trait Shard: Send {
    /// The next request, or `None` when the shard is done.
    fn next_batch(&mut self) -> Option<Batch>;
    /// How many requests the shard makes in all.
    fn requests(&self) -> u64;
}

/// The ids of the entities (out of `scale`) that shard `w` of `workers` owns.
pub fn entity_ids(scale: usize, workers: usize, w: usize) -> Vec<u64> {
    (0..scale).filter(|id| id % workers.max(1) == w).map(|id| id as u64).collect()
}

/// Split a workload into `workers` shards, cutting requests of about
/// `batch` points (samples for remote write) that span at most `max_ticks`
/// ticks of data time.
pub fn shards(
    spec: &Spec,
    target: Target,
    workers: usize,
    batch: usize,
    max_ticks: u64,
) -> Result<Vec<Box<dyn Shard>>> {
    if workers == 0 {
        return Err(Error::Config("concurrency must be at least 1".into()));
    }
    if spec.interval_ns <= 0 {
        return Err(Error::Config("interval must be positive".into()));
    }
    if spec.kind == WorkloadKind::Logs && target == Target::RemoteWrite {
        return Err(Error::Config("remote write carries metrics only; send logs over otlp-grpc or otlp-http".into()));
    }
    if spec.kind == WorkloadKind::OtelHttp && spec.routes == 0 {
        return Err(Error::Config("otel-http needs at least one route".into()));
    }
    let cut = Cut { batch, max_ticks, widest: spec.scale.div_ceil(workers) };
    Ok((0..workers)
        .map(|w| {
            let ids = entity_ids(spec.scale, workers, w);
            match spec.kind {
                WorkloadKind::TsbsCpu => Box::new(tsbs::TsbsShard::new(spec, ids, cut)) as Box<dyn Shard>,
                WorkloadKind::OtelHttp => Box::new(otel_http::OtelHttpShard::new(spec, target, ids, cut)),
                WorkloadKind::Logs => Box::new(logs::LogsShard::new(spec, ids, cut)),
            }
        })
        .collect())
}
