//! Prometheus remote write 1.0: `POST /api/v1/write` with a snappy-compressed
//! (block format) protobuf `prometheus.WriteRequest`.
//!
//! Each series goes to the table named by its `__name__` label (normalised
//! like OTLP metric names); every other label becomes a `Dictionary(Int32,
//! Utf8)` column, `time` is the sample timestamp (ms widened to ns) and
//! `value` is stored bit for bit (NaN, infinities and the staleness marker
//! included). Remote write 1.0 carries no reliable metric type, so the tables
//! get no `tidewater.kind`: they merge with an OTLP table of the same name.
//! Samples that break a rule are counted and the rest of the request is kept.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::error::ArrowError;
use axum::body::Bytes;
use axum::http::{header, HeaderMap};
use foldhash::fast::RandomState;
use prost::Message;
use tidewater_storage::schema::{self as cols, time_type};
use tidewater_storage::TableWrite;
use tidewater_tenant::Tenant;

use crate::error::{Error, Result};
use crate::metrics::{Converted, PointLimits};
use crate::normalize;
use crate::service::Ingester;

/// The HTTP path Prometheus writes to.
pub const PATH: &str = "/api/v1/write";

/// The label holding the metric name.
const NAME_LABEL: &str = "__name__";

/// Nanoseconds per millisecond (Prometheus timestamps are milliseconds).
const NANOS_PER_MILLI: i64 = 1_000_000;

/// `prometheus.WriteRequest` (prompb/remote.proto). Field 2 is reserved upstream.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series, each with its labels and samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit); decoded but not used.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries` (prompb/types.proto).
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars; ignored.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Opaque>,
    /// Native histograms; not stored yet, counted as rejected.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Opaque>,
}

/// `prometheus.Label`. Decoded by [`decode`], name and value are slices of
/// the decompressed body (no copy per label), checked to be UTF-8.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Label name (UTF-8).
    #[prost(bytes = "bytes", tag = "1")]
    pub name: Bytes,
    /// Label value (UTF-8); an empty value means the label is absent.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl Label {
    /// A label from text.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self { name: Bytes::from(name.into()), value: Bytes::from(value.into()) }
    }

    /// The name as text ("" if it is not UTF-8, which [`decode`] refuses).
    pub fn name(&self) -> &str {
        std::str::from_utf8(&self.name).unwrap_or_default()
    }

    /// The value as text ("" if it is not UTF-8, which [`decode`] refuses).
    pub fn value(&self) -> &str {
        std::str::from_utf8(&self.value).unwrap_or_default()
    }
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricMetadata {
    /// The metric type (`prometheus.MetricMetadata.MetricType`).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The metric family name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// The help text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// The unit.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// A message whose content is skipped (exemplars, native histograms): only
/// the number of occurrences matters.
#[derive(Clone, PartialEq, Message)]
pub struct Opaque {}

/// What a remote write request stored and refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Samples made durable.
    pub accepted: usize,
    /// Samples refused (by conversion or by the store).
    pub rejected: usize,
}

/// Handle one remote write request: check headers, decode, convert, store.
///
/// A request where only some samples were refused (no `__name__`, timestamp
/// not after 1970, limits, a clash with the table's schema) still succeeds
/// (the caller answers 204) and the refusals are logged at warn: Prometheus
/// retries every 5xx and, for some versions, 4xx answers, so refusing the
/// whole request would resend the same bad samples forever while the good
/// ones behind them queue up. Errors are for the request as a whole:
/// malformed body (400), too large (413), overloaded store (429/503).
pub async fn handle(ingester: &Ingester, tenant: &Tenant, headers: &HeaderMap, body: &[u8]) -> Result<Outcome> {
    check_headers(headers)?;
    let mut req = decode(body, ingester.limits().max_request_bytes)?;
    let refused = ingester.preprocess_remote_write(&mut req);
    let mut converted = convert(&req, &ingester.limits().point);
    drop(req);
    refused.add_to(&mut converted);
    let s = ingester.store(tenant, converted, "remote_write").await?;
    if s.rejected > 0 {
        tracing::warn!(accepted = s.accepted, rejected = s.rejected, reasons = %s.message, "remote write: samples rejected, rest stored");
    }
    Ok(Outcome { accepted: s.accepted, rejected: s.rejected })
}

