//! What each metric kind rolls up to, exactly; when a bucket is rolled up;
//! where rollup tables are visible.

use datafusion::arrow::datatypes::{Float64Type, UInt64Type};

use super::*;

/// `cpu`: h1 and h2 every 10 s for minutes 0..5, integer values (exact sums).
fn cpu_points() -> Vec<Point> {
    let mut points = Vec::new();
    for k in 0..30i64 {
        points.push((T0 + k * 10 * SEC, "h1", Some((k % 7) as f64)));
        points.push((T0 + k * 10 * SEC, "h2", Some((100 + (k * 3) % 11) as f64)));
    }
    // A stale marker is not a value.
    points.push((T0 + 15 * SEC, "h1", None));
    points
}

#[tokio::test]
async fn gauges_roll_up_exactly_once_their_bucket_has_closed() {
    let mut h = Harness::new(vec![one_minute(60)]);
    let points = cpu_points();
    h.write(gauge("cpu", &points)).await;

    // Minute 4 ends at 5:00 and closes 30 s later.
    h.clock.set(T0 + 5 * MIN + 29 * SEC);
    assert_eq!(h.step().await.windows, 1);
    assert_eq!(gauge_rollup(&h, "rollup_1m", "cpu").await, expected_gauge(&points, MIN, T0 + 4 * MIN));
    h.clock.set(T0 + 5 * MIN + 30 * SEC);
    assert_eq!(h.step().await.rows, 2);
    let all = expected_gauge(&points, MIN, T0 + 5 * MIN);
    assert_eq!(all.len(), 10);
    assert_eq!(all[0], ("h1".to_string(), T0, 0.0, 5.0, 2.5, 15.0, 6));
    assert_eq!(gauge_rollup(&h, "rollup_1m", "cpu").await, all);

    // A point arriving after its bucket was rolled up stays in the source only.
    h.write(gauge("cpu", &[(T0 + 2 * MIN + 5 * SEC, "h1", Some(1000.0))])).await;
    h.clock.set(T0 + 7 * MIN);
    assert_eq!(h.step().await.rows, 0);
    assert_eq!(h.step().await.windows, 0);
    assert_eq!(gauge_rollup(&h, "rollup_1m", "cpu").await, all);

    // Rollup tables live only in their schema and are never rolled up again.
    let b = h
        .query(
            "SELECT table_schema, table_name FROM information_schema.tables \
             WHERE table_schema IN ('public', 'rollup_1m') ORDER BY 1, 2",
        )
        .await;
    let listed: Vec<(Option<String>, Option<String>)> = strs(&b, 0).into_iter().zip(strs(&b, 1)).collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(listed, [(s("public"), s("cpu")), (s("rollup_1m"), s("cpu"))]);
    assert_eq!(h.store.table_names(), ["cpu", "rollup_1m.cpu"]);
    assert!(h.engine.execute("SELECT * FROM public.\"rollup_1m.cpu\"").await.is_err());
    let b = h.query("SELECT * FROM rollup_1m.cpu").await;
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
}

