//! Segments and manifests in S3, against a real S3-compatible server
//! (`moto_server`, started per test): write, flush, restart (also on an empty
//! data directory), read back exact values; compaction and retention delete
//! their objects after the grace period; orphans of an interrupted
//! compaction go on start; large files use multipart uploads.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use bytes::Bytes;
use object_store::ObjectStoreExt;
use tidewater_storage::segment::{day_string, NANOS_PER_DAY};
use tidewater_storage::{object, ErrorKind, FailPoint, ManualClock, S3Config, Store, StoreConfig};

use super::compaction::{clock, five_flushes, rows_for};
use super::moto::Moto;
use super::{batch_rows, expected, rows_write, rt, Row};

const BUCKET: &str = "tidewater";

fn s3(moto: &Moto) -> S3Config {
    S3Config {
        url: format!("s3://{BUCKET}/test/prefix"),
        endpoint: Some(moto.endpoint.clone()),
        region: Some("us-east-1".into()),
        allow_http: true,
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
    }
}

fn config(dir: &Path, moto: &Moto, clock: &Arc<ManualClock>) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.s3 = Some(s3(moto));
    c.clock = clock.clone();
    c
}

fn moto() -> Moto {
    let m = Moto::start();
    m.create_bucket(BUCKET);
    m
}

/// Every object under the configured prefix, relative to it, sorted.
fn objects(rt: &tokio::runtime::Runtime, moto: &Moto) -> Vec<String> {
    let root = object::build(&s3(moto)).expect("client");
    let mut names: Vec<String> = rt
        .block_on(object::list(root.as_ref(), None))
        .expect("list")
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
    names.sort();
    names
}

fn segment_objects(rt: &tokio::runtime::Runtime, moto: &Moto) -> Vec<String> {
    objects(rt, moto).into_iter().filter_map(|p| p.strip_prefix("segments/").map(str::to_string)).collect()
}

/// Every row of a table: segments read from the object store (as queries
/// read them) plus buffered rows.
fn table_rows(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    table: &str,
) -> Vec<(String, Option<String>, i64, Option<u64>)> {
    let snap = store.snapshot_table(table).expect("snapshot").expect("table exists");
    let mut batches: Vec<RecordBatch> = snap.batches.clone();
    let objects = store.object_store();
    for seg in &snap.segments {
        let data: Bytes = rt
            .block_on(async {
                objects.get(&object_store::path::Path::from(seg.path.as_str())).await.expect("get").bytes().await
            })
            .expect("bytes");
        assert_eq!(data.len() as u64, seg.bytes, "object size matches the manifest");
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(data)
            .expect("parquet")
            .build()
            .expect("reader");
        batches
            .extend(reader.map(|b| {
                tidewater_storage::encoding::to_table_batch(&b.expect("batch"), &snap.schema).expect("adapt")
            }));
    }
    batch_rows(batches)
}

fn live_paths(store: &Store) -> Vec<String> {
    let mut live: Vec<String> = store.segments().into_iter().map(|s| s.path).collect();
    live.sort();
    live
}

