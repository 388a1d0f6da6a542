//! `[pipelines]`: an ordered list of named processors per signal.
//!
//! Everything is checked while the TOML is parsed (patterns compiled,
//! processors allowed in the signal, required fields present), so every error
//! carries the line of the processor it is about.
//!
//! ```toml
//! [[pipelines.metrics]]
//! name = "drop-debug"
//! type = "filter"
//! metric_names = ["debug.*"]
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::pattern::{MetricSelector, Pattern};

/// Which telemetry a pipeline handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// OTLP metrics (and Prometheus remote write).
    Metrics,
    /// OTLP logs.
    Logs,
}

impl Signal {
    /// `metrics` or `logs`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}

/// `[pipelines]`: the processors of each signal, in order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelinesConfig {
    /// `[[pipelines.metrics]]`, run on every metrics request before it is stored.
    pub metrics: Vec<MetricsProcessor>,
    /// `[[pipelines.logs]]`, run on every logs request before it is stored.
    pub logs: Vec<LogsProcessor>,
}

macro_rules! signal_processor {
    ($name:ident, $signal:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub ProcessorConfig);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                d.deserialize_any(ProcessorVisitor($signal)).map(Self)
            }
        }
    };
}

/// Parses and checks one processor table while the TOML deserializer still
/// knows where the table is, so every error gets the table's line.
struct ProcessorVisitor(Signal);

impl<'de> serde::de::Visitor<'de> for ProcessorVisitor {
    type Value = ProcessorConfig;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a processor table (name, type and its settings)")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<ProcessorConfig, A::Error> {
        use serde::de::Error as _;
        let table = toml::Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
        let name = table.get("name").and_then(|n| n.as_str()).unwrap_or("").to_string();
        let c = ProcessorConfig::deserialize(toml::Value::Table(table))
            .map_err(|e| A::Error::custom(format!("processor {name:?}: {}", e.message())))?;
        c.validate(self.0).map_err(|e| A::Error::custom(format!("processor {name:?}: {e}")))?;
        Ok(c)
    }
}

signal_processor!(MetricsProcessor, Signal::Metrics, "A processor checked for the metrics pipeline.");
signal_processor!(LogsProcessor, Signal::Logs, "A processor checked for the logs pipeline.");

impl PipelinesConfig {
    /// The processors of `signal`, in order.
    pub fn processors(&self, signal: Signal) -> Vec<&ProcessorConfig> {
        match signal {
            Signal::Metrics => self.metrics.iter().map(|p| &p.0).collect(),
            Signal::Logs => self.logs.iter().map(|p| &p.0).collect(),
        }
    }

