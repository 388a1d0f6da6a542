//! A query's result as a stream: planned and executed on the query runtime,
//! its batches handed over a small bounded channel, so a result is never
//! held in memory whole and a slow reader slows the query down instead of
//! piling batches up. Dropping the stream (the client went away) aborts the
//! query.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::{Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Sleep};

use super::admission::{Admission, WeakAdmission};
use super::QueryEngine;
use crate::error::{Error, Result};

/// Batches in flight between the query task and the reader.
const CHANNEL_BATCHES: usize = 2;

enum Msg {
    Batch(RecordBatch),
    Failed(Error),
    End,
}

/// A running query's batches (see the module docs).
///
/// The deadline is also watched here, on the reader's runtime: the query
/// runtime's own timers can lag while its threads are busy with the query.
pub struct QueryStream {
    schema: SchemaRef,
    rx: mpsc::Receiver<Msg>,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
    /// Armed until the query ends; abandons it if the reader leaves first.
    reader: Reader,
    ended: bool,
    _task: AbortOnDrop,
}

/// The reader's hold on the query: if dropped while armed (the reader went
/// away), the query is abandoned at once ([`WeakAdmission::abandon`]).
struct Reader {
    admission: WeakAdmission,
    armed: bool,
}

impl Reader {
    /// The query ended as the task reported: nothing to do on drop.
    fn disarm(&mut self) {
        self.armed = false;
    }

    /// Give up on the query because of `e`.
    fn abandon(&mut self, e: &Error) {
        self.armed = false;
        self.admission.abandon(Some(e));
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.armed {
            self.admission.abandon(None);
        }
    }
}

impl std::fmt::Debug for QueryStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryStream").field("schema", &self.schema).field("ended", &self.ended).finish()
    }
}

impl QueryStream {
    /// The result's schema (also for zero rows).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Stream for QueryStream {
    type Item = Result<RecordBatch>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() || Instant::now() >= this.deadline.deadline() {
            this.ended = true;
            let e = Error::Timeout(this.timeout);
            this.reader.abandon(&e);
            return Poll::Ready(Some(Err(e)));
        }
        match this.rx.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Msg::Batch(b))) => Poll::Ready(Some(Ok(b))),
            Poll::Ready(Some(Msg::End)) => {
                this.ended = true;
                this.reader.disarm();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Msg::Failed(e))) => {
                this.ended = true;
                this.reader.disarm();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                // The task stopped without saying how: it timed out while
                // the reader was too slow to take the batches, or it died.
                this.ended = true;
                let e = if Instant::now() >= this.deadline.deadline() {
                    Error::Timeout(this.timeout)
                } else {
                    Error::Task("the query task ended unexpectedly".into())
                };
                this.reader.abandon(&e);
                Poll::Ready(Some(Err(e)))
            }
        }
    }
}

impl QueryEngine {
    /// Run an admitted query: `plan` builds the `DataFrame` from the
    /// admission's session; planning and execution run on the query runtime
    /// within the admission's deadline, and the batches come back through
    /// the returned stream, bounded by the admission's guards. Planning
    /// errors are returned here; later ones are the stream's last item.
    pub async fn run<F, Fut>(&self, admission: Admission, plan: F) -> Result<QueryStream>
    where
        F: FnOnce(SessionContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<DataFrame>> + Send + 'static,
    {
        let (schema_tx, schema_rx) = oneshot::channel();
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let work = produce(admission.clone(), plan, schema_tx, tx);
        let task = match &self.config.runtime {
            Some(handle) => handle.spawn(work),
            None => tokio::spawn(work),
        };
        // From here on, dropping this future or the stream aborts the query.
        let task = AbortOnDrop(task);
        let mut reader = Reader { admission: admission.downgrade(), armed: true };
        let (deadline, timeout) = (admission.deadline(), admission.timeout());
        // The stream does not keep the query admitted: the permit is
        // released as soon as the task is done, even if the reader is slow.
        drop(admission);
        let schema = match tokio::time::timeout_at(deadline, schema_rx).await {
            Ok(Ok(Ok(schema))) => schema,
            Ok(Ok(Err(e))) => {
                reader.disarm();
                return Err(e);
            }
            Ok(Err(_)) => {
                let e = Error::Task("the query task ended unexpectedly".into());
                reader.abandon(&e);
                return Err(e);
            }
            Err(_) => {
                let e = Error::Timeout(timeout);
                reader.abandon(&e);
                return Err(e);
            }
        };
        Ok(QueryStream {
            schema,
            rx,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout,
            reader,
            ended: false,
            _task: task,
        })
    }
}

/// Plan and execute, then feed the channel until the end, an error, the
/// deadline, or the reader going away.
async fn produce<F, Fut>(
    admission: Admission,
    plan: F,
    schema_tx: oneshot::Sender<Result<SchemaRef>>,
    tx: mpsc::Sender<Msg>,
) where
    F: FnOnce(SessionContext) -> Fut + Send + 'static,
    Fut: Future<Output = Result<DataFrame>> + Send + 'static,
{
    let planned = admission
        .within_deadline(async {
            let ctx = admission.context()?;
            let df = plan(ctx).await?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let stream = df.execute_stream().await?;
            Ok::<_, Error>((schema, stream))
        })
        .await;
    let (schema, stream) = match planned {
        Ok(p) => p,
        Err(e) => {
            admission.fail(&e);
            let _ = schema_tx.send(Err(e));
            return;
        }
    };
    if schema_tx.send(Ok(schema)).is_err() {
        return;
    }
    let mut batches = admission.guard(stream.map(|b| b.map_err(Error::from)));
    loop {
        let (msg, last) = match batches.next().await {
            Some(Ok(b)) => (Msg::Batch(b), false),
            Some(Err(e)) => (Msg::Failed(e), true),
            None => (Msg::End, true),
        };
        match tokio::time::timeout_at(admission.deadline(), tx.send(msg)).await {
            Ok(Ok(())) if !last => {}
            // Sent the last message, or the reader is gone (dropping `batches`
            // unfinished records the query as cancelled).
            Ok(_) => return,
            Err(_) => {
                admission.fail(&Error::Timeout(admission.timeout()));
                return;
            }
        }
    }
}

/// Aborts the query task when dropped (timeout, or the reader went away).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
