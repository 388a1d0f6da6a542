//! `forward`: send a copy of what reaches this processor to another OTLP
//! endpoint (gRPC or HTTP protobuf) without delaying ingest.
//!
//! The copy goes into a bounded queue (at most `queue_max_requests`
//! requests and `queue_max_bytes` encoded bytes, counting the request being
//! sent); one task per processor sends the queue in order, retrying
//! retryable failures with exponential backoff. A copy that does not fit,
//! that runs out of attempts, or that the other end refuses is counted as
//! undelivered (`system.pipelines`) and logged; the local write is never
//! refused because of it.
//!
//! Bodies are gzip-compressed when configured (the default for OTLP/HTTP);
//! OTLP/HTTP endpoints may be `https://` (rustls, system roots plus an
//! optional CA file). On shutdown ([`Forward::shutdown`]) the queue stops
//! taking copies and what is queued is sent until a deadline; what is left
//! then counts as undelivered.

mod client;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use tokio::sync::mpsc;

use tidewater_telemetry::metrics::{PIPELINE_FORWARDED, PIPELINE_FORWARD_QUEUED_BYTES};

use crate::config::{ForwardConfig, Signal};
use crate::error::{Error, Result};
use crate::otlp;
use crate::processor::{Delivery, Processor, Report};
use axum::body::Bytes;
use client::{Attempt, Client};

/// A request waiting to be forwarded.
#[derive(Debug)]
pub enum Payload {
    /// A metrics request.
    Metrics(ExportMetricsServiceRequest),
    /// A logs request.
    Logs(ExportLogsServiceRequest),
}

#[derive(Debug)]
struct Item {
    payload: Payload,
    /// Points or records in the payload.
    items: u64,
    /// Encoded size, reserved in `Shared::queued_bytes` until sent.
    bytes: usize,
}

/// Figures shared by the processor and its sending task.
#[derive(Debug)]
struct Shared {
    queued_bytes: AtomicUsize,
    delivered: AtomicU64,
    undelivered: AtomicU64,
    /// Milliseconds since `start` of the last "queue full" warning.
    last_full_warning: AtomicU64,
    /// `metrics` or `logs`, for `/metrics` labels.
    signal: &'static str,
    /// The processor name, for `/metrics` labels.
    name: String,
}

impl Shared {
    fn delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
        PIPELINE_FORWARDED.add(&[self.signal, &self.name, "delivered"], n);
    }

    fn undelivered(&self, n: u64) {
        self.undelivered.fetch_add(n, Ordering::Relaxed);
        PIPELINE_FORWARDED.add(&[self.signal, &self.name, "undelivered"], n);
    }

    /// Add `add` or take `sub` queued bytes; publish and return the new figure.
    fn queued(&self, add: usize, sub: usize) -> usize {
        let now = if add > 0 {
            self.queued_bytes.fetch_add(add, Ordering::AcqRel) + add
        } else {
            self.queued_bytes.fetch_sub(sub, Ordering::AcqRel).saturating_sub(sub)
        };
        PIPELINE_FORWARD_QUEUED_BYTES.set(&[self.signal, &self.name], now as f64);
        now
    }
}

/// The `forward` processor.
#[derive(Debug)]
pub struct Forward {
    name: String,
    max_bytes: usize,
    tx: mpsc::Sender<Item>,
    shared: Arc<Shared>,
    start: Instant,
    /// Tells the sending task to drain the queue by a deadline.
    drain: watch::Sender<Option<Instant>>,
    /// The sending task, until [`Forward::shutdown`] takes it.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Forward {
    /// Start the processor and its sending task (needs a Tokio runtime).
    pub fn start(config: ForwardConfig, signal: Signal) -> Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime(config.name.clone()))?;
        let _guard = runtime.enter();
        let client = Client::new(&config).map_err(|e| Error::Config(format!("processor {:?}: {e}", config.name)))?;
        let (tx, rx) = mpsc::channel(config.queue_max_requests);
        let shared = Arc::new(Shared {
            queued_bytes: AtomicUsize::new(0),
            delivered: AtomicU64::new(0),
            undelivered: AtomicU64::new(0),
            last_full_warning: AtomicU64::new(0),
            signal: signal.as_str(),
            name: config.name.clone(),
        });
        let (drain, drain_rx) = watch::channel(None);
        let task =
            runtime.spawn(run(rx, client, shared.clone(), config.clone(), Drain { rx: drain_rx, deadline: None }));
        Ok(Self {
            name: config.name,
            max_bytes: config.queue_max_bytes,
            tx,
            shared,
            start: Instant::now(),
            drain,
            task: Mutex::new(Some(task)),
        })
    }

    /// Stop taking copies and send what is queued (and in flight) until
    /// `deadline`; copies still queued or failing then count as undelivered.
    /// Returns the sending task, which ends when the queue is empty or the
    /// deadline has passed (`None` if shutdown was already called).
    pub fn shutdown(&self, deadline: Instant) -> Option<JoinHandle<()>> {
        self.drain.send_replace(Some(deadline));
        self.task.lock().take()
    }

    fn enqueue(&self, payload: Payload, items: u64, bytes: usize) {
        let s = &self.shared;
        let reserved = s.queued(bytes, 0);
        let refused = if reserved > self.max_bytes {
            Some("queue bytes")
        } else {
            match self.tx.try_send(Item { payload, items, bytes }) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(_)) => Some("queue requests"),
                Err(mpsc::error::TrySendError::Closed(_)) => Some("sender stopped"),
            }
        };
        if let Some(why) = refused {
            s.queued(0, bytes);
            s.undelivered(items);
            let now = self.start.elapsed().as_millis() as u64;
            let last = s.last_full_warning.load(Ordering::Relaxed);
            if (now >= last + 1000 || last == 0)
                && s.last_full_warning.compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                tracing::warn!(processor = %self.name, limit = why, items, "forward queue full: copy dropped");
            }
        }
    }
}

