//! Shared workload builders for Tidewater's benchmarks.
//!
//! [`otlp`] builds OTLP requests shaped like real traffic: TSBS-style host
//! gauges with many points per series ("batched") and one point per series.

pub mod otlp;
