//! OTLP metrics to Arrow: one batch per table (normalised metric name).
//!
//! Columns: `time`, the kind's value columns (`value`, and `start_time` for
//! cumulative sums), then one dictionary string column per attribute key
//! (resource, scope and point attributes; a point attribute overrides a
//! resource attribute of the same key). A point that breaks a rule is
//! counted in [`Converted::rejected`] with a reason; the rest of the request
//! is kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringDictionaryBuilder, TimestampNanosecondArray};
use arrow::datatypes::{Field, Int32Type, Schema};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point, AggregationTemporality, Metric, NumberDataPoint};
use tidewater_storage::schema::{self as cols, time_type};
use tidewater_storage::TableWrite;

use crate::attributes;
use crate::normalize;

/// Limits applied per point.
#[derive(Debug, Clone)]
pub struct PointLimits {
    /// Most attributes (resource + scope + point) a point may carry.
    pub max_attributes: usize,
    /// Longest attribute value in bytes.
    pub max_value_len: usize,
    /// Longest metric name or attribute key in bytes.
    pub max_name_len: usize,
}

impl Default for PointLimits {
    fn default() -> Self {
        // Mimir-like defaults.
        Self { max_attributes: 64, max_value_len: 2048, max_name_len: 1024 }
    }
}

/// The result of converting one request.
#[derive(Debug, Default)]
pub struct Converted {
    /// One write per table.
    pub writes: Vec<TableWrite>,
    /// Points accepted into `writes`.
    pub points: usize,
    /// Points refused.
    pub rejected: usize,
    /// Distinct reasons for refusals (at most a few, for the partial-success message).
    pub reasons: Vec<String>,
}

impl Converted {
    fn reject(&mut self, n: usize, reason: String) {
        self.rejected += n;
        if self.reasons.len() < 5 && !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }
}

/// Which value columns a table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Sum { cumulative: bool, monotonic: bool },
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Sum { .. } => "sum",
        }
    }
}

/// Rows of one table being built.
struct TableBuilder {
    kind: Kind,
    metric: Metric,
    times: Vec<i64>,
    start_times: Vec<Option<i64>>,
    values: Vec<f64>,
    /// Attribute column -> (row, value) pairs; rows without the key are NULL.
    attrs: BTreeMap<String, Vec<(u32, String)>>,
}

impl TableBuilder {
    fn new(kind: Kind, metric: &Metric) -> Self {
        let metric = Metric { data: None, ..metric.clone() };
        Self { kind, metric, times: Vec::new(), start_times: Vec::new(), values: Vec::new(), attrs: BTreeMap::new() }
    }

    fn finish(self, table: String) -> Option<TableWrite> {
        let rows = self.times.len();
        let mut fields = vec![Field::new(cols::TIME, time_type(), true)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(TimestampNanosecondArray::from(self.times).with_timezone("UTC"))];
        if let Kind::Sum { cumulative: true, .. } = self.kind {
            fields.push(Field::new("start_time", time_type(), true));
            columns.push(Arc::new(TimestampNanosecondArray::from(self.start_times).with_timezone("UTC")));
        }
        fields.push(Field::new("value", arrow::datatypes::DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(self.values)));
        for (key, cells) in self.attrs {
            let mut b = StringDictionaryBuilder::<Int32Type>::new();
            let mut next = 0u32;
            for (row, v) in cells {
                while next < row {
                    b.append_null();
                    next += 1;
                }
                b.append_value(v);
                next += 1;
            }
            while (next as usize) < rows {
                b.append_null();
                next += 1;
            }
            fields.push(Field::new(key, cols::attribute_type(), true));
            columns.push(Arc::new(b.finish()));
        }
        let mut meta = HashMap::new();
        meta.insert(cols::META_KIND.to_string(), self.kind.name().to_string());
        if let Kind::Sum { cumulative, monotonic } = self.kind {
            meta.insert(cols::META_TEMPORALITY.to_string(), if cumulative { "cumulative" } else { "delta" }.to_string());
            meta.insert(cols::META_MONOTONIC.to_string(), monotonic.to_string());
        }
        meta.insert(cols::META_ORIGINAL_NAME.to_string(), self.metric.name.clone());
        if !self.metric.unit.is_empty() {
            meta.insert(cols::META_UNIT.to_string(), self.metric.unit.clone());
        }
        if !self.metric.description.is_empty() {
            meta.insert(cols::META_DESCRIPTION.to_string(), self.metric.description.clone());
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, meta));
        match RecordBatch::try_new(schema, columns) {
            Ok(batch) => Some(TableWrite { table, batch }),
            Err(e) => {
                tracing::error!(error = %e, "building a batch failed");
                None
            }
        }
    }
}

