//! Cost of a typical 5-processor metrics pipeline on the ingest path:
//! decode + pipeline + convert to Arrow vs decode + convert (points/s, one core).
//!
//! `cargo bench -p tidewater-benches --bench pipeline`
//!
//! The pipeline (filter, attributes, redact, rename, cardinality_limit) does
//! its full work on every request but drops nothing, so both sides convert
//! the same points.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tidewater_benches::otlp;
use tidewater_ingest::metrics::{convert, PointLimits};
use tidewater_pipeline::{Pipelines, PipelinesConfig};

/// The typical pipeline: one processor of each common kind.
const PIPELINE: &str = r#"
[[pipelines.metrics]]
name = "drop-noise"
type = "filter"
metric_names = ["debug.*", "go_gc_*"]
attributes = { rack = "^never$" }

[[pipelines.metrics]]
name = "pii"
type = "attributes"
salt = "bench"
actions = [
  { action = "hash", key = "hostname", on = "resource" },
  { action = "insert", key = "env", value = "prod", on = "resource" },
  { action = "delete", key = "service_version", on = "resource" },
]

[[pipelines.metrics]]
name = "redact"
type = "redact"

[[pipelines.metrics]]
name = "rename"
type = "rename"
regex = [{ pattern = "^cpu_usage_(.*)$", replacement = "cpu_$1" }]

[[pipelines.metrics]]
name = "limit"
type = "cardinality_limit"
max_series = 1000000
"#;

fn pipeline(c: &mut Criterion) {
    let limits = PointLimits::default();
    let config = PipelinesConfig::from_toml(PIPELINE, "bench").expect("pipeline config");
    let pipelines = Pipelines::new(&config, None).expect("pipelines");
    let mut g = c.benchmark_group("otlp_pipeline");
    // (name, hosts, points per series)
    for (name, hosts, points) in [("batched_100x10x100", 100, 100), ("one_point_per_series_1000x10", 1000, 1)] {
        let body = otlp::tsbs_cpu(hosts, points).encode_to_vec();
        let n = otlp::points(hosts, points);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{name}/none"), |b| {
            b.iter(|| {
                let req = ExportMetricsServiceRequest::decode(body.as_slice()).expect("decode");
                let out = convert(&req, &limits);
                assert_eq!(out.points, n);
                out
            })
        });
        g.bench_function(format!("{name}/five_processors"), |b| {
            b.iter(|| {
                let mut req = ExportMetricsServiceRequest::decode(body.as_slice()).expect("decode");
                let report = pipelines.run_metrics(&mut req);
                let out = convert(&req, &limits);
                assert_eq!((out.points, report.refused), (n, 0));
                out
            })
        });
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
