//! Admission: the guards every query gets, whichever protocol sent it.
//!
//! [`QueryEngine::admit`](super::QueryEngine::admit) takes a concurrency
//! permit (or refuses with [`Error::TooManyQueries`]), registers the query in
//! `system.queries` and fixes its deadline. The [`Admission`] it returns
//! builds the query's session (with the scan counters attached), and
//! [`Admission::guard`] wraps the query's output so the deadline and
//! `max_result_rows` are enforced item by item and the rows are counted.
//!
//! The query's `system.queries` entry is finished when the last clone of the
//! admission (and every guarded stream made from it) is gone: with the first
//! failure recorded, else `ok` if every guarded stream ran to its end (or
//! [`Admission::settle`] was called), else `cancelled` (the client left).
//! The permit is released at the same moment. A reader on another runtime
//! may finish both earlier, when it gives up on the query (timeout, or the
//! client went away), while the query task winds down.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::prelude::SessionContext;
use futures::Stream;
use parking_lot::Mutex;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::QueryEngine;
use crate::error::{Error, Result};
use crate::query_log::{QueryLog, ScanStats};
use tidewater_tenant::Tenant;

/// An admitted query: holds its concurrency permit and its `system.queries`
/// entry until the last clone is dropped. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: QueryEngine,
    log: Arc<QueryLog>,
    id: u64,
    stats: Arc<ScanStats>,
    rows: Arc<AtomicU64>,
    deadline: Instant,
    timeout: Duration,
    max_rows: usize,
    /// The first failure: (state, message).
    failure: Mutex<Option<(&'static str, String)>>,
    /// The tenant the query acts for.
    tenant: Tenant,
    /// Guarded streams not yet at their end.
    unfinished: AtomicUsize,
    /// Some guarded stream ended, or `settle` was called.
    settled: AtomicBool,
    /// The entry was finished (and the permit released).
    finished: AtomicBool,
    /// The engine's permit and, with a per-tenant limit, the tenant's.
    permit: Mutex<Option<(OwnedSemaphorePermit, Option<OwnedSemaphorePermit>)>>,
}

impl Inner {
    fn fail(&self, e: &Error) {
        let state = match e {
            Error::Timeout(_) => "timeout",
            _ => "error",
        };
        self.record(state, e.to_string());
    }

    fn record(&self, state: &'static str, message: String) {
        let mut failure = self.failure.lock();
        if failure.is_none() {
            *failure = Some((state, message));
        }
    }

    /// Finish the `system.queries` entry and release the permit, once.
    fn finish(&self) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        let (state, error) = match self.failure.lock().take() {
            Some((state, message)) => (state, Some(message)),
            None if self.settled.load(Ordering::Relaxed) && self.unfinished.load(Ordering::Relaxed) == 0 => {
                ("ok", None)
            }
            None => ("cancelled", Some("the client went away".to_string())),
        };
        self.log.finish(self.id, state, error);
        drop(self.permit.lock().take());
    }
}

/// A reader's handle on an admitted query that does not keep it admitted
/// (see [`Admission::downgrade`]).
#[derive(Debug, Clone)]
pub(super) struct WeakAdmission(Weak<Inner>);

