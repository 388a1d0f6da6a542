//! Tidewater's benchmarks: workloads, a load generator and a peer comparison.
//!
//! - [`otlp`] builds fixed OTLP requests for the criterion micro-benches.
//! - [`loadgen`] is the load generator behind the `tidewater-loadgen` binary:
//!   deterministic workloads (TSBS cpu-only, OTel HTTP server metrics, logs)
//!   sent over OTLP/gRPC, OTLP/HTTP or Prometheus remote write.
//! - [`peers`] is the side-by-side benchmark behind `tidewater-peers`
//!   (`benches/peers/run`): Tidewater, VictoriaMetrics and Prometheus fed the
//!   same data, queried with the TSBS query types, answers compared.
//! - [`time`] is the small calendar arithmetic both need.

pub mod loadgen;
pub mod otlp;
pub mod peers;
pub mod time;
