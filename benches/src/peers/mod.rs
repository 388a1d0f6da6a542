//! The peer comparison behind `tidewater-peers` (run it as `benches/peers/run`).
//!
//! Tidewater, VictoriaMetrics and Prometheus run one after another on
//! 127.0.0.1 with fresh data directories and get the same TSBS cpu-only
//! dataset from `tidewater-loadgen` over remote write (Tidewater a second
//! time over OTLP/gRPC). For each the harness measures ([`run`]):
//!
//! - ingest rate: acknowledged samples / wall seconds of the load generator;
//! - CPU seconds per million samples: utime + stime of the server process
//!   ([`procfs`]) from before the first write until it has exited after a
//!   clean shutdown (so flushing and compaction triggered by the load count);
//! - peak RSS (`VmHWM`) over ingest and shutdown, and again over queries;
//! - bytes on disk per sample: apparent size of the data directory after the
//!   flush (VictoriaMetrics `/internal/force_flush`) and a clean shutdown;
//! - query latency (median, p95) of the TSBS query types ([`queries`]) as SQL
//!   on Tidewater and PromQL on the peers, after a restart, with answers
//!   compared ([`answer`]).
//!
//! [`report`] writes the figures into `benches/RESULTS.md`.

pub use error::{Error, Result};

pub mod answer;
pub mod error;
pub mod http;
pub mod procfs;
pub mod queries;
pub mod report;
pub mod run;
pub mod server;
pub mod stats;
pub mod systems;
