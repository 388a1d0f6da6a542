//! The YAML shape of a rule file, as written; every value keeps its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// A rule file: `groups:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub groups: Vec<Spanned<RawGroup>>,
}

/// One group: rules evaluated in order every `interval`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub name: Spanned<String>,
    #[serde(default)]
    pub interval: Option<Spanned<String>>,
    /// Most alert instances one rule may produce (0: the server's limit).
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
}

/// One rule; which of `alert`, `slo` or `anomaly` is set says its kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    #[serde(default)]
    pub alert: Option<Spanned<String>>,
    #[serde(default)]
    pub slo: Option<Spanned<String>>,
    #[serde(default)]
    pub anomaly: Option<Spanned<String>>,
    #[serde(default)]
    pub sql: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    pub for_: Option<Spanned<String>>,
    #[serde(default)]
    pub keep_firing_for: Option<Spanned<String>>,
    #[serde(default)]
    pub labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub annotations: BTreeMap<String, Spanned<String>>,
    // SLO
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    #[serde(default)]
    pub objective: Option<Spanned<f64>>,
    #[serde(default)]
    pub window: Option<Spanned<String>>,
    #[serde(default)]
    pub sli: Option<Spanned<RawSli>>,
    #[serde(default)]
    pub min_events: Option<Spanned<f64>>,
    #[serde(default)]
    pub page: Option<Spanned<RawSloAlert>>,
    #[serde(default)]
    pub ticket: Option<Spanned<RawSloAlert>>,
    #[serde(default)]
    pub burn_windows: Option<Spanned<RawBurnWindows>>,
    // anomaly
    #[serde(default)]
    pub model: Option<Spanned<RawModel>>,
    #[serde(default)]
    pub history: Option<Spanned<String>>,
    #[serde(default)]
    pub step: Option<Spanned<String>>,
    #[serde(default)]
    pub direction: Option<Spanned<String>>,
    #[serde(default)]
    pub threshold: Option<Spanned<f64>>,
    #[serde(default)]
    pub min_deviation: Option<Spanned<f64>>,
    #[serde(default)]
    pub warmup: Option<Spanned<String>>,
    #[serde(default)]
    pub trigger_window: Option<Spanned<usize>>,
    #[serde(default)]
    pub trigger_fraction: Option<Spanned<f64>>,
}

/// An SLI: `errors` or `good`, and `total`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSli {
    #[serde(default)]
    pub errors: Option<Spanned<String>>,
    #[serde(default)]
    pub good: Option<Spanned<String>>,
    pub total: Spanned<String>,
}

/// Labels and annotations of the page or ticket alert of an SLO.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSloAlert {
    #[serde(default)]
    pub disable: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub annotations: BTreeMap<String, Spanned<String>>,
}

/// Custom burn-rate windows (Sloth's `alert windows`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBurnWindows {
    #[serde(default)]
    pub page: Vec<Spanned<RawBurnWindow>>,
    #[serde(default)]
    pub ticket: Vec<Spanned<RawBurnWindow>>,
}

/// One long/short window pair and the share of the budget it may burn.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBurnWindow {
    pub long: Spanned<String>,
    pub short: Spanned<String>,
    pub budget_percent: Spanned<f64>,
}

/// An anomaly model and its parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModel {
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// mad: points in the rolling window.
    #[serde(default)]
    pub window: Option<usize>,
    /// seasonal / holt_winters: season length (e.g. `1d`).
    #[serde(default)]
    pub season: Option<Spanned<String>>,
    /// seasonal: how many past seasons.
    #[serde(default)]
    pub seasons: Option<usize>,
    /// holt_winters: smoothing factors.
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default)]
    pub beta: Option<f64>,
    #[serde(default)]
    pub gamma: Option<f64>,
}
