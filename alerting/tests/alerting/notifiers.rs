//! Notifiers against real local HTTP listeners: Alertmanager v2, webhook
//! v4, PagerDuty Events v2 and Slack payload shapes; retry on 5xx, none on
//! 4xx; private targets denied.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::Value;
use tidewater_alerting::clock::SystemClock;
use tidewater_alerting::config::{AlertingConfig, ReceiverConfig};
use tidewater_alerting::eval::alert::{Alert, AlertState};
use tidewater_alerting::eval::AlertSink;
use tidewater_alerting::notify;

/// What the listener received, and the statuses it answers with per path.
#[derive(Default)]
struct Listener {
    got: Mutex<Vec<(String, Value)>>,
    script: Mutex<std::collections::HashMap<String, VecDeque<u16>>>,
}

async fn record(State(l): State<Arc<Listener>>, Path(path): Path<String>, Json(body): Json<Value>) -> StatusCode {
    l.got.lock().expect("lock").push((path.clone(), body));
    let code = l.script.lock().expect("lock").get_mut(&path).and_then(VecDeque::pop_front).unwrap_or(200);
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

async fn listen() -> (Arc<Listener>, String) {
    let l = Arc::new(Listener::default());
    let app = Router::new().route("/{*path}", post(record)).with_state(l.clone());
    let sock = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", sock.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(sock, app).await });
    (l, url)
}

impl Listener {
    fn on(&self, path: &str) -> Vec<Value> {
        self.got.lock().expect("lock").iter().filter(|(p, _)| p == path).map(|(_, b)| b.clone()).collect()
    }

    async fn wait(&self, path: &str, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let got = self.on(path);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{path}: expected {n} requests, got {:?}", self.on(path));
    }
}

fn alert(state: AlertState) -> Alert {
    let now = Utc::now();
    Alert {
        labels: [
            ("alertname".to_string(), "CheckoutErrors".to_string()),
            ("service".to_string(), "checkout".to_string()),
            ("severity".to_string(), "critical".to_string()),
        ]
        .into(),
        annotations: [("summary".to_string(), "checkout errors at 12%".to_string())].into(),
        state,
        value: 0.12,
        active_at: now,
        fired_at: Some(now),
        resolved_at: (state == AlertState::Inactive).then_some(now),
        last_sent_at: Some(now),
        valid_until: Some(now + chrono::Duration::minutes(4)),
        keep_firing_since: None,
    }
}

fn receiver(name: &str, kind: &str, url: String) -> ReceiverConfig {
    ReceiverConfig {
        name: name.into(),
        kind: kind.into(),
        url: Some(url),
        routing_key: (kind == "pagerduty").then(|| "R0UTINGKEY".to_string()),
        matchers: Default::default(),
        send_resolved: true,
        max_attempts: 4,
        initial_backoff: "20ms".into(),
    }
}

fn config(url: &str) -> AlertingConfig {
    let mut cfg = AlertingConfig {
        external_url: "http://tidewater.example:4318".into(),
        alertmanagers: vec![format!("{url}/am")],
        ..Default::default()
    };
    cfg.route.group_wait = "0s".into();
    cfg.route.group_interval = "100ms".into();
    cfg.receivers = vec![
        receiver("hook", "webhook", format!("{url}/hook")),
        receiver("pd", "pagerduty", format!("{url}/pd")),
        receiver("slack", "slack", format!("{url}/slack")),
    ];
    cfg
}

#[tokio::test]
async fn payloads_have_their_documented_shapes() {
    let (l, url) = listen().await;
    let cfg = config(&url);
    cfg.validate().expect("valid");
    let (n, _task) = notify::spawn(&cfg, Arc::new(SystemClock)).expect("notifier");
    n.send(vec![alert(AlertState::Firing)]);

    let am = l.wait("am/api/v2/alerts", 1).await;
    let a = &am[0][0];
    assert_eq!(a["labels"]["alertname"], "CheckoutErrors");
    assert_eq!(a["annotations"]["summary"], "checkout errors at 12%");
    assert!(a["startsAt"].as_str().expect("startsAt").ends_with('Z'));
    assert!(a["endsAt"].is_string());
    assert_eq!(a["generatorURL"], "http://tidewater.example:4318/api/v1/alerts?alertname=CheckoutErrors");

    let hook = l.wait("hook", 1).await;
    let h = &hook[0];
    assert_eq!(
        (h["version"].as_str(), h["status"].as_str(), h["receiver"].as_str()),
        (Some("4"), Some("firing"), Some("hook"))
    );
    assert_eq!(h["groupLabels"], serde_json::json!({"alertname": "CheckoutErrors"}));
    assert_eq!(h["commonLabels"]["service"], "checkout");
    assert_eq!(h["commonAnnotations"]["summary"], "checkout errors at 12%");
    assert_eq!(h["externalURL"], "http://tidewater.example:4318");
    assert_eq!(h["truncatedAlerts"], 0);
    assert!(h["groupKey"].is_string());
    let ha = &h["alerts"][0];
    assert_eq!(ha["status"], "firing");
    assert_eq!(ha["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(ha["fingerprint"].as_str().map(str::len), Some(16));

    let pd = l.wait("pd", 1).await;
    let p = &pd[0];
    assert_eq!(p["routing_key"], "R0UTINGKEY");
    assert_eq!(p["event_action"], "trigger");
    let dedup = p["dedup_key"].as_str().expect("dedup_key").to_string();
    assert_eq!(p["payload"]["summary"], "checkout errors at 12%");
    assert_eq!(p["payload"]["severity"], "critical");
    assert_eq!(p["payload"]["source"], "checkout");
    assert!(p["payload"]["timestamp"].is_string());
    assert_eq!(p["payload"]["custom_details"]["labels"]["service"], "checkout");

    let slack = l.wait("slack", 1).await;
    assert_eq!(slack[0]["text"], "[FIRING:1] CheckoutErrors");
    assert_eq!(slack[0]["attachments"][0]["color"], "danger");
    assert!(slack[0]["attachments"][0]["text"].as_str().expect("text").contains("checkout errors at 12%"));

    // The evaluator re-sends the firing alert: Alertmanager gets it again, the direct receivers do not.
    n.send(vec![alert(AlertState::Firing)]);
    l.wait("am/api/v2/alerts", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(l.on("hook").len(), 1, "deduplicated");
    assert_eq!(l.on("pd").len(), 1, "deduplicated");

    // Resolved: one resolved notification each, PagerDuty `resolve` with the same dedup_key.
    n.send(vec![alert(AlertState::Inactive)]);
    let hook = l.wait("hook", 2).await;
    assert_eq!(hook[1]["status"], "resolved");
    assert_ne!(hook[1]["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let pd = l.wait("pd", 2).await;
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[1]["dedup_key"], dedup.as_str());
    let slack = l.wait("slack", 2).await;
    assert_eq!(slack[1]["text"], "[RESOLVED] CheckoutErrors");
    // Re-sent resolved alerts are not notified again.
    n.send(vec![alert(AlertState::Inactive)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((l.on("hook").len(), l.on("pd").len(), l.on("slack").len()), (2, 2, 2));
    assert_eq!(n.stats().failed.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn retries_on_5xx_and_429_but_not_on_other_4xx() {
    let (l, url) = listen().await;
    l.script.lock().expect("lock").insert("flaky".into(), VecDeque::from([503, 429, 200]));
    l.script.lock().expect("lock").insert("bad".into(), VecDeque::from([400, 200]));
    let mut cfg = AlertingConfig::default();
    cfg.route.group_wait = "0s".into();
    cfg.receivers =
        vec![receiver("flaky", "webhook", format!("{url}/flaky")), receiver("bad", "webhook", format!("{url}/bad"))];
    let (n, _task) = notify::spawn(&cfg, Arc::new(SystemClock)).expect("notifier");
    n.send(vec![alert(AlertState::Firing)]);
    let flaky = l.wait("flaky", 3).await;
    assert_eq!(flaky.len(), 3, "503, 429, then delivered");
    l.wait("bad", 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(l.on("bad").len(), 1, "a 400 is not retried");
    let stats = n.stats();
    assert_eq!(stats.sent.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test]
async fn private_targets_are_refused_when_configured() {
    let (l, url) = listen().await;
    let mut cfg = AlertingConfig::default();
    cfg.route.group_wait = "0s".into();
    cfg.deny_private_targets = true;
    cfg.receivers = vec![receiver("hook", "webhook", format!("{url}/hook"))];
    let (n, _task) = notify::spawn(&cfg, Arc::new(SystemClock)).expect("notifier");
    n.send(vec![alert(AlertState::Firing)]);
    for _ in 0..100 {
        if n.stats().failed.load(std::sync::atomic::Ordering::Relaxed) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(n.stats().failed.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(l.on("hook").is_empty(), "nothing reached the loopback listener");
}
