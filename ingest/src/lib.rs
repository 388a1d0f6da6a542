//! Tidewater ingest: protocol decoding and mapping telemetry to tables.
//!
//! - [`metrics`] maps OTLP metrics to one Arrow batch per table (metric name),
//!   rejecting individual points that break a rule while keeping the rest.
//! - [`Ingester`] hands the batches to the store and builds the OTLP answer.
//! - [`grpc`] and [`http`] are the transports (OTLP/gRPC, OTLP/HTTP).
//! - [`preprocess`] is the hook the pipeline step plugs into (before conversion).

pub mod attributes;
pub mod cardinality;
pub mod error;
pub mod grpc;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod normalize;
pub mod preprocess;
pub mod remote_write;
mod service;
mod tenant_limits;

pub use error::{Error, Result};
pub use service::{IngestLimits, Ingester, Stored};
pub use tenant_limits::TenantLimiter;
pub use tidewater_tenant::Tenant;
