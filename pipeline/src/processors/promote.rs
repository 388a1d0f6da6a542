//! `promote` (metrics): for the selected metrics (tables), only the listed
//! resource attributes become columns; the other resource attributes are
//! kept, as one JSON object text, in a single attribute (`resource` by
//! default), so a table does not grow a column per resource attribute.
//!
//! Resource attributes are shared by every metric of a resource, so a
//! resource whose metrics are partly selected is split in two.

use std::collections::HashSet;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::config::PromoteConfig;
use crate::otlp;
use crate::processor::{Processor, Report};

/// The `promote` processor.
#[derive(Debug)]
pub struct Promote {
    config: PromoteConfig,
    keep: HashSet<String>,
}

impl Promote {
    /// The processor for `config`.
    pub fn new(config: PromoteConfig) -> Self {
        let keep = config.resource_attributes.iter().cloned().collect();
        Self { config, keep }
    }

    /// The promoted attributes, then the rest as one JSON attribute.
    fn transform(&self, attrs: &[KeyValue]) -> Vec<KeyValue> {
        let (kept, rest): (Vec<KeyValue>, Vec<KeyValue>) =
            attrs.iter().cloned().partition(|kv| self.keep.contains(&kv.key));
        let mut out: Vec<KeyValue> = kept.into_iter().filter(|kv| kv.key != self.config.map_attribute).collect();
        if !rest.is_empty() {
            let json = tidewater_ingest::attributes::to_json_object(&rest);
            out.push(otlp::kv(self.config.map_attribute.clone(), otlp::string(json)));
        }
        out
    }
}

impl Processor for Promote {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, _report: &mut Report) {
        let mut split_off = Vec::new();
        for rm in &mut req.resource_metrics {
            let (mut selected, mut total) = (0usize, 0usize);
            for sm in &rm.scope_metrics {
                total += sm.metrics.len();
                selected += sm.metrics.iter().filter(|m| self.config.metrics.selects(&m.name)).count();
            }
            if selected == 0 {
                continue;
            }
            let resource = rm.resource.get_or_insert_with(Resource::default);
            let promoted = Resource { attributes: self.transform(&resource.attributes), ..resource.clone() };
            if selected == total {
                *resource = promoted;
                continue;
            }
            let mut scopes = Vec::new();
            for sm in &mut rm.scope_metrics {
                let (chosen, rest) =
                    std::mem::take(&mut sm.metrics).into_iter().partition(|m| self.config.metrics.selects(&m.name));
                sm.metrics = rest;
                let chosen: Vec<_> = chosen;
                if !chosen.is_empty() {
                    scopes.push(ScopeMetrics {
                        scope: sm.scope.clone(),
                        metrics: chosen,
                        schema_url: sm.schema_url.clone(),
                    });
                }
            }
            rm.scope_metrics.retain(|s| !s.metrics.is_empty());
            split_off.push(ResourceMetrics {
                resource: Some(promoted),
                scope_metrics: scopes,
                schema_url: rm.schema_url.clone(),
            });
        }
        req.resource_metrics.extend(split_off);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;

    fn processor(body: &str) -> Promote {
        let text = format!("[[pipelines.metrics]]\nname = \"p\"\ntype = \"promote\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let ProcessorConfig::Promote(p) = c.metrics[0].0.clone() else { panic!("promote") };
        Promote::new(p)
    }

    #[test]
    fn selected_metrics_keep_listed_columns_and_map_the_rest() {
        let p = processor("metrics = [\"http_*\"]\nresource_attributes = [\"service.name\"]\n");
        let mut req = metrics_request(
            &[("service.name", "api"), ("host.name", "h1"), ("k8s.pod.uid", "u-1")],
            vec![gauge("http.requests", vec![point(1, 1.0, vec![])]), gauge("cpu.usage", vec![point(1, 1.0, vec![])])],
        );
        p.metrics(&mut req, &mut Report::default());
        assert_eq!(req.resource_metrics.len(), 2, "the resource is split");
        let untouched = &req.resource_metrics[0];
        assert_eq!(names(&ExportMetricsServiceRequest { resource_metrics: vec![untouched.clone()] }), ["cpu.usage"]);
        assert_eq!(untouched.resource.as_ref().expect("resource").attributes.len(), 3);
        let promoted = &req.resource_metrics[1];
        assert_eq!(names(&ExportMetricsServiceRequest { resource_metrics: vec![promoted.clone()] }), ["http.requests"]);
        let attrs = &promoted.resource.as_ref().expect("resource").attributes;
        assert_eq!(attr(attrs, "service.name"), Some("api"));
        assert_eq!(attr(attrs, "resource"), Some(r#"{"host.name":"h1","k8s.pod.uid":"u-1"}"#));
        assert!(otlp::get(attrs, "host.name").is_none());
        assert_eq!(promoted.scope_metrics[0].scope.as_ref().map(|s| s.name.as_str()), Some("e2e"));
        // Conversion sees exactly the promoted columns.
        let c = tidewater_ingest::metrics::convert(&req, &Default::default());
        let http = c.writes.iter().find(|w| w.table == "http_requests").expect("table");
        let cols: Vec<_> = http.batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(cols, ["time", "value", "resource", "service_name"]);
    }

    #[test]
    fn all_selected_is_changed_in_place() {
        let p = processor("resource_attributes = [\"service.name\"]\nmap_attribute = \"labels\"\n");
        let mut req = metrics_request(&[("service.name", "api")], vec![gauge("g", vec![point(1, 1.0, vec![])])]);
        p.metrics(&mut req, &mut Report::default());
        assert_eq!(req.resource_metrics.len(), 1);
        assert!(otlp::get(&req.resource_metrics[0].resource.as_ref().expect("r").attributes, "labels").is_none());
    }
}