impl Processor for Forward {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, _report: &mut Report) {
        let items = otlp::metric_points(req) as u64;
        if items > 0 {
            self.enqueue(Payload::Metrics(req.clone()), items, req.encoded_len());
        }
    }

    fn logs(&self, req: &mut ExportLogsServiceRequest, _report: &mut Report) {
        let items = otlp::log_records(req) as u64;
        if items > 0 {
            self.enqueue(Payload::Logs(req.clone()), items, req.encoded_len());
        }
    }

    fn shutdown(&self, deadline: Instant) -> Option<JoinHandle<()>> {
        Forward::shutdown(self, deadline)
    }

    fn delivery(&self) -> Option<Delivery> {
        let s = &self.shared;
        Some(Delivery {
            delivered: s.delivered.load(Ordering::Relaxed),
            undelivered: s.undelivered.load(Ordering::Relaxed),
            queued_bytes: s.queued_bytes.load(Ordering::Relaxed) as u64,
        })
    }
}

/// The delay before attempt `attempt + 1` (doubling from `initial`, at most `max`).
fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    initial.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(max)
}

/// The sending task's view of a shutdown request.
struct Drain {
    rx: watch::Receiver<Option<Instant>>,
    /// Set once shutdown was asked for.
    deadline: Option<tokio::time::Instant>,
}

impl Drain {
    /// Wait until shutdown is asked for (forever if the processor is dropped
    /// without it: the queue is then sent as usual).
    async fn requested(&mut self) {
        while self.deadline.is_none() {
            if let Some(d) = *self.rx.borrow_and_update() {
                self.deadline = Some(tokio::time::Instant::from_std(d));
                return;
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    fn passed(&self) -> bool {
        self.deadline.is_some_and(|d| tokio::time::Instant::now() >= d)
    }
}

/// Deliver one item: attempts with backoff until done, final failure or out
/// of attempts. `Ok` has the items the other end refused.
async fn deliver(client: &Client, item: &Item, body: Option<&Bytes>, config: &ForwardConfig) -> Result<u64, String> {
    let initial = Duration::from_millis(config.initial_backoff_ms);
    let max = Duration::from_millis(config.max_backoff_ms.max(config.initial_backoff_ms));
    let mut attempt = 0;
    loop {
        attempt += 1;
        match client.send(&item.payload, body).await {
            Attempt::Done { rejected } => return Ok(rejected.min(item.items)),
            Attempt::Retry { reason, after } if attempt < config.max_attempts => {
                let delay = backoff(attempt, initial, max).max(after.unwrap_or_default()).min(max);
                tracing::debug!(processor = %config.name, attempt, reason = %reason, ?delay, "forward: retrying");
                tokio::time::sleep(delay).await;
            }
            Attempt::Retry { reason, .. } => return Err(format!("{reason} (after {attempt} attempts)")),
            Attempt::Fail(reason) => return Err(reason),
        }
    }
}

/// Send the queue in order until every sender is gone, or, after a shutdown
/// request, until the queue is empty or the deadline has passed.
async fn run(
    mut rx: mpsc::Receiver<Item>,
    client: Client,
    shared: Arc<Shared>,
    config: ForwardConfig,
    mut drain: Drain,
) {
    // Items given up on because the shutdown deadline passed.
    let mut late = 0u64;
    loop {
        let item = tokio::select! {
            biased;
            () = drain.requested(), if drain.deadline.is_none() => {
                // Take no more copies; what is queued is still received.
                rx.close();
                continue;
            }
            item = rx.recv() => item,
        };
        let Some(item) = item else { break };
        let outcome = if drain.passed() {
            Err(None)
        } else {
            match client.body(&item.payload) {
                Err(e) => Err(Some(e)),
                Ok(body) => {
                    let sending = deliver(&client, &item, body.as_ref(), &config);
                    tokio::pin!(sending);
                    let mut done = None;
                    if drain.deadline.is_none() {
                        tokio::select! {
                            o = &mut sending => done = Some(o),
                            () = drain.requested() => rx.close(),
                        }
                    }
                    match (done, drain.deadline) {
                        (Some(o), _) => o.map_err(Some),
                        (None, Some(d)) => match tokio::time::timeout_at(d, &mut sending).await {
                            Ok(o) => o.map_err(Some),
                            Err(_) => Err(None),
                        },
                        (None, None) => sending.await.map_err(Some),
                    }
                }
            }
        };
        match outcome {
            Ok(rejected) => {
                shared.delivered(item.items - rejected);
                if rejected > 0 {
                    shared.undelivered(rejected);
                    tracing::warn!(processor = %config.name, rejected, "forward: the endpoint refused part of a copy");
                }
            }
            Err(Some(reason)) => {
                shared.undelivered(item.items);
                tracing::warn!(processor = %config.name, endpoint = %config.endpoint, items = item.items, reason = %reason, "forward: copy not delivered");
            }
            Err(None) => {
                shared.undelivered(item.items);
                late += item.items;
            }
        }
        shared.queued(0, item.bytes);
    }
    if late > 0 {
        tracing::warn!(processor = %config.name, endpoint = %config.endpoint, items = late, "forward: shutdown deadline passed; queued copies not delivered");
    }
    tracing::debug!(processor = %config.name, "forward: sender stopped");
}

#[cfg(test)]
mod tests;
