//! TSBS devops "cpu-only": hosts with 10 tags and 10 cpu fields.
//!
//! Tags are drawn like TSBS does (`pkg/data/usecases/devops/host.go`):
//! hostname `host_N`, region and one of its datacenters, rack 0-99, os,
//! arch, team, service 0-19, service_version 0-1, service_environment.
//! Each field is an independent random walk with N(0, 1) steps clamped to
//! [0, 100], starting uniformly in [0, 100], emitted rounded to an integer
//! every tick. Metric names are `cpu_<field>` (as TSBS' Prometheus and
//! VictoriaMetrics loaders name them); tags are resource attributes over
//! OTLP and labels over remote write.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::model::{Attrs, MetricBatch, Points, Series, Value};
use super::plan::{Cut, Plan};
use super::rng::{entity_rng, normal, pick, STREAM_TSBS};
use super::workload::{Batch, Shard, Spec};

/// The ten cpu fields, in TSBS order.
pub const FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_nice",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "usage_guest_nice",
];

/// The metric names: `cpu_` + field.
pub const METRICS: [&str; 10] = [
    "cpu_usage_user",
    "cpu_usage_system",
    "cpu_usage_idle",
    "cpu_usage_nice",
    "cpu_usage_iowait",
    "cpu_usage_irq",
    "cpu_usage_softirq",
    "cpu_usage_steal",
    "cpu_usage_guest",
    "cpu_usage_guest_nice",
];

/// The ten tag keys, in TSBS order.
pub const TAGS: [&str; 10] = [
    "hostname",
    "region",
    "datacenter",
    "rack",
    "os",
    "arch",
    "team",
    "service",
    "service_version",
    "service_environment",
];

