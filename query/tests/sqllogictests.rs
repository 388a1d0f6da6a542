//! sqllogictest harness: every `tests/slt/*.slt` file runs against a fresh
//! store seeded with the fixture tables below (some rows flushed to Parquet
//! segments, some still in the memtable, one column added later). Files named
//! `functions*` also get the tables the time-series functions are tested on,
//! files named `pruning*` the five-day table `days` (one segment per day).
//!
//! Run one file: `cargo test -p tidewater-query --test sqllogictests -- basics`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, ArrowPrimitiveType, Float64Array, Int32Array, ListArray, RecordBatch, StringDictionaryBuilder,
    TimestampNanosecondArray, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Schema, UInt64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tidewater_query::{QueryConfig, QueryEngine};
use tidewater_storage::schema::{META_KIND, META_TEMPORALITY};
use tidewater_storage::{Store, StoreConfig, SyncPolicy, TableWrite};

/// 2025-01-01T00:00:00Z in nanoseconds.
const T0: i64 = 1_735_689_600_000_000_000;
const SEC: i64 = 1_000_000_000;

struct Db {
    engine: QueryEngine,
}

#[derive(Debug)]
struct DbError(String);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DbError {}

#[async_trait::async_trait]
impl AsyncDB for Db {
    type Error = DbError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, DbError> {
        let result = self.engine.execute(sql).await.map_err(|e| DbError(e.to_string()))?;
        let types = result.schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        let opts = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &result.batches {
            let fmts: Vec<ArrayFormatter> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
                .collect::<Result<_, _>>()
                .map_err(|e| DbError(e.to_string()))?;
            for r in 0..batch.num_rows() {
                rows.push(
                    fmts.iter()
                        .map(|f| f.value(r).to_string())
                        .map(|s| if s.is_empty() { "(empty)".into() } else { s })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}
}

fn column_type(dt: &DataType) -> DefaultColumnType {
    if dt.is_integer() {
        DefaultColumnType::Integer
    } else if dt.is_floating() {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

fn ts(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
}

fn dict(v: Vec<Option<&str>>) -> ArrayRef {
    let mut b = StringDictionaryBuilder::<Int32Type>::new();
    for x in v {
        b.append_option(x);
    }
    Arc::new(b.finish())
}

fn batch(kind: &str, cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    batch_meta(&[(META_KIND, kind)], cols)
}

/// A batch whose schema metadata holds `meta` (kind, temporality).
fn batch_meta(meta: &[(&str, &str)], cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    let meta = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<HashMap<_, _>>();
    RecordBatch::try_new(Arc::new(Schema::new_with_metadata(fields, meta)), cols.into_iter().map(|(_, a)| a).collect())
        .expect("fixture batch")
}

/// `cpu`: gauge, hosts h1 (eu) and h2 (us), 10 s apart, for the given time steps.
fn cpu(steps: std::ops::Range<i64>) -> TableWrite {
    let mut times = Vec::new();
    let mut hosts = Vec::new();
    let mut regions = Vec::new();
    let mut values = Vec::new();
    for step in steps {
        for (host, region, base) in [("h1", "eu", 10.0), ("h2", "us", 50.0)] {
            times.push(T0 + step * 10 * SEC);
            hosts.push(Some(host));
            regions.push(Some(region));
            values.push(base + step as f64);
        }
    }
    TableWrite {
        table: "cpu".into(),
        batch: batch(
            "gauge",
            vec![
                ("time", ts(times)),
                ("value", Arc::new(Float64Array::from(values))),
                ("host", dict(hosts)),
                ("region", dict(regions)),
            ],
        ),
    }
}

/// Seconds after `T0` as a `time` column.
fn secs(v: impl IntoIterator<Item = i64>) -> ArrayRef {
    ts(v.into_iter().map(|s| T0 + s * SEC).collect())
}

fn table(name: &str, meta: &[(&str, &str)], cols: Vec<(&str, ArrayRef)>) -> TableWrite {
    TableWrite { table: name.into(), batch: batch_meta(meta, cols) }
}

fn pick<T: Copy>(rows: &[T], time: fn(&T) -> i64, before_flush: bool) -> Vec<T> {
    rows.iter().filter(|r| (time(r) < 30) == before_flush).copied().collect()
}

/// `http_requests_total`: cumulative counter. Host `a` resets by a drop at
/// 30 s and ends with a stale (NULL) point, `b` by a new start time at 30 s
/// (its value keeps rising), the third series has no host. Rows before 30 s
/// are flushed, the rest stay in the memtable.
fn http_requests_total(before_flush: bool) -> TableWrite {
    type Row = (i64, Option<f64>, i64, Option<&'static str>);
    #[rustfmt::skip]
    let rows: [Row; 15] = [
        (0, Some(10.0), -1, Some("a")), (10, Some(20.0), -1, Some("a")), (20, Some(35.0), -1, Some("a")),
        (30, Some(5.0), -1, Some("a")), (40, Some(15.0), -1, Some("a")), (50, Some(25.0), -1, Some("a")),
        (55, None, -1, Some("a")),
        (0, Some(100.0), -1, Some("b")), (10, Some(110.0), -1, Some("b")), (20, Some(120.0), -1, Some("b")),
        (30, Some(130.0), 25, Some("b")), (40, Some(140.0), 25, Some("b")),
        (0, Some(1.0), -1, None), (10, Some(2.0), -1, None), (20, Some(4.0), -1, None),
    ];
    let rows = pick(&rows, |r| r.0, before_flush);
    let meta = [(META_KIND, "sum"), (META_TEMPORALITY, "cumulative")];
    table(
        "http_requests_total",
        &meta,
        vec![
            ("time", secs(rows.iter().map(|r| r.0))),
            ("start_time", secs(rows.iter().map(|r| r.2))),
            ("value", Arc::new(rows.iter().map(|r| r.1).collect::<Float64Array>())),
            ("host", dict(rows.iter().map(|r| r.3).collect())),
        ],
    )
}

/// `requests_delta`: delta counter, host `a` every 10 s and a series without host.
fn requests_delta(before_flush: bool) -> TableWrite {
    #[rustfmt::skip]
    let rows: [(i64, f64, Option<&str>); 8] = [
        (0, 5.0, Some("a")), (10, 3.0, Some("a")), (20, 0.0, Some("a")), (30, 7.0, Some("a")), (40, 2.0, Some("a")),
        (50, 4.0, Some("a")), (0, 1.0, None), (10, 1.0, None),
    ];
    let rows = pick(&rows, |r| r.0, before_flush);
    let meta = [(META_KIND, "sum"), (META_TEMPORALITY, "delta")];
    table(
        "requests_delta",
        &meta,
        vec![
            ("time", secs(rows.iter().map(|r| r.0))),
            ("value", Arc::new(rows.iter().map(|r| Some(r.1)).collect::<Float64Array>())),
            ("host", dict(rows.iter().map(|r| r.2).collect())),
        ],
    )
}

/// A `List<T>` column, one list (or NULL) per row.
fn list<T: ArrowPrimitiveType>(rows: impl Iterator<Item = Option<Vec<T::Native>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<T, _, _>(rows.map(|r| r.map(|v| v.into_iter().map(Some)))))
}

/// Counts per OTLP explicit bucket (`v <= bound`, then the +inf bucket).
fn bucket_counts(values: impl Iterator<Item = f64>, bounds: &[f64]) -> Vec<u64> {
    let mut counts = vec![0; bounds.len() + 1];
    for v in values {
        counts[bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len())] += 1;
    }
    counts
}

/// `http_duration`: explicit-bucket histogram. The 1000 values
/// 0.05, 0.15, ..., 99.95 (uniform on 0..100), bounds every 10: those below
/// 70 are service `api`, the rest `web` (route NULL); together p50 = 50.
/// Later rows: all in +inf, empty, mismatched lengths, other bounds.
fn http_duration(before_flush: bool) -> TableWrite {
    let tens: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
    let uniform = |range: std::ops::Range<u32>| bucket_counts(range.map(|k| (f64::from(k) + 0.5) * 0.1), &tens);
    type Row = (i64, &'static str, Option<&'static str>, Vec<f64>, Vec<u64>);
    let rows: Vec<Row> = if before_flush {
        vec![(0, "api", Some("/a"), tens.clone(), uniform(0..700)), (0, "web", None, tens.clone(), uniform(700..1000))]
    } else {
        vec![
            (30, "batch", Some("/b"), tens.clone(), bucket_counts([150.0; 5].into_iter(), &tens)),
            (30, "idle", Some("/c"), tens.clone(), vec![0; 11]),
            (30, "broken", Some("/d"), tens.clone(), vec![1, 2, 3]),
            (40, "legacy", Some("/e"), vec![0.5, 1.0, 5.0], vec![1, 1, 2, 0]),
        ]
    };
    let meta = [(META_KIND, "histogram"), (META_TEMPORALITY, "cumulative")];
    table(
        "http_duration",
        &meta,
        vec![
            ("time", secs(rows.iter().map(|r| r.0))),
            ("start_time", secs(rows.iter().map(|_| -1))),
            ("count", Arc::new(rows.iter().map(|r| Some(r.4.iter().sum::<u64>())).collect::<UInt64Array>())),
            ("bounds", list::<Float64Type>(rows.iter().map(|r| Some(r.3.clone())))),
            ("counts", list::<UInt64Type>(rows.iter().map(|r| Some(r.4.clone())))),
            ("service", dict(rows.iter().map(|r| Some(r.1)).collect())),
            ("route", dict(rows.iter().map(|r| r.2).collect())),
        ],
    )
}

/// `request_latency`: cumulative explicit-bucket histograms every 10 s,
/// bounds 1, 2, 4. Service `a` restarts at 30 s (its counts drop; same
/// start_time) and ends with a stale point (NULL counts) at 55 s; `b` gets a
/// new start_time at 30 s while its counts keep rising.
fn request_latency(before_flush: bool) -> TableWrite {
    type Row = (i64, i64, &'static str, Option<[u64; 4]>);
    #[rustfmt::skip]
    let rows: [Row; 13] = [
        (0, -1, "a", Some([0, 0, 0, 0])), (10, -1, "a", Some([2, 4, 2, 0])), (20, -1, "a", Some([4, 6, 6, 0])),
        (30, -1, "a", Some([1, 1, 0, 0])), (40, -1, "a", Some([3, 3, 2, 0])), (50, -1, "a", Some([3, 5, 4, 0])),
        (55, -1, "a", None),
        (0, -1, "b", Some([0, 0, 0, 0])), (10, -1, "b", Some([0, 2, 2, 0])), (20, -1, "b", Some([0, 4, 4, 0])),
        (30, 25, "b", Some([0, 5, 6, 1])), (40, 25, "b", Some([0, 6, 8, 2])), (50, 25, "b", Some([1, 6, 8, 2])),
    ];
    let rows = pick(&rows, |r| r.0, before_flush);
    let meta = [(META_KIND, "histogram"), (META_TEMPORALITY, "cumulative")];
    table(
        "request_latency",
        &meta,
        vec![
            ("time", secs(rows.iter().map(|r| r.0))),
            ("start_time", secs(rows.iter().map(|r| r.1))),
            ("bounds", list::<Float64Type>(rows.iter().map(|_| Some(vec![1.0, 2.0, 4.0])))),
            ("counts", list::<UInt64Type>(rows.iter().map(|r| r.3.map(|c| c.to_vec())))),
            ("service", dict(rows.iter().map(|r| Some(r.2)).collect())),
        ],
    )
}

/// The bucket columns of one exponential histogram.
struct ExpBuckets {
    zero_count: u64,
    positive: (i32, Vec<u64>),
    negative: (i32, Vec<u64>),
}

/// Exponential buckets of `values` at `scale`: bucket `i` of a side holds
/// `|v|` in `(base^i, base^(i+1)]`, `base = 2^(2^-scale)`.
fn exp_buckets(values: &[f64], scale: i32) -> ExpBuckets {
    let side = |sign: f64| {
        let index: Vec<i32> = values
            .iter()
            .filter(|v| **v * sign > 0.0)
            .map(|v| (v.abs().log2() * 2f64.powi(scale)).ceil() as i32 - 1)
            .collect();
        let (Some(&lo), Some(&hi)) = (index.iter().min(), index.iter().max()) else { return (0, Vec::new()) };
        let mut counts = vec![0; (hi - lo + 1) as usize];
        for i in index {
            counts[(i - lo) as usize] += 1;
        }
        (lo, counts)
    };
    ExpBuckets {
        zero_count: values.iter().filter(|v| **v == 0.0).count() as u64,
        positive: side(1.0),
        negative: side(-1.0),
    }
}

/// `latency_exp`: exponential histograms built from known values (`api` at
/// scale 0, `db` at scale 1 with zeros and negatives), an empty one and a
/// stale one (NULL bucket lists).
fn latency_exp() -> TableWrite {
    let rows = [
        ("api", 0, Some(exp_buckets(&[1.5, 3.0, 3.0, 5.0, 6.0, 7.0, 12.0, 100.0], 0))),
        ("db", 1, Some(exp_buckets(&[-3.0, -0.75, 0.0, 0.0, 2.5, 2.5], 1))),
        ("idle", 0, Some(exp_buckets(&[], 0))),
        ("stale", 0, None),
    ];
    // Stale rows have NULL bucket lists but offset 0, as the ingest writes them.
    let offsets = |f: fn(&ExpBuckets) -> i32| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(r.2.as_ref().map_or(0, f))).collect::<Int32Array>())
    };
    let meta = [(META_KIND, "exponential_histogram"), (META_TEMPORALITY, "delta")];
    table(
        "latency_exp",
        &meta,
        vec![
            ("time", secs(rows.iter().map(|_| 0))),
            ("scale", Arc::new(rows.iter().map(|r| Some(r.1)).collect::<Int32Array>())),
            ("zero_count", Arc::new(rows.iter().map(|r| r.2.as_ref().map(|b| b.zero_count)).collect::<UInt64Array>())),
            ("positive_offset", offsets(|b| b.positive.0)),
            ("positive_counts", list::<UInt64Type>(rows.iter().map(|r| r.2.as_ref().map(|b| b.positive.1.clone())))),
            ("negative_offset", offsets(|b| b.negative.0)),
            ("negative_counts", list::<UInt64Type>(rows.iter().map(|r| r.2.as_ref().map(|b| b.negative.1.clone())))),
            ("service", dict(rows.iter().map(|r| Some(r.0)).collect())),
        ],
    )
}

/// `temperature`: gauge with gaps: sensor `s1` at 0, 10, 30, 60 s, a sensor-less series at 0 and 30 s.
fn temperature() -> TableWrite {
    #[rustfmt::skip]
    let rows: [(i64, f64, Option<&str>); 6] =
        [(0, 10.0, Some("s1")), (10, 12.0, Some("s1")), (30, 18.0, Some("s1")), (60, 30.0, Some("s1")), (0, 5.0, None), (30, 8.0, None)];
    table(
        "temperature",
        &[(META_KIND, "gauge")],
        vec![
            ("time", secs(rows.iter().map(|r| r.0))),
            ("value", Arc::new(rows.iter().map(|r| Some(r.1)).collect::<Float64Array>())),
            ("sensor", dict(rows.iter().map(|r| r.2).collect())),
        ],
    )
}

/// `days`: gauge, hosts h1 and h2 every hour for five days from `T0`, all
/// flushed: one segment per UTC day. The value is `100 * day + hour`
/// (h2 adds 0.5). Host h3 (adding 0.25) reports only the first twelve hours
/// of the first day, so only that segment holds it and its last point is
/// older than the others'.
fn days() -> TableWrite {
    let (mut times, mut values, mut hosts) = (Vec::new(), Vec::new(), Vec::new());
    for day in 0..5i64 {
        for hour in 0..24i64 {
            let h3 = if day == 0 && hour < 12 { &[("h3", 0.25)][..] } else { &[] };
            for &(host, offset) in [("h1", 0.0), ("h2", 0.5)].iter().chain(h3) {
                times.push(T0 + (day * 24 + hour) * 3600 * SEC);
                values.push((100 * day + hour) as f64 + offset);
                hosts.push(Some(host));
            }
        }
    }
    TableWrite {
        table: "days".into(),
        batch: batch(
            "gauge",
            vec![("time", ts(times)), ("value", Arc::new(Float64Array::from(values))), ("host", dict(hosts))],
        ),
    }
}

/// Which fixtures a `.slt` file gets besides the base tables, by its name.
#[derive(Clone, Copy)]
struct Fixtures {
    /// `functions*`: the tables of the time-series functions.
    functions: bool,
    /// `pruning*`: `days`, one segment per day.
    days: bool,
}

/// A store with the base tables (`cpu`, `requests`) and the `fixtures`.
async fn seeded_engine(dir: &Path, fixtures: Fixtures) -> QueryEngine {
    let function_tables = fixtures.functions;
    let mut cfg = StoreConfig::new(dir);
    cfg.sync = SyncPolicy::Never;
    let store = tokio::task::spawn_blocking(move || Store::open(cfg)).await.expect("join").expect("open store");
    // Steps 0..3 go to Parquet segments, 3..6 stay in the memtable.
    store.write(vec![cpu(0..3)]).await.expect("write");
    let requests = batch(
        "sum",
        vec![
            ("time", ts(vec![T0, T0 + 10 * SEC, T0 + 20 * SEC, T0 + 30 * SEC])),
            ("start_time", ts(vec![T0 - SEC, T0 - SEC, T0 - SEC, T0 + 25 * SEC])),
            ("value", Arc::new(Float64Array::from(vec![10.0, 20.0, 35.0, 4.0]))),
            ("route", dict(vec![Some("/a"); 4])),
        ],
    );
    store.write(vec![TableWrite { table: "requests".into(), batch: requests }]).await.expect("write");
    // Function fixtures: earlier rows flushed, later ones in the memtable, so
    // aggregates merge partial states from both scans.
    if function_tables {
        let flushed = vec![
            http_requests_total(true),
            requests_delta(true),
            http_duration(true),
            request_latency(true),
            temperature(),
        ];
        store.write(flushed).await.expect("write");
    }
    if fixtures.days {
        store.write(vec![days()]).await.expect("write");
    }
    store.flush().await.expect("flush");
    store.write(vec![cpu(3..6)]).await.expect("write");
    if function_tables {
        let buffered = vec![
            http_requests_total(false),
            requests_delta(false),
            http_duration(false),
            request_latency(false),
            latency_exp(),
        ];
        store.write(buffered).await.expect("write");
    }
    // A later point brings a new attribute column; older rows read it as NULL.
    let with_rack = batch(
        "gauge",
        vec![
            ("time", ts(vec![T0 + 60 * SEC])),
            ("value", Arc::new(Float64Array::from(vec![99.0]))),
            ("host", dict(vec![Some("h1")])),
            ("rack", dict(vec![Some("r7")])),
        ],
    );
    store.write(vec![TableWrite { table: "cpu".into(), batch: with_rack }]).await.expect("write");
    QueryEngine::new(store, QueryConfig::default()).expect("engine")
}

fn slt_files(filter: Option<&str>) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .filter(|p| filter.is_none_or(|f| p.to_string_lossy().contains(f)))
        .collect();
    files.sort();
    files
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut failures = 0;
    let files = slt_files(filter.as_deref());
    for file in &files {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = rt.block_on(async {
            // Files named `functions*` / `pruning*` also get their fixtures
            // (other files list the catalog and expect only the base tables).
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let fixtures = Fixtures { functions: stem.starts_with("functions"), days: stem.starts_with("pruning") };
            let engine = seeded_engine(dir.path(), fixtures).await;
            let mut runner = sqllogictest::Runner::new(move || {
                let engine = engine.clone();
                async move { Ok::<_, DbError>(Db { engine }) }
            });
            runner.run_file_async(file).await
        });
        match result {
            Ok(()) => println!("ok   {}", file.display()),
            Err(e) => {
                failures += 1;
                println!("FAIL {}\n{e}", file.display());
            }
        }
    }
    println!("{} slt files, {failures} failed", files.len());
    if failures > 0 || files.is_empty() {
        std::process::exit(1);
    }
}
