//! Running PostgreSQL queries on the query runtime while the protocol stays
//! on the connection's runtime.
//!
//! A connection task lives on the main runtime, so a busy query runtime never
//! slows down handshakes, refusals or cancel requests. The query work moves
//! over in two steps:
//!
//! - [`InRuntime`] polls `datafusion-postgres`'s handling of a message with
//!   the query runtime entered, so the tasks DataFusion spawns while it
//!   plans and starts the query (one per partition) go there;
//! - [`offload`] polls the resulting row stream (the rest of the plan and
//!   the row encoding) in a task on the query runtime and hands the rows
//!   back in chunks over a small bounded channel. Dropping the stream aborts
//!   that task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use datafusion_postgres::pgwire::api::results::SendableRowStream;
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Rows per chunk handed from the query task to the connection.
const CHUNK_ROWS: usize = 1024;
/// Chunks in flight.
const CHUNKS: usize = 2;

/// `fut`, polled with `runtime` entered (when there is one).
pub(crate) struct InRuntime<F> {
    runtime: Option<Handle>,
    fut: Pin<Box<F>>,
}

impl<F> InRuntime<F> {
    /// Wrap `fut`.
    pub(crate) fn new(runtime: Option<Handle>, fut: F) -> Self {
        Self { runtime, fut: Box::pin(fut) }
    }
}

impl<F: Future> Future for InRuntime<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _entered = this.runtime.as_ref().map(Handle::enter);
        this.fut.as_mut().poll(cx)
    }
}

/// `rows`, produced by a task on `runtime`.
pub(crate) fn offload(rows: SendableRowStream, runtime: &Handle) -> SendableRowStream {
    let (tx, rx) = mpsc::channel(CHUNKS);
    let task = runtime.spawn(async move {
        let mut chunks = rows.ready_chunks(CHUNK_ROWS);
        while let Some(chunk) = chunks.next().await {
            if tx.send(chunk).await.is_err() {
                return; // the connection is gone
            }
        }
    });
    let state = (rx, Vec::new().into_iter(), AbortOnDrop(task));
    Box::pin(futures::stream::unfold(state, |(mut rx, mut chunk, task)| async move {
        loop {
            if let Some(row) = chunk.next() {
                return Some((row, (rx, chunk, task)));
            }
            chunk = rx.recv().await?.into_iter();
        }
    }))
}

/// Aborts the query task when the rows are dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_postgres::pgwire::messages::data::DataRow;

    #[test]
    fn rows_come_back_in_order_from_the_other_runtime() {
        let query = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().expect("runtime");
        let main = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let rows: SendableRowStream =
            Box::pin(futures::stream::iter((0..3000).map(|i| Ok(DataRow::new(Default::default(), i)))));
        let out: Vec<_> = main.block_on(offload(rows, query.handle()).collect());
        let fields: Vec<i16> = out.into_iter().map(|r| r.expect("row").field_count).collect();
        assert_eq!(fields, (0..3000).collect::<Vec<i16>>());
    }
}
