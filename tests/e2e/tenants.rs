//! Tenants: each token acts for its tenant, whose tables no other tenant can
//! reach by any route (qualified and storage names, `information_schema`,
//! `system` tables, Flight SQL `GetTables`, the PostgreSQL catalog, the
//! server-wide APIs); `X-Scope-OrgID` only where the token allows it; a
//! tenant over its ingest rate gets 429 while another keeps writing.

use std::path::Path;
use std::process::Command;

use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::CommandGetTables;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use reqwest::blocking::{Client, RequestBuilder};
use serde_json::Value;
use tidewater_auth::hash::{generate_secret, hash_token};
use tidewater_ingest::remote_write::{encode, Label, Sample, TimeSeries, WriteRequest};
use tonic::transport::Channel;

use crate::flight_sql::{fetch, table, CPU_JSON};
use crate::server::Server;

/// Token secrets by name.
struct Tokens(Vec<(&'static str, String)>);

impl Tokens {
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, s)| s.as_str()).expect("known token")
    }
}

/// A server with tenants `acme`, `beta`, `limited` (1 sample/s, burst 8)
/// and an operator token of the default tenant that may act for any tenant.
fn start(dir: &Path) -> (Server, Tokens) {
    // name, scopes, tenant, further tenants
    let specs: [(&str, &str, &str, &str); 7] = [
        ("acme_write", "\"write\"", "acme", ""),
        ("acme_read", "\"read\"", "acme", ""),
        ("beta_write", "\"write\"", "beta", ""),
        ("beta_read", "\"read\"", "beta", ""),
        ("limited_write", "\"write\"", "limited", ""),
        ("default_read", "\"read\"", "default", ""),
        ("ops", "\"read\", \"write\"", "default", "tenants = [\"*\"]\n"),
    ];
    let mut text = String::from("[auth]\nenabled = true\n\n");
    let mut tokens = Vec::new();
    for (name, scopes, tenant, more) in specs {
        let secret = generate_secret();
        let hash = hash_token(&secret).expect("hash");
        text += &format!(
            "[[auth.tokens]]\nname = \"{name}\"\nhash = \"{hash}\"\nscopes = [{scopes}]\ntenant = \"{tenant}\"\n{more}\n"
        );
        tokens.push((name, secret));
    }
    text += "[tenancy.tenants.limited]\ningest_samples_per_sec = 1\ningest_burst_samples = 8\n";
    let config = dir.join("tidewater.toml");
    std::fs::write(&config, text).expect("config");
    let server = Server::start_with(&dir.join("data"), &[("TIDEWATER_CONFIG", config.to_str().expect("utf-8"))]);
    (server, Tokens(tokens))
}

fn otlp(server: &Server, token: &str) -> RequestBuilder {
    Client::new()
        .post(format!("{}/v1/metrics", server.url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(CPU_JSON)
}

fn remote_write(server: &Server, token: &str, name: &str) -> RequestBuilder {
    remote_write_at(server, token, name, 1_700_000_000_000)
}

fn remote_write_at(server: &Server, token: &str, name: &str, timestamp: i64) -> RequestBuilder {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", name)],
            samples: vec![Sample { value: 1.0, timestamp }],
            ..Default::default()
        }],
        metadata: vec![],
    };
    Client::new()
        .post(format!("{}/api/v1/write", server.url()))
        .bearer_auth(token)
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .body(encode(&req).expect("encode"))
}

