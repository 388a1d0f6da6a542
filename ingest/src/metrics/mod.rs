//! OTLP metrics to Arrow: one batch per table (normalised metric name).
//!
//! Columns: `time`, the kind's value columns (see [`columns`]), `exemplars`
//! when any point has some, then one dictionary string column per attribute
//! key (resource, scope and point attributes; a point attribute overrides a
//! resource attribute of the same key). A point that breaks a rule is
//! counted in [`Converted::rejected`] with a reason; the rest of the request
//! is kept.

mod attr_columns;
mod columns;
mod exemplars;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, TimestampNanosecondArray};
use arrow::datatypes::{Field, Schema};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, AggregationTemporality, Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric,
    NumberDataPoint, SummaryDataPoint,
};
use tidewater_storage::schema::{self as cols, time_type};
use tidewater_storage::TableWrite;

use crate::attributes;
use crate::normalize;
use attr_columns::AttrColumns;
use columns::{Kind, Values};
use exemplars::ExemplarColumn;

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
    /// Count `n` refused points with a reason.
    pub fn reject(&mut self, n: usize, reason: String) {
        if n == 0 {
            return;
        }
        self.rejected += n;
        if self.reasons.len() < 5 && !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }
}

/// Rows of one table being built.
struct TableBuilder {
    kind: Kind,
    metric: Metric,
    times: Vec<i64>,
    start_times: Vec<Option<i64>>,
    values: Values,
    exemplars: ExemplarColumn,
    attrs: AttrColumns,
}

/// What every OTLP data point has besides its values.
struct PointHeader<'a> {
    attributes: &'a [KeyValue],
    start_time_unix_nano: u64,
    time_unix_nano: u64,
    exemplars: &'a [Exemplar],
}

impl TableBuilder {
    fn new(kind: Kind, metric: &Metric) -> Self {
        let metric = Metric { data: None, ..metric.clone() };
        Self {
            kind,
            metric,
            times: Vec::new(),
            start_times: Vec::new(),
            values: Values::new(kind),
            exemplars: ExemplarColumn::default(),
            attrs: AttrColumns::default(),
        }
    }

    fn finish(self, table: String) -> Option<TableWrite> {
        let rows = self.times.len();
        let mut fields = vec![Field::new(cols::TIME, time_type(), true)];
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(TimestampNanosecondArray::from(self.times).with_timezone("UTC"))];
        let mut push = |(f, a): (Field, ArrayRef)| {
            fields.push(f);
            columns.push(a);
        };
        if self.kind.cumulative() == Some(true) {
            push(columns::start_time_column(self.start_times));
        }
        for c in self.values.finish() {
            push(c);
        }
        if let Some(c) = self.exemplars.finish() {
            push(c);
        }
        for (key, column) in self.attrs.finish(rows) {
            push((Field::new(key, cols::attribute_type(), true), column));
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, table_metadata(self.kind, &self.metric)));
        match RecordBatch::try_new(schema, columns) {
            Ok(batch) => Some(TableWrite { table, batch }),
            Err(e) => {
                tracing::error!(error = %e, "building a batch failed");
                None
            }
        }
    }

    /// Append the shared parts of a point (checked before by `check_point`,
    /// values appended before by the caller). Resource and scope attributes
    /// are added per run of rows by the caller.
    fn push_header(&mut self, h: &PointHeader<'_>, time: i64, point_attrs: &BTreeMap<String, String>) {
        let row = self.times.len() as u32;
        self.times.push(time);
        self.start_times.push(i64::try_from(h.start_time_unix_nano).ok().filter(|t| *t > 0));
        self.exemplars.push(h.exemplars);
        for (k, v) in point_attrs {
            self.attrs.push_cell(row, k, v);
        }
    }
}

fn table_metadata(kind: Kind, metric: &Metric) -> HashMap<String, String> {
    let mut meta = HashMap::new();
    meta.insert(cols::META_KIND.to_string(), kind.name().to_string());
    if let Some(cumulative) = kind.cumulative() {
        meta.insert(cols::META_TEMPORALITY.to_string(), if cumulative { "cumulative" } else { "delta" }.to_string());
    }
    if let Kind::Sum { monotonic, .. } = kind {
        meta.insert(cols::META_MONOTONIC.to_string(), monotonic.to_string());
    }
    meta.insert(cols::META_ORIGINAL_NAME.to_string(), metric.name.clone());
    if !metric.unit.is_empty() {
        meta.insert(cols::META_UNIT.to_string(), metric.unit.clone());
    }
    if !metric.description.is_empty() {
        meta.insert(cols::META_DESCRIPTION.to_string(), metric.description.clone());
    }
    meta
}

fn time_of(t: u64) -> Result<i64, String> {
    if t == 0 {
        return Err("data point with time_unix_nano 0".into());
    }
    i64::try_from(t).map_err(|_| "time_unix_nano beyond year 2262".to_string())
}

/// A request's tables being built, by table name.
type Tables = HashMap<String, TableBuilder, foldhash::fast::RandomState>;

