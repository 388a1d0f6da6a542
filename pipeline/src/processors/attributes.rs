//! `attributes`: insert, update, upsert, delete, rename, hash and extract
//! attributes on resources, scopes, or points / log records.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::config::{ActionKind, AttrValue, AttributeAction, AttributesConfig, Level};
use crate::otlp;
use crate::processor::{Processor, Report};

/// The `attributes` processor.
#[derive(Debug)]
pub struct Attributes {
    actions: Vec<(AttributeAction, Option<AnyValue>)>,
    /// blake3 key derived from the salt.
    key: [u8; 32],
    levels: [bool; 3],
}

impl Attributes {
    /// The processor for `config`.
    pub fn new(config: AttributesConfig) -> Self {
        let key = *blake3::hash(config.salt.as_bytes()).as_bytes();
        let mut levels = [false; 3];
        for a in &config.actions {
            levels[a.on as usize] = true;
        }
        let actions = config
            .actions
            .into_iter()
            .map(|a| {
                let v = a.value.as_ref().map(any);
                (a, v)
            })
            .collect();
        Self { actions, key, levels }
    }

    /// Apply the actions of `level` to `attrs`.
    fn apply(&self, level: Level, attrs: &mut Vec<KeyValue>) {
        for (a, value) in self.actions.iter().filter(|(a, _)| a.on == level) {
            apply(a, value.as_ref(), &self.key, attrs);
        }
    }

    fn wants(&self, level: Level) -> bool {
        self.levels[level as usize]
    }
}

fn any(v: &AttrValue) -> AnyValue {
    let value = match v {
        AttrValue::Bool(b) => any_value::Value::BoolValue(*b),
        AttrValue::Int(i) => any_value::Value::IntValue(*i),
        AttrValue::Float(f) => any_value::Value::DoubleValue(*f),
        AttrValue::String(s) => any_value::Value::StringValue(s.clone()),
    };
    AnyValue { value: Some(value) }
}

/// Keyed blake3 of `text`, first 16 bytes as lowercase hex.
pub fn keyed_hash(key: &[u8; 32], text: &str) -> String {
    let h = blake3::keyed_hash(key, text.as_bytes());
    tidewater_ingest::attributes::hex(&h.as_bytes()[..16])
}

fn position(attrs: &[KeyValue], key: &str) -> Option<usize> {
    attrs.iter().position(|kv| kv.key == key)
}

fn set(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match position(attrs, key) {
        Some(i) => attrs[i].value = Some(value),
        None => attrs.push(otlp::kv(key, value)),
    }
}

fn apply(a: &AttributeAction, value: Option<&AnyValue>, salt_key: &[u8; 32], attrs: &mut Vec<KeyValue>) {
    let found = position(attrs, &a.key);
    match a.action {
        ActionKind::Insert if found.is_none() => {
            if let Some(v) = value {
                attrs.push(otlp::kv(a.key.clone(), v.clone()));
            }
        }
        ActionKind::Update | ActionKind::Upsert if found.is_some() || a.action == ActionKind::Upsert => {
            if let Some(v) = value {
                set(attrs, &a.key, v.clone());
            }
        }
        ActionKind::Delete => attrs.retain(|kv| kv.key != a.key),
        ActionKind::Rename => {
            if let (Some(i), Some(to)) = (found, &a.to) {
                let kv = attrs.remove(i);
                attrs.retain(|x| &x.key != to);
                attrs.push(KeyValue { key: to.clone(), ..kv });
            }
        }
        ActionKind::Hash => {
            if let Some(i) = found {
                let hashed = attrs[i].value.as_ref().and_then(otlp::text).map(|t| keyed_hash(salt_key, &t));
                if let Some(h) = hashed {
                    attrs[i].value = Some(otlp::string(h));
                }
            }
        }
        ActionKind::Extract => {
            let (Some(i), Some(p)) = (found, &a.pattern) else { return };
            let Some(text) = attrs[i].value.as_ref().and_then(otlp::text).map(|t| t.into_owned()) else { return };
            let Some(caps) = p.regex().captures(&text) else { return };
            for name in p.regex().capture_names().flatten() {
                if let Some(m) = caps.name(name) {
                    set(attrs, name, otlp::string(m.as_str()));
                }
            }
        }
        _ => {}
    }
}

