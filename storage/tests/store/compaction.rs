//! Compaction: merged partitions keep every row exactly once, sorted, with
//! older segments' missing columns read as NULL; replaced files outlive the
//! swap by the grace period.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::Array;
use arrow::datatypes::DataType;
use tidewater_storage::segment::NANOS_PER_DAY;
use tidewater_storage::{ManualClock, Store, StoreConfig};

use super::{expected, read_segment, rows_write, rt, segment_files, table_rows, Row};

const DAY: i64 = 20_000;
const TEN_S: i64 = 10_000_000_000;

pub(super) fn config(dir: &std::path::Path, clock: &Arc<ManualClock>) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.clock = clock.clone();
    c
}

pub(super) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(DAY * NANOS_PER_DAY + NANOS_PER_DAY / 2))
}

/// Rows of flush `flush` on `day`: `n` points per host, region set if given.
pub(super) fn rows_for(
    flush: i64,
    day: i64,
    hosts: &[&str],
    n: i64,
    region: Option<&str>,
    value: impl Fn(i64) -> Option<f64>,
) -> Vec<Row> {
    let mut out = Vec::new();
    for (h, host) in hosts.iter().enumerate() {
        for i in 0..n {
            let t = day * NANOS_PER_DAY + (flush * 1000 + i) * TEN_S;
            out.push((host.to_string(), region.map(str::to_string), t, value(flush * 7 + i * 3 + h as i64)));
        }
    }
    out
}

/// Write and flush five times: four older batches without `region`, then
/// one with it; the first two flushes also write to the next day.
pub(super) fn five_flushes(store: &Store, rt: &tokio::runtime::Runtime) -> Vec<Row> {
    let mut all = Vec::new();
    for f in 0..5 {
        let region = (f == 4).then_some("eu");
        let mut rows = rows_for(f, DAY, &["b", "a", "c"], 40, region, |x| match x % 5 {
            0 => None,
            1 => Some(x as f64 * 0.5),
            _ => Some((x % 100) as f64),
        });
        if f < 2 {
            rows.extend(rows_for(f, DAY + 1, &["a"], 5, None, |x| Some(x as f64)));
        }
        rt.block_on(store.write(vec![rows_write("cpu", &rows)])).expect("write");
        rt.block_on(store.flush()).expect("flush");
        all.extend(rows);
    }
    all
}

fn partition_segments(store: &Store, day: i64) -> Vec<tidewater_storage::manifest::SegmentMeta> {
    let p = tidewater_storage::segment::day_string(day);
    store.segments().into_iter().filter(|s| s.partition == p).collect()
}

#[test]
fn compaction_merges_a_partition_sorted_and_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let store = Store::open(config(dir.path(), &clock)).expect("open");
    let all = five_flushes(&store, &rt);
    assert_eq!(partition_segments(&store, DAY).len(), 5);
    assert_eq!(partition_segments(&store, DAY + 1).len(), 2);
    assert!(store.compaction_due());
    let before = store.snapshot_table("cpu").expect("snap").expect("cpu");

    let summary = rt.block_on(store.compact()).expect("compact");
    assert_eq!((summary.jobs, summary.input_segments), (1, 5), "{summary:?}");
    let merged = partition_segments(&store, DAY);
    assert_eq!(merged.len(), 1, "one segment for the compacted day");
    // The manifest keeps the attribute values of flushed and merged segments.
    use tidewater_storage::manifest::AttrStats;
    let values = |v: &[&str]| AttrStats::Values(v.iter().map(|s| s.to_string()).collect());
    for seg in &before.segments {
        let stats = seg.attributes.as_ref().expect("flushed segments record attribute statistics");
        assert_eq!(
            stats.get("host"),
            Some(&values(if seg.partition == merged[0].partition { &["a", "b", "c"] } else { &["a"] }))
        );
    }
    let stats = merged[0].attributes.as_ref().expect("merged segment records attribute statistics");
    assert_eq!((stats.get("host"), stats.get("region")), (Some(&values(&["a", "b", "c"])), Some(&values(&["eu"]))));
    assert_eq!(partition_segments(&store, DAY + 1).len(), 2, "too few segments: left alone");
    assert!(!store.compaction_due());
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));

    // Sorted by (host, region, time); values stored as scaled integers (scale 1 for x.5).
    let schema = store.table_schema("cpu").expect("schema");
    let file_schema = {
        let f = std::fs::File::open(dir.path().join("segments").join(&merged[0].path)).expect("file");
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).expect("parquet").schema().clone()
    };
    assert_eq!(file_schema.field_with_name("value").expect("value").data_type(), &DataType::Decimal128(18, 1));
    let day_rows: Vec<Row> = all.iter().filter(|r| r.2 < (DAY + 1) * NANOS_PER_DAY).cloned().collect();
    let batches = read_segment(dir.path(), &merged[0].path, &schema);
    let mut seen = Vec::new();
    for b in &batches {
        let host = arrow::compute::cast(b.column_by_name("host").expect("host"), &DataType::Utf8).expect("cast");
        let host = host.as_any().downcast_ref::<arrow::array::StringArray>().expect("str");
        let region = arrow::compute::cast(b.column_by_name("region").expect("region"), &DataType::Utf8).expect("cast");
        let region = region.as_any().downcast_ref::<arrow::array::StringArray>().expect("str");
        let ts = b.column_by_name("time").expect("time");
        let ts = ts.as_any().downcast_ref::<arrow::array::TimestampNanosecondArray>().expect("ts");
        for i in 0..b.num_rows() {
            seen.push((
                host.value(i).to_string(),
                region.is_valid(i).then(|| region.value(i).to_string()),
                ts.value(i),
            ));
        }
    }
    assert_eq!(seen.len(), day_rows.len());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "merged segment sorted by (host, region, time)");
    assert_eq!(merged[0].min_time, day_rows.iter().map(|r| r.2).min().expect("rows"));
    assert_eq!(merged[0].max_time, day_rows.iter().map(|r| r.2).max().expect("rows"));

    // A query that listed the inputs before the swap can still read them.
    for seg in &before.segments {
        assert!(!read_segment(dir.path(), &seg.path, &before.schema).is_empty());
    }
    // After the grace period they are deleted and the manifest forgets them.
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 0, "grace period not over");
    clock.advance(Duration::from_secs(61));
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 5);
    let live: Vec<String> = store.segments().into_iter().map(|s| s.path).collect();
    let mut on_disk = segment_files(dir.path());
    on_disk.sort();
    let mut live_sorted = live.clone();
    live_sorted.sort();
    assert_eq!(on_disk, live_sorted, "only live segment files remain");
    // A reader holding the old list fails cleanly.
    let gone = dir.path().join("segments").join(&before.segments[0].path);
    assert!(tidewater_storage::segment_store::open_reader(&gone, 1024, None).is_err());

    drop(store);
    let store = Store::open(config(dir.path(), &clock)).expect("reopen");
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
}