/// Convert an OTLP metrics request into table writes.
pub fn convert(req: &ExportMetricsServiceRequest, limits: &PointLimits) -> Converted {
    let mut out = Converted::default();
    let mut tables: Tables = Tables::default();
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

fn is_cumulative(temporality: i32) -> bool {
    temporality != AggregationTemporality::Delta as i32
}

fn kind_of(data: &Data) -> Kind {
    match data {
        Data::Gauge(_) => Kind::Gauge,
        Data::Sum(s) => Kind::Sum { cumulative: is_cumulative(s.aggregation_temporality), monotonic: s.is_monotonic },
        Data::Histogram(h) => Kind::Histogram { cumulative: is_cumulative(h.aggregation_temporality) },
        Data::ExponentialHistogram(h) => Kind::ExpHistogram { cumulative: is_cumulative(h.aggregation_temporality) },
        Data::Summary(_) => Kind::Summary,
    }
}

fn convert_metric(
    metric: &Metric,
    base: &BTreeMap<String, String>,
    limits: &PointLimits,
    tables: &mut Tables,
    out: &mut Converted,
) {
    let n = point_count(metric);
    let Some(data) = &metric.data else { return };
    let Some(table) = normalize::table_name_cow(&metric.name) else {
        out.reject(n, "metric with an empty name".into());
        return;
    };
    if metric.name.len() > limits.max_name_len {
        out.reject(n, format!("metric name longer than {} bytes", limits.max_name_len));
        return;
    }
    let kind = kind_of(data);
    if !tables.contains_key(table.as_ref()) {
        tables.insert(table.clone().into_owned(), TableBuilder::new(kind, metric));
    }
    let Some(b) = tables.get_mut(table.as_ref()) else { return };
    if b.kind != kind {
        let reason = if b.kind.name() == kind.name() {
            format!("{}: sent with two temporalities in one request", metric.name)
        } else {
            format!("{}: one name sent as both {} and {}", metric.name, b.kind.name(), kind.name())
        };
        out.reject(n, reason);
        return;
    }
    match data {
        Data::Gauge(g) => add_points(&g.data_points, b, base, limits, &metric.name, out),
        Data::Sum(s) => add_points(&s.data_points, b, base, limits, &metric.name, out),
        Data::Histogram(h) => add_points(&h.data_points, b, base, limits, &metric.name, out),
        Data::ExponentialHistogram(h) => add_points(&h.data_points, b, base, limits, &metric.name, out),
        Data::Summary(s) => add_points(&s.data_points, b, base, limits, &metric.name, out),
    }
}

/// One OTLP data point type.
trait DataPoint {
    fn header(&self) -> PointHeader<'_>;
    fn push_values(&self, values: &mut Values) -> Result<(), String>;
}

macro_rules! data_point {
    ($ty:ty, $push:ident, $($exemplars:ident)?) => {
        impl DataPoint for $ty {
            fn header(&self) -> PointHeader<'_> {
                PointHeader {
                    attributes: &self.attributes,
                    start_time_unix_nano: self.start_time_unix_nano,
                    time_unix_nano: self.time_unix_nano,
                    exemplars: data_point!(@ex self $($exemplars)?),
                }
            }
            fn push_values(&self, values: &mut Values) -> Result<(), String> {
                values.$push(self)
            }
        }
    };
    (@ex $s:ident $field:ident) => { &$s.$field };
    (@ex $s:ident) => { &[] };
}

data_point!(NumberDataPoint, push_number, exemplars);
data_point!(HistogramDataPoint, push_histogram, exemplars);
data_point!(ExponentialHistogramDataPoint, push_exp, exemplars);
// Summaries have no exemplars.
data_point!(SummaryDataPoint, push_summary,);

fn add_points<P: DataPoint>(
    points: &[P],
    b: &mut TableBuilder,
    base: &BTreeMap<String, String>,
    limits: &PointLimits,
    name: &str,
    out: &mut Converted,
) {
    let start = b.times.len() as u32;
    for p in points {
        let h = p.header();
        let checked = check_point(&h, base, limits).and_then(|(time, attrs)| {
            p.push_values(&mut b.values)?;
            Ok((time, attrs))
        });
        match checked {
            Ok((time, attrs)) => b.push_header(&h, time, &attrs),
            Err(reason) => out.reject(1, format!("{name}: {reason}")),
        }
    }
    b.attrs.push_run(start, b.times.len() as u32, base);
}

/// Everything that can reject a point, checked before anything is appended.
/// Returns the point's time and its own (normalised) attributes.
fn check_point(
    h: &PointHeader<'_>,
    base: &BTreeMap<String, String>,
    limits: &PointLimits,
) -> Result<(i64, BTreeMap<String, String>), String> {
    let time = time_of(h.time_unix_nano)?;
    let point_attrs = attribute_columns(&[h.attributes], limits)?;
    let total = base.len() + point_attrs.keys().filter(|k| !base.contains_key(*k)).count();
    if total > limits.max_attributes {
        return Err(format!("{total} attributes, limit {}", limits.max_attributes));
    }
    Ok((time, point_attrs))
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
    use opentelemetry_proto::tonic::metrics::v1::{number_data_point, Gauge, ResourceMetrics, ScopeMetrics, Sum};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(Value::StringValue(v.into())) }),
            ..Default::default()
        }
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
        let req = request(vec![gauge(
            "g",
            vec![point(1, 1.0, vec![kv("a", "1"), kv("b", "2")]), point(2, 1.0, vec![kv("a", "1")])],
        )]);
        let c = convert(&req, &limits);
        assert_eq!((c.points, c.rejected), (1, 1));
    }
}
