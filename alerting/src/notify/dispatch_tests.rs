use chrono::TimeZone;

use super::*;

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).single().expect("time")
}

fn alert(name: &str, instance: &str, state: AlertState, at: i64) -> Alert {
    Alert {
        labels: [("alertname".to_string(), name.to_string()), ("instance".to_string(), instance.to_string())].into(),
        annotations: Default::default(),
        state,
        value: 1.0,
        active_at: t(0),
        fired_at: Some(t(0)),
        resolved_at: (state == AlertState::Inactive).then(|| t(at)),
        last_sent_at: Some(t(at)),
        valid_until: Some(t(at + 100_000)),
        keep_firing_since: None,
    }
}

fn dispatcher(send_resolved: bool) -> Dispatcher {
    Dispatcher::new(
        Timing {
            group_by: vec!["alertname".into()],
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(3600),
        },
        vec![Route { receiver: "hook".into(), matchers: Default::default(), send_resolved }],
    )
}

fn names(n: &[(usize, GroupNotice)]) -> Vec<Vec<(String, &'static str)>> {
    n.iter()
        .map(|(_, g)| {
            g.alerts
                .iter()
                .map(|a| (a.labels["instance"].clone(), if is_resolved(a) { "resolved" } else { "firing" }))
                .collect()
        })
        .collect()
}

#[test]
fn groups_wait_then_batch_and_dedupe() {
    let mut d = dispatcher(true);
    d.ingest(&[alert("Down", "a", AlertState::Firing, 0)], t(0));
    d.ingest(&[alert("Down", "b", AlertState::Firing, 10)], t(10));
    assert!(d.due(t(29)).is_empty(), "group_wait");
    assert_eq!(d.next_due(), Some(t(30)));
    let n = d.due(t(30));
    assert_eq!(
        names(&n),
        vec![vec![("a".to_string(), "firing"), ("b".to_string(), "firing")]],
        "one notification for the group"
    );
    // The evaluator re-sends the same firing alerts: nothing new until repeat_interval.
    d.ingest(&[alert("Down", "a", AlertState::Firing, 60), alert("Down", "b", AlertState::Firing, 60)], t(60));
    assert!(d.due(t(330)).is_empty(), "unchanged group is not notified again");
    // One resolves: notified at the next group_interval, once.
    d.ingest(&[alert("Down", "a", AlertState::Inactive, 400)], t(400));
    assert!(d.due(t(500)).is_empty(), "group_interval since the last flush at 330");
    let n = d.due(t(630));
    assert_eq!(names(&n), vec![vec![("a".to_string(), "resolved"), ("b".to_string(), "firing")]]);
    // The evaluator re-sends the resolved alert for 15 minutes: dropped.
    d.ingest(&[alert("Down", "a", AlertState::Inactive, 400)], t(700));
    assert!(d.due(t(930)).is_empty());
    // repeat_interval: the unchanged firing alert is repeated an hour after the last notification.
    assert!(d.due(t(630 + 3500)).is_empty());
    let n = d.due(t(630 + 3600 + 300));
    assert_eq!(names(&n), vec![vec![("b".to_string(), "firing")]]);
}

#[test]
fn a_firing_alert_no_longer_refreshed_ends_at_its_ends_at() {
    let mut d = dispatcher(true);
    let mut a = alert("Gone", "a", AlertState::Firing, 0);
    a.valid_until = Some(t(240));
    d.ingest(&[a], t(0));
    assert_eq!(names(&d.due(t(30))), vec![vec![("a".to_string(), "firing")]]);
    // No refresh from the evaluator (rule deleted, say): resolved once endsAt (240) has passed.
    assert_eq!(names(&d.due(t(330))), vec![vec![("a".to_string(), "resolved")]]);
    assert!(d.due(t(630)).is_empty(), "told once");
}

#[test]
fn resolved_within_group_wait_or_unwanted_is_not_sent() {
    let mut d = dispatcher(false);
    d.ingest(&[alert("Down", "a", AlertState::Firing, 0)], t(0));
    let n = d.due(t(30));
    assert_eq!(names(&n).len(), 1);
    d.ingest(&[alert("Down", "a", AlertState::Inactive, 40)], t(40));
    assert!(d.due(t(330)).is_empty(), "send_resolved = false");
    let mut d = dispatcher(true);
    d.ingest(&[alert("Flap", "x", AlertState::Firing, 0)], t(0));
    d.ingest(&[alert("Flap", "x", AlertState::Inactive, 5)], t(5));
    assert!(d.due(t(30)).is_empty(), "fired and resolved before group_wait: nothing to tell");
}

#[test]
fn matchers_pick_receivers() {
    let mut d = Dispatcher::new(
        Timing {
            group_by: vec!["...".into()],
            group_wait: Duration::ZERO,
            group_interval: Duration::from_secs(60),
            repeat_interval: Duration::from_secs(3600),
        },
        vec![Route {
            receiver: "pd".into(),
            matchers: [("instance".to_string(), "a".to_string())].into(),
            send_resolved: true,
        }],
    );
    d.ingest(&[alert("Down", "a", AlertState::Firing, 0), alert("Down", "b", AlertState::Firing, 0)], t(0));
    let n = d.due(t(0));
    assert_eq!(names(&n), vec![vec![("a".to_string(), "firing")]]);
}
