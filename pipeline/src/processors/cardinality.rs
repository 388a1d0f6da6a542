//! `cardinality_limit` (metrics): per metric, points of new series past
//! `max_series` active series are dropped and reported in the OTLP partial
//! success; series already active keep flowing. The bookkeeping is ingest's
//! [`SeriesLimiter`] (the same one behind `ingest.max_series_per_table`),
//! keyed by table name; a series is the metric plus the values of its
//! resource, scope and point attributes (a point attribute wins over a
//! resource attribute with the same key), as the pipeline sees them at this
//! processor.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use tidewater_ingest::cardinality::SeriesLimiter;

use crate::config::CardinalityLimitConfig;
use crate::otlp;
use crate::processor::{Processor, Report};

/// The `cardinality_limit` processor.
#[derive(Debug)]
pub struct CardinalityLimit {
    config: CardinalityLimitConfig,
    limiter: SeriesLimiter,
}

fn pair_hash(kv: &KeyValue) -> u64 {
    let mut h = DefaultHasher::new();
    kv.key.hash(&mut h);
    kv.value.as_ref().and_then(otlp::text).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Order-independent hashes of the attributes shared by a scope's points.
struct Base<'a> {
    by_key: HashMap<&'a str, u64>,
    sum: u64,
}

impl<'a> Base<'a> {
    fn new(levels: [&'a [KeyValue]; 2]) -> Self {
        let mut by_key = HashMap::new();
        for kv in levels.into_iter().flatten() {
            by_key.insert(kv.key.as_str(), pair_hash(kv));
        }
        let sum = by_key.values().fold(0u64, |a, h| a.wrapping_add(*h));
        Self { by_key, sum }
    }

    fn series(&self, point: &[KeyValue]) -> u64 {
        point.iter().fold(self.sum, |acc, kv| {
            let acc = self.by_key.get(kv.key.as_str()).map_or(acc, |h| acc.wrapping_sub(*h));
            acc.wrapping_add(pair_hash(kv))
        })
    }
}

impl CardinalityLimit {
    /// The processor for `config`.
    pub fn new(config: CardinalityLimitConfig) -> Self {
        let limiter = SeriesLimiter::new(config.max_series, Duration::from_secs(config.window_secs));
        Self { config, limiter }
    }
}

impl Processor for CardinalityLimit {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, report: &mut Report) {
        for rm in &mut req.resource_metrics {
            let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
            for sm in &mut rm.scope_metrics {
                let scope: &[KeyValue] = sm.scope.as_ref().map_or(&[], |s| &s.attributes);
                let base = Base::new([resource, scope]);
                for m in &mut sm.metrics {
                    if !self.config.metrics.selects(&m.name) {
                        continue;
                    }
                    let mut hashes = Vec::with_capacity(otlp::point_count(m));
                    otlp::for_each_point_attributes(m, |attrs| hashes.push(base.series(attrs)));
                    // Batched requests repeat a series per point: admit each series once.
                    let mut series = hashes.clone();
                    series.sort_unstable();
                    series.dedup();
                    let Some(table) = otlp::table_name(&m.name) else { continue };
                    let admitted = self.limiter.admit(&table, &series);
                    if admitted.iter().all(|a| *a) {
                        continue;
                    }
                    let mut i = 0;
                    let dropped = otlp::retain_points(m, |_| {
                        i += 1;
                        let h = hashes.get(i - 1).copied().unwrap_or_default();
                        series.binary_search(&h).ok().and_then(|j| admitted.get(j).copied()).unwrap_or(true)
                    });
                    report.refuse(
                        dropped,
                        format!(
                            "{}: {dropped} points of new series over the limit of {} series (pipeline processor {:?})",
                            m.name, self.config.max_series, self.config.name
                        ),
                    );
                }
            }
        }
        otlp::prune_metrics(req);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PipelinesConfig, ProcessorConfig};
    use crate::otlp::fixtures::*;

    fn processor(body: &str) -> CardinalityLimit {
        let text = format!("[[pipelines.metrics]]\nname = \"c\"\ntype = \"cardinality_limit\"\n{body}");
        let c = PipelinesConfig::from_toml(&text, "test").expect("config");
        let ProcessorConfig::CardinalityLimit(l) = c.metrics[0].0.clone() else { panic!("limit") };
        CardinalityLimit::new(l)
    }

    fn request(metric: &str, users: &[&str]) -> ExportMetricsServiceRequest {
        let points = users.iter().map(|u| point(1, 1.0, attrs(&[("user", u)]))).collect();
        metrics_request(&[("service.name", "api")], vec![sum(metric, points)])
    }

    #[test]
    fn new_series_past_the_limit_are_refused_known_ones_flow() {
        let c = processor("max_series = 2\nmetrics = [\"http.*\"]\n");
        let mut report = Report::default();
        let mut req = request("http.requests", &["a", "b", "a"]);
        c.metrics(&mut req, &mut report);
        assert_eq!((otlp::metric_points(&req), report.refused), (3, 0));
        let mut req = request("http.requests", &["c", "a", "d", "b"]);
        c.metrics(&mut req, &mut report);
        assert_eq!((otlp::metric_points(&req), report.refused), (2, 2));
        assert!(report.reasons[0].contains("limit of 2 series"), "{:?}", report.reasons);
        // Another metric has its own budget; an unselected one has none.
        let mut other = request("http.errors", &["x", "y"]);
        c.metrics(&mut other, &mut report);
        assert_eq!(otlp::metric_points(&other), 2);
        let mut free = request("cpu.usage", &["1", "2", "3", "4"]);
        c.metrics(&mut free, &mut report);
        assert_eq!(otlp::metric_points(&free), 4);
    }

    #[test]
    fn a_series_is_the_union_of_resource_and_point_attributes() {
        let c = processor("max_series = 1\n");
        let mut report = Report::default();
        let mut a = request("m", &["a"]);
        c.metrics(&mut a, &mut report);
        // Same point attributes, another resource: another series.
        let mut b =
            metrics_request(&[("service.name", "web")], vec![sum("m", vec![point(1, 1.0, attrs(&[("user", "a")]))])]);
        c.metrics(&mut b, &mut report);
        assert_eq!(report.refused, 1);
        assert!(b.resource_metrics.is_empty());
        // The point's service.name overrides the resource's: the first series again.
        let mut same = metrics_request(
            &[("service.name", "web")],
            vec![sum("m", vec![point(1, 1.0, attrs(&[("user", "a"), ("service.name", "api")]))])],
        );
        c.metrics(&mut same, &mut report);
        assert_eq!(otlp::metric_points(&same), 1);
    }
}
