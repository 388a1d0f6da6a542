//! A metric family: one name, fixed label names, one cell per label set.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Most label sets one family keeps; later ones share the overflow series.
pub const MAX_SERIES_PER_FAMILY: usize = 1000;

/// The label value of the series that collects label sets past
/// [`MAX_SERIES_PER_FAMILY`].
pub const OVERFLOW_LABEL: &str = "_overflow";

/// Longest label value kept (longer ones are cut at a character boundary).
const MAX_LABEL_VALUE_LEN: usize = 128;

/// What a family measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count that only goes up (since the process started).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution in fixed buckets, with sum and count.
    Histogram,
}

impl Kind {
    /// The Prometheus `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One label set's state. Counters use `count`; gauges keep their value in
/// `bits`; histograms use all three (`bits` holds the sum).
#[derive(Debug)]
struct Cell {
    count: AtomicU64,
    bits: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Cell {
    fn new(buckets: usize) -> Self {
        Self {
            count: AtomicU64::new(0),
            bits: AtomicU64::new(0f64.to_bits()),
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn add_to_sum(&self, v: f64) {
        let mut cur = self.bits.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(cur) + v).to_bits();
            match self.bits.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }
}

/// A metric name with fixed label names. Declare families as `static`s
/// (see [`crate::metrics`]); recording takes the label values in the order
/// of the label names.
#[derive(Debug)]
pub struct Family {
    /// The metric name (`tidewater_...`; counters end in `_total`).
    pub name: &'static str,
    /// One line saying what is measured.
    pub help: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The label names.
    pub labels: &'static [&'static str],
    /// Upper bounds of the histogram buckets (empty for other kinds); the
    /// `+Inf` bucket is implied.
    pub bounds: &'static [f64],
    cells: Mutex<BTreeMap<Vec<String>, Arc<Cell>>>,
}

impl Family {
    /// A counter family.
    pub const fn counter(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self::new(name, help, Kind::Counter, labels, &[])
    }

    /// A gauge family.
    pub const fn gauge(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        Self::new(name, help, Kind::Gauge, labels, &[])
    }

    /// A histogram family with bucket upper `bounds` (increasing).
    pub const fn histogram(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Self::new(name, help, Kind::Histogram, labels, bounds)
    }

    const fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        Self { name, help, kind, labels, bounds, cells: Mutex::new(BTreeMap::new()) }
    }

