//! Logs of N services: even-numbered services are nginx front ends writing
//! access lines (`$remote_addr - - [$time_local] "$request" $status
//! $body_bytes_sent "$http_referer" "$http_user_agent"`), odd-numbered ones
//! are applications writing JSON lines with a trace and span id. Each
//! service has its own random stream.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::model::Attrs;
use super::otlp_encode::{key_values, kv, SCOPE};
use super::plan::{Cut, Plan};
use super::rng::{bytes, entity_rng, log_normal, pick, STREAM_LOGS};
use super::workload::{Batch, Shard, Spec};
use crate::time;

const PATHS: [&str; 8] = [
    "/",
    "/index.html",
    "/api/v1/items",
    "/api/v1/items/4711",
    "/api/v1/search?q=boots",
    "/static/app.js",
    "/static/logo.png",
    "/api/v1/orders",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
    "curl/8.5.0",
    "Go-http-client/1.1",
];
/// (level, message, severity) of application events, roughly by frequency.
const EVENTS: [(&str, &str, SeverityNumber); 8] = [
    ("info", "order placed", SeverityNumber::Info),
    ("info", "payment authorized", SeverityNumber::Info),
    ("info", "cart updated", SeverityNumber::Info),
    ("debug", "cache miss", SeverityNumber::Debug),
    ("info", "user logged in", SeverityNumber::Info),
    ("warn", "retrying upstream call", SeverityNumber::Warn),
    ("warn", "item not found", SeverityNumber::Warn),
    ("error", "upstream timeout", SeverityNumber::Error),
];

/// One service writing logs.
struct LogSource {
    nginx: bool,
    resource: Attrs,
    rng: ChaCha8Rng,
}

impl LogSource {
    fn new(seed: u64, id: u64) -> Self {
        let nginx = id.is_multiple_of(2);
        let name = if nginx { format!("nginx-edge-{id}") } else { super::otel_http::service_name(id) };
        let resource: Attrs = vec![
            ("service.name".to_string(), name),
            ("host.name".to_string(), format!("node-{}", id % 13)),
            ("deployment.environment.name".to_string(), "production".to_string()),
        ]
        .into();
        Self { nginx, resource, rng: entity_rng(seed, STREAM_LOGS, id) }
    }

    fn record(&mut self, time_ns: i64) -> LogRecord {
        let observed = (time_ns + self.rng.random_range(1_000_000..50_000_000)).max(0) as u64;
        let mut r = if self.nginx { self.nginx_line(time_ns) } else { self.app_line() };
        r.time_unix_nano = time_ns.max(0) as u64;
        r.observed_time_unix_nano = observed;
        r
    }

    fn nginx_line(&mut self, time_ns: i64) -> LogRecord {
        let rng = &mut self.rng;
        let ip =
            format!("10.{}.{}.{}", rng.random_range(0..4u8), rng.random_range(0..255u8), rng.random_range(1..255u8));
        let method = if rng.random::<f64>() < 0.8 { "GET" } else { "POST" };
        let path = *pick(rng, &PATHS);
        let roll = rng.random::<f64>();
        let status = if roll < 0.9 {
            200
        } else if roll < 0.95 {
            304
        } else if roll < 0.99 {
            404
        } else {
            502
        };
        let size = if status == 200 { log_normal(rng, 2_000.0, 1.0).round() as u64 } else { 0 };
        let agent = *pick(rng, &AGENTS);
        let when = time::nginx(time_ns.div_euclid(1_000_000_000));
        let body = format!("{ip} - - [{when}] \"{method} {path} HTTP/1.1\" {status} {size} \"-\" \"{agent}\"");
        let (severity, text) = match status {
            500.. => (SeverityNumber::Error, "ERROR"),
            400.. => (SeverityNumber::Warn, "WARN"),
            _ => (SeverityNumber::Info, "INFO"),
        };
        LogRecord {
            severity_number: severity as i32,
            severity_text: text.into(),
            body: Some(string(body)),
            attributes: vec![kv("log.file.path", "/var/log/nginx/access.log")],
            ..Default::default()
        }
    }

