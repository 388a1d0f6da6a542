//! Running and recent queries, for `system.queries` and for cancellation.
//!
//! Bounded: at most `RECENT` finished queries are kept.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

const RECENT: usize = 200;

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
    /// Rows returned (finished queries).
    pub rows: u64,
    /// Error text, if any.
    pub error: Option<String>,
    started: Instant,
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
    /// Record a query as started; returns its id.
    pub fn start(&self, sql: &str) -> u64 {
        let mut g = self.inner.lock();
        g.next_id += 1;
        let id = g.next_id;
        let mut text = sql.to_string();
        if text.len() > 4096 {
            let mut cut = 4096;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let started_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        g.running.insert(
            id,
            QueryEntry {
                id,
                sql: text,
                started_ns,
                state: "running",
                duration_ms: 0,
                rows: 0,
                error: None,
                started: Instant::now(),
            },
        );
        id
    }

    /// Record how a query ended.
    pub fn finish(&self, id: u64, state: &'static str, rows: u64, error: Option<String>) {
        let mut g = self.inner.lock();
        if let Some(mut e) = g.running.remove(&id) {
            e.state = state;
            e.rows = rows;
            e.error = error;
            e.duration_ms = e.started.elapsed().as_millis() as u64;
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
                e.duration_ms = e.started.elapsed().as_millis() as u64;
                e
            })
            .collect();
        out.extend(g.recent.iter().cloned());
        out
    }
}

/// Marks a query finished as `cancelled` if it is dropped before `done`.
#[derive(Debug)]
pub struct Tracker<'a> {
    log: &'a QueryLog,
    id: u64,
    done: bool,
}

impl<'a> Tracker<'a> {
    /// Start tracking `sql`.
    pub fn new(log: &'a QueryLog, sql: &str) -> Self {
        Self { id: log.start(sql), log, done: false }
    }

    /// Record the outcome.
    pub fn finish(mut self, state: &'static str, rows: u64, error: Option<String>) {
        self.done = true;
        self.log.finish(self.id, state, rows, error);
    }
}

impl Drop for Tracker<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.log.finish(self.id, "cancelled", 0, Some("the client went away".into()));
        }
    }
}
