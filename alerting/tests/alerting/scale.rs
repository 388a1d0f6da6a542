//! 10,000 threshold rules in 100 groups, every group evaluated once at the
//! same time (as the group tasks would), against a real store. Ignored by
//! default (it measures; run with `--ignored --nocapture`).

use std::sync::Arc;
use std::time::Instant;

use tidewater_alerting::clock::ManualClock;

use crate::support::{alerting, at, engine, requests, Capture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn ten_thousand_threshold_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, engine) = engine(&dir.path().join("data")).await;
    let points: Vec<(i64, &str, f64)> = (0..60).flat_map(|m| [(m, "error", 5.0), (m, "ok", 100.0)]).collect();
    requests(&store, &points).await;
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    for g in 0..100 {
        let mut text = format!("groups:\n  - name: g{g}\n    interval: 30s\n    rules:\n");
        for r in 0..100 {
            text.push_str(&format!(
                "      - alert: R{g}_{r}\n        sql: SELECT status, sum(value) AS value FROM http_requests \
                 WHERE time > $__now - INTERVAL '5 minutes' AND time <= $__now GROUP BY status HAVING sum(value) > {}\n",
                r * 5
            ));
        }
        std::fs::write(rules.join(format!("g{g}.yml")), text).expect("write");
    }
    let clock = ManualClock::new(at(59));
    let a = alerting(&engine, &rules, &dir.path().join("state"), &clock, Arc::new(Capture::default()));
    let t0 = Instant::now();
    a.reload().await.expect("load");
    let load = t0.elapsed();
    let t0 = Instant::now();
    let groups = a.groups();
    futures::future::join_all(groups.iter().map(|g| g.evaluate(a.evaluator()))).await;
    let took = t0.elapsed();
    let alerts: usize =
        groups.iter().map(|g| g.status().rules.iter().map(|r| r.alerts.alerts().count()).sum::<usize>()).sum();
    let errors: usize = groups.iter().map(|g| g.status().rules.iter().filter(|r| r.last_error.is_some()).count()).sum();
    println!(
        "10000 rules: load+plan {load:?}, one evaluation of all groups {took:?}, {alerts} alerts, {errors} errors"
    );
    assert_eq!(errors, 0);
    assert!(alerts > 0);
}