    /// Checks across processors: names are unique within a signal.
    pub fn validate(&self) -> Result<()> {
        for signal in [Signal::Metrics, Signal::Logs] {
            let mut seen = HashSet::new();
            for p in self.processors(signal) {
                if !seen.insert(p.name()) {
                    return Err(Error::Config(format!(
                        "pipelines.{}: two processors are named {:?}",
                        signal.as_str(),
                        p.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Parse the `[pipelines]` table of a TOML document (other tables are
    /// ignored); errors read `origin:line:column: reason`.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct View {
            #[serde(default)]
            pipelines: PipelinesConfig,
        }
        let view: View = toml::from_str(text).map_err(|e| Error::Config(located(text, origin, &e)))?;
        view.pipelines.validate().map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        Ok(view.pipelines)
    }

    /// Read `[pipelines]` from a config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
        Self::from_toml(&text, &path.display().to_string())
    }
}

/// `origin:line:column: message` for a TOML error.
fn located(text: &str, origin: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("{origin}:{line}:{column}: {message}")
        }
        None => format!("{origin}: {message}"),
    }
}

/// One processor: `name`, `type` and the type's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProcessorConfig {
    /// Drop metrics, points or log records.
    Filter(FilterConfig),
    /// Change attributes.
    Attributes(AttributesConfig),
    /// Mask personal data and secrets.
    Redact(RedactConfig),
    /// Choose which resource attributes become columns (metrics).
    Promote(PromoteConfig),
    /// Rename metrics.
    Rename(RenameConfig),
    /// Parse JSON or `key=value` log bodies into attributes.
    Parse(ParseConfig),
    /// Keep a fraction of log records per severity.
    Sample(SampleConfig),
    /// Limit new series per metric.
    CardinalityLimit(CardinalityLimitConfig),
    /// Send a copy of what passes to another OTLP endpoint.
    Forward(ForwardConfig),
}

impl ProcessorConfig {
    /// The processor's name.
    pub fn name(&self) -> &str {
        match self {
            ProcessorConfig::Filter(c) => &c.name,
            ProcessorConfig::Attributes(c) => &c.name,
            ProcessorConfig::Redact(c) => &c.name,
            ProcessorConfig::Promote(c) => &c.name,
            ProcessorConfig::Rename(c) => &c.name,
            ProcessorConfig::Parse(c) => &c.name,
            ProcessorConfig::Sample(c) => &c.name,
            ProcessorConfig::CardinalityLimit(c) => &c.name,
            ProcessorConfig::Forward(c) => &c.name,
        }
    }

    /// The processor's type as written in the config.
    pub fn kind(&self) -> &'static str {
        match self {
            ProcessorConfig::Filter(_) => "filter",
            ProcessorConfig::Attributes(_) => "attributes",
            ProcessorConfig::Redact(_) => "redact",
            ProcessorConfig::Promote(_) => "promote",
            ProcessorConfig::Rename(_) => "rename",
            ProcessorConfig::Parse(_) => "parse",
            ProcessorConfig::Sample(_) => "sample",
            ProcessorConfig::CardinalityLimit(_) => "cardinality_limit",
            ProcessorConfig::Forward(_) => "forward",
        }
    }

    /// Check the settings for a processor in `signal`'s pipeline.
    pub fn validate(&self, signal: Signal) -> std::result::Result<(), String> {
        if self.name().trim().is_empty() {
            return Err("name must not be empty".into());
        }
        let only = |s: Signal| {
            if s == signal {
                Ok(())
            } else {
                Err(format!("type {} applies to {} pipelines only", self.kind(), s.as_str()))
            }
        };
        match self {
            ProcessorConfig::Filter(c) => c.validate(signal),
            ProcessorConfig::Attributes(c) => c.validate(),
            ProcessorConfig::Redact(c) => c.validate(),
            ProcessorConfig::Promote(c) => {
                only(Signal::Metrics)?;
                if c.map_attribute.is_empty() {
                    return Err("map_attribute must not be empty".into());
                }
                Ok(())
            }
            ProcessorConfig::Rename(c) => {
                only(Signal::Metrics)?;
                if c.names.is_empty() && c.regex.is_empty() {
                    return Err("give names or regex".into());
                }
                Ok(())
            }
            ProcessorConfig::Parse(_) => only(Signal::Logs),
            ProcessorConfig::Sample(c) => {
                only(Signal::Logs)?;
                for (class, rate) in std::iter::once(("rate".to_string(), c.rate))
                    .chain(c.by_severity.iter().map(|(k, v)| (format!("by_severity.{k:?}"), *v)))
                {
                    if !(0.0..=1.0).contains(&rate) {
                        return Err(format!("{class} must be between 0 and 1, not {rate}"));
                    }
                }
                Ok(())
            }
            ProcessorConfig::CardinalityLimit(c) => {
                only(Signal::Metrics)?;
                if c.max_series == 0 {
                    return Err("max_series must be positive".into());
                }
                if c.window_secs == 0 {
                    return Err("window_secs must be positive".into());
                }
                Ok(())
            }
            ProcessorConfig::Forward(c) => c.validate(),
        }
    }
}

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
    fn validate(&self, signal: Signal) -> std::result::Result<(), String> {
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
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
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
    fn validate(&self) -> std::result::Result<(), String> {
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
    fn validate(&self) -> std::result::Result<(), String> {
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

fn yes() -> bool {
    true
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
    #[serde(default = "yes")]
    pub body: bool,
}

impl RedactConfig {
    fn validate(&self) -> std::result::Result<(), String> {
        if self.patterns.is_empty() && self.custom.is_empty() {
            return Err("no patterns".into());
        }
        Ok(())
    }
}

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
    #[serde(default = "yes")]
    pub keep_errors: bool,
}

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

/// Forward transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// OTLP/gRPC (`endpoint` like `http://host:4317`).
    #[default]
    Grpc,
    /// OTLP/HTTP protobuf (`endpoint` like `http://host:4318`; `/v1/metrics`
    /// or `/v1/logs` is appended).
    Http,
}

fn forward_timeout() -> u64 {
    10_000
}
fn queue_requests() -> usize {
    1024
}
fn queue_bytes() -> usize {
    64 << 20
}
fn attempts() -> u32 {
    5
}
fn initial_backoff() -> u64 {
    200
}
fn max_backoff() -> u64 {
    10_000
}

/// `type = "forward"`: send a copy of what reaches this processor to another
/// OTLP endpoint, through a bounded queue, with retries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// Processor name.
    pub name: String,
    /// `http://host:port` (plain HTTP/2 for gRPC, HTTP/1.1 for HTTP).
    pub endpoint: String,
    /// `grpc` (default) or `http`.
    #[serde(default)]
    pub protocol: Protocol,
    /// Extra request headers (e.g. `authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per attempt, in milliseconds.
    #[serde(default = "forward_timeout")]
    pub timeout_ms: u64,
    /// Requests waiting to be sent; past it copies are dropped (and counted).
    #[serde(default = "queue_requests")]
    pub queue_max_requests: usize,
    /// Bytes (encoded protobuf) waiting or in flight; past it copies are dropped.
    #[serde(default = "queue_bytes")]
    pub queue_max_bytes: usize,
    /// Attempts per request (retryable failures only).
    #[serde(default = "attempts")]
    pub max_attempts: u32,
    /// First retry delay, doubled per attempt.
    #[serde(default = "initial_backoff")]
    pub initial_backoff_ms: u64,
    /// Longest retry delay.
    #[serde(default = "max_backoff")]
    pub max_backoff_ms: u64,
}

impl ForwardConfig {
    fn validate(&self) -> std::result::Result<(), String> {
        let uri: axum::http::Uri =
            self.endpoint.parse().map_err(|e| format!("endpoint {:?} is not a URL: {e}", self.endpoint))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!("endpoint {:?} must be http://host:port (TLS is not built in)", self.endpoint));
        }
        for (k, v) in &self.headers {
            axum::http::HeaderName::try_from(k.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            axum::http::HeaderValue::try_from(v.as_str()).map_err(|e| format!("header {k:?} value: {e}"))?;
        }
        if self.queue_max_requests == 0 || self.queue_max_bytes == 0 {
            return Err("queue_max_requests and queue_max_bytes must be positive".into());
        }
        if self.max_attempts == 0 || self.timeout_ms == 0 {
            return Err("max_attempts and timeout_ms must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PipelinesConfig> {
        PipelinesConfig::from_toml(text, "t.toml")
    }

    #[test]
    fn processors_parse_in_order_with_their_settings() {
        let c = parse(
            r#"
[storage]
ignored = "other tables are not ours"

[[pipelines.metrics]]
name = "drop-debug"
type = "filter"
metric_names = ["debug.*"]

[[pipelines.metrics]]
name = "limit"
type = "cardinality_limit"
max_series = 10

[[pipelines.logs]]
name = "pii"
type = "attributes"
salt = "s"
actions = [{ action = "hash", key = "user.email" }, { action = "insert", key = "env", value = 3, on = "resource" }]
"#,
        )
        .expect("parses");
        let names: Vec<_> = c.processors(Signal::Metrics).iter().map(|p| (p.name(), p.kind())).collect();
        assert_eq!(names, [("drop-debug", "filter"), ("limit", "cardinality_limit")]);
        let ProcessorConfig::Attributes(a) = &c.logs[0].0 else { panic!("attributes") };
        assert_eq!(a.actions[1].value, Some(AttrValue::Int(3)));
        assert_eq!(a.actions[1].on, Level::Resource);
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let text = "[[pipelines.metrics]]\nname = \"a\"\ntype = \"filter\"\nmetric_names = [\"x\"]\n\n\
                    [[pipelines.metrics]]\nname = \"b\"\ntype = \"filter\"\nmetric_regex = [\"a(\"]\n";
        let e = parse(text).expect_err("bad regex").to_string();
        assert!(e.starts_with("t.toml:6:"), "the line of the processor: {e}");
        assert!(e.contains("invalid regular expression"), "{e}");

        let e = parse("[[pipelines.logs]]\nname = \"r\"\ntype = \"rename\"\nnames = { a = \"b\" }\n")
            .expect_err("rename is for metrics")
            .to_string();
        assert!(e.starts_with("t.toml:1:") && e.contains("metrics pipelines only"), "{e}");

        let e = parse("[[pipelines.metrics]]\nname = \"f\"\ntype = \"filter\"\nmetric_nmes = [\"x\"]\n")
            .expect_err("typo")
            .to_string();
        assert!(e.contains("metric_nmes"), "{e}");

        let e = parse("[[pipelines.metrics]]\nname = \"f\"\ntype = \"nope\"\n").expect_err("type").to_string();
        assert!(e.contains("nope"), "{e}");

        let e = parse("[[pipelines.logs]]\nname = \"s\"\ntype = \"sample\"\nrate = 2.0\n").expect_err("rate");
        assert!(e.to_string().contains("between 0 and 1"), "{e}");

        let twice = "[[pipelines.logs]]\nname = \"s\"\ntype = \"sample\"\n[[pipelines.logs]]\nname = \"s\"\n\
                     type = \"sample\"\n";
        assert!(parse(twice).expect_err("dup").to_string().contains("two processors are named \"s\""));
    }

    #[test]
    fn forward_needs_a_plain_http_endpoint() {
        let ok = "[[pipelines.metrics]]\nname = \"f\"\ntype = \"forward\"\nendpoint = \"http://127.0.0.1:4317\"\n";
        assert!(parse(ok).is_ok());
        let tls = ok.replace("http://", "https://");
        assert!(parse(&tls).expect_err("tls").to_string().contains("TLS"));
        let e = "[[pipelines.metrics]]\nname = \"f\"\ntype = \"attributes\"\nactions = [{ action = \"extract\", \
                 key = \"url\", pattern = \"(.*)\" }]\n";
        assert!(parse(e).expect_err("no named group").to_string().contains("named group"));
    }

    #[test]
    fn severity_names_and_numbers() {
        let c = parse("[[pipelines.logs]]\nname = \"f\"\ntype = \"filter\"\nmin_severity = \"WARN\"\n").expect("ok");
        let ProcessorConfig::Filter(f) = &c.logs[0].0 else { panic!("filter") };
        assert_eq!(f.min_severity, Some(Severity(13)));
        assert!(parse("[[pipelines.logs]]\nname = \"f\"\ntype = \"filter\"\nmin_severity = 30\n").is_err());
    }
}
