//! `parse` (logs): turn JSON or `key=value` (logfmt) bodies into record
//! attributes, optionally set the severity from a field and the body from a
//! message field. Bodies that do not parse pass unchanged and are counted as
//! errors. Existing record attributes win over parsed fields.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::config::{ParseConfig, ParseFormat, Severity};
use crate::otlp;
use crate::processor::{Processor, Report};

/// The `parse` processor.
#[derive(Debug)]
pub struct Parse {
    config: ParseConfig,
}

fn json_to_any(v: serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    let value = match v {
        J::Null => return AnyValue { value: None },
        J::Bool(b) => any_value::Value::BoolValue(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => any_value::Value::StringValue(s),
        J::Array(a) => any_value::Value::ArrayValue(ArrayValue { values: a.into_iter().map(json_to_any).collect() }),
        J::Object(o) => any_value::Value::KvlistValue(KeyValueList {
            values: o.into_iter().map(|(k, v)| otlp::kv(k, json_to_any(v))).collect(),
        }),
    };
    AnyValue { value: Some(value) }
}

/// Fields of a JSON object text.
fn parse_json(s: &str) -> Option<Vec<(String, AnyValue)>> {
    match serde_json::from_str::<serde_json::Value>(s).ok()? {
        serde_json::Value::Object(o) => Some(o.into_iter().map(|(k, v)| (k, json_to_any(v))).collect()),
        _ => None,
    }
}

/// Fields of a logfmt line: `k=v`, `k="quoted \" value"`, bare `k` (true);
/// `None` without any `k=v` pair.
pub fn parse_logfmt(s: &str) -> Option<Vec<(String, AnyValue)>> {
    let mut out = Vec::new();
    let mut pairs = 0;
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else { break };
        let mut end = s.len();
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                end = i;
                break;
            }
            chars.next();
        }
        let key = &s[start..end];
        if key.is_empty() || key.contains('"') {
            return None;
        }
        if chars.peek().is_none_or(|(_, c)| *c != '=') {
            out.push((key.to_string(), AnyValue { value: Some(any_value::Value::BoolValue(true)) }));
            continue;
        }
        chars.next();
        let mut value = String::new();
        if chars.peek().is_some_and(|(_, c)| *c == '"') {
            chars.next();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, e)) => value.push(e),
                        None => return None,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return None;
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        pairs += 1;
        out.push((key.to_string(), otlp::string(value)));
    }
    // Plain text is words, not bare keys: at least one `k=v` is needed.
    (pairs > 0).then_some(out)
}

impl Parse {
    /// The processor for `config`.
    pub fn new(config: ParseConfig) -> Self {
        Self { config }
    }

    fn fields(&self, body: &AnyValue) -> Option<Vec<(String, AnyValue)>> {
        match &body.value {
            Some(any_value::Value::KvlistValue(kv)) => {
                Some(kv.values.iter().filter_map(|p| Some((p.key.clone(), p.value.clone()?))).collect())
            }
            Some(any_value::Value::StringValue(s)) => {
                let s = s.trim();
                match self.config.format {
                    ParseFormat::Json => parse_json(s),
                    ParseFormat::Logfmt => parse_logfmt(s),
                    ParseFormat::Auto if s.starts_with('{') => parse_json(s),
                    ParseFormat::Auto => parse_logfmt(s),
                }
            }
            _ => None,
        }
    }

    /// Parse one record's body; false if it did not parse.
    fn record(&self, r: &mut LogRecord) -> bool {
        let Some(fields) = r.body.as_ref().and_then(|b| self.fields(b)) else { return false };
        for (key, value) in fields {
            if self.config.severity_field.as_deref() == Some(key.as_str()) {
                if let Some(text) = otlp::text(&value) {
                    if let Some(sev) = Severity::from_name(&text) {
                        r.severity_number = sev.0;
                        r.severity_text = text.to_ascii_uppercase();
                    }
                }
            }
            if self.config.message_field.as_deref() == Some(key.as_str()) {
                r.body = Some(value);
                continue;
            }
            let key = format!("{}{key}", self.config.prefix);
            if otlp::get(&r.attributes, &key).is_none() {
                r.attributes.push(KeyValue { key, value: Some(value), ..Default::default() });
            }
        }
        true
    }
}

impl Processor for Parse {
    fn logs(&self, req: &mut ExportLogsServiceRequest, report: &mut Report) {
        for r in req.resource_logs.iter_mut().flat_map(|r| &mut r.scope_logs).flat_map(|s| &mut s.log_records) {
            if r.body.is_some() && !self.record(r) {
                report.errors += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;

    fn processor(body: &str) -> Parse {
        let text = format!("[[pipelines.logs]]\nname = \"p\"\ntype = \"parse\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let ProcessorConfig::Parse(p) = c.logs[0].0.clone() else { panic!("parse") };
        Parse::new(p)
    }

    #[test]
    fn json_bodies_become_attributes_and_set_the_severity() {
        let p = processor("severity_field = \"level\"\nmessage_field = \"msg\"\n");
        let mut req = logs_request(vec![
            record(0, r#"{"level":"warn","msg":"disk almost full","disk":"/dev/sda","pct":93,"ok":false}"#, vec![]),
            record(9, "not structured at all ===", vec![]),
        ]);
        let mut report = Report::default();
        p.logs(&mut req, &mut report);
        let r = records(&req)[0];
        assert_eq!((r.severity_number, r.severity_text.as_str()), (13, "WARN"));
        assert_eq!(otlp::text(r.body.as_ref().expect("body")).as_deref(), Some("disk almost full"));
        assert_eq!(attr(&r.attributes, "disk"), Some("/dev/sda"));
        assert_eq!(otlp::get(&r.attributes, "pct").and_then(|v| v.value.clone()), Some(any_value::Value::IntValue(93)));
        assert_eq!(report.errors, 1, "the second body does not parse");
    }

    #[test]
    fn logfmt_with_quotes_escapes_and_bare_keys() {
        let f = parse_logfmt(r#"level=error msg="payment \"declined\"" retry  user=ann"#).expect("parses");
        let rendered: Vec<_> = f.iter().map(|(k, v)| format!("{k}={}", otlp::text(v).unwrap_or_default())).collect();
        assert_eq!(rendered, ["level=error", "msg=payment \"declined\"", "retry=true", "user=ann"]);
        assert!(parse_logfmt(r#"msg="unterminated"#).is_none());
        assert!(parse_logfmt("   ").is_none());
        assert!(parse_logfmt("disk almost full").is_none(), "plain text is not logfmt");
    }

    #[test]
    fn existing_attributes_win_and_prefix_applies() {
        let p = processor("format = \"logfmt\"\nprefix = \"log.\"\n");
        let mut req = logs_request(vec![record(9, "user=bob", attrs(&[("log.user", "ann")]))]);
        p.logs(&mut req, &mut Report::default());
        assert_eq!(records(&req)[0].attributes, attrs(&[("log.user", "ann")]));
    }
}