#[tokio::test]
async fn counters_keep_their_last_value_and_rate_still_works() {
    let mut h = Harness::new(vec![one_minute(60)]);
    // Cumulative, every 10 s for minutes 0..5: 0, 10, ..., 170, then a
    // restart (new start time) at 3:00 counting 1, 4, 7, ...; stale markers
    // at 4:55 and 5:00 (the only point of minute 5).
    let (s0, s1) = (T0 - MIN, T0 + 3 * MIN - SEC);
    let mut rows: Vec<(i64, i64, Option<f64>)> = (0..30i64)
        .map(|k| {
            let v = if k < 18 { 10 * k } else { 3 * (k - 18) + 1 };
            (T0 + k * 10 * SEC, if k < 18 { s0 } else { s1 }, Some(v as f64))
        })
        .collect();
    rows.extend([(T0 + 295 * SEC, s1, None), (T0 + 300 * SEC, s1, None)]);
    h.write(table(
        "requests",
        "sum",
        Some("cumulative"),
        vec![
            ("time", ts(rows.iter().map(|r| r.0))),
            ("start_time", ts(rows.iter().map(|r| r.1))),
            ("value", f64_column(rows.iter().map(|r| r.2))),
            ("host", dict(rows.iter().map(|_| Some("a")))),
        ],
    ))
    .await;
    // Delta: 1, 2, 3, 4, 1, 2, ... every 10 s.
    let deltas: Vec<(i64, f64)> = (0..30i64).map(|k| (T0 + k * 10 * SEC, (k % 4 + 1) as f64)).collect();
    h.write(table(
        "requests_delta",
        "sum",
        Some("delta"),
        vec![("time", ts(deltas.iter().map(|d| d.0))), ("value", f64_column(deltas.iter().map(|d| Some(d.1))))],
    ))
    .await;
    h.clock.set(T0 + 10 * MIN);
    assert_eq!(h.step().await.windows, 2);

    let b = h
        .query("SELECT time, value, start_time, last_time, min, max, count FROM rollup_1m.requests ORDER BY time")
        .await;
    let starts = [s0, s0, s0, s1, s1];
    let lasts = [50.0, 110.0, 170.0, 16.0, 34.0];
    assert_eq!(times(&b, 0), (0..5).map(|m| Some(T0 + m * MIN)).collect::<Vec<_>>());
    assert_eq!(f64s(&b, 1), lasts.map(Some));
    assert_eq!(times(&b, 2), starts.map(Some));
    assert_eq!(times(&b, 3), (0..5).map(|m| Some(T0 + m * MIN + 50 * SEC)).collect::<Vec<_>>());
    assert_eq!(f64s(&b, 4), [0.0, 60.0, 120.0, 1.0, 19.0].map(Some));
    assert_eq!(f64s(&b, 5), lasts.map(Some));
    assert_eq!(u64s(&b, 6), [6, 6, 6, 6, 6].map(Some));

    // rate/increase over the rollup: the raw increase from the first
    // rolled-up sample (0:50) on, 120 + 16 (restart) + 18.
    let b = h
        .query(
            "SELECT increase(value, last_time, start_time), rate(value, last_time, start_time) FROM rollup_1m.requests",
        )
        .await;
    assert_eq!((f64s(&b, 0), f64s(&b, 1)), (vec![Some(154.0)], vec![Some(154.0 / 240.0)]));
    let raw = h
        .query("SELECT increase(value, time, start_time) FROM requests WHERE time >= TIMESTAMP '2025-01-01T00:00:50Z'")
        .await;
    assert_eq!(f64s(&raw, 0), vec![Some(154.0)]);

    // Delta sums: `value` is the sum of the deltas, so delta functions agree with the raw table.
    let b = h.query("SELECT time, value, sum, count FROM rollup_1m.requests_delta ORDER BY time").await;
    assert_eq!(f64s(&b, 1), [13.0, 17.0, 13.0, 17.0, 13.0].map(Some));
    assert_eq!(f64s(&b, 1), f64s(&b, 2));
    assert_eq!(u64s(&b, 3), [6, 6, 6, 6, 6].map(Some));
    let total = h.query("SELECT delta_increase(value) FROM rollup_1m.requests_delta").await;
    let raw = h.query("SELECT delta_increase(value) FROM requests_delta").await;
    assert_eq!(f64s(&total, 0), vec![Some(73.0)]);
    assert_eq!(f64s(&total, 0), f64s(&raw, 0));
}

