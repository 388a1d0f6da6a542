//! One harness run: each system in turn is started fresh, fed the dataset,
//! measured, restarted and queried; answers are compared with Tidewater's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::answer::{compare, from_prom, from_sql, Answer};
use super::http::Http;
use super::procfs::{clock_ticks, dir_bytes, machine};
use super::queries::{cases, Dataset, QueryCase};
use super::report::{IngestFigures, QueryFigures, RunReport};
use super::server::Server;
use super::stats::LatencyStats;
use super::systems::{Binaries, System};
use super::{Error, Result};
use crate::loadgen::payload::Target;
use crate::time::{format_duration, rfc3339};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hosts in the dataset.
    pub hosts: usize,
    /// Data time covered (whole hours).
    pub duration: Duration,
    /// Seed of data and query parameters.
    pub seed: u64,
    /// Load generator senders.
    pub concurrency: usize,
    /// Samples per request.
    pub batch_size: usize,
    /// Timed runs per query (after one warm-up).
    pub query_runs: usize,
    /// Data directories and logs go here.
    pub work_dir: PathBuf,
    /// Server executables.
    pub bins: Binaries,
    /// `tidewater-loadgen`.
    pub loadgen: PathBuf,
    /// Skip Tidewater's OTLP/gRPC ingest run.
    pub skip_otlp: bool,
    /// Keep the data directories afterwards.
    pub keep_data: bool,
    /// The command line, for the report.
    pub command: String,
}

/// The report and whether every answer agreed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Figures.
    pub report: RunReport,
    /// Whether every query answer of every system matched Tidewater's.
    pub all_agree: bool,
}

/// One system fed over one protocol.
#[derive(Debug, Clone, Copy)]
struct Leg {
    label: &'static str,
    id: &'static str,
    system: System,
    target: Target,
    /// Time the queries (otherwise only check the answers).
    timed: bool,
}

const LEGS: [Leg; 4] = [
    Leg {
        label: "Tidewater, remote write",
        id: "tidewater-rw",
        system: System::Tidewater,
        target: Target::RemoteWrite,
        timed: true,
    },
    Leg {
        label: "VictoriaMetrics, remote write",
        id: "victoria-metrics",
        system: System::VictoriaMetrics,
        target: Target::RemoteWrite,
        timed: true,
    },
    Leg {
        label: "Prometheus, remote write",
        id: "prometheus",
        system: System::Prometheus,
        target: Target::RemoteWrite,
        timed: true,
    },
    Leg {
        label: "Tidewater, OTLP/gRPC",
        id: "tidewater-otlp",
        system: System::Tidewater,
        target: Target::OtlpGrpc,
        timed: false,
    },
];

/// Answers and latencies of one leg, per case.
type LegQueries = Vec<(Result<Answer>, Option<LatencyStats>)>;

fn say(msg: &str) {
    eprintln!("[peers] {msg}");
}

/// The dataset: whole hours ending at least an hour before now (VictoriaMetrics
/// hides the last 30 s of data from queries), starting 5 s after an hour.
pub fn dataset(opts: &Options, now_secs: i64) -> Result<Dataset> {
    let hours = opts.duration.as_secs() / 3_600;
    if hours == 0 || !opts.duration.as_secs().is_multiple_of(3_600) {
        return Err(Error::Process(format!("--duration must be whole hours, not {}", format_duration(opts.duration))));
    }
    let base = now_secs.div_euclid(3_600) * 3_600 - 3_600 - opts.duration.as_secs() as i64;
    Ok(Dataset {
        hosts: opts.hosts,
        seed: opts.seed,
        base_ms: base * 1_000,
        duration_ms: hours as i64 * 3_600_000,
        interval_ms: 10_000,
    })
}

