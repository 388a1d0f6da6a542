//! The built-in UI in headless Chromium against a real server with ingested
//! data: Explore draws one line per series, every panel of the shipped
//! dashboards renders, the alerts page says alerting is not configured.
//! Screenshots go to `target/ui-artifacts/` only; the documentation's
//! `docs/img/dashboard.png` is rewritten only with
//! `TIDEWATER_UPDATE_SCREENSHOT=1` (see docs/dashboards.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::server::Server;
use crate::webdriver::Browser;

const SERVICES: [(&str, f64); 3] = [("checkout", 0.12), ("cart", 0.04), ("frontend", 0.25)];
const ROUTES: [(&str, &str); 2] = [("GET", "/api/items"), ("POST", "/api/orders")];
const BOUNDS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
const STEP_SECS: u64 = 15;
const STEPS: u64 = 120;

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos() as u64
}

fn attr(key: &str, value: Value) -> Value {
    json!({ "key": key, "value": value })
}

/// `http.server.request.duration` for three services over the last 30
/// minutes: cumulative histograms, one point every 15 s per series, 5xx on
/// some requests, each service with its own latency.
fn http_server_metrics(now: u64) -> Value {
    let start = now - (STEPS + 1) * STEP_SECS * 1_000_000_000;
    let resources: Vec<Value> = SERVICES
        .iter()
        .enumerate()
        .map(|(si, (service, latency))| {
            let mut points = Vec::new();
            for (ri, (method, route)) in ROUTES.iter().enumerate() {
                for status in [200, 500] {
                    let mut counts = [0u64; BOUNDS.len() + 1];
                    let mut sum = 0.0;
                    for step in 0..STEPS {
                        let wave = ((step as f64 / 12.0) + si as f64).sin().abs();
                        let n = if status == 200 {
                            20 + (30.0 * wave) as u64 + 10 * ri as u64
                        } else {
                            (step % 4 == si as u64) as u64 + ri as u64
                        };
                        for k in 0..n {
                            let d = latency * (0.5 + (k as f64 * 0.37 + step as f64 * 0.11).fract() * (1.0 + wave));
                            let b = BOUNDS.iter().position(|x| d <= *x).unwrap_or(BOUNDS.len());
                            counts[b] += 1;
                            sum += d;
                        }
                        let time = start + (step + 1) * STEP_SECS * 1_000_000_000;
                        points.push(json!({
                            "attributes": [
                                attr("http.request.method", json!({"stringValue": method})),
                                attr("http.route", json!({"stringValue": route})),
                                attr("http.response.status_code", json!({"intValue": status.to_string()})),
                            ],
                            "startTimeUnixNano": start.to_string(),
                            "timeUnixNano": time.to_string(),
                            "count": counts.iter().sum::<u64>().to_string(),
                            "sum": sum,
                            "bucketCounts": counts.iter().map(u64::to_string).collect::<Vec<_>>(),
                            "explicitBounds": BOUNDS,
                        }));
                    }
                }
            }
            json!({
                "resource": {"attributes": [attr("service.name", json!({"stringValue": service}))]},
                "scopeMetrics": [{"metrics": [{
                    "name": "http.server.request.duration",
                    "unit": "s",
                    "histogram": {"aggregationTemporality": 2, "dataPoints": points},
                }]}],
            })
        })
        .collect();
    json!({ "resourceMetrics": resources })
}

/// Log records for the same services over the last 30 minutes.
fn logs(now: u64) -> Value {
    let severities = [(9, "INFO"), (9, "INFO"), (13, "WARN"), (17, "ERROR")];
    let resources: Vec<Value> = SERVICES
        .iter()
        .map(|(service, _)| {
            let records: Vec<Value> = (0..60u64)
                .map(|i| {
                    let (num, text) = severities[(i % 4) as usize];
                    json!({
                        "timeUnixNano": (now - (60 - i) * 30_000_000_000).to_string(),
                        "severityNumber": num,
                        "severityText": text,
                        "body": {"stringValue": format!("{service}: handled order {i} ({text})")},
                    })
                })
                .collect();
            json!({
                "resource": {"attributes": [attr("service.name", json!({"stringValue": service}))]},
                "scopeLogs": [{"logRecords": records}],
            })
        })
        .collect();
    json!({ "resourceLogs": resources })
}