impl WeakAdmission {
    /// The reader gave up (`e`: why; `None`: it went away): finish the
    /// entry and release the permit now, while the query task winds down
    /// (it stops at its next yield).
    pub(super) fn abandon(&self, e: Option<&Error>) {
        if let Some(inner) = self.0.upgrade() {
            if let Some(e) = e {
                inner.fail(e);
            }
            inner.finish();
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Admission {
    pub(super) fn new(
        engine: QueryEngine,
        tenant: Tenant,
        permit: (OwnedSemaphorePermit, Option<OwnedSemaphorePermit>),
        log: Arc<QueryLog>,
        sql: &str,
        timeout: Duration,
    ) -> Self {
        let started = log.start(&tenant, sql);
        let max_rows = engine.config().max_result_rows;
        Self {
            inner: Arc::new(Inner {
                engine,
                log,
                id: started.id,
                stats: started.stats,
                rows: started.rows,
                deadline: Instant::now() + timeout,
                timeout,
                max_rows,
                failure: Mutex::new(None),
                tenant,
                unfinished: AtomicUsize::new(0),
                settled: AtomicBool::new(false),
                finished: AtomicBool::new(false),
                permit: Mutex::new(Some(permit)),
            }),
        }
    }

    /// The query's id in `system.queries`.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// A session for this query: the engine's, with the scan counters
    /// attached so `system.queries` can show the segments it read.
    pub fn context(&self) -> Result<SessionContext> {
        self.inner.engine.build_context(&self.inner.tenant, Some(self.inner.stats.clone()))
    }

    /// The tenant the query acts for.
    pub fn tenant(&self) -> &Tenant {
        &self.inner.tenant
    }

    /// When the query must be done (planning, execution and sending rows).
    pub fn deadline(&self) -> Instant {
        self.inner.deadline
    }

    /// The query's timeout (the configured one, or the shorter one asked for).
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// Run `fut` within the deadline; [`Error::Timeout`] (recorded) if it is not done by then.
    pub async fn within_deadline<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Result<T, E>
    where
        E: From<Error>,
    {
        match tokio::time::timeout_at(self.inner.deadline, fut).await {
            Ok(r) => r,
            Err(_) => {
                let e = Error::Timeout(self.inner.timeout);
                self.fail(&e);
                Err(e.into())
            }
        }
    }

    /// Record that the query failed with `e` (the first failure is kept).
    pub fn fail(&self, e: &Error) {
        self.inner.fail(e);
    }

    /// A handle for the query's reader that does not keep it admitted.
    pub(super) fn downgrade(&self) -> WeakAdmission {
        WeakAdmission(Arc::downgrade(&self.inner))
    }

    /// Record that the query failed with `message` (an error from outside
    /// the engine, such as a protocol library's; the first failure is kept).
    pub fn record_error(&self, message: impl Into<String>) {
        self.record("error", message.into());
    }

    /// Record that the query finished without a guarded row stream (a
    /// statement with no rows, such as `SET`).
    pub fn settle(&self) {
        self.inner.settled.store(true, Ordering::Relaxed);
    }

    fn record(&self, state: &'static str, message: String) {
        self.inner.record(state, message);
    }

    /// `items` bounded by the deadline and `max_result_rows`: past either,
    /// one error item ([`Error::Timeout`], [`Error::ResultTooLarge`]) ends
    /// the stream. Rows are counted for `system.queries`; an error item from
    /// `items` is recorded and ends the stream.
    pub fn guard<S, T>(&self, items: S) -> Guarded<S>
    where
        S: Stream<Item = T> + Send,
        T: GuardItem,
    {
        self.inner.unfinished.fetch_add(1, Ordering::Relaxed);
        Guarded {
            admission: self.clone(),
            items: Box::pin(items),
            sleep: Box::pin(tokio::time::sleep_until(self.inner.deadline)),
            done: false,
        }
    }
}

/// What a guarded stream's item carries.
#[derive(Debug)]
pub enum ItemOutcome {
    /// This many result rows.
    Rows(usize),
    /// A failure, with its message.
    Failed(String),
    /// The client canceled the query.
    Cancelled,
}

/// An item of a stream [`Admission::guard`] can bound.
pub trait GuardItem: Sized {
    /// What the item carries.
    fn outcome(&self) -> ItemOutcome;
    /// The item that reports `e` to the client.
    fn from_error(e: Error) -> Self;
}

impl GuardItem for Result<datafusion::arrow::array::RecordBatch> {
    fn outcome(&self) -> ItemOutcome {
        match self {
            Ok(batch) => ItemOutcome::Rows(batch.num_rows()),
            Err(e) => ItemOutcome::Failed(e.to_string()),
        }
    }

    fn from_error(e: Error) -> Self {
        Err(e)
    }
}

/// A stream bounded by an [`Admission`] (see [`Admission::guard`]).
pub struct Guarded<S> {
    admission: Admission,
    items: Pin<Box<S>>,
    sleep: Pin<Box<Sleep>>,
    done: bool,
}

impl<S> std::fmt::Debug for Guarded<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").field("admission", &self.admission).field("done", &self.done).finish()
    }
}

impl<S> Guarded<S> {
    /// End the stream with `e`, recorded as the query's outcome.
    fn fail<T: GuardItem>(&mut self, e: Error) -> Poll<Option<T>> {
        self.admission.fail(&e);
        self.end();
        Poll::Ready(Some(T::from_error(e)))
    }

    fn end(&mut self) {
        if !self.done {
            self.done = true;
            self.admission.inner.unfinished.fetch_sub(1, Ordering::Relaxed);
            self.admission.settle();
        }
    }
}

impl<S, T> Stream for Guarded<S>
where
    S: Stream<Item = T> + Send,
    T: GuardItem,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let (deadline, timeout, max_rows) = {
            let inner = &this.admission.inner;
            (inner.deadline, inner.timeout, inner.max_rows as u64)
        };
        // A stream whose items are always ready never lets the timer fire:
        // look at the clock too.
        if Instant::now() >= deadline || this.sleep.as_mut().poll(cx).is_ready() {
            return this.fail(Error::Timeout(timeout));
        }
        match this.items.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
            Poll::Ready(Some(item)) => match item.outcome() {
                ItemOutcome::Rows(n) => {
                    let rows = &this.admission.inner.rows;
                    let total = rows.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                    if total > max_rows {
                        rows.fetch_sub(n as u64, Ordering::Relaxed);
                        return this.fail(Error::ResultTooLarge(max_rows as usize));
                    }
                    Poll::Ready(Some(item))
                }
                ItemOutcome::Failed(message) => {
                    this.admission.record("error", message);
                    this.end();
                    Poll::Ready(Some(item))
                }
                ItemOutcome::Cancelled => {
                    this.admission.record("cancelled", "canceled by the client".into());
                    this.end();
                    Poll::Ready(Some(item))
                }
            },
        }
    }
}
