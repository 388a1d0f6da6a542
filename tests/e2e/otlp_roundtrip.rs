//! Gauges and sums pushed by the OpenTelemetry Rust SDK over OTLP/gRPC and
//! OTLP/HTTP are read back over SQL, and survive SIGKILL and SIGTERM restarts.

use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;
use serde_json::json;

use crate::server::Server;

fn provider(exporter: MetricExporter, service: &str) -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).with_interval(Duration::from_secs(3600)).build())
        .with_resource(Resource::builder_empty().with_service_name(service.to_string()).build())
        .build()
}

/// Push over gRPC with cumulative temporality. The tonic exporter needs a
/// Tokio runtime around the provider.
fn push_grpc(server: &Server) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let exporter = MetricExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", server.grpc))
        .with_temporality(Temporality::Cumulative)
        .build()
        .expect("grpc exporter");
    let provider = provider(exporter, "checkout");
    let meter = provider.meter("e2e");
    let gauge = meter.f64_gauge("room.temperature").with_unit("Cel").build();
    gauge.record(21.5, &[KeyValue::new("room", "a")]);
    gauge.record(19.25, &[KeyValue::new("room", "b"), KeyValue::new("floor", 2)]);
    let orders = meter.u64_counter("orders.placed").build();
    orders.add(3, &[KeyValue::new("region", "eu")]);
    orders.add(4, &[KeyValue::new("region", "eu")]);
    orders.add(10, &[KeyValue::new("region", "us")]);
    let depth = meter.i64_up_down_counter("queue.depth").build();
    depth.add(5, &[]);
    depth.add(-2, &[]);
    provider.force_flush().expect("grpc export acknowledged");
    provider.shutdown().expect("shutdown");
}

/// Push over HTTP/protobuf with delta temporality, in two exports.
fn push_http(server: &Server) {
    let exporter = MetricExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/metrics", server.url()))
        .with_temporality(Temporality::Delta)
        .build()
        .expect("http exporter");
    let provider = provider(exporter, "frontend");
    let meter = provider.meter("e2e");
    let requests = meter.u64_counter("http.requests").build();
    let cores = meter.i64_gauge("cpu.cores").build();
    requests.add(2, &[KeyValue::new("route", "/")]);
    requests.add(2, &[KeyValue::new("route", "/")]);
    cores.record(8, &[]);
    provider.force_flush().expect("first http export acknowledged");
    std::thread::sleep(Duration::from_millis(5));
    requests.add(1, &[KeyValue::new("route", "/")]);
    provider.force_flush().expect("second http export acknowledged");
    provider.shutdown().expect("shutdown");
}

const TABLES: &[&str] = &["room_temperature", "orders_placed", "queue_depth", "http_requests", "cpu_cores"];

/// Every row of every table, in a stable order: compared before and after restarts.
fn dump(server: &Server) -> Vec<Vec<serde_json::Value>> {
    TABLES
        .iter()
        .map(|t| {
            let mut rows = server.rows(&format!("SELECT * FROM {t}"));
            rows.sort_by_key(|r| r.to_string());
            rows
        })
        .collect()
}

/// The values pushed, checked exactly. Cumulative instruments are exported
/// again at shutdown (same values, later timestamps), hence DISTINCT there.
fn check_all(server: &Server) {
    assert_eq!(
        server.rows("SELECT DISTINCT room, floor, value, service_name FROM room_temperature ORDER BY room"),
        vec![json!(["a", null, 21.5, "checkout"]), json!(["b", "2", 19.25, "checkout"])]
    );
    // Points carry their own timestamps, recent ones.
    assert_eq!(
        server.rows("SELECT count(*) = (SELECT count(*) FROM room_temperature) FROM room_temperature WHERE time > now() - INTERVAL '10 minutes' AND time <= now()"),
        vec![json!([true])]
    );
    assert_eq!(
        server.rows("SELECT DISTINCT region, value, start_time IS NOT NULL AND start_time <= time FROM orders_placed ORDER BY region"),
        vec![json!(["eu", 7.0, true]), json!(["us", 10.0, true])]
    );
    assert_eq!(server.rows("SELECT DISTINCT value FROM queue_depth"), vec![json!([3.0])]);
    assert_eq!(
        server.rows("SELECT route, value, service_name FROM http_requests ORDER BY time"),
        vec![json!(["/", 4.0, "frontend"]), json!(["/", 1.0, "frontend"])]
    );
    assert_eq!(server.rows("SELECT value FROM cpu_cores"), vec![json!([8.0])]);
    // The data model: time is Timestamp(ns, UTC), attributes are dictionary strings.
    let body = server.sql("SELECT * FROM orders_placed LIMIT 0");
    let types: Vec<(String, String)> = body["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or("").to_string(), c["type"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(types.contains(&("time".into(), "Timestamp(ns, \"UTC\")".into())), "{types:?}");
    assert!(types.contains(&("value".into(), "Float64".into())), "{types:?}");
    assert!(types.contains(&("region".into(), "Dictionary(Int32, Utf8)".into())), "{types:?}");
    // Delta sums have no start_time column.
    let delta_cols = server.sql("SELECT * FROM http_requests LIMIT 0");
    assert!(!delta_cols.to_string().contains("start_time"), "{delta_cols}");
}

#[test]
fn otlp_grpc_and_http_points_survive_sigkill_and_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    push_grpc(&server);
    push_http(&server);
    check_all(&server);
    let before = dump(&server);
    assert!(before.iter().all(|rows| !rows.is_empty()));

    // SIGKILL: nothing flushed; the WAL must bring everything back.
    server.kill();
    let server = Server::start(dir.path());
    assert!(server.log_lines().iter().any(|l| l.contains("replayed WAL")), "no WAL replay logged");
    check_all(&server);
    assert_eq!(dump(&server), before);

    // SIGTERM: a clean stop flushes to segments; they serve the data after restart.
    server.terminate();
    let segments = walk(&dir.path().join("segments"));
    assert!(segments.iter().any(|p| p.ends_with(".parquet")), "no segment files after a clean stop: {segments:?}");
    let server = Server::start(dir.path());
    check_all(&server);
    assert_eq!(dump(&server), before);

    // New writes after the restart mix with the flushed data.
    push_http(&server);
    assert_eq!(server.rows("SELECT count(*) FROM http_requests"), vec![json!([4])]);
    server.kill();
    let server = Server::start(dir.path());
    assert_eq!(server.rows("SELECT count(*), sum(value) FROM http_requests"), vec![json!([4, 10.0])]);
}

#[test]
fn sql_cli_prints_a_table_and_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    push_grpc(&server);
    let run = |args: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidewater"))
            .arg("sql")
            .arg("--url")
            .arg(server.url())
            .args(args)
            .output()
            .expect("run tidewater sql");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf8")
    };
    let table = run(&["SELECT room, value FROM room_temperature ORDER BY room"]);
    assert!(table.contains("| room | value |"), "{table}");
    assert!(table.contains("| a    | 21.5  |"), "{table}");
    assert!(table.contains(" rows)"), "{table}");
    let csv = run(&["--format", "csv", "SELECT DISTINCT room, value FROM room_temperature ORDER BY room"]);
    assert_eq!(csv.trim(), "room,value\na,21.5\nb,19.25");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tidewater"))
        .args(["sql", "--url", &server.url(), "SELECT * FROM missing_table"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing_table"));
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
