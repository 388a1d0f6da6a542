//! Notifications: alerts due from the evaluator go into a bounded queue;
//! one task fans them out to every Alertmanager (API v2, one worker each, in
//! order) and, through [`dispatch`]'s grouping, to the direct receivers
//! (webhook with the Alertmanager v4 payload, PagerDuty Events v2, Slack),
//! one worker each with retries ([`send`]).

pub mod dispatch;
pub mod payload;
pub mod send;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{AlertingConfig, ReceiverConfig, PAGERDUTY_URL};
use crate::error::Result;
use crate::eval::alert::Alert;
use crate::eval::AlertSink;
use dispatch::{Dispatcher, Route, Timing};
use payload::GroupNotice;
use send::{post_json, Delivery};

/// Queued batches per worker.
const WORKER_QUEUE: usize = 256;

/// Counters of what was delivered.
#[derive(Debug, Default)]
pub struct NotifyStats {
    /// Requests that succeeded.
    pub sent: AtomicU64,
    /// Requests that failed after their retries.
    pub failed: AtomicU64,
    /// Alerts dropped because a queue was full.
    pub dropped: AtomicU64,
}

/// The evaluator's [`AlertSink`]: queues batches for the notifier task.
#[derive(Debug)]
pub struct Notifier {
    tx: mpsc::Sender<Vec<Alert>>,
    stats: Arc<NotifyStats>,
}

impl AlertSink for Notifier {
    fn send(&self, alerts: Vec<Alert>) {
        let n = alerts.len() as u64;
        if let Err(e) = self.tx.try_send(alerts) {
            self.stats.dropped.fetch_add(n, Ordering::Relaxed);
            tracing::error!(alerts = n, error = %e, "notification queue full; alerts dropped");
        }
    }
}

impl Notifier {
    /// Delivery counters.
    pub fn stats(&self) -> Arc<NotifyStats> {
        self.stats.clone()
    }
}

/// A direct receiver's kind and target.
#[derive(Debug, Clone)]
enum Target {
    Webhook(String),
    PagerDuty { url: String, routing_key: String },
    Slack(String),
}

/// Start the notifier task for `cfg` (call after `cfg.validate()`).
pub fn spawn(cfg: &AlertingConfig, clock: Arc<dyn Clock>) -> Result<(Arc<Notifier>, JoinHandle<()>)> {
    let timeout = AlertingConfig::duration(&cfg.notify_timeout);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| crate::error::Error::Config(format!("http client: {e}")))?;
    let stats = Arc::new(NotifyStats::default());
    let external = cfg.external_url.clone();
    let am_workers: Vec<mpsc::Sender<Value>> = cfg
        .alertmanagers
        .iter()
        .map(|base| {
            let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
            let delivery = Delivery { max_attempts: 1, initial_backoff: Duration::ZERO, deny_private: false };
            worker(client.clone(), stats.clone(), url, delivery)
        })
        .collect();
    let routes: Vec<Route> = cfg
        .receivers
        .iter()
        .map(|r| Route { receiver: r.name.clone(), matchers: r.matchers.clone(), send_resolved: r.send_resolved })
        .collect();
    let receivers: Vec<(Target, mpsc::Sender<Value>)> =
        cfg.receivers.iter().map(|r| receiver(r, cfg.deny_private_targets, &client, &stats)).collect();
    let timing = Timing {
        group_by: cfg.route.group_by.clone(),
        group_wait: AlertingConfig::duration(&cfg.route.group_wait),
        group_interval: AlertingConfig::duration(&cfg.route.group_interval),
        repeat_interval: AlertingConfig::duration(&cfg.route.repeat_interval),
    };
    let (tx, mut rx) = mpsc::channel::<Vec<Alert>>(cfg.queue_capacity);
    let worker_stats = stats.clone();
    let task = tokio::spawn(async move {
        let mut dispatcher = Dispatcher::new(timing, routes);
        loop {
            let wait = dispatcher
                .next_due()
                .map(|t| (t - clock.now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                batch = rx.recv() => {
                    let Some(batch) = batch else { break };
                    if !am_workers.is_empty() {
                        let body = payload::alertmanager_v2(&batch, &external);
                        for w in &am_workers {
                            enqueue(w, body.clone(), &worker_stats, batch.len());
                        }
                    }
                    dispatcher.ingest(&batch, clock.now());
                }
                _ = tokio::time::sleep(wait) => {}
            }
            for (r, notice) in dispatcher.due(clock.now()) {
                if let Some((target, worker)) = receivers.get(r) {
                    deliver(target, worker, &notice, &external, &worker_stats);
                }
            }
        }
    });
    Ok((Arc::new(Notifier { tx, stats }), task))
}

fn receiver(
    r: &ReceiverConfig,
    deny_private: bool,
    client: &reqwest::Client,
    stats: &Arc<NotifyStats>,
) -> (Target, mpsc::Sender<Value>) {
    let delivery = Delivery {
        max_attempts: r.max_attempts,
        initial_backoff: AlertingConfig::duration(&r.initial_backoff),
        deny_private,
    };
    let target = match r.kind.as_str() {
        "pagerduty" => Target::PagerDuty {
            url: r.url.clone().unwrap_or_else(|| PAGERDUTY_URL.to_string()),
            routing_key: r.routing_key.clone().unwrap_or_default(),
        },
        "slack" => Target::Slack(r.url.clone().unwrap_or_default()),
        _ => Target::Webhook(r.url.clone().unwrap_or_default()),
    };
    let url = match &target {
        Target::Webhook(u) | Target::Slack(u) | Target::PagerDuty { url: u, .. } => u.clone(),
    };
    (target, worker(client.clone(), stats.clone(), url, delivery))
}

fn deliver(target: &Target, worker: &mpsc::Sender<Value>, n: &GroupNotice, external: &str, stats: &Arc<NotifyStats>) {
    match target {
        Target::Webhook(_) => enqueue(worker, payload::webhook_v4(n, external), stats, n.alerts.len()),
        Target::Slack(_) => enqueue(worker, payload::slack(n, external), stats, n.alerts.len()),
        Target::PagerDuty { routing_key, .. } => {
            for a in &n.alerts {
                enqueue(worker, payload::pagerduty_v2(a, routing_key, external), stats, 1);
            }
        }
    }
}

fn enqueue(w: &mpsc::Sender<Value>, body: Value, stats: &NotifyStats, alerts: usize) {
    if w.try_send(body).is_err() {
        stats.dropped.fetch_add(alerts as u64, Ordering::Relaxed);
        tracing::error!(alerts, "notification worker queue full; dropped");
    }
}

/// A task posting bodies to `url` one after another (so a resolve never
/// overtakes its trigger).
fn worker(client: reqwest::Client, stats: Arc<NotifyStats>, url: String, d: Delivery) -> mpsc::Sender<Value> {
    let (tx, mut rx) = mpsc::channel::<Value>(WORKER_QUEUE);
    tokio::spawn(async move {
        while let Some(body) = rx.recv().await {
            match post_json(&client, &url, &body, &d).await {
                Ok(_) => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(url, error = %e, "notification not delivered");
                }
            }
        }
    });
    tx
}