/// Convert an OTLP metrics request into table writes.
pub fn convert(req: &ExportMetricsServiceRequest, limits: &PointLimits) -> Converted {
    let mut out = Converted::default();
    let mut tables: HashMap<String, TableBuilder> = HashMap::new();
    for rm in &req.resource_metrics {
        let resource_attrs: &[KeyValue] = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        for sm in &rm.scope_metrics {
            let scope_attrs: &[KeyValue] = sm.scope.as_ref().map(|s| s.attributes.as_slice()).unwrap_or(&[]);
            // Resource, then scope attributes: shared by every point below.
            let base = match attribute_columns(&[resource_attrs, scope_attrs], limits) {
                Ok(b) => b,
                Err(reason) => {
                    let n: usize = sm.metrics.iter().map(point_count).sum();
                    out.reject(n, reason);
                    continue;
                }
            };
            for metric in &sm.metrics {
                convert_metric(metric, &base, limits, &mut tables, &mut out);
            }
        }
    }
    let mut names: Vec<String> = tables.keys().cloned().collect();
    names.sort();
    for name in names {
        if let Some(b) = tables.remove(&name) {
            out.points += b.times.len();
            if let Some(w) = b.finish(name) {
                out.writes.push(w);
            }
        }
    }
    out
}

fn point_count(m: &Metric) -> usize {
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

fn convert_metric(
    metric: &Metric,
    base: &BTreeMap<String, String>,
    limits: &PointLimits,
    tables: &mut HashMap<String, TableBuilder>,
    out: &mut Converted,
) {
    let n = point_count(metric);
    let Some(table) = normalize::table_name(&metric.name) else {
        out.reject(n, "metric with an empty name".into());
        return;
    };
    if metric.name.len() > limits.max_name_len {
        out.reject(n, format!("metric name longer than {} bytes", limits.max_name_len));
        return;
    }
    let (kind, points) = match &metric.data {
        Some(Data::Gauge(g)) => (Kind::Gauge, &g.data_points),
        Some(Data::Sum(s)) => (
            Kind::Sum {
                cumulative: s.aggregation_temporality != AggregationTemporality::Delta as i32,
                monotonic: s.is_monotonic,
            },
            &s.data_points,
        ),
        Some(Data::Histogram(_)) | Some(Data::ExponentialHistogram(_)) | Some(Data::Summary(_)) => {
            out.reject(n, format!("{}: histogram and summary metrics are not stored yet", metric.name));
            return;
        }
        None => return,
    };
    let builder = tables.entry(table.clone()).or_insert_with(|| TableBuilder::new(kind, metric));
    if builder.kind != kind {
        out.reject(n, format!("{}: one name sent as both {} and {}", metric.name, builder.kind.name(), kind.name()));
        return;
    }
    for p in points {
        if let Err(reason) = add_point(builder, p, base, limits) {
            out.reject(1, format!("{}: {reason}", metric.name));
        }
    }
}

fn add_point(
    b: &mut TableBuilder,
    p: &NumberDataPoint,
    base: &BTreeMap<String, String>,
    limits: &PointLimits,
) -> Result<(), String> {
    if p.time_unix_nano == 0 {
        return Err("data point with time_unix_nano 0".into());
    }
    let time = i64::try_from(p.time_unix_nano).map_err(|_| "time_unix_nano beyond year 2262".to_string())?;
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        Some(number_data_point::Value::AsInt(v)) => v as f64,
        None => return Err("data point without a value".into()),
    };
    let point_attrs = attribute_columns(&[&p.attributes], limits)?;
    let total = base.len() + point_attrs.keys().filter(|k| !base.contains_key(*k)).count();
    if total > limits.max_attributes {
        return Err(format!("{total} attributes, limit {}", limits.max_attributes));
    }
    let row = b.times.len() as u32;
    b.times.push(time);
    b.start_times.push(i64::try_from(p.start_time_unix_nano).ok().filter(|t| *t > 0));
    b.values.push(value);
    for (k, v) in base.iter().filter(|(k, _)| !point_attrs.contains_key(*k)).chain(point_attrs.iter()) {
        b.attrs.entry(k.clone()).or_default().push((row, v.clone()));
    }
    Ok(())
}