/// Run every leg and build the report.
pub fn run(opts: &Options) -> Result<Outcome> {
    let started = Instant::now();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| Error::Process(e.to_string()))?.as_secs() as i64;
    let ds = dataset(opts, now)?;
    let cases = cases(&ds);
    let http = Http::new(Duration::from_secs(300))?;
    for dir in ["data", "logs"] {
        let d = opts.work_dir.join(dir);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    }
    let ticks = clock_ticks();
    say(&format!(
        "dataset: {} hosts x {} from {} = {} samples",
        ds.hosts,
        format_duration(opts.duration),
        rfc3339(ds.base_ms / 1_000 + 5),
        ds.samples()
    ));

    let mut ingest = Vec::new();
    let mut answers: Vec<(Leg, LegQueries)> = Vec::new();
    for leg in LEGS.iter().filter(|l| !(opts.skip_otlp && l.target == Target::OtlpGrpc)) {
        let (figures, queries) = run_leg(leg, opts, &ds, &cases, &http, ticks)?;
        ingest.push(figures);
        answers.push((*leg, queries));
    }

    let (queries, all_agree) = compare_all(&cases, &answers);
    let versions = [System::Tidewater, System::VictoriaMetrics, System::Prometheus]
        .iter()
        .map(|s| {
            let v = s.version(&opts.bins);
            let v = match (s, git_revision()) {
                (System::Tidewater, Some(git)) => format!("{v} ({git})"),
                _ => v,
            };
            (s.name().to_string(), v)
        })
        .collect();
    let start_text = rfc3339(now);
    let report = RunReport {
        started: format!("{} {} UTC", &start_text[..10], &start_text[11..16]),
        minutes: started.elapsed().as_secs_f64() / 60.0,
        machine: machine(),
        versions,
        dataset: ds,
        concurrency: opts.concurrency,
        batch_size: opts.batch_size,
        query_runs: opts.query_runs,
        command: opts.command.clone(),
        ingest,
        queries,
    };
    Ok(Outcome { report, all_agree })
}

/// `git 1a2b3c4`, with `+ uncommitted changes` when the tree differs from it.
fn git_revision() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = git(&["rev-parse", "--short", "HEAD"])?;
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(format!("git {rev}{}", if dirty { " + uncommitted changes" } else { "" }))
}

fn compare_all(cases: &[QueryCase], answers: &[(Leg, LegQueries)]) -> (Vec<QueryFigures>, bool) {
    let mut all_agree = true;
    let mut out = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let reference = answers.first().and_then(|(_, q)| q.get(i)).map(|(a, _)| a);
        let mut agreement = Vec::new();
        for (leg, q) in answers.iter().skip(1) {
            let summary = match (reference, q.get(i).map(|(a, _)| a)) {
                (Some(Ok(r)), Some(Ok(a))) => {
                    let c = compare(r, a);
                    all_agree &= c.agrees();
                    c.summary()
                }
                (Some(Err(e)), _) => {
                    all_agree = false;
                    format!("no reference: {e}")
                }
                (_, Some(Err(e))) => {
                    all_agree = false;
                    format!("failed: {e}")
                }
                _ => continue,
            };
            agreement.push((leg.label.to_string(), summary));
        }
        if let Some(Err(e)) = reference {
            all_agree = false;
            agreement.insert(0, ("Tidewater".into(), format!("failed: {e}")));
        }
        let latency =
            answers.iter().filter(|(l, _)| l.timed).map(|(l, q)| (l.system, q.get(i).and_then(|(_, s)| *s))).collect();
        out.push(QueryFigures { case: case.clone(), latency, agreement });
    }
    (out, all_agree)
}