/// Refuse bodies that are not remote write 1.0: a `Content-Encoding` other
/// than snappy (400), or a remote write 2.0 `proto=` content type (415, which
/// tells a 2.0 sender to fall back to 1.0). Missing headers are accepted.
pub fn check_headers(headers: &HeaderMap) -> Result<()> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let encoding = text(header::CONTENT_ENCODING);
    if !matches!(encoding.as_str(), "" | "snappy") {
        return Err(Error::Malformed(format!(
            "content encoding {encoding:?}: remote write bodies are snappy-compressed"
        )));
    }
    let content_type = text(header::CONTENT_TYPE);
    let proto = content_type.split(';').skip(1).filter_map(|p| p.trim().strip_prefix("proto=")).next();
    if proto.is_some_and(|p| p != "prometheus.writerequest") {
        return Err(Error::UnsupportedMediaType(content_type));
    }
    Ok(())
}

/// Undo snappy (block format) and decode the protobuf. The decompressed size
/// is read from the snappy header and checked against `limit` before any
/// decompression.
pub fn decode(body: &[u8], limit: usize) -> Result<WriteRequest> {
    let len = snap::raw::decompress_len(body).map_err(|e| Error::Malformed(format!("snappy: {e}")))?;
    if len > limit {
        return Err(Error::TooLarge { limit });
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| Error::Malformed(format!("snappy: {e}")))?;
    // Decoded from `Bytes`, label names and values share the buffer.
    let req = WriteRequest::decode(Bytes::from(raw)).map_err(|e| Error::Malformed(format!("protobuf: {e}")))?;
    let labels = req.timeseries.iter().flat_map(|s| &s.labels);
    if let Some(bad) = labels.flat_map(|l| [&l.name, &l.value]).find(|b| std::str::from_utf8(b).is_err()) {
        return Err(Error::Malformed(format!("protobuf: a label is not UTF-8: {:?}", String::from_utf8_lossy(bad))));
    }
    Ok(req)
}

/// Encode and snappy-compress a request, as Prometheus sends it (for clients
/// and tests).
pub fn encode(req: &WriteRequest) -> Result<Vec<u8>> {
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).map_err(|e| Error::Malformed(format!("snappy: {e}")))
}

/// Convert a request into one table write per metric name.
pub fn convert(req: &WriteRequest, limits: &PointLimits) -> Converted {
    let mut out = Converted::default();
    let mut tables = Tables::default();
    for series in &req.timeseries {
        add_series(series, limits, &mut tables, &mut out);
    }
    for (table, builder) in tables.into_sorted() {
        let rows = builder.times.len();
        match builder.finish(table.clone()) {
            Ok(w) => {
                out.points += rows;
                out.writes.push(w);
            }
            Err(e) => {
                tracing::error!(table, error = %e, "building a batch failed");
                out.reject(rows, format!("{table}: {e}"));
            }
        }
    }
    out
}

fn add_series<'a>(series: &'a TimeSeries, limits: &PointLimits, tables: &mut Tables<'a>, out: &mut Converted) {
    out.reject(series.histograms.len(), "native histograms are not stored yet".into());
    if series.samples.is_empty() {
        return;
    }
    let labels = match SeriesLabels::new(series, limits) {
        Ok(l) => l,
        Err(reason) => {
            out.reject(series.samples.len(), reason);
            return;
        }
    };
    let Some(builder) = tables.builder(labels.name) else {
        out.reject(series.samples.len(), "series with an empty metric name".into());
        return;
    };
    let start = builder.times.len();
    for s in &series.samples {
        match s.timestamp.checked_mul(NANOS_PER_MILLI).filter(|_| s.timestamp > 0) {
            Some(time) => {
                builder.times.push(time);
                builder.values.push(s.value);
            }
            None => {
                out.reject(1, format!("{}: sample timestamp {} ms is not a time after 1970", labels.name, s.timestamp))
            }
        }
    }
    let stored = builder.times.len() - start;
    if stored > 0 {
        for (column, value) in &labels.columns {
            builder.column(column).push(start, value, stored);
        }
    }
}

/// The table builders of one request. A series finds its builder by its raw
/// metric name (no normalisation, no allocation for a name seen before);
/// raw names that normalise alike share one table.
#[derive(Default)]
struct Tables<'a> {
    by_raw: HashMap<&'a str, usize, RandomState>,
    by_table: HashMap<String, usize, RandomState>,
    builders: Vec<(String, TableBuilder)>,
}

