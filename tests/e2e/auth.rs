//! Authentication on every listener with `[auth] enabled = true`: OTLP/HTTP,
//! remote write, SQL over HTTP, the UI, the reload endpoints, OTLP/gRPC,
//! Flight SQL (bearer header and basic handshake) and the PostgreSQL wire
//! (token as password). No token -> 401 / `UNAUTHENTICATED`; a token
//! without the scope -> 403 / `PERMISSION_DENIED`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use arrow::array::{Array, Int64Array};
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use reqwest::blocking::{Client, RequestBuilder, Response};
use tidewater_auth::hash::{generate_secret, hash_token};
use tidewater_ingest::remote_write::{encode, Label, Sample, TimeSeries, WriteRequest};
use tonic::transport::Channel;

use crate::flight_sql::CPU_JSON;
use crate::server::Server;

/// Secrets of the three tokens a test server knows.
pub struct Tokens {
    pub read: String,
    pub write: String,
    pub admin: String,
}

/// A server with auth on: `reader` (read) and `admin` (admin) in the
/// config file, `writer` (write) in a tokens file.
pub fn start(dir: &Path) -> (Server, Tokens) {
    let tokens = Tokens { read: generate_secret(), write: generate_secret(), admin: generate_secret() };
    let entry = |name: &str, secret: &str, scope: &str| {
        let hash = hash_token(secret).expect("hash");
        format!("[[tokens]]\nname = \"{name}\"\nhash = \"{hash}\"\nscopes = [\"{scope}\"]\n")
    };
    let tokens_file = dir.join("tokens.toml");
    std::fs::write(&tokens_file, entry("writer", &tokens.write, "write")).expect("tokens file");
    let inline = (entry("reader", &tokens.read, "read") + &entry("admin", &tokens.admin, "admin"))
        .replace("[[tokens]]", "[[auth.tokens]]");
    let config = dir.join("tidewater.toml");
    let text = format!("[auth]\nenabled = true\ntokens_file = {:?}\n\n{inline}", tokens_file.display().to_string());
    std::fs::write(&config, text).expect("config");
    let data = dir.join("data");
    let server = Server::start_with(&data, &[("TIDEWATER_CONFIG", config.to_str().expect("utf-8 path"))]);
    (server, tokens)
}

fn send(req: RequestBuilder, token: Option<&str>) -> Response {
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
    .send()
    .expect("request")
}

fn status(req: RequestBuilder, token: Option<&str>) -> u16 {
    send(req, token).status().as_u16()
}

fn otlp_http(server: &Server) -> RequestBuilder {
    Client::new().post(format!("{}/v1/metrics", server.url())).header("content-type", "application/json").body(CPU_JSON)
}

