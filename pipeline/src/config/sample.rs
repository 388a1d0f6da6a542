//! `type = "sample"` (logs) and its severity classes.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Severity classes for sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityClass {
    /// Severity number 0.
    Unspecified,
    /// 1-4.
    Trace,
    /// 5-8.
    Debug,
    /// 9-12.
    Info,
    /// 13-16.
    Warn,
    /// 17-20.
    Error,
    /// 21-24.
    Fatal,
}

impl SeverityClass {
    /// The class of a severity number.
    pub fn of(n: i32) -> Self {
        match n {
            1..=4 => Self::Trace,
            5..=8 => Self::Debug,
            9..=12 => Self::Info,
            13..=16 => Self::Warn,
            17..=20 => Self::Error,
            21.. => Self::Fatal,
            _ => Self::Unspecified,
        }
    }
}

fn one() -> f64 {
    1.0
}

/// `type = "sample"` (logs): keep a fraction of records.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Processor name.
    pub name: String,
    /// Fraction kept of severities not in `by_severity` (default 1: all).
    #[serde(default = "one")]
    pub rate: f64,
    /// Fraction kept per severity class (`debug = 0.01`).
    #[serde(default)]
    pub by_severity: BTreeMap<SeverityClass, f64>,
    /// Keep every error and fatal record whatever the rates say (default true).
    #[serde(default = "super::yes")]
    pub keep_errors: bool,
}

impl SampleConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        for (class, rate) in std::iter::once(("rate".to_string(), self.rate))
            .chain(self.by_severity.iter().map(|(k, v)| (format!("by_severity.{k:?}"), *v)))
        {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{class} must be between 0 and 1, not {rate}"));
            }
        }
        Ok(())
    }
}
