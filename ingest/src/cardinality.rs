//! Active-series limit per table.
//!
//! A series is a table plus its attribute values. A series is active if it
//! was seen in the current or the previous window (default one hour). Once a
//! table has `max_series` active series, points of new series are refused
//! (reported in the partial success); points of known series keep flowing.
//! Memory is bounded by the limit: at most two sets of `max_series` hashes
//! per table.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Int32Type;
use parking_lot::Mutex;
use tidewater_storage::schema::{is_attribute, META_KIND};
use tidewater_storage::TableWrite;

/// Tracks active series and applies the limit.
#[derive(Debug)]
pub struct SeriesLimiter {
    max_series: usize,
    window: Duration,
    tables: Mutex<HashMap<String, TableSeries>>,
}

#[derive(Debug)]
struct TableSeries {
    current: HashSet<u64, RandomState>,
    previous: HashSet<u64, RandomState>,
    /// Size of `current ∪ previous`.
    active: usize,
    window_start: Instant,
}

impl TableSeries {
    fn new() -> Self {
        Self { current: HashSet::default(), previous: HashSet::default(), active: 0, window_start: Instant::now() }
    }

    fn rotate_if_due(&mut self, window: Duration) {
        if self.window_start.elapsed() >= window {
            self.previous = std::mem::take(&mut self.current);
            self.active = self.previous.len();
            self.window_start = Instant::now();
        }
    }

    /// Admit a series if it is known or there is room for it.
    fn admit(&mut self, h: u64, max: usize) -> bool {
        if self.current.contains(&h) {
            return true;
        }
        if self.previous.contains(&h) {
            self.current.insert(h);
            return true;
        }
        if self.active >= max {
            return false;
        }
        self.current.insert(h);
        self.active += 1;
        true
    }
}

impl SeriesLimiter {
    /// A limiter allowing `max_series` active series per table (0: no limit).
    pub fn new(max_series: usize, window: Duration) -> Self {
        Self { max_series, window, tables: Mutex::new(HashMap::new()) }
    }

    /// The active-series limit per table (0: none).
    pub fn max_series(&self) -> usize {
        self.max_series
    }

    /// Whether no series is remembered at all (nothing seen yet, or only
    /// skipped writes such as logs): dropping this limiter forgets nothing.
    pub fn is_empty(&self) -> bool {
        self.tables.lock().values().all(|t| t.current.is_empty() && t.previous.is_empty())
    }

    /// Admit points of `table` by series hash: `true` for series already
    /// active and for new ones while the table has room, `false` for new
    /// series past the limit. Used by the pipeline's `cardinality_limit`.
    pub fn admit(&self, table: &str, hashes: &[u64]) -> Vec<bool> {
        if self.max_series == 0 {
            return vec![true; hashes.len()];
        }
        let mut tables = self.tables.lock();
        if !tables.contains_key(table) {
            tables.insert(table.to_string(), TableSeries::new());
        }
        let Some(t) = tables.get_mut(table) else { return vec![true; hashes.len()] };
        t.rotate_if_due(self.window);
        hashes.iter().map(|h| t.admit(*h, self.max_series)).collect()
    }

    /// Drop the rows of new series past the limit, counted per table.
    /// Returns the refused point count and a reason per table that refused any.
    pub fn apply(&self, writes: &mut Vec<TableWrite>) -> (usize, Vec<String>) {
        self.filter_writes(writes, false)
    }

    /// Like [`SeriesLimiter::apply`], with every table's series counted
    /// together against the one limit (a tenant's active series).
    pub fn apply_as_one(&self, writes: &mut Vec<TableWrite>) -> (usize, Vec<String>) {
        self.filter_writes(writes, true)
    }

