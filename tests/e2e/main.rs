//! End-to-end tests: the real `tidewater` binary, real OTLP clients, SQL over HTTP.
//!
//! One test binary for the root crate (see STYLE.md); each module is a topic.

mod errors;
mod otlp_roundtrip;
mod python_sdk;
mod remote_write;
mod server;
