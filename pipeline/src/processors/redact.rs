//! `redact`: mask e-mail addresses, card numbers, bearer tokens, URL query
//! strings and custom patterns in string attribute values (resource, scope,
//! point / record; nested arrays and maps included) and in log bodies.

use std::borrow::Cow;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use regex::{Captures, NoExpand, Regex};

use crate::config::{Builtin, RedactConfig};
use crate::otlp;
use crate::processor::{Processor, Report};

/// One compiled rule with a cheap test that must pass before the regex runs.
#[derive(Debug)]
struct Rule {
    builtin: Option<Builtin>,
    regex: Regex,
}

/// The `redact` processor.
#[derive(Debug)]
pub struct Redact {
    rules: Vec<Rule>,
    replacement: String,
    keys: Vec<String>,
    body: bool,
}

fn builtin_regex(b: Builtin) -> &'static str {
    match b {
        Builtin::Email => r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}",
        Builtin::CardNumber => r"\b\d(?:[ \-]?\d){12,18}\b",
        Builtin::BearerToken => r"(?i)\bbearer\s+[a-z0-9\-._~+/]+=*",
        Builtin::UrlQuery => r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s?#]*)\?[^\s#]*",
    }
}

/// Whether the digits of `s` pass the Luhn check (card numbers do).
fn luhn(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                *d
            }
        })
        .sum();
    (13..=19).contains(&digits.len()) && sum.is_multiple_of(10)
}

/// What the built-in rules' cheap tests look at, found in one pass over a
/// string.
#[derive(Debug, Default)]
struct Features {
    at: bool,
    /// The most digits in one run of digits, spaces and dashes (a card
    /// number is 13 to 19 digits, maybe grouped by spaces or dashes).
    digit_run: usize,
    bearer: bool,
    scheme: bool,
    question: bool,
}

impl Features {
    fn of(s: &str) -> Self {
        let b = s.as_bytes();
        let mut f = Features::default();
        let mut run = 0;
        for (i, c) in b.iter().enumerate() {
            match c {
                b'0'..=b'9' => {
                    run += 1;
                    f.digit_run = f.digit_run.max(run);
                    continue;
                }
                b' ' | b'-' => continue,
                b'@' => f.at = true,
                b'?' => f.question = true,
                b':' => f.scheme |= b[i + 1..].starts_with(b"//"),
                b'b' | b'B' => f.bearer |= b.len() > i + 6 && b[i..i + 6].eq_ignore_ascii_case(b"bearer"),
                _ => {}
            }
            run = 0;
        }
        f
    }
}

impl Rule {
    /// A cheap necessary condition for a match.
    fn may_match(&self, f: &Features) -> bool {
        match self.builtin {
            Some(Builtin::Email) => f.at,
            Some(Builtin::CardNumber) => f.digit_run >= 13,
            Some(Builtin::BearerToken) => f.bearer,
            Some(Builtin::UrlQuery) => f.scheme && f.question,
            None => true,
        }
    }

    fn redact<'a>(&self, s: &'a str, replacement: &str) -> Cow<'a, str> {
        match self.builtin {
            Some(Builtin::CardNumber) => {
                self.regex.replace_all(
                    s,
                    |c: &Captures<'_>| {
                        if luhn(&c[0]) {
                            replacement.to_string()
                        } else {
                            c[0].to_string()
                        }
                    },
                )
            }
            Some(Builtin::BearerToken) => self.regex.replace_all(s, |_: &Captures<'_>| format!("Bearer {replacement}")),
            Some(Builtin::UrlQuery) => self.regex.replace_all(s, |c: &Captures<'_>| format!("{}?{replacement}", &c[1])),
            _ => self.regex.replace_all(s, NoExpand(replacement)),
        }
    }
}

impl Redact {
    /// The processor for `config`.
    pub fn new(config: RedactConfig) -> Result<Self, String> {
        let mut rules = Vec::new();
        for b in &config.patterns {
            let regex = Regex::new(builtin_regex(*b)).map_err(|e| format!("built-in pattern {b:?}: {e}"))?;
            rules.push(Rule { builtin: Some(*b), regex });
        }
        for p in config.custom {
            rules.push(Rule { builtin: None, regex: p.regex().clone() });
        }
        Ok(Self { rules, replacement: config.replacement, keys: config.keys, body: config.body })
    }

    /// `s` with every rule applied; `None` if nothing matched.
    pub fn redact_str(&self, s: &str) -> Option<String> {
        let features = Features::of(s);
        let mut out: Option<String> = None;
        for rule in self.rules.iter().filter(|r| r.may_match(&features)) {
            let current = out.as_deref().unwrap_or(s);
            if let Cow::Owned(changed) = rule.redact(current, &self.replacement) {
                out = Some(changed);
            }
        }
        out
    }

    fn value(&self, v: &mut AnyValue) {
        match &mut v.value {
            Some(any_value::Value::StringValue(s)) => {
                if let Some(r) = self.redact_str(s) {
                    *s = r;
                }
            }
            Some(any_value::Value::ArrayValue(a)) => a.values.iter_mut().for_each(|x| self.value(x)),
            Some(any_value::Value::KvlistValue(kv)) => {
                kv.values.iter_mut().filter_map(|p| p.value.as_mut()).for_each(|x| self.value(x))
            }
            _ => {}
        }
    }

