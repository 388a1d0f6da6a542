//! The Python OpenTelemetry SDK (a real client from PyPI) pushes every
//! metric type it has, and logs, over gRPC and over HTTP; SQL reads back the
//! exact values. Summaries (which the SDK cannot produce) and the OTLP
//! spec's JSON examples are sent as raw OTLP/JSON.

use std::process::Command;

use serde_json::{json, Value};

use crate::server::Server;

fn python() -> String {
    std::env::var("TIDEWATER_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
        if std::path::Path::new(venv).exists() {
            venv.to_string()
        } else {
            panic!("no Python with the OpenTelemetry SDK: run ./scripts/test (it installs one) or set TIDEWATER_TEST_PYTHON")
        }
    })
}

fn push(server: &Server, protocol: &str, service: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/push_all.py");
    let out = Command::new(python())
        .arg(script)
        .args(["--protocol", protocol, "--service", service])
        .args(["--grpc", &server.grpc.to_string(), "--http", &server.url()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "push_all.py failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("push_all.py prints JSON")
}

/// Check the rows one SDK run produced (`service` tells the runs apart).
fn check(server: &Server, service: &str, sent: &Value) {
    let q = |sql: &str| server.rows(&sql.replace("$svc", service));
    assert_eq!(
        q("SELECT route, value FROM py_requests WHERE service_name = '$svc' ORDER BY route"),
        vec![json!(["/a", 7.0]), json!(["/b", 1.0])]
    );
    assert_eq!(q("SELECT value FROM py_inflight WHERE service_name = '$svc'"), vec![json!([6.0])]);
    assert_eq!(q("SELECT room, value FROM py_temperature WHERE service_name = '$svc'"), vec![json!(["lab", 21.25])]);
    // Explicit histogram: bounds [10, 100], values 1, 5, 50, 500.
    assert_eq!(
        q("SELECT count, sum, min, max, bounds, counts, start_time < time FROM py_latency WHERE service_name = '$svc'"),
        vec![json!([4, 556.0, 1.0, 500.0, "[10.0, 100.0]", "[2, 1, 1]", true])]
    );
    // Exponential histogram: every value must fall in the bucket its index says.
    let rows = q("SELECT count, sum, min, max, zero_count, scale, positive_offset, positive_counts, negative_counts \
                  FROM py_payload WHERE service_name = '$svc'");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(
        (&r[0], &r[1], &r[2], &r[3], &r[4]),
        (&json!(4), &json!(1007.0), &json!(1.0), &json!(1000.0), &json!(0))
    );
    let scale = r[5].as_i64().expect("scale") as i32;
    let offset = r[6].as_i64().expect("offset");
    let counts: Vec<u64> = serde_json::from_str(r[7].as_str().expect("counts")).expect("counts list");
    let mut expected = vec![0u64; counts.len()];
    for v in sent["exp_values"].as_array().expect("values") {
        let v = v.as_f64().expect("f64");
        // Bucket index: the smallest i with v <= base^(i+1), base = 2^(2^-scale).
        let index = ((v.log2() * 2f64.powi(scale)).ceil() as i64) - 1;
        let slot = usize::try_from(index - offset).expect("index within the stored buckets");
        expected[slot] += 1;
    }
    assert_eq!(counts, expected, "scale {scale} offset {offset}");
    let negative: Vec<u64> = serde_json::from_str(r[8].as_str().expect("negative")).expect("negative list");
    assert!(negative.iter().all(|c| *c == 0), "{negative:?}");
    // Logs: body, severity, ids, attributes, scope.
    let logs = q("SELECT body, severity_text, severity_number, trace_id, span_id, scope_name, attributes \
                  FROM logs WHERE service_name = '$svc' ORDER BY time");
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert_eq!(logs[0][0], json!("payment failed for order 42"));
    assert_eq!((&logs[0][1], &logs[0][2]), (&json!("ERROR"), &json!(17)));
    assert_eq!(logs[0][3], sent["trace_id"]);
    assert_eq!(logs[0][4], sent["span_id"]);
    assert_eq!(logs[0][5], json!("push_all"));
    let attrs: Value = serde_json::from_str(logs[0][6].as_str().expect("attributes")).expect("attributes JSON");
    assert_eq!(attrs["order.id"], json!("42"));
    assert_eq!((&logs[1][0], &logs[1][1], &logs[1][3]), (&json!("all good"), &json!("INFO"), &Value::Null));
}

#[test]
fn python_sdk_every_metric_type_and_logs_over_grpc_and_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let via_grpc = push(&server, "grpc", "py-grpc");
    let via_http = push(&server, "http", "py-http");
    check(&server, "py-grpc", &via_grpc);
    check(&server, "py-http", &via_http);
    // Table metadata is kept and visible in SQL.
    let meta = "SELECT table_name, kind, temporality, monotonic, unit, description, original_name FROM system.tables \
                WHERE table_name IN ('py_requests', 'py_inflight', 'py_latency', 'py_payload', 'logs') ORDER BY table_name";
    let expected = vec![
        json!(["logs", "logs", null, null, null, null, null]),
        json!(["py_inflight", "sum", "cumulative", false, null, null, "py.inflight"]),
        json!(["py_latency", "histogram", "cumulative", null, "ms", null, "py.latency"]),
        json!(["py_payload", "exponential_histogram", "cumulative", null, "By", null, "py.payload"]),
        json!(["py_requests", "sum", "cumulative", true, "1", "requests served", "py.requests"]),
    ];
    assert_eq!(server.rows(meta), expected);
    server.kill();
    let server = Server::start(dir.path());
    check(&server, "py-grpc", &via_grpc);
    check(&server, "py-http", &via_http);
    assert_eq!(server.rows(meta), expected);
}

fn post_json(server: &Server, path: &str, body: &str) -> (u16, Value) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}{path}", server.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("post");
    let status = resp.status().as_u16();
    (status, resp.json().expect("json answer"))
}