fn run_leg(
    leg: &Leg,
    opts: &Options,
    ds: &Dataset,
    cases: &[QueryCase],
    http: &Http,
    ticks: f64,
) -> Result<(IngestFigures, LegQueries)> {
    let data = opts.work_dir.join("data").join(leg.id);
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(|e| Error::io(format!("removing {}", data.display()), e))?;
    }
    std::fs::create_dir_all(&data).map_err(|e| Error::io(format!("creating {}", data.display()), e))?;
    let log = opts.work_dir.join("logs").join(format!("{}.log", leg.id));
    let spec = leg.system.server_spec(&opts.bins, &data, &log, &opts.work_dir)?;

    say(&format!("{}: starting {}", leg.label, spec.command_line()));
    let mut server = Server::start(&spec, ticks)?;
    server.wait_ready(http, Duration::from_secs(120))?;
    // CPU spent starting up is not the load's.
    let cpu_before = server.sample().map_or(0.0, |s| s.cpu_secs);
    let endpoint = match leg.target {
        Target::OtlpGrpc => {
            leg.system.grpc_endpoint().ok_or_else(|| Error::Process(format!("{} has no OTLP/gRPC", leg.label)))?
        }
        _ => leg.system.http_base(),
    };
    let args = loadgen_args(opts, ds, leg.target, &endpoint);
    let loadgen_command = format!("{} {}", opts.loadgen.display(), args.join(" "));
    say(&format!("{}: {loadgen_command}", leg.label));
    let summary = run_loadgen(&opts.loadgen, &args)?;
    leg.system.flush(http)?;
    server.settle(Duration::from_secs(60));
    let stopped = server.stop(Duration::from_secs(300))?;
    let (disk_bytes, disk_files) =
        dir_bytes(&data).map_err(|e| Error::io(format!("measuring {}", data.display()), e))?;

    let samples = summary.get("points_acked").and_then(Value::as_u64).unwrap_or(0);
    let mut notes = Vec::new();
    if samples != ds.samples() {
        notes.push(format!(
            "only {samples} of {} samples acknowledged; first error: {}",
            ds.samples(),
            summary.get("first_error").and_then(Value::as_str).unwrap_or("none")
        ));
    }
    say(&format!(
        "{}: {samples} samples in {:.2} s, {:.2} CPU s, peak RSS {} MB, {} bytes on disk",
        leg.label,
        summary.get("wall_secs").and_then(Value::as_f64).unwrap_or(0.0),
        stopped.cpu_secs - cpu_before,
        stopped.peak_hwm_bytes / 1_000_000,
        disk_bytes
    ));

    // Restart on the same data and query it.
    say(&format!("{}: restarting for queries", leg.label));
    let mut server = Server::start(&spec, ticks)?;
    server.wait_ready(http, Duration::from_secs(600))?;
    server.settle(Duration::from_secs(60));
    if leg.system == System::Tidewater {
        if let Some(n) = tidewater_tables(http, samples) {
            notes.push(n);
        }
    }
    let queries = run_queries(leg, cases, http, if leg.timed { opts.query_runs } else { 0 });
    server.sample();
    let query_peak = server.peak_hwm();
    server.stop(Duration::from_secs(300))?;
    if !opts.keep_data {
        std::fs::remove_dir_all(&data).map_err(|e| Error::io(format!("removing {}", data.display()), e))?;
    }

    let latency = summary.get("latency");
    let lat = |k: &str| latency.and_then(|l| l.get(k)).and_then(Value::as_f64).unwrap_or(0.0);
    let figures = IngestFigures {
        label: leg.label.into(),
        system: leg.system,
        samples,
        wall_secs: summary.get("wall_secs").and_then(Value::as_f64).unwrap_or(0.0),
        retries: summary.get("retries").and_then(Value::as_u64).unwrap_or(0),
        failed_requests: summary.get("failed_requests").and_then(Value::as_u64).unwrap_or(0),
        request_p50_ms: lat("p50_ms"),
        request_p99_ms: lat("p99_ms"),
        cpu_secs: stopped.cpu_secs - cpu_before,
        peak_rss_bytes: stopped.peak_hwm_bytes,
        shutdown_secs: stopped.shutdown_secs,
        disk_bytes,
        disk_files,
        query_peak_rss_bytes: Some(query_peak),
        loadgen_command,
        server_command: spec.command_line(),
        notes,
    };
    Ok((figures, queries))
}

