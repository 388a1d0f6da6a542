//! Pipelines end to end: instance A drops a metric, hashes an attribute,
//! limits a metric's series (refusal in the OTLP partial success), redacts an
//! e-mail in a log body and forwards a copy of what passed to instance B
//! (metrics over OTLP/gRPC, logs over OTLP/HTTP); B holds exactly what A
//! stored. Then reloads: an invalid file is refused with its line and the
//! running pipeline stays; SIGHUP applies a valid one.

use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue as PbKeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use prost::Message;
use serde_json::Value;

use crate::server::Server;

fn config(b: &Server) -> String {
    format!(
        r#"
[[pipelines.metrics]]
name = "drop-debug"
type = "filter"
metric_names = ["debug.*"]

[[pipelines.metrics]]
name = "hash-user"
type = "attributes"
salt = "e2e-salt"
actions = [{{ action = "hash", key = "user.id" }}]

[[pipelines.metrics]]
name = "limit"
type = "cardinality_limit"
metrics = ["limited.*"]
max_series = 1

[[pipelines.metrics]]
name = "copy-metrics"
type = "forward"
protocol = "grpc"
endpoint = "http://{grpc}"
initial_backoff_ms = 50

[[pipelines.logs]]
name = "redact"
type = "redact"
patterns = ["email"]

[[pipelines.logs]]
name = "copy-logs"
type = "forward"
protocol = "http"
endpoint = "http://{http}"
initial_backoff_ms = 50
"#,
        grpc = b.grpc,
        http = b.http
    )
}

/// Metrics from the OpenTelemetry Rust SDK over OTLP/gRPC.
fn push_sdk_metrics(a: &Server) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let _guard = rt.enter();
    let exporter = MetricExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", a.grpc))
        .with_temporality(Temporality::Cumulative)
        .build()
        .expect("grpc exporter");
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).with_interval(Duration::from_secs(3600)).build())
        .with_resource(opentelemetry_sdk::Resource::builder_empty().with_service_name("checkout").build())
        .build();
    let meter = provider.meter("e2e");
    let orders = meter.u64_counter("checkout.orders").build();
    orders.add(2, &[KeyValue::new("user.id", "u-42"), KeyValue::new("region", "eu")]);
    orders.add(5, &[KeyValue::new("user.id", "u-7"), KeyValue::new("region", "us")]);
    let debug = meter.i64_gauge("debug.queue.depth").build();
    debug.record(3, &[]);
    provider.force_flush().expect("export acknowledged");
    provider.shutdown().expect("shutdown");
}

fn kv(k: &str, v: &str) -> PbKeyValue {
    PbKeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(v.into())) }),
        ..Default::default()
    }
}

fn post(url: String, body: Vec<u8>) -> (u16, bytes::Bytes) {
    let resp = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .expect("post");
    (resp.status().as_u16(), resp.bytes().expect("body"))
}

