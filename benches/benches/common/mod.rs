//! Fixtures shared by the storage benches: TSBS cpu-only data from the load
//! generator, turned into Arrow batches by the server's own remote-write
//! conversion (so the batches are shaped exactly as the store receives them).

// Each bench uses a subset of these fixtures.
#![allow(dead_code)]

use tidewater_benches::loadgen::payload::{encode, Target};
use tidewater_benches::loadgen::workload::{shards, Batch, Spec, WorkloadKind};
use tidewater_ingest::metrics::PointLimits;
use tidewater_ingest::remote_write;
use tidewater_storage::TableWrite;

/// 2026-01-01T00:00:05Z in Unix nanoseconds: 5 s after midnight, like the peer harness.
pub const START_NS: i64 = 1_767_225_605_000_000_000;

/// One table write per cpu field: `hosts` hosts x `ticks` samples `interval_s` apart.
pub fn tsbs_tables(hosts: usize, ticks: u64, interval_s: i64) -> Vec<TableWrite> {
    let spec = Spec {
        kind: WorkloadKind::TsbsCpu,
        seed: 1,
        scale: hosts,
        start_ns: START_NS,
        interval_ns: interval_s * 1_000_000_000,
        ticks,
        routes: 0,
        logs_per_tick: 0,
    };
    let mut shard = shards(&spec, Target::RemoteWrite, 1, usize::MAX, u64::MAX).expect("shards").remove(0);
    let batch = shard.next_batch().expect("one batch");
    assert!(matches!(batch, Batch::Metrics(_)));
    let body = encode(&batch, Target::RemoteWrite).expect("encode").body;
    let req = remote_write::decode(&body, usize::MAX).expect("decode");
    let converted = remote_write::convert(&req, &PointLimits::default());
    assert_eq!(converted.rejected, 0, "{:?}", converted.reasons);
    converted.writes
}

/// The `cpu_usage_user` table of [`tsbs_tables`].
pub fn usage_user(hosts: usize, ticks: u64, interval_s: i64) -> TableWrite {
    tsbs_tables(hosts, ticks, interval_s).into_iter().find(|w| w.table == "cpu_usage_user").expect("usage_user table")
}

/// A directory on the target's disk (not a tmpfs, so fsync costs what it costs).
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir")
}
