//! `rename` (metrics): exact names first, then the first regex rule that
//! matches; the table name follows the new name.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

use crate::config::RenameConfig;
use crate::processor::{Processor, Report};

/// The `rename` processor.
#[derive(Debug)]
pub struct Rename {
    config: RenameConfig,
}

impl Rename {
    /// The processor for `config`.
    pub fn new(config: RenameConfig) -> Self {
        Self { config }
    }

    /// The new name of `name`, if a rule applies.
    pub fn rename(&self, name: &str) -> Option<String> {
        if let Some(n) = self.config.names.get(name) {
            return Some(n.clone());
        }
        self.config
            .regex
            .iter()
            .find(|r| r.pattern.is_match(name))
            .map(|r| r.pattern.regex().replace(name, r.replacement.as_str()).into_owned())
    }
}

impl Processor for Rename {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, _report: &mut Report) {
        // The same names repeat in every resource (one per host or pod):
        // each distinct name is looked up (regex run) once per request.
        let mut seen: HashMap<String, Option<String>, foldhash::fast::RandomState> = HashMap::default();
        for m in req.resource_metrics.iter_mut().flat_map(|r| &mut r.scope_metrics).flat_map(|s| &mut s.metrics) {
            let new = match seen.get(m.name.as_str()) {
                Some(new) => new,
                None => seen.entry(m.name.clone()).or_insert_with(|| self.rename(&m.name)),
            };
            if let Some(n) = new {
                // Reuses the name's buffer when it is large enough.
                m.name.clear();
                m.name.push_str(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;

    #[test]
    fn exact_names_win_then_the_first_matching_rule() {
        let text = r#"[[pipelines.metrics]]
name = "r"
type = "rename"
names = { "http.server.duration" = "http.server.request.duration" }
regex = [
  { pattern = "^legacy_(.*)$", replacement = "app_$1" },
  { pattern = "^legacy", replacement = "never" },
]
"#;
        let c = PipelinesConfig::from_toml(text, "test").expect("config");
        let ProcessorConfig::Rename(r) = c.metrics[0].0.clone() else { panic!("rename") };
        let r = Rename::new(r);
        let mut req = metrics_request(
            &[],
            vec![
                gauge("http.server.duration", vec![point(1, 1.0, vec![])]),
                gauge("legacy_queue_depth", vec![point(1, 1.0, vec![])]),
                gauge("untouched", vec![point(1, 1.0, vec![])]),
            ],
        );
        r.metrics(&mut req, &mut Report::default());
        assert_eq!(names(&req), ["http.server.request.duration", "app_queue_depth", "untouched"]);
    }
}
