//! End-to-end tests: the real `tidewater` binary, real OTLP clients, SQL over HTTP.
//!
//! One test binary for the root crate (see STYLE.md); each module is a topic.

mod alerting;
mod auth;
mod crash;
mod errors;
mod flight_sql;
mod login;
mod object_store;
mod otlp_roundtrip;
mod pipeline;
mod postgres;
mod python_sdk;
mod query_guards;
mod remote_write;
mod server;
mod slow_clients;
mod soak;
mod tenants;
mod tls;
mod ui;
mod webdriver;
