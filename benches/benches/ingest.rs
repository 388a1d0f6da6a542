//! Decode + convert-to-Arrow throughput of OTLP metrics (points/s, one core).
//!
//! `cargo bench -p tidewater-benches --bench ingest`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tidewater_benches::otlp;
use tidewater_ingest::metrics::{convert, PointLimits};

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

criterion_group!(benches, decode_convert);
criterion_main!(benches);
