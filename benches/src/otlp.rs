//! OTLP metric requests for benchmarks, deterministic from their arguments.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The ten TSBS "cpu" fields.
pub const CPU_FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

fn kv(k: &str, v: String) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v)) }),
        ..Default::default()
    }
}

/// The ten TSBS host tags as resource attributes.
fn host_resource(host: usize) -> Resource {
    Resource {
        attributes: vec![
            kv("hostname", format!("host_{host}")),
            kv("region", format!("region_{}", host % 5)),
            kv("datacenter", format!("dc_{}", host % 13)),
            kv("rack", format!("{}", host % 97)),
            kv("os", format!("Ubuntu{}", 15 + host % 3)),
            kv("arch", if host.is_multiple_of(2) { "x64".into() } else { "x86".into() }),
            kv("team", format!("team_{}", host % 7)),
            kv("service", format!("{}", host % 19)),
            kv("service_version", format!("{}", host % 2)),
            kv("service_environment", ["production", "staging", "test"][host % 3].into()),
        ],
        ..Default::default()
    }
}

/// `hosts` hosts × 10 cpu fields × `points` points per series (10 s apart).
/// `points = 1` is the one-point-per-series shape of a scrape; larger values
/// are the batched shape of an SDK or Collector sending accumulated data.
pub fn tsbs_cpu(hosts: usize, points: usize) -> ExportMetricsServiceRequest {
    let t0: u64 = 1_700_000_000_000_000_000;
    let resource_metrics = (0..hosts)
        .map(|h| ResourceMetrics {
            resource: Some(host_resource(h)),
            scope_metrics: vec![ScopeMetrics {
                metrics: CPU_FIELDS
                    .iter()
                    .enumerate()
                    .map(|(f, name)| Metric {
                        name: format!("cpu_{name}"),
                        data: Some(Data::Gauge(Gauge {
                            data_points: (0..points)
                                .map(|p| NumberDataPoint {
                                    time_unix_nano: t0 + p as u64 * 10_000_000_000,
                                    value: Some(number_data_point::Value::AsInt(
                                        ((h * 31 + f * 7 + p * 3) % 100) as i64,
                                    )),
                                    ..Default::default()
                                })
                                .collect(),
                        })),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest { resource_metrics }
}

/// Number of data points in a request built by [`tsbs_cpu`].
pub fn points(hosts: usize, points: usize) -> usize {
    hosts * CPU_FIELDS.len() * points
}
