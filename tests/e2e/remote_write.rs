//! Prometheus remote write 1.0: a real Prometheus writes its own metrics into
//! Tidewater, and hand-built requests are read back exactly over SQL.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tidewater_ingest::remote_write::{encode, Label, Sample, TimeSeries, WriteRequest};

use crate::server::Server;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// A running Prometheus, killed when dropped (also when a test panics).
struct Prometheus {
    child: Child,
    log: PathBuf,
}

impl Prometheus {
    /// Start Prometheus scraping itself every second and remote-writing to `server`.
    fn start(server: &Server, dir: &Path) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: run ./scripts/test, which installs the Debian package `prometheus`"
        );
        let port = free_port();
        let config = dir.join("prometheus.yml");
        let yaml = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
             remote_write:\n  - url: {url}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n",
            url = server.url()
        );
        std::fs::write(&config, yaml).expect("write prometheus.yml");
        let log = dir.join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("create prometheus.log");
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn prometheus");
        Prometheus { child, log }
    }

    /// The end of Prometheus' log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// `SELECT count(*)` of a table, 0 while it does not exist yet.
fn count(server: &Server, table: &str) -> i64 {
    match server.sql_raw(&format!("SELECT count(*) FROM {table}")) {
        (200, body) => body["rows"][0][0].as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn column_names(server: &Server, table: &str) -> Vec<String> {
    let body = server.sql(&format!("SELECT * FROM {table} LIMIT 0"));
    body["columns"].as_array().expect("columns").iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
}

#[test]
fn prometheus_remote_writes_its_own_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("tidewater"));
    let prometheus = Prometheus::start(&server, dir.path());

    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&server, "up") == 0 || count(&server, "prometheus_build_info") == 0 {
        assert!(Instant::now() < deadline, "no `up` rows after 60 s; prometheus log:\n{}", prometheus.log_tail());
        std::thread::sleep(Duration::from_millis(500));
    }

    // `up` of the self-scrape: job label as a column, every value 1, recent timestamps.
    let rows = server.rows("SELECT count(*) FROM up WHERE job = 'prometheus' AND value = 1.0");
    assert!(rows[0][0].as_i64().unwrap_or(0) > 0, "{rows:?}");
    assert_eq!(server.rows("SELECT count(*) FROM up WHERE value <> 1.0 OR value IS NULL"), vec![json!([0])]);
    assert_eq!(
        server.rows(
            "SELECT count(*) FROM up WHERE time < now() - INTERVAL '5 minutes' OR time > now() + INTERVAL '1 minute'"
        ),
        vec![json!([0])]
    );
    let cols = column_names(&server, "up");
    assert!(cols.contains(&"job".to_string()) && cols.contains(&"instance".to_string()), "{cols:?}");
    assert!(!cols.iter().any(|c| c.contains("__name__")), "{cols:?}");

    // prometheus_build_info carries the version as a label: it matches `prometheus --version`.
    let out = Command::new(PROMETHEUS).arg("--version").output().expect("prometheus --version");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let version = text.split_whitespace().skip_while(|w| *w != "version").nth(1).expect("version in --version output");
    assert_eq!(server.rows("SELECT DISTINCT version, value FROM prometheus_build_info"), vec![json!([version, 1.0])]);
    drop(prometheus);
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
        ..Default::default()
    }
}

fn post(server: &Server, body: Vec<u8>) -> (u16, String) {
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/api/v1/write", server.url()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .expect("post");
    (resp.status().as_u16(), resp.text().expect("text"))
}

#[test]
fn hand_built_requests_read_back_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let req = WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "rw_temperature"), ("host", "a"), ("region", "eu")],
                &[(1_700_000_000_000, 21.5), (1_700_000_001_000, f64::NAN)],
            ),
            series(&[("__name__", "rw_temperature"), ("host", "b")], &[(1_700_000_000_500, -2.25), (0, 9.0)]),
            series(&[("__name__", "rw_temperature"), ("host", "c")], &[(1_700_000_002_000, f64::from_bits(STALE_NAN))]),
            series(&[("__name__", "rw_temperature"), ("host", "d")], &[(1_700_000_003_000, f64::INFINITY)]),
            series(&[("host", "nameless")], &[(1_700_000_000_000, 1.0)]),
        ],
        metadata: vec![],
    };
    let (status, text) = post(&server, encode(&req).expect("encode"));
    assert_eq!(status, 204, "{text}");
    let logged = |server: &Server| server.log_lines().iter().any(|l| l.contains("WARN") && l.contains("rejected=2"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logged(&server) {
        assert!(Instant::now() < deadline, "partial rejection not logged at warn: {:?}", server.log_lines());
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_eq!(
        server.rows(
            "SELECT host, region, CAST(time AS BIGINT) AS t, isnan(value), CASE WHEN isnan(value) THEN NULL ELSE value END \
             FROM rw_temperature ORDER BY host, t"
        ),
        vec![
            json!(["a", "eu", 1_700_000_000_000_000_000i64, false, 21.5]),
            json!(["a", "eu", 1_700_000_001_000_000_000i64, true, null]),
            json!(["b", null, 1_700_000_000_500_000_000i64, false, -2.25]),
            json!(["c", null, 1_700_000_002_000_000_000i64, true, null]),
            json!(["d", null, 1_700_000_003_000_000_000i64, false, "inf"]),
        ]
    );
    // The column types of the data model.
    let body = server.sql("SELECT * FROM rw_temperature LIMIT 0");
    let types: Vec<Value> =
        body["columns"].as_array().expect("columns").iter().map(|c| json!([c["name"], c["type"]])).collect();
    assert_eq!(
        types,
        vec![
            json!(["time", "Timestamp(ns, \"UTC\")"]),
            json!(["value", "Float64"]),
            json!(["host", "Dictionary(Int32, Utf8)"]),
            json!(["region", "Dictionary(Int32, Utf8)"]),
        ]
    );

    // Malformed bodies: 400 with the reason as text; nothing stored.
    let (status, text) = post(&server, b"\x05not snappy at all".to_vec());
    assert_eq!(status, 400);
    assert!(text.contains("snappy"), "{text}");
    let bad_proto = vec![0x06, 0x14, 0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]; // snappy literal of invalid protobuf
    let (status, text) = post(&server, bad_proto);
    assert_eq!(status, 400);
    assert!(text.contains("protobuf"), "{text}");
    assert_eq!(server.rows("SELECT count(*) FROM rw_temperature"), vec![json!([5])]);
}