fn local_files(dir: &Path, sub: &str) -> usize {
    std::fs::read_dir(dir.join(sub)).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn s3_write_flush_restart_and_read_back_exact_values() {
    let moto = moto();
    let (rt, clock) = (rt(), clock());
    let dir = tempfile::tempdir().expect("tempdir");
    let day = 20_000;
    let first: Vec<Row> = rows_for(0, day, &["b", "a"], 50, None, |x| Some(x as f64 * 0.1 + 1e-9))
        .into_iter()
        .chain(rows_for(1, day + 1, &["a"], 5, Some("eu"), |x| (x % 3 != 0).then_some(x as f64)))
        .collect();
    let mem = rows_for(0, day, &["m"], 3, None, |x| Some(-(x as f64)));
    let later = rows_for(2, day + 1, &["c"], 7, Some("us"), |x| Some(x as f64 / 8.0));
    {
        let store = rt.block_on(Store::open_async(config(dir.path(), &moto, &clock))).expect("open");
        rt.block_on(store.write(vec![rows_write("cpu", &first), rows_write("mem", &mem)])).expect("write");
        rt.block_on(store.flush()).expect("flush");
        // Two partitions of cpu, one of mem: three objects, named by a manifest object.
        assert_eq!(segment_objects(&rt, &moto), live_paths(&store));
        assert_eq!(store.segments().len(), 3);
        assert!(objects(&rt, &moto).iter().any(|o| o.starts_with("manifest/") && o.ends_with(".json")));
        assert_eq!(local_files(dir.path(), "segments") + local_files(dir.path(), "manifest"), 0, "nothing local");
        assert_eq!(local_files(dir.path(), "staging"), 0, "staging files removed after upload");
        assert_eq!(table_rows(&rt, &store, "cpu"), expected(&first));
        // Acknowledged but not flushed: only in the local WAL when the process dies.
        rt.block_on(store.write(vec![rows_write("cpu", &later)])).expect("write");
    }
    let all: Vec<Row> = first.iter().chain(&later).cloned().collect();
    let store = rt.block_on(Store::open_async(config(dir.path(), &moto, &clock))).expect("reopen");
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&all), "segments from S3 plus the replayed WAL");
    assert_eq!(table_rows(&rt, &store, "mem"), expected(&mem));
    rt.block_on(store.close()).expect("close");
    drop(store);

    // A new machine: an empty data directory, the same bucket.
    let fresh = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(Store::open_async(config(fresh.path(), &moto, &clock))).expect("open elsewhere");
    assert_eq!(store.table_names(), vec!["cpu", "mem"]);
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&all));
    assert_eq!(table_rows(&rt, &store, "mem"), expected(&mem));
    assert!(store.snapshot_table("cpu").expect("snapshot").expect("cpu").batches.is_empty(), "all from S3");
    // New writes get new segment ids and WAL files; a second flush adds objects.
    let more = rows_for(3, day, &["d"], 4, None, |x| Some(x as f64));
    rt.block_on(store.write(vec![rows_write("cpu", &more)])).expect("write");
    rt.block_on(store.flush()).expect("flush");
    assert_eq!(segment_objects(&rt, &moto), live_paths(&store));
    let ids: std::collections::HashSet<u64> = store.segments().iter().map(|s| s.id).collect();
    assert_eq!(ids.len(), store.segments().len(), "segment ids stay unique");
    let all: Vec<Row> = all.into_iter().chain(more).collect();
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&all));
}

#[test]
fn s3_compaction_merges_segments_and_deletes_inputs_after_the_grace_period() {
    let moto = moto();
    let (rt, clock) = (rt(), clock());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = rt.block_on(Store::open_async(config(dir.path(), &moto, &clock))).expect("open");
    let all = five_flushes(&store, &rt);
    let inputs = live_paths(&store);
    assert_eq!(inputs.len(), 7);
    let summary = rt.block_on(store.compact()).expect("compact");
    assert_eq!((summary.jobs, summary.input_segments), (1, 5));
    assert_eq!(store.segments().len(), 3, "one merged segment plus the next day's two");
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&all));
    assert_eq!(local_files(dir.path(), "staging"), 0, "downloaded inputs and the upload removed");
    // The replaced inputs stay in the bucket for the grace period.
    assert_eq!(segment_objects(&rt, &moto).len(), 3 + 5);
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 0);
    clock.advance(Duration::from_secs(61));
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 5);
    assert_eq!(segment_objects(&rt, &moto), live_paths(&store), "only live objects remain");
    drop(store);
    let store = rt.block_on(Store::open_async(config(dir.path(), &moto, &clock))).expect("reopen");
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&all));
}

#[test]
fn s3_orphan_of_an_interrupted_compaction_is_removed_on_start() {
    let moto = moto();
    let (rt, clock) = (rt(), clock());
    let dir = tempfile::tempdir().expect("tempdir");
    let (all, inputs);
    {
        let mut c = config(dir.path(), &moto, &clock);
        c.fail_point = Some(FailPoint::CompactionBeforeManifestSwap);
        let store = rt.block_on(Store::open_async(c)).expect("open");
        all = five_flushes(&store, &rt);
        inputs = live_paths(&store);
        assert!(rt.block_on(store.compact()).is_err(), "fail point hit");
        // The merged object was uploaded, but no manifest names it.
        assert_eq!(segment_objects(&rt, &moto).len(), inputs.len() + 1);
    }
    let store = rt.block_on(Store::open_async(config(dir.path(), &moto, &clock))).expect("reopen");
    assert_eq!(live_paths(&store), inputs);
    assert_eq!(segment_objects(&rt, &moto), inputs, "orphan merged object deleted");
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&all));
}

