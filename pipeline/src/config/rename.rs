//! `type = "rename"` (metrics).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::pattern::Pattern;

/// `type = "rename"` (metrics): exact names first, then the first matching regex.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameConfig {
    /// Processor name.
    pub name: String,
    /// `"old.name" = "new.name"`.
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// Regex rules, tried in order after `names`.
    #[serde(default)]
    pub regex: Vec<RenameRule>,
}

impl RenameConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() && self.regex.is_empty() {
            return Err("give names or regex".into());
        }
        Ok(())
    }
}

/// A regex rename: the first match of `pattern` is replaced by `replacement`
/// (`$1`, `$name` refer to groups).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRule {
    /// What to match in the name.
    pub pattern: Pattern,
    /// What to put in its place.
    pub replacement: String,
}
