//! `tidewater`: the one binary. Parses the command line and wires the crates.

mod alerting;
mod auth;
mod auth_cli;
mod config;
mod dashboards;
mod listen;
mod server;
mod sql_cli;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tidewater: OTLP metrics in, SQL out.
#[derive(Debug, Parser)]
#[command(name = "tidewater", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: OTLP/gRPC, OTLP/HTTP, the SQL API, Flight SQL, PostgreSQL wire.
    Serve(ServeArgs),
    /// Run a SQL query against a server and print the result.
    Sql(sql_cli::SqlArgs),
    /// Alerting rules: `tidewater rules check DIR`.
    Rules(alerting::RulesArgs),
    /// Authentication: `tidewater auth hash-token`.
    Auth(auth_cli::AuthArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Data directory (WAL, manifest, segments). Default ./tidewater-data.
    #[arg(long, env = "TIDEWATER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP listen address (OTLP/HTTP, SQL API). Default 0.0.0.0:4318.
    #[arg(long, env = "TIDEWATER_HTTP_ADDR")]
    http_addr: Option<String>,
    /// gRPC listen address (OTLP/gRPC, Arrow Flight SQL). Default 0.0.0.0:4317.
    #[arg(long, env = "TIDEWATER_GRPC_ADDR")]
    grpc_addr: Option<String>,
    /// PostgreSQL wire protocol listen address. Default 0.0.0.0:5433.
    #[arg(long, env = "TIDEWATER_PG_ADDR")]
    pg_addr: Option<String>,
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "TIDEWATER_CONFIG")]
    config: Option<PathBuf>,
}

impl ServeArgs {
    fn resolve(self) -> Result<config::Config, String> {
        let mut c = match &self.config {
            Some(path) => config::Config::from_file(path)?,
            None => config::Config::default(),
        };
        if let Some(d) = self.data_dir {
            c.data_dir = d;
        }
        if let Some(a) = self.http_addr {
            c.http_addr = a;
        }
        if let Some(a) = self.grpc_addr {
            c.grpc_addr = a;
        }
        if let Some(a) = self.pg_addr {
            c.pg_addr = a;
        }
        c.validate()?;
        Ok(c)
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("TIDEWATER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Queries run on their own threads so a runaway query never delays ingest.
///
/// Query tasks keep every thread busy for long polls, so timers (query
/// timeouts) and wake-ups from other threads (cancel requests) are looked at
/// after every task poll rather than every 61st / 31st.
fn query_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .event_interval(1)
        .global_queue_interval(1)
        .enable_all()
        .thread_name("tidewater-query")
        .build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("tidewater").build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging();
            match args.resolve() {
                Ok(cfg) => match query_runtime(cfg.query.threads) {
                    Ok(queries) => {
                        let r = runtime.block_on(server::serve(cfg, Some(queries.handle().clone())));
                        queries.shutdown_background();
                        r
                    }
                    Err(e) => Err(format!("cannot start the query runtime: {e}")),
                },
                Err(e) => Err(format!("configuration: {e}")),
            }
        }
        Command::Sql(args) => runtime.block_on(sql_cli::run(args)),
        Command::Rules(args) => runtime.block_on(alerting::run(args)),
        Command::Auth(args) => auth_cli::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
