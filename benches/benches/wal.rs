//! WAL: record encoding and decoding, and group commit.
//!
//! `cargo bench -p tidewater-benches --bench wal`
//!
//! - `wal_record`: one record of a TSBS cpu table (1,000 hosts x 10 samples,
//!   10 tag columns), Arrow IPC + zstd + CRC32C, and back.
//! - `wal_group_commit`: `Store::write` from N concurrent writers, 10 rows
//!   each, fsync before acknowledging (the default) and without fsync. With
//!   group commit, N writers share one fsync, so writes/s should grow with N
//!   while `never` shows what the fsync costs.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tidewater_storage::wal::{decode_payload, encode_record};
use tidewater_storage::{Store, StoreConfig, SyncPolicy, TableWrite};

/// Bytes before the payload in a record: length (u32) and CRC32C (u32).
const RECORD_HEADER: usize = 8;

fn record(c: &mut Criterion) {
    let w = common::usage_user(1_000, 10, 10);
    let rows = w.batch.num_rows() as u64;
    let tables = vec![(w.table.clone(), w.batch.clone())];
    let encoded = encode_record(&tables).expect("encode");
    eprintln!(
        "wal_record: {rows} rows -> {} bytes ({:.2} bytes/row)",
        encoded.len(),
        encoded.len() as f64 / rows as f64
    );
    let mut g = c.benchmark_group("wal_record");
    g.throughput(Throughput::Elements(rows));
    g.bench_function("encode_10k_rows", |b| b.iter(|| encode_record(&tables).expect("encode")));
    g.bench_function("decode_10k_rows", |b| b.iter(|| decode_payload(&encoded[RECORD_HEADER..]).expect("decode")));
    g.finish();
}

fn group_commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let full = common::usage_user(10, 1, 10);
    let write = TableWrite { table: full.table.clone(), batch: full.batch.slice(0, 10) };
    let mut g = c.benchmark_group("wal_group_commit");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for (policy, name) in [(SyncPolicy::Always, "fsync"), (SyncPolicy::Never, "no_fsync")] {
        for writers in [1usize, 8, 64] {
            if policy == SyncPolicy::Never && writers != 8 {
                continue;
            }
            g.throughput(Throughput::Elements(writers as u64));
            g.bench_function(format!("{name}/{writers}_writers"), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let dir = common::temp_dir();
                        let store =
                            Store::open(StoreConfig { sync: policy, ..StoreConfig::new(dir.path()) }).expect("open");
                        let start = Instant::now();
                        for _ in 0..iters {
                            let all = (0..writers).map(|_| store.write(vec![write.clone()]));
                            for outcome in futures::future::join_all(all).await {
                                assert_eq!(outcome.expect("write").accepted_rows, 10);
                            }
                        }
                        let took = start.elapsed();
                        store.close().await.expect("close");
                        took
                    })
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, record, group_commit);
criterion_main!(benches);
