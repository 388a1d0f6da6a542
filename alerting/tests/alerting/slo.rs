//! SLO burn-rate alerts against a real store with an injected clock: the
//! page fires at exactly the evaluation where the 1h burn rate passes 14.4x
//! (not when it equals it) and resolves when the 5m window is clean.

use std::sync::Arc;

use tidewater_alerting::clock::ManualClock;
use tidewater_alerting::rules::RuleKind;

use crate::support::{alerting, at, engine, requests, Capture};

const RULES: &str = r#"
groups:
  - name: slos
    interval: 1m
    rules:
      - slo: availability
        service: checkout
        objective: 99
        window: 30d
        sli:
          errors: SELECT coalesce(sum(value), 0) AS value FROM http_requests WHERE status = 'error' AND $__timeFilter
          total: SELECT coalesce(sum(value), 0) AS value FROM http_requests WHERE $__timeFilter
        page:
          labels:
            team: payments
        ticket:
          disable: true
      - slo: availability_guarded
        service: checkout
        objective: 99
        min_events: 100000000
        sli:
          good: SELECT coalesce(sum(value), 0) AS value FROM http_requests WHERE status = 'ok' AND $__timeFilter
          total: SELECT coalesce(sum(value), 0) AS value FROM http_requests WHERE $__timeFilter
"#;

/// 1000 requests a minute from minute -420; minutes 1..=10 all errors except
/// minute 9 (640 errors, 360 ok).
fn traffic() -> Vec<(i64, &'static str, f64)> {
    let mut p = Vec::new();
    for m in -420..=40 {
        match m {
            9 => {
                p.push((m, "error", 640.0));
                p.push((m, "ok", 360.0));
            }
            1..=10 => p.push((m, "error", 1000.0)),
            _ => p.push((m, "ok", 1000.0)),
        }
    }
    p
}

fn page_state(a: &tidewater_alerting::Alerting) -> Option<String> {
    let g = &a.groups()[0];
    g.status().rules[0].alerts.alerts().next().map(|al| {
        assert_eq!(al.labels["slo_severity"], "page");
        assert_eq!(al.labels["team"], "payments");
        assert_eq!(al.labels["service"], "checkout");
        al.state.as_str().to_string()
    })
}

#[tokio::test]
async fn page_fires_past_14_4x_and_resolves_when_the_short_window_clears() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, engine) = engine(&dir.path().join("data")).await;
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("slo.yml"), RULES).expect("write rules");
    requests(&store, &traffic()).await;
    let clock = ManualClock::new(at(0));
    let a = alerting(&engine, &rules, &dir.path().join("state"), &clock, Arc::new(Capture::default()));
    a.reload().await.expect("load");
    let groups = a.groups();
    let RuleKind::Slo(spec) = &groups[0].group().rules[0].kind else { panic!("slo") };
    assert_eq!(spec.page.as_ref().map(|p| p.windows[0].factor), Some(14.4));

    let mut fired_at = None;
    let mut resolved_at = None;
    for m in 0..=20 {
        clock.set(at(m));
        a.evaluate_once().await;
        let st = page_state(&a);
        let rates = a.groups()[0].status().rules[0].slo[0].burn_rates.clone();
        let one_hour = rates[0].long.expect("1h burn");
        match m {
            // 1h error ratio at minute 9 is 8640 / 60000 = 0.144: burn rate exactly 14.4, not above.
            9 => {
                assert!((one_hour - 14.4).abs() < 1e-9, "{one_hour}");
                assert_eq!(st, None, "exactly at the threshold does not fire");
            }
            10 => assert!((one_hour - 9640.0 / 60000.0 / 0.01).abs() < 1e-6),
            _ => {}
        }
        if st.as_deref() == Some("firing") && fired_at.is_none() {
            fired_at = Some(m);
        }
        if st.as_deref() == Some("inactive") && resolved_at.is_none() {
            resolved_at = Some(m);
        }
    }
    assert_eq!(fired_at, Some(10), "fires at the first evaluation past 14.4x");
    assert_eq!(resolved_at, Some(15), "resolves when the 5m window holds no errors (minute 10 left it at 15)");

    // The guarded SLO never fires (too little traffic for its min_events) but reports its budget.
    let st = a.groups()[0].status();
    assert_eq!(st.rules[1].alerts.alerts().count(), 0);
    let status = &st.rules[1].slo[0];
    // 30-day window at minute 20: 441 minutes of 1000 requests, 9640 errors.
    let ratio = 9640.0 / 441_000.0;
    assert!((status.error_ratio.expect("ratio") - ratio).abs() < 1e-12);
    assert!((status.error_budget_remaining - (1.0 - ratio / 0.01)).abs() < 1e-6, "{}", status.error_budget_remaining);
    assert!(status.burn_rates.iter().all(|r| r.long.is_none() && !r.firing), "guarded by min_events");
}
