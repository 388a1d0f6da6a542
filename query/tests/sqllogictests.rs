//! sqllogictest harness: every `tests/slt/*.slt` file runs against a fresh
//! store seeded with the fixture tables below (some rows flushed to Parquet
//! segments, some still in the memtable, one column added later).
//!
//! Run one file: `cargo test -p tidewater-query --test sqllogictests -- basics`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringDictionaryBuilder, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tidewater_query::{QueryConfig, QueryEngine};
use tidewater_storage::schema::META_KIND;
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
                rows.push(fmts.iter().map(|f| f.value(r).to_string()).map(|s| if s.is_empty() { "(empty)".into() } else { s }).collect());
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
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    let schema = Schema::new_with_metadata(fields, HashMap::from([(META_KIND.to_string(), kind.to_string())]));
    RecordBatch::try_new(Arc::new(schema), cols.into_iter().map(|(_, a)| a).collect()).expect("fixture batch")
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

async fn seeded_engine(dir: &Path) -> QueryEngine {
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
    store.flush().await.expect("flush");
    store.write(vec![cpu(3..6)]).await.expect("write");
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
            let engine = seeded_engine(dir.path()).await;
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
