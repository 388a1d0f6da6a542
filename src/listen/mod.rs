//! The HTTP and gRPC listeners: TCP accept, optional TLS ([`crate::tls`]),
//! and the timeouts for slow and idle clients (`[timeouts]`). The HTTP
//! port is served connection by connection with hyper (so the timeouts
//! apply with and without TLS); the gRPC port hands its connections to
//! tonic.

mod accept;
mod activity;
mod conn;
mod grpc;
mod http;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;

use crate::config::Config;
use crate::tls::{Alpn, Tls};
use accept::Handshake;
pub use conn::Conn;

/// The timeouts of `[timeouts]`.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A whole request header (HTTP/1) or the HTTP/2 preface (gRPC).
    pub header_read: Duration,
    /// An HTTP/1 keep-alive connection between two requests.
    pub idle: Duration,
    /// A whole HTTP/1 request body, from the end of its header.
    pub body_read: Duration,
    /// The TLS handshake.
    pub handshake: Duration,
    /// Between two HTTP/2 pings on the gRPC port (None: no pings).
    pub keepalive_interval: Option<Duration>,
    /// For a ping's answer.
    pub keepalive_timeout: Duration,
}

/// TLS and timeouts for the listeners; watches the TLS files while alive.
pub struct Listen {
    tls: Option<Arc<Tls>>,
    timeouts: Timeouts,
    reloader: Option<JoinHandle<()>>,
}

impl Listen {
    /// Read `[tls]` (an error when its files do not load) and `[timeouts]`,
    /// and start watching the TLS files.
    pub fn from_config(cfg: &Config) -> Result<Self, String> {
        let tls = Tls::from_config(&cfg.tls)?;
        let reloader = tls.clone().map(crate::tls::reload::spawn);
        let t = &cfg.timeouts;
        let secs = Duration::from_secs;
        let timeouts = Timeouts {
            header_read: secs(t.http_header_read_timeout_secs),
            idle: secs(t.http_idle_timeout_secs),
            body_read: secs(t.http_body_read_timeout_secs),
            handshake: secs(t.tls_handshake_timeout_secs),
            keepalive_interval: (t.grpc_keepalive_interval_secs > 0).then(|| secs(t.grpc_keepalive_interval_secs)),
            keepalive_timeout: secs(t.grpc_keepalive_timeout_secs.max(1)),
        };
        Ok(Self { tls, timeouts, reloader })
    }

    fn handshake(&self, alpn: Alpn) -> Handshake {
        Handshake { tls: self.tls.clone(), alpn, timeout: self.timeouts.handshake }
    }

    /// Serve `app` on `listener` until `stop` turns true, then finish the
    /// requests in flight.
    pub fn serve_http(
        &self,
        listener: TcpListener,
        app: Router,
        stop: watch::Receiver<bool>,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'static {
        let (handshake, timeouts) = (self.handshake(Alpn::Http1), self.timeouts);
        let conn_stop = stop.clone();
        async move {
            accept::run(listener, handshake, stop, move |conn| {
                http::serve_conn(conn, app.clone(), timeouts, conn_stop.clone())
            })
            .await;
            Ok(())
        }
    }

    /// The connections of the gRPC port, for tonic's `serve_with_incoming_shutdown`.
    pub fn grpc_incoming(
        &self,
        listener: TcpListener,
        stop: watch::Receiver<bool>,
    ) -> ReceiverStream<std::io::Result<Conn>> {
        grpc::incoming(listener, self.handshake(Alpn::H2), self.timeouts, stop)
    }

    /// Each PostgreSQL connection's TLS acceptor (None: TLS off).
    pub fn pg_tls(&self) -> Option<tidewater_query::pgwire::TlsSource> {
        let tls = self.tls.clone()?;
        Some(Arc::new(move || tls.acceptor(Alpn::Postgres)))
    }

    /// A tonic server builder with the gRPC keep-alive settings.
    pub fn grpc_server(&self) -> tonic::transport::Server {
        grpc::server(&self.timeouts)
    }
}

/// Resolves once `stop` is true (the watch guard is not held across awaits).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

impl Drop for Listen {
    fn drop(&mut self) {
        if let Some(r) = &self.reloader {
            r.abort();
        }
    }
}
