use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::rules::template::Template;
use crate::rules::RuleKind;

fn rule(for_: u64, keep: u64) -> Rule {
    Rule {
        name: "HighErrors".into(),
        line: 1,
        for_: Duration::from_secs(for_),
        keep_firing_for: Duration::from_secs(keep),
        labels: [("severity".to_string(), Template::parse("page").expect("t"))].into(),
        annotations: [("summary".to_string(), Template::parse("{{ labels.svc }} at {{ value }}").expect("t"))].into(),
        kind: RuleKind::Threshold { sql: "SELECT 1 AS value".into() },
    }
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).single().expect("time")
}

fn sample(v: f64) -> Vec<Sample> {
    vec![Sample::new([("svc".to_string(), "api".to_string())].into(), v)]
}

fn state(r: &RuleAlerts) -> Vec<AlertState> {
    r.alerts().map(|a| a.state).collect()
}

#[test]
fn pending_then_firing_after_for_then_resolved() {
    let rule = rule(60, 0);
    let mut r = RuleAlerts::default();
    let ch = r.apply(&rule, sample(5.0), t(0), 100).expect("ok");
    assert_eq!(ch.len(), 1);
    assert_eq!(state(&r), vec![AlertState::Pending]);
    let a = r.alerts().next().expect("alert");
    assert_eq!(a.labels.get("alertname").map(String::as_str), Some("HighErrors"));
    assert_eq!(a.labels.get("severity").map(String::as_str), Some("page"));
    assert_eq!(a.annotations.get("summary").map(String::as_str), Some("api at 5"));
    assert!(r.due(t(0), Duration::from_secs(30), Duration::from_secs(60)).is_empty(), "pending is not sent");
    r.apply(&rule, sample(6.0), t(30), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Pending], "30s < for 60s");
    r.apply(&rule, sample(7.0), t(59), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Pending], "59s < for 60s");
    let ch = r.apply(&rule, sample(7.0), t(60), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing], "fires exactly when for has elapsed");
    assert_eq!((ch[0].from, ch[0].to), (AlertState::Pending, AlertState::Firing));
    let sent = r.due(t(60), Duration::from_secs(30), Duration::from_secs(60));
    assert_eq!(sent.len(), 1);
    // endsAt = now + 4 * max(interval 30s, resend 60s)
    assert_eq!(sent[0].ends_at(), Some(t(60 + 240)));
    assert_eq!(sent[0].annotations.get("summary").map(String::as_str), Some("api at 7"));
    // Not re-sent before the resend interval has passed (strictly).
    assert!(r.due(t(90), Duration::from_secs(30), Duration::from_secs(60)).is_empty());
    assert!(r.due(t(120), Duration::from_secs(30), Duration::from_secs(60)).is_empty());
    assert_eq!(r.due(t(121), Duration::from_secs(30), Duration::from_secs(60)).len(), 1);
    // Condition clears: resolved at once, sent as resolved with endsAt = resolution.
    let ch = r.apply(&rule, vec![], t(150), 100).expect("ok");
    assert_eq!((ch[0].from, ch[0].to), (AlertState::Firing, AlertState::Inactive));
    let sent = r.due(t(150), Duration::from_secs(30), Duration::from_secs(60));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].ends_at(), Some(t(150)));
    // Resolved alerts are re-sent every resend interval for 15 minutes, then forgotten.
    assert_eq!(r.due(t(211), Duration::from_secs(30), Duration::from_secs(60)).len(), 1);
    r.apply(&rule, vec![], t(150 + 900), 100).expect("ok");
    assert_eq!(r.alerts().count(), 1, "kept for exactly 15 minutes");
    r.apply(&rule, vec![], t(150 + 901), 100).expect("ok");
    assert_eq!(r.alerts().count(), 0);
}

#[test]
fn pending_that_clears_is_dropped_without_firing() {
    let rule = rule(60, 0);
    let mut r = RuleAlerts::default();
    r.apply(&rule, sample(1.0), t(0), 100).expect("ok");
    let ch = r.apply(&rule, vec![], t(30), 100).expect("ok");
    assert_eq!((ch[0].from, ch[0].to), (AlertState::Pending, AlertState::Inactive));
    assert_eq!(r.alerts().count(), 0);
    // Comes back: pending from the new time, so `for` starts over.
    r.apply(&rule, sample(1.0), t(40), 100).expect("ok");
    r.apply(&rule, sample(1.0), t(90), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Pending]);
    r.apply(&rule, sample(1.0), t(100), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing]);
}

#[test]
fn keep_firing_for_holds_then_resolves() {
    let rule = rule(0, 120);
    let mut r = RuleAlerts::default();
    r.apply(&rule, sample(1.0), t(0), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing], "for 0 fires at the first evaluation");
    r.apply(&rule, vec![], t(60), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing], "held by keep_firing_for");
    r.apply(&rule, vec![], t(179), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing], "119s < 120s");
    r.apply(&rule, vec![], t(180), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Inactive], "120s after the condition cleared");
    // The condition coming back during keep_firing_for resets the hold.
    let mut r = RuleAlerts::default();
    r.apply(&rule, sample(1.0), t(0), 100).expect("ok");
    r.apply(&rule, vec![], t(100), 100).expect("ok");
    r.apply(&rule, sample(1.0), t(110), 100).expect("ok");
    r.apply(&rule, vec![], t(200), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing], "hold restarted at 200");
    r.apply(&rule, vec![], t(319), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Firing]);
    r.apply(&rule, vec![], t(320), 100).expect("ok");
    assert_eq!(state(&r), vec![AlertState::Inactive]);
}

#[test]
fn resolved_then_back_is_a_new_alert() {
    let rule = rule(0, 0);
    let mut r = RuleAlerts::default();
    r.apply(&rule, sample(1.0), t(0), 100).expect("ok");
    r.apply(&rule, vec![], t(10), 100).expect("ok");
    r.apply(&rule, sample(1.0), t(20), 100).expect("ok");
    let a = r.alerts().next().expect("alert");
    assert_eq!((a.state, a.active_at, a.resolved_at), (AlertState::Firing, t(20), None));
}

#[test]
fn too_many_alerts_is_an_error() {
    let rule = rule(0, 0);
    let mut r = RuleAlerts::default();
    let samples: Vec<Sample> =
        (0..3).map(|i| Sample::new([("svc".to_string(), format!("s{i}"))].into(), 1.0)).collect();
    let err = r.apply(&rule, samples, t(0), 2).expect_err("over the limit");
    assert!(err.contains("limit of 2"), "{err}");
    assert_eq!(r.alerts().count(), 0);
}
