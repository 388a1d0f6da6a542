//! Fault injection: crashes before and after compaction's manifest swap, a
//! manifest write torn before its rename, a WAL write cut short (full disk),
//! a failed WAL fsync, and a WAL record damaged in the middle of the file.

use std::time::Duration;

use tidewater_storage::{wal, FailPoint, Store, StoreConfig};

use super::compaction::{clock, config, five_flushes};
use super::{expected, rt, segment_files, table_rows, times, with_logs, write_of};

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

/// Open a store on `dir` that fails at `fail_point`, make four writes of ten
/// rows each (times 0..40), and return which were acknowledged. The store is
/// then dropped without close, as if the process died.
fn four_writes_with(dir: &std::path::Path, fail_point: FailPoint) -> Vec<Result<(), String>> {
    let rt = rt();
    let mut c = StoreConfig::new(dir);
    c.fail_point = Some(fail_point);
    let store = Store::open(c).expect("open");
    (0..4)
        .map(|i| {
            let write = store.write(vec![write_of("cpu", "gauge", i * 10, 10)]);
            rt.block_on(write).map(|_| ()).map_err(|e| e.to_string())
        })
        .collect()
}

#[test]
fn short_wal_write_loses_nothing_acknowledged_and_the_server_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let acks = four_writes_with(dir.path(), FailPoint::WalShortWriteAt(3));
    assert!(acks[0].is_ok() && acks[1].is_ok(), "{acks:?}");
    assert!(acks[2].as_ref().is_err_and(|e| e.contains("short WAL write")), "{acks:?}");
    // After a failed write the WAL refuses everything rather than append behind a torn record.
    assert!(acks[3].as_ref().is_err_and(|e| e.contains("short WAL write")), "{acks:?}");

    let (store, log) = with_logs(|| Store::open(StoreConfig::new(dir.path())).expect("reopen"));
    assert!(log.contains("WAL tail is torn"), "torn half-record truncated and logged: {log}");
    assert_eq!(times(&store, dir.path(), "cpu"), (0..20).collect::<Vec<_>>(), "exactly the acknowledged rows");
    rt().block_on(store.write(vec![write_of("cpu", "gauge", 100, 5)])).expect("writes work again");
}

#[test]
fn failed_wal_fsync_acknowledges_nothing_after_it_and_the_server_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let acks = four_writes_with(dir.path(), FailPoint::WalSyncErrorAt(2));
    assert!(acks[0].is_ok(), "{acks:?}");
    for a in &acks[1..] {
        assert!(a.as_ref().is_err_and(|e| e.contains("fsync failed")), "{acks:?}");
    }
    let store = Store::open(StoreConfig::new(dir.path())).expect("reopen");
    let got = times(&store, dir.path(), "cpu");
    // The acknowledged write is there. The write whose fsync failed was
    // written but never acknowledged: it may or may not have reached the
    // disk, so a client retry could duplicate it; nothing after it was written.
    assert!(got == (0..10).collect::<Vec<_>>() || got == (0..20).collect::<Vec<_>>(), "{got:?}");
}

#[test]
fn damaged_middle_wal_record_is_skipped_and_later_acknowledged_ones_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    {
        let store = Store::open(StoreConfig::new(dir.path())).expect("open");
        for i in 0..3 {
            rt.block_on(store.write(vec![write_of("cpu", "gauge", i * 10, 10)])).expect("write");
        }
    }
    let wal_dir = dir.path().join("wal");
    let id = *wal::list_files(&wal_dir).expect("list").last().expect("a wal file");
    let path = wal::file_path(&wal_dir, id);
    let mut data = std::fs::read(&path).expect("read");
    let replay = wal::replay_bytes(&data).expect("replay");
    assert_eq!(replay.records.len(), 3);
    // Flip a byte inside the second record's payload (bit rot).
    let h = wal::HEADER_LEN;
    let first = 8 + u32::from_le_bytes([data[h], data[h + 1], data[h + 2], data[h + 3]]) as usize;
    let at = h + first + 12;
    data[at] ^= 0x10;
    std::fs::write(&path, &data).expect("write");

    let (store, log) = with_logs(|| Store::open(StoreConfig::new(dir.path())).expect("reopen"));
    assert!(log.contains("damaged on disk") && log.contains("checksum mismatch"), "log: {log}");
    let want: Vec<i64> = (0..10).chain(20..30).collect();
    assert_eq!(times(&store, dir.path(), "cpu"), want, "records behind the damaged one are kept");
    assert_eq!(std::fs::metadata(&path).expect("meta").len() as usize, data.len(), "not truncated");
}
