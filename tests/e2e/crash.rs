//! Crash test: writers push numbered OTLP points while the real binary is
//! SIGKILLed at random moments and restarted on the same data directory; at
//! the end every acknowledged point is present exactly once, every request
//! whose fate is unknown (in flight at the kill) is present whole or not at
//! all (one request is one WAL record), and nothing else is present.
//!
//! Small flush thresholds and `compaction_min_segments = 2` make the kills
//! also land in flushes, manifest swaps and compactions.
//!
//! `TIDEWATER_CRASH_CYCLES` (default 50) sets the number of kill/restart
//! cycles, `TIDEWATER_CRASH_SEED` the seed of the random choices (kill delay,
//! writer count, request sizes). See docs/crash-testing.md.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use prost::Message;
use serde_json::Value;

use crate::server::Server;

/// 2026-01-01T00:00:00Z: every point lands in one day partition, so flushed
/// segments pile up in one partition and get compacted.
const BASE_NS: u64 = 1_767_225_600_000_000_000;
const DEFAULT_CYCLES: usize = 50;
const DEFAULT_SEED: u64 = 0x5EED_71DE_0A7E_2026;
/// Rows asked for per verification query (pages by sequence number; the
/// server caps a result at `max_result_rows`, 1,000,000 by default).
const PAGE: u64 = 200_000;

const CONFIG: &str = "[storage]\nflush_bytes = 65536\nflush_interval_secs = 1\ncompaction_min_segments = 2\n";

/// xorshift64*: tiny and deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// HTTP 200 without partial success: must be present exactly once.
    Acked,
    /// In flight when the server died: all points present once, or none.
    Unknown,
}

/// One export request: points `start..start + len` (value = sequence number,
/// time = `BASE_NS` + sequence number), all with attribute `writer`.
#[derive(Debug, Clone)]
struct Sent {
    writer: u64,
    start: u64,
    len: u64,
    fate: Fate,
    cycle: usize,
}

impl std::fmt::Display for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (start, end, writer, cycle, fate) = (self.start, self.start + self.len, self.writer, self.cycle, self.fate);
        write!(f, "request of writer {writer} in cycle {cycle} (points {start}..{end}, {fate:?})")
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    match std::env::var(key) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{key}={v:?} is not a valid number")),
        Err(_) => default,
    }
}