/// (status, body) of a SQL query with `token` and an optional `X-Scope-OrgID`.
fn sql(server: &Server, token: &str, org: Option<&str>, query: &str) -> (u16, Value) {
    let mut req = Client::new()
        .post(format!("{}/api/v1/sql", server.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({ "query": query }));
    if let Some(org) = org {
        req = req.header("X-Scope-OrgID", org);
    }
    let r = req.send().expect("sql");
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn rows(server: &Server, token: &str, query: &str) -> Value {
    let (status, body) = sql(server, token, None, query);
    assert_eq!(status, 200, "{query}: {body}");
    body["rows"].clone()
}

#[test]
fn tenants_cannot_see_each_other_by_any_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    let acme = t.get("acme_read");
    let beta = t.get("beta_read");
    assert_eq!(otlp(&server, t.get("acme_write")).send().expect("otlp").status().as_u16(), 200);
    assert_eq!(remote_write(&server, t.get("beta_write"), "beta_only").send().expect("rw").status().as_u16(), 204);

    // Each tenant sees its own table under its plain name.
    assert_eq!(rows(&server, acme, "SELECT count(*) FROM cpu"), serde_json::json!([[4]]));
    assert_eq!(rows(&server, beta, "SELECT count(*) FROM beta_only"), serde_json::json!([[1]]));
    // The default tenant has neither.
    assert_eq!(sql(&server, t.get("default_read"), None, "SELECT count(*) FROM cpu").0, 400);

    // beta cannot reach acme's table by any name.
    for q in [
        "SELECT count(*) FROM cpu",
        "SELECT count(*) FROM public.cpu",
        "SELECT count(*) FROM tidewater.public.cpu",
        "SELECT count(*) FROM \"acme~cpu\"",
        "SELECT count(*) FROM tidewater.public.\"acme~cpu\"",
        "SELECT count(*) FROM acme.public.cpu",
        "SELECT * FROM system.alerts",
        "SELECT * FROM monitoring.tidewater_ingest_points_total",
    ] {
        let (status, body) = sql(&server, beta, None, q);
        assert_eq!(status, 400, "{q} must fail for beta: {body}");
    }
    // Catalog views list only the tenant's own tables.
    let listed = rows(&server, beta, "SELECT table_schema || '.' || table_name FROM information_schema.tables");
    let listed = listed.to_string();
    assert!(listed.contains("public.beta_only"), "{listed}");
    assert!(!listed.contains("cpu") && !listed.contains("acme"), "{listed}");
    let columns = rows(&server, beta, "SELECT DISTINCT table_name FROM information_schema.columns").to_string();
    assert!(!columns.contains("cpu"), "{columns}");
    let sys = rows(&server, beta, "SELECT table_name FROM system.tables").to_string();
    assert_eq!(sys, "[[\"beta_only\"]]");
    let schemas = rows(&server, beta, "SELECT schema_name FROM information_schema.schemata").to_string();
    assert!(!schemas.contains("monitoring") && !schemas.contains("rollup"), "{schemas}");
    // Queries of one tenant are not in another's system.queries.
    rows(&server, acme, "SELECT count(*) AS acme_marker_query FROM cpu");
    let seen = rows(&server, beta, "SELECT query FROM system.queries").to_string();
    assert!(!seen.contains("acme_marker_query"), "{seen}");
    assert!(rows(&server, acme, "SELECT query FROM system.queries").to_string().contains("acme_marker_query"));

    // X-Scope-OrgID: refused for a single-tenant token, honoured for the operator's.
    assert_eq!(sql(&server, acme, Some("beta"), "SELECT 1").0, 403);
    assert_eq!(sql(&server, beta, Some("acme"), "SELECT 1").0, 403);
    assert_eq!(sql(&server, acme, Some("acme"), "SELECT count(*) FROM cpu").0, 200, "its own tenant by name");
    let (status, body) = sql(&server, t.get("ops"), Some("acme"), "SELECT count(*) FROM cpu");
    assert_eq!((status, body["rows"].clone()), (200, serde_json::json!([[4]])), "{body}");
    assert_eq!(sql(&server, t.get("ops"), Some("Bad/Name"), "SELECT 1").0, 403);
    // The operator writes into a tenant by header.
    let w = remote_write(&server, t.get("ops"), "from_ops").header("X-Scope-OrgID", "beta").send().expect("rw");
    assert_eq!(w.status().as_u16(), 204);
    assert_eq!(rows(&server, beta, "SELECT count(*) FROM from_ops"), serde_json::json!([[1]]));

    // Server-wide state is the default tenant's alone.
    let c = Client::new();
    for path in ["/metrics", "/api/v1/rules", "/api/v1/alerts", "/api/v1/slos", "/api/v1/pipelines"] {
        let url = format!("{}{path}", server.url());
        assert_eq!(c.get(&url).bearer_auth(beta).send().expect("get").status().as_u16(), 403, "{path}");
        assert_eq!(
            c.get(&url).bearer_auth(t.get("default_read")).send().expect("get").status().as_u16(),
            200,
            "{path}"
        );
    }

    // Flight SQL GetTables and queries act for the token's tenant.
    runtime().block_on(async {
        let channel =
            Channel::from_shared(format!("http://{}", server.grpc)).expect("uri").connect().await.expect("connect");
        let mut client = FlightSqlServiceClient::new(channel.clone());
        client.set_header("authorization", format!("Bearer {beta}"));
        let info =
            client.get_tables(CommandGetTables { include_schema: false, ..Default::default() }).await.expect("tables");
        let listed = table(&fetch(&mut client, info).await);
        assert!(listed.contains("beta_only") && !listed.contains("cpu"), "{listed}");
        let e = client.execute("SELECT count(*) FROM cpu".into(), None).await.expect_err("acme's table");
        assert!(e.to_string().contains("cpu"), "{e}");
        let mut other = FlightSqlServiceClient::new(channel);
        other.set_header("authorization", format!("Bearer {acme}"));
        other.set_header("x-scope-orgid", "beta");
        let e = other.execute("SELECT 1".into(), None).await.expect_err("acme's token cannot act for beta");
        assert!(e.to_string().contains("PermissionDenied") || e.to_string().contains("may not act"), "{e}");
    });

    // The PostgreSQL catalog lists the connection's tenant only.
    let relnames = "SELECT relname FROM pg_catalog.pg_class WHERE relname IN ('cpu', 'beta_only') ORDER BY 1";
    let (ok, out, err) = psql(&server, beta, "tidewater", relnames);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "beta_only");
    let (ok, out, err) = psql(&server, acme, "tidewater", relnames);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "cpu");
    let (ok, _, err) = psql(&server, beta, "tidewater", "SELECT count(*) FROM cpu");
    assert!(!ok && err.contains("cpu"), "{err}");
    // An operator token picks the tenant by database name.
    let (ok, out, err) = psql(&server, t.get("ops"), "acme", "SELECT count(*) FROM cpu");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "4");
}

