//! `tidewater-peers`: Tidewater, VictoriaMetrics and Prometheus side by side
//! on the same TSBS cpu-only data. Run it through `benches/peers/run`, which
//! installs the peers and builds the release binaries first.
//!
//! Writes a new run section into `benches/RESULTS.md` (not with `--quick`
//! unless `--results` is given) and exits with 1 if any answer differs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tidewater_benches::peers::queries::{cases, Eval};
use tidewater_benches::peers::report::insert_run;
use tidewater_benches::peers::run::{dataset, run, Options};
use tidewater_benches::peers::systems::Binaries;
use tidewater_benches::time::parse_duration;

/// Benchmark Tidewater against VictoriaMetrics and Prometheus.
#[derive(Debug, Parser)]
#[command(name = "tidewater-peers", version, about)]
struct Args {
    /// Smoke-test scale (10 hosts x 2 h, 3 query runs): checks that everything works and answers agree.
    #[arg(long)]
    quick: bool,
    /// Hosts in the dataset [default: 100; --quick: 10].
    #[arg(long)]
    hosts: Option<usize>,
    /// Data time covered, whole hours [default: 12h; --quick: 2h].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Seed of data and query parameters.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Load generator senders.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Samples per remote-write request (data points per OTLP request).
    #[arg(long, default_value_t = 10_000)]
    batch_size: usize,
    /// Timed runs per query [default: 10; --quick: 3].
    #[arg(long)]
    query_runs: Option<usize>,
    /// Data directories and server logs.
    #[arg(long, default_value = "target/peers")]
    work_dir: PathBuf,
    /// The Tidewater server.
    #[arg(long, env = "TIDEWATER_BIN", default_value = "target/release/tidewater")]
    tidewater_bin: PathBuf,
    /// VictoriaMetrics single node.
    #[arg(long, default_value = "victoria-metrics")]
    victoria_metrics_bin: PathBuf,
    /// Prometheus.
    #[arg(long, default_value = "prometheus")]
    prometheus_bin: PathBuf,
    /// The load generator [default: next to this program].
    #[arg(long)]
    loadgen_bin: Option<PathBuf>,
    /// Results file to add this run to [default: benches/RESULTS.md; --quick: none].
    #[arg(long)]
    results: Option<PathBuf>,
    /// Do not write results.
    #[arg(long)]
    no_results: bool,
    /// Skip Tidewater's second ingest run over OTLP/gRPC.
    #[arg(long)]
    skip_otlp: bool,
    /// Keep the data directories.
    #[arg(long)]
    keep_data: bool,
    /// Print the queries for this dataset (SQL, PromQL, MetricsQL) and exit.
    #[arg(long)]
    print_queries: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let loadgen = match args
        .loadgen_bin
        .clone()
        .map(Ok)
        .unwrap_or_else(|| std::env::current_exe().map(|p| p.with_file_name("tidewater-loadgen")))
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: locating tidewater-loadgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = format!("benches/peers/run {}", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
    let opts = Options {
        hosts: args.hosts.unwrap_or(if args.quick { 10 } else { 100 }),
        duration: args.duration.unwrap_or(Duration::from_secs(if args.quick { 2 } else { 12 } * 3_600)),
        seed: args.seed,
        concurrency: args.concurrency,
        batch_size: args.batch_size,
        query_runs: args.query_runs.unwrap_or(if args.quick { 3 } else { 10 }),
        work_dir: args.work_dir.clone(),
        bins: Binaries {
            tidewater: args.tidewater_bin.clone(),
            victoria_metrics: args.victoria_metrics_bin.clone(),
            prometheus: args.prometheus_bin.clone(),
        },
        loadgen,
        skip_otlp: args.skip_otlp,
        keep_data: args.keep_data,
        command: command.trim_end().to_string(),
    };
    if args.print_queries {
        return print_queries(&opts);
    }
    let outcome = match run(&opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let section = outcome.report.render();
    println!("{section}");
    let results = if args.no_results {
        None
    } else {
        args.results.clone().or_else(|| (!args.quick).then(|| "benches/RESULTS.md".into()))
    };
    if let Some(path) = results {
        let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmark results\n".into());
        if let Err(e) = std::fs::write(&path, insert_run(&existing, &section)) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("[peers] results added to {}", path.display());
    }
    if outcome.all_agree {
        ExitCode::SUCCESS
    } else {
        eprintln!("[peers] some answers differ or failed: see the query table");
        ExitCode::FAILURE
    }
}

fn print_queries(opts: &Options) -> ExitCode {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let ds = match dataset(opts, now) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("# data from {} ms to {} ms (first sample 5 s after the start)", ds.base_ms, ds.end_ms());
    for c in cases(&ds) {
        let eval = |e: Eval| match e {
            Eval::Range { start_ms, end_ms, step_ms } => format!("range start={start_ms} end={end_ms} step={step_ms}"),
            Eval::Instant { time_ms } => format!("instant time={time_ms}"),
        };
        println!("\n## {}: {}\n\n{}\n", c.name, c.description, c.sql);
        println!("PromQL ({}): {}", eval(c.promql.eval), c.promql.expr);
        println!("MetricsQL ({}): {}", eval(c.metricsql.eval), c.metricsql.expr);
    }
    ExitCode::SUCCESS
}
