//! Rollup tests: a real store in a temporary directory, a [`ManualClock`],
//! the runner's steps driven by hand (no sleeps), results read back over SQL
//! from `rollup_<name>.<table>` and compared with sums computed here.

mod kinds;
mod restart;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, Float64Array, ListArray, RecordBatch, StringDictionaryBuilder,
    TimestampNanosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Float64Type, Int32Type, Schema, TimestampNanosecondType, UInt64Type,
};
use tempfile::TempDir;
use tidewater_storage::schema::{time_type, META_KIND, META_TEMPORALITY};
use tidewater_storage::{ManualClock, Store, StoreConfig, SyncPolicy, TableWrite};

use super::{set_retention, RollupConfig, RollupRunner, StepSummary};
use crate::{QueryConfig, QueryEngine};

/// 2025-01-01T00:00:00Z in nanoseconds.
pub(super) const T0: i64 = 1_735_689_600_000_000_000;
pub(super) const SEC: i64 = 1_000_000_000;
pub(super) const MIN: i64 = 60 * SEC;

/// A `1m` rollup with a 30 s lag.
pub(super) fn one_minute(max_buckets_per_step: u32) -> RollupConfig {
    RollupConfig {
        lag: Duration::from_secs(30),
        max_buckets_per_step,
        ..RollupConfig::new("1m", Duration::from_secs(60))
    }
}

/// A store, an engine and a runner over one data directory.
pub(super) struct Harness {
    pub(super) dir: TempDir,
    pub(super) clock: Arc<ManualClock>,
    pub(super) rollups: Vec<RollupConfig>,
    pub(super) store: Arc<Store>,
    pub(super) engine: QueryEngine,
    pub(super) runner: RollupRunner,
}

impl Harness {
    /// A fresh store with the clock at `T0`.
    pub(super) fn new(rollups: Vec<RollupConfig>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(T0));
        let (store, engine, runner) = Self::open(&dir, &clock, &rollups);
        Self { dir, clock, rollups, store, engine, runner }
    }

    fn open(
        dir: &TempDir,
        clock: &Arc<ManualClock>,
        rollups: &[RollupConfig],
    ) -> (Arc<Store>, QueryEngine, RollupRunner) {
        let mut config = StoreConfig::new(dir.path());
        config.sync = SyncPolicy::Never;
        config.deletion_grace = Duration::ZERO;
        config.clock = clock.clone();
        set_retention(rollups, &mut config);
        let store = Store::open(config).expect("open store");
        let engine = QueryEngine::new(store.clone(), QueryConfig::default()).expect("engine");
        let runner = RollupRunner::new(engine.clone(), store.clone(), rollups.to_vec(), clock.clone());
        (store, engine, runner)
    }

    /// Stop as a crash would (nothing flushed; the WAL holds the rows) and
    /// open the directory again with a new runner (no progress in memory).
    pub(super) fn crash_and_reopen(self) -> Self {
        let Harness { dir, clock, rollups, store, engine, runner } = self;
        drop((runner, engine, store));
        let (store, engine, runner) = Self::open(&dir, &clock, &rollups);
        Self { dir, clock, rollups, store, engine, runner }
    }

    /// Close cleanly (everything flushed to segments) and open again.
    pub(super) async fn close_and_reopen(self) -> Self {
        self.store.close().await.expect("close");
        self.crash_and_reopen()
    }

    pub(super) async fn write(&self, w: TableWrite) {
        let outcome = self.store.write(vec![w]).await.expect("write");
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    }

    /// One runner step, which must not fail.
    pub(super) async fn step(&mut self) -> StepSummary {
        let s = self.runner.step().await;
        assert_eq!((s.failures, s.closed), (0, false), "{s:?}");
        s
    }

    pub(super) async fn query(&self, sql: &str) -> Vec<RecordBatch> {
        match self.engine.execute(sql).await {
            Ok(r) => r.batches,
            Err(e) => panic!("{sql}: {e}"),
        }
    }
}

/// Column `i` of `batches` cast to `T`.
fn primitive<T: ArrowPrimitiveType>(batches: &[RecordBatch], i: usize, as_type: DataType) -> Vec<Option<T::Native>> {
    let mut out = Vec::new();
    for b in batches {
        let c = cast(b.column(i), &as_type).expect("cast");
        out.extend(c.as_primitive::<T>().iter());
    }
    out
}

pub(super) fn f64s(batches: &[RecordBatch], i: usize) -> Vec<Option<f64>> {
    primitive::<Float64Type>(batches, i, DataType::Float64)
}

