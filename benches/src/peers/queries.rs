//! The TSBS devops query types as Tidewater SQL and as PromQL.
//!
//! Remote write puts each metric in its own table (`cpu_usage_user`, ...)
//! with the labels as columns, so a query over several fields is a
//! `UNION ALL` of one aggregate per table. The PromQL forms follow TSBS'
//! VictoriaMetrics generator; Prometheus drops metric names in
//! `max_over_time` & co. and has no `keep_metric_names`, so for several
//! metrics it gets one `label_replace(...)` per metric joined with `or`,
//! while VictoriaMetrics gets its own `keep_metric_names` form.
//!
//! Alignment: the data starts 5 s after an hour, so no sample sits on a
//! bucket edge. SQL buckets are `[t, t+step)`; a PromQL range function at
//! evaluation time `T` covers `(T-step, T]`, i.e. the SQL bucket `T-step`,
//! so range queries start one step after the SQL range and times are
//! compared as `T - step` ([`TimeKey`]). Windows longer than the dataset
//! (TSBS uses 8 h and 12 h) are clipped to it.

use rand::Rng;

use crate::loadgen::rng::{entity_rng, STREAM_QUERIES};
use crate::loadgen::tsbs::{hostname, Host, METRICS};
use crate::time::rfc3339;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// The dataset the queries run on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dataset {
    /// Hosts.
    pub hosts: usize,
    /// Seed of the data and of the query parameters.
    pub seed: u64,
    /// An hour boundary, Unix ms; the first sample is 5 s later.
    pub base_ms: i64,
    /// Data time covered, ms (a whole number of hours).
    pub duration_ms: i64,
    /// Sample interval, ms.
    pub interval_ms: i64,
}

impl Dataset {
    /// Offset of the first sample after `base_ms`.
    pub const OFFSET_MS: i64 = 5_000;

    /// End of the data (exclusive), Unix ms.
    pub fn end_ms(&self) -> i64 {
        self.base_ms + self.duration_ms
    }

    /// Number of samples per series.
    pub fn ticks(&self) -> u64 {
        (self.duration_ms / self.interval_ms.max(1)) as u64
    }

    /// Total samples (hosts x 10 fields x ticks).
    pub fn samples(&self) -> u64 {
        self.hosts as u64 * METRICS.len() as u64 * self.ticks()
    }
}

/// How answer times are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKey {
    /// SQL times floored to `step_ms`; PromQL evaluation times minus `step_ms`.
    Bucket {
        /// Bucket width, ms.
        step_ms: i64,
    },
    /// Times are not part of the answer (last point per series).
    Ignore,
}

/// A PromQL query with its evaluation times.
#[derive(Debug, Clone, PartialEq)]
pub struct PromQuery {
    /// The expression.
    pub expr: String,
    /// Range or instant.
    pub eval: Eval,
    /// The label that holds the metric name in the answer (the key `metric`):
    /// `__name__`, or `metric` where the query sets it with `label_replace`.
    pub name_label: &'static str,
}

impl PromQuery {
    /// The answer label of key `key`.
    pub fn label<'a>(&self, key: &'a str) -> &'a str {
        if key == METRIC_KEY {
            self.name_label
        } else {
            key
        }
    }
}

/// When a PromQL query is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eval {
    /// `/api/v1/query_range` from `start_ms` to `end_ms` (inclusive) every `step_ms`.
    Range {
        /// First evaluation, Unix ms.
        start_ms: i64,
        /// Last evaluation, Unix ms.
        end_ms: i64,
        /// Step, ms.
        step_ms: i64,
    },
    /// `/api/v1/query` at `time_ms`.
    Instant {
        /// Evaluation time, Unix ms.
        time_ms: i64,
    },
}

/// One TSBS query type, instantiated for a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryCase {
    /// TSBS name (`single-groupby-1-1-1`, ...).
    pub name: &'static str,
    /// What it asks, in words.
    pub description: String,
    /// Tidewater SQL.
    pub sql: String,
    /// PromQL for Prometheus.
    pub promql: PromQuery,
    /// PromQL (MetricsQL) for VictoriaMetrics.
    pub metricsql: PromQuery,
    /// Columns forming the answer's key: SQL column names, and PromQL label
    /// names except [`METRIC_KEY`] (see [`PromQuery::label`]).
    pub keys: Vec<&'static str>,
    /// How times are compared.
    pub time: TimeKey,
}

