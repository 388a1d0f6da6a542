//! The HTTP port: each connection served by hyper's HTTP/1 server with the
//! axum router, under the header-read, body-read and idle timeouts
//! (slowloris clients are cut), and shut down gracefully on stop.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

use super::activity::Activity;
use super::conn::Conn;
use super::Timeouts;

/// Serve `app` on one connection until it closes, a timeout cuts it, or
/// `stop` turns true (then the request in flight is finished first).
pub async fn serve_conn(conn: Conn, app: Router, timeouts: Timeouts, mut stop: watch::Receiver<bool>) {
    let activity = conn.activity();
    let remote = conn.remote();
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |req: hyper::Request<Incoming>| {
            activity.request_started();
            let done = Finished(activity.clone());
            let mut app = app.clone();
            let timed_out = Arc::new(AtomicBool::new(false));
            let limit = timeouts.body_read;
            let req = req.map(|inner| TimedBody {
                inner,
                deadline: Box::pin(tokio::time::sleep(limit)),
                limit,
                timed_out: timed_out.clone(),
            });
            async move {
                let mut response = tower::Service::call(&mut app, req).await?;
                if timed_out.load(Ordering::Relaxed) {
                    tracing::debug!(%remote, "request body too slow; closing the connection");
                    let message = format!("request body not received within {} s", limit.as_secs());
                    response = (StatusCode::REQUEST_TIMEOUT, message).into_response();
                    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(response.map(|inner| Tracked { inner, _done: done }))
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our own header timeout (hyper's would also cut idle keep-alive connections).
    builder.timer(TokioTimer::new()).header_read_timeout(Option::<std::time::Duration>::None).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(conn), service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            done = connection.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%remote, error = %e, "http connection ended with an error");
                }
                return;
            }
            reason = activity.expired(timeouts.header_read, timeouts.idle) => {
                tracing::debug!(%remote, reason, "closing http connection");
                return;
            }
            _ = super::stopped(&mut stop), if !stopping => {
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}

/// Marks the connection idle when the answer is sent (or dropped).
struct Finished(Arc<Activity>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

/// A response body that marks the connection idle once dropped.
struct Tracked {
    inner: Body,
    _done: Finished,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that must arrive whole within `limit` of its header;
/// past it, reading fails and the request is answered 408 (`timed_out`).
struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    timed_out: Arc<AtomicBool>,
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending if this.deadline.as_mut().poll(cx).is_ready() => {
                this.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(format!("request body not received within {:?}", this.limit).into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
