//! `tidewater-loadgen`: send a deterministic workload to Tidewater or a peer.
//!
//! ```sh
//! tidewater-loadgen --workload tsbs-cpu --scale 100 --duration 12h \
//!     --target remote-write --endpoint http://127.0.0.1:8428 --concurrency 4 --batch-size 10000
//! ```
//!
//! Prints a progress line every `--progress-secs` and a summary on stderr
//! (with `--json`, the summary as one JSON object on stdout). Exits with 1
//! if any request failed for good.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use tidewater_benches::loadgen::payload::Target;
use tidewater_benches::loadgen::runner::{run, RunOptions};
use tidewater_benches::loadgen::workload::{shards, Spec, WorkloadKind};
use tidewater_benches::time::parse_duration;

/// Deterministic load generator for Tidewater and its peers.
#[derive(Debug, Parser)]
#[command(name = "tidewater-loadgen", version, about)]
struct Args {
    /// What to generate.
    #[arg(long, value_enum, default_value = "tsbs-cpu")]
    workload: WorkloadKind,
    /// Hosts (tsbs-cpu) or services (otel-http, logs).
    #[arg(long, default_value_t = 100)]
    scale: usize,
    /// Data time covered (e.g. 3h, 12h, 1d).
    #[arg(long, default_value = "3h", value_parser = parse_duration)]
    duration: Duration,
    /// Time between points of a series.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    interval: Duration,
    /// First timestamp, Unix seconds. Default: now minus the duration, rounded down to the interval.
    #[arg(long)]
    start: Option<i64>,
    /// Seed of every random choice: the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Routes per service (otel-http).
    #[arg(long, default_value_t = 10)]
    routes: usize,
    /// Log records per service per interval (logs).
    #[arg(long, default_value_t = 20)]
    logs_per_tick: usize,
    /// Transport.
    #[arg(long, value_enum, default_value = "otlp-grpc")]
    target: Target,
    /// Scheme, host and port (the target adds its path). Default: Tidewater's port for the target.
    #[arg(long)]
    endpoint: Option<String>,
    /// Concurrent senders, one connection each; each owns a fixed share of the series.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Points (remote write: samples) per request.
    #[arg(long, default_value_t = 10_000)]
    batch_size: usize,
    /// Points per second across senders; 0 sends as fast as the server answers.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Data time one request may span. With --queue-depth it bounds how far senders drift apart in
    /// data time (Prometheus refuses samples more than 1 h older than the newest it has).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    max_span: Duration,
    /// Retries of one request (429/503, UNAVAILABLE) before it counts as failed.
    #[arg(long, default_value_t = 100)]
    max_retries: u32,
    /// Encode every request before sending, so the timed part measures the server only.
    #[arg(long)]
    pregenerate: bool,
    /// Memory allowed for --pregenerate.
    #[arg(long, default_value_t = 4096)]
    max_pregenerate_mib: u64,
    /// Requests queued per sender.
    #[arg(long, default_value_t = 2)]
    queue_depth: usize,
    /// Seconds between progress lines on stderr; 0 for none.
    #[arg(long, default_value_t = 5)]
    progress_secs: u64,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl Args {
    fn spec(&self) -> Result<Spec, String> {
        let interval_ns = i64::try_from(self.interval.as_nanos()).map_err(|_| "interval too large")?;
        if interval_ns <= 0 {
            return Err("--interval must be positive".into());
        }
        let ticks = (self.duration.as_nanos() / self.interval.as_nanos()) as u64;
        let start_secs = match self.start {
            Some(s) => s,
            None => {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs() as i64;
                let step = (self.interval.as_secs() as i64).max(1);
                (now - self.duration.as_secs() as i64).div_euclid(step) * step
            }
        };
        Ok(Spec {
            kind: self.workload,
            seed: self.seed,
            scale: self.scale,
            start_ns: start_secs.checked_mul(1_000_000_000).ok_or("--start out of range")?,
            interval_ns,
            ticks,
            routes: self.routes,
            logs_per_tick: self.logs_per_tick,
        })
    }
}

/// The command-line spelling of an option value (`tsbs-cpu`).
fn value_name(v: &impl ValueEnum) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let spec = match args.spec() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = RunOptions {
        workload: value_name(&args.workload),
        target: args.target,
        endpoint: args.endpoint.clone().unwrap_or_else(|| args.target.default_endpoint().to_string()),
        concurrency: args.concurrency,
        batch_size: args.batch_size,
        rate: (args.rate > 0.0).then_some(args.rate),
        max_retries: args.max_retries,
        progress: (args.progress_secs > 0).then(|| Duration::from_secs(args.progress_secs)),
        pregenerate: args.pregenerate,
        max_pregenerate_bytes: args.max_pregenerate_mib.saturating_mul(1 << 20),
        queue_depth: args.queue_depth,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let max_ticks = (args.max_span.as_nanos() / args.interval.as_nanos()).max(1) as u64;
        let shards = shards(&spec, opts.target, opts.concurrency, opts.batch_size, max_ticks)?;
        run(&opts, shards).await
    });
    match result {
        Ok(summary) => {
            eprintln!("{}", summary.to_text());
            if args.json {
                match serde_json::to_string(&summary) {
                    Ok(j) => println!("{j}"),
                    Err(e) => eprintln!("error: summary as JSON: {e}"),
                }
            }
            if summary.failed_requests > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
