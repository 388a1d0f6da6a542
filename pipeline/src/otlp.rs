//! Small helpers over the OTLP message types shared by the processors.

use std::borrow::Cow;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Metric};

/// Data points of one metric.
pub fn point_count(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// Data points of a metrics request.
pub fn metric_points(req: &ExportMetricsServiceRequest) -> usize {
    req.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics).map(point_count).sum()
}

/// Log records of a logs request.
pub fn log_records(req: &ExportLogsServiceRequest) -> usize {
    req.resource_logs.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum()
}

/// Keep the data points for which `keep(attributes)` is true; returns how many were dropped.
pub fn retain_points(m: &mut Metric, mut keep: impl FnMut(&[KeyValue]) -> bool) -> usize {
    let before = point_count(m);
    match &mut m.data {
        Some(Data::Gauge(g)) => g.data_points.retain(|p| keep(&p.attributes)),
        Some(Data::Sum(s)) => s.data_points.retain(|p| keep(&p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.retain(|p| keep(&p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h.data_points.retain(|p| keep(&p.attributes)),
        Some(Data::Summary(s)) => s.data_points.retain(|p| keep(&p.attributes)),
        None => {}
    }
    before - point_count(m)
}

/// Call `f` with every data point's attributes.
pub fn for_each_point_attributes(m: &mut Metric, mut f: impl FnMut(&mut Vec<KeyValue>)) {
    match &mut m.data {
        Some(Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(Data::Summary(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        None => {}
    }
}

/// Call `f` with every data point's attributes, read only.
pub fn for_each_point_attributes_ref(m: &Metric, mut f: impl FnMut(&[KeyValue])) {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(Data::Sum(s)) => s.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(Data::Histogram(h)) => h.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(Data::ExponentialHistogram(h)) => h.data_points.iter().for_each(|p| f(&p.attributes)),
        Some(Data::Summary(s)) => s.data_points.iter().for_each(|p| f(&p.attributes)),
        None => {}
    }
}

/// Drop metrics without points, scopes without metrics, resources without scopes.
pub fn prune_metrics(req: &mut ExportMetricsServiceRequest) {
    for rm in &mut req.resource_metrics {
        for sm in &mut rm.scope_metrics {
            sm.metrics.retain(|m| point_count(m) > 0);
        }
        rm.scope_metrics.retain(|s| !s.metrics.is_empty());
    }
    req.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
}

/// Drop scopes without records and resources without scopes.
pub fn prune_logs(req: &mut ExportLogsServiceRequest) {
    for rl in &mut req.resource_logs {
        rl.scope_logs.retain(|s| !s.log_records.is_empty());
    }
    req.resource_logs.retain(|r| !r.scope_logs.is_empty());
}

/// The table name of a metric name (as ingest normalises it), borrowed when
/// the name is already a table name.
pub use tidewater_ingest::normalize::table_name_cow as table_name;

/// The value of `key` in `attrs`.
pub fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

/// A value as text: strings borrowed, other kinds rendered as ingest stores them.
pub fn text(v: &AnyValue) -> Option<Cow<'_, str>> {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Some(Cow::Borrowed(s)),
        _ => tidewater_ingest::attributes::to_string(v).map(Cow::Owned),
    }
}

/// A string value.
pub fn string(s: impl Into<String>) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(s.into())) }
}

/// A key-value pair with a value.
pub fn kv(key: impl Into<String>, value: AnyValue) -> KeyValue {
    KeyValue { key: key.into(), value: Some(value), ..Default::default() }
}

#[cfg(test)]
pub mod fixtures {
    //! OTLP requests for the processors' unit tests.

    use super::*;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        number_data_point, Gauge, Histogram, HistogramDataPoint, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;

    /// `key = "value"` string attributes.
    pub fn attrs(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
        pairs.iter().map(|(k, v)| kv(*k, string(*v))).collect()
    }

    /// A gauge point at `t` with `attrs`.
    pub fn point(t: u64, v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attrs,
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        }
    }

    /// A gauge.
    pub fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        Metric { name: name.into(), data: Some(Data::Gauge(Gauge { data_points: points })), ..Default::default() }
    }

    /// A cumulative monotonic sum.
    pub fn sum(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        Metric {
            name: name.into(),
            data: Some(Data::Sum(Sum { data_points: points, aggregation_temporality: 2, is_monotonic: true })),
            ..Default::default()
        }
    }

    /// A histogram with one point per attribute set.
    pub fn histogram(name: &str, attr_sets: Vec<Vec<KeyValue>>) -> Metric {
        let data_points = attr_sets
            .into_iter()
            .map(|a| HistogramDataPoint {
                attributes: a,
                time_unix_nano: 10,
                count: 2,
                bucket_counts: vec![1, 1],
                explicit_bounds: vec![1.0],
                ..Default::default()
            })
            .collect();
        Metric {
            name: name.into(),
            data: Some(Data::Histogram(Histogram { data_points, aggregation_temporality: 2 })),
            ..Default::default()
        }
    }

    /// One resource with `resource` attributes, one scope `e2e` with `metrics`.
    pub fn metrics_request(resource: &[(&str, &str)], metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource { attributes: attrs(resource), ..Default::default() }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope { name: "e2e".into(), ..Default::default() }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    /// A log record with a string body, a severity and attributes.
    pub fn record(severity: i32, body: &str, attributes: Vec<KeyValue>) -> LogRecord {
        LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000,
            severity_number: severity,
            body: Some(string(body)),
            attributes,
            ..Default::default()
        }
    }

    /// One resource (`service.name = checkout`), one scope with `records`.
    pub fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource { attributes: attrs(&[("service.name", "checkout")]), ..Default::default() }),
                scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    /// The names of the metrics in a request, in order.
    pub fn names(req: &ExportMetricsServiceRequest) -> Vec<String> {
        req.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.name.clone())
            .collect()
    }

    /// Every log record of a request.
    pub fn records(req: &ExportLogsServiceRequest) -> Vec<&LogRecord> {
        req.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records).collect()
    }

    /// A string attribute's value.
    pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
        match get(attrs, key).and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Some(s),
            _ => None,
        }
    }
}
