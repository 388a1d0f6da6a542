//! OTel HTTP server metrics for N services x M routes, as an instrumented
//! web framework reports them every tick:
//!
//! - `http.server.request.count`: cumulative monotonic counter per route and
//!   status code (200, 500);
//! - `http.server.request.duration` (s): cumulative histogram with the
//!   semantic-conventions bucket bounds, per route and status code;
//! - `http.server.active_requests`: gauge per route.
//!
//! Each route has its own request rate (0.5-20 requests/s), median latency
//! (5-300 ms, log-normal) and error ratio (0.5-3 %), and its own random
//! stream, so the data does not depend on how it is cut into requests.

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::model::{Attrs, HistogramPoint, MetricBatch, Points, Series, Value};
use super::payload::Target;
use super::plan::{Cut, Plan};
use super::rng::{entity_rng, log_normal, normal, STREAM_OTEL_HTTP};
use super::workload::{Batch, Shard, Spec};

/// Request counter name.
pub const REQUESTS: &str = "http.server.request.count";
/// Request duration histogram name.
pub const DURATION: &str = "http.server.request.duration";
/// Active requests gauge name.
pub const ACTIVE: &str = "http.server.active_requests";
/// Bucket bounds (seconds) recommended by the HTTP semantic conventions.
pub const BOUNDS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// Status codes with a series of their own.
const STATUSES: [&str; 2] = ["200", "500"];
/// Series per route: counter and histogram per status, one gauge.
const SERIES_PER_ROUTE: usize = 2 * STATUSES.len() + 1;

const SERVICES: [&str; 16] = [
    "checkout",
    "cart",
    "payment",
    "catalog",
    "search",
    "users",
    "auth",
    "shipping",
    "inventory",
    "recommendation",
    "reviews",
    "orders",
    "notifications",
    "pricing",
    "gateway",
    "media",
];

const ROUTES: [(&str, &str); 12] = [
    ("GET", "/api/v1/items"),
    ("GET", "/api/v1/items/{id}"),
    ("POST", "/api/v1/items"),
    ("PUT", "/api/v1/items/{id}"),
    ("DELETE", "/api/v1/items/{id}"),
    ("GET", "/api/v1/users/{id}"),
    ("POST", "/api/v1/login"),
    ("GET", "/api/v1/search"),
    ("POST", "/api/v1/orders"),
    ("GET", "/api/v1/orders/{id}"),
    ("GET", "/health"),
    ("GET", "/"),
];

/// Name of service `id`: `checkout`, `cart`, ..., then `checkout-1`, ...
pub fn service_name(id: u64) -> String {
    let base = SERVICES[id as usize % SERVICES.len()];
    match id as usize / SERVICES.len() {
        0 => base.to_string(),
        n => format!("{base}-{n}"),
    }
}

/// Points (OTLP) or samples (remote write) per service per tick.
pub fn per_service_tick(target: Target, routes: usize) -> usize {
    match target {
        // Counters, histograms as buckets (+Inf included) + _sum + _count, the gauge.
        Target::RemoteWrite => routes * (STATUSES.len() + STATUSES.len() * (BOUNDS.len() + 3) + 1),
        Target::OtlpGrpc | Target::OtlpHttp => routes * SERIES_PER_ROUTE,
    }
}

/// One route of one service: its traffic model and cumulative state.
struct Route {
    method: &'static str,
    route: String,
    rate: f64,
    median: f64,
    error_ratio: f64,
    active: f64,
    counts: [u64; 2],
    sums: [f64; 2],
    buckets: [Vec<u64>; 2],
    rng: ChaCha8Rng,
}

impl Route {
    fn new(seed: u64, service: u64, index: usize) -> Self {
        let mut rng = entity_rng(seed, STREAM_OTEL_HTTP, (service << 16) | index as u64);
        let (method, template) = ROUTES[index % ROUTES.len()];
        let route = match index / ROUTES.len() {
            0 => template.to_string(),
            n => format!("/v{}{template}", n + 1),
        };
        let rate = rng.random_range(0.5..20.0);
        let median = 0.005 * (60.0f64).powf(rng.random::<f64>()); // 5 ms .. 300 ms, log-uniform
        let error_ratio = rng.random_range(0.005..0.03);
        Self {
            method,
            route,
            rate,
            median,
            error_ratio,
            active: rate * median,
            counts: [0; 2],
            sums: [0.0; 2],
            buckets: std::array::from_fn(|_| vec![0; BOUNDS.len() + 1]),
            rng,
        }
    }