#[test]
fn s3_retention_deletes_expired_partitions_objects_and_manifest_entries() {
    let moto = moto();
    let rt = rt();
    let today = 20_100;
    let clock = Arc::new(ManualClock::new(today * NANOS_PER_DAY + NANOS_PER_DAY / 2));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path(), &moto, &clock);
    c.retention = Some(Duration::from_secs(2 * 86_400));
    let store = rt.block_on(Store::open_async(c.clone())).expect("open");
    let mut cpu = Vec::new();
    for (i, day) in [today - 5, today - 3, today - 2, today].into_iter().enumerate() {
        cpu.extend(rows_for(i as i64, day, &["a", "b"], 3, None, |x| Some(x as f64)));
    }
    rt.block_on(store.write(vec![rows_write("cpu", &cpu)])).expect("write");
    rt.block_on(store.flush()).expect("flush");
    assert_eq!(segment_objects(&rt, &moto).len(), 4);

    assert_eq!(rt.block_on(store.apply_retention()).expect("retention"), 2, "days today-5 and today-3");
    let partitions: Vec<String> = store.segments().into_iter().map(|s| s.partition).collect();
    assert_eq!(partitions.len(), 2);
    assert!(partitions.iter().all(|p| *p >= day_string(today - 2)), "{partitions:?}");
    let kept: Vec<Row> = cpu.iter().filter(|r| r.2 >= (today - 2) * NANOS_PER_DAY).cloned().collect();
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&kept));
    clock.advance(Duration::from_secs(60));
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 2);
    assert_eq!(segment_objects(&rt, &moto), live_paths(&store));
    drop(store);
    // The manifest in the bucket no longer names the dropped partitions.
    let store = rt.block_on(Store::open_async(c)).expect("reopen");
    assert_eq!(store.segments().len(), 2);
    assert_eq!(table_rows(&rt, &store, "cpu"), expected(&kept));
}

#[test]
fn s3_large_files_are_uploaded_in_parts_and_downloaded_whole() {
    let moto = moto();
    let rt = rt();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = object::build(&s3(&moto)).expect("client");
    // Not compressible, 2.5 parts long.
    let len = object::UPLOAD_PART_BYTES * 5 / 2;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let src = dir.path().join("big");
    std::fs::write(&src, &data).expect("write");
    let path = object_store::path::Path::from("segments/big.parquet");
    assert_eq!(rt.block_on(object::upload_file(root.as_ref(), &src, &path)).expect("upload"), len as u64);
    let meta = rt.block_on(root.head(&path)).expect("head");
    assert_eq!(meta.size, len as u64);
    let etag = meta.e_tag.expect("etag");
    assert!(etag.trim_matches('"').ends_with("-3"), "a three-part multipart upload: {etag}");
    let back = dir.path().join("back");
    assert_eq!(rt.block_on(object::download_file(root.as_ref(), &path, &back)).expect("download"), len as u64);
    assert!(std::fs::read(&back).expect("read") == data, "downloaded bytes equal the uploaded ones");
}

#[test]
fn s3_misuse_is_refused_with_clear_errors() {
    let moto = moto();
    let (rt, clock) = (rt(), clock());
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open(config(dir.path(), &moto, &clock)).expect_err("sync open refuses S3");
    assert!(err.to_string().contains("open_async"), "{err}");
    // A data directory with a local manifest is not silently switched to S3.
    let local = Store::open(StoreConfig::new(dir.path())).expect("local open");
    rt.block_on(local.write(vec![rows_write("cpu", &rows_for(0, 20_000, &["a"], 2, None, |x| Some(x as f64)))]))
        .expect("write");
    rt.block_on(local.close()).expect("close");
    drop(local);
    let err = rt.block_on(Store::open_async(config(dir.path(), &moto, &clock))).expect_err("refused");
    assert!(err.to_string().contains("local manifest"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Internal);
    // A bucket that does not exist fails the open, naming the object store.
    let other = tempfile::tempdir().expect("tempdir");
    let mut c = config(other.path(), &moto, &clock);
    if let Some(s3) = c.s3.as_mut() {
        s3.url = "s3://no-such-bucket".into();
    }
    let err = rt.block_on(Store::open_async(c)).expect_err("missing bucket");
    assert!(err.to_string().contains("object store"), "{err}");
}