impl<'a> Tables<'a> {
    fn builder(&mut self, raw: &'a str) -> Option<&mut TableBuilder> {
        let i = match self.by_raw.get(raw) {
            Some(i) => *i,
            None => {
                let table = normalize::table_name(raw)?;
                let i = match self.by_table.get(&table) {
                    Some(i) => *i,
                    None => {
                        self.builders.push((table.clone(), TableBuilder::new(raw)));
                        self.by_table.insert(table, self.builders.len() - 1);
                        self.builders.len() - 1
                    }
                };
                self.by_raw.insert(raw, i);
                i
            }
        };
        self.builders.get_mut(i).map(|(_, b)| b)
    }

    fn into_sorted(mut self) -> Vec<(String, TableBuilder)> {
        self.builders.sort_by(|a, b| a.0.cmp(&b.0));
        self.builders
    }
}

/// A series' labels, checked and normalised, borrowed from the request.
struct SeriesLabels<'a> {
    /// The `__name__` value as sent.
    name: &'a str,
    /// (column name, value) for the labels other than `__name__`, sorted by
    /// column; of labels that normalise to the same column the last wins.
    columns: Vec<(Cow<'a, str>, &'a str)>,
}

impl<'a> SeriesLabels<'a> {
    fn new(series: &'a TimeSeries, limits: &PointLimits) -> Result<Self, String> {
        let mut name = None;
        let mut columns = Vec::with_capacity(series.labels.len());
        for l in &series.labels {
            let (label, value) = (l.name(), l.value());
            if label == NAME_LABEL {
                name = Some(value);
                continue;
            }
            if value.is_empty() {
                continue; // Prometheus: an empty label value is no label.
            }
            if label.len() > limits.max_name_len {
                return Err(format!("label name longer than {} bytes", limits.max_name_len));
            }
            if value.len() > limits.max_value_len {
                return Err(format!("label {label} value longer than {} bytes", limits.max_value_len));
            }
            if let Some(col) = normalize::column_name_cow(label) {
                columns.push((col, value));
            }
        }
        // Reversed, then a stable sort: of equal columns the last label sent
        // comes first, and dedup keeps it.
        columns.reverse();
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        columns.dedup_by(|later, first| later.0 == first.0);
        let name = name.filter(|n| !n.is_empty()).ok_or_else(|| "series without a __name__ label".to_string())?;
        if name.len() > limits.max_name_len {
            return Err(format!("metric name longer than {} bytes", limits.max_name_len));
        }
        if columns.len() > limits.max_attributes {
            return Err(format!("{name}: {} labels, limit {}", columns.len(), limits.max_attributes));
        }
        Ok(Self { name, columns })
    }
}

/// Rows of one table being built.
struct TableBuilder {
    original_name: String,
    times: Vec<i64>,
    values: Vec<f64>,
    /// Label column positions in `columns` by name (sorted when finished).
    labels: HashMap<String, usize, RandomState>,
    /// Label columns; rows without the label are NULL.
    columns: Vec<LabelColumn>,
}

/// One label column as dictionary keys (each distinct value stored once),
/// so a sample costs one key per label rather than a copy of its value.
#[derive(Default)]
struct LabelColumn {
    keys: Vec<Option<i32>>,
    values: Vec<String>,
    index: HashMap<String, i32, RandomState>,
}

impl LabelColumn {
    /// Rows `row..row + n` hold `value`; rows before `row` not yet set have no value.
    fn push(&mut self, row: usize, value: &str, n: usize) {
        self.keys.resize(row, None);
        let key = match self.index.get(value) {
            Some(k) => *k,
            None => {
                // A request holds far fewer than 2^31 distinct values (its body is bounded).
                let k = self.values.len() as i32;
                self.values.push(value.to_string());
                self.index.insert(value.to_string(), k);
                k
            }
        };
        self.keys.extend(std::iter::repeat_n(Some(key), n));
    }

    fn finish(mut self, rows: usize) -> Result<DictionaryArray<Int32Type>, ArrowError> {
        self.keys.resize(rows, None);
        DictionaryArray::try_new(Int32Array::from(self.keys), Arc::new(StringArray::from(self.values)))
    }
}

impl TableBuilder {
    fn new(original_name: &str) -> Self {
        Self {
            original_name: original_name.to_string(),
            times: Vec::new(),
            values: Vec::new(),
            labels: HashMap::default(),
            columns: Vec::new(),
        }
    }

    fn column(&mut self, name: &str) -> &mut LabelColumn {
        let i = match self.labels.get(name) {
            Some(i) => *i,
            None => {
                self.columns.push(LabelColumn::default());
                self.labels.insert(name.to_string(), self.columns.len() - 1);
                self.columns.len() - 1
            }
        };
        &mut self.columns[i]
    }