    /// Serve one interval's requests.
    fn tick(&mut self, interval_s: f64) {
        let expected = self.rate * interval_s;
        let n = (expected * (1.0 + 0.2 * normal(&mut self.rng))).round().max(0.0) as u64;
        for _ in 0..n {
            let status = usize::from(self.rng.random::<f64>() < self.error_ratio);
            // Failed requests are slower (timeouts, retries inside).
            let median = if status == 1 { self.median * 3.0 } else { self.median };
            let d = log_normal(&mut self.rng, median, 0.6);
            self.counts[status] += 1;
            self.sums[status] += d;
            let bucket = BOUNDS.iter().position(|b| d <= *b).unwrap_or(BOUNDS.len());
            self.buckets[status][bucket] += 1;
        }
        self.active = (self.active + normal(&mut self.rng)).clamp(0.0, self.rate * self.median * 10.0 + 5.0);
    }
}

/// A service: its resource and routes.
struct Service {
    resource: Attrs,
    routes: Vec<Route>,
}

impl Service {
    fn new(seed: u64, id: u64, routes: usize) -> Self {
        let name = service_name(id);
        let resource: Attrs = vec![
            ("service.name".to_string(), name.clone()),
            ("service.version".to_string(), format!("1.{}.0", id % 7)),
            ("service.instance.id".to_string(), format!("{name}-{id}")),
            ("host.name".to_string(), format!("node-{}", id % 13)),
            ("deployment.environment.name".to_string(), "production".to_string()),
        ]
        .into();
        Self { resource, routes: (0..routes).map(|r| Route::new(seed, id, r)).collect() }
    }
}

/// The services of one sender.
pub struct OtelHttpShard {
    services: Vec<Service>,
    plan: Plan,
    spec: Spec,
    bounds: Arc<[f64]>,
}

impl OtelHttpShard {
    /// A shard of the services `ids`.
    pub fn new(spec: &Spec, target: Target, ids: Vec<u64>, cut: Cut) -> Self {
        let services: Vec<Service> = ids.into_iter().map(|id| Service::new(spec.seed, id, spec.routes)).collect();
        let plan = Plan::new(services.len(), per_service_tick(target, spec.routes), spec.ticks, cut);
        Self { services, plan, spec: spec.clone(), bounds: Arc::from(BOUNDS.to_vec()) }
    }
}

fn attrs(pairs: &[(&str, &str)]) -> Attrs {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>().into()
}

impl Shard for OtelHttpShard {
    fn next_batch(&mut self) -> Option<Batch> {
        let (units, ticks) = self.plan.next_request()?;
        let interval_s = self.spec.interval_ns as f64 / 1e9;
        let start_ns = self.spec.start_ns - self.spec.interval_ns;
        let mut series = Vec::new();
        for svc in &mut self.services[units] {
            for r in &mut svc.routes {
                let mut counters: [Vec<(i64, Value)>; 2] = Default::default();
                let mut hists: [Vec<HistogramPoint>; 2] = Default::default();
                let mut active = Vec::new();
                for t in ticks.clone() {
                    let time = self.spec.tick_time(t);
                    r.tick(interval_s);
                    for s in 0..STATUSES.len() {
                        counters[s].push((time, Value::Int(r.counts[s] as i64)));
                        hists[s].push(HistogramPoint {
                            time_ns: time,
                            count: r.counts[s],
                            sum: r.sums[s],
                            bucket_counts: r.buckets[s].clone(),
                        });
                    }
                    active.push((time, Value::Int(r.active.round() as i64)));
                }
                for (s, (c, h)) in counters.into_iter().zip(hists).enumerate() {
                    let a = attrs(&[
                        ("http.request.method", r.method),
                        ("http.route", &r.route),
                        ("http.response.status_code", STATUSES[s]),
                    ]);
                    series.push(Series {
                        metric: REQUESTS,
                        unit: "{request}",
                        resource: svc.resource.clone(),
                        attrs: a.clone(),
                        points: Points::Counter { start_ns, points: c },
                    });
                    series.push(Series {
                        metric: DURATION,
                        unit: "s",
                        resource: svc.resource.clone(),
                        attrs: a,
                        points: Points::Histogram { start_ns, bounds: self.bounds.clone(), points: h },
                    });
                }
                series.push(Series {
                    metric: ACTIVE,
                    unit: "{request}",
                    resource: svc.resource.clone(),
                    attrs: attrs(&[("http.request.method", r.method), ("http.route", &r.route)]),
                    points: Points::Gauge(active),
                });
            }
        }
        Some(Batch::Metrics(MetricBatch { series }))
    }

