//! `type = "redact"` and its built-in patterns.

use serde::Deserialize;

use crate::pattern::Pattern;

/// Built-in patterns of `redact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// E-mail addresses.
    Email,
    /// Payment card numbers (13-19 digits, spaces or dashes allowed, Luhn-checked).
    CardNumber,
    /// `Bearer <token>` credentials.
    BearerToken,
    /// The query string of URLs (`https://host/path?query` keeps `https://host/path?`).
    UrlQuery,
}

fn all_builtins() -> Vec<Builtin> {
    vec![Builtin::Email, Builtin::CardNumber, Builtin::BearerToken, Builtin::UrlQuery]
}

fn redacted() -> String {
    "[REDACTED]".into()
}

/// `type = "redact"`: mask matching text in string attribute values (resource,
/// scope, point/record) and in log bodies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Processor name.
    pub name: String,
    /// Built-in patterns (default: all of them).
    #[serde(default = "all_builtins")]
    pub patterns: Vec<Builtin>,
    /// More regular expressions; each match is replaced.
    #[serde(default)]
    pub custom: Vec<Pattern>,
    /// The text put in place of a match.
    #[serde(default = "redacted")]
    pub replacement: String,
    /// Only these attribute keys (default: every attribute).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Logs: also redact the body.
    #[serde(default = "super::yes")]
    pub body: bool,
}

impl RedactConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.patterns.is_empty() && self.custom.is_empty() {
            return Err("no patterns".into());
        }
        Ok(())
    }
}
