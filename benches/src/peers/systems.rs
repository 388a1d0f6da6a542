//! The three systems: how to start each, where it takes writes, how it is
//! flushed and queried.
//!
//! Ports are non-default so a developer's own servers do not interfere:
//! Tidewater 24318 (HTTP), 24317 (gRPC), 25433 (PostgreSQL wire);
//! VictoriaMetrics 28428; Prometheus 29090.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::http::{Answer, Http};
use super::queries::{Eval, PromQuery, QueryCase};
use super::server::ServerSpec;
use super::{Error, Result};

/// A system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// Tidewater (`target/release/tidewater serve`).
    Tidewater,
    /// VictoriaMetrics single node (Debian `victoria-metrics`).
    VictoriaMetrics,
    /// Prometheus with the remote-write receiver (Debian `prometheus`).
    Prometheus,
}

/// Where the executables are.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `tidewater`.
    pub tidewater: PathBuf,
    /// `victoria-metrics`.
    pub victoria_metrics: PathBuf,
    /// `prometheus`.
    pub prometheus: PathBuf,
}

const TIDEWATER_HTTP: &str = "127.0.0.1:24318";
const TIDEWATER_GRPC: &str = "127.0.0.1:24317";
const TIDEWATER_PG: &str = "127.0.0.1:25433";
const VICTORIA: &str = "127.0.0.1:28428";
const PROMETHEUS: &str = "127.0.0.1:29090";

