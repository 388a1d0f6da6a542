//! Tidewater alerting: rules are SQL.
//!
//! - [`rules`]: YAML rule files (threshold, SLO, anomaly), loading with file
//!   and line for every error, templates, time macros, `rules check`.
//! - [`eval`]: the evaluator (Prometheus semantics, injected [`clock`]).
//! - [`slo`]: multiwindow multi-burn-rate alerts and error budgets.
//! - [`anomaly`]: robust median/MAD, seasonal and Holt-Winters models.
//! - [`state`]: alert state on disk, so restarts neither re-page nor forget.
//! - [`notify`]: Alertmanager API v2, webhook, PagerDuty, Slack.
//! - [`api`], [`system`]: `/api/v1/rules|alerts|slos`, `system.alerts`, `system.alert_history`.
//! - [`manager::Alerting`]: the rule set in force, group tasks, reload.

pub mod anomaly;
pub mod api;
pub mod clock;
pub mod config;
pub mod duration;
pub mod error;
pub mod eval;
pub mod history;
pub mod manager;
pub mod notify;
pub mod rules;
pub mod slo;
pub mod state;
pub mod system;

pub use config::AlertingConfig;
pub use error::{Error, Result};
pub use manager::Alerting;
