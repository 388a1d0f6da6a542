//! Reading the PEM files of `[tls]` into rustls server configurations (ring
//! provider, TLS 1.2 and 1.3).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::TlsSection;

/// The application protocol a listener speaks, announced with ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// HTTP/1.1 (the HTTP port).
    Http1,
    /// HTTP/2 (the gRPC port).
    H2,
    /// `postgresql` (the PostgreSQL port; required by direct TLS start-ups).
    Postgres,
}

impl Alpn {
    fn protocols(self) -> Vec<Vec<u8>> {
        match self {
            Alpn::Http1 => vec![b"http/1.1".to_vec()],
            Alpn::H2 => vec![b"h2".to_vec()],
            Alpn::Postgres => vec![b"postgresql".to_vec()],
        }
    }
}

/// The certificate, key and client CAs read from the files of `tls`.
pub struct Material {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<Arc<RootCertStore>>,
}

impl Material {
    /// Read and check the files: a certificate chain, a private key that
    /// matches it, and (when set) at least one client CA.
    pub fn read(tls: &TlsSection) -> Result<Self, String> {
        let chain = certificates(&tls.cert_file)?;
        let key = PrivateKeyDer::from_pem_file(&tls.key_file)
            .map_err(|e| format!("{}: no private key: {e}", tls.key_file.display()))?;
        let client_roots = if tls.client_ca_file.as_os_str().is_empty() {
            None
        } else {
            let mut roots = RootCertStore::empty();
            for cert in certificates(&tls.client_ca_file)? {
                roots.add(cert).map_err(|e| format!("{}: {e}", tls.client_ca_file.display()))?;
            }
            Some(Arc::new(roots))
        };
        let m = Self { chain, key, client_roots };
        // Fails when the key does not belong to the certificate.
        m.server_config(Alpn::Postgres).map_err(|e| format!("{}: {e}", tls.cert_file.display()))?;
        Ok(m)
    }

    /// A server configuration with this material for a listener speaking `alpn`.
    pub fn server_config(&self, alpn: Alpn) -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = match &self.client_roots {
            Some(roots) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider)
                    .build()
                    .map_err(|e| format!("client CAs: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config =
            builder.with_single_cert(self.chain.clone(), self.key.clone_key()).map_err(|e| e.to_string())?;
        config.alpn_protocols = alpn.protocols();
        Ok(Arc::new(config))
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", path.display()));
    }
    Ok(certs)
}
