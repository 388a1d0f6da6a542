//! [`MetricBatch`] -> OTLP `ExportMetricsServiceRequest`: one
//! `ResourceMetrics` per resource, one `Metric` per name within it, whose
//! data points carry the series' attributes.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::model::{Attrs, MetricBatch, Points, Series, Value};

/// The instrumentation scope named in every request.
pub const SCOPE: &str = "tidewater-loadgen";

/// A string attribute.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// Attributes as OTLP key-values.
pub fn key_values(attrs: &Attrs) -> Vec<KeyValue> {
    attrs.iter().map(|(k, v)| kv(k, v)).collect()
}

/// Encode a batch as one OTLP metrics request.
pub fn metrics_request(batch: &MetricBatch) -> ExportMetricsServiceRequest {
    // Resources in order of first appearance, identified by their shared Arc.
    let mut resources: Vec<(Attrs, Vec<Metric>, HashMap<&'static str, usize>)> = Vec::new();
    for s in &batch.series {
        let pos = match resources.iter().position(|(r, _, _)| std::sync::Arc::ptr_eq(r, &s.resource)) {
            Some(p) => p,
            None => {
                resources.push((s.resource.clone(), Vec::new(), HashMap::new()));
                resources.len() - 1
            }
        };
        let (_, metrics, by_name) = &mut resources[pos];
        let idx = *by_name.entry(s.metric).or_insert_with(|| {
            metrics.push(empty_metric(s));
            metrics.len() - 1
        });
        append_points(&mut metrics[idx], s);
    }
    ExportMetricsServiceRequest {
        resource_metrics: resources
            .into_iter()
            .map(|(attrs, metrics, _)| ResourceMetrics {
                resource: Some(Resource { attributes: key_values(&attrs), ..Default::default() }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope { name: SCOPE.into(), ..Default::default() }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

fn empty_metric(s: &Series) -> Metric {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let data = match &s.points {
        Points::Gauge(_) => Data::Gauge(Gauge { data_points: Vec::new() }),
        Points::Counter { .. } => {
            Data::Sum(Sum { data_points: Vec::new(), aggregation_temporality: cumulative, is_monotonic: true })
        }
        Points::Histogram { .. } => {
            Data::Histogram(Histogram { data_points: Vec::new(), aggregation_temporality: cumulative })
        }
    };
    Metric { name: s.metric.into(), unit: s.unit.into(), data: Some(data), ..Default::default() }
}

fn number(time_ns: i64, start_ns: i64, v: Value, attributes: &[KeyValue]) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attributes.to_vec(),
        start_time_unix_nano: start_ns.max(0) as u64,
        time_unix_nano: time_ns.max(0) as u64,
        value: Some(match v {
            Value::Int(i) => number_data_point::Value::AsInt(i),
            Value::Double(d) => number_data_point::Value::AsDouble(d),
        }),
        ..Default::default()
    }
}

fn append_points(metric: &mut Metric, s: &Series) {
    let attrs = key_values(&s.attrs);
    match (&mut metric.data, &s.points) {
        (Some(Data::Gauge(g)), Points::Gauge(points)) => {
            g.data_points.extend(points.iter().map(|&(t, v)| number(t, 0, v, &attrs)));
        }
        (Some(Data::Sum(sum)), Points::Counter { start_ns, points }) => {
            sum.data_points.extend(points.iter().map(|&(t, v)| number(t, *start_ns, v, &attrs)));
        }
        (Some(Data::Histogram(h)), Points::Histogram { start_ns, bounds, points }) => {
            h.data_points.extend(points.iter().map(|p| HistogramDataPoint {
                attributes: attrs.clone(),
                start_time_unix_nano: (*start_ns).max(0) as u64,
                time_unix_nano: p.time_ns.max(0) as u64,
                count: p.count,
                sum: Some(p.sum),
                bucket_counts: p.bucket_counts.clone(),
                explicit_bounds: bounds.to_vec(),
                ..Default::default()
            }));
        }
        // One name used as two kinds would be a bug in a workload (none does):
        // such points are dropped rather than mislabelled.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::loadgen::model::HistogramPoint;

    fn attrs(pairs: &[(&str, &str)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>().into()
    }

    #[test]
    fn groups_by_resource_and_metric() {
        let r1 = attrs(&[("service.name", "a")]);
        let r2 = attrs(&[("service.name", "b")]);
        let gauge = |r: &Attrs, route: &str, v: i64| Series {
            metric: "active",
            unit: "",
            resource: r.clone(),
            attrs: attrs(&[("http.route", route)]),
            points: Points::Gauge(vec![(1_000, Value::Int(v))]),
        };
        let hist = Series {
            metric: "duration",
            unit: "s",
            resource: r1.clone(),
            attrs: attrs(&[]),
            points: Points::Histogram {
                start_ns: 500,
                bounds: Arc::from(vec![0.1, 1.0]),
                points: vec![HistogramPoint { time_ns: 1_000, count: 3, sum: 1.5, bucket_counts: vec![1, 1, 1] }],
            },
        };
        let batch = MetricBatch { series: vec![gauge(&r1, "/x", 1), gauge(&r2, "/x", 2), gauge(&r1, "/y", 3), hist] };
        let req = metrics_request(&batch);
        assert_eq!(req.resource_metrics.len(), 2);
        let m = &req.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(m.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["active", "duration"]);
        let Some(Data::Gauge(g)) = &m[0].data else { panic!("gauge") };
        assert_eq!(g.data_points.len(), 2);
        let Some(Data::Histogram(h)) = &m[1].data else { panic!("histogram") };
        assert_eq!(h.data_points[0].explicit_bounds, [0.1, 1.0]);
        assert_eq!(h.data_points[0].start_time_unix_nano, 500);
        assert_eq!(batch.points(), 4);
        assert_eq!(batch.samples(), 3 + 5);
    }
}