fn loadgen_args(opts: &Options, ds: &Dataset, target: Target, endpoint: &str) -> Vec<String> {
    let target = target.name();
    [
        "--workload",
        "tsbs-cpu",
        "--scale",
        &ds.hosts.to_string(),
        "--duration",
        &format_duration(opts.duration),
        "--interval",
        "10s",
        "--start",
        &((ds.base_ms + Dataset::OFFSET_MS) / 1_000).to_string(),
        "--seed",
        &ds.seed.to_string(),
        "--target",
        target,
        "--endpoint",
        endpoint,
        "--concurrency",
        &opts.concurrency.to_string(),
        "--batch-size",
        &opts.batch_size.to_string(),
        "--pregenerate",
        "--progress-secs",
        "10",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Run the load generator; its progress goes to our stderr, its JSON summary is returned.
fn run_loadgen(program: &Path, args: &[String]) -> Result<Value> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::Process(format!("running {}: {e}", program.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| Error::Process(format!("{} printed no summary ({})", program.display(), out.status)))?;
    Ok(summary)
}

/// What `system.tables` says after the restart (rows should equal samples).
fn tidewater_tables(http: &Http, samples: u64) -> Option<String> {
    // Only the dataset's tables: the server also stores its own metrics.
    let sql = "SELECT count(*) AS tables, sum(\"rows\") AS row_count, sum(segments) AS segments, \
               sum(bytes_on_disk) AS bytes FROM system.tables WHERE table_name LIKE 'cpu_usage_%'";
    let answer = http
        .post_json(&format!("{}/api/v1/sql", System::Tidewater.http_base()), &serde_json::json!({ "query": sql }))
        .ok()?;
    let doc: Value = serde_json::from_str(&answer.body).ok()?;
    let row = doc.get("rows")?.get(0)?.as_array()?;
    let n = |i: usize| row.get(i).and_then(Value::as_u64).unwrap_or(0);
    let rows = n(1);
    let check = if rows == samples {
        "= samples acknowledged".to_string()
    } else {
        format!("**≠ {samples} samples acknowledged**")
    };
    Some(format!(
        "after the restart `system.tables` lists {} `cpu_usage_*` tables, {rows} rows ({check}), {} segments, {} bytes \
         of segments = {:.3} bytes/sample for the dataset's segments alone (the rest of the directory: manifests, WAL, \
         the server's own `monitoring.*` tables)",
        n(0),
        n(2),
        n(3),
        n(3) as f64 / samples.max(1) as f64
    ))
}

fn run_queries(leg: &Leg, cases: &[QueryCase], http: &Http, runs: usize) -> LegQueries {
    cases
        .iter()
        .map(|case| {
            let answer = leg.system.run_query(http, case).and_then(|(body, _)| match leg.system {
                System::Tidewater => from_sql(&body, case),
                System::VictoriaMetrics => from_prom(&body, case, &case.metricsql),
                System::Prometheus => from_prom(&body, case, &case.promql),
            });
            if let Err(e) = &answer {
                say(&format!("{} {}: {e}", leg.label, case.name));
                return (answer, None);
            }
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                match leg.system.run_query(http, case) {
                    Ok((_, took)) => times.push(took),
                    Err(e) => {
                        say(&format!("{} {}: {e}", leg.label, case.name));
                        return (answer, None);
                    }
                }
            }
            let stats = LatencyStats::of(&times);
            if let Some(s) = stats {
                say(&format!("{} {}: median {:.1} ms, p95 {:.1} ms", leg.label, case.name, s.median_ms, s.p95_ms));
            }
            (answer, stats)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(duration: Duration) -> Options {
        Options {
            hosts: 10,
            duration,
            seed: 1,
            concurrency: 2,
            batch_size: 1_000,
            query_runs: 1,
            work_dir: PathBuf::from("/tmp/x"),
            bins: Binaries { tidewater: "t".into(), victoria_metrics: "v".into(), prometheus: "p".into() },
            loadgen: "l".into(),
            skip_otlp: true,
            keep_data: false,
            command: String::new(),
        }
    }

    #[test]
    fn dataset_ends_an_hour_before_now_on_hour_boundaries() {
        let now = 1_795_978_359;
        let ds = dataset(&opts(Duration::from_secs(3 * 3_600)), now).expect("dataset");
        assert_eq!(ds.base_ms % 3_600_000, 0);
        assert!(ds.end_ms() <= (now - 3_600) * 1_000);
        assert!(ds.end_ms() > (now - 7_200) * 1_000);
        assert_eq!(ds.samples(), 10 * 10 * 1_080);
        assert!(dataset(&opts(Duration::from_secs(5_400)), now).is_err());
        let args = loadgen_args(&opts(Duration::from_secs(3 * 3_600)), &ds, Target::RemoteWrite, "http://h:1");
        let start: i64 = args[args.iter().position(|a| a == "--start").expect("start") + 1].parse().expect("number");
        assert_eq!(start * 1_000, ds.base_ms + Dataset::OFFSET_MS);
        assert!(args.iter().any(|a| a == "3h") && args.iter().any(|a| a == "remote-write"));
    }
}
