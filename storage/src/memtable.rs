//! In-memory buffer of acknowledged writes not yet in segments.
//!
//! Batches are kept as written (each with the schema it arrived with) and
//! reshaped to the table schema when read, so appends never copy.

use std::collections::HashMap;
use std::time::Instant;

use arrow::array::{Array, RecordBatch, TimestampNanosecondArray};

use crate::schema::TIME;

/// The buffered batches of one table.
#[derive(Debug, Default, Clone)]
pub struct TableBuffer {
    /// Batches in arrival order.
    pub batches: Vec<RecordBatch>,
    /// Total rows.
    pub rows: usize,
    /// Approximate memory used.
    pub bytes: usize,
    /// Smallest `time` seen (ns since the epoch).
    pub min_time: Option<i64>,
    /// Largest `time` seen.
    pub max_time: Option<i64>,
}

/// A set of table buffers: the active memtable, or a frozen one being flushed.
#[derive(Debug)]
pub struct Memtable {
    /// Buffers by table name.
    pub tables: HashMap<String, TableBuffer>,
    /// Approximate memory used by all buffers.
    pub bytes: usize,
    /// Approximate memory used by the largest table buffer.
    pub largest_table_bytes: usize,
    /// When the first write arrived (for age-based flushes).
    pub first_write: Option<Instant>,
}

impl Default for Memtable {
    fn default() -> Self {
        Self::new()
    }
}

impl Memtable {
    /// An empty memtable.
    pub fn new() -> Self {
        Self { tables: HashMap::new(), bytes: 0, largest_table_bytes: 0, first_write: None }
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Append a batch to a table's buffer.
    pub fn insert(&mut self, table: &str, batch: RecordBatch) {
        if batch.num_rows() == 0 {
            return;
        }
        let bytes = batch.get_array_memory_size();
        let (min, max) = time_range(&batch);
        let buf = self.tables.entry(table.to_string()).or_default();
        buf.rows += batch.num_rows();
        buf.bytes += bytes;
        buf.min_time = opt_min(buf.min_time, min);
        buf.max_time = opt_max(buf.max_time, max);
        buf.batches.push(batch);
        self.largest_table_bytes = self.largest_table_bytes.max(buf.bytes);
        self.bytes += bytes;
        self.first_write.get_or_insert_with(Instant::now);
    }
}

/// The smallest and largest `time` in a batch, if it has that column.
pub fn time_range(batch: &RecordBatch) -> (Option<i64>, Option<i64>) {
    let Some(col) = batch.column_by_name(TIME) else { return (None, None) };
    let Some(ts) = col.as_any().downcast_ref::<TimestampNanosecondArray>() else { return (None, None) };
    (arrow::compute::min(ts), arrow::compute::max(ts))
}

fn opt_min(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn opt_max(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
