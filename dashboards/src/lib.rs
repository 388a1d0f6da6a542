//! Tidewater dashboards: the built-in UI and what it reads.
//!
//! - [`assets`]: the UI (HTML, JavaScript, CSS in `ui/`), compiled into the
//!   binary; no Node.js is needed to build it and no CDN to run it.
//! - [`provisioning`]: dashboards as JSON documents, the shipped ones
//!   (`provisioning/*.json`, compiled in) plus those of `dashboards_dir`.
//! - [`api`]: the routes: `/` and `/ui/*` (the UI), `/api/v1/dashboards`
//!   (list and get), `/api/v1/status/buildinfo` (the version) and
//!   `/metrics` (Prometheus text).
//! - [`self_monitoring`]: samples the store's gauges for the registry of
//!   `tidewater-telemetry` and writes the registry into the store itself, so
//!   the self-monitoring dashboard works with no setup.
//!
//! The UI queries through the SQL API (`/api/v1/sql`) like any client and
//! reads alerts from the alerting API (`/api/v1/alerts`, `/api/v1/slos`).

pub mod api;
pub mod assets;
pub mod error;
mod otlp;
pub mod provisioning;
pub mod self_monitoring;

pub use api::router;
pub use error::{Error, Result};
pub use provisioning::{Dashboard, Dashboards};