fn remote_write(server: &Server) -> RequestBuilder {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "rw_auth")],
            samples: vec![Sample { value: 1.0, timestamp: 1_700_000_000_000 }],
            ..Default::default()
        }],
        metadata: vec![],
    };
    Client::new()
        .post(format!("{}/api/v1/write", server.url()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .body(encode(&req).expect("encode"))
}

fn sql(server: &Server, query: &str) -> RequestBuilder {
    Client::new().post(format!("{}/api/v1/sql", server.url())).json(&serde_json::json!({ "query": query }))
}

#[test]
fn http_routes_need_a_token_with_the_right_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    let c = Client::new();

    // Probes stay open; everything else needs a token.
    let health =
        c.get(format!("{}/health", server.url())).header("origin", "https://evil.example").send().expect("get");
    assert_eq!(health.status().as_u16(), 200);
    // Security headers on every answer, and no CORS.
    assert_eq!(health.headers().get("x-content-type-options").map(|v| v.as_bytes()), Some(b"nosniff".as_slice()));
    assert_eq!(health.headers().get("x-frame-options").map(|v| v.as_bytes()), Some(b"DENY".as_slice()));
    assert!(health.headers().get("access-control-allow-origin").is_none());
    // Oversized headers are refused before any handler runs.
    let huge = c.get(format!("{}/health", server.url())).header("x-filler", "a".repeat(1 << 20)).send();
    assert!(huge.map(|r| r.status().as_u16() == 431).unwrap_or(true), "a 1 MiB header must be refused");
    let refused = send(otlp_http(&server), None);
    assert_eq!(refused.status().as_u16(), 401);
    let challenges: Vec<_> =
        refused.headers().get_all("www-authenticate").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(challenges.iter().any(|c| c.starts_with("Basic")), "{challenges:?}");

    // OTLP/HTTP and remote write: write scope.
    assert_eq!(status(otlp_http(&server), Some("tw_not_a_token")), 401);
    assert_eq!(status(otlp_http(&server), Some(&t.read)), 403, "a read token cannot write");
    assert_eq!(status(otlp_http(&server), Some(&t.write)), 200);
    assert_eq!(status(remote_write(&server), None), 401);
    assert_eq!(status(remote_write(&server), Some(&t.read)), 403);
    assert_eq!(status(remote_write(&server), Some(&t.write)), 204);

    // SQL: read scope; basic auth with any user name carries the token too.
    let count = "SELECT count(*) AS n FROM cpu";
    assert_eq!(status(sql(&server, count), None), 401);
    assert_eq!(status(sql(&server, count), Some(&t.write)), 403, "a write token cannot query");
    let answer: serde_json::Value = send(sql(&server, count), Some(&t.read)).json().expect("json");
    assert_eq!(answer["rows"], serde_json::json!([[4]]), "{answer}");
    let basic = sql(&server, "SELECT count(*) FROM rw_auth").basic_auth("grafana", Some(&t.read)).send().expect("sql");
    assert_eq!(basic.status().as_u16(), 200);
    let wrong_basic = sql(&server, count).basic_auth("grafana", Some("nope")).send().expect("sql");
    assert_eq!(wrong_basic.status().as_u16(), 401);
    assert_eq!(status(c.get(format!("{}/api/v1/sql?query=SELECT%201", server.url())), None), 401);

    // The UI's page and files are public (no data in them: the UI asks the
    // APIs, which need a token); the read APIs need a token; reloads need admin.
    assert_eq!(status(c.get(format!("{}/", server.url())), None), 200);
    assert_eq!(status(c.get(format!("{}/ui/js/app.js", server.url())), None), 200);
    assert_eq!(status(c.get(format!("{}/api/v1/dashboards", server.url())), None), 401);
    assert_eq!(status(c.get(format!("{}/api/v1/rules", server.url())), None), 401);
    assert_eq!(status(c.get(format!("{}/api/v1/rules", server.url())), Some(&t.read)), 200);
    assert_eq!(status(c.get(format!("{}/no/such/route", server.url())), None), 401, "unknown routes say nothing");
    for path in ["/api/v1/rules/reload", "/api/v1/pipelines/reload"] {
        let url = format!("{}{path}", server.url());
        assert_eq!(status(c.post(&url), None), 401, "{path}");
        assert_eq!(status(c.post(&url), Some(&t.read)), 403, "{path}");
        assert_eq!(status(c.post(&url), Some(&t.write)), 403, "{path}");
        let admin = status(c.post(&url), Some(&t.admin));
        assert!(admin != 401 && admin != 403, "{path}: admin got {admin}");
    }

    // Even an admin cannot touch files through SQL.
    let outside = dir.path().join("copied.csv");
    for statement in [
        format!("COPY (SELECT 1) TO '{}'", outside.display()),
        format!("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{}'", dir.path().join("tokens.toml").display()),
    ] {
        let r = send(sql(&server, &statement), Some(&t.admin));
        assert_eq!(r.status().as_u16(), 400, "{statement}: {:?}", r.text());
    }
    assert!(!outside.exists());

    // No secret is ever logged.
    let log = server.log_lines().join("\n");
    assert!(log.contains("authentication on") && log.contains("reader"), "{log}");
    for secret in [&t.read, &t.write, &t.admin] {
        assert!(!log.contains(secret.as_str()), "a secret leaked into the log");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

async fn channel(server: &Server) -> Channel {
    Channel::from_shared(format!("http://{}", server.grpc)).expect("uri").connect().await.expect("connect")
}

async fn otlp_grpc(server: &Server, token: Option<&str>) -> Result<(), tonic::Status> {
    let body: ExportMetricsServiceRequest = serde_json::from_str(CPU_JSON).expect("OTLP JSON");
    let mut req = tonic::Request::new(body);
    if let Some(t) = token {
        req.metadata_mut().insert("authorization", format!("Bearer {t}").parse().expect("metadata"));
    }
    MetricsServiceClient::new(channel(server).await).export(req).await.map(|_| ())
}

fn code(e: FlightError) -> tonic::Code {
    match e {
        FlightError::Tonic(status) => status.code(),
        other => panic!("expected a gRPC status, got {other}"),
    }
}

async fn count_over_flight(client: &mut FlightSqlServiceClient<Channel>) -> Result<i64, FlightError> {
    let info = client.execute("SELECT count(*) FROM cpu".into(), None).await?;
    let mut n = 0;
    for endpoint in info.endpoint {
        let batches: Vec<_> = client.do_get(endpoint.ticket.expect("ticket")).await?.try_collect().await?;
        for b in batches {
            let col = b.column(0).as_any().downcast_ref::<Int64Array>().expect("int64 count");
            n += (0..col.len()).map(|i| col.value(i)).sum::<i64>();
        }
    }
    Ok(n)
}

#[test]
fn grpc_otlp_and_flight_sql_need_a_token_with_the_right_scope() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    runtime().block_on(async {
        // OTLP/gRPC: write scope.
        assert_eq!(otlp_grpc(&server, None).await.expect_err("no token").code(), tonic::Code::Unauthenticated);
        assert_eq!(otlp_grpc(&server, Some("tw_nope")).await.expect_err("bad").code(), tonic::Code::Unauthenticated);
        let denied = otlp_grpc(&server, Some(&t.read)).await.expect_err("read token");
        assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied}");
        otlp_grpc(&server, Some(&t.write)).await.expect("write token exports");

        // Flight SQL without a token, then with a bearer header of each kind.
        let mut anonymous = FlightSqlServiceClient::new(channel(&server).await);
        assert_eq!(code(count_over_flight(&mut anonymous).await.expect_err("no token")), tonic::Code::Unauthenticated);
        let mut writer = FlightSqlServiceClient::new(channel(&server).await);
        writer.set_header("authorization", format!("Bearer {}", t.write));
        assert_eq!(code(count_over_flight(&mut writer).await.expect_err("write token")), tonic::Code::PermissionDenied);
        let mut reader = FlightSqlServiceClient::new(channel(&server).await);
        reader.set_header("authorization", format!("Bearer {}", t.read));
        assert_eq!(count_over_flight(&mut reader).await.expect("read token queries"), 4);

        // The basic handshake (user:token) hands back a bearer token the client then uses.
        let mut shaken = FlightSqlServiceClient::new(channel(&server).await);
        shaken.handshake("grafana", &t.read).await.expect("handshake");
        assert_eq!(count_over_flight(&mut shaken).await.expect("after handshake"), 4);
        // The client reports a failed handshake as an Arrow error carrying the status.
        let mut wrong = FlightSqlServiceClient::new(channel(&server).await);
        let e = wrong.handshake("grafana", "nope").await.expect_err("bad").to_string();
        assert!(e.contains("invalid token"), "{e}");
        let mut write_only = FlightSqlServiceClient::new(channel(&server).await);
        let e = write_only.handshake("x", &t.write).await.expect_err("write token handshake").to_string();
        assert!(e.contains("lacks the read scope"), "{e}");
    });
}

