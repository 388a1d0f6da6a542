//! Prometheus remote write 1.0: the `prometheus.WriteRequest` messages and
//! [`MetricBatch`] -> snappy-compressed protobuf body.
//!
//! The messages are defined here rather than taken from `tidewater-ingest`
//! on purpose: a client that shared the server's wire code would hide a bug
//! both had. Conversion follows what Prometheus exporters do: resource and
//! point attributes become labels (names normalised to `[a-zA-Z0-9_]`),
//! counters get `_total`, histograms become cumulative `_bucket{le=...}`
//! series plus `_sum` and `_count`; labels are sorted by name.

use prost::Message;

use super::model::{MetricBatch, Points, Series};
use super::{Error, Result};

/// `prometheus.WriteRequest` (prompb/remote.proto); metadata is not sent.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, sorted by name, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples in time order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Message)]
pub struct Label {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Unix milliseconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Nanoseconds per millisecond.
const NANOS_PER_MILLI: i64 = 1_000_000;

/// A metric or label name with every character outside `[a-zA-Z0-9_]`
/// replaced by `_` (and a leading digit prefixed with `_`).
pub fn normalize(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Convert a batch into a remote write request.
pub fn write_request(batch: &MetricBatch) -> WriteRequest {
    let mut timeseries = Vec::with_capacity(batch.series.len());
    for s in &batch.series {
        let name = normalize(s.metric);
        match &s.points {
            Points::Gauge(points) => {
                timeseries.push(series(s, name, None, points.iter().map(|&(t, v)| (t, v.as_f64()))))
            }
            Points::Counter { points, .. } => {
                let name = if name.ends_with("_total") { name } else { format!("{name}_total") };
                timeseries.push(series(s, name, None, points.iter().map(|&(t, v)| (t, v.as_f64()))));
            }
            Points::Histogram { bounds, points, .. } => {
                let les = bounds.iter().map(|b| b.to_string()).chain(std::iter::once("+Inf".to_string()));
                for (i, le) in les.enumerate() {
                    let cumulative =
                        points.iter().map(|p| (p.time_ns, p.bucket_counts.iter().take(i + 1).sum::<u64>() as f64));
                    timeseries.push(series(s, format!("{name}_bucket"), Some(("le", le)), cumulative));
                }
                timeseries.push(series(s, format!("{name}_sum"), None, points.iter().map(|p| (p.time_ns, p.sum))));
                timeseries.push(series(
                    s,
                    format!("{name}_count"),
                    None,
                    points.iter().map(|p| (p.time_ns, p.count as f64)),
                ));
            }
        }
    }
    WriteRequest { timeseries }
}

fn series(
    s: &Series,
    name: String,
    extra: Option<(&str, String)>,
    points: impl Iterator<Item = (i64, f64)>,
) -> TimeSeries {
    let mut labels: Vec<Label> = s
        .attrs
        .iter()
        .chain(s.resource.iter())
        .map(|(k, v)| Label { name: normalize(k), value: v.clone() })
        .chain(extra.map(|(k, v)| Label { name: k.to_string(), value: v }))
        .chain(std::iter::once(Label { name: "__name__".into(), value: name }))
        .collect();
    // Stable sort, then keep the first of equal names: point attributes come
    // first above, so they win over resource attributes of the same name.
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels.dedup_by(|later, earlier| later.name == earlier.name);
    let samples = points.map(|(t, value)| Sample { value, timestamp: t.div_euclid(NANOS_PER_MILLI) }).collect();
    TimeSeries { labels, samples }
}

/// Encode and snappy-compress (block format), as remote write requires.
pub fn encode(req: &WriteRequest) -> Result<Vec<u8>> {
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).map_err(|e| Error::Encode(format!("snappy: {e}")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::loadgen::model::{Attrs, HistogramPoint, Value};

    fn attrs(pairs: &[(&str, &str)]) -> Attrs {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>().into()
    }

    fn labels(ts: &TimeSeries) -> Vec<(String, String)> {
        ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
    }

    #[test]
    fn converts_kinds_like_prometheus_exporters() {
        let resource = attrs(&[("service.name", "cart"), ("host", "h1")]);
        let batch = MetricBatch {
            series: vec![
                Series {
                    metric: "http.server.request.count",
                    unit: "",
                    resource: resource.clone(),
                    attrs: attrs(&[("http.route", "/a"), ("host", "h2")]),
                    points: Points::Counter { start_ns: 0, points: vec![(2_000_000_000, Value::Int(7))] },
                },
                Series {
                    metric: "http.server.request.duration",
                    unit: "s",
                    resource,
                    attrs: attrs(&[]),
                    points: Points::Histogram {
                        start_ns: 0,
                        bounds: Arc::from(vec![0.005, 1.0]),
                        points: vec![HistogramPoint {
                            time_ns: 1_500_000,
                            count: 6,
                            sum: 2.5,
                            bucket_counts: vec![1, 2, 3],
                        }],
                    },
                },
            ],
        };
        let req = write_request(&batch);
        assert_eq!(req.timeseries.len(), 1 + 3 + 2);
        let counter = &req.timeseries[0];
        assert_eq!(
            labels(counter),
            [
                ("__name__".to_string(), "http_server_request_count_total".to_string()),
                ("host".into(), "h2".into()),
                ("http_route".into(), "/a".into()),
                ("service_name".into(), "cart".into()),
            ]
        );
        assert_eq!(counter.samples, [Sample { value: 7.0, timestamp: 2_000 }]);
        let buckets: Vec<(String, f64)> = req.timeseries[1..4]
            .iter()
            .map(|t| {
                (
                    t.labels.iter().find(|l| l.name == "le").map(|l| l.value.clone()).unwrap_or_default(),
                    t.samples[0].value,
                )
            })
            .collect();
        assert_eq!(buckets, [("0.005".to_string(), 1.0), ("1".into(), 3.0), ("+Inf".into(), 6.0)]);
        assert_eq!(req.timeseries[4].labels[0].value, "http_server_request_duration_sum");
        assert_eq!(req.timeseries[5].samples[0], Sample { value: 6.0, timestamp: 1 });
        assert_eq!(batch.samples(), 6);

        let body = encode(&req).expect("encode");
        let raw = snap::raw::Decoder::new().decompress_vec(&body).expect("snappy");
        assert_eq!(WriteRequest::decode(raw.as_slice()).expect("decode"), req);
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(normalize("service.name"), "service_name");
        assert_eq!(normalize("9lives-x"), "_9lives_x");
        assert_eq!(normalize("cpu_usage_user"), "cpu_usage_user");
    }
}