/// The key naming the metric (the SQL column `metric`).
pub const METRIC_KEY: &str = "metric";

const NAME: &str = "__name__";

fn ts(ms: i64) -> String {
    format!("TIMESTAMP '{}'", rfc3339(ms.div_euclid(1_000)))
}

fn in_list(hosts: &[String]) -> String {
    hosts.iter().map(|h| format!("'{h}'")).collect::<Vec<_>>().join(", ")
}

fn regex(hosts: &[String]) -> String {
    hosts.join("|")
}

/// Random query parameters, from the dataset's seed.
struct Params {
    rng: rand_chacha::ChaCha8Rng,
    ds: Dataset,
}

impl Params {
    /// `n` distinct hosts (all of them if there are fewer).
    fn hosts(&mut self, n: usize) -> Vec<String> {
        let mut ids: Vec<usize> = (0..self.ds.hosts).collect();
        let n = n.min(ids.len());
        for i in 0..n {
            let j = self.rng.random_range(i..ids.len());
            ids.swap(i, j);
        }
        ids[..n].iter().map(|&i| hostname(i as u64)).collect()
    }

    /// A random host with at least one `usage_user` reading above 90 in
    /// `[a, b)` (found by replaying the generator), or a random host if none has.
    fn hot_host(&mut self, a: i64, b: i64) -> String {
        let mut ids: Vec<usize> = (0..self.ds.hosts).collect();
        for i in 0..ids.len() {
            let j = self.rng.random_range(i..ids.len());
            ids.swap(i, j);
        }
        let first_sample = self.ds.base_ms + Dataset::OFFSET_MS;
        let interval = self.ds.interval_ms.max(1);
        let last_tick = ((b - first_sample + interval - 1) / interval).max(0) as u64;
        let hot = ids.iter().copied().find(|&id| {
            let mut host = Host::new(self.ds.seed, id as u64);
            (0..last_tick.min(self.ds.ticks())).any(|tick| {
                let t = first_sample + tick as i64 * interval;
                let usage_user = host.tick()[0];
                t >= a && usage_user > 90
            })
        });
        hostname(hot.or(ids.first().copied()).unwrap_or(0) as u64)
    }

    /// A window of `len_ms` (clipped to the data) starting on a multiple of `align_ms`.
    fn window(&mut self, len_ms: i64, align_ms: i64) -> (i64, i64) {
        let len = len_ms.min(self.ds.duration_ms / align_ms * align_ms).max(align_ms);
        let slots = ((self.ds.duration_ms - len) / align_ms).max(0);
        let start = self.ds.base_ms + align_ms * self.rng.random_range(0..=slots);
        (start, start + len)
    }
}

fn range(start_ms: i64, end_ms: i64, step_ms: i64) -> Eval {
    Eval::Range { start_ms: start_ms + step_ms, end_ms, step_ms }
}

