//! TLS (rustls, ring) for the listeners: `[tls]` read into one server
//! configuration per protocol, swapped as a whole when the files change
//! (SIGHUP or a new modification time; see [`reload`]). A connection takes
//! the configuration current at its accept; a file that does not load is
//! logged and the previous certificate stays.

mod load;
pub mod reload;

use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsSection;

pub use load::Alpn;
use load::Material;

/// The current TLS configurations of the three listeners.
pub struct Tls {
    section: TlsSection,
    current: RwLock<Configs>,
}

#[derive(Clone)]
struct Configs {
    http: Arc<ServerConfig>,
    grpc: Arc<ServerConfig>,
    pg: Arc<ServerConfig>,
}

impl Configs {
    fn build(section: &TlsSection) -> Result<Self, String> {
        let m = Material::read(section)?;
        Ok(Self {
            http: m.server_config(Alpn::Http1)?,
            grpc: m.server_config(Alpn::H2)?,
            pg: m.server_config(Alpn::Postgres)?,
        })
    }
}

impl Tls {
    /// Read the files of `section`; None when TLS is off. An unreadable or
    /// inconsistent file is an error (the server does not start).
    pub fn from_config(section: &TlsSection) -> Result<Option<Arc<Self>>, String> {
        if !section.enabled {
            return Ok(None);
        }
        let configs = Configs::build(section).map_err(|e| format!("tls: {e}"))?;
        tracing::info!(cert_file = %section.cert_file.display(), mtls = !section.client_ca_file.as_os_str().is_empty(), "tls on");
        Ok(Some(Arc::new(Self { section: section.clone(), current: RwLock::new(configs) })))
    }

    /// The `[tls]` section this was read from.
    pub fn section(&self) -> &TlsSection {
        &self.section
    }

    /// An acceptor with the configuration current now, for a listener speaking `alpn`.
    pub fn acceptor(&self, alpn: Alpn) -> TlsAcceptor {
        let c = match self.current.read() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        TlsAcceptor::from(match alpn {
            Alpn::Http1 => c.http.clone(),
            Alpn::H2 => c.grpc.clone(),
            Alpn::Postgres => c.pg.clone(),
        })
    }

    /// Read the files again and, when they load, use them for the next
    /// connections; on an error keep the current ones.
    pub fn reload(&self) -> Result<(), String> {
        let configs = Configs::build(&self.section)?;
        match self.current.write() {
            Ok(mut c) => *c = configs,
            Err(poisoned) => *poisoned.into_inner() = configs,
        }
        Ok(())
    }
}
