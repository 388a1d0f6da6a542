//! Pruned scans: a week of one TSBS cpu table (100 hosts, one sample per
//! minute, one segment per day) queried through the SQL engine for one day,
//! for one host-hour, and for the whole week. Segments whose time range
//! misses the filter are dropped before any file is opened, and row groups
//! and pages are pruned inside the files, so the pruned queries should cost
//! a fraction of the full scan.
//!
//! `cargo bench -p tidewater-benches --bench scan`

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use tidewater_benches::time::rfc3339;
use tidewater_query::{QueryConfig, QueryEngine};
use tidewater_storage::{Store, StoreConfig};

const DAY_S: i64 = 86_400;

fn ts(secs: i64) -> String {
    format!("TIMESTAMP '{}'", rfc3339(secs))
}

fn scan(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = common::temp_dir();
    let w = common::usage_user(100, 7 * 24 * 60, 60);
    let rows = w.batch.num_rows();
    let engine = rt.block_on(async {
        let store = Store::open(StoreConfig::new(dir.path())).expect("open");
        store.write(vec![w]).await.expect("write");
        store.flush().await.expect("flush");
        QueryEngine::new(store, QueryConfig::default()).expect("engine")
    });
    let day0 = common::START_NS / 1_000_000_000 / DAY_S * DAY_S;
    let (d6, d7) = (day0 + 6 * DAY_S, day0 + 7 * DAY_S);
    let queries = [
        ("full_week", "SELECT hostname, max(value) FROM cpu_usage_user GROUP BY hostname".to_string()),
        (
            "one_day_of_seven",
            format!(
                "SELECT hostname, max(value) FROM cpu_usage_user WHERE time >= {} AND time < {} GROUP BY hostname",
                ts(d6),
                ts(d7)
            ),
        ),
        (
            "one_host_one_hour",
            format!(
                "SELECT max(value) FROM cpu_usage_user WHERE hostname = 'host_42' AND time >= {} AND time < {}",
                ts(d6 + 3_600),
                ts(d6 + 7_200)
            ),
        ),
    ];
    for (name, sql) in &queries {
        let r = rt.block_on(engine.execute(sql)).expect("query");
        let n: usize = r.batches.iter().map(|b| b.num_rows()).sum();
        eprintln!("scan {name}: {n} result rows over {rows} stored rows");
    }
    let mut g = c.benchmark_group("pruned_scan");
    g.sample_size(20);
    for (name, sql) in &queries {
        g.bench_function(*name, |b| b.iter(|| rt.block_on(engine.execute(sql)).expect("query")));
    }
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