/// One sub-query per metric, labelled `metric="<name>"`, joined with `or`.
/// (Not `__name__`: `or` matches series on their labels without the name,
/// so sub-queries differing only in `__name__` would collapse into one.)
fn prom_each(metrics: &[&str], inner: impl Fn(&str) -> String) -> String {
    metrics
        .iter()
        .map(|m| format!("label_replace({}, \"{METRIC_KEY}\", \"{m}\", \"\", \"\")", inner(m)))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn name_regex(metrics: &[&str]) -> String {
    metrics.join("|")
}

/// The eight TSBS query types for this dataset.
pub fn cases(ds: &Dataset) -> Vec<QueryCase> {
    let mut p = Params { rng: entity_rng(ds.seed, STREAM_QUERIES, 0), ds: *ds };
    vec![
        single_groupby(&mut p, "single-groupby-1-1-1", 1, 1),
        single_groupby(&mut p, "single-groupby-5-8-1", 5, 8),
        cpu_max_all(&mut p),
        double_groupby(&mut p, "double-groupby-1", 1),
        double_groupby(&mut p, "double-groupby-all", METRICS.len()),
        high_cpu(&mut p),
        lastpoint(ds),
        groupby_orderby_limit(&mut p),
    ]
}

/// Max per minute of `fields` fields over `n_hosts` hosts for one hour.
fn single_groupby(p: &mut Params, name: &'static str, fields: usize, n_hosts: usize) -> QueryCase {
    let hosts = p.hosts(n_hosts);
    let (a, b) = p.window(HOUR, MINUTE);
    let metrics = &METRICS[..fields];
    grouped_max(name, &hosts, metrics, a, b, MINUTE, "1 minute", "1m")
}

/// Max per hour of all fields over 8 hosts for 8 hours.
fn cpu_max_all(p: &mut Params) -> QueryCase {
    let hosts = p.hosts(8);
    let (a, b) = p.window(8 * HOUR, HOUR);
    grouped_max("cpu-max-all-8", &hosts, &METRICS, a, b, HOUR, "1 hour", "1h")
}

#[allow(clippy::too_many_arguments)]
fn grouped_max(
    name: &'static str,
    hosts: &[String],
    metrics: &[&str],
    a: i64,
    b: i64,
    step: i64,
    sql_step: &str,
    prom_step: &str,
) -> QueryCase {
    let host_filter = if hosts.len() == 1 {
        format!("hostname = '{}'", hosts[0])
    } else {
        format!("hostname IN ({})", in_list(hosts))
    };
    let prom_hosts =
        if hosts.len() == 1 { format!("hostname=\"{}\"", hosts[0]) } else { format!("hostname=~\"{}\"", regex(hosts)) };
    let description =
        format!("max of {} field(s) per {sql_step} over {} host(s), {} h", metrics.len(), hosts.len(), (b - a) / HOUR);
    if metrics.len() == 1 {
        let m = metrics[0];
        let sql = format!(
            "SELECT time_bucket(INTERVAL '{sql_step}', time) AS t, max(value) AS v FROM {m} \
             WHERE {host_filter} AND time >= {} AND time < {} GROUP BY t ORDER BY t",
            ts(a),
            ts(b)
        );
        let promql = PromQuery {
            expr: format!("max(max_over_time({m}{{{prom_hosts}}}[{prom_step}]))"),
            eval: range(a, b, step),
            name_label: NAME,
        };
        return QueryCase {
            name,
            description,
            sql,
            metricsql: promql.clone(),
            promql,
            keys: vec![],
            time: TimeKey::Bucket { step_ms: step },
        };
    }
    let sql = metrics
        .iter()
        .map(|m| {
            format!(
                "SELECT '{m}' AS metric, time_bucket(INTERVAL '{sql_step}', time) AS t, max(value) AS v FROM {m} \
                 WHERE {host_filter} AND time >= {} AND time < {} GROUP BY t",
                ts(a),
                ts(b)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " ORDER BY t, metric";
    let promql = PromQuery {
        expr: prom_each(metrics, |m| format!("max(max_over_time({m}{{{prom_hosts}}}[{prom_step}]))")),
        eval: range(a, b, step),
        name_label: METRIC_KEY,
    };
    let metricsql = PromQuery {
        expr: format!(
            "max(max_over_time({{__name__=~\"{}\",{prom_hosts}}}[{prom_step}]) keep_metric_names) by (__name__)",
            name_regex(metrics)
        ),
        eval: range(a, b, step),
        name_label: NAME,
    };
    QueryCase {
        name,
        description,
        sql,
        promql,
        metricsql,
        keys: vec![METRIC_KEY],
        time: TimeKey::Bucket { step_ms: step },
    }
}

/// Mean per hour and host of `fields` fields over all hosts for 12 hours.
fn double_groupby(p: &mut Params, name: &'static str, fields: usize) -> QueryCase {
    let (a, b) = p.window(12 * HOUR, HOUR);
    let metrics = &METRICS[..fields];
    let description = format!("mean of {fields} field(s) per hour and host, all hosts, {} h", (b - a) / HOUR);
    let time = TimeKey::Bucket { step_ms: HOUR };
    if fields == 1 {
        let m = metrics[0];
        let sql = format!(
            "SELECT hostname, time_bucket(INTERVAL '1 hour', time) AS t, avg(value) AS v FROM {m} \
             WHERE time >= {} AND time < {} GROUP BY hostname, t ORDER BY t, hostname",
            ts(a),
            ts(b)
        );
        let promql = PromQuery {
            expr: format!("avg(avg_over_time({m}[1h])) by (hostname)"),
            eval: range(a, b, HOUR),
            name_label: NAME,
        };
        return QueryCase { name, description, sql, metricsql: promql.clone(), promql, keys: vec!["hostname"], time };
    }
    let sql = metrics
        .iter()
        .map(|m| {
            format!(
                "SELECT '{m}' AS metric, hostname, time_bucket(INTERVAL '1 hour', time) AS t, avg(value) AS v FROM {m} \
                 WHERE time >= {} AND time < {} GROUP BY hostname, t",
                ts(a),
                ts(b)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " ORDER BY t, hostname, metric";
    let promql = PromQuery {
        expr: prom_each(metrics, |m| format!("avg(avg_over_time({m}[1h])) by (hostname)")),
        eval: range(a, b, HOUR),
        name_label: METRIC_KEY,
    };
    let metricsql = PromQuery {
        expr: format!(
            "avg(avg_over_time({{__name__=~\"{}\"}}[1h]) keep_metric_names) by (__name__, hostname)",
            name_regex(metrics)
        ),
        eval: range(a, b, HOUR),
        name_label: NAME,
    };
    QueryCase { name, description, sql, promql, metricsql, keys: vec![METRIC_KEY, "hostname"], time }
}

/// All fields of one host's readings where `usage_user > 90`, 12 hours.
/// The host is one that has such readings, so the answers say something.
fn high_cpu(p: &mut Params) -> QueryCase {
    let (a, b) = p.window(12 * HOUR, HOUR);
    let host = p.hot_host(a, b);
    let step = p.ds.interval_ms;
    let range_filter = format!("hostname = '{host}' AND time >= {} AND time < {}", ts(a), ts(b));
    let sql = METRICS
        .iter()
        .map(|m| {
            format!(
                "SELECT '{m}' AS metric, time AS t, value AS v FROM {m} WHERE {range_filter} \
                 AND time IN (SELECT time FROM cpu_usage_user WHERE {range_filter} AND value > 90)"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " ORDER BY t, metric";
    let expr = format!(
        "{{__name__=~\"{}\",hostname=\"{host}\"}} and on(hostname) (cpu_usage_user{{hostname=\"{host}\"}} > 90)",
        name_regex(&METRICS)
    );
    let promql = PromQuery { expr, eval: range(a, b, step), name_label: NAME };
    QueryCase {
        name: "high-cpu-1",
        description: format!("all fields of 1 host's readings with usage_user > 90, {} h", (b - a) / HOUR),
        sql,
        metricsql: promql.clone(),
        promql,
        keys: vec![METRIC_KEY],
        time: TimeKey::Bucket { step_ms: step },
    }
}

/// The last reading of every field of every host.
fn lastpoint(ds: &Dataset) -> QueryCase {
    let sql = METRICS
        .iter()
        .map(|m| {
            format!("SELECT '{m}' AS metric, hostname, last_value(value ORDER BY time) AS v FROM {m} GROUP BY hostname")
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
        + " ORDER BY hostname, metric";
    let promql = PromQuery {
        expr: format!("{{__name__=~\"{}\"}}", name_regex(&METRICS)),
        eval: Eval::Instant { time_ms: ds.end_ms() },
        name_label: NAME,
    };
    QueryCase {
        name: "lastpoint",
        description: "last reading of every field of every host (PromQL: instant query at the end of the data)".into(),
        sql,
        metricsql: promql.clone(),
        promql,
        keys: vec![METRIC_KEY, "hostname"],
        time: TimeKey::Ignore,
    }
}

/// The last 5 minutes with data before a random time: max of usage_user per minute.
fn groupby_orderby_limit(p: &mut Params) -> QueryCase {
    let minutes = (p.ds.duration_ms / MINUTE).max(5);
    let end = p.ds.base_ms + MINUTE * p.rng.random_range(5..=minutes);
    let sql = format!(
        "SELECT time_bucket(INTERVAL '1 minute', time) AS t, max(value) AS v FROM cpu_usage_user \
         WHERE time < {} GROUP BY t ORDER BY t DESC LIMIT 5",
        ts(end)
    );
    let promql = PromQuery {
        expr: "max(max_over_time(cpu_usage_user[1m]))".into(),
        eval: range(end - 5 * MINUTE, end, MINUTE),
        name_label: NAME,
    };
    QueryCase {
        name: "groupby-orderby-limit",
        description: "max usage_user per minute, the last 5 minutes before a random time \
                      (PromQL: the same 5-minute range made explicit)"
            .into(),
        sql,
        metricsql: promql.clone(),
        promql,
        keys: vec![],
        time: TimeKey::Bucket { step_ms: MINUTE },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds() -> Dataset {
        Dataset { hosts: 100, seed: 1, base_ms: 1_795_960_800_000, duration_ms: 3 * HOUR, interval_ms: 10_000 }
    }

    #[test]
    fn eight_cases_deterministic_from_the_seed() {
        let a = cases(&ds());
        assert_eq!(
            a.iter().map(|c| c.name).collect::<Vec<_>>(),
            [
                "single-groupby-1-1-1",
                "single-groupby-5-8-1",
                "cpu-max-all-8",
                "double-groupby-1",
                "double-groupby-all",
                "high-cpu-1",
                "lastpoint",
                "groupby-orderby-limit"
            ]
        );
        assert_eq!(a, cases(&ds()));
        assert_ne!(a, cases(&Dataset { seed: 2, ..ds() }));
        assert_eq!(ds().samples(), 100 * 10 * 1_080);
    }

    #[test]
    fn windows_are_aligned_and_inside_the_data() {
        let d = ds();
        for c in cases(&d) {
            if let Eval::Range { start_ms, end_ms, step_ms } = c.promql.eval {
                assert_eq!((start_ms - d.base_ms) % step_ms, 0, "{}", c.name);
                assert!(start_ms > d.base_ms && end_ms <= d.end_ms(), "{}", c.name);
                assert_eq!(c.time, TimeKey::Bucket { step_ms }, "{}", c.name);
            }
        }
        // 8 h and 12 h windows are clipped to the 3 h of data.
        let all = cases(&d);
        assert!(all[2].sql.contains(&ts(d.base_ms)) && all[2].sql.contains(&ts(d.end_ms())));
    }

    #[test]
    fn query_texts() {
        let all = cases(&ds());
        let one = &all[0];
        assert!(one.sql.starts_with("SELECT time_bucket(INTERVAL '1 minute', time) AS t, max(value) AS v FROM cpu_usage_user WHERE hostname = 'host_"));
        assert!(one.promql.expr.starts_with("max(max_over_time(cpu_usage_user{hostname=\"host_"));
        let five = &all[1];
        assert_eq!(five.sql.matches(" UNION ALL ").count(), 4);
        assert_eq!(five.promql.expr.matches(" or ").count(), 4);
        assert!(five.metricsql.expr.contains("keep_metric_names) by (__name__)"));
        assert!(five.sql.contains("hostname IN ('host_"));
        assert_eq!(all[4].sql.matches(" UNION ALL ").count(), 9);
        assert!(all[5].promql.expr.contains("and on(hostname) (cpu_usage_user{hostname=\"host_"));
        assert!(matches!(all[6].promql.eval, Eval::Instant { time_ms } if time_ms == ds().end_ms()));
        assert!(all[7].sql.ends_with("ORDER BY t DESC LIMIT 5"));
    }
}
