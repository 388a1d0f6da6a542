//! `type = "attributes"`: its actions, the levels they apply to, and values.

use serde::Deserialize;

use crate::pattern::Pattern;

/// Where an attribute action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Resource attributes.
    Resource,
    /// Instrumentation scope attributes.
    Scope,
    /// Data point (metrics) or log record (logs) attributes.
    #[default]
    #[serde(alias = "record")]
    Point,
}

/// `type = "attributes"`: actions applied in order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributesConfig {
    /// Processor name.
    pub name: String,
    /// The actions, in order.
    pub actions: Vec<AttributeAction>,
    /// Key for `hash` (the same salt gives the same hashes; keep it secret).
    #[serde(default)]
    pub salt: String,
}

impl AttributesConfig {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.actions.is_empty() {
            return Err("actions must not be empty".into());
        }
        for (i, a) in self.actions.iter().enumerate() {
            a.validate().map_err(|e| format!("actions[{i}] ({:?} {:?}): {e}", a.action, a.key))?;
        }
        Ok(())
    }
}

/// What an attribute action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Add `key = value` where the key is absent.
    Insert,
    /// Set `key = value` where the key is present.
    Update,
    /// Set `key = value` in any case.
    Upsert,
    /// Remove `key`.
    Delete,
    /// Move `key` to `to` (replacing `to`).
    Rename,
    /// Replace the value of `key` by a keyed hash of it (hex).
    Hash,
    /// Add the named groups of `pattern` matched on `key`'s value as attributes.
    Extract,
}

/// One attribute action.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeAction {
    /// What to do.
    pub action: ActionKind,
    /// The attribute key.
    pub key: String,
    /// `insert`, `update`, `upsert`: the value (string, integer, float or boolean).
    #[serde(default)]
    pub value: Option<AttrValue>,
    /// `rename`: the new key.
    #[serde(default)]
    pub to: Option<String>,
    /// `extract`: a regular expression with named groups.
    #[serde(default)]
    pub pattern: Option<Pattern>,
    /// `resource`, `scope` or `point` (`record` for logs); default `point`.
    #[serde(default)]
    pub on: Level,
}

impl AttributeAction {
    fn validate(&self) -> Result<(), String> {
        if self.key.is_empty() {
            return Err("key must not be empty".into());
        }
        match self.action {
            ActionKind::Insert | ActionKind::Update | ActionKind::Upsert if self.value.is_none() => {
                Err("needs a value".into())
            }
            ActionKind::Rename if self.to.as_deref().is_none_or(str::is_empty) => Err("needs `to`".into()),
            ActionKind::Extract => match &self.pattern {
                None => Err("needs a pattern".into()),
                Some(p) if p.regex().capture_names().flatten().next().is_none() => {
                    Err("pattern has no named group (?P<name>...)".into())
                }
                Some(_) => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// An attribute value in the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
}
