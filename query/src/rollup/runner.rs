//! The rollup loop: each step rolls up, per rollup and source table, the
//! buckets that closed since the last step, and writes them through
//! [`Store::write`] like any ingest.
//!
//! Progress per (rollup, table) is the start of the next bucket to compute.
//! It lives in memory and is derived again after a restart from the rollup
//! table itself: the bucket after its newest row. That is exact because a
//! window's rows are written in one WAL record (all or nothing) and windows
//! are written in time order, so every bucket up to the newest row is done and
//! no later one is. Buckets without points are skipped by asking the source
//! for its first point at or after the progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, RecordBatch, TimestampNanosecondArray};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::error::DataFusionError;
use futures::StreamExt;
use tidewater_storage::clock::duration_nanos;
use tidewater_storage::{Clock, ErrorKind, Store, TableWrite};

use super::config::RollupConfig;
use super::plan::RollupPlan;
use super::{storage_name, window};
use crate::error::{Error, Result};
use crate::QueryEngine;

/// How often the server's rollup loop looks for closed buckets.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// What one [`RollupRunner::step`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepSummary {
    /// Windows computed (one query each).
    pub windows: usize,
    /// Rows written to rollup tables.
    pub rows: usize,
    /// (rollup, table) pairs that failed; they are retried at the next step.
    pub failures: usize,
    /// The store is closed; the loop stops.
    pub closed: bool,
}

/// Where one (rollup, table) pair stands.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// Start of the next bucket to roll up (`i64::MIN`: not known yet, start
    /// at the source's first point).
    next: i64,
    /// Look for the source's first point at or after `next` before the next
    /// window (after a restart, or when the last window was empty).
    probe: bool,
}

/// Keeps the rollup tables up to date.
#[derive(Debug)]
pub struct RollupRunner {
    engine: QueryEngine,
    store: Arc<Store>,
    rollups: Vec<RollupConfig>,
    clock: Arc<dyn Clock>,
    progress: HashMap<(usize, String), Progress>,
}

impl RollupRunner {
    /// A runner for `rollups` over `store`, querying through `engine`, with
    /// time from `clock`.
    pub fn new(engine: QueryEngine, store: Arc<Store>, rollups: Vec<RollupConfig>, clock: Arc<dyn Clock>) -> Self {
        Self { engine, store, rollups, clock, progress: HashMap::new() }
    }

    /// Roll up, for every rollup and source table, at most
    /// `max_buckets_per_step` closed buckets. Failures are logged and counted;
    /// the failed pair is retried at the next step.
    pub async fn step(&mut self) -> StepSummary {
        let now = self.clock.now_nanos();
        let mut summary = StepSummary::default();
        let tables: Vec<String> = self.store.table_names().into_iter().filter(|t| !t.contains('.')).collect();
        for idx in 0..self.rollups.len() {
            for table in &tables {
                match self.step_table(idx, table, now).await {
                    Ok(Some(rows)) => {
                        summary.windows += 1;
                        summary.rows += rows;
                    }
                    Ok(None) => {}
                    Err(Stop::Closed) => {
                        summary.closed = true;
                        return summary;
                    }
                    Err(Stop::Failed(e)) => {
                        summary.failures += 1;
                        tracing::warn!(rollup = %self.rollups[idx].name, table = %table, error = %e,
                            "rollup failed; will retry");
                    }
                }
            }
        }
        summary
    }

