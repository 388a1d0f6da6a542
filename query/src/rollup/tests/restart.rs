//! Progress across restarts (clean and crash), bounded steps, and the
//! rollups' own retention.

use super::*;

const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

#[tokio::test]
async fn a_restart_neither_duplicates_nor_skips_buckets() {
    let mut h = Harness::new(vec![one_minute(3)]);
    // h1 and h2 every 10 s in minutes 0..4 and 6..10 (nothing in minutes 4 and 5).
    let points: Vec<Point> = (0..60i64)
        .filter(|k| !(24..36).contains(k))
        .flat_map(|k| [(T0 + k * 10 * SEC, "h1", Some(k as f64)), (T0 + k * 10 * SEC, "h2", Some(-k as f64))])
        .collect();
    h.write(gauge("cpu", &points)).await;
    h.clock.set(T0 + 20 * MIN);

    // At most three buckets per step.
    assert_eq!(h.step().await.rows, 6);
    assert_eq!(gauge_rollup(&h, "rollup_1m", "cpu").await, expected_gauge(&points, MIN, T0 + 3 * MIN));
    // A clean restart (the rollup rows are in segments) resumes at minute 3.
    h = h.close_and_reopen().await;
    assert!(h.store.segments().iter().any(|s| s.table == "rollup_1m.cpu"));
    assert_eq!(h.step().await.rows, 2);
    // A crash (the newest rollup rows only in the WAL) resumes at minute 4
    // and skips the empty minutes to 6.
    h = h.crash_and_reopen();
    assert_eq!(h.step().await.rows, 6);
    // The next one right away, before its window is computed.
    h = h.crash_and_reopen();
    assert_eq!(h.step().await.rows, 2);
    assert_eq!(h.step().await.rows, 0);
    assert_eq!(h.step().await.windows, 0);

    let all = expected_gauge(&points, MIN, T0 + 20 * MIN);
    assert_eq!(all.len(), 16);
    assert_eq!(gauge_rollup(&h, "rollup_1m", "cpu").await, all);
}

#[tokio::test]
async fn rollup_retention_drops_old_partitions_and_keeps_the_source() {
    let hourly = RollupConfig {
        lag: Duration::ZERO,
        retention: Some(Duration::from_secs(2 * 86_400)),
        max_buckets_per_step: 1000,
        ..RollupConfig::new("1h", Duration::from_secs(3600))
    };
    let mut h = Harness::new(vec![hourly.clone()]);
    // Days 0..6 after T0 (a UTC midnight), three points a day.
    let points: Vec<Point> = (0..6i64)
        .flat_map(|d| (1..=3i64).map(move |hr| (T0 + d * DAY + hr * HOUR + 10 * MIN, "h1", Some((d * 10 + hr) as f64))))
        .collect();
    h.write(gauge("cpu", &points)).await;

    // Rolled up as the days pass: day 0 first, then days 1..5.
    h.clock.set(T0 + DAY);
    assert_eq!(h.step().await.rows, 3);
    h.clock.set(T0 + 6 * DAY);
    assert_eq!(h.step().await.rows, 15);
    h.store.flush().await.expect("flush");

    // Now minus two days is T0 + 4 days: rollup days 0..3 have ended by then.
    assert_eq!(h.store.apply_retention().await.expect("retention"), 4);
    assert_eq!(h.store.delete_expired_files().await.expect("delete"), 4);
    let expected_rollup: Vec<GaugeRow> =
        expected_gauge(&points, HOUR, i64::MAX).into_iter().filter(|r| r.1 >= T0 + 4 * DAY).collect();
    assert_eq!(expected_rollup.len(), 6);
    assert_eq!(gauge_rollup(&h, "rollup_1h", "cpu").await, expected_rollup);
    let b = h.query("SELECT count(*), min(time) FROM cpu").await;
    assert_eq!((u64s(&b, 0), times(&b, 1)), (vec![Some(18)], vec![Some(T0 + HOUR + 10 * MIN)]));

    // After a restart nothing is rolled up again; a rollup added now starts
    // at the oldest bucket its retention keeps.
    h.rollups.push(RollupConfig { name: "1h_new".into(), ..hourly });
    h = h.crash_and_reopen();
    assert_eq!(h.step().await.rows, 6);
    assert_eq!(gauge_rollup(&h, "rollup_1h", "cpu").await, expected_rollup);
    assert_eq!(gauge_rollup(&h, "rollup_1h_new", "cpu").await, expected_rollup);
}
