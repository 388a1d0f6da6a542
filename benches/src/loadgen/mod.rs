//! The load generator behind `tidewater-loadgen`.
//!
//! A [`workload`] is split into one [`workload::Shard`] per sender; each
//! shard owns a fixed set of series (hosts, services), so every series is
//! sent in time order by one sender, whatever the concurrency (Prometheus
//! refuses out-of-order samples). Data is a pure function of the seed: the
//! batch size and the number of senders change how it is cut into requests,
//! never what is sent. Batches are encoded once per target ([`payload`]) and
//! sent by [`runner`] over HTTP ([`send_http`]) or gRPC ([`send_grpc`]),
//! which retry on 429 / `UNAVAILABLE` after the server's `Retry-After` and
//! count only acknowledged points ([`stats`]).

pub mod error;
pub mod logs;
pub mod model;
pub mod otel_http;
pub mod otlp_encode;
pub mod payload;
pub mod plan;
pub mod remote_write;
pub mod rng;
pub mod runner;
pub mod send_grpc;
pub mod send_http;
pub mod sender;
pub mod stats;
pub mod tsbs;
pub mod workload;

pub use error::{Error, Result};
