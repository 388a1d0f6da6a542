//! Query guards: memory limit, timeout, cancellation when the client goes
//! away, concurrency limit — each a clear error, and the server keeps serving.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::Server;

/// 10^10 rows: never finishes within a test.
const ENDLESS: &str = "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b";

fn start(dir: &std::path::Path, query_toml: &str) -> Server {
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
    assert_eq!(a.join().expect("join").expect("answer"), 408);
    assert_eq!(b.join().expect("join").expect("answer"), 408);
    assert_eq!(server.rows("SELECT 1"), vec![json!([1])]);
}