/// Two series of a limited metric over raw OTLP/HTTP: one is refused.
fn push_limited(a: &Server) -> ExportMetricsServiceResponse {
    let point = |user: &str| NumberDataPoint {
        attributes: vec![kv("user.id", user)],
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(number_data_point::Value::AsInt(1)),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource { attributes: vec![kv("service.name", "checkout")], ..Default::default() }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "limited.sessions".into(),
                    data: Some(Data::Gauge(Gauge { data_points: vec![point("first"), point("second")] })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (status, body) = post(format!("{}/v1/metrics", a.url()), req.encode_to_vec());
    assert_eq!(status, 200);
    ExportMetricsServiceResponse::decode(body.as_ref()).expect("response")
}

/// Logs over raw OTLP/HTTP protobuf.
fn push_logs(a: &Server) {
    let record = |t: u64, severity: i32, body: &str| LogRecord {
        time_unix_nano: t,
        severity_number: severity,
        severity_text: if severity >= 17 { "ERROR" } else { "INFO" }.into(),
        body: Some(AnyValue { value: Some(any_value::Value::StringValue(body.into())) }),
        attributes: vec![kv("order.id", "o-1")],
        ..Default::default()
    };
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource { attributes: vec![kv("service.name", "checkout")], ..Default::default() }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record(1_700_000_000_000_000_000, 9, "order placed by ann.lee@example.com"),
                    record(1_700_000_001_000_000_000, 17, "payment failed for bob@example.org: card declined"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let (status, body) = post(format!("{}/v1/logs", a.url()), req.encode_to_vec());
    assert_eq!(status, 200);
    let resp = ExportLogsServiceResponse::decode(body.as_ref()).expect("response");
    assert!(resp.partial_success.is_none(), "{resp:?}");
}

/// Rows of `sql`, waiting up to 20 s until `ready(rows)`.
fn wait_rows(s: &Server, sql: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = s.sql_raw(sql);
        if status == 200 {
            let rows = body["rows"].as_array().cloned().unwrap_or_default();
            if ready(&rows) {
                return rows;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {sql:?}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Tables clients wrote (not the server's own `tidewater_*` self-metrics).
fn tables(s: &Server) -> Vec<String> {
    let rows = s.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1");
    rows.iter().filter_map(|r| r[0].as_str()).filter(|t| !t.starts_with("tidewater_")).map(str::to_string).collect()
}

fn reload(a: &Server) -> (u16, Value) {
    let resp =
        reqwest::blocking::Client::new().post(format!("{}/api/v1/pipelines/reload", a.url())).send().expect("reload");
    (resp.status().as_u16(), resp.json().expect("json"))
}

#[test]
fn pipeline_drops_hashes_limits_redacts_and_forwards_what_passed() {
    let dir_b = tempfile::tempdir().expect("tempdir");
    let b = Server::start(dir_b.path());
    let dir_a = tempfile::tempdir().expect("tempdir");
    let config_path = dir_a.path().join("tidewater.toml");
    std::fs::write(&config_path, config(&b)).expect("config");
    let data_a = dir_a.path().join("data");
    let a = Server::start_with(&data_a, &[("TIDEWATER_CONFIG", config_path.to_str().expect("utf-8 path"))]);

    push_sdk_metrics(&a);
    let limited = push_limited(&a);
    let partial = limited.partial_success.expect("partial success");
    assert_eq!(partial.rejected_data_points, 1);
    assert!(partial.error_message.contains("limit of 1 series"), "{}", partial.error_message);
    push_logs(&a);

    // A: the debug metric is gone, user ids are hashed, bodies redacted.
    assert_eq!(tables(&a), ["checkout_orders", "limited_sessions", "logs"]);
    let users = a.rows("SELECT DISTINCT user_id FROM checkout_orders ORDER BY 1");
    assert_eq!(users.len(), 2);
    for u in &users {
        let u = u[0].as_str().expect("user_id");
        assert!(u.len() == 32 && u.chars().all(|c| c.is_ascii_hexdigit()), "hashed: {u}");
    }
    assert_eq!(a.rows("SELECT user_id FROM limited_sessions").len(), 1);
    let bodies = a.rows("SELECT body FROM logs ORDER BY time");
    assert_eq!(
        bodies,
        [
            serde_json::json!(["order placed by [REDACTED]"]),
            serde_json::json!(["payment failed for [REDACTED]: card declined"])
        ]
    );

    // B: exactly what A stored, through the forward processors.
    let queries = [
        "SELECT * FROM checkout_orders ORDER BY user_id, time",
        "SELECT * FROM limited_sessions ORDER BY time",
        "SELECT time, observed_time, severity_number, severity_text, body, service_name, resource, attributes \
         FROM logs ORDER BY time",
    ];
    for q in queries {
        let want = a.rows(q);
        let got = wait_rows(&b, q, |rows| rows.len() >= want.len());
        assert_eq!(got, want, "{q}");
    }
    assert_eq!(tables(&b), tables(&a), "nothing dropped on A reaches B");

    // Counters per processor.
    let stats = wait_rows(
        &a,
        "SELECT signal, name, type, items_in, items_out, dropped, refused, delivered, undelivered \
         FROM system.pipelines ORDER BY signal DESC, position",
        |rows| rows.iter().filter(|r| r[2] == "forward").all(|r| r[7] == r[3]),
    );
    let row = |name: &str| -> Vec<Value> {
        stats.iter().find(|r| r[1] == name).and_then(|r| r.as_array().cloned()).expect(name)
    };
    // The SDK exports on flush and again on shutdown: e exports of 3 points
    // (1 debug), then the 2 points of the limited metric.
    let e = a.rows("SELECT count(*) FROM checkout_orders")[0][0].as_u64().expect("count") / 2;
    assert!(e >= 1);
    assert_eq!(row("drop-debug")[3..7], [3 * e + 2, 2 * e + 2, e, 0].map(Value::from), "{stats:?}");
    assert_eq!(row("hash-user")[3..7], [2 * e + 2, 2 * e + 2, 0, 0].map(Value::from), "{stats:?}");
    assert_eq!(row("limit")[3..7], [2 * e + 2, 2 * e + 1, 1, 1].map(Value::from), "{stats:?}");
    assert_eq!(row("copy-metrics")[3..9], [2 * e + 1, 2 * e + 1, 0, 0, 2 * e + 1, 0].map(Value::from), "{stats:?}");
    assert_eq!(row("copy-logs")[3..9], [2, 2, 0, 0, 2, 0].map(Value::from), "{stats:?}");

    // The same counters in /metrics.
    let metrics = reqwest::blocking::get(format!("{}/metrics", a.url())).expect("/metrics").text().expect("text");
    for line in [
        r#"tidewater_pipeline_items_total{signal="metrics",processor="limit",type="cardinality_limit",outcome="refused"} 1"#,
        r#"tidewater_pipeline_items_total{signal="logs",processor="redact",type="redact",outcome="in"} 2"#,
        r#"tidewater_pipeline_forward_items_total{signal="logs",processor="copy-logs",outcome="delivered"} 2"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in /metrics:\n{metrics}");
    }

    // An invalid file is refused with its line; the running pipeline stays.
    let valid = std::fs::read_to_string(&config_path).expect("config");
    let broken = format!("{valid}\n[[pipelines.logs]]\nname = \"sample\"\ntype = \"sample\"\nrate = 7.0\n");
    let bad_line = valid.lines().count() + 2;
    std::fs::write(&config_path, &broken).expect("write");
    let (status, body) = reload(&a);
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().expect("error");
    assert!(error.contains(&format!("tidewater.toml:{bad_line}:")) && error.contains("between 0 and 1"), "{error}");
    assert_eq!(a.rows("SELECT name FROM system.pipelines").len(), 6);

    // SIGHUP applies a valid file: the unchanged processors keep their counters.
    let changed = valid.replace("metric_names = [\"debug.*\"]", "metric_names = [\"debug.*\", \"checkout.*\"]");
    std::fs::write(&config_path, changed).expect("write");
    a.signal("HUP");
    let reloaded =
        wait_rows(&a, "SELECT name, items_in FROM system.pipelines ORDER BY signal DESC, position", |rows| {
            rows.first().is_some_and(|r| r[1] == 0)
        });
    assert_eq!(reloaded[1], serde_json::json!(["hash-user", 2 * e + 2]), "unchanged processors keep their counters");
    assert!(a.log_lines().iter().any(|l| l.contains("pipelines reloaded") && l.contains("SIGHUP")));
}
