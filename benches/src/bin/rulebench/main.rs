//! `tidewater-rulebench`: how long one evaluation pass of many threshold
//! rules takes, against a real store.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/reltarget nice -n 10 cargo build --release -p tidewater-benches --bin tidewater-rulebench
//! /work/reltarget/release/tidewater-rulebench --rules 10000 --groups 100 --passes 5
//! ```
//!
//! Opens a store in a temporary directory, writes one hour of data for
//! `--hosts` hosts ([`data`]), writes `--rules` threshold rules in
//! `--groups` groups with a 30 s interval ([`rules`]), loads them (planning
//! every query, as the server does), then runs `--passes` evaluation passes
//! in which every group evaluates once, all at the same time (as their
//! tasks do when their ticks line up), each pass 30 s of evaluation time
//! later. Prints per pass the wall time and the process CPU time, per rule
//! the p50 / p95 / max evaluation time, and whether a pass fits the interval.

mod data;
mod rules;

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use clap::Parser;
use datafusion::arrow::array::RecordBatch;
use tidewater_alerting::clock::ManualClock;
use tidewater_alerting::eval::alert::Alert;
use tidewater_alerting::eval::source::QuerySource;
use tidewater_alerting::eval::{AlertSink, EvalConfig, Evaluator};
use tidewater_alerting::history::History;
use tidewater_alerting::rules::LoadOptions;
use tidewater_alerting::state::StateDir;
use tidewater_alerting::Alerting;
use tidewater_query::{QueryConfig, QueryEngine};
use tidewater_storage::{Store, StoreConfig};

/// Evaluation cost of many threshold rules.
#[derive(Debug, Parser)]
#[command(name = "tidewater-rulebench", about)]
struct Args {
    /// Threshold rules in all.
    #[arg(long, default_value_t = 10_000)]
    rules: usize,
    /// Groups they are split into (interval 30 s each).
    #[arg(long, default_value_t = 100)]
    groups: usize,
    /// Hosts in the dataset.
    #[arg(long, default_value_t = 100)]
    hosts: usize,
    /// Evaluation passes (the first one also writes every state file).
    #[arg(long, default_value_t = 5)]
    passes: usize,
    /// `alerting.max_concurrent_queries` (default: 2 x cores).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Plan every rule query in a session of its own (the evaluator before
    /// shared sessions), for comparison.
    #[arg(long)]
    per_query_session: bool,
}

/// The group interval.
const INTERVAL: Duration = Duration::from_secs(30);

/// Counts the alerts sent.
#[derive(Debug, Default)]
struct Count(AtomicUsize);

impl AlertSink for Count {
    fn send(&self, alerts: Vec<Alert>) {
        self.0.fetch_add(alerts.len(), Ordering::Relaxed);
    }
}

/// The engine without shared sessions: one `SessionContext` per query.
#[derive(Debug)]
struct PerQuery(QueryEngine);

#[async_trait]
impl QuerySource for PerQuery {
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        self.0.query(sql).await
    }
}

/// CPU time of this process (user + system), from `/proc/self/stat`.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    percentile(&v, 0.5)
}

