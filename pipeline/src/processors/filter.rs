//! `filter`: drop metrics by name, points or log records by attributes, log
//! records by severity or body. Dropping is the configured outcome, so it is
//! counted (`dropped`) but not reported to the sender as a refusal.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::Metric;

use crate::config::FilterConfig;
use crate::otlp;
use crate::pattern::Pattern;
use crate::processor::{Processor, Report};

/// The `filter` processor.
#[derive(Debug)]
pub struct Filter {
    config: FilterConfig,
}

impl Filter {
    /// A filter with `config`.
    pub fn new(config: FilterConfig) -> Self {
        Self { config }
    }

    fn drops_metric(&self, m: &Metric) -> bool {
        self.config.metric_names.matches(&m.name) || self.config.metric_regex.iter().any(|r| r.is_match(&m.name))
    }
}

/// The attribute patterns with their outcome on a scope's shared (scope,
/// then resource) attributes, worked out once per scope.
struct Shared<'a> {
    patterns: Vec<(&'a str, &'a Pattern, bool)>,
    all: bool,
}

impl<'a> Shared<'a> {
    fn new(patterns: &'a BTreeMap<String, Pattern>, levels: [&[KeyValue]; 2]) -> Self {
        let patterns: Vec<_> = patterns
            .iter()
            .map(|(key, pattern)| {
                let v = levels.iter().find_map(|attrs| otlp::get(attrs, key)).and_then(otlp::text);
                (key.as_str(), pattern, v.is_some_and(|v| pattern.is_match(&v)))
            })
            .collect();
        let all = patterns.iter().all(|p| p.2);
        Self { patterns, all }
    }

    /// Whether every pattern matches, the point's own attributes first.
    fn all_match(&self, point: &[KeyValue]) -> bool {
        if point.is_empty() {
            return self.all;
        }
        self.patterns.iter().all(|(key, pattern, shared)| match otlp::get(point, key) {
            Some(v) => otlp::text(v).is_some_and(|v| pattern.is_match(&v)),
            None => *shared,
        })
    }
}

impl Processor for Filter {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, report: &mut Report) {
        let by_attributes = !self.config.attributes.is_empty();
        // The same names repeat in every resource: each distinct name is
        // matched (regex run) once per request.
        let mut dropped: HashMap<String, bool, foldhash::fast::RandomState> = HashMap::default();
        let mut drops = |m: &Metric| match dropped.get(m.name.as_str()) {
            Some(d) => *d,
            None => {
                let d = self.drops_metric(m);
                dropped.insert(m.name.clone(), d);
                d
            }
        };
        // One pass over the metrics: by name, then by attributes; metrics,
        // scopes and resources left empty go too.
        for rm in &mut req.resource_metrics {
            let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
            for sm in &mut rm.scope_metrics {
                let scope: &[KeyValue] = sm.scope.as_ref().map_or(&[], |s| &s.attributes);
                let shared = by_attributes.then(|| Shared::new(&self.config.attributes, [scope, resource]));
                sm.metrics.retain_mut(|m| {
                    if drops(m) {
                        report.dropped += otlp::point_count(m);
                        return false;
                    }
                    if let Some(shared) = &shared {
                        report.dropped += otlp::retain_points(m, |point| !shared.all_match(point));
                    }
                    otlp::point_count(m) > 0
                });
            }
            rm.scope_metrics.retain(|s| !s.metrics.is_empty());
        }
        req.resource_metrics.retain(|r| !r.scope_metrics.is_empty());
    }

    fn logs(&self, req: &mut ExportLogsServiceRequest, report: &mut Report) {
        let c = &self.config;
        for rl in &mut req.resource_logs {
            let resource: &[KeyValue] = rl.resource.as_ref().map_or(&[], |r| &r.attributes);
            for sl in &mut rl.scope_logs {
                let scope: &[KeyValue] = sl.scope.as_ref().map_or(&[], |s| &s.attributes);
                let shared = Shared::new(&c.attributes, [scope, resource]);
                let before = sl.log_records.len();
                sl.log_records.retain(|r| {
                    if c.min_severity.is_some_and(|min| r.severity_number > 0 && r.severity_number < min.0) {
                        return false;
                    }
                    if let (Some(p), Some(body)) = (&c.body, &r.body) {
                        let matched = match &body.value {
                            Some(any_value::Value::StringValue(s)) => p.is_match(s),
                            _ => p.is_match(&tidewater_ingest::attributes::any_to_json(body).to_string()),
                        };
                        if matched {
                            return false;
                        }
                    }
                    c.attributes.is_empty() || !shared.all_match(&r.attributes)
                });
                report.dropped += before - sl.log_records.len();
            }
        }
        otlp::prune_logs(req);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;

    fn filter(signal: &str, body: &str) -> Filter {
        let text = format!("[[pipelines.{signal}]]\nname = \"f\"\ntype = \"filter\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let p = if signal == "metrics" { c.metrics[0].0.clone() } else { c.logs[0].0.clone() };
        let ProcessorConfig::Filter(f) = p else { panic!("filter") };
        Filter::new(f)
    }

    #[test]
    fn drops_metrics_by_glob_or_regex_and_keeps_the_rest() {
        let f = filter("metrics", "metric_names = [\"debug.*\"]\nmetric_regex = [\"^go_gc_\"]\n");
        let mut req = metrics_request(
            &[("service.name", "api")],
            vec![
                gauge("debug.queue", vec![point(1, 1.0, vec![])]),
                gauge("go_gc_duration", vec![point(1, 1.0, vec![])]),
                gauge("http.requests", vec![point(1, 1.0, vec![])]),
            ],
        );
        f.metrics(&mut req, &mut Report::default());
        assert_eq!(names(&req), ["http.requests"]);
    }

    #[test]
    fn drops_points_when_every_attribute_matches_at_any_level() {
        let f = filter("metrics", "attributes = { \"http.route\" = \"^/health\", \"service.name\" = \"^api$\" }\n");
        let points = vec![
            point(1, 1.0, attrs(&[("http.route", "/health")])),
            point(2, 1.0, attrs(&[("http.route", "/orders")])),
            // The point's own service.name wins over the resource's.
            point(3, 1.0, attrs(&[("http.route", "/healthz"), ("service.name", "web")])),
        ];
        let mut req = metrics_request(&[("service.name", "api")], vec![sum("http.requests", points)]);
        f.metrics(&mut req, &mut Report::default());
        assert_eq!(otlp::metric_points(&req), 2);
        let mut all = metrics_request(
            &[("service.name", "api")],
            vec![gauge("up", vec![point(1, 1.0, attrs(&[("http.route", "/health")]))])],
        );
        f.metrics(&mut all, &mut Report::default());
        assert!(all.resource_metrics.is_empty(), "emptied resources are pruned");
    }

    #[test]
    fn drops_log_records_by_severity_body_and_attribute() {
        let f = filter("logs", "min_severity = \"info\"\nbody = \"^healthcheck\"\nattributes = { user = \"^bot-\" }\n");
        let mut req = logs_request(vec![
            record(5, "debug detail", vec![]),
            record(9, "healthcheck ok", vec![]),
            record(9, "order placed", attrs(&[("user", "bot-7")])),
            record(0, "no severity is kept", vec![]),
            record(17, "payment failed", attrs(&[("user", "ann")])),
        ]);
        f.logs(&mut req, &mut Report::default());
        let bodies: Vec<_> = records(&req).iter().map(|r| otlp::text(r.body.as_ref().unwrap()).unwrap()).collect();
        assert_eq!(bodies, ["no severity is kept", "payment failed"]);
    }
}
