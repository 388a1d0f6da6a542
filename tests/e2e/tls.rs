//! TLS on the HTTP and gRPC ports (`[tls]`): certificates made at test time
//! with rcgen; OTLP/HTTP and SQL over https, OTLP/gRPC and Flight SQL over
//! TLS; mTLS (`client_ca_file`) refusing clients without a good
//! certificate; new certificate files picked up without a restart (on a
//! new modification time and on SIGHUP), a bad file keeping the old one;
//! the TLS handshake timeout.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array};
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic::transport::{Channel, Endpoint};

use crate::flight_sql::CPU_JSON;
use crate::server::Server;

/// A certificate authority made for one test.
pub struct Ca {
    /// Its certificate, PEM.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
pub struct Leaf {
    pub cert: String,
    pub key: String,
}

impl Ca {
    /// A new self-signed CA called `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("ca key");
        let pem = params.self_signed(&key).expect("ca cert").pem();
        Ca { pem, issuer: Issuer::new(params, key) }
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server(&self) -> Leaf {
        self.issue(&["127.0.0.1", "localhost"], ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate.
    pub fn client(&self) -> Leaf {
        self.issue(&["collector.test"], ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![purpose];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        Leaf { cert: cert.pem(), key: key.serialize_pem() }
    }

    /// A rustls client configuration trusting only this CA, presenting `identity`.
    pub fn client_config(&self, identity: Option<&Leaf>) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.pem.as_bytes()) {
            roots.add(cert.expect("ca pem")).expect("root");
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        match identity {
            Some(leaf) => {
                let chain = CertificateDer::pem_slice_iter(leaf.cert.as_bytes()).collect::<Result<Vec<_>, _>>();
                let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).expect("key");
                builder.with_client_auth_cert(chain.expect("chain"), key).expect("client auth")
            }
            None => builder.with_no_client_auth(),
        }
    }

    /// A blocking https client trusting only this CA.
    pub fn https(&self, identity: Option<&Leaf>) -> reqwest_rustls::blocking::Client {
        reqwest_rustls::blocking::Client::builder()
            .use_preconfigured_tls(self.client_config(identity))
            .timeout(Duration::from_secs(20))
            .build()
            .expect("https client")
    }
}

/// Where a test server's TLS files are.
pub struct Files {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
}

impl Files {
    pub fn new(dir: &Path) -> Files {
        Files { cert: dir.join("server.pem"), key: dir.join("server.key"), client_ca: dir.join("clients.pem") }
    }

    /// Replace the key, then the certificate (each by a rename, as cert tools do).
    pub fn install(&self, leaf: &Leaf) {
        for (path, text) in [(&self.key, &leaf.key), (&self.cert, &leaf.cert)] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).expect("write");
            std::fs::rename(&tmp, path).expect("rename");
        }
    }
}

/// A server with `[tls]` on, its certificate from `ca`; with `clients`,
/// client certificates from that CA are required. `extra` goes into `[tls]`.
pub fn start(dir: &Path, ca: &Ca, clients: Option<&Ca>, extra: &str) -> Server {
    let files = Files::new(dir);
    files.install(&ca.server());
    let mut tls = format!("[tls]\nenabled = true\ncert_file = {:?}\nkey_file = {:?}\n", files.cert, files.key);
    if let Some(c) = clients {
        std::fs::write(&files.client_ca, &c.pem).expect("client ca");
        tls += &format!("client_ca_file = {:?}\n", files.client_ca);
    }
    let config = dir.join("tidewater.toml");
    std::fs::write(&config, format!("{tls}{extra}")).expect("config");
    Server::start_with(&dir.join("data"), &[("TIDEWATER_CONFIG", config.to_str().expect("utf-8"))])
}

fn https_url(server: &Server, path: &str) -> String {
    format!("https://127.0.0.1:{}{path}", server.http.port())
}

/// POST the `cpu` gauge over OTLP/HTTP JSON; the status.
pub fn write_cpu(client: &reqwest_rustls::blocking::Client, server: &Server) -> reqwest_rustls::Result<u16> {
    let resp = client
        .post(https_url(server, "/v1/metrics"))
        .header("content-type", "application/json")
        .body(CPU_JSON)
        .send()?;
    Ok(resp.status().as_u16())
}

