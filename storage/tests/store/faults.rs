//! Fault injection around compaction: crashes before and after the manifest
//! swap, and a manifest write torn before its rename.

use std::time::Duration;

use tidewater_storage::{FailPoint, Store};

use super::compaction::{clock, config, five_flushes};
use super::{expected, rt, segment_files, table_rows, with_logs};

#[test]
fn crash_between_merged_segment_write_and_manifest_swap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let all;
    let inputs;
    {
        let mut c = config(dir.path(), &clock);
        c.fail_point = Some(FailPoint::CompactionBeforeManifestSwap);
        let store = Store::open(c).expect("open");
        all = five_flushes(&store, &rt);
        inputs = store.segments();
        let err = rt.block_on(store.compact()).expect_err("fail point hit");
        assert!(err.to_string().contains("fail point"), "{err}");
        // The merged file is durable on disk but no manifest names it.
        assert_eq!(segment_files(dir.path()).len(), inputs.len() + 1);
        // Process dies here.
    }
    let (store, log) = with_logs(|| Store::open(config(dir.path(), &clock)).expect("reopen"));
    assert!(log.contains("not in the manifest"), "orphan removal logged: {log}");
    let mut live: Vec<String> = inputs.iter().map(|s| s.path.clone()).collect();
    live.sort();
    assert_eq!(segment_files(dir.path()), live, "orphan merged file removed, inputs kept");
    assert_eq!(store.segments(), inputs, "inputs still the live segments");
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
    // Compaction succeeds after the restart.
    assert_eq!(rt.block_on(store.compact()).expect("compact").jobs, 1);
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
}

#[test]
fn torn_manifest_temp_file_from_an_interrupted_swap_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let all;
    let inputs;
    {
        let mut c = config(dir.path(), &clock);
        c.fail_point = Some(FailPoint::CompactionBeforeManifestSwap);
        let store = Store::open(c).expect("open");
        all = five_flushes(&store, &rt);
        inputs = store.segments();
        assert!(rt.block_on(store.compact()).is_err());
    }
    // The swap died while writing the next manifest version: a truncated temp file.
    let manifest_dir = dir.path().join("manifest");
    let newest = std::fs::read_dir(&manifest_dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .max()
        .expect("a manifest");
    let seq: u64 = newest.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse().ok()).expect("seq");
    let data = std::fs::read(&newest).expect("read");
    let tmp = manifest_dir.join(format!("{:020}.tmp", seq + 1));
    std::fs::write(&tmp, &data[..data.len() / 2]).expect("write tmp");

    let store = Store::open(config(dir.path(), &clock)).expect("reopen");
    assert!(!tmp.exists(), "torn temp manifest removed");
    assert_eq!(store.segments(), inputs);
    assert_eq!(segment_files(dir.path()).len(), inputs.len());
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
    // The next manifest version is written normally over the same sequence number.
    assert_eq!(rt.block_on(store.compact()).expect("compact").jobs, 1);
    drop(store);
    let store = Store::open(config(dir.path(), &clock)).expect("reopen");
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all));
}

#[test]
fn crash_after_swap_before_input_deletion_deletes_inputs_on_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, clock) = (rt(), clock());
    let all;
    let inputs;
    {
        let store = Store::open(config(dir.path(), &clock)).expect("open");
        all = five_flushes(&store, &rt);
        inputs = store.segments();
        assert_eq!(rt.block_on(store.compact()).expect("compact").jobs, 1);
        // Inputs are pending deletion (grace period); the process dies now.
        assert_eq!(segment_files(dir.path()).len(), inputs.len() + 1);
    }
    let store = Store::open(config(dir.path(), &clock)).expect("reopen");
    let mut live: Vec<String> = store.segments().into_iter().map(|s| s.path).collect();
    live.sort();
    assert_eq!(live.len(), 3, "merged segment plus the two next-day segments");
    assert_eq!(segment_files(dir.path()), live, "replaced inputs deleted on start");
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&all), "every row exactly once");
    let rows: u64 = store.table_stats().iter().map(|t| t.rows).sum();
    assert_eq!(rows, all.len() as u64);
    // Nothing is pending any more: the clock moving on deletes nothing.
    clock.advance(Duration::from_secs(3600));
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 0);
}