    fn app_line(&mut self) -> LogRecord {
        let rng = &mut self.rng;
        let (level, msg, severity) = *pick(rng, &EVENTS);
        let trace_id = bytes(rng, 16);
        let span_id = bytes(rng, 8);
        let trace_hex: String = trace_id.iter().map(|b| format!("{b:02x}")).collect();
        let body = serde_json::json!({
            "level": level,
            "msg": msg,
            "user_id": rng.random_range(1..50_000u32),
            "duration_ms": (log_normal(rng, 20.0, 0.8) * 100.0).round() / 100.0,
            "trace_id": trace_hex,
        })
        .to_string();
        LogRecord {
            severity_number: severity as i32,
            severity_text: level.to_ascii_uppercase(),
            body: Some(string(body)),
            attributes: vec![kv("code.function.name", "handle_request")],
            trace_id,
            span_id,
            flags: 1,
            ..Default::default()
        }
    }
}

fn string(s: String) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(s)) }
}

/// The services of one sender.
pub struct LogsShard {
    sources: Vec<LogSource>,
    plan: Plan,
    spec: Spec,
}

impl LogsShard {
    /// A shard of the services `ids`.
    pub fn new(spec: &Spec, ids: Vec<u64>, cut: Cut) -> Self {
        let sources: Vec<LogSource> = ids.into_iter().map(|id| LogSource::new(spec.seed, id)).collect();
        let plan = Plan::new(sources.len(), spec.logs_per_tick, spec.ticks, cut);
        Self { sources, plan, spec: spec.clone() }
    }
}

impl Shard for LogsShard {
    fn next_batch(&mut self) -> Option<Batch> {
        let (units, ticks) = self.plan.next_request()?;
        let per_tick = self.spec.logs_per_tick as i64;
        let step = self.spec.interval_ns / per_tick.max(1);
        let resource_logs = self.sources[units]
            .iter_mut()
            .map(|src| {
                let mut records = Vec::new();
                for t in ticks.clone() {
                    let t0 = self.spec.tick_time(t);
                    records.extend((0..per_tick).map(|i| src.record(t0 + i * step)));
                }
                ResourceLogs {
                    resource: Some(Resource { attributes: key_values(&src.resource), ..Default::default() }),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(InstrumentationScope { name: SCOPE.into(), ..Default::default() }),
                        log_records: records,
                        ..Default::default()
                    }],
                    ..Default::default()
                }
            })
            .collect();
        Some(Batch::Logs(ExportLogsServiceRequest { resource_logs }))
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

    fn records(workers: usize, batch: usize) -> Vec<LogRecord> {
        let spec = Spec {
            kind: WorkloadKind::Logs,
            seed: 5,
            scale: 4,
            start_ns: 1_700_000_000_000_000_000,
            interval_ns: 10_000_000_000,
            ticks: 6,
            routes: 0,
            logs_per_tick: 10,
        };
        let mut out = Vec::new();
        for mut shard in shards(&spec, Target::OtlpHttp, workers, batch, u64::MAX).expect("shards") {
            while let Some(Batch::Logs(req)) = shard.next_batch() {
                for rl in req.resource_logs {
                    out.extend(rl.scope_logs.into_iter().flat_map(|s| s.log_records));
                }
            }
        }
        out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out
    }

    #[test]
    fn nginx_and_json_lines_with_trace_ids() {
        let all = records(1, 1_000);
        assert_eq!(all.len(), 4 * 6 * 10);
        let bodies: Vec<String> = all
            .iter()
            .filter_map(|r| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(bodies.len(), all.len());
        let json: Vec<&String> = bodies.iter().filter(|b| b.starts_with('{')).collect();
        assert_eq!(json.len(), all.len() / 2);
        for b in &json {
            let v: serde_json::Value = serde_json::from_str(b).expect("valid JSON body");
            assert!(v.get("trace_id").is_some_and(|t| t.as_str().is_some_and(|t| t.len() == 32)));
        }
        assert!(bodies.iter().any(|b| b.contains("HTTP/1.1\" ") && b.contains(" - - [")));
        assert!(all.iter().filter(|r| !r.trace_id.is_empty()).all(|r| r.trace_id.len() == 16 && r.span_id.len() == 8));
        assert_eq!(records(3, 7), all, "same data whatever the batching");
    }
}