/// `SELECT count(*) FROM cpu` over https.
pub fn count_cpu(
    client: &reqwest_rustls::blocking::Client,
    server: &Server,
) -> reqwest_rustls::Result<serde_json::Value> {
    let resp = client
        .post(https_url(server, "/api/v1/sql"))
        .json(&serde_json::json!({ "query": "SELECT count(*) AS n FROM cpu" }))
        .send()?;
    Ok(resp.json::<serde_json::Value>()?["rows"].clone())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// A gRPC channel over TLS with `config` (ALPN h2).
async fn grpc_channel(server: &Server, mut config: rustls::ClientConfig) -> Result<Channel, tonic::transport::Error> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = server.grpc;
    Endpoint::from_shared(format!("http://localhost:{}", addr.port()))?
        .connect_with_connector(tower::service_fn(move |_: http::Uri| {
            let connector = connector.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await?;
                let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(TokioIo::new(connector.connect(name, tcp).await?))
            }
        }))
        .await
}

/// One OTLP/gRPC export of the `cpu` gauge.
async fn otlp_export(channel: Channel) -> Result<(), tonic::Status> {
    let body: ExportMetricsServiceRequest = serde_json::from_str(CPU_JSON).expect("OTLP JSON");
    MetricsServiceClient::new(channel).export(body).await.map(|_| ())
}

/// `SELECT count(*) FROM cpu` over Flight SQL.
async fn flight_count(channel: Channel) -> i64 {
    let mut client = FlightSqlServiceClient::new(channel);
    let info = client.execute("SELECT count(*) FROM cpu".into(), None).await.expect("execute");
    let mut n = 0;
    for endpoint in info.endpoint {
        let batches: Vec<_> = client
            .do_get(endpoint.ticket.expect("ticket"))
            .await
            .expect("do_get")
            .try_collect()
            .await
            .expect("batches");
        for b in batches {
            let col = b.column(0).as_any().downcast_ref::<Int64Array>().expect("int64 count");
            n += (0..col.len()).map(|i| col.value(i)).sum::<i64>();
        }
    }
    n
}

/// Poll `ok` until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[test]
fn otlp_sql_and_grpc_over_tls_with_the_ca_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("tidewater test ca");
    let server = start(dir.path(), &ca, None, "[timeouts]\ntls_handshake_timeout_secs = 2\n");

    let client = ca.https(None);
    assert_eq!(write_cpu(&client, &server).expect("https write"), 200);
    assert_eq!(count_cpu(&client, &server).expect("https sql"), serde_json::json!([[4]]));
    // A client that does not trust the CA, and a plain-HTTP client, get nowhere.
    assert!(write_cpu(&Ca::new("other").https(None), &server).is_err(), "unknown CA must fail");
    let plain = reqwest::blocking::Client::new().get(format!("{}/health", server.url())).send();
    assert!(plain.is_err(), "plain HTTP on the TLS port must fail: {plain:?}");

    runtime().block_on(async {
        let channel = grpc_channel(&server, ca.client_config(None)).await.expect("tls channel");
        otlp_export(channel.clone()).await.expect("OTLP/gRPC over TLS");
        assert_eq!(flight_count(channel).await, 8, "Flight SQL over TLS sees both writes");
        let plain = Channel::from_shared(format!("http://{}", server.grpc)).expect("uri").connect().await;
        let refused = match plain {
            Ok(c) => otlp_export(c).await.is_err(),
            Err(_) => true,
        };
        assert!(refused, "plain gRPC on the TLS port must fail");
    });

    // A client that connects and never starts the handshake is cut.
    let mut idle = TcpStream::connect(server.http).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let start = Instant::now();
    let read = idle.read(&mut [0u8; 16]);
    assert!(matches!(read, Ok(0)) || read.is_err() && start.elapsed() < Duration::from_secs(9), "{read:?}");
    assert!(start.elapsed() < Duration::from_secs(6), "handshake timeout 2 s, took {:?}", start.elapsed());
}

