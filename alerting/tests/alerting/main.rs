//! Alerting integration tests: a real store and query engine, an injected
//! clock, real local HTTP listeners.

mod evaluator;
mod notifiers;
mod scale;
mod slo;
mod support;