#[test]
fn values_that_are_not_exact_decimals_stay_bit_identical_floats() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let store = Store::open(config(dir.path(), &clock)).expect("open");
    let specials = [0.1 + 0.2, f64::NAN, -0.0, f64::INFINITY, 1.0 / 3.0, 1e300, f64::MIN_POSITIVE];
    let mut all = Vec::new();
    for f in 0..4 {
        // Three inputs hold exact decimals (stored scaled), one holds the specials.
        let rows = rows_for(f, DAY, &["a", "b"], specials.len() as i64, None, |x| {
            Some(if f == 2 { specials[(x as usize) % specials.len()] } else { x as f64 / 4.0 })
        });
        rt.block_on(store.write(vec![rows_write("cpu", &rows)])).expect("write");
        rt.block_on(store.flush()).expect("flush");
        all.extend(rows);
    }
    assert_eq!(rt.block_on(store.compact()).expect("compact").jobs, 1);
    let merged = partition_segments(&store, DAY);
    assert_eq!(merged.len(), 1);
    let f = std::fs::File::open(dir.path().join("segments").join(&merged[0].path)).expect("file");
    let file_schema =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).expect("parquet").schema().clone();
    assert_eq!(file_schema.field_with_name("value").expect("value").data_type(), &DataType::Float64);
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
}

#[test]
fn partitions_with_few_segments_are_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let store = Store::open(config(dir.path(), &clock)).expect("open");
    for f in 0..3 {
        rt.block_on(store.write(vec![rows_write("cpu", &rows_for(f, DAY, &["a"], 3, None, |x| Some(x as f64)))]))
            .expect("write");
        rt.block_on(store.flush()).expect("flush");
    }
    assert!(!store.compaction_due());
    assert_eq!(rt.block_on(store.compact()).expect("compact").jobs, 0);
    assert_eq!(store.segments().len(), 3);
}

#[test]
fn the_background_loop_compacts_when_a_partition_has_enough_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let clock = clock();
    let store = Store::open(config(dir.path(), &clock)).expect("open");
    let mut all = Vec::new();
    for f in 0..4 {
        let rows = rows_for(f, DAY, &["a", "b"], 10, None, |x| Some(x as f64));
        rt.block_on(store.write(vec![rows_write("cpu", &rows)])).expect("write");
        rt.block_on(store.flush()).expect("flush");
        all.extend(rows);
    }
    let _loop = {
        let _runtime = rt.enter();
        store.spawn_flusher()
    };
    // Polls the outcome of the once-a-second loop; no fixed sleep.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.segments().len() > 1 {
        assert!(std::time::Instant::now() < deadline, "background compaction did not run");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
    rt.block_on(store.close()).expect("close");
}

#[test]
fn inputs_larger_than_one_batch_are_streamed_and_merged_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let store = Store::open(config(dir.path(), &clock)).expect("open");
    let mut all = Vec::new();
    for f in 0..4 {
        // 3 x 9000 rows per segment: several 8192-row reader batches each.
        let rows = rows_for(f, DAY, &["c", "a", "b"], 9000, None, |x| Some((x % 1000) as f64 / 100.0));
        rt.block_on(store.write(vec![rows_write("cpu", &rows)])).expect("write");
        rt.block_on(store.flush()).expect("flush");
        all.extend(rows);
    }
    // 9000 points at 10 s span two days: two partitions, one job each.
    let summary = rt.block_on(store.compact()).expect("compact");
    assert_eq!((summary.jobs, summary.input_segments, summary.rows), (2, 8, all.len() as u64));
    assert_eq!(store.segments().len(), 2);
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
}