#[test]
fn mtls_refuses_clients_without_a_valid_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, clients) = (Ca::new("server ca"), Ca::new("client ca"));
    let server = start(dir.path(), &ca, Some(&clients), "");
    let good = clients.client();
    let stranger = Ca::new("someone else").client();

    assert!(write_cpu(&ca.https(None), &server).is_err(), "no client certificate");
    assert!(write_cpu(&ca.https(Some(&stranger)), &server).is_err(), "certificate from another CA");
    assert_eq!(write_cpu(&ca.https(Some(&good)), &server).expect("client certificate"), 200);
    assert_eq!(count_cpu(&ca.https(Some(&good)), &server).expect("sql"), serde_json::json!([[4]]));

    runtime().block_on(async {
        let without = match grpc_channel(&server, ca.client_config(None)).await {
            Ok(c) => otlp_export(c).await.is_err(),
            Err(_) => true,
        };
        assert!(without, "gRPC without a client certificate must fail");
        let channel = grpc_channel(&server, ca.client_config(Some(&good))).await.expect("mtls channel");
        otlp_export(channel).await.expect("gRPC with the client certificate");
    });
}

#[test]
fn new_certificate_files_are_used_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (Ca::new("old ca"), Ca::new("new ca"));
    let server = start(dir.path(), &old, None, "reload_check_secs = 1\n");
    assert_eq!(write_cpu(&old.https(None), &server).expect("old certificate"), 200);

    let files = Files::new(dir.path());
    files.install(&new.server());
    assert!(
        eventually(Duration::from_secs(20), || write_cpu(&new.https(None), &server).is_ok()),
        "the new certificate was not picked up"
    );
    assert!(write_cpu(&old.https(None), &server).is_err(), "the old certificate is gone");
    assert!(server.log_lines().iter().any(|l| l.contains("tls certificate reloaded")));

    // A broken file is logged and the current certificate stays.
    std::fs::write(&files.cert, "not a certificate").expect("write");
    assert!(
        eventually(Duration::from_secs(20), || server.log_lines().iter().any(|l| l.contains("tls reload failed"))),
        "the bad file was not reported"
    );
    assert_eq!(write_cpu(&new.https(None), &server).expect("still the new certificate"), 200);
}

#[test]
fn sighup_reloads_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (old, new) = (Ca::new("old ca"), Ca::new("new ca"));
    // No polling: only the signal reloads.
    let server = start(dir.path(), &old, None, "reload_check_secs = 0\n");
    Files::new(dir.path()).install(&new.server());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(write_cpu(&old.https(None), &server).expect("not reloaded before the signal"), 200);
    server.signal("HUP");
    assert!(
        eventually(Duration::from_secs(20), || write_cpu(&new.https(None), &server).is_ok()),
        "SIGHUP did not reload the certificate"
    );
}

/// `psql -c sql` with extra connection parameters: (success, stdout, stderr).
fn psql(server: &Server, params: &str, sql: &str) -> (bool, String, String) {
    let conninfo =
        format!("host=localhost hostaddr=127.0.0.1 port={} dbname=tidewater user=grafana {params}", server.pg.port());
    let out = std::process::Command::new("psql")
        .arg(conninfo)
        .args(["-X", "-w", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGSSLMODE")
        .output()
        .expect("run psql (Debian package postgresql-client)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_postgres_port_requires_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("pg ca");
    let server = start(dir.path(), &ca, None, "");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("ca file");

    let (ok, _, err) = psql(&server, "sslmode=disable", "SELECT 1");
    assert!(!ok && err.contains("requires TLS"), "plain text must be refused: {err}");
    let verified = format!("sslmode=verify-full sslrootcert={}", ca_file.display());
    let (ok, out, err) = psql(&server, &verified, "SELECT 1 + 1");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "2");
    let other = dir.path().join("other.pem");
    std::fs::write(&other, Ca::new("other").pem).expect("other ca");
    let (ok, _, err) = psql(&server, &format!("sslmode=verify-full sslrootcert={}", other.display()), "SELECT 1");
    assert!(!ok, "a certificate from an untrusted CA must fail: {err}");
}
