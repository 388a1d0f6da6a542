//! Retention with a manual clock: whole days past the TTL are dropped, per
//! table overrides win, files go after the grace period or on restart.

use std::time::Duration;

use tidewater_storage::segment::{day_string, NANOS_PER_DAY};
use tidewater_storage::Store;

use super::compaction::{config, rows_for};
use super::{expected, rows_write, rt, segment_files, table_rows, Row};
use tidewater_storage::ManualClock;

const TODAY: i64 = 20_100;

fn partitions(store: &Store, table: &str) -> Vec<String> {
    let mut p: Vec<String> = store.segments().into_iter().filter(|s| s.table == table).map(|s| s.partition).collect();
    p.sort();
    p.dedup();
    p
}

#[test]
fn partitions_past_their_ttl_are_dropped_without_sleeping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    let clock = std::sync::Arc::new(ManualClock::new(TODAY * NANOS_PER_DAY + NANOS_PER_DAY / 2));
    let mut c = config(dir.path(), &clock);
    c.retention = Some(Duration::from_secs(2 * 86_400));
    c.table_retention.insert("mem".into(), Duration::from_secs(7 * 86_400));
    let store = Store::open(c.clone()).expect("open");
    let (mut cpu, mut mem): (Vec<Row>, Vec<Row>) = (Vec::new(), Vec::new());
    for (i, day) in [TODAY - 10, TODAY - 5, TODAY - 3, TODAY - 2, TODAY - 1, TODAY].into_iter().enumerate() {
        cpu.extend(rows_for(i as i64, day, &["a", "b"], 3, None, |x| Some(x as f64)));
        mem.extend(rows_for(i as i64, day, &["a"], 2, None, |x| Some(x as f64)));
    }
    rt.block_on(store.write(vec![rows_write("cpu", &cpu), rows_write("mem", &mem)])).expect("write");
    rt.block_on(store.flush()).expect("flush");
    assert_eq!(partitions(&store, "cpu").len(), 6);

    // Now is mid-day TODAY: with 2 days, day TODAY-3 ended exactly 2.5 days ago -> dropped;
    // TODAY-2 ended 1.5 days ago -> kept. mem keeps 7 days: only TODAY-10 goes.
    let dropped = rt.block_on(store.apply_retention()).expect("retention");
    assert_eq!(dropped, 3 + 1);
    let kept_days = |from: i64| (from..=TODAY).map(day_string).collect::<Vec<_>>();
    assert_eq!(partitions(&store, "cpu"), kept_days(TODAY - 2));
    assert_eq!(
        partitions(&store, "mem"),
        vec![
            day_string(TODAY - 5),
            day_string(TODAY - 3),
            day_string(TODAY - 2),
            day_string(TODAY - 1),
            day_string(TODAY)
        ]
    );
    let keep =
        |rows: &[Row], from: i64| rows.iter().filter(|r| r.2 >= from * NANOS_PER_DAY).cloned().collect::<Vec<_>>();
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&keep(&cpu, TODAY - 2)));
    assert_eq!(table_rows(&store, dir.path(), "mem"), expected(&keep(&mem, TODAY - 5)));
    assert_eq!(rt.block_on(store.apply_retention()).expect("retention"), 0, "idempotent");

    // Files stay for the grace period, then go.
    assert_eq!(segment_files(dir.path()).len(), 12);
    clock.advance(Duration::from_secs(59));
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(rt.block_on(store.delete_expired_files()).expect("gc"), 4);
    assert_eq!(segment_files(dir.path()).len(), 8);

    // A day later TODAY-2 is past the TTL too.
    clock.advance(Duration::from_secs(86_400));
    assert_eq!(rt.block_on(store.apply_retention()).expect("retention"), 1);
    assert_eq!(partitions(&store, "cpu"), kept_days(TODAY - 1));
    let stats = store.table_stats();
    let cpu_stats = stats.iter().find(|s| s.table == "cpu").expect("cpu stats");
    assert_eq!(cpu_stats.rows, keep(&cpu, TODAY - 1).len() as u64);
    assert_eq!(cpu_stats.segments, 2);
    assert_eq!(cpu_stats.min_time, keep(&cpu, TODAY - 1).iter().map(|r| r.2).min());

    // A crash within the grace period: the dropped file goes on start.
    drop(store);
    let store = Store::open(c).expect("reopen");
    assert_eq!(segment_files(dir.path()).len(), 7);
    assert_eq!(table_rows(&store, dir.path(), "cpu"), expected(&keep(&cpu, TODAY - 1)));
}

#[test]
fn table_stats_count_segments_and_buffered_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    let clock = std::sync::Arc::new(ManualClock::new(0));
    let store = Store::open(config(dir.path(), &clock)).expect("open");
    let flushed = rows_for(0, TODAY, &["a", "b"], 5, None, |x| Some(x as f64));
    rt.block_on(store.write(vec![rows_write("cpu", &flushed)])).expect("write");
    rt.block_on(store.flush()).expect("flush");
    let buffered = rows_for(1, TODAY + 1, &["a"], 3, None, |x| Some(x as f64));
    rt.block_on(store.write(vec![rows_write("cpu", &buffered), rows_write("mem", &buffered)])).expect("write");
    let stats = store.table_stats();
    assert_eq!(stats.iter().map(|s| s.table.as_str()).collect::<Vec<_>>(), vec!["cpu", "mem"]);
    let cpu = &stats[0];
    assert_eq!((cpu.rows, cpu.segments), (13, 1));
    assert_eq!(cpu.bytes_on_disk, store.segments()[0].bytes);
    assert_eq!(cpu.min_time, flushed.iter().map(|r| r.2).min());
    assert_eq!(cpu.max_time, buffered.iter().map(|r| r.2).max());
    let mem = &stats[1];
    assert_eq!((mem.rows, mem.segments, mem.bytes_on_disk), (3, 0, 0));
}