#[test]
fn a_tenant_over_its_ingest_rate_gets_429_while_another_keeps_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    // Verify both tokens first (argon2 is slow, more so in a loaded debug
    // run): an empty logs request costs no samples.
    let warm = Client::new()
        .post(format!("{}/v1/logs", server.url()))
        .bearer_auth(t.get("limited_write"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .expect("warm up");
    assert_eq!(warm.status().as_u16(), 200);
    assert_eq!(remote_write(&server, t.get("beta_write"), "warm").send().expect("rw").status().as_u16(), 204);
    // Burst 8 samples at 1/s: two requests of 4 pass, the third (sent at
    // once) is refused.
    let mut statuses = Vec::new();
    let mut refusal = None;
    for _ in 0..3 {
        let r = otlp(&server, t.get("limited_write")).send().expect("otlp");
        statuses.push(r.status().as_u16());
        if r.status().as_u16() == 429 {
            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            refusal = Some((retry, r.text().unwrap_or_default()));
        }
    }
    assert_eq!(statuses, [200, 200, 429]);
    let (retry, body) = refusal.expect("a refusal");
    assert!(retry.is_some_and(|r| r.parse::<u64>().is_ok_and(|s| s >= 1)), "Retry-After");
    assert!(body.contains("ingest_samples_per_sec") && body.contains("limited"), "{body}");
    // OTLP/gRPC answers RESOURCE_EXHAUSTED naming the limit.
    runtime().block_on(async {
        let channel =
            Channel::from_shared(format!("http://{}", server.grpc)).expect("uri").connect().await.expect("connect");
        let body: ExportMetricsServiceRequest = serde_json::from_str(CPU_JSON).expect("OTLP JSON");
        let mut req = tonic::Request::new(body);
        let bearer = format!("Bearer {}", t.get("limited_write"));
        req.metadata_mut().insert("authorization", bearer.parse().expect("metadata"));
        let e = MetricsServiceClient::new(channel).export(req).await.expect_err("over the rate");
        assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e}");
        assert!(e.message().contains("ingest_samples_per_sec"), "{e}");
    });
    // Meanwhile the other tenant writes as it likes.
    for i in 0..3 {
        let other = remote_write_at(&server, t.get("beta_write"), "beta_steady", 1_700_000_000_000 + i * 1000)
            .send()
            .expect("rw");
        assert_eq!(other.status().as_u16(), 204, "beta is not limited");
    }
    assert_eq!(rows(&server, t.get("beta_read"), "SELECT count(*) FROM beta_steady"), serde_json::json!([[3]]));
    let limited = server.sql_raw("SELECT 1").0;
    assert_eq!(limited, 401, "auth is on");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// `psql -w` with `password` against `database`.
fn psql(server: &Server, password: &str, database: &str, sql: &str) -> (bool, String, String) {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string(), "-U", "grafana", "-d", database])
        .args(["-X", "-w", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGSSLMODE", "disable")
        .env("PGPASSWORD", password)
        .output()
        .expect("run psql (Debian package postgresql-client; ./scripts/test installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