fn request(writer: u64, start: u64, len: u64) -> Vec<u8> {
    let writer_attr = KeyValue {
        key: "writer".into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(writer.to_string())) }),
        ..Default::default()
    };
    let data_points = (start..start + len)
        .map(|seq| NumberDataPoint {
            attributes: vec![writer_attr.clone()],
            time_unix_nano: BASE_NS + seq,
            value: Some(number_data_point::Value::AsDouble(seq as f64)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "crash_seq".into(),
                    data: Some(Data::Gauge(Gauge { data_points })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Send requests as fast as the server answers until one fails; returns
/// every request sent, the failed one as [`Fate::Unknown`].
fn write_until_failure(url: String, writer: u64, cycle: usize, seed: u64, next_seq: Arc<AtomicU64>) -> Vec<Sent> {
    let client = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");
    let mut rng = Rng::new(seed);
    let mut sent = Vec::new();
    loop {
        let len = rng.range(20, 300);
        let start = next_seq.fetch_add(len, Ordering::SeqCst);
        let body = request(writer, start, len);
        let result = client
            .post(format!("{url}/v1/metrics"))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .and_then(|resp| {
                let status = resp.status().as_u16();
                resp.bytes().map(|b| (status, b))
            });
        let acked = match result {
            Ok((200, body)) => {
                let resp = ExportMetricsServiceResponse::decode(body.as_ref()).expect("200 answer is an OTLP response");
                // The points are all valid: a partial success would be a bug, not a crash effect.
                assert!(
                    resp.partial_success.as_ref().is_none_or(|p| p.rejected_data_points == 0),
                    "writer {writer}: points {start}..{} partially refused: {:?}",
                    start + len,
                    resp.partial_success
                );
                true
            }
            // 429 / 503 while shutting down or overloaded, or connection reset by the kill:
            // the request may or may not be stored.
            Ok(_) | Err(_) => false,
        };
        let fate = if acked { Fate::Acked } else { Fate::Unknown };
        sent.push(Sent { writer, start, len, fate, cycle });
        if !acked {
            return sent;
        }
    }
}

/// Log lines worth counting: they show which crash windows were hit.
const EVENTS: &[(&str, &str)] = &[
    ("flushed memtable", "flushes"),
    ("compacted partition", "compactions"),
    ("replayed WAL", "wal replays"),
    ("WAL tail is torn", "torn wal tails"),
    ("not in the manifest", "orphan segments removed"),
    ("replaced or dropped before the restart", "replaced segments removed"),
];

fn count_events(lines: &[String], counts: &mut HashMap<&'static str, usize>) {
    for line in lines {
        for (needle, name) in EVENTS {
            if line.contains(needle) {
                *counts.entry(name).or_default() += 1;
            }
        }
    }
}

fn start(data: &Path, config: &str) -> Server {
    Server::start_with(data, &[("TIDEWATER_CONFIG", config)])
}

#[test]
fn acknowledged_points_survive_random_sigkills() {
    let cycles: usize = env_or("TIDEWATER_CRASH_CYCLES", DEFAULT_CYCLES);
    let seed: u64 = env_or("TIDEWATER_CRASH_SEED", DEFAULT_SEED);
    eprintln!("crash test: {cycles} cycles, TIDEWATER_CRASH_SEED={seed}");
    let began = Instant::now();
    let mut rng = Rng::new(seed);

    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("tidewater.toml");
    std::fs::write(&config_path, CONFIG).expect("write config");
    let config = config_path.display().to_string();
    let data = dir.path().join("data");

    let next_seq = Arc::new(AtomicU64::new(0));
    let mut sent: Vec<Sent> = Vec::new();
    let mut events = HashMap::new();
    for cycle in 0..cycles {
        let server = start(&data, &config);
        let writers: Vec<_> = (0..rng.range(2, 3))
            .map(|w| {
                let (url, next_seq, seed) = (server.url(), next_seq.clone(), rng.next());
                std::thread::spawn(move || write_until_failure(url, w, cycle, seed, next_seq))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.range(10, 300)));
        let lines = server.log_lines();
        server.kill();
        count_events(&lines, &mut events);
        for w in writers {
            sent.extend(w.join().expect("writer thread"));
        }
    }

    let server = start(&data, &config);
    let total = next_seq.load(Ordering::SeqCst);
    let mut rows = Vec::new();
    let mut from = 0;
    while from < total {
        let to = (from + PAGE).min(total);
        rows.extend(server.rows(&format!(
            "SELECT writer, value, CAST(time AS BIGINT) AS t FROM crash_seq WHERE value >= {from} AND value < {to}"
        )));
        from = to;
    }
    // Nothing outside the sequence numbers handed out.
    let beyond = server.rows(&format!("SELECT count(*) FROM crash_seq WHERE value < 0 OR value >= {total}"));
    assert_eq!(beyond, vec![serde_json::json!([0])], "rows with sequence numbers never sent");
    let segments = server.rows("SELECT count(*) FROM system.segments WHERE table_name = 'crash_seq'");
    count_events(&server.log_lines(), &mut events);
    drop(server);

    // Which request each sequence number belongs to (requests hold disjoint ranges).
    sent.sort_by_key(|s| s.start);
    let mut seen = vec![0u32; total as usize];
    let mut problems = Vec::new();
    for row in &rows {
        let writer: u64 = match &row[0] {
            Value::String(s) => s.parse().expect("writer attribute is a number"),
            other => panic!("writer column: {other}"),
        };
        let value = row[1].as_f64().expect("value");
        let t = row[2].as_u64().expect("time");
        let seq = value as u64;
        if value != seq as f64 || seq >= total || t != BASE_NS + seq {
            problems.push(format!("row {row} was never sent (value/time mismatch)"));
            continue;
        }
        let idx = sent.partition_point(|s| s.start <= seq);
        let owner = idx.checked_sub(1).map(|i| &sent[i]).filter(|s| seq < s.start + s.len);
        match owner {
            Some(s) if s.writer == writer => seen[seq as usize] += 1,
            Some(s) => {
                problems.push(format!("row {row}: writer {writer}, but sequence {seq} was sent by writer {}", s.writer))
            }
            None => problems.push(format!("row {row}: sequence {seq} was never sent (its writer stopped first)")),
        }
    }

    let (mut acked_points, mut unknown_present, mut unknown_absent) = (0u64, 0usize, 0usize);
    for s in &sent {
        let counts = &seen[s.start as usize..(s.start + s.len) as usize];
        let present = counts.iter().filter(|c| **c > 0).count() as u64;
        let dup = counts.iter().filter(|c| **c > 1).count();
        if dup > 0 {
            problems.push(format!("{s}: {dup} points stored more than once (nobody retried)"));
        }
        match s.fate {
            Fate::Acked => {
                acked_points += s.len;
                if present != s.len {
                    problems.push(format!("{s}: acknowledged, but only {present} of {} points present", s.len));
                }
            }
            Fate::Unknown if present == s.len => unknown_present += 1,
            Fate::Unknown if present == 0 => unknown_absent += 1,
            Fate::Unknown => problems.push(format!("{s}: torn request, {present} of {} points present", s.len)),
        }
    }

    let mut events: Vec<_> = events.into_iter().collect();
    events.sort();
    eprintln!(
        "crash test summary: seed {seed}, {cycles} cycles, {} requests, {acked_points} acknowledged points, \
         {} rows read back, unknown requests {unknown_present} present / {unknown_absent} absent, \
         {} crash_seq segments at the end, elapsed {:.1} s",
        sent.len(),
        rows.len(),
        segments.first().map_or_else(|| "?".into(), |r| r[0].to_string()),
        began.elapsed().as_secs_f64()
    );
    eprintln!("crash test server events: {events:?}");
    let shown: Vec<_> = problems.iter().take(20).collect();
    assert!(problems.is_empty(), "{} durability problems (seed {seed}), first ones:\n{shown:#?}", problems.len());
    assert!(acked_points > 0, "no request was ever acknowledged: the test did not test anything");
}
