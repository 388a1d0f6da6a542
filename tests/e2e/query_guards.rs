//! Query guards: memory limit, timeout, cancellation when the client goes
//! away, concurrency limit (over HTTP and the PostgreSQL wire alike) — each
//! a clear error, and the server keeps serving. Streamed answers and how a
//! limit hit mid-stream ends them. Segment pruning seen in `EXPLAIN ANALYZE`
//! and `system.queries`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::Server;

/// 10^10 rows: never finishes within a test.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b";

/// Start a server whose `[query]` section is `query_toml`.
pub fn start(dir: &std::path::Path, query_toml: &str) -> Server {
    let path = dir.join("tidewater.toml");
    std::fs::write(&path, format!("[query]\n{query_toml}\n")).expect("config");
    Server::start_with(&dir.join("data"), &[("TIDEWATER_CONFIG", &path.display().to_string())])
}

fn post(server: &Server, body: Value, timeout: Option<Duration>) -> reqwest::Result<(u16, Value)> {
    let mut b = reqwest::blocking::Client::builder();
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    let resp = b.build().expect("client").post(format!("{}/api/v1/sql", server.url())).json(&body).send()?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().expect("json")))
}

fn query_states(server: &Server, like: &str) -> Vec<Value> {
    server.rows(&format!(
        "SELECT state FROM system.queries WHERE query LIKE '{like}%' AND query NOT LIKE 'SELECT state%'"
    ))
}

#[test]
fn memory_limit_timeout_cancellation_and_concurrency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "memory_limit_bytes = 10000000\nmax_concurrent_queries = 2");

    // A cross join whose build side needs more than 10 MB: a clear error.
    let big = "SELECT max(a.value + b.value) FROM generate_series(1, 5000000) a CROSS JOIN generate_series(1, 3) b";
    let (status, body) = post(&server, json!({"query": big}), None).expect("answer");
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().expect("error").contains("Resources exhausted"), "{body}");
    assert_eq!(server.rows("SELECT 1"), vec![json!([1])]);

    // A slow query is cut at the (per-request, shortened) timeout.
    let started = Instant::now();
    let (status, body) = post(&server, json!({"query": ENDLESS, "timeout_ms": 500}), None).expect("answer");
    assert_eq!(status, 408, "{body}");
    assert!(body["error"].as_str().expect("error").contains("timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(query_states(&server, "SELECT count(*) FROM generate_series(1, 100000)"), vec![json!(["timeout"])]);

    // The client goes away: the query is cancelled, not left running.
    let gone =
        post(&server, json!({"query": format!("{ENDLESS} WHERE a.value > 0")}), Some(Duration::from_millis(500)));
    assert!(gone.is_err(), "the client should have timed out");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let states = query_states(
            &server,
            "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b WHERE",
        );
        if states == vec![json!(["cancelled"])] {
            break;
        }
        assert!(Instant::now() < deadline, "query not cancelled: {states:?}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Concurrency: with two slow queries running, a third is refused with 429.
    let slow = |n: u32| {
        let url = server.url();
        std::thread::spawn(move || {
            reqwest::blocking::Client::new()
                .post(format!("{url}/api/v1/sql"))
                .json(&json!({"query": format!("{ENDLESS} WHERE b.value > {n}"), "timeout_ms": 3000}))
                .send()
                .map(|r| r.status().as_u16())
        })
    };
    let (a, b) = (slow(1), slow(2));
    std::thread::sleep(Duration::from_millis(800));
    let (status, body) = post(&server, json!({"query": "SELECT 1"}), None).expect("answer");
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().expect("error").contains("too many queries"), "{body}");
    // The same permit guards the PostgreSQL wire.
    let (ok, _, err) = crate::postgres::psql_raw(&server, "SELECT 1");
    assert!(!ok && err.contains("too many queries running (limit 2)"), "{err}");
    assert_eq!(a.join().expect("join").expect("answer"), 408);
    assert_eq!(b.join().expect("join").expect("answer"), 408);
    assert_eq!(server.rows("SELECT 1"), vec![json!([1])]);
}

fn get(server: &Server, query: &str, format: &str) -> reqwest::blocking::Response {
    reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/sql?format={format}", server.url()))
        .json(&json!({ "query": query }))
        .send()
        .expect("answer")
}

#[test]
fn answers_stream_and_limits_hit_mid_stream_end_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "max_result_rows = 100000");

    // A large answer arrives in chunks (no content-length) and is complete.
    let resp = get(&server, "SELECT value FROM generate_series(1, 90000)", "json");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers().get("content-length").is_none(), "{:?}", resp.headers());
    let body: Value = resp.json().expect("one JSON document");
    let rows = body["rows"].as_array().expect("rows");
    assert_eq!((rows.len(), &rows[0], &rows[89999]), (90000, &json!([1]), &json!([90000])));
    assert!(body.get("error").is_none());

    // Too many rows, found out after the first batches went out: the JSON
    // answer is still one document, ending with an "error" member.
    let too_many = "SELECT value FROM generate_series(1, 1000000)";
    let resp = get(&server, too_many, "json");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().expect("one JSON document");
    let sent = body["rows"].as_array().expect("rows").len();
    assert!(sent > 0 && sent <= 100000, "{sent} rows");
    let error = body["error"].as_str().expect("error member");
    assert!(error.contains("max_result_rows = 100000"), "{error}");
    // CSV and Arrow cannot say so in-band: the body is cut.
    for format in ["csv", "arrow"] {
        let resp = get(&server, too_many, format);
        assert_eq!(resp.status().as_u16(), 200);
        assert!(resp.bytes().is_err(), "a cut {format} body must not read as complete");
    }
    // The timeout after the first rows: those rows, then the error.
    let slow = format!("SELECT value FROM generate_series(1, 10) UNION ALL {ENDLESS}");
    let started = Instant::now();
    let (status, body) = post(&server, json!({"query": slow, "timeout_ms": 1000}), None).expect("answer");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"].as_array().expect("rows").len(), 10, "{body}");
    assert!(body["error"].as_str().expect("error member").contains("timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(query_states(&server, "SELECT value FROM generate_series(1, 10) UNION"), vec![json!(["timeout"])]);

    // A client that stops reading and leaves mid-stream cancels the query
    // (1 KB rows: the socket buffers fill long before the row limit).
    let endless_rows =
        "SELECT repeat('x', 1000) AS pad FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b";
    let resp = get(&server, endless_rows, "json");
    assert_eq!(resp.status().as_u16(), 200);
    std::thread::sleep(Duration::from_millis(300));
    drop(resp);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let states = query_states(&server, "SELECT repeat(");
        if states == vec![json!(["cancelled"])] {
            break;
        }
        assert!(Instant::now() < deadline, "query not cancelled: {states:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.rows("SELECT 1"), vec![json!([1])]);
}

/// 2024-03-01T00:00:00Z in seconds.
const MARCH_1: u64 = 1_709_251_200;

/// Gauge `days`: host `a` at 00:00 and 12:00 on 2024-03-01 .. 2024-03-05.
fn days_json() -> String {
    let points: Vec<String> = (0..5u64)
        .flat_map(|day| [0u64, 12].map(move |hour| (day, hour)))
        .map(|(day, hour)| {
            let ns = (MARCH_1 + day * 86_400 + hour * 3_600) * 1_000_000_000;
            format!(
                r#"{{"asDouble":{v},"timeUnixNano":"{ns}","attributes":[{{"key":"host","value":{{"stringValue":"a"}}}}]}}"#,
                v = day * 100 + hour
            )
        })
        .collect();
    format!(
        r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"name":"days","gauge":{{"dataPoints":[{}]}}}}]}}]}}]}}"#,
        points.join(",")
    )
}