    /// Run [`RollupRunner::step`] every `every` until the store closes, on
    /// the engine's query runtime (else the current one). `None` without rollups.
    pub fn spawn(mut self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        if self.rollups.is_empty() {
            return None;
        }
        let runtime = self.engine.config().runtime.clone();
        let run = async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = self.step().await;
                if s.closed {
                    break;
                }
                if s.windows > 0 || s.failures > 0 {
                    tracing::debug!(windows = s.windows, rows = s.rows, failures = s.failures, "rollup step");
                }
            }
        };
        Some(match runtime {
            Some(handle) => handle.spawn(run),
            None => tokio::spawn(run),
        })
    }

    /// One window of one (rollup, table); `Some(rows written)` if a window was computed.
    async fn step_table(&mut self, idx: usize, table: &str, now: i64) -> Result<Option<usize>, Stop> {
        let rollup = &self.rollups[idx];
        let Some(source) = self.store.table_schema(table) else { return Ok(None) };
        let Some(plan) = RollupPlan::new(rollup, table, &source) else { return Ok(None) };
        let interval = rollup.interval_nanos();
        let closed = window::closed_end(now, duration_nanos(rollup.lag), interval);
        let key = (idx, table.to_string());
        let mut p = match self.progress.get(&key) {
            Some(p) => *p,
            None => self.initial_progress(rollup, table, now)?,
        };
        if p.next >= closed {
            self.progress.insert(key, p);
            return Ok(None);
        }
        if p.probe {
            match self.first_time(&plan, p.next, closed).await? {
                None => {
                    p.next = closed;
                    self.progress.insert(key, p);
                    return Ok(None);
                }
                Some(first) => p = Progress { next: p.next.max(window::floor(first, interval)), probe: false },
            }
        }
        let rollup = &self.rollups[idx];
        let end = window::window_end(p.next, closed, interval, rollup.max_buckets_per_step);
        let rows = self.roll_window(&plan, &storage_name(&rollup.schema(), table), p.next, end).await?;
        self.progress.insert(key, Progress { next: end, probe: rows == 0 });
        Ok(Some(rows))
    }

    /// Progress after a (re)start: the bucket after the rollup table's newest
    /// row, else the oldest bucket the rollup's retention keeps.
    fn initial_progress(&self, rollup: &RollupConfig, table: &str, now: i64) -> Result<Progress, Stop> {
        let interval = rollup.interval_nanos();
        let name = storage_name(&rollup.schema(), table);
        let snapshot = self.store.snapshot_table(&name).map_err(storage_error)?;
        let newest = snapshot.and_then(|s| {
            let segments = s.segments.iter().map(|m| m.max_time);
            let buffered = s.batches.iter().filter_map(|b| tidewater_storage::memtable::time_range(b).1);
            segments.chain(buffered).max()
        });
        let next = match (newest, rollup.retention) {
            (Some(t), _) => window::floor(t, interval).saturating_add(interval),
            (None, Some(ttl)) => window::floor(now.saturating_sub(duration_nanos(ttl)), interval),
            (None, None) => i64::MIN,
        };
        Ok(Progress { next, probe: true })
    }

    /// The time of the source's first point with a value in `[start, end)`.
    async fn first_time(&self, plan: &RollupPlan, start: i64, end: i64) -> Result<Option<i64>, Stop> {
        let batches = self.run(&plan.first_time_sql(start, end)).await?;
        let first = batches.iter().find(|b| b.num_rows() > 0).map(|b| b.column(0).clone());
        let Some(column) = first else { return Ok(None) };
        let column = cast(&column, &tidewater_storage::schema::time_type()).map_err(DataFusionError::from)?;
        let times = column.as_any().downcast_ref::<TimestampNanosecondArray>();
        Ok(times.and_then(|t| t.is_valid(0).then(|| t.value(0))))
    }

    /// Compute the buckets in `[start, end)` and write them to `target` in one
    /// write; returns the rows written.
    async fn roll_window(&self, plan: &RollupPlan, target: &str, start: i64, end: i64) -> Result<usize, Stop> {
        let batches = self.run(&plan.sql(start, end)).await?;
        let schema = plan.schema().clone();
        let mut shaped = Vec::with_capacity(batches.len());
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            let columns = batch
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(DataFusionError::from)?;
            shaped.push(RecordBatch::try_new(schema.clone(), columns).map_err(DataFusionError::from)?);
        }
        if shaped.is_empty() {
            return Ok(0);
        }
        let batch = concat_batches(&schema, &shaped).map_err(DataFusionError::from)?;
        let rows = batch.num_rows();
        let outcome =
            self.store.write(vec![TableWrite { table: target.to_string(), batch }]).await.map_err(storage_error)?;
        if let Some((table, _, reason)) = outcome.rejected.first() {
            return Err(Stop::Failed(Error::BadRequest(format!("rollup table {table} refused the rows: {reason}"))));
        }
        tracing::debug!(table = %target, start, end, rows, "rolled up");
        Ok(rows)
    }

    /// Plan and run one rollup query on a fresh session.
    async fn run(&self, sql: &str) -> Result<Vec<RecordBatch>, Stop> {
        let ctx = self.engine.context()?;
        let mut stream = ctx.sql(sql).await.map_err(Error::from)?.execute_stream().await.map_err(Error::from)?;
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            out.push(batch.map_err(Error::from)?);
        }
        Ok(out)
    }
}

/// Why a (rollup, table) step did not finish.
#[derive(Debug)]
enum Stop {
    /// The store is closed: stop the loop.
    Closed,
    /// Anything else: log and retry at the next step.
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

impl From<DataFusionError> for Stop {
    fn from(e: DataFusionError) -> Self {
        Stop::Failed(Error::DataFusion(e))
    }
}

fn storage_error(e: tidewater_storage::Error) -> Stop {
    match e.kind() {
        ErrorKind::Unavailable => Stop::Closed,
        _ => Stop::Failed(Error::DataFusion(DataFusionError::External(Box::new(e)))),
    }
}
