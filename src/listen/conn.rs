//! One accepted connection, plain or TLS, as the HTTP and gRPC servers see
//! it: reads are reported to its [`Activity`], and on the gRPC port the
//! HTTP/2 preface must arrive before a deadline.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

use super::activity::Activity;

/// The bytes of the HTTP/2 connection preface.
pub const H2_PREFACE_LEN: usize = 24;

/// The transport under a [`Conn`].
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (the handshake is done).
    Tls(Box<TlsStream<TcpStream>>),
}

struct Preface {
    missing: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// An accepted connection.
pub struct Conn {
    io: Transport,
    activity: Arc<Activity>,
    preface: Option<Preface>,
    local: Option<SocketAddr>,
    remote: SocketAddr,
}

impl Conn {
    /// A connection over `io` from `remote`.
    pub fn new(io: Transport, local: Option<SocketAddr>, remote: SocketAddr) -> Self {
        Self { io, activity: Arc::new(Activity::default()), preface: None, local, remote }
    }

    /// Fail reads unless `bytes` bytes arrive within `limit`.
    pub fn with_preface_deadline(mut self, bytes: usize, limit: Duration) -> Self {
        self.preface = Some(Preface { missing: bytes, deadline: Box::pin(tokio::time::sleep(limit)) });
        self
    }

    /// What the connection is doing.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// The client's address.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = match &mut this.io {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        };
        let got = buf.filled().len() - before;
        if got > 0 {
            this.activity.bytes_read();
            if let Some(p) = &mut this.preface {
                p.missing = p.missing.saturating_sub(got);
                if p.missing == 0 {
                    this.preface = None;
                }
            }
        }
        if polled.is_pending() {
            if let Some(p) = &mut this.preface {
                if p.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection preface not received in time",
                    )));
                }
            }
        }
        polled
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Transport::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Transport::Tls(s) => Pin::new(&mut **s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Transport::Plain(s) => s.is_write_vectored(),
            Transport::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo { local_addr: self.local, remote_addr: Some(self.remote) }
    }
}
