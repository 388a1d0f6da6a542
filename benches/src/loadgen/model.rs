//! Metric data as the workloads produce it, before it is encoded for a
//! target: series of gauge, counter or histogram points with resource and
//! point attributes. [`super::otlp_encode`] and [`super::remote_write`]
//! turn a [`MetricBatch`] into the two wire formats.

use std::sync::Arc;

/// Attributes as (key, value) pairs, shared between the series of an entity.
pub type Attrs = Arc<[(String, String)]>;

/// A number as the source produced it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer (TSBS cpu fields, counters, active requests).
    Int(i64),
    /// A float.
    Double(f64),
}

impl Value {
    /// The value as a float (remote write carries only floats).
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(i) => i as f64,
            Value::Double(d) => d,
        }
    }
}

/// One point of a cumulative explicit-bucket histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Unix nanoseconds.
    pub time_ns: i64,
    /// Number of observations since `start_ns`.
    pub count: u64,
    /// Sum of the observations.
    pub sum: f64,
    /// Per-bucket counts, `bounds.len() + 1` of them (the last is `+Inf`).
    pub bucket_counts: Vec<u64>,
}

/// The points of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Points {
    /// Gauge points (time ns, value).
    Gauge(Vec<(i64, Value)>),
    /// Cumulative monotonic counter points since `start_ns`.
    Counter {
        /// When counting started (Unix ns).
        start_ns: i64,
        /// (time ns, cumulative value).
        points: Vec<(i64, Value)>,
    },
    /// Cumulative histogram points since `start_ns`.
    Histogram {
        /// When counting started (Unix ns).
        start_ns: i64,
        /// Upper bucket bounds (ascending, `+Inf` implied).
        bounds: Arc<[f64]>,
        /// The points.
        points: Vec<HistogramPoint>,
    },
}

impl Points {
    /// Number of OTLP data points.
    pub fn len(&self) -> usize {
        match self {
            Points::Gauge(p) | Points::Counter { points: p, .. } => p.len(),
            Points::Histogram { points, .. } => points.len(),
        }
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of Prometheus samples: a histogram point becomes one
    /// `_bucket` sample per bound plus `+Inf`, a `_sum` and a `_count`.
    pub fn samples(&self) -> usize {
        match self {
            Points::Gauge(p) | Points::Counter { points: p, .. } => p.len(),
            Points::Histogram { bounds, points, .. } => points.len() * (bounds.len() + 3),
        }
    }
}

/// One series: a metric, the attributes of its source and its own, points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// OTel metric name (e.g. `http.server.request.duration`, `cpu_usage_user`).
    pub metric: &'static str,
    /// Unit (UCUM, e.g. `s`; empty when none).
    pub unit: &'static str,
    /// Resource attributes (shared by the series of one host or service).
    pub resource: Attrs,
    /// Point attributes.
    pub attrs: Attrs,
    /// The points.
    pub points: Points,
}

/// What one request carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricBatch {
    /// The series, grouped by resource in generation order.
    pub series: Vec<Series>,
}

impl MetricBatch {
    /// Number of OTLP data points.
    pub fn points(&self) -> usize {
        self.series.iter().map(|s| s.points.len()).sum()
    }

    /// Number of Prometheus samples.
    pub fn samples(&self) -> usize {
        self.series.iter().map(|s| s.points.samples()).sum()
    }
}
