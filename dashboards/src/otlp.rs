//! The self-metrics as an OTLP metrics request, so they are stored like any
//! other metric (tables named as on `/metrics`, one column per label).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tidewater_telemetry::{FamilySnapshot, SeriesSnapshot, SeriesValue};

/// `service.name` of the self-metrics.
pub const SERVICE_NAME: &str = "tidewater";

/// One request holding every series of `families` at `now` (Unix ns);
/// counters and histograms are cumulative since `start` (Unix ns).
pub fn request(families: &[FamilySnapshot], start: u64, now: u64) -> ExportMetricsServiceRequest {
    let metrics: Vec<Metric> = families
        .iter()
        .filter(|f| !f.series.is_empty())
        .filter_map(|f| {
            let data = data(f, start, now)?;
            Some(Metric {
                name: f.name.to_string(),
                description: f.help.to_string(),
                data: Some(data),
                ..Default::default()
            })
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", SERVICE_NAME)], ..Default::default() }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope { name: "tidewater.self_monitoring".into(), ..Default::default() }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn data(f: &FamilySnapshot, start: u64, now: u64) -> Option<metric::Data> {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let number = |s: &SeriesSnapshot, v: f64, start: u64| NumberDataPoint {
        attributes: attributes(f, s),
        start_time_unix_nano: start,
        time_unix_nano: now,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    Some(match f.kind {
        tidewater_telemetry::Kind::Counter => metric::Data::Sum(Sum {
            data_points: f
                .series
                .iter()
                .filter_map(|s| match s.value {
                    SeriesValue::Counter(v) => Some(number(s, v as f64, start)),
                    _ => None,
                })
                .collect(),
            aggregation_temporality: cumulative,
            is_monotonic: true,
        }),
        tidewater_telemetry::Kind::Gauge => metric::Data::Gauge(Gauge {
            data_points: f
                .series
                .iter()
                .filter_map(|s| match s.value {
                    SeriesValue::Gauge(v) if v.is_finite() => Some(number(s, v, 0)),
                    _ => None,
                })
                .collect(),
        }),
        tidewater_telemetry::Kind::Histogram => metric::Data::Histogram(Histogram {
            data_points: f
                .series
                .iter()
                .filter_map(|s| match &s.value {
                    SeriesValue::Histogram { count, sum, buckets } => Some(HistogramDataPoint {
                        attributes: attributes(f, s),
                        start_time_unix_nano: start,
                        time_unix_nano: now,
                        count: *count,
                        sum: Some(*sum),
                        bucket_counts: buckets.clone(),
                        explicit_bounds: f.bounds.to_vec(),
                        ..Default::default()
                    }),
                    _ => None,
                })
                .collect(),
            aggregation_temporality: cumulative,
        }),
    })
}

fn attributes(f: &FamilySnapshot, s: &SeriesSnapshot) -> Vec<KeyValue> {
    f.labels.iter().zip(&s.labels).map(|(k, v)| kv(k, v)).collect()
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.to_string())) }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidewater_telemetry::Family;

    #[test]
    fn counters_are_cumulative_sums_histograms_keep_their_buckets() {
        static C: Family = Family::counter("x_points_total", "Points.", &["signal"]);
        static H: Family = Family::histogram("x_seconds", "Time.", &[], &[1.0]);
        static G: Family = Family::gauge("x_unused", "Never set.", &["t"]);
        C.add(&["logs"], 5);
        H.observe(&[], 0.5);
        H.observe(&[], 2.0);
        let req = request(&[C.snapshot(), H.snapshot(), G.snapshot()], 100, 200);
        let rm = &req.resource_metrics[0];
        assert_eq!(rm.resource.as_ref().map(|r| r.attributes[0].key.as_str()), Some("service.name"));
        let metrics = &rm.scope_metrics[0].metrics;
        assert_eq!(metrics.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["x_points_total", "x_seconds"]);
        let Some(metric::Data::Sum(sum)) = &metrics[0].data else { panic!("sum expected") };
        assert!(sum.is_monotonic);
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        let p = &sum.data_points[0];
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (100, 200));
        assert_eq!(p.value, Some(number_data_point::Value::AsDouble(5.0)));
        assert_eq!(p.attributes[0].key, "signal");
        let Some(metric::Data::Histogram(h)) = &metrics[1].data else { panic!("histogram expected") };
        let p = &h.data_points[0];
        assert_eq!(
            (p.count, p.sum, p.bucket_counts.clone(), p.explicit_bounds.clone()),
            (2, Some(2.5), vec![1, 1], vec![1.0])
        );
    }
}