/// Normalised attribute columns from attribute lists (later lists win).
fn attribute_columns(lists: &[&[KeyValue]], limits: &PointLimits) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for list in lists {
        for (key, value) in attributes::pairs(list) {
            if key.len() > limits.max_name_len {
                return Err(format!("attribute key longer than {} bytes", limits.max_name_len));
            }
            if value.len() > limits.max_value_len {
                return Err(format!("attribute {key} value longer than {} bytes", limits.max_value_len));
            }
            if let Some(col) = normalize::column_name(key) {
                out.insert(col, value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int32Type;
    use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, ResourceMetrics, ScopeMetrics, Sum};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(Value::StringValue(v.into())) }), ..Default::default() }
    }

    fn point(t: u64, v: f64, attrs: Vec<KeyValue>) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attrs,
            start_time_unix_nano: 5,
            time_unix_nano: t,
            value: Some(number_data_point::Value::AsDouble(v)),
            ..Default::default()
        }
    }

    fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource { attributes: vec![kv("service.name", "api")], ..Default::default() }),
                scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
        Metric { name: name.into(), data: Some(Data::Gauge(Gauge { data_points: points })), ..Default::default() }
    }

    #[test]
    fn gauge_points_become_rows_with_attribute_columns() {
        let req = request(vec![gauge(
            "http.active",
            vec![point(10, 1.5, vec![kv("route", "/a")]), point(20, 2.5, vec![kv("method", "GET")])],
        )]);
        let c = convert(&req, &PointLimits::default());
        assert_eq!((c.points, c.rejected), (2, 0));
        let w = &c.writes[0];
        assert_eq!(w.table, "http_active");
        let b = &w.batch;
        let names: Vec<_> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["time", "value", "method", "route", "service_name"]);
        let route = b.column_by_name("route").expect("route").as_dictionary::<Int32Type>();
        assert!(route.is_valid(0) && route.is_null(1));
        let method = b.column_by_name("method").expect("method");
        assert!(method.is_null(0) && method.is_valid(1));
        assert_eq!(b.column_by_name("service_name").expect("svc").null_count(), 0);
    }

    #[test]
    fn bad_points_are_rejected_and_the_rest_kept() {
        let sum = Metric {
            name: "reqs".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point(0, 1.0, vec![]), point(30, 3.0, vec![])],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let clash = gauge("reqs", vec![point(40, 1.0, vec![])]);
        let c = convert(&request(vec![sum, clash]), &PointLimits::default());
        assert_eq!((c.points, c.rejected), (1, 2));
        assert!(c.reasons.iter().any(|r| r.contains("time_unix_nano 0")));
        assert!(c.reasons.iter().any(|r| r.contains("both sum and gauge")));
        let b = &c.writes[0].batch;
        assert!(b.column_by_name("start_time").is_some());
        assert_eq!(b.schema().metadata().get(cols::META_TEMPORALITY).map(String::as_str), Some("cumulative"));
    }

    #[test]
    fn over_limit_attributes_are_rejected() {
        let limits = PointLimits { max_attributes: 2, ..Default::default() };
        let req = request(vec![gauge("g", vec![point(1, 1.0, vec![kv("a", "1"), kv("b", "2")]), point(2, 1.0, vec![kv("a", "1")])])]);
        let c = convert(&req, &limits);
        assert_eq!((c.points, c.rejected), (1, 1));
    }
}
