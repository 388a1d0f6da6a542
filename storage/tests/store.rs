//! Store-level tests, one binary: recovery (crash = drop without close, torn
//! WAL tails, interrupted flushes), compaction, retention, fault injection,
//! value compression and segments in S3 (submodules under `tests/store/`).

#[path = "store/compaction.rs"]
mod compaction;
#[path = "store/compression.rs"]
mod compression;
#[path = "store/faults.rs"]
mod faults;
#[path = "store/moto.rs"]
mod moto;
#[path = "store/object_store.rs"]
mod object_storage;
#[path = "store/retention.rs"]
mod retention;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use tidewater_storage::schema::{time_type, META_KIND};
use tidewater_storage::{wal, Store, StoreConfig, TableWrite};

fn write_of(table: &str, kind: &str, start: i64, n: usize) -> TableWrite {
    let schema = Schema::new_with_metadata(
        vec![Field::new("time", time_type(), true), Field::new("value", DataType::Float64, true)],
        HashMap::from([(META_KIND.to_string(), kind.to_string())]),
    );
    let times: Vec<i64> = (0..n as i64).map(|i| start + i).collect();
    let values: Vec<f64> = times.iter().map(|t| *t as f64).collect();
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC")),
            Arc::new(Float64Array::from(values)),
        ],
    )
    .expect("batch");
    TableWrite { table: table.into(), batch }
}

fn open(dir: &Path) -> Arc<Store> {
    Store::open(StoreConfig::new(dir)).expect("open")
}

/// All `time` values of a table (segments are read with the parquet crate).
fn times(store: &Store, dir: &Path, table: &str) -> Vec<i64> {
    let snap = store.snapshot_table(table).expect("snapshot").expect("table exists");
    let mut out = Vec::new();
    let mut batches = snap.batches.clone();
    for seg in &snap.segments {
        let f = std::fs::File::open(dir.join("segments").join(&seg.path)).expect("segment file");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .expect("parquet")
            .build()
            .expect("reader");
        batches.extend(reader.map(|b| b.expect("batch")));
    }
    for b in batches {
        let col = b.column_by_name("time").expect("time");
        let ts = col.as_any().downcast_ref::<TimestampNanosecondArray>().expect("ts");
        out.extend(ts.iter().flatten());
    }
    out.sort_unstable();
    out
}

/// One row of a test table: host, region (a column newer writes add), time, value.
type Row = (String, Option<String>, i64, Option<f64>);

/// A write of `rows` to `table` with columns time, value, host and, if any
/// row has one, region (a gauge).
fn rows_write(table: &str, rows: &[Row]) -> TableWrite {
    use arrow::array::{ArrayRef, DictionaryArray};
    use arrow::datatypes::Int32Type;
    use tidewater_storage::schema::attribute_type;
    let with_region = rows.iter().any(|r| r.1.is_some());
    let mut fields = vec![
        Field::new("time", time_type(), true),
        Field::new("value", DataType::Float64, true),
        Field::new("host", attribute_type(), true),
    ];
    let hosts: DictionaryArray<Int32Type> = rows.iter().map(|r| Some(r.0.as_str())).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>()).with_timezone("UTC")),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
        Arc::new(hosts),
    ];
    if with_region {
        fields.push(Field::new("region", attribute_type(), true));
        let regions: DictionaryArray<Int32Type> = rows.iter().map(|r| r.1.as_deref()).collect();
        columns.push(Arc::new(regions));
    }
    let schema = Schema::new_with_metadata(fields, HashMap::from([(META_KIND.to_string(), "gauge".to_string())]));
    TableWrite { table: table.into(), batch: RecordBatch::try_new(Arc::new(schema), columns).expect("batch") }
}

/// Every row of a table (segments read with the parquet crate and reshaped
/// to the table schema, plus buffered rows), sorted, values as bits so that
/// equality is bit-exact.
fn table_rows(store: &Store, dir: &Path, table: &str) -> Vec<(String, Option<String>, i64, Option<u64>)> {
    let snap = store.snapshot_table(table).expect("snapshot").expect("table exists");
    let mut batches = snap.batches.clone();
    for seg in &snap.segments {
        batches.extend(read_segment(dir, &seg.path, &snap.schema));
    }
    batch_rows(batches)
}

