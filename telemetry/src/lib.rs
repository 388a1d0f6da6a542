//! Tidewater's own metrics: a small registry that storage, ingest and query
//! record into, and that `/metrics` and the self-monitoring writer read.
//!
//! - [`Family`]: one metric name with fixed label names; a counter, gauge or
//!   histogram. Families are `static`s declared in [`metrics`], so recording
//!   is a map lookup and an atomic add, and the set of names is known up front.
//! - [`gather`]: run the collectors (gauges sampled on demand, such as memory
//!   in use) and take a [`FamilySnapshot`] of every family.
//! - [`prometheus::render`]: the Prometheus text exposition format.
//!
//! Labels are bounded: a family keeps at most [`MAX_SERIES_PER_FAMILY`]
//! label sets; values of further ones are recorded under the label value
//! [`OVERFLOW_LABEL`].

/// The SQL schema the self-metrics are stored under (tables `monitoring.<name>`),
/// apart from the metrics clients send, which live in `public`.
pub const SCHEMA: &str = "monitoring";

mod family;
pub mod metrics;
pub mod prometheus;
mod registry;

pub use family::{Family, FamilySnapshot, Kind, SeriesSnapshot, SeriesValue, MAX_SERIES_PER_FAMILY, OVERFLOW_LABEL};
pub use registry::{add_collector, gather, process_start_unix_nanos};