async fn run(args: Args) -> Result<bool, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let end = Utc.timestamp_opt(1_750_000_000, 0).single().ok_or("bad time")?;
    let store = Store::open_async(StoreConfig::new(tmp.path().join("data"))).await.map_err(|e| e.to_string())?;
    let engine = QueryEngine::new(store.clone(), QueryConfig::default()).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let points = data::ingest(&store, args.hosts, end).await?;
    eprintln!(
        "data: {points} points ({} hosts x {} tables x 1 h at 10 s) in {}",
        args.hosts,
        data::TABLES.len(),
        secs(t0.elapsed())
    );
    let per_group = args.rules.div_ceil(args.groups.max(1));
    let n_rules = rules::write(&tmp.path().join("rules"), args.groups, per_group, args.hosts)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let concurrency = args.concurrency.unwrap_or(2 * cores);
    let source: Arc<dyn QuerySource> =
        if args.per_query_session { Arc::new(PerQuery(engine.clone())) } else { Arc::new(engine.clone()) };
    let clock = ManualClock::new(end - chrono::Duration::seconds((INTERVAL.as_secs() * args.passes as u64) as i64));
    let sink = Arc::new(Count::default());
    let ev = Evaluator::new(
        source,
        Arc::new(clock.clone()),
        Some(StateDir::new(tmp.path().join("alerts"))),
        Arc::new(History::new(10_000)),
        Some(sink.clone() as Arc<dyn AlertSink>),
        EvalConfig { resend_interval: Duration::from_secs(60), max_concurrent_queries: concurrency },
    );
    let alerting = Alerting::new(
        Arc::new(ev),
        Some(tmp.path().join("rules")),
        LoadOptions::default(),
        Some(Arc::new(engine.clone())),
        None,
    );
    let t0 = Instant::now();
    let n_groups = alerting.reload().await.map_err(|e| e.to_string())?;
    let warnings = alerting.reload_status().warnings.len();
    eprintln!(
        "rules: {n_rules} in {n_groups} groups, loaded and planned in {} ({warnings} warnings)",
        secs(t0.elapsed())
    );
    let mode = if args.per_query_session { "a session per query" } else { "a shared session per group pass" };
    println!(
        "{n_rules} threshold rules, {n_groups} groups, interval 30 s, {cores} cores, concurrency {concurrency}, {mode}"
    );
    let groups = alerting.groups();
    let (mut walls, mut cpus, mut per_rule) = (Vec::new(), Vec::new(), Vec::new());
    for pass in 1..=args.passes {
        clock.advance(INTERVAL);
        let (t0, c0) = (Instant::now(), cpu_time());
        futures::future::join_all(groups.iter().map(|g| g.evaluate(alerting.evaluator()))).await;
        let wall = t0.elapsed();
        let cpu = match (c0, cpu_time()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        let (mut alerts, mut errors) = (0, 0);
        for g in &groups {
            for r in g.status().rules {
                alerts += r.alerts.alerts().count();
                errors += usize::from(r.last_error.is_some());
                if pass > 1 {
                    per_rule.push(r.evaluation_time);
                }
                if let (1, Some(e)) = (errors, &r.last_error) {
                    eprintln!("first error: {e}");
                }
            }
        }
        println!(
            "pass {pass}: wall {}, cpu {}, {alerts} alert instances, {errors} rule errors, {} alerts sent so far",
            secs(wall),
            secs(cpu),
            sink.0.load(Ordering::Relaxed)
        );
        if errors > 0 {
            return Err(format!("{errors} rules failed"));
        }
        if pass > 1 || args.passes == 1 {
            walls.push(wall);
            cpus.push(cpu);
        }
    }
    per_rule.sort();
    let worst = walls.iter().max().copied().unwrap_or_default();
    let (wall, cpu) = (median(walls), median(cpus));
    println!("per pass (passes 2..): wall median {} (max {}), cpu median {}", secs(wall), secs(worst), secs(cpu));
    println!(
        "per rule (query + alert state, once it has a slot): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; cpu per rule {:.2} ms",
        percentile(&per_rule, 0.5).as_secs_f64() * 1e3,
        percentile(&per_rule, 0.95).as_secs_f64() * 1e3,
        per_rule.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3 / n_rules.max(1) as f64,
    );
    let fits = worst < INTERVAL;
    println!(
        "a pass {} in the 30 s interval (slowest pass {:.0}% of it)",
        if fits { "FITS" } else { "DOES NOT FIT" },
        worst.as_secs_f64() / INTERVAL.as_secs_f64() * 100.0
    );
    store.close().await.map_err(|e| e.to_string())?;
    Ok(fits)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