/// The rows of table-shaped batches in the form [`table_rows`] returns.
fn batch_rows(batches: Vec<RecordBatch>) -> Vec<(String, Option<String>, i64, Option<u64>)> {
    let mut out = Vec::new();
    for b in batches {
        let text = |name: &str| -> Vec<Option<String>> {
            match b.column_by_name(name) {
                Some(c) => {
                    let c = arrow::compute::cast(c, &DataType::Utf8).expect("cast");
                    let c = c.as_any().downcast_ref::<arrow::array::StringArray>().expect("utf8");
                    c.iter().map(|v| v.map(str::to_string)).collect()
                }
                None => vec![None; b.num_rows()],
            }
        };
        let (hosts, regions) = (text("host"), text("region"));
        let ts = b.column_by_name("time").expect("time");
        let ts = ts.as_any().downcast_ref::<TimestampNanosecondArray>().expect("ts");
        let vs = b.column_by_name("value").expect("value");
        let vs = vs.as_any().downcast_ref::<Float64Array>().expect("f64");
        for i in 0..b.num_rows() {
            let v = vs.is_valid(i).then(|| vs.value(i).to_bits());
            out.push((hosts[i].clone().unwrap_or_default(), regions[i].clone(), ts.value(i), v));
        }
    }
    out.sort();
    out
}

/// A segment file's batches, reshaped to `schema` as the query layer sees them.
fn read_segment(dir: &Path, rel: &str, schema: &arrow::datatypes::SchemaRef) -> Vec<RecordBatch> {
    let f = std::fs::File::open(dir.join("segments").join(rel)).expect("segment file");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet")
        .build()
        .expect("reader");
    reader.map(|b| tidewater_storage::encoding::to_table_batch(&b.expect("batch"), schema).expect("adapt")).collect()
}

/// Expected rows in the form [`table_rows`] returns.
fn expected(rows: &[Row]) -> Vec<(String, Option<String>, i64, Option<u64>)> {
    let mut out: Vec<_> = rows.iter().map(|r| (r.0.clone(), r.1.clone(), r.2, r.3.map(f64::to_bits))).collect();
    out.sort();
    out
}

/// Relative paths of the `.parquet` files under `segments/`.
fn segment_files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("prefix").to_string_lossy().to_string());
            }
        }
    }
    let root = dir.join("segments");
    let mut out = Vec::new();
    if root.exists() {
        walk(&root, &root, &mut out);
    }
    out.sort();
    out
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Capture log lines written while `f` runs.
fn with_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || sink.clone()).finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
    (out, text)
}

#[test]
fn acknowledged_writes_survive_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    {
        let store = open(dir.path());
        for i in 0..5 {
            rt.block_on(store.write(vec![write_of("cpu", "gauge", i * 10, 10)])).expect("write");
        }
        // Dropped without close or flush: as after SIGKILL.
    }
    let store = open(dir.path());
    assert_eq!(times(&store, dir.path(), "cpu"), (0..50).collect::<Vec<_>>());
}

#[test]
fn torn_wal_tail_is_truncated_and_logged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    {
        let store = open(dir.path());
        for i in 0..3 {
            rt.block_on(store.write(vec![write_of("cpu", "gauge", i * 10, 10)])).expect("write");
        }
    }
    let wal_dir = dir.path().join("wal");
    let id = *wal::list_files(&wal_dir).expect("list").last().expect("a wal file");
    let path = wal::file_path(&wal_dir, id);
    let good_len = std::fs::metadata(&path).expect("meta").len();
    // A record header promising more bytes than were written: a torn append.
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open wal");
    f.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]).expect("append");
    drop(f);

    let (store, log) = with_logs(|| open(dir.path()));
    assert_eq!(times(&store, dir.path(), "cpu"), (0..30).collect::<Vec<_>>());
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), good_len, "torn tail truncated");
    assert!(log.contains("WAL tail is torn") && log.contains("dropped_bytes=10"), "log: {log}");
}