impl Processor for Attributes {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, _report: &mut Report) {
        for rm in &mut req.resource_metrics {
            if self.wants(Level::Resource) {
                self.apply(Level::Resource, &mut rm.resource.get_or_insert_with(Resource::default).attributes);
            }
            for sm in &mut rm.scope_metrics {
                if self.wants(Level::Scope) {
                    let scope = sm.scope.get_or_insert_with(InstrumentationScope::default);
                    self.apply(Level::Scope, &mut scope.attributes);
                }
                if self.wants(Level::Point) {
                    for m in &mut sm.metrics {
                        otlp::for_each_point_attributes(m, |attrs| self.apply(Level::Point, attrs));
                    }
                }
            }
        }
    }

    fn logs(&self, req: &mut ExportLogsServiceRequest, _report: &mut Report) {
        for rl in &mut req.resource_logs {
            if self.wants(Level::Resource) {
                self.apply(Level::Resource, &mut rl.resource.get_or_insert_with(Resource::default).attributes);
            }
            for sl in &mut rl.scope_logs {
                if self.wants(Level::Scope) {
                    let scope = sl.scope.get_or_insert_with(InstrumentationScope::default);
                    self.apply(Level::Scope, &mut scope.attributes);
                }
                if self.wants(Level::Point) {
                    for r in &mut sl.log_records {
                        self.apply(Level::Point, &mut r.attributes);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;

    fn processor(signal: &str, body: &str) -> Attributes {
        let text = format!("[[pipelines.{signal}]]\nname = \"a\"\ntype = \"attributes\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let p = if signal == "metrics" { c.metrics[0].0.clone() } else { c.logs[0].0.clone() };
        let ProcessorConfig::Attributes(a) = p else { panic!("attributes") };
        Attributes::new(a)
    }

    fn point_attrs(req: &ExportMetricsServiceRequest) -> Vec<KeyValue> {
        let m = &req.resource_metrics[0].scope_metrics[0].metrics[0];
        let Some(Data::Gauge(g)) = &m.data else { panic!("gauge") };
        g.data_points[0].attributes.clone()
    }

    #[test]
    fn every_action_on_points() {
        let a = processor(
            "metrics",
            r#"salt = "pepper"
actions = [
  { action = "insert", key = "env", value = "prod" },
  { action = "insert", key = "region", value = "never" },
  { action = "update", key = "region", value = "eu-west" },
  { action = "update", key = "absent", value = "x" },
  { action = "upsert", key = "tier", value = 2 },
  { action = "delete", key = "debug" },
  { action = "rename", key = "host", to = "host.name" },
  { action = "hash", key = "user.email" },
  { action = "extract", key = "url", pattern = "^https?://(?P<url_host>[^/]+)(?P<url_path>/[^?]*)" },
]"#,
        );
        let mut req = metrics_request(
            &[],
            vec![gauge(
                "m",
                vec![point(
                    1,
                    1.0,
                    attrs(&[
                        ("region", "eu"),
                        ("debug", "1"),
                        ("host", "h1"),
                        ("user.email", "ann@example.com"),
                        ("url", "https://shop.example/cart?id=1"),
                    ]),
                )],
            )],
        );
        a.metrics(&mut req, &mut Report::default());
        let p = point_attrs(&req);
        assert_eq!(attr(&p, "env"), Some("prod"));
        assert_eq!(attr(&p, "region"), Some("eu-west"));
        assert!(otlp::get(&p, "absent").is_none());
        assert_eq!(otlp::get(&p, "tier").and_then(|v| v.value.clone()), Some(any_value::Value::IntValue(2)));
        assert!(otlp::get(&p, "debug").is_none() && otlp::get(&p, "host").is_none());
        assert_eq!(attr(&p, "host.name"), Some("h1"));
        let hashed = attr(&p, "user.email").expect("hashed");
        assert_eq!(hashed.len(), 32);
        assert_eq!(hashed, keyed_hash(blake3::hash(b"pepper").as_bytes(), "ann@example.com"));
        assert_ne!(hashed, keyed_hash(blake3::hash(b"other salt").as_bytes(), "ann@example.com"));
        assert_eq!(attr(&p, "url_host"), Some("shop.example"));
        assert_eq!(attr(&p, "url_path"), Some("/cart"));
    }

    #[test]
    fn resource_and_scope_actions_and_log_records() {
        let a = processor(
            "logs",
            r#"actions = [
  { action = "upsert", key = "deployment.environment", value = "prod", on = "resource" },
  { action = "insert", key = "team", value = "payments", on = "scope" },
  { action = "delete", key = "password", on = "record" },
]"#,
        );
        let mut req = logs_request(vec![record(9, "x", attrs(&[("password", "hunter2"), ("user", "ann")]))]);
        a.logs(&mut req, &mut Report::default());
        let rl = &req.resource_logs[0];
        let resource = &rl.resource.as_ref().expect("resource").attributes;
        assert_eq!(attr(resource, "deployment.environment"), Some("prod"));
        assert_eq!(attr(resource, "service.name"), Some("checkout"));
        assert_eq!(attr(&rl.scope_logs[0].scope.as_ref().expect("scope").attributes, "team"), Some("payments"));
        assert_eq!(rl.scope_logs[0].log_records[0].attributes, attrs(&[("user", "ann")]));
    }
}