    fn finish(self, table: String) -> Result<TableWrite, ArrowError> {
        let rows = self.times.len();
        let mut fields = vec![Field::new(cols::TIME, time_type(), true), Field::new("value", DataType::Float64, true)];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(self.times).with_timezone("UTC")),
            Arc::new(Float64Array::from(self.values)),
        ];
        let mut label_columns: Vec<Option<LabelColumn>> = self.columns.into_iter().map(Some).collect();
        let mut labels: Vec<(String, usize)> = self.labels.into_iter().collect();
        labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, i) in labels {
            let Some(column) = label_columns.get_mut(i).and_then(Option::take) else { continue };
            fields.push(Field::new(key.as_str(), cols::attribute_type(), true));
            columns.push(Arc::new(column.finish(rows)?));
        }
        // No META_KIND on purpose: remote write 1.0 has no reliable type.
        let meta = HashMap::from([(cols::META_ORIGINAL_NAME.to_string(), self.original_name)]);
        let batch = RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), columns)?;
        Ok(TableWrite { table, batch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, ArrayAccessor, AsArray};
    use arrow::datatypes::{Float64Type, TimestampNanosecondType};
    use tidewater_storage::{Store, StoreConfig};

    use crate::service::IngestLimits;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
            samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
            ..Default::default()
        }
    }

    fn request() -> WriteRequest {
        let mut with_histogram = series(&[("__name__", "rpc_latency"), ("job", "api")], &[]);
        with_histogram.histograms = vec![Opaque {}, Opaque {}];
        WriteRequest {
            timeseries: vec![
                series(
                    &[("__name__", "http_requests_total"), ("job", "api"), ("code", "200")],
                    &[(1_000, 5.0), (2_000, 6.0)],
                ),
                series(&[("__name__", "http_requests_total"), ("job", "web"), ("code", "")], &[(1_500, f64::NAN)]),
                series(
                    &[("__name__", "up"), ("job", "api"), ("time", "x")],
                    &[(3_000, f64::from_bits(STALE_NAN)), (0, 1.0)],
                ),
                series(&[("job", "nameless")], &[(1_000, 1.0), (2_000, 2.0)]),
                with_histogram,
            ],
            metadata: vec![],
        }
    }

    #[test]
    fn a_label_that_is_not_utf8_refuses_the_request() {
        let mut req =
            WriteRequest { timeseries: vec![series(&[("__name__", "m")], &[(1_000, 1.0)])], metadata: Vec::new() };
        req.timeseries[0].labels.push(Label { name: Bytes::from_static(b"host"), value: Bytes::from_static(b"\xff") });
        let body = encode(&req).expect("encode");
        let err = decode(&body, 1 << 20).expect_err("not UTF-8");
        assert!(matches!(err, Error::Malformed(ref m) if m.contains("not UTF-8")), "{err}");
        // Valid labels decode as slices of the body, read as text.
        req.timeseries[0].labels.pop();
        let back = decode(&encode(&req).expect("encode"), 1 << 20).expect("decode");
        assert_eq!((back.timeseries[0].labels[0].name(), back.timeseries[0].labels[0].value()), ("__name__", "m"));
    }

    #[test]
    fn round_trip_builds_one_batch_per_table() {
        let body = encode(&request()).expect("encode");
        let req = decode(&body, 1 << 20).expect("decode");
        assert_eq!(req.encode_to_vec(), request().encode_to_vec(), "NaN != NaN, so compare bytes");
        let c = convert(&req, &PointLimits::default());
        // Rejected: 2 nameless samples, 1 at timestamp 0, 2 native histograms.
        assert_eq!((c.points, c.rejected), (4, 5), "{:?}", c.reasons);
        assert!(c.reasons.iter().any(|r| r.contains("__name__")));
        assert!(c.reasons.iter().any(|r| r.contains("timestamp 0")));
        assert!(c.reasons.iter().any(|r| r.contains("histograms")));
        let tables: Vec<&str> = c.writes.iter().map(|w| w.table.as_str()).collect();
        assert_eq!(tables, ["http_requests_total", "up"]);

        let b = &c.writes[0].batch;
        let names: Vec<&str> = b.schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["time", "value", "code", "job"]);
        let meta = b.schema_ref().metadata();
        assert_eq!(meta.get(cols::META_ORIGINAL_NAME).map(String::as_str), Some("http_requests_total"));
        assert!(!meta.contains_key(cols::META_KIND));
        assert_eq!(b.schema_ref().field(0).data_type(), &time_type());
        let times = b.column(0).as_primitive::<TimestampNanosecondType>();
        assert_eq!(times.values(), &[1_000_000_000, 2_000_000_000, 1_500_000_000]);
        let values = b.column(1).as_primitive::<Float64Type>();
        assert_eq!(values.value(0), 5.0);
        assert!(values.value(2).is_nan());
        let code = b.column(2).as_dictionary::<Int32Type>();
        assert!(code.is_valid(0) && code.is_valid(1) && code.is_null(2), "empty label value is NULL");
        let job = b.column(3).as_dictionary::<Int32Type>().downcast_dict::<arrow::array::StringArray>().expect("utf8");
        assert_eq!((job.value(0), job.value(2)), ("api", "web"));

        let up = &c.writes[1].batch;
        assert_eq!(up.num_rows(), 1);
        assert!(up.column_by_name("attr_time").is_some(), "reserved label names are renamed");
        let v = up.column_by_name("value").expect("value").as_primitive::<Float64Type>().value(0);
        assert_eq!(v.to_bits(), STALE_NAN, "staleness marker stored bit for bit");
    }

    #[test]
    fn label_limits_reject_the_series() {
        let limits = PointLimits { max_attributes: 1, ..Default::default() };
        let req = WriteRequest {
            timeseries: vec![
                series(&[("__name__", "m"), ("a", "1"), ("b", "2")], &[(1, 1.0)]),
                series(&[("__name__", "m"), ("a", "1")], &[(1, 1.0)]),
            ],
            metadata: vec![],
        };
        let c = convert(&req, &limits);
        assert_eq!((c.points, c.rejected), (1, 1));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let err = decode(b"\x05not snappy at all", 1 << 20).expect_err("bad snappy");
        assert!(matches!(&err, Error::Malformed(m) if m.starts_with("snappy")), "{err}");
        let err = decode(b"", 1 << 20).expect_err("empty body");
        assert!(matches!(err, Error::Malformed(_)), "{err}");
        let bad_proto =
            snap::raw::Encoder::new().compress_vec(&[0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]).expect("compress");
        let err = decode(&bad_proto, 1 << 20).expect_err("bad protobuf");
        assert!(matches!(&err, Error::Malformed(m) if m.starts_with("protobuf")), "{err}");
        assert_eq!(err.http_status(), axum::http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn oversize_is_refused_before_decompressing() {
        let body = encode(&request()).expect("encode");
        let err = decode(&body, 10).expect_err("too large");
        assert!(matches!(err, Error::TooLarge { limit: 10 }), "{err}");
        assert_eq!(err.http_status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        // A header claiming 1 GiB with no data behind it: refused by size alone.
        let claim = [0x80, 0x80, 0x80, 0x80, 0x04];
        assert!(matches!(decode(&claim, 64 << 20), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn headers_other_than_remote_write_1_are_refused() {
        let mut h = HeaderMap::new();
        assert!(check_headers(&h).is_ok());
        h.insert(header::CONTENT_ENCODING, "snappy".parse().expect("header"));
        h.insert(header::CONTENT_TYPE, "application/x-protobuf".parse().expect("header"));
        assert!(check_headers(&h).is_ok());
        h.insert(header::CONTENT_TYPE, "application/x-protobuf;proto=prometheus.WriteRequest".parse().expect("header"));
        assert!(check_headers(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-protobuf;proto=io.prometheus.write.v2.Request".parse().expect("header"),
        );
        assert!(matches!(check_headers(&h), Err(Error::UnsupportedMediaType(_))));
        h.remove(header::CONTENT_TYPE);
        h.insert(header::CONTENT_ENCODING, "gzip".parse().expect("header"));
        assert!(matches!(check_headers(&h), Err(Error::Malformed(_))));
    }

    #[tokio::test]
    async fn handle_stores_the_good_samples_and_counts_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(StoreConfig::new(dir.path())).expect("open store");
        let ingester = Ingester::new(store.clone(), IngestLimits::default());
        let body = encode(&request()).expect("encode");
        let outcome = handle(&ingester, &Tenant::default_tenant(), &HeaderMap::new(), &body).await.expect("handle");
        assert_eq!(outcome, Outcome { accepted: 4, rejected: 5 });
        let snap = store.snapshot_table("http_requests_total").expect("snapshot").expect("table exists");
        assert_eq!(snap.batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3);
        store.close().await.expect("close");
    }
}