/// `psql -w` (never prompt) with `password` (None: no password).
fn psql(server: &Server, password: Option<&str>, sql: &str) -> (bool, String, String) {
    let mut cmd = Command::new("psql");
    cmd.args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string(), "-U", "grafana", "-d", "tidewater"])
        .args(["-X", "-w", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .env_remove("PGPASSWORD");
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().expect("run psql (Debian package postgresql-client; ./scripts/test installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn postgres_wants_a_read_token_as_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    assert_eq!(status(otlp_http(&server), Some(&t.write)), 200);
    let count = "SELECT count(*) FROM cpu";
    let (ok, _, err) = psql(&server, None, count);
    assert!(!ok && err.to_lowercase().contains("password"), "no password must be refused: {err}");
    let (ok, _, err) = psql(&server, Some("wrong"), count);
    assert!(!ok && err.contains("Password authentication failed"), "a wrong password must be refused: {err}");
    let (ok, _, err) = psql(&server, Some(&t.write), count);
    assert!(!ok && err.contains("Password authentication failed"), "a write token cannot query: {err}");
    let (ok, out, err) = psql(&server, Some(&t.read), count);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "4");
}

#[test]
fn listening_beyond_loopback_without_auth_logs_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tidewater"))
        .args(["serve", "--http-addr", "0.0.0.0:0", "--grpc-addr", "127.0.0.1:0", "--pg-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("TIDEWATER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tidewater");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("server did not log its listening addresses");
        let listening = line.contains("listening");
        lines.push(line);
        if listening {
            break;
        }
    }
    // The warnings follow the "listening" line at once.
    std::thread::sleep(Duration::from_millis(500));
    lines.extend(rx.try_iter());
    let warned: Vec<_> = lines.iter().filter(|l| l.contains("without authentication")).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(warned.len(), 1, "one warning, for the HTTP address only: {warned:?}");
    assert!(warned[0].contains("0.0.0.0"), "{warned:?}");
}