    /// Add `n` to a counter.
    pub fn add(&self, labels: &[&str], n: u64) {
        if n > 0 {
            self.cell(labels).count.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Add one to a counter.
    pub fn inc(&self, labels: &[&str]) {
        self.add(labels, 1);
    }

    /// Set a gauge.
    pub fn set(&self, labels: &[&str], v: f64) {
        self.cell(labels).bits.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Record one observation in a histogram.
    pub fn observe(&self, labels: &[&str], v: f64) {
        let cell = self.cell(labels);
        let i = self.bounds.iter().position(|b| v <= *b).unwrap_or(self.bounds.len());
        if let Some(b) = cell.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        cell.add_to_sum(v);
        cell.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Record a duration, in seconds, in a histogram.
    pub fn observe_duration(&self, labels: &[&str], d: Duration) {
        self.observe(labels, d.as_secs_f64());
    }

    /// Forget the label sets `keep` says no to (e.g. gauges of dropped tables).
    pub fn retain(&self, keep: impl Fn(&[String]) -> bool) {
        self.lock().retain(|k, _| keep(k));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Vec<String>, Arc<Cell>>> {
        // A panic while holding the lock cannot leave the map half-changed.
        self.cells.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cell(&self, values: &[&str]) -> Arc<Cell> {
        let mut key: Vec<String> = self.labels.iter().enumerate().map(|(i, _)| label(values.get(i))).collect();
        let mut cells = self.lock();
        if let Some(c) = cells.get(&key) {
            return c.clone();
        }
        if cells.len() >= MAX_SERIES_PER_FAMILY {
            key = vec![OVERFLOW_LABEL.to_string(); self.labels.len()];
        }
        cells.entry(key).or_insert_with(|| Arc::new(Cell::new(self.bounds.len() + 1))).clone()
    }

    /// The current value of every label set.
    pub fn snapshot(&self) -> FamilySnapshot {
        let mut cells = self.lock();
        // A counter or histogram without labels exists from the start, at zero.
        if cells.is_empty() && self.labels.is_empty() && self.kind != Kind::Gauge {
            cells.insert(Vec::new(), Arc::new(Cell::new(self.bounds.len() + 1)));
        }
        let series = cells
            .iter()
            .map(|(labels, c)| {
                let value = match self.kind {
                    Kind::Counter => SeriesValue::Counter(c.count.load(Ordering::Relaxed)),
                    Kind::Gauge => SeriesValue::Gauge(f64::from_bits(c.bits.load(Ordering::Relaxed))),
                    Kind::Histogram => {
                        let buckets: Vec<u64> = c.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
                        SeriesValue::Histogram {
                            // The count as the buckets say, so the two always agree.
                            count: buckets.iter().sum(),
                            sum: f64::from_bits(c.bits.load(Ordering::Relaxed)),
                            buckets,
                        }
                    }
                };
                SeriesSnapshot { labels: labels.clone(), value }
            })
            .collect();
        FamilySnapshot {
            name: self.name,
            help: self.help,
            kind: self.kind,
            labels: self.labels,
            bounds: self.bounds,
            series,
        }
    }
}

fn label(v: Option<&&str>) -> String {
    let v = v.copied().unwrap_or("");
    if v.len() <= MAX_LABEL_VALUE_LEN {
        return v.to_string();
    }
    let mut cut = MAX_LABEL_VALUE_LEN;
    while !v.is_char_boundary(cut) {
        cut -= 1;
    }
    v[..cut].to_string()
}

/// A family's state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySnapshot {
    /// Metric name.
    pub name: &'static str,
    /// Help text.
    pub help: &'static str,
    /// Kind.
    pub kind: Kind,
    /// Label names.
    pub labels: &'static [&'static str],
    /// Histogram bucket upper bounds (without `+Inf`).
    pub bounds: &'static [f64],
    /// One entry per label set, ordered by label values.
    pub series: Vec<SeriesSnapshot>,
}

/// One label set's value.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// Label values, in the order of [`FamilySnapshot::labels`].
    pub labels: Vec<String>,
    /// The value.
    pub value: SeriesValue,
}

/// The value of a series.
#[derive(Debug, Clone, PartialEq)]
pub enum SeriesValue {
    /// Total since the process started.
    Counter(u64),
    /// Current value.
    Gauge(f64),
    /// Observations so far.
    Histogram {
        /// Number of observations.
        count: u64,
        /// Sum of the observations.
        sum: f64,
        /// Observations per bucket (not cumulative), one more than the
        /// bounds: the last is the `+Inf` bucket.
        buckets: Vec<u64>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_inclusive_with_an_inf_bucket() {
        static H: Family = Family::histogram("h_seconds", "h", &[], &[0.5, 1.0]);
        for v in [0.25, 0.5, 0.75, 1.0, 8.0] {
            H.observe(&[], v);
        }
        let s = H.snapshot();
        assert_eq!(s.series[0].value, SeriesValue::Histogram { count: 5, sum: 10.5, buckets: vec![2, 2, 1] }, "{s:?}");
    }

    #[test]
    fn counters_add_per_label_set_and_gauges_overwrite() {
        static C: Family = Family::counter("c_total", "c", &["signal", "reason"]);
        static G: Family = Family::gauge("g", "g", &["t"]);
        C.add(&["logs", "invalid"], 3);
        C.inc(&["logs", "invalid"]);
        C.inc(&["metrics", "series_limit"]);
        C.add(&["metrics", "never"], 0);
        let s = C.snapshot();
        let got: Vec<_> = s.series.iter().map(|x| (x.labels.join("/"), x.value.clone())).collect();
        assert_eq!(
            got,
            [
                ("logs/invalid".into(), SeriesValue::Counter(4)),
                ("metrics/series_limit".into(), SeriesValue::Counter(1))
            ]
        );
        G.set(&["a"], 5.0);
        G.set(&["a"], 2.5);
        assert_eq!(G.snapshot().series[0].value, SeriesValue::Gauge(2.5));
        G.retain(|_| false);
        assert!(G.snapshot().series.is_empty());
        static Z: Family = Family::counter("zero_total", "z", &[]);
        assert_eq!(Z.snapshot().series, [SeriesSnapshot { labels: vec![], value: SeriesValue::Counter(0) }]);
    }

    #[test]
    fn label_sets_past_the_limit_share_the_overflow_series() {
        static G: Family = Family::counter("many_total", "m", &["table_name"]);
        for i in 0..MAX_SERIES_PER_FAMILY + 10 {
            G.inc(&[&format!("t{i}")]);
        }
        let s = G.snapshot();
        assert_eq!(s.series.len(), MAX_SERIES_PER_FAMILY + 1);
        let overflow = s.series.iter().find(|x| x.labels == [OVERFLOW_LABEL]).expect("overflow series");
        assert_eq!(overflow.value, SeriesValue::Counter(10));
    }

    #[test]
    fn long_label_values_are_cut_and_missing_ones_are_empty() {
        static C: Family = Family::counter("cut_total", "c", &["a", "b"]);
        let long = "é".repeat(100);
        C.inc(&[&long]);
        let s = C.snapshot();
        assert!(s.series[0].labels[0].len() <= MAX_LABEL_VALUE_LEN);
        assert_eq!(s.series[0].labels[1], "");
    }
}
