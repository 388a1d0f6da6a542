//! `[alerting]` configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::duration;
use crate::error::{Error, Result};

/// `[alerting]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertingConfig {
    /// Directory of rule files (`*.yml`, `*.yaml`); unset: alerting is off.
    pub rules_dir: Option<PathBuf>,
    /// Interval of groups that set none.
    pub default_interval: String,
    /// Firing alerts are sent again after this long.
    pub resend_interval: String,
    /// Alert instances one rule may hold (groups may set a lower `limit`).
    pub max_alerts_per_rule: usize,
    /// Rule queries running at once.
    pub max_concurrent_queries: usize,
    /// Rules the rule files may hold (0: no limit). Not a key of
    /// `[alerting]`: the server sets it from `[tenancy]`'s `max_rules`.
    #[serde(skip)]
    pub max_rules: usize,
    /// State changes kept for `system.alert_history`.
    pub history_size: usize,
    /// Base URL put in `generatorURL` (e.g. `http://tidewater:4318`).
    pub external_url: String,
    /// Alertmanager base URLs; alerts go to `POST {url}/api/v2/alerts` of each.
    pub alertmanagers: Vec<String>,
    /// Timeout of one notification request.
    pub notify_timeout: String,
    /// Batches of alerts waiting for delivery; past it the oldest are dropped (and counted).
    pub queue_capacity: usize,
    /// Refuse webhook, PagerDuty and Slack URLs that resolve to private,
    /// loopback or link-local addresses.
    pub deny_private_targets: bool,
    /// Grouping and timing of the direct receivers.
    pub route: RouteConfig,
    /// Direct receivers (webhook, PagerDuty, Slack).
    pub receivers: Vec<ReceiverConfig>,
}

impl Default for AlertingConfig {
    fn default() -> Self {
        Self {
            rules_dir: None,
            default_interval: "1m".into(),
            resend_interval: "1m".into(),
            max_alerts_per_rule: 10_000,
            max_concurrent_queries: 4,
            max_rules: 0,
            history_size: 10_000,
            external_url: String::new(),
            alertmanagers: Vec::new(),
            notify_timeout: "10s".into(),
            queue_capacity: 10_000,
            deny_private_targets: false,
            route: RouteConfig::default(),
            receivers: Vec::new(),
        }
    }
}

/// `[alerting.route]`: how direct receivers group and repeat (as Alertmanager's route).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// Labels that make a group (`["..."]`: every label).
    pub group_by: Vec<String>,
    /// Wait before the first notification of a new group.
    pub group_wait: String,
    /// Wait before notifying about changes in a group.
    pub group_interval: String,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: String,
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            group_by: vec!["alertname".into()],
            group_wait: "30s".into(),
            group_interval: "5m".into(),
            repeat_interval: "4h".into(),
        }
    }
}

/// `[[alerting.receivers]]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    /// Name (in logs and `receiver` of webhook payloads).
    pub name: String,
    /// `webhook`, `pagerduty` or `slack`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Target URL (PagerDuty: defaults to the Events API v2 endpoint).
    #[serde(default)]
    pub url: Option<String>,
    /// PagerDuty integration (routing) key.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// Only alerts with all these label values go to this receiver.
    #[serde(default, rename = "match")]
    pub matchers: BTreeMap<String, String>,
    /// Also send resolved notifications (default true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Attempts per notification (retries on 429, 5xx and network errors).
    #[serde(default = "attempts")]
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt.
    #[serde(default = "backoff")]
    pub initial_backoff: String,
}

fn yes() -> bool {
    true
}
fn attempts() -> u32 {
    5
}
fn backoff() -> String {
    "1s".into()
}

/// The PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn dur(what: &str, v: &str) -> Result<Duration> {
    duration::parse(v).map_err(|e| Error::Config(format!("{what}: {e}")))
}

impl AlertingConfig {
    /// Check every value.
    pub fn validate(&self) -> Result<()> {
        for (what, v) in [
            ("alerting.default_interval", &self.default_interval),
            ("alerting.resend_interval", &self.resend_interval),
            ("alerting.notify_timeout", &self.notify_timeout),
            ("alerting.route.group_wait", &self.route.group_wait),
            ("alerting.route.group_interval", &self.route.group_interval),
            ("alerting.route.repeat_interval", &self.route.repeat_interval),
        ] {
            dur(what, v)?;
        }
        if dur("", &self.default_interval)?.is_zero() {
            return Err(Error::Config("alerting.default_interval must be positive".into()));
        }
        if self.queue_capacity == 0 || self.max_alerts_per_rule == 0 {
            return Err(Error::Config("alerting.queue_capacity and max_alerts_per_rule must be positive".into()));
        }
        for url in &self.alertmanagers {
            reqwest::Url::parse(url).map_err(|e| Error::Config(format!("alerting.alertmanagers: {url:?}: {e}")))?;
        }
        for r in &self.receivers {
            let need_url = matches!(r.kind.as_str(), "webhook" | "slack");
            match r.kind.as_str() {
                "webhook" | "slack" | "pagerduty" => {}
                k => {
                    return Err(Error::Config(format!(
                        "receiver {}: type must be webhook, pagerduty or slack, not {k:?}",
                        r.name
                    )))
                }
            }
            if need_url && r.url.is_none() {
                return Err(Error::Config(format!("receiver {}: `url` is required", r.name)));
            }
            if r.kind == "pagerduty" && r.routing_key.is_none() {
                return Err(Error::Config(format!("receiver {}: `routing_key` is required", r.name)));
            }
            if let Some(u) = &r.url {
                reqwest::Url::parse(u).map_err(|e| Error::Config(format!("receiver {}: url {u:?}: {e}", r.name)))?;
            }
            dur(&format!("receiver {} initial_backoff", r.name), &r.initial_backoff)?;
            if r.max_attempts == 0 {
                return Err(Error::Config(format!("receiver {}: max_attempts must be at least 1", r.name)));
            }
        }
        Ok(())
    }

    /// A parsed duration field (call after [`AlertingConfig::validate`]).
    pub fn duration(v: &str) -> Duration {
        duration::parse(v).unwrap_or(Duration::from_secs(60))
    }
}
