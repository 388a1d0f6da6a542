//! Alerting end to end: a real Alertmanager (Debian `prometheus-alertmanager`)
//! with a webhook receiver pointing at a local listener; Tidewater ingests an
//! error burst over OTLP/HTTP, the SLO page fires, arrives through
//! Alertmanager, and resolves once the errors stop. Also the rules API, the
//! system tables, reload and `tidewater rules check`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::server::Server;

/// Bodies POSTed to a tiny local HTTP server.
#[derive(Clone, Default)]
struct Hook(Arc<Mutex<Vec<Value>>>);

impl Hook {
    /// Listen on 127.0.0.1:0; returns the port.
    fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind hook");
        let port = listener.local_addr().expect("addr").port();
        let sink = self.0.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                if reader.read_exact(&mut body).is_ok() {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        sink.lock().expect("lock").push(v);
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        port
    }

    fn statuses(&self) -> Vec<String> {
        self.0.lock().expect("lock").iter().map(|v| v["status"].as_str().unwrap_or("").to_string()).collect()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn alertmanager_binary() -> String {
    for name in ["prometheus-alertmanager", "alertmanager"] {
        if Command::new(name).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok() {
            return name.to_string();
        }
    }
    panic!("Alertmanager is not installed: apt-get install prometheus-alertmanager (scripts/test does)");
}

struct Alertmanager(Child);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_alertmanager(dir: &Path, hook_port: u16) -> (Alertmanager, u16) {
    let port = free_port();
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{hook_port}/hook\n        send_resolved: true\n"
        ),
    )
    .expect("am config");
    let child = Command::new(alertmanager_binary())
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start alertmanager");
    let am = Alertmanager(child);
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("http://127.0.0.1:{port}/-/ready")).send().map(|r| r.status().as_u16()).ok() != Some(200) {
        assert!(Instant::now() < deadline, "alertmanager did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    (am, port)
}

const RULES: &str = r#"
groups:
  - name: checkout-slos
    interval: 1s
    rules:
      - slo: checkout-availability
        service: checkout
        objective: 90
        window: 1h
        min_events: 1
        sli:
          errors: SELECT coalesce(sum(value), 0) AS value FROM checkout_requests WHERE outcome = 'error' AND $__timeFilter
          total: SELECT coalesce(sum(value), 0) AS value FROM checkout_requests WHERE $__timeFilter
        # Short windows so the test runs in seconds: 2% of a 1h budget in 20s is a 3.6x burn rate.
        burn_windows:
          page:
            - {long: 20s, short: 3s, budget_percent: 2}
        page:
          labels:
            team: payments
          annotations:
            summary: "{{ labels.service }} burns its error budget {{ value }}x too fast"
"#;

/// One OTLP/HTTP JSON export: `ok` and `errors` requests now.
fn push(server: &Server, ok: f64, errors: f64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_nanos();
    let point = |outcome: &str, v: f64| {
        json!({
            "attributes": [{"key": "outcome", "value": {"stringValue": outcome}}],
            "startTimeUnixNano": (now - 200_000_000).to_string(),
            "timeUnixNano": now.to_string(),
            "asDouble": v,
        })
    };
    let mut points = vec![point("ok", ok)];
    if errors > 0.0 {
        points.push(point("error", errors));
    }
    let body = json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
        "scopeMetrics": [{"metrics": [{"name": "checkout.requests", "sum": {
            "aggregationTemporality": 1, "isMonotonic": true, "dataPoints": points}}]}]}]});
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/v1/metrics", server.url()))
        .json(&body)
        .send()
        .expect("otlp post");
    assert_eq!(resp.status().as_u16(), 200);
}

/// Push traffic every 200 ms until `done` says so (or the deadline).
fn drive(server: &Server, ok: f64, errors: f64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        push(server, ok, errors);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get(server: &Server, path: &str) -> Value {
    reqwest::blocking::get(format!("{}{path}", server.url())).expect("get").json().expect("json")
}

fn write_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("checkout.yml"), RULES).expect("rules");
    rules
}

