//! Tidewater's pipeline step: processors that run on decoded OTLP requests
//! after decode and before conversion to Arrow and the WAL.
//!
//! - [`config`]: `[pipelines]`, an ordered list of named processors per
//!   signal, fully checked while parsed (errors carry file and line).
//! - [`processors`]: one file per processor (`filter`, `attributes`,
//!   `redact`, `promote`, `rename`, `parse`, `sample`, `cardinality_limit`),
//!   plus [`forward`] (copy to another OTLP endpoint through a bounded queue).
//! - [`pipeline`]: one signal's stages and their counters.
//! - [`Pipelines`]: what the server runs; implements ingest's
//!   [`Preprocess`](tidewater_ingest::preprocess::Preprocess) hook; reloads
//!   keep the running pipelines when the new config is invalid.
//! - [`remote_write`]: the metrics pipeline on Prometheus remote write.
//! - [`reload`] has the triggers (`POST /api/v1/pipelines/reload`, SIGHUP)
//!   and `GET /api/v1/pipelines`.
//! - [`system_table`] is `system.pipelines`.
//!
//! User documentation: `docs/pipelines.md`.

pub mod config;
pub mod error;
pub mod forward;
pub mod handle;
pub mod otlp;
pub mod pattern;
pub mod pipeline;
pub mod processor;
pub mod processors;
pub mod reload;
pub mod remote_write;
pub mod system_table;

pub use config::{PipelinesConfig, Signal};
pub use error::{Error, Result};
pub use handle::{Loaded, Pipelines, DRAIN_TIMEOUT};
pub use system_table::PipelinesTable;

#[cfg(test)]
mod docs_examples;