/// A histogram point: (time, host, bounds, counts, start time).
type HistPoint = (i64, &'static str, Vec<f64>, Option<Vec<u64>>, i64);

fn histogram(name: &str, temporality: &str, points: &[HistPoint]) -> TableWrite {
    // sum = 1 per observation, min/max from the time, so each is checkable.
    let count = |p: &HistPoint| p.3.as_ref().map(|c| c.iter().sum::<u64>());
    let mut cols = vec![
        ("time", ts(points.iter().map(|p| p.0))),
        ("count", Arc::new(points.iter().map(count).collect::<datafusion::arrow::array::UInt64Array>()) as ArrayRef),
        ("sum", f64_column(points.iter().map(|p| count(p).map(|c| c as f64)))),
        ("min", f64_column(points.iter().map(|p| Some(((p.0 - T0) / SEC) as f64)))),
        ("max", f64_column(points.iter().map(|p| Some(((p.0 - T0) / SEC) as f64 + 100.0)))),
        ("bounds", list_column::<Float64Type>(points.iter().map(|p| Some(p.2.clone())))),
        ("counts", list_column::<UInt64Type>(points.iter().map(|p| p.3.clone()))),
        ("host", dict(points.iter().map(|p| Some(p.1)))),
    ];
    if temporality == "cumulative" {
        cols.push(("start_time", ts(points.iter().map(|p| p.4))));
    }
    table(name, "histogram", Some(temporality), cols)
}

#[tokio::test]
async fn histograms_merge_their_buckets_per_layout() {
    let mut h = Harness::new(vec![one_minute(60)]);
    let b3 = vec![1.0, 5.0, 10.0];
    let b2 = vec![2.0, 4.0];
    // Host a: 3 points in minute 0, 2 in minute 1; host b: another layout
    // in minute 0, then the common one; a stale point (NULL counts) in minute 1.
    let points: Vec<HistPoint> = vec![
        (T0, "a", b3.clone(), Some(vec![1, 2, 3, 4]), 0),
        (T0 + 20 * SEC, "a", b3.clone(), Some(vec![0, 5, 0, 1]), 0),
        (T0 + 40 * SEC, "a", b3.clone(), Some(vec![2, 0, 7, 0]), 0),
        (T0 + 60 * SEC, "a", b3.clone(), Some(vec![1, 1, 1, 1]), 0),
        (T0 + 90 * SEC, "a", b3.clone(), Some(vec![0, 0, 0, 9]), 0),
        (T0 + 10 * SEC, "b", b2.clone(), Some(vec![3, 3, 3]), 0),
        (T0 + 30 * SEC, "b", b3.clone(), Some(vec![1, 0, 0, 0]), 0),
        (T0 + 70 * SEC, "b", b3.clone(), None, 0),
    ];
    h.write(histogram("latency", "delta", &points)).await;
    // Cumulative: the last point of each minute (its start time too).
    let cumulative: Vec<HistPoint> = vec![
        (T0, "a", b3.clone(), Some(vec![1, 0, 0, 0]), T0 - MIN),
        (T0 + 30 * SEC, "a", b3.clone(), Some(vec![2, 1, 0, 0]), T0 - MIN),
        (T0 + 65 * SEC, "a", b3.clone(), Some(vec![0, 0, 1, 0]), T0 + 61 * SEC),
        (T0 + 95 * SEC, "a", b3.clone(), None, T0 + 61 * SEC),
    ];
    h.write(histogram("latency_cum", "cumulative", &cumulative)).await;
    h.clock.set(T0 + 3 * MIN);
    assert_eq!(h.step().await.windows, 2);

    let b = h
        .query(
            "SELECT host, time, bounds, counts, count, sum, min, max FROM rollup_1m.latency \
             ORDER BY host, time, array_length(bounds)",
        )
        .await;
    assert_eq!(strs(&b, 0), ["a", "a", "b", "b"].map(|s| Some(s.to_string())));
    assert_eq!(times(&b, 1), [T0, T0 + MIN, T0, T0].map(Some));
    assert_eq!(lists::<Float64Type>(&b, 2), [&b3, &b3, &b2, &b3].map(|v| Some(v.clone())));
    assert_eq!(
        lists::<UInt64Type>(&b, 3),
        [vec![3, 7, 10, 5], vec![1, 1, 1, 10], vec![3, 3, 3], vec![1, 0, 0, 0]].map(Some)
    );
    assert_eq!(u64s(&b, 4), [25, 13, 9, 1].map(Some));
    assert_eq!(f64s(&b, 5), [25.0, 13.0, 9.0, 1.0].map(Some));
    assert_eq!(f64s(&b, 6), [0.0, 60.0, 10.0, 30.0].map(Some));
    assert_eq!(f64s(&b, 7), [140.0, 190.0, 110.0, 130.0].map(Some));
    // The merged buckets answer quantiles like the raw rows.
    let q = "SELECT histogram_quantile_agg(0.5, bounds, counts) FROM {} WHERE host = 'a' AND time < TIMESTAMP '2025-01-01T00:01:00Z'";
    let rolled = h.query(&q.replace("{}", "rollup_1m.latency")).await;
    let raw = h.query(&q.replace("{}", "latency")).await;
    assert_eq!(f64s(&rolled, 0), f64s(&raw, 0));
    assert!(f64s(&rolled, 0)[0].is_some());

    let b = h.query("SELECT time, counts, start_time, last_time, count FROM rollup_1m.latency_cum ORDER BY time").await;
    assert_eq!(times(&b, 0), [T0, T0 + MIN].map(Some));
    assert_eq!(lists::<UInt64Type>(&b, 1), [vec![2, 1, 0, 0], vec![0, 0, 1, 0]].map(Some));
    assert_eq!(times(&b, 2), [T0 - MIN, T0 + 61 * SEC].map(Some));
    assert_eq!(times(&b, 3), [T0 + 30 * SEC, T0 + 65 * SEC].map(Some));
    assert_eq!(u64s(&b, 4), [3, 1].map(Some));
}