    fn requests(&self) -> u64 {
        self.plan.requests()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::workload::{shards, WorkloadKind};

    fn spec() -> Spec {
        Spec {
            kind: WorkloadKind::OtelHttp,
            seed: 9,
            scale: 3,
            start_ns: 1_700_000_000_000_000_000,
            interval_ns: 10_000_000_000,
            ticks: 12,
            routes: 14,
            logs_per_tick: 0,
        }
    }

    fn all(target: Target, workers: usize, batch: usize) -> Vec<Series> {
        let mut out = Vec::new();
        for mut shard in shards(&spec(), target, workers, batch, u64::MAX).expect("shards") {
            while let Some(Batch::Metrics(b)) = shard.next_batch() {
                out.extend(b.series);
            }
        }
        out
    }

    #[test]
    fn counters_are_cumulative_and_histograms_consistent() {
        let series = all(Target::OtlpHttp, 1, 100_000);
        assert_eq!(series.len(), 3 * 14 * SERIES_PER_ROUTE);
        assert_eq!(
            series.iter().map(|s| s.points.len()).sum::<usize>(),
            3 * per_service_tick(Target::OtlpHttp, 14) * 12
        );
        for s in &series {
            match &s.points {
                Points::Counter { points, .. } => {
                    assert!(points.windows(2).all(|w| w[0].1.as_f64() <= w[1].1.as_f64()))
                }
                Points::Histogram { points, bounds, .. } => {
                    for p in points {
                        assert_eq!(p.bucket_counts.len(), bounds.len() + 1);
                        assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                    }
                }
                Points::Gauge(points) => assert!(points.iter().all(|(_, v)| v.as_f64() >= 0.0)),
            }
        }
        // (method, route) pairs are distinct per service.
        let routes: std::collections::HashSet<String> =
            series.iter().filter(|s| s.metric == ACTIVE).map(|s| format!("{}{:?}", s.resource[0].1, s.attrs)).collect();
        assert_eq!(routes.len(), 3 * 14, "{routes:?}");
    }

    #[test]
    fn same_data_whatever_the_batching() {
        let key = |s: &Series| format!("{}{:?}{:?}", s.metric, s.resource, s.attrs);
        let flatten = |series: Vec<Series>| {
            let mut v: Vec<(String, String)> = Vec::new();
            for s in series {
                let k = key(&s);
                let points = match &s.points {
                    Points::Gauge(p) | Points::Counter { points: p, .. } => {
                        p.iter().map(|x| format!("{x:?}")).collect::<Vec<_>>()
                    }
                    Points::Histogram { points, .. } => points.iter().map(|x| format!("{x:?}")).collect(),
                };
                v.extend(points.into_iter().map(|p| (k.clone(), p)));
            }
            v.sort();
            v
        };
        let a = flatten(all(Target::OtlpGrpc, 1, 1_000_000));
        assert_eq!(a, flatten(all(Target::OtlpGrpc, 2, 50)));
        let samples: usize = all(Target::RemoteWrite, 1, 1_000).iter().map(|s| s.points.samples()).sum();
        assert_eq!(samples, 3 * per_service_tick(Target::RemoteWrite, 14) * 12);
    }
}
