//! `cardinality_limit` (metrics): per metric, points of new series past
//! `max_series` active series are dropped and reported in the OTLP partial
//! success; series already active keep flowing. The bookkeeping is ingest's
//! [`SeriesLimiter`] (the same one behind `ingest.max_series_per_table`),
//! keyed by table name; a series is the metric plus the values of its
//! resource, scope and point attributes (a point attribute wins over a
//! resource attribute with the same key), as the pipeline sees them at this
//! processor.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::Metric;
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

/// Series hashes must be the same from request to request: a fixed seed.
const SERIES_SEED: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x7469_6465_7761_7465);

fn pair_hash(kv: &KeyValue) -> u64 {
    let mut h = SERIES_SEED.build_hasher();
    kv.key.hash(&mut h);
    kv.value.as_ref().and_then(otlp::text).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// Order-independent hashes of the attributes shared by a scope's points,
/// worked out once per scope: `(key, pair hash)` sorted by key (one per key,
/// the scope's winning over the resource's), and their sum.
struct Base<'a> {
    by_key: Vec<(&'a str, u64)>,
    sum: u64,
}

impl<'a> Base<'a> {
    fn new(levels: [&'a [KeyValue]; 2]) -> Self {
        let mut by_key: Vec<(&str, u64)> =
            levels.into_iter().flatten().map(|kv| (kv.key.as_str(), pair_hash(kv))).collect();
        // Stable: of equal keys the last written (scope after resource) is kept.
        by_key.sort_by(|a, b| a.0.cmp(b.0));
        let mut deduped: Vec<(&str, u64)> = Vec::with_capacity(by_key.len());
        for e in by_key {
            match deduped.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => deduped.push(e),
            }
        }
        let sum = deduped.iter().fold(0u64, |a, (_, h)| a.wrapping_add(*h));
        Self { by_key: deduped, sum }
    }

    /// The series of a point: the shared pairs, the point's own replacing
    /// those with the same key.
    fn series(&self, point: &[KeyValue]) -> u64 {
        point.iter().fold(self.sum, |acc, kv| {
            let acc = match self.by_key.binary_search_by(|(k, _)| (*k).cmp(kv.key.as_str())) {
                Ok(i) => acc.wrapping_sub(self.by_key[i].1),
                Err(_) => acc,
            };
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

/// The series of one table seen in a request.
#[derive(Default)]
struct TableSeries {
    /// Series hashes, sorted and deduplicated once collected.
    series: Vec<u64>,
    /// Series refused by the limiter (sorted); empty when all were admitted.
    refused: Vec<u64>,
}

impl CardinalityLimit {
    /// Calls `f(table index, metric, base)` for every selected metric with a
    /// table name, in request order; `base` holds the hashes of its scope's
    /// shared attributes (worked out once per scope).
    fn for_each_selected<'r>(
        &self,
        req: &'r ExportMetricsServiceRequest,
        tables: &mut Tables,
        mut f: impl FnMut(usize, &'r Metric, &Base<'r>, &mut Tables),
    ) {
        for rm in &req.resource_metrics {
            let resource: &[KeyValue] = rm.resource.as_ref().map_or(&[], |r| &r.attributes);
            for sm in &rm.scope_metrics {
                let scope: &[KeyValue] = sm.scope.as_ref().map_or(&[], |s| &s.attributes);
                let mut base: Option<Base<'r>> = None;
                for m in sm.metrics.iter().filter(|m| self.config.metrics.selects(&m.name)) {
                    let Some(t) = tables.index(&m.name) else { continue };
                    let base = base.get_or_insert_with(|| Base::new([resource, scope]));
                    f(t, m, base, tables);
                }
            }
        }
    }
}

/// The tables of one request's selected metrics.
#[derive(Default)]
struct Tables {
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    list: Vec<(String, TableSeries)>,
}

impl Tables {
    /// The index of the table of metric `name` (None: no table name).
    fn index(&mut self, name: &str) -> Option<usize> {
        let table = otlp::table_name(name)?;
        Some(match self.index.get(table.as_ref()) {
            Some(t) => *t,
            None => {
                let name = Cow::into_owned(table);
                self.index.insert(name.clone(), self.list.len());
                self.list.push((name, TableSeries::default()));
                self.list.len() - 1
            }
        })
    }
}

impl Processor for CardinalityLimit {
    fn metrics(&self, req: &mut ExportMetricsServiceRequest, report: &mut Report) {
        // Pass 1: the distinct series of every table (shared attributes hashed
        // once per scope; runs of points of one series pushed once), so that
        // the limiter is asked once per table and request, however many
        // resources repeat the metric.
        let mut tables = Tables::default();
        self.for_each_selected(req, &mut tables, |t, m, base, tables| {
            let series = &mut tables.list[t].1.series;
            otlp::for_each_point_attributes_ref(m, |attrs| {
                let h = base.series(attrs);
                if series.last() != Some(&h) {
                    series.push(h);
                }
            });
        });
        let mut any_refused = false;
        for (table, ts) in &mut tables.list {
            ts.series.sort_unstable();
            ts.series.dedup();
            let admitted = self.limiter.admit(table, &ts.series);
            if admitted.iter().all(|a| *a) {
                continue;
            }
            ts.refused = ts.series.iter().zip(&admitted).filter(|(_, a)| !**a).map(|(h, _)| *h).collect();
            any_refused = true;
        }
        if !any_refused {
            return;
        }
        // Pass 2 (only when something was refused): which points of each
        // metric to drop, by recomputing their series, then drop them.
        let mut drops: Vec<Vec<bool>> = Vec::new();
        self.for_each_selected(req, &mut tables, |t, m, base, tables| {
            let refused = &tables.list[t].1.refused;
            let mut keep = Vec::with_capacity(otlp::point_count(m));
            otlp::for_each_point_attributes_ref(m, |attrs| {
                keep.push(refused.is_empty() || refused.binary_search(&base.series(attrs)).is_err())
            });
            drops.push(keep);
        });
        let mut next = drops.into_iter();
        let metrics = req.resource_metrics.iter_mut().flat_map(|r| &mut r.scope_metrics).flat_map(|s| &mut s.metrics);
        let visited = |m: &Metric| self.config.metrics.selects(&m.name) && otlp::table_name(&m.name).is_some();
        for m in metrics.filter(|m| visited(m)) {
            let Some(keep) = next.next() else { break };
            if keep.iter().all(|k| *k) {
                continue;
            }
            let mut i = 0;
            let dropped = otlp::retain_points(m, |_| {
                i += 1;
                keep.get(i - 1).copied().unwrap_or(true)
            });
            report.refuse(
                dropped,
                format!(
                    "{}: {dropped} points of new series over the limit of {} series (pipeline processor {:?})",
                    m.name, self.config.max_series, self.config.name
                ),
            );
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
