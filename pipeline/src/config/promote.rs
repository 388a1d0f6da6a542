//! `type = "promote"` (metrics).

use serde::Deserialize;

use crate::pattern::MetricSelector;

fn resource_map() -> String {
    "resource".into()
}

/// `type = "promote"` (metrics): for the selected metrics, only the listed
/// resource attributes become columns; the others go, as one JSON object
/// text, to the attribute `map_attribute` (column `resource` by default).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteConfig {
    /// Processor name.
    pub name: String,
    /// Metrics (tables) this applies to, as globs (default: all).
    #[serde(default)]
    pub metrics: MetricSelector,
    /// Resource attribute keys that stay columns.
    #[serde(default)]
    pub resource_attributes: Vec<String>,
    /// The attribute holding the other resource attributes as JSON text.
    #[serde(default = "resource_map")]
    pub map_attribute: String,
}

impl PromoteConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.map_attribute.is_empty() {
            return Err("map_attribute must not be empty".into());
        }
        Ok(())
    }
}
