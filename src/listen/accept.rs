//! The accept loop shared by the HTTP and gRPC ports: each connection gets
//! its own task, which completes the TLS handshake (bounded by the
//! handshake timeout) before handing the connection on.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::conn::{Conn, Transport};
use crate::tls::{Alpn, Tls};

/// How a new connection is turned into a [`Conn`].
#[derive(Clone)]
pub struct Handshake {
    /// TLS, or None for plain TCP.
    pub tls: Option<Arc<Tls>>,
    /// The protocol announced with ALPN.
    pub alpn: Alpn,
    /// Longest a TLS handshake may take.
    pub timeout: Duration,
}

impl Handshake {
    async fn complete(&self, tcp: TcpStream, remote: SocketAddr) -> Option<Conn> {
        let local = tcp.local_addr().ok();
        let Some(tls) = &self.tls else {
            return Some(Conn::new(Transport::Plain(tcp), local, remote));
        };
        let acceptor = tls.acceptor(self.alpn);
        match tokio::time::timeout(self.timeout, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => Some(Conn::new(Transport::Tls(Box::new(stream)), local, remote)),
            Ok(Err(e)) => {
                tracing::debug!(%remote, error = %e, "tls handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(%remote, "tls handshake not completed in time");
                None
            }
        }
    }
}

/// Accept connections on `listener` until `stop` turns true, running
/// `handle` on each (after its handshake) on a task of its own; then wait
/// for those tasks.
pub async fn run<F, Fut>(listener: TcpListener, handshake: Handshake, mut stop: watch::Receiver<bool>, handle: F)
where
    F: Fn(Conn) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = super::stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    let _ = tcp.set_nodelay(true);
                    let (handshake, handle) = (handshake.clone(), handle.clone());
                    tasks.spawn(async move {
                        if let Some(conn) = handshake.complete(tcp, remote).await {
                            handle(conn).await;
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}
