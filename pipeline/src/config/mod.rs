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
//!
//! One file per processor type holds its settings and their checks; this
//! module has the signal-level parts (the tables, their order, names, lines).

mod attributes;
mod cardinality;
mod filter;
mod forward;
mod parse;
mod promote;
mod redact;
mod rename;
mod sample;

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

pub use attributes::{ActionKind, AttrValue, AttributeAction, AttributesConfig, Level};
pub use cardinality::CardinalityLimitConfig;
pub use filter::{FilterConfig, Severity};
pub use forward::{Compression, ForwardConfig, Protocol};
pub use parse::{ParseConfig, ParseFormat};
pub use promote::PromoteConfig;
pub use redact::{Builtin, RedactConfig};
pub use rename::{RenameConfig, RenameRule};
pub use sample::{SampleConfig, SeverityClass};

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

    /// The one signal this processor type applies to (`None`: both).
    pub fn only_in(&self) -> Option<Signal> {
        match self {
            ProcessorConfig::Promote(_) | ProcessorConfig::Rename(_) | ProcessorConfig::CardinalityLimit(_) => {
                Some(Signal::Metrics)
            }
            ProcessorConfig::Parse(_) | ProcessorConfig::Sample(_) => Some(Signal::Logs),
            _ => None,
        }
    }

    /// Check the settings for a processor in `signal`'s pipeline.
    pub fn validate(&self, signal: Signal) -> std::result::Result<(), String> {
        if self.name().trim().is_empty() {
            return Err("name must not be empty".into());
        }
        if let Some(only) = self.only_in().filter(|s| *s != signal) {
            return Err(format!("type {} applies to {} pipelines only", self.kind(), only.as_str()));
        }
        match self {
            ProcessorConfig::Filter(c) => c.validate(signal),
            ProcessorConfig::Attributes(c) => c.validate(),
            ProcessorConfig::Redact(c) => c.validate(),
            ProcessorConfig::Promote(c) => c.validate(),
            ProcessorConfig::Rename(c) => c.validate(),
            ProcessorConfig::Parse(_) => Ok(()),
            ProcessorConfig::Sample(c) => c.validate(),
            ProcessorConfig::CardinalityLimit(c) => c.validate(),
            ProcessorConfig::Forward(c) => c.validate(),
        }
    }
}

/// Serde default `true`.
fn yes() -> bool {
    true
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
    fn forward_endpoints_tls_and_compression() {
        let ok = "[[pipelines.metrics]]\nname = \"f\"\ntype = \"forward\"\nendpoint = \"http://127.0.0.1:4317\"\n";
        let c = parse(ok).expect("plain gRPC");
        let ProcessorConfig::Forward(f) = &c.metrics[0].0 else { panic!("forward") };
        assert_eq!(f.compression(), Compression::None, "gRPC: no compression unless asked");
        let tls = ok.replace("http://", "https://");
        let e = parse(&tls).expect_err("gRPC has no TLS").to_string();
        assert!(e.contains("gRPC forward is plain text"), "{e}");
        let https = format!("{tls}protocol = \"http\"\n");
        let c = parse(&https).expect("https over OTLP/HTTP");
        let ProcessorConfig::Forward(f) = &c.metrics[0].0 else { panic!("forward") };
        assert!(f.tls());
        assert_eq!(f.compression(), Compression::Gzip, "HTTP: gzip by default");
        let plain = parse(&format!("{https}compression = \"none\"\n")).expect("none");
        let ProcessorConfig::Forward(f) = &plain.metrics[0].0 else { panic!("forward") };
        assert_eq!(f.compression(), Compression::None);
        let e = parse(&format!("{ok}tls_ca_file = \"/ca.pem\"\n")).expect_err("ca without https").to_string();
        assert!(e.contains("https:// endpoints only"), "{e}");
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