#[test]
fn narrow_time_range_opens_only_matching_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "");
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/json")
        .body(days_json())
        .send()
        .expect("push");
    assert_eq!(resp.status().as_u16(), 200);
    // Stopping flushes: one segment per day.
    server.terminate();
    let server = start(dir.path(), "");
    let paths = |partition: &str| -> Vec<String> {
        let sql = format!("SELECT path FROM system.segments WHERE table_name = 'days' AND partition {partition}");
        server.rows(&sql).iter().map(|r| r[0].as_str().expect("path").to_string()).collect()
    };
    let (day3, others) = (paths("= '2024-03-03'"), paths("<> '2024-03-03'"));
    assert_eq!((day3.len(), others.len()), (1, 4), "{day3:?} {others:?}");

    let narrow = "SELECT count(*), max(value) FROM days \
                  WHERE time >= '2024-03-03T00:00:00Z' AND time < '2024-03-03T06:00:00Z'";
    assert_eq!(server.rows(narrow), vec![json!([1, 200.0])]);

    // EXPLAIN lists the one file the scan opens.
    let plan = server
        .rows(&format!("EXPLAIN {narrow}"))
        .iter()
        .map(|r| r[1].as_str().expect("plan").to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let file = |p: &String| p.rsplit('/').next().expect("file name").to_string();
    assert!(plan.contains(&file(&day3[0])), "{plan}");
    for other in &others {
        assert!(!plan.contains(&file(other)), "{other} should be pruned:\n{plan}");
    }

    // EXPLAIN ANALYZE counts segments read and pruned, and the Parquet
    // row groups pruned by their statistics.
    let analyzed = server.rows(&format!("EXPLAIN ANALYZE {narrow}"));
    let analyzed = analyzed[0][1].as_str().expect("plan with metrics");
    for metric in ["segments_scanned=1", "segments_pruned_by_time=4", "row_groups_pruned_statistics="] {
        assert!(analyzed.contains(metric), "{metric} missing:\n{analyzed}");
    }
    // A value filter no row group can match: the segments are opened (the
    // manifest has no value statistics), their row groups pruned by Parquet
    // statistics.
    let analyzed = server.rows("EXPLAIN ANALYZE SELECT count(*) FROM days WHERE value > 1000000");
    let analyzed = analyzed[0][1].as_str().expect("plan with metrics");
    assert!(analyzed.contains("segments_scanned=5"), "{analyzed}");
    assert!(analyzed.contains("row_groups_pruned_statistics=5 total → 0 matched"), "{analyzed}");
    // An attribute value no segment holds: pruned from the manifest, no file opened.
    let pruned = server.rows("SELECT count(*) FROM days WHERE host = 'zzz'");
    assert_eq!(pruned[0][0], json!(0));
    let logged = server.rows(
        "SELECT segments_scanned, segments_pruned_by_attributes FROM system.queries \
         WHERE query = 'SELECT count(*) FROM days WHERE host = ''zzz'''",
    );
    assert_eq!(logged, vec![json!([0, 5])], "{logged:?}");

    // system.queries has the same counts, per query.
    let counts = server.rows(
        "SELECT state, rows, segments_scanned, segments_pruned FROM system.queries \
         WHERE query LIKE 'SELECT count(*), max(value) FROM days%'",
    );
    assert_eq!(counts, vec![json!(["ok", 1, 1, 4])]);
}
