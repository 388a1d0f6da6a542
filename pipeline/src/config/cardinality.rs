//! `type = "cardinality_limit"` (metrics).

use serde::Deserialize;

use crate::pattern::MetricSelector;

fn hour() -> u64 {
    3600
}

/// `type = "cardinality_limit"` (metrics): per metric, points of new series
/// past `max_series` active series are dropped and reported in the OTLP
/// partial success; known series keep flowing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardinalityLimitConfig {
    /// Processor name.
    pub name: String,
    /// Active series allowed per metric.
    pub max_series: usize,
    /// Metrics this applies to, as globs (default: all).
    #[serde(default)]
    pub metrics: MetricSelector,
    /// A series stays active this long after its last point (between one and two windows).
    #[serde(default = "hour")]
    pub window_secs: u64,
}

impl CardinalityLimitConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.max_series == 0 {
            return Err("max_series must be positive".into());
        }
        if self.window_secs == 0 {
            return Err("window_secs must be positive".into());
        }
        Ok(())
    }
}