const REGIONS: [(&str, &[&str]); 9] = [
    ("us-east-1", &["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"]),
    ("us-west-1", &["us-west-1a", "us-west-1b"]),
    ("us-west-2", &["us-west-2a", "us-west-2b", "us-west-2c"]),
    ("eu-west-1", &["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ("eu-central-1", &["eu-central-1a", "eu-central-1b"]),
    ("ap-southeast-1", &["ap-southeast-1a", "ap-southeast-1b"]),
    ("ap-southeast-2", &["ap-southeast-2a", "ap-southeast-2b"]),
    ("ap-northeast-1", &["ap-northeast-1a", "ap-northeast-1c"]),
    ("sa-east-1", &["sa-east-1a", "sa-east-1b", "sa-east-1c"]),
];
const TEAMS: [&str; 4] = ["SF", "NYC", "LON", "CHI"];
const OSES: [&str; 3] = ["Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"];
const ARCHES: [&str; 2] = ["x64", "x86"];
const ENVIRONMENTS: [&str; 3] = ["production", "staging", "test"];

/// The host name of host `id` (`host_0`, `host_1`, ...).
pub fn hostname(id: u64) -> String {
    format!("host_{id}")
}

/// One simulated host: its tags and the state of its ten walks.
#[derive(Debug, Clone)]
pub struct Host {
    /// The ten tags, in [`TAGS`] order.
    pub tags: Attrs,
    walks: [f64; 10],
    rng: ChaCha8Rng,
}

impl Host {
    /// Host `id` of the dataset with this seed.
    pub fn new(seed: u64, id: u64) -> Self {
        let mut rng = entity_rng(seed, STREAM_TSBS, id);
        let (region, datacenters) = *pick(&mut rng, &REGIONS);
        let datacenter = *pick(&mut rng, datacenters);
        let rack = rng.random_range(0..100u32).to_string();
        let arch = *pick(&mut rng, &ARCHES);
        let os = *pick(&mut rng, &OSES);
        let service = rng.random_range(0..20u32).to_string();
        let service_version = rng.random_range(0..2u32).to_string();
        let environment = *pick(&mut rng, &ENVIRONMENTS);
        let team = *pick(&mut rng, &TEAMS);
        let values = [
            hostname(id),
            region.to_string(),
            datacenter.to_string(),
            rack,
            os.to_string(),
            arch.to_string(),
            team.to_string(),
            service,
            service_version,
            environment.to_string(),
        ];
        let tags: Attrs = TAGS.iter().zip(values).map(|(k, v)| (k.to_string(), v)).collect::<Vec<_>>().into();
        let walks = std::array::from_fn(|_| rng.random::<f64>() * 100.0);
        Self { tags, walks, rng }
    }

    /// This tick's ten values, then one step of each walk.
    pub fn tick(&mut self) -> [i64; 10] {
        let out = self.walks.map(|w| w.round() as i64);
        for w in &mut self.walks {
            *w = (*w + normal(&mut self.rng)).clamp(0.0, 100.0);
        }
        out
    }
}

/// The hosts of one sender.
pub struct TsbsShard {
    hosts: Vec<Host>,
    plan: Plan,
    spec: Spec,
}

impl TsbsShard {
    /// A shard of the hosts `ids`.
    pub fn new(spec: &Spec, ids: Vec<u64>, cut: Cut) -> Self {
        let hosts: Vec<Host> = ids.into_iter().map(|id| Host::new(spec.seed, id)).collect();
        let plan = Plan::new(hosts.len(), FIELDS.len(), spec.ticks, cut);
        Self { hosts, plan, spec: spec.clone() }
    }
}

impl Shard for TsbsShard {
    fn next_batch(&mut self) -> Option<Batch> {
        let (units, ticks) = self.plan.next_request()?;
        let n = (ticks.end - ticks.start) as usize;
        let mut series = Vec::with_capacity(units.len() * FIELDS.len());
        for host in &mut self.hosts[units] {
            let mut points: [Vec<(i64, Value)>; 10] = std::array::from_fn(|_| Vec::with_capacity(n));
            for t in ticks.clone() {
                let time = self.spec.tick_time(t);
                for (field, v) in points.iter_mut().zip(host.tick()) {
                    field.push((time, Value::Int(v)));
                }
            }
            for (metric, points) in METRICS.iter().zip(points) {
                series.push(Series {
                    metric,
                    unit: "",
                    resource: host.tags.clone(),
                    attrs: Attrs::from(Vec::new()),
                    points: Points::Gauge(points),
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
    use crate::loadgen::payload::Target;
    use crate::loadgen::workload::{shards, WorkloadKind};

    fn spec(seed: u64, hosts: usize, ticks: u64) -> Spec {
        Spec {
            kind: WorkloadKind::TsbsCpu,
            seed,
            scale: hosts,
            start_ns: 1_700_000_005_000_000_000,
            interval_ns: 10_000_000_000,
            ticks,
            routes: 0,
            logs_per_tick: 0,
        }
    }

    /// Every (metric, tags, time, value) of a run, sorted.
    fn samples(spec: &Spec, workers: usize, batch: usize) -> Vec<(String, String, i64, i64)> {
        let mut out = Vec::new();
        for mut shard in shards(spec, Target::RemoteWrite, workers, batch, u64::MAX).expect("shards") {
            while let Some(Batch::Metrics(b)) = shard.next_batch() {
                for s in b.series {
                    let Points::Gauge(points) = s.points else { panic!("gauge") };
                    let tags = format!("{:?}", s.resource);
                    out.extend(
                        points.into_iter().map(|(t, v)| (s.metric.to_string(), tags.clone(), t, v.as_f64() as i64)),
                    );
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn same_seed_same_data_whatever_the_batching() {
        let s = spec(42, 7, 50);
        let a = samples(&s, 1, 10_000);
        assert_eq!(a.len(), 7 * 10 * 50);
        assert_eq!(a, samples(&s, 3, 77));
        assert_eq!(a, samples(&s, 7, 5));
        assert_ne!(a, samples(&spec(43, 7, 50), 1, 10_000));
    }

    #[test]
    fn values_are_integers_in_range_and_walk() {
        let mut host = Host::new(1, 3);
        assert_eq!(host.tags[0], ("hostname".to_string(), "host_3".to_string()));
        assert_eq!(host.tags.len(), 10);
        let ticks: Vec<[i64; 10]> = (0..2_000).map(|_| host.tick()).collect();
        assert!(ticks.iter().flatten().all(|v| (0..=100).contains(v)));
        // A walk with N(0,1) steps moves by at most a few units per tick.
        assert!(ticks.windows(2).all(|w| w[0].iter().zip(w[1]).all(|(a, b)| (a - b).abs() <= 7)));
        // ... and does move.
        assert!(ticks.windows(2).any(|w| w[0] != w[1]));
        let region = &host.tags[1].1;
        let dc = &host.tags[2].1;
        assert!(dc.starts_with(region.as_str()), "{dc} in {region}");
    }

    #[test]
    fn batches_hold_about_batch_points_in_time_order() {
        let s = spec(1, 100, 90);
        let mut all = shards(&s, Target::OtlpGrpc, 4, 10_000, u64::MAX).expect("shards");
        assert_eq!(all[0].requests(), 3);
        let Some(Batch::Metrics(b)) = all[0].next_batch() else { panic!("batch") };
        assert_eq!(b.points(), 25 * 10 * 40);
        let Points::Gauge(p) = &b.series[0].points else { panic!("gauge") };
        assert!(p.windows(2).all(|w| w[1].0 - w[0].0 == 10_000_000_000));
        assert_eq!(p[0].0, s.start_ns);
    }
}