#[test]
fn otlp_json_spec_examples_and_summaries_are_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let metrics = include_str!("../fixtures/otlp/metrics.json");
    assert_eq!(post_json(&server, "/v1/metrics", metrics), (200, json!({})));
    assert_eq!(
        server.rows("SELECT my_counter_attr, value, my_scope_attribute, service_name FROM my_counter"),
        vec![json!(["some value", 5.0, "some scope attribute", "my.service"])]
    );
    assert_eq!(server.rows("SELECT value FROM my_gauge"), vec![json!([10.0])]);
    assert_eq!(
        server.rows("SELECT count, sum, min, max, bounds, counts FROM my_histogram"),
        vec![json!([3, 3.0, 1.0, 1.0, "[1.0]", "[1, 1, 1]"])]
    );
    let logs = include_str!("../fixtures/otlp/logs.json");
    assert_eq!(post_json(&server, "/v1/logs", logs), (200, json!({})));
    let rows = server.rows("SELECT time, body, severity_text, trace_id, span_id, scope_version, attributes FROM logs");
    assert_eq!(rows[0][0], json!("2018-12-13T14:51:00.300Z"));
    assert_eq!(rows[0][1], json!("Example log record"));
    assert_eq!(rows[0][3], json!("5b8efff798038103d269b633813fc60c"));
    assert_eq!(rows[0][4], json!("eee19b7ec3c1b174"));
    assert_eq!(rows[0][5], json!("1.0.0"));
    let attrs: Value = serde_json::from_str(rows[0][6].as_str().expect("attrs")).expect("json");
    assert_eq!(attrs["map.attribute"], json!({"some.map.key": "some value"}));
    assert_eq!(attrs["int.attribute"], json!(10));

    // Summary, with a stale (no recorded value) point.
    let summary = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"rpc.duration","summary":{"dataPoints":[
        {"startTimeUnixNano":"1000","timeUnixNano":"2000","count":"10","sum":55.5,
         "quantileValues":[{"quantile":0.5,"value":4.0},{"quantile":0.99,"value":9.5}]},
        {"startTimeUnixNano":"1000","timeUnixNano":"3000","flags":1}]}}
    ]}]}]}"#;
    let (status, body) = post_json(&server, "/v1/metrics", summary);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        server.rows("SELECT count, sum, quantiles, quantile_values FROM rpc_duration ORDER BY time"),
        vec![json!([10, 55.5, "[0.5, 0.99]", "[4.0, 9.5]"]), json!([null, null, null, null])]
    );
}

#[test]
fn partial_success_names_rejected_points_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let body = r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
      {"name":"clash","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"1000"}]}},
      {"name":"clash","sum":{"aggregationTemporality":2,"dataPoints":[{"asDouble":2,"timeUnixNano":"1000"}]}},
      {"name":"fine","gauge":{"dataPoints":[{"asDouble":3,"timeUnixNano":"0"},{"asDouble":4,"timeUnixNano":"5000"}]}}
    ]}]}]}"#;
    let (status, answer) = post_json(&server, "/v1/metrics", body);
    assert_eq!(status, 200);
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], json!("2"), "{answer}");
    let msg = answer["partialSuccess"]["errorMessage"].as_str().expect("message");
    assert!(msg.contains("both gauge and sum") && msg.contains("time_unix_nano 0"), "{msg}");
    assert_eq!(server.rows("SELECT value FROM clash"), vec![json!([1.0])]);
    assert_eq!(server.rows("SELECT value FROM fine"), vec![json!([4.0])]);

    // Over the attribute limit (64 by default): that point alone is refused.
    let attrs: Vec<Value> = (0..70).map(|i| json!({"key": format!("k{i}"), "value": {"stringValue": "v"}})).collect();
    let body = json!({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"wide","gauge":{"dataPoints":[
        {"asDouble": 1, "timeUnixNano": "1000", "attributes": attrs},
        {"asDouble": 2, "timeUnixNano": "2000", "attributes": [{"key": "k1", "value": {"stringValue": "v"}}]}
    ]}}]}]}]});
    let (status, answer) = post_json(&server, "/v1/metrics", &body.to_string());
    assert_eq!(status, 200);
    assert_eq!(answer["partialSuccess"]["rejectedDataPoints"], json!("1"), "{answer}");
    assert!(answer.to_string().contains("70 attributes, limit 64"), "{answer}");
    assert_eq!(server.rows("SELECT k1, value FROM wide"), vec![json!(["v", 2.0])]);
}

#[test]
fn nan_and_infinity_are_stored_as_such() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use prost::Message;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let point = |t: u64, v: f64| NumberDataPoint {
        time_unix_nano: t,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "odd.gauge".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![
                            point(1000, f64::NAN),
                            point(2000, f64::INFINITY),
                            point(3000, f64::NEG_INFINITY),
                            point(4000, -0.0),
                        ],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/x-protobuf")
        .body(req.encode_to_vec())
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        server.rows("SELECT isnan(value), value FROM odd_gauge ORDER BY time"),
        vec![json!([true, "NaN"]), json!([false, "inf"]), json!([false, "-inf"]), json!([false, -0.0])]
    );
}
