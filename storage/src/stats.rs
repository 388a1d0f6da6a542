//! Per-table statistics for system tables: rows, bytes, segments, time range.

use std::collections::BTreeMap;

use crate::store::Store;

/// Size and time range of one table, from the manifest and the memtables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    /// Table name.
    pub table: String,
    /// Rows in live segments plus rows buffered in memory.
    pub rows: u64,
    /// Bytes of the table's live segment files.
    pub bytes_on_disk: u64,
    /// Live segments.
    pub segments: u64,
    /// Smallest `time` (ns), if the table has rows.
    pub min_time: Option<i64>,
    /// Largest `time` (ns), if the table has rows.
    pub max_time: Option<i64>,
}

impl TableStats {
    fn new(table: &str) -> Self {
        Self { table: table.to_string(), rows: 0, bytes_on_disk: 0, segments: 0, min_time: None, max_time: None }
    }

    fn widen(&mut self, lo: Option<i64>, hi: Option<i64>) {
        self.min_time = match (self.min_time, lo) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_time = match (self.max_time, hi) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

impl Store {
    /// Statistics of every table (sorted by name), consistent with one
    /// snapshot of the manifest and the memtables.
    pub fn table_stats(&self) -> Vec<TableStats> {
        let state = self.shared.state.read();
        let mut out: BTreeMap<&str, TableStats> =
            state.schemas.keys().map(|t| (t.as_str(), TableStats::new(t))).collect();
        for s in &state.manifest.segments {
            let st = out.entry(s.table.as_str()).or_insert_with(|| TableStats::new(&s.table));
            st.rows += s.rows;
            st.bytes_on_disk += s.bytes;
            st.segments += 1;
            if s.rows > 0 {
                st.widen(Some(s.min_time), Some(s.max_time));
            }
        }
        let memtables = state.frozen.iter().map(|f| &f.memtable).chain(std::iter::once(&state.active));
        for m in memtables {
            for (table, buf) in &m.tables {
                let st = out.entry(table.as_str()).or_insert_with(|| TableStats::new(table));
                st.rows += buf.rows as u64;
                st.widen(buf.min_time, buf.max_time);
            }
        }
        out.into_values().collect()
    }
}
