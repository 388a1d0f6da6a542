//! Threshold rules against a real store: `for`, restarts in the middle of
//! `for`, no re-page after a restart, reload.

use std::sync::Arc;

use tidewater_alerting::clock::ManualClock;

use crate::support::{alerting, at, engine, requests, states, Capture};

const RULES: &str = r#"
groups:
  - name: api
    interval: 1m
    rules:
      - alert: ErrorsHigh
        sql: >
          SELECT status, sum(value) AS value FROM http_requests
          WHERE status = 'error' AND time > $__now - INTERVAL '2 minutes' AND time <= $__now
          GROUP BY status HAVING sum(value) > 10
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ labels.status }}: {{ value }} errors in 2 minutes"
"#;

fn firing(name: &str) -> (String, String) {
    (format!("{name}{{severity=page,status=error}}"), "firing".into())
}

fn pending(name: &str) -> (String, String) {
    (format!("{name}{{severity=page,status=error}}"), "pending".into())
}

#[tokio::test]
async fn a_restart_in_the_middle_of_for_resumes_and_does_not_repage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, engine) = engine(&dir.path().join("data")).await;
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("api.yml"), RULES).expect("write rules");
    let points: Vec<(i64, &str, f64)> = (0..30).map(|m| (m, "error", 20.0)).collect();
    requests(&store, &points).await;

    let clock = ManualClock::new(at(1));
    let sink = Arc::new(Capture::default());
    let a = alerting(&engine, &rules, &dir.path().join("state"), &clock, sink.clone());
    assert_eq!(a.reload().await.expect("rules load"), 1);
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![pending("ErrorsHigh")]);
    clock.set(at(3));
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![pending("ErrorsHigh")]);
    assert!(sink.take().is_empty(), "pending alerts are not sent");
    drop(a);

    // "Restart": a new evaluator over the same state directory, at minute 4.
    clock.set(at(4));
    let a = alerting(&engine, &rules, &dir.path().join("state"), &clock, sink.clone());
    a.reload().await.expect("rules load");
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![pending("ErrorsHigh")]);
    let active_at = a.groups()[0].status().rules[0].alerts.alerts().next().expect("alert").active_at;
    assert_eq!(active_at, at(1), "pending-since survived the restart");
    clock.set(at(5));
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![pending("ErrorsHigh")], "4 minutes since minute 1");
    clock.set(at(6));
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![firing("ErrorsHigh")], "5 minutes since minute 1, not since the restart");
    assert_eq!(sink.take(), vec![("ErrorsHigh".to_string(), "firing".to_string())]);
    let alert = a.groups()[0].status().rules[0].alerts.alerts().next().expect("alert").clone();
    assert_eq!(alert.annotations["summary"], "error: 40 errors in 2 minutes");
    drop(a);

    // Restart while firing, 30 s later: not sent again before the resend interval.
    clock.set(at(6) + chrono::Duration::seconds(30));
    let a = alerting(&engine, &rules, &dir.path().join("state"), &clock, sink.clone());
    a.reload().await.expect("rules load");
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![firing("ErrorsHigh")]);
    assert!(sink.take().is_empty(), "no re-page after a restart");
    clock.set(at(7) + chrono::Duration::seconds(31));
    a.evaluate_once().await;
    assert_eq!(sink.take().len(), 1, "re-sent once the resend interval has passed");

    // The last errors are at minute 29: (28, 30] still holds 20, (29, 31] is empty.
    clock.set(at(30));
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![firing("ErrorsHigh")]);
    assert_eq!(sink.take().len(), 1, "re-sent every resend interval while firing");
    clock.set(at(31));
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![(firing("ErrorsHigh").0, "inactive".to_string())]);
    assert_eq!(sink.take(), vec![("ErrorsHigh".to_string(), "inactive".to_string())]);
    let history: Vec<(String, String)> = a
        .evaluator()
        .history()
        .entries()
        .iter()
        .map(|e| (e.from.as_str().to_string(), e.to.as_str().to_string()))
        .collect();
    // The history ring is in memory: since the last restart, only the resolution.
    assert_eq!(history, vec![("firing".to_string(), "inactive".to_string())]);
}

#[tokio::test]
async fn reload_keeps_alerts_and_refuses_bad_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, engine) = engine(&dir.path().join("data")).await;
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("api.yml"), RULES).expect("write rules");
    requests(&store, &[(0, "error", 50.0)]).await;
    let clock = ManualClock::new(at(1));
    let a = alerting(&engine, &rules, &dir.path().join("state"), &clock, Arc::new(Capture::default()));
    a.reload().await.expect("load");
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![pending("ErrorsHigh")]);
    std::fs::write(rules.join("bad.yml"), "groups:\n  - name: x\n    rules:\n      - alert: Y\n        sql: SELEC 1\n")
        .expect("write");
    let err = a.reload().await.expect_err("refused");
    assert!(err.to_string().contains("bad.yml:5"), "{err}");
    assert_eq!(states(&a), vec![pending("ErrorsHigh")], "old rules stay in force");
    std::fs::remove_file(rules.join("bad.yml")).expect("rm");
    a.reload().await.expect("load");
    assert_eq!(states(&a), vec![pending("ErrorsHigh")], "alerts of unchanged rules carry over");
    // A rule planned against the catalog: a missing table is reported with file and line.
    std::fs::write(
        rules.join("missing.yml"),
        "groups:\n  - name: m\n    rules:\n      - alert: Z\n        sql: SELECT value FROM no_such_table\n",
    )
    .expect("write");
    a.reload().await.expect("loads (the table may appear later)");
    let warnings = a.reload_status().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].to_string().contains("missing.yml:4") && warnings[0].reason.contains("no_such_table"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
async fn state_is_rewritten_only_when_it_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, engine) = engine(&dir.path().join("data")).await;
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("api.yml"), RULES).expect("write rules");
    let points: Vec<(i64, &str, f64)> = (0..30).map(|m| (m, "error", 20.0)).collect();
    requests(&store, &points).await;
    let state_dir = dir.path().join("state");
    let clock = ManualClock::new(at(1));
    let a = alerting(&engine, &rules, &state_dir, &clock, Arc::new(Capture::default()));
    a.reload().await.expect("load");
    a.evaluate_once().await;
    let files = || std::fs::read_dir(&state_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files(), 1, "the first evaluation writes the state");
    std::fs::remove_dir_all(&state_dir).expect("rm");
    clock.set(at(3));
    a.evaluate_once().await;
    assert_eq!(files(), 0, "still pending with the same value: nothing to write");
    clock.set(at(6));
    a.evaluate_once().await;
    assert_eq!(states(&a), vec![firing("ErrorsHigh")]);
    assert_eq!(files(), 1, "it fired: written");
}
