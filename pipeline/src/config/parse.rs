//! `type = "parse"` (logs).

use serde::Deserialize;

/// Body formats `parse` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParseFormat {
    /// A JSON object body (or a structured key-value body).
    Json,
    /// `key=value key2="quoted value"` (logfmt).
    Logfmt,
    /// JSON when the body starts with `{`, else logfmt.
    #[default]
    Auto,
}

/// `type = "parse"` (logs): fields of the body become record attributes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseConfig {
    /// Processor name.
    pub name: String,
    /// `json`, `logfmt` or `auto`.
    #[serde(default)]
    pub format: ParseFormat,
    /// A field whose value sets the severity (text and number), e.g. `level`.
    #[serde(default)]
    pub severity_field: Option<String>,
    /// Prefix for the new attribute keys.
    #[serde(default)]
    pub prefix: String,
    /// Replace the body by the value of this field (e.g. `msg`), if present.
    #[serde(default)]
    pub message_field: Option<String>,
}
