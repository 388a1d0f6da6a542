//! The gRPC port: accepted (and TLS-terminated) connections as the stream
//! tonic serves, each with an HTTP/2 preface deadline; tonic's HTTP/2
//! keep-alive pings close connections whose peer stopped answering.

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::accept::{self, Handshake};
use super::conn::{Conn, H2_PREFACE_LEN};
use super::Timeouts;

/// Connections accepted on `listener` until `stop`, for
/// `serve_with_incoming_shutdown`.
pub fn incoming(
    listener: TcpListener,
    handshake: Handshake,
    timeouts: Timeouts,
    stop: watch::Receiver<bool>,
) -> ReceiverStream<std::io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept::run(listener, handshake, stop, move |conn: Conn| {
        let tx = tx.clone();
        async move {
            let conn = conn.with_preface_deadline(H2_PREFACE_LEN, timeouts.header_read);
            let _ = tx.send(Ok(conn)).await;
        }
    }));
    ReceiverStream::new(rx)
}

/// A tonic server builder with the keep-alive settings of `timeouts`.
pub fn server(timeouts: &Timeouts) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .http2_keepalive_interval(timeouts.keepalive_interval)
        .http2_keepalive_timeout(Some(timeouts.keepalive_timeout))
}
