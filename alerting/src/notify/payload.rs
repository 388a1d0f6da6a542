//! Notification bodies: Alertmanager API v2 alerts, the Alertmanager v4
//! webhook payload, PagerDuty Events API v2 events and Slack messages.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::eval::alert::{Alert, AlertState, Labels};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stable 64-bit fingerprint of a label set (FNV-1a), as 16 hex digits.
pub fn fingerprint(labels: &Labels) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// `generatorURL` of an alert.
pub fn generator_url(external_url: &str, alert: &Alert) -> String {
    let name = alert.labels.get("alertname").map_or("", String::as_str);
    format!("{}/api/v1/alerts?alertname={name}", external_url.trim_end_matches('/'))
}

/// Whether the alert is resolved.
pub fn is_resolved(a: &Alert) -> bool {
    a.state == AlertState::Inactive
}

/// The body of `POST /api/v2/alerts` (Alertmanager API v2).
pub fn alertmanager_v2(alerts: &[Alert], external_url: &str) -> Value {
    Value::Array(
        alerts
            .iter()
            .map(|a| {
                let mut o = json!({
                    "labels": a.labels,
                    "annotations": a.annotations,
                    "startsAt": ts(a.fired_at.unwrap_or(a.active_at)),
                    "generatorURL": generator_url(external_url, a),
                });
                if let Some(e) = a.ends_at() {
                    o["endsAt"] = json!(ts(e));
                }
                o
            })
            .collect(),
    )
}

/// Labels (or annotations) every map of `maps` shares.
fn common<'a>(mut maps: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = maps.next() else { return Labels::new() };
    let mut out = first.clone();
    for m in maps {
        out.retain(|k, v| m.get(k) == Some(v));
    }
    out
}

/// A group's notification, as the direct notifiers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupNotice {
    /// Receiver name.
    pub receiver: String,
    /// The group's identity.
    pub group_key: String,
    /// The labels the group is made of.
    pub group_labels: Labels,
    /// Alerts (firing and resolved).
    pub alerts: Vec<Alert>,
}

impl GroupNotice {
    /// `firing` when any alert fires, else `resolved`.
    pub fn status(&self) -> &'static str {
        if self.alerts.iter().any(|a| !is_resolved(a)) {
            "firing"
        } else {
            "resolved"
        }
    }
}

/// The Alertmanager webhook payload, version 4.
pub fn webhook_v4(n: &GroupNotice, external_url: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "status": n.status(),
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": common(n.alerts.iter().map(|a| &a.labels)),
        "commonAnnotations": common(n.alerts.iter().map(|a| &a.annotations)),
        "externalURL": external_url,
        "alerts": n.alerts.iter().map(|a| json!({
            "status": if is_resolved(a) { "resolved" } else { "firing" },
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": ts(a.fired_at.unwrap_or(a.active_at)),
            "endsAt": a.resolved_at.map_or("0001-01-01T00:00:00Z".to_string(), ts),
            "generatorURL": generator_url(external_url, a),
            "fingerprint": fingerprint(&a.labels),
        })).collect::<Vec<_>>(),
    })
}

/// PagerDuty severity of an alert: its `severity` label when PagerDuty
/// knows it, `critical` for SLO pages, `warning` for SLO tickets, else `error`.
fn pd_severity(a: &Alert) -> &'static str {
    match a.labels.get("severity").map(String::as_str) {
        Some("critical") => "critical",
        Some("error") => "error",
        Some("warning") => "warning",
        Some("info") => "info",
        _ => match a.labels.get("slo_severity").map(String::as_str) {
            Some("page") => "critical",
            Some("ticket") => "warning",
            _ => "error",
        },
    }
}

/// One PagerDuty Events API v2 event per alert: `trigger` while firing,
/// `resolve` once resolved, `dedup_key` the alert's fingerprint (stable).
pub fn pagerduty_v2(a: &Alert, routing_key: &str, external_url: &str) -> Value {
    let dedup_key = format!("tidewater-{}", fingerprint(&a.labels));
    if is_resolved(a) {
        return json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key});
    }
    let name = a.labels.get("alertname").cloned().unwrap_or_default();
    let summary = a.annotations.get("summary").cloned().unwrap_or_else(|| {
        let rest: Vec<String> =
            a.labels.iter().filter(|(k, _)| *k != "alertname").map(|(k, v)| format!("{k}={v}")).collect();
        format!("{name} {}", rest.join(" "))
    });
    let mut summary: String = summary.chars().take(1024).collect();
    if summary.is_empty() {
        summary = name.clone();
    }
    let details: BTreeMap<&str, &Labels> = [("labels", &a.labels), ("annotations", &a.annotations)].into();
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary,
            "source": a.labels.get("service").or(a.labels.get("instance")).cloned().unwrap_or_else(|| "tidewater".into()),
            "severity": pd_severity(a),
            "timestamp": ts(a.fired_at.unwrap_or(a.active_at)),
            "component": a.labels.get("service").cloned().unwrap_or_default(),
            "group": a.labels.get("slo").cloned().unwrap_or_default(),
            "class": name,
            "custom_details": details,
        },
        "client": "Tidewater",
        "client_url": generator_url(external_url, a),
    })
}

/// A Slack incoming-webhook message for a group.
pub fn slack(n: &GroupNotice, external_url: &str) -> Value {
    let firing = n.alerts.iter().filter(|a| !is_resolved(a)).count();
    let name = n.group_labels.get("alertname").cloned().unwrap_or_else(|| n.group_key.clone());
    let title = if firing > 0 { format!("[FIRING:{firing}] {name}") } else { format!("[RESOLVED] {name}") };
    let lines: Vec<String> =
        n.alerts
            .iter()
            .map(|a| {
                let state = if is_resolved(a) { "resolved" } else { "firing" };
                let what =
                    a.annotations.get("summary").cloned().unwrap_or_else(|| {
                        a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                    });
                format!("• *{state}* {what}")
            })
            .collect();
    json!({
        "text": title,
        "attachments": [{
            "color": if firing > 0 { "danger" } else { "good" },
            "title": title,
            "title_link": external_url,
            "text": lines.join("\n"),
            "mrkdwn_in": ["text"],
        }],
    })
}