fn post(server: &Server, path: &str, body: &Value) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}{path}", server.url()))
        .json(body)
        .send()
        .expect("otlp request");
    let status = resp.status();
    let text = resp.text().expect("body");
    assert!(status.is_success() && !text.contains("rejected"), "{path}: {status} {text}");
}

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-artifacts")
}

/// The environment variable that lets the test rewrite the documentation's screenshot.
const UPDATE_SCREENSHOT: &str = "TIDEWATER_UPDATE_SCREENSHOT";

/// Copy `shot` (an artifact) to `docs/img/<name>` when `TIDEWATER_UPDATE_SCREENSHOT=1`,
/// so a normal test run leaves the tree clean.
fn update_docs_screenshot(shot: &Path, name: &str) {
    if std::env::var(UPDATE_SCREENSHOT).as_deref() != Ok("1") {
        return;
    }
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/img").join(name);
    std::fs::copy(shot, &target).unwrap_or_else(|e| panic!("copy {} to {}: {e}", shot.display(), target.display()));
    eprintln!("{UPDATE_SCREENSHOT}=1: updated {}", target.display());
}

/// The states (`ok`, `empty`, `error`) and error texts of every panel once none is loading.
fn panel_states(browser: &Browser, expected_panels: usize) -> Vec<(String, String, String)> {
    let script = format!(
        "const ps = [...document.querySelectorAll('[data-panel]')];
         if (ps.length !== {expected_panels} || ps.some(p => p.dataset.state === 'loading')) return null;
         return ps.map(p => [p.querySelector('h3').textContent, p.dataset.state,
                              (p.querySelector('.panel-error') || {{}}).textContent || '']);"
    );
    let v = browser.wait_for("the panels to finish", &script, Duration::from_secs(60));
    serde_json::from_value(v).expect("panel states")
}

fn dashboard_panels(server: &Server, uid: &str) -> usize {
    let d: Value = reqwest::blocking::get(format!("{}/api/v1/dashboards/{uid}", server.url()))
        .expect("dashboard")
        .json()
        .expect("json");
    d["panels"].as_array().expect("panels").len()
}