impl System {
    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            System::Tidewater => "Tidewater",
            System::VictoriaMetrics => "VictoriaMetrics",
            System::Prometheus => "Prometheus",
        }
    }

    /// Short name for directories.
    pub fn id(self) -> &'static str {
        match self {
            System::Tidewater => "tidewater",
            System::VictoriaMetrics => "victoria-metrics",
            System::Prometheus => "prometheus",
        }
    }

    /// Base URL of the HTTP API (and of remote write, at `/api/v1/write`).
    pub fn http_base(self) -> String {
        let addr = match self {
            System::Tidewater => TIDEWATER_HTTP,
            System::VictoriaMetrics => VICTORIA,
            System::Prometheus => PROMETHEUS,
        };
        format!("http://{addr}")
    }

    /// OTLP/gRPC endpoint (Tidewater only).
    pub fn grpc_endpoint(self) -> Option<String> {
        (self == System::Tidewater).then(|| format!("http://{TIDEWATER_GRPC}"))
    }

    /// How to start it on `data_dir`, logging to `log`; `work` holds config files.
    pub fn server_spec(self, bins: &Binaries, data_dir: &Path, log: &Path, work: &Path) -> Result<ServerSpec> {
        let data = data_dir.display().to_string();
        let (program, args, ready) = match self {
            System::Tidewater => (
                bins.tidewater.clone(),
                vec![
                    "serve".into(),
                    "--data-dir".into(),
                    data,
                    "--http-addr".into(),
                    TIDEWATER_HTTP.into(),
                    "--grpc-addr".into(),
                    TIDEWATER_GRPC.into(),
                    "--pg-addr".into(),
                    TIDEWATER_PG.into(),
                ],
                "/ready",
            ),
            System::VictoriaMetrics => (
                bins.victoria_metrics.clone(),
                vec![
                    format!("-storageDataPath={data}"),
                    format!("-httpListenAddr={VICTORIA}"),
                    "-retentionPeriod=10y".into(),
                ],
                "/health",
            ),
            System::Prometheus => {
                let config = work.join("prometheus.yml");
                std::fs::write(
                    &config,
                    "# No scrapes: data arrives by remote write.\nglobal:\n  scrape_interval: 1m\n",
                )
                .map_err(|e| Error::io(format!("writing {}", config.display()), e))?;
                (
                    bins.prometheus.clone(),
                    vec![
                        format!("--config.file={}", config.display()),
                        format!("--storage.tsdb.path={data}"),
                        format!("--web.listen-address={PROMETHEUS}"),
                        "--web.enable-remote-write-receiver".into(),
                        "--storage.tsdb.retention.time=10y".into(),
                    ],
                    "/-/ready",
                )
            }
        };
        Ok(ServerSpec {
            name: self.name().into(),
            program,
            args,
            env: vec![],
            ready_url: format!("{}{ready}", self.http_base()),
            log: log.to_path_buf(),
        })
    }

    /// Make written data durable and searchable before measuring the disk
    /// (VictoriaMetrics `/internal/force_flush`; the others flush on shutdown).
    pub fn flush(self, http: &Http) -> Result<()> {
        if self != System::VictoriaMetrics {
            return Ok(());
        }
        let url = format!("{}/internal/force_flush", self.http_base());
        let answer = http.get(&url, &[])?;
        if !answer.ok() {
            return Err(Error::Http(format!("GET {url}: {}", answer.status)));
        }
        Ok(())
    }

    /// The query this system runs for a case: SQL text or PromQL expression.
    pub fn query_text(self, case: &QueryCase) -> String {
        match self {
            System::Tidewater => case.sql.clone(),
            System::VictoriaMetrics => case.metricsql.expr.clone(),
            System::Prometheus => case.promql.expr.clone(),
        }
    }

    /// Run a case once: the answer's body and the time to receive it.
    pub fn run_query(self, http: &Http, case: &QueryCase) -> Result<(String, Duration)> {
        let base = self.http_base();
        let start = Instant::now();
        let answer = match self {
            System::Tidewater => {
                http.post_json(&format!("{base}/api/v1/sql"), &serde_json::json!({ "query": case.sql }))
            }
            System::VictoriaMetrics => prom_request(http, &base, &case.metricsql, true),
            System::Prometheus => prom_request(http, &base, &case.promql, false),
        }
        .map_err(|e| Error::Http(format!("{} {}: {e}", self.name(), case.name)))?;
        let took = start.elapsed();
        if !answer.ok() {
            return Err(Error::Http(format!(
                "{} {}: HTTP {}: {}",
                self.name(),
                case.name,
                answer.status,
                answer.body.chars().take(300).collect::<String>()
            )));
        }
        Ok((answer.body, took))
    }

    /// The version the executable reports (first line).
    pub fn version(self, bins: &Binaries) -> String {
        let (program, flag) = match self {
            System::Tidewater => (&bins.tidewater, "--version"),
            System::VictoriaMetrics => (&bins.victoria_metrics, "-version"),
            System::Prometheus => (&bins.prometheus, "--version"),
        };
        let first_line = |program: &Path, args: &[&str]| {
            Command::new(program)
                .args(args)
                .output()
                .ok()
                .map(|o| {
                    let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
                    String::from_utf8_lossy(&text).lines().next().unwrap_or("").trim().to_string()
                })
                .filter(|v| !v.is_empty())
        };
        // Debian's victoria-metrics prints nothing for -version: ask dpkg.
        let package = || {
            let name = if self == System::Prometheus { "prometheus" } else { "victoria-metrics" };
            first_line(Path::new("dpkg-query"), &["-W", "-f", "${Version}", name])
                .map(|v| format!("{name} {v} (Debian)"))
        };
        first_line(program, &[flag])
            .or_else(|| if self == System::Tidewater { None } else { package() })
            .unwrap_or_else(|| "unknown".into())
    }
}

/// A Prometheus HTTP API query. VictoriaMetrics gets `nocache=1`: its
/// rollup result cache would otherwise answer repeated runs from memory,
/// and neither Tidewater nor Prometheus caches results.
fn prom_request(http: &Http, base: &str, q: &PromQuery, nocache: bool) -> Result<Answer> {
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1_000.0);
    let mut params: Vec<(&str, String)> = vec![("query", q.expr.clone())];
    let path = match q.eval {
        Eval::Range { start_ms, end_ms, step_ms } => {
            params.push(("start", secs(start_ms)));
            params.push(("end", secs(end_ms)));
            params.push(("step", secs(step_ms)));
            "query_range"
        }
        Eval::Instant { time_ms } => {
            params.push(("time", secs(time_ms)));
            "query"
        }
    };
    if nocache {
        params.push(("nocache", "1".into()));
    }
    http.get(&format!("{base}/api/v1/{path}"), &params)
}
