//! `type = "filter"` and the severity names it (and `parse`) understand.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::Signal;
use crate::pattern::{MetricSelector, Pattern};

/// `type = "filter"`: drop what matches. A metric is dropped whole when its
/// name matches `metric_names` or `metric_regex`; a point or log record is
/// dropped when every `attributes` entry matches, when its severity is below
/// `min_severity`, or when its body matches `body`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Processor name.
    pub name: String,
    /// Drop metrics whose name (as sent, or as table name) matches one of these globs.
    #[serde(default)]
    pub metric_names: MetricSelector,
    /// Drop metrics whose name matches one of these regular expressions.
    #[serde(default)]
    pub metric_regex: Vec<Pattern>,
    /// Drop points or records whose attributes (own, else scope, else
    /// resource) match every one of these `key = "regex"` entries.
    #[serde(default)]
    pub attributes: BTreeMap<String, Pattern>,
    /// Logs: drop records below this severity (`trace`, `debug`, `info`,
    /// `warn`, `error`, `fatal`, or 1-24). Records without a severity are kept.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Logs: drop records whose body (as text) matches.
    #[serde(default)]
    pub body: Option<Pattern>,
}

impl FilterConfig {
    pub(super) fn validate(&self, signal: Signal) -> Result<(), String> {
        let metric = !self.metric_names.is_empty() || !self.metric_regex.is_empty();
        let log = self.min_severity.is_some() || self.body.is_some();
        match signal {
            Signal::Logs if metric => Err("metric_names and metric_regex apply to metrics pipelines only".into()),
            Signal::Metrics if log => Err("min_severity and body apply to logs pipelines only".into()),
            _ if !metric && !log && self.attributes.is_empty() => Err("nothing to filter on".into()),
            _ => Ok(()),
        }
    }
}

/// A severity number (1-24), written as a number or a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Severity(pub i32);

impl Severity {
    /// The lowest severity number of a name (`info` -> 9), case-insensitive.
    pub fn from_name(name: &str) -> Option<Self> {
        let n = match name.trim().to_ascii_lowercase().as_str() {
            "trace" => 1,
            "debug" => 5,
            "info" | "information" | "notice" => 9,
            "warn" | "warning" => 13,
            "error" | "err" => 17,
            "fatal" | "critical" | "crit" | "panic" => 21,
            _ => return None,
        };
        Some(Self(n))
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Name(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) if (1..=24).contains(&n) => Ok(Self(n as i32)),
            Raw::Number(n) => Err(serde::de::Error::custom(format!("severity {n} is not between 1 and 24"))),
            Raw::Name(s) => Self::from_name(&s).ok_or_else(|| {
                serde::de::Error::custom(format!("unknown severity {s:?}; use trace, debug, info, warn, error, fatal"))
            }),
        }
    }
}