#[test]
fn ui_explore_dashboards_logs_and_alerts_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tidewater.toml");
    std::fs::write(&config, "[self_monitoring]\ninterval_secs = 1\n").expect("config");
    let server = Server::start_with(&dir.path().join("data"), &[("TIDEWATER_CONFIG", config.to_str().expect("utf-8"))]);
    let now = now_ns();
    post(&server, "/v1/metrics", &http_server_metrics(now));
    post(&server, "/v1/logs", &logs(now));
    let rows = server.rows("SELECT count(*) FROM http_server_request_duration");
    assert_eq!(rows[0][0], json!(SERVICES.len() * ROUTES.len() * 2 * STEPS as usize));

    let browser = Browser::start(1440, 1150);
    let base = server.url();

    // Explore: a query with one series per service draws three lines.
    let q = "SELECT $__timeGroup(time, '1m') AS time, service_name, sum(CAST(count AS DOUBLE)) AS value \
             FROM http_server_request_duration WHERE $__timeFilter(time) GROUP BY 1, 2 ORDER BY 1";
    let enc: String = url_encode(q);
    browser.goto(&format!("{base}/#/explore?q={enc}&from=now-45m&to=now"));
    let state = browser.wait_for(
        "the explore result",
        "const f = document.querySelector('.explore-result'); return f && f.dataset.state !== 'loading' && f.dataset.state !== 'idle' ? f.dataset.state : null;",
        Duration::from_secs(60),
    );
    let error = browser.eval("return (document.querySelector('.explore-result .panel-error') || {}).textContent || ''");
    assert_eq!(state, "ok", "explore: {error}");
    let legend =
        browser.eval("return [...document.querySelectorAll('.explore-result .legend-item')].map(e => e.textContent)");
    assert_eq!(legend, json!(["cart", "checkout", "frontend"]));
    assert_eq!(browser.eval("return document.querySelector('.explore-result [data-series]').dataset.series"), "3");
    // The table view of the same query has the rows.
    browser.goto(&format!("{base}/#/explore?q={enc}&from=now-45m&to=now&view=table"));
    let rows = browser.wait_for(
        "the explore table",
        "const t = document.querySelectorAll('.explore-result table.result tbody tr'); return t.length || null;",
        Duration::from_secs(60),
    );
    assert!(rows.as_u64().is_some_and(|n| n >= 90), "{rows}");
    browser.screenshot(&artifacts().join("explore.png"));

    // 100 series x 1,000 points draw in well under a second.
    let big = "SELECT to_timestamp_seconds(1700000000 + t.value * 60) AS time, concat('s', CAST(s.value AS VARCHAR)) AS series, \
               CAST((s.value * 7 + t.value) % 50 AS DOUBLE) AS value \
               FROM generate_series(1, 100) s CROSS JOIN generate_series(1, 1000) t";
    browser.goto(&format!("{base}/#/explore?q={}&from=1700000000000&to=1700060100000", url_encode(big)));
    let drawn = browser.wait_for(
        "the 100-series chart",
        "const f = document.querySelector('.explore-result'); return f && f.dataset.state === 'ok' ? \
         [f.querySelector('[data-series]').dataset.series, Number(f.dataset.drawMs)] : null;",
        Duration::from_secs(60),
    );
    assert_eq!(drawn[0], "100", "{drawn}");
    assert!(drawn[1].as_f64().is_some_and(|ms| ms < 1000.0), "drawing 100 x 1000 points took {drawn}");
    browser.screenshot(&artifacts().join("explore-100-series.png"));

    // Service overview: every panel draws data, none fails.
    let expected = dashboard_panels(&server, "service-overview");
    browser.goto(&format!("{base}/#/d/service-overview?from=now-30m&to=now&refresh="));
    let states = panel_states(&browser, expected);
    let bad: Vec<_> = states.iter().filter(|(_, s, _)| s != "ok").collect();
    assert!(bad.is_empty(), "service overview panels not ok: {bad:?}");
    let lines = browser.eval(
        "const p = [...document.querySelectorAll('[data-panel]')].find(p => p.querySelector('h3').textContent === 'Request rate by service');
         return p.querySelector('[data-series]').dataset.series;",
    );
    assert_eq!(lines, "3");
    // The windowed quantiles: one line each, from the buckets' increase per time bucket.
    let quantiles = browser.eval(
        "const p = [...document.querySelectorAll('[data-panel]')].find(p => p.querySelector('h3').textContent === 'Duration p50 / p95 / p99');
         return [...p.querySelectorAll('.legend-item')].map(e => e.textContent);",
    );
    assert_eq!(quantiles, json!(["p50", "p95", "p99"]));
    let variable = browser
        .eval("return [...document.querySelectorAll('select[data-variable=service] option')].map(o => o.textContent)");
    assert_eq!(variable, json!(["All", "cart", "checkout", "frontend"]));
    let shot = artifacts().join("service-overview.png");
    browser.screenshot(&shot);
    update_docs_screenshot(&shot, "dashboard.png");

    // A variable narrows every panel to one service.
    browser.goto(&format!("{base}/#/d/service-overview?from=now-30m&to=now&refresh=&var-service=cart"));
    let states = panel_states(&browser, expected);
    assert!(states.iter().all(|(_, s, _)| s == "ok"), "{states:?}");
    let lines = browser.eval(
        "const p = [...document.querySelectorAll('[data-panel]')].find(p => p.querySelector('h3').textContent === 'Request rate by service');
         return p.querySelector('.legend-item').textContent + '/' + p.querySelector('[data-series]').dataset.series;",
    );
    assert_eq!(lines, "cart/1");

    // Logs overview.
    let expected = dashboard_panels(&server, "logs-overview");
    browser.goto(&format!("{base}/#/d/logs-overview?from=now-1h&to=now&refresh="));
    let states = panel_states(&browser, expected);
    assert!(states.iter().all(|(_, s, _)| s == "ok"), "logs overview: {states:?}");

    // Self-monitoring: its tables are written by the server itself; a panel
    // may be empty (nothing rejected yet), none may fail.
    wait_for_table(&server, "tidewater_query_duration_seconds");
    let expected = dashboard_panels(&server, "tidewater-self-monitoring");
    browser.goto(&format!("{base}/#/d/tidewater-self-monitoring?from=now-15m&to=now&refresh="));
    let states = panel_states(&browser, expected);
    assert!(states.iter().all(|(_, s, _)| s != "error"), "self-monitoring: {states:?}");
    let ok = states.iter().filter(|(_, s, _)| s == "ok").count();
    assert!(ok >= expected - 3, "most self-monitoring panels have data: {states:?}");
    browser.screenshot(&artifacts().join("self-monitoring.png"));

    // Logs view: severity filter and full-text search.
    browser.goto(&format!("{base}/#/logs?from=now-1h&to=now&severity=ERROR&q=order%201"));
    let found = browser.wait_for(
        "log lines",
        "const f = document.querySelector('.logs-panel'); if (!f || f.dataset.state === 'loading' || !f.dataset.state) return null;
         return [...f.querySelectorAll('.log-body')].map(e => e.textContent);",
        Duration::from_secs(60),
    );
    let found: Vec<String> = serde_json::from_value(found).expect("lines");
    assert!(!found.is_empty() && found.iter().all(|l| l.contains("order 1") && l.contains("ERROR")), "{found:?}");
    browser.screenshot(&artifacts().join("logs.png"));

    // Alerts: no rules, so the page says alerting is not configured.
    browser.goto(&format!("{base}/#/alerts"));
    let text = browser.wait_for(
        "the alerts page",
        "const e = document.querySelector('[data-alerting]'); return e ? e.textContent : null;",
        Duration::from_secs(30),
    );
    assert!(text.as_str().is_some_and(|t| t.contains("Alerting is not configured")), "{text}");
}

