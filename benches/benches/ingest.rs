//! Decode + convert-to-Arrow throughput of OTLP metrics and of Prometheus
//! remote write (points/s, one core).
//!
//! `cargo bench -p tidewater-benches --bench ingest`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tidewater_benches::otlp;
use tidewater_ingest::metrics::{convert, PointLimits};
use tidewater_ingest::remote_write;

fn decode_convert(c: &mut Criterion) {
    let limits = PointLimits::default();
    let mut g = c.benchmark_group("otlp_decode_convert");
    // (name, hosts, points per series)
    for (name, hosts, points) in [("batched_100x10x100", 100, 100), ("one_point_per_series_1000x10", 1000, 1)] {
        let body = otlp::tsbs_cpu(hosts, points).encode_to_vec();
        g.throughput(Throughput::Elements(otlp::points(hosts, points) as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let req = ExportMetricsServiceRequest::decode(body.as_slice()).expect("decode");
                let out = convert(&req, &limits);
                assert_eq!(out.rejected, 0);
                out
            })
        });
    }
    g.finish();
}

/// The data of [`otlp::tsbs_cpu`] as a Prometheus remote write request: one
/// series per host and field (`__name__` = the metric name, the ten host
/// tags as labels, sorted by name), `points` samples each.
fn tsbs_cpu_remote_write(hosts: usize, points: usize) -> remote_write::WriteRequest {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use remote_write::{Label, Sample, TimeSeries, WriteRequest};
    let mut timeseries = Vec::new();
    for (h, rm) in otlp::tsbs_cpu(hosts, 1).resource_metrics.into_iter().enumerate() {
        let tags: Vec<Label> = rm
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|kv| match kv.value?.value? {
                Value::StringValue(v) => Some(Label::new(kv.key, v)),
                _ => None,
            })
            .collect();
        for (f, metric) in rm.scope_metrics.into_iter().flat_map(|s| s.metrics).enumerate() {
            let mut labels = tags.clone();
            labels.push(Label::new("__name__", metric.name));
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let samples = (0..points)
                .map(|p| Sample {
                    value: ((h * 7 + f * 3 + p) % 100) as f64,
                    timestamp: 1_700_000_000_000 + p as i64 * 10_000,
                })
                .collect();
            timeseries.push(TimeSeries { labels, samples, ..Default::default() });
        }
    }
    WriteRequest { timeseries, metadata: vec![] }
}

fn remote_write_decode_convert(c: &mut Criterion) {
    let limits = PointLimits::default();
    let mut g = c.benchmark_group("remote_write_decode_convert");
    for (name, hosts, points) in [("batched_100x10x100", 100, 100), ("one_point_per_series_1000x10", 1000, 1)] {
        let body = remote_write::encode(&tsbs_cpu_remote_write(hosts, points)).expect("encode");
        g.throughput(Throughput::Elements(otlp::points(hosts, points) as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let req = remote_write::decode(&body, 64 << 20).expect("decode");
                let out = remote_write::convert(&req, &limits);
                assert_eq!(out.rejected, 0);
                out
            })
        });
    }
    g.finish();
}

criterion_group!(benches, decode_convert, remote_write_decode_convert);
criterion_main!(benches);