#[test]
fn slo_page_reaches_alertmanager_and_resolves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Hook::default();
    let hook_port = hook.start();
    let (_am, am_port) = start_alertmanager(dir.path(), hook_port);
    let rules = write_rules(dir.path());
    let config = dir.path().join("tidewater.toml");
    std::fs::write(
        &config,
        format!(
            "[alerting]\nrules_dir = {:?}\nresend_interval = \"1s\"\nexternal_url = \"http://tidewater.test\"\n\
             alertmanagers = [\"http://127.0.0.1:{am_port}\"]\n",
            rules.display().to_string()
        ),
    )
    .expect("config");
    let server = Server::start_with(&dir.path().join("data"), &[("TIDEWATER_CONFIG", config.to_str().expect("utf8"))]);

    // Healthy traffic, then an error burst (50% errors: a 5x burn rate > 3.6x).
    drive(&server, 10.0, 0.0, "rule evaluated on healthy traffic", || {
        get(&server, "/api/v1/rules")["data"]["groups"][0]["rules"][0]["health"] == "ok"
    });
    assert!(hook.statuses().is_empty());
    drive(&server, 10.0, 10.0, "the page to arrive through Alertmanager", || {
        hook.statuses().contains(&"firing".into())
    });
    let firing = hook.0.lock().expect("lock").iter().find(|v| v["status"] == "firing").cloned().expect("firing");
    let alert = &firing["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "checkout-availability");
    assert_eq!(alert["labels"]["slo_severity"], "page");
    assert_eq!(alert["labels"]["team"], "payments");
    assert!(alert["annotations"]["summary"].as_str().expect("summary").starts_with("checkout burns its error budget"));
    assert_eq!(alert["generatorURL"], "http://tidewater.test/api/v1/alerts?alertname=checkout-availability");

    // While it fires: the Prometheus-shaped APIs, SLO status and system tables.
    let alerts = get(&server, "/api/v1/alerts");
    assert_eq!(alerts["status"], "success");
    assert_eq!(alerts["data"]["alerts"][0]["state"], "firing");
    let rules_api = get(&server, "/api/v1/rules");
    let rule = &rules_api["data"]["groups"][0]["rules"][0];
    assert_eq!((rule["type"].as_str(), rule["state"].as_str()), (Some("alerting"), Some("firing")));
    assert_eq!(rules_api["data"]["groups"][0]["interval"], 1.0);
    let slos = get(&server, "/api/v1/slos");
    let status = &slos["data"]["slos"][0]["status"][0];
    assert!(status["error_budget_remaining"].as_f64().expect("budget") < 1.0, "{status}");
    let rows = server.rows("SELECT alertname, state FROM system.alerts");
    assert_eq!(rows, vec![json!(["checkout-availability", "firing"])]);

    // Errors stop: the 3s short window clears, the alert resolves, Alertmanager says so.
    drive(&server, 10.0, 0.0, "the resolution to arrive through Alertmanager", || {
        hook.statuses().contains(&"resolved".into())
    });
    let history = server.rows("SELECT from_state, to_state FROM system.alert_history ORDER BY time");
    assert_eq!(
        history,
        vec![json!(["inactive", "pending"]), json!(["pending", "firing"]), json!(["firing", "inactive"])]
    );

    // Reload over HTTP: a broken file is refused with file and line; the rules in force stay.
    std::fs::write(
        rules.join("broken.yml"),
        "groups:\n  - name: b\n    rules:\n      - alert: X\n        for: 5q\n        sql: SELECT 1 AS value\n",
    )
    .expect("write");
    let resp =
        reqwest::blocking::Client::new().post(format!("{}/api/v1/rules/reload", server.url())).send().expect("reload");
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().expect("json");
    assert_eq!(body["errors"][0]["line"], 5, "{body}");
    assert!(body["errors"][0]["file"].as_str().expect("file").ends_with("broken.yml"));
    assert_eq!(get(&server, "/api/v1/rules")["data"]["groups"].as_array().map(Vec::len), Some(1));
    std::fs::remove_file(rules.join("broken.yml")).expect("rm");

    // `tidewater rules check`: planned against the running server's catalog.
    let check = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_tidewater"))
            .args(["rules", "check"])
            .arg(dir)
            .args(["--url", &server.url()])
            .output()
            .expect("rules check")
    };
    let out = check(&rules);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 1 groups, 1 rules"));
    let bad = dir.path().join("bad-rules");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("a.yml"), "groups:\n  - name: a\n    rules:\n      - alert: NoTable\n        sql: SELECT value FROM no_such_table\n      - alert: NoValue\n        sql: SELECT outcome FROM checkout_requests\n")
        .expect("write");
    let out = check(&bad);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a.yml:4:") && stderr.contains("no_such_table"), "{stderr}");
    assert!(stderr.contains("a.yml:6:") && stderr.contains("`value` column"), "{stderr}");
}