#[test]
fn metrics_endpoint_reports_ingest_and_queries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    post(&server, "/v1/logs", &logs(now_ns()));
    server.sql("SELECT count(*) FROM logs");
    // The query is recorded when its stream is finished, which can be just
    // after the client has read the answer: poll briefly.
    let fetch = || reqwest::blocking::get(format!("{}/metrics", server.url())).expect("metrics").text().expect("text");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut text = fetch();
    while !text.contains("tidewater_query_duration_seconds_count{state=\"ok\"}") && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
        text = fetch();
    }
    let value = |line_start: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(line_start)).unwrap_or_else(|| panic!("{line_start} in {text}"));
        line.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("number")
    };
    assert!(value("tidewater_ingest_points_total{signal=\"logs\"}") >= 180.0);
    assert!(value("tidewater_query_duration_seconds_count{state=\"ok\"}") >= 1.0);
    assert!(value("tidewater_wal_fsync_duration_seconds_count") >= 1.0);
    assert!(value("tidewater_memtable_bytes") > 0.0);
    assert!(value("tidewater_process_resident_memory_bytes") > 1e6);
}

/// Wait until the self-monitoring writer has created `table`.
fn wait_for_table(server: &Server, table: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let q = format!("SELECT count(*) FROM information_schema.tables WHERE table_name = '{table}'");
    while server.rows(&q)[0][0] != json!(1) {
        assert!(std::time::Instant::now() < deadline, "{table} was not written");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