    fn attributes(&self, attrs: &mut [KeyValue]) {
        for kv in attrs {
            if self.keys.is_empty() || self.keys.contains(&kv.key) {
                if let Some(v) = kv.value.as_mut() {
                    self.value(v);
                }
            }
        }
    }
}

impl Processor for Redact {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, _report: &mut Report) {
        for rm in &mut req.resource_metrics {
            if let Some(r) = rm.resource.as_mut() {
                self.attributes(&mut r.attributes);
            }
            for sm in &mut rm.scope_metrics {
                if let Some(s) = sm.scope.as_mut() {
                    self.attributes(&mut s.attributes);
                }
                for m in &mut sm.metrics {
                    otlp::for_each_point_attributes(m, |attrs| self.attributes(attrs));
                }
            }
        }
    }

    fn logs(&self, req: &mut ExportLogsServiceRequest, _report: &mut Report) {
        for rl in &mut req.resource_logs {
            if let Some(r) = rl.resource.as_mut() {
                self.attributes(&mut r.attributes);
            }
            for sl in &mut rl.scope_logs {
                if let Some(s) = sl.scope.as_mut() {
                    self.attributes(&mut s.attributes);
                }
                for r in &mut sl.log_records {
                    self.attributes(&mut r.attributes);
                    if self.body {
                        if let Some(b) = r.body.as_mut() {
                            self.value(b);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefilters_find_what_the_rules_need() {
        assert_eq!(Features::of("4111 1111-1111 1111").digit_run, 16);
        // A hex digest has many digits, never 13 in a row here.
        assert!(Features::of("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08").digit_run < 13);
        let f = Features::of("Authorization: BEARER abc https://x.io/p?q=1 a@b.co");
        assert!(f.bearer && f.scheme && f.question && f.at);
        let f = Features::of("bearer");
        assert!(!f.bearer, "a bare word with nothing after it is no token");
        assert!(!Features::of("host_123 us-west-1a").at);
    }
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;

    fn processor(body: &str) -> Redact {
        let text = format!("[[pipelines.logs]]\nname = \"r\"\ntype = \"redact\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let ProcessorConfig::Redact(r) = c.logs[0].0.clone() else { panic!("redact") };
        Redact::new(r).expect("builds")
    }

    #[test]
    fn builtins_mask_what_they_should_and_nothing_else() {
        let r = processor("");
        let cases = [
            ("mail ann.lee+x@mail.example.co.uk now", "mail [REDACTED] now"),
            ("card 4111 1111 1111 1111 charged", "card [REDACTED] charged"),
            ("card 4111-1111-1111-1112 fails luhn", "card 4111-1111-1111-1112 fails luhn"),
            ("order 1234567890123 is an id", "order 1234567890123 is an id"),
            ("Authorization: Bearer eyJhbGciOi.J9x-y_z==", "Authorization: Bearer [REDACTED]"),
            ("GET https://shop.example/cart?user=ann&token=1 200", "GET https://shop.example/cart?[REDACTED] 200"),
            ("plain text 42", "plain text 42"),
        ];
        for (input, want) in cases {
            assert_eq!(r.redact_str(input).as_deref().unwrap_or(input), want, "{input}");
        }
        assert_eq!(r.redact_str("nothing here"), None, "no allocation when nothing matches");
    }

    #[test]
    fn custom_patterns_keys_and_bodies() {
        let r = processor("patterns = []\ncustom = [\"secret-[0-9]+\"]\nreplacement = \"***\"\nkeys = [\"note\"]\n");
        let mut req = logs_request(vec![record(
            9,
            "use secret-123 here",
            attrs(&[("note", "secret-9 inside"), ("other", "secret-7 untouched")]),
        )]);
        r.logs(&mut req, &mut Report::default());
        let rec = records(&req)[0];
        assert_eq!(otlp::text(rec.body.as_ref().expect("body")).as_deref(), Some("use *** here"));
        assert_eq!(attr(&rec.attributes, "note"), Some("*** inside"));
        assert_eq!(attr(&rec.attributes, "other"), Some("secret-7 untouched"));
    }

    #[test]
    fn structured_bodies_and_metric_attributes() {
        use opentelemetry_proto::tonic::common::v1::KeyValueList;
        let r = processor("");
        let mut req = logs_request(vec![record(9, "", vec![])]);
        req.resource_logs[0].scope_logs[0].log_records[0].body = Some(AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![otlp::kv("email", otlp::string("bob@example.org"))],
            })),
        });
        r.logs(&mut req, &mut Report::default());
        let body = records(&req)[0].body.clone().expect("body");
        assert_eq!(tidewater_ingest::attributes::any_to_json(&body).to_string(), r#"{"email":"[REDACTED]"}"#);

        let mut m = metrics_request(
            &[("owner", "ops@example.com")],
            vec![gauge("g", vec![point(1, 1.0, attrs(&[("url", "http://a/b?c=d")]))])],
        );
        r.metrics(&mut m, &mut Report::default());
        let res = &m.resource_metrics[0].resource.as_ref().expect("resource").attributes;
        assert_eq!(attr(res, "owner"), Some("[REDACTED]"));
    }
}