pub(super) fn u64s(batches: &[RecordBatch], i: usize) -> Vec<Option<u64>> {
    primitive::<UInt64Type>(batches, i, DataType::UInt64)
}

pub(super) fn times(batches: &[RecordBatch], i: usize) -> Vec<Option<i64>> {
    primitive::<TimestampNanosecondType>(batches, i, time_type())
}

pub(super) fn strs(batches: &[RecordBatch], i: usize) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in batches {
        let c = cast(b.column(i), &DataType::Utf8).expect("cast");
        out.extend(c.as_string::<i32>().iter().map(|s| s.map(str::to_string)));
    }
    out
}

pub(super) fn lists<T: ArrowPrimitiveType>(batches: &[RecordBatch], i: usize) -> Vec<Option<Vec<T::Native>>> {
    let mut out = Vec::new();
    for b in batches {
        let l = b.column(i).as_list::<i32>();
        for r in 0..l.len() {
            out.push(l.is_valid(r).then(|| l.value(r).as_primitive::<T>().values().to_vec()));
        }
    }
    out
}

pub(super) fn dict(values: impl IntoIterator<Item = Option<&'static str>>) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for v in values {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

pub(super) fn ts(values: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(values.into_iter().collect::<Vec<_>>()).with_timezone("UTC"))
}

pub(super) fn f64_column(values: impl IntoIterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<Float64Array>())
}

pub(super) fn list_column<T: ArrowPrimitiveType>(rows: impl IntoIterator<Item = Option<Vec<T::Native>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<T, _, _>(rows.into_iter().map(|r| r.map(|v| v.into_iter().map(Some)))))
}

/// A write to `table` of metric `kind` (`temporality` if given).
pub(super) fn table(name: &str, kind: &str, temporality: Option<&str>, cols: Vec<(&str, ArrayRef)>) -> TableWrite {
    let mut meta = HashMap::from([(META_KIND.to_string(), kind.to_string())]);
    if let Some(t) = temporality {
        meta.insert(META_TEMPORALITY.to_string(), t.to_string());
    }
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, meta)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("fixture batch");
    TableWrite { table: name.to_string(), batch }
}

/// A gauge point: (time, host, value).
pub(super) type Point = (i64, &'static str, Option<f64>);

/// A gauge write of `points` to `name`.
pub(super) fn gauge(name: &str, points: &[Point]) -> TableWrite {
    table(
        name,
        "gauge",
        None,
        vec![
            ("time", ts(points.iter().map(|p| p.0))),
            ("value", f64_column(points.iter().map(|p| p.2))),
            ("host", dict(points.iter().map(|p| Some(p.1)))),
        ],
    )
}

/// One gauge rollup row: (host, bucket start, min, max, avg, sum, count).
pub(super) type GaugeRow = (String, i64, f64, f64, f64, f64, u64);

/// The gauge rollup of `points` in buckets of `interval` starting before `end`, computed here.
pub(super) fn expected_gauge(points: &[Point], interval: i64, end: i64) -> Vec<GaugeRow> {
    let mut groups: std::collections::BTreeMap<(String, i64), Vec<f64>> = Default::default();
    for (t, host, v) in points {
        let bucket = t.div_euclid(interval) * interval;
        if let (Some(v), true) = (v, bucket < end) {
            groups.entry((host.to_string(), bucket)).or_default().push(*v);
        }
    }
    groups
        .into_iter()
        .map(|((host, bucket), vs)| {
            let sum: f64 = vs.iter().sum();
            let min = vs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = vs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (host, bucket, min, max, sum / vs.len() as f64, sum, vs.len() as u64)
        })
        .collect()
}

/// The rows of `rollup_<rollup>.<table>` (a gauge rollup), by host and time.
pub(super) async fn gauge_rollup(h: &Harness, schema: &str, table: &str) -> Vec<GaugeRow> {
    let b = h
        .query(&format!("SELECT host, time, min, max, avg, sum, count FROM {schema}.{table} ORDER BY host, time"))
        .await;
    let (host, time, min, max, avg, sum, count) =
        (strs(&b, 0), times(&b, 1), f64s(&b, 2), f64s(&b, 3), f64s(&b, 4), f64s(&b, 5), u64s(&b, 6));
    (0..host.len())
        .map(|i| {
            let v = |c: &[Option<f64>]| c[i].expect("value");
            (
                host[i].clone().expect("host"),
                time[i].expect("time"),
                v(&min),
                v(&max),
                v(&avg),
                v(&sum),
                count[i].expect("count"),
            )
        })
        .collect()
}
