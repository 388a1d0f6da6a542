//! Running and recent queries, for `system.queries`, and the per-query scan
//! counters the table provider fills in ([`ScanStats`]).
//!
//! Bounded: at most `RECENT` finished queries are kept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tidewater_tenant::Tenant;

use parking_lot::Mutex;

const RECENT: usize = 200;

/// What one query's table scans did, counted while it is planned and run.
///
/// Put in the query's `SessionConfig` as an extension; `MetricTable::scan`
/// adds to it.
#[derive(Debug, Default)]
pub struct ScanStats {
    segments_scanned: AtomicU64,
    segments_pruned: AtomicU64,
    segments_pruned_by_attributes: AtomicU64,
}

impl ScanStats {
    /// Count one table scan: `scanned` segments opened, `pruned_by_time`
    /// dropped by their manifest time range and `pruned_by_attributes` by
    /// their manifest attribute statistics, without being opened.
    pub fn add_segments(&self, scanned: u64, pruned_by_time: u64, pruned_by_attributes: u64) {
        self.segments_scanned.fetch_add(scanned, Ordering::Relaxed);
        self.segments_pruned.fetch_add(pruned_by_time + pruned_by_attributes, Ordering::Relaxed);
        self.segments_pruned_by_attributes.fetch_add(pruned_by_attributes, Ordering::Relaxed);
    }

    /// Segments the query's scans read.
    pub fn segments_scanned(&self) -> u64 {
        self.segments_scanned.load(Ordering::Relaxed)
    }

    /// Segments the query's scans skipped by their manifest statistics
    /// (time range or attributes).
    pub fn segments_pruned(&self) -> u64 {
        self.segments_pruned.load(Ordering::Relaxed)
    }

    /// Of [`ScanStats::segments_pruned`], those skipped by their attribute statistics.
    pub fn segments_pruned_by_attributes(&self) -> u64 {
        self.segments_pruned_by_attributes.load(Ordering::Relaxed)
    }
}

/// One query, running or finished.
#[derive(Debug, Clone)]
pub struct QueryEntry {
    /// Sequence number.
    pub id: u64,
    /// The SQL text (truncated to 4 KiB).
    pub sql: String,
    /// Wall-clock start, ns since the epoch.
    pub started_ns: i64,
    /// `running`, `ok`, `error`, `timeout`, `cancelled`.
    pub state: &'static str,
    /// Milliseconds taken (so far, for running queries).
    pub duration_ms: u64,
    /// Rows returned (so far, for running queries).
    pub rows: u64,
    /// Segments the query's table scans read.
    pub segments_scanned: u64,
    /// Segments skipped by their manifest statistics (time range or attributes).
    pub segments_pruned: u64,
    /// Of `segments_pruned`, those skipped by their attribute statistics.
    pub segments_pruned_by_attributes: u64,
    /// Error text, if any.
    pub error: Option<String>,
    /// The tenant the query acted for.
    pub tenant: Tenant,
    started: Instant,
    stats: Arc<ScanStats>,
    live_rows: Arc<AtomicU64>,
}

impl QueryEntry {
    fn refresh(&mut self) {
        self.duration_ms = self.started.elapsed().as_millis() as u64;
        self.rows = self.live_rows.load(Ordering::Relaxed);
        self.segments_scanned = self.stats.segments_scanned();
        self.segments_pruned = self.stats.segments_pruned();
        self.segments_pruned_by_attributes = self.stats.segments_pruned_by_attributes();
    }
}

/// A started query's handles into the log: its id, its scan counters and
/// its row counter.
#[derive(Debug, Clone)]
pub struct Started {
    /// The entry's id (for [`QueryLog::finish`]).
    pub id: u64,
    /// Scan counters, for the query's session.
    pub stats: Arc<ScanStats>,
    /// Rows returned so far.
    pub rows: Arc<AtomicU64>,
}

/// The log of queries.
#[derive(Debug, Default)]
pub struct QueryLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    running: BTreeMap<u64, QueryEntry>,
    recent: VecDeque<QueryEntry>,
}

impl QueryLog {
    /// Record a query as started.
    pub fn start(&self, tenant: &Tenant, sql: &str) -> Started {
        let mut text = sql.to_string();
        if text.len() > 4096 {
            let mut cut = 4096;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let started_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let stats = Arc::new(ScanStats::default());
        let rows = Arc::new(AtomicU64::new(0));
        let mut g = self.inner.lock();
        g.next_id += 1;
        let id = g.next_id;
        g.running.insert(
            id,
            QueryEntry {
                id,
                sql: text,
                tenant: tenant.clone(),
                started_ns,
                state: "running",
                duration_ms: 0,
                rows: 0,
                segments_scanned: 0,
                segments_pruned: 0,
                segments_pruned_by_attributes: 0,
                error: None,
                started: Instant::now(),
                stats: stats.clone(),
                live_rows: rows.clone(),
            },
        );
        Started { id, stats, rows }
    }

    /// Record how a query ended; its rows and scan counters are read from
    /// the handles [`QueryLog::start`] gave out.
    pub fn finish(&self, id: u64, state: &'static str, error: Option<String>) {
        let mut g = self.inner.lock();
        if let Some(mut e) = g.running.remove(&id) {
            e.refresh();
            tidewater_telemetry::metrics::QUERY_SECONDS.observe_duration(&[state], e.started.elapsed());
            e.state = state;
            e.error = error;
            g.recent.push_back(e);
            while g.recent.len() > RECENT {
                g.recent.pop_front();
            }
        }
    }

    /// Running queries first, then recent ones, newest last.
    pub fn entries(&self) -> Vec<QueryEntry> {
        let g = self.inner.lock();
        let mut out: Vec<QueryEntry> = g
            .running
            .values()
            .cloned()
            .map(|mut e| {
                e.refresh();
                e
            })
            .collect();
        out.extend(g.recent.iter().cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_entries_keep_their_counters() {
        let log = QueryLog::default();
        let q = log.start(&Tenant::default_tenant(), "SELECT 1");
        q.stats.add_segments(2, 5, 0);
        q.rows.fetch_add(7, Ordering::Relaxed);
        let running = log.entries();
        assert_eq!((running[0].state, running[0].rows, running[0].segments_pruned), ("running", 7, 5));
        q.stats.add_segments(1, 0, 3);
        log.finish(q.id, "ok", None);
        let done = &log.entries()[0];
        assert_eq!((done.state, done.rows, done.segments_scanned, done.segments_pruned), ("ok", 7, 3, 8));
        assert_eq!(done.segments_pruned_by_attributes, 3);
    }
}