    fn filter_writes(&self, writes: &mut Vec<TableWrite>, as_one: bool) -> (usize, Vec<String>) {
        if self.max_series == 0 {
            return (0, Vec::new());
        }
        let mut refused = 0;
        let mut reasons = Vec::new();
        let mut tables = self.tables.lock();
        for w in writes.iter_mut() {
            if w.batch.schema().metadata().get(META_KIND).is_some_and(|k| k == "logs") {
                continue;
            }
            let mut hashes = series_hashes(&w.batch);
            let key = if as_one {
                let table_hash = {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    w.table.hash(&mut h);
                    h.finish()
                };
                hashes.iter_mut().for_each(|x| *x ^= table_hash);
                ""
            } else {
                w.table.as_str()
            };
            if !tables.contains_key(key) {
                tables.insert(key.to_string(), TableSeries::new());
            }
            let Some(t) = tables.get_mut(key) else { continue };
            t.rotate_if_due(self.window);
            let keep: Vec<bool> = hashes.iter().map(|h| t.admit(*h, self.max_series)).collect();
            if !as_one {
                tidewater_telemetry::metrics::ACTIVE_SERIES.set(&[&w.table], t.active as f64);
            }
            let dropped = keep.iter().filter(|k| !**k).count();
            if dropped == 0 {
                continue;
            }
            refused += dropped;
            reasons.push(format!(
                "{}: {dropped} points of new series over the limit of {} active series",
                w.table, self.max_series
            ));
            match filter_record_batch(&w.batch, &BooleanArray::from(keep)) {
                Ok(b) => w.batch = b,
                Err(e) => tracing::error!(error = %e, "filtering over-limit series failed"),
            }
        }
        writes.retain(|w| w.batch.num_rows() > 0);
        (refused, reasons)
    }
}

/// One hash per row over the (column, value) pairs of its attribute columns.
/// Order-independent, so batches with columns in another order agree.
pub fn series_hashes(batch: &RecordBatch) -> Vec<u64> {
    let mut out = vec![0u64; batch.num_rows()];
    for (i, field) in batch.schema().fields().iter().enumerate() {
        if !is_attribute(field) {
            continue;
        }
        let Some(dict) = batch.column(i).as_dictionary_opt::<Int32Type>() else { continue };
        let Some(values) = dict.values().as_string_opt::<i32>() else { continue };
        let value_hashes: Vec<u64> = (0..values.len())
            .map(|j| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                field.name().hash(&mut h);
                values.value(j).hash(&mut h);
                h.finish()
            })
            .collect();
        for (row, key) in dict.keys().iter().enumerate() {
            if let Some(k) = key.and_then(|k| usize::try_from(k).ok()) {
                out[row] = out[row].wrapping_add(value_hashes.get(k).copied().unwrap_or(0));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, StringDictionaryBuilder};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    use tidewater_storage::schema::attribute_type;

    fn write(hosts: &[&str]) -> TableWrite {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        for h in hosts {
            b.append_value(h);
        }
        let schema =
            Schema::new(vec![Field::new("value", DataType::Float64, true), Field::new("host", attribute_type(), true)]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Float64Array::from(vec![1.0; hosts.len()])), Arc::new(b.finish())],
        )
        .unwrap();
        TableWrite { table: "cpu".into(), batch }
    }

    #[test]
    fn new_series_past_the_limit_are_refused_known_ones_flow() {
        let l = SeriesLimiter::new(2, Duration::from_secs(3600));
        let mut w = vec![write(&["a", "b", "a"])];
        assert_eq!(l.apply(&mut w).0, 0);
        let mut w = vec![write(&["c", "a", "d", "b"])];
        let (refused, reasons) = l.apply(&mut w);
        assert_eq!(refused, 2);
        assert!(reasons[0].contains("limit of 2 active series"));
        assert_eq!(w[0].batch.num_rows(), 2);
    }

    #[test]
    fn as_one_counts_every_table_against_one_limit() {
        let l = SeriesLimiter::new(3, Duration::from_secs(3600));
        let mut other = write(&["a", "b"]);
        other.table = "mem".into();
        let mut w = vec![write(&["a", "b"]), other];
        let (refused, reasons) = l.apply_as_one(&mut w);
        assert_eq!(refused, 1, "4 series in two tables, limit 3");
        assert!(reasons[0].starts_with("mem:"), "{reasons:?}");
    }

    #[test]
    fn series_expire_after_two_windows() {
        let l = SeriesLimiter::new(1, Duration::from_millis(0));
        let mut w = vec![write(&["a"])];
        assert_eq!(l.apply(&mut w).0, 0);
        // Window 0 ms: every call rotates; "a" moves to previous, then expires.
        let mut w = vec![write(&["b"])];
        assert_eq!(l.apply(&mut w).0, 1);
        let mut w = vec![write(&["b"])];
        assert_eq!(l.apply(&mut w).0, 0);
    }
}