#[test]
fn corrupted_last_record_is_dropped_and_earlier_ones_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    {
        let store = open(dir.path());
        for i in 0..3 {
            rt.block_on(store.write(vec![write_of("cpu", "gauge", i * 10, 10)])).expect("write");
        }
    }
    let wal_dir = dir.path().join("wal");
    let id = *wal::list_files(&wal_dir).expect("list").last().expect("a wal file");
    let path = wal::file_path(&wal_dir, id);
    let mut data = std::fs::read(&path).expect("read");
    let n = data.len();
    data[n - 5] ^= 0xff;
    std::fs::write(&path, data).expect("write");
    let (store, log) = with_logs(|| open(dir.path()));
    assert_eq!(times(&store, dir.path(), "cpu"), (0..20).collect::<Vec<_>>());
    assert!(log.contains("checksum mismatch"), "log: {log}");
}

#[test]
fn flush_moves_rows_to_segments_and_deletes_covered_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    {
        let store = open(dir.path());
        rt.block_on(store.write(vec![write_of("cpu", "gauge", 0, 100), write_of("mem", "gauge", 5, 3)]))
            .expect("write");
        rt.block_on(store.flush()).expect("flush");
        rt.block_on(store.write(vec![write_of("cpu", "gauge", 100, 10)])).expect("write");
        let snap = store.snapshot_table("cpu").expect("snap").expect("cpu");
        assert_eq!(snap.segments.len(), 1);
        assert_eq!(snap.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
    }
    let wal_files = wal::list_files(&dir.path().join("wal")).expect("list");
    assert!(wal_files.len() <= 2, "covered WAL files deleted: {wal_files:?}");
    let store = open(dir.path());
    assert_eq!(times(&store, dir.path(), "cpu"), (0..110).collect::<Vec<_>>());
    assert_eq!(times(&store, dir.path(), "mem"), vec![5, 6, 7]);
}

#[test]
fn crash_between_segment_write_and_manifest_swap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    {
        let store = open(dir.path());
        rt.block_on(store.write(vec![write_of("cpu", "gauge", 0, 10)])).expect("write");
    }
    // A segment file that no manifest names, as a flush leaves it when the
    // process dies before the manifest swap.
    let orphan = dir.path().join("segments/cpu/1970-01-01/00000000000000000001.parquet");
    std::fs::create_dir_all(orphan.parent().expect("parent")).expect("mkdir");
    std::fs::write(&orphan, b"half-written").expect("orphan");
    let store = open(dir.path());
    assert!(!orphan.exists(), "orphan segment removed");
    assert_eq!(times(&store, dir.path(), "cpu"), (0..10).collect::<Vec<_>>());
    // And a flush after that works and is readable after restart.
    rt.block_on(store.flush()).expect("flush");
    drop(store);
    let store = open(dir.path());
    assert_eq!(times(&store, dir.path(), "cpu"), (0..10).collect::<Vec<_>>());
}

#[test]
fn schema_clash_is_rejected_per_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    let store = open(dir.path());
    rt.block_on(store.write(vec![write_of("x", "gauge", 0, 1)])).expect("write");
    let out = rt.block_on(store.write(vec![write_of("x", "sum", 1, 1), write_of("y", "sum", 1, 2)])).expect("write");
    assert_eq!(out.accepted_rows, 2);
    assert_eq!(out.rejected.len(), 1);
    assert!(out.rejected[0].2.contains("gauge"), "{:?}", out.rejected);
}

#[test]
fn one_large_table_triggers_a_flush_before_the_global_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    let mut c = StoreConfig::new(dir.path());
    c.flush_bytes = 1 << 30;
    c.table_flush_bytes = 64 << 10;
    let store = Store::open(c).expect("open");
    for t in 0..10 {
        rt.block_on(store.write(vec![write_of(&format!("small_{t}"), "gauge", 0, 100)])).expect("write");
    }
    assert!(!store.flush_due(), "ten small tables stay buffered");
    rt.block_on(store.write(vec![write_of("big", "gauge", 0, 10_000)])).expect("write");
    assert!(store.flush_due(), "one table past table_flush_bytes makes a flush due");
    rt.block_on(store.flush()).expect("flush");
    assert!(!store.flush_due());
    assert_eq!(store.buffered_bytes(), 0);
}
