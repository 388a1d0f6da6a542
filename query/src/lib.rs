//! Tidewater query layer: SQL over the store with DataFusion.
//!
//! - [`table::MetricTable`] scans one table: pruned segments (Parquet, through
//!   `object_store`) plus the memtable, as one DataFusion plan.
//! - [`catalog`] exposes every table under `tidewater.public`.
//! - [`QueryEngine`] builds one `SessionContext` per query with its own memory
//!   pool and runs it with a timeout.
//! - [`functions`] adds the time-series SQL functions (`rate`,
//!   `histogram_quantile`, `time_bucket`, `locf`, ...).
//! - [`http`] serves `/api/v1/sql` (JSON, CSV, Arrow IPC via [`format`]).
//! - [`flight_sql`] serves Arrow Flight SQL (mounted on the gRPC port).
//! - [`pgwire`] serves the PostgreSQL wire protocol (psql, psycopg, Grafana).
//! - [`rollup`] keeps downsampled copies of the metric tables (`rollup_<name>.<table>`).

pub mod catalog;
pub mod engine;
pub mod error;
pub mod flight_sql;
pub mod format;
pub mod functions;
pub mod http;
pub mod pgwire;
pub mod query_log;
pub mod rollup;
pub mod system;
pub mod table;

pub use engine::{QueryConfig, QueryEngine};
pub use error::{Error, Result};
