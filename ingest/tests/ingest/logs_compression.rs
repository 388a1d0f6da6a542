//! Logs on disk versus the raw JSON lines the same records would take in a
//! log file: an nginx access record plus a few application records per
//! request, all carrying the request's trace id (issue 4's target: at least
//! 8x smaller than raw, lossless).
//!
//! Run `cargo test -p tidewater-ingest --test ingest logs_compression -- --nocapture`
//! to see the figure.

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tidewater_ingest::logs;
use tidewater_storage::encoding::EncodingOptions;
use tidewater_storage::segment::encode_batch_with;

const REQUESTS: usize = 20_000;
const START: u64 = 1_764_000_000_000_000_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const SERVICES: &[&str] =
    &["checkout", "cart", "payments", "catalog", "shipping", "users", "search", "recommendations"];
const ROUTES: &[&str] =
    &["/api/cart", "/api/cart/items", "/api/checkout", "/api/products", "/api/search", "/api/users/me"];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
    "curl/8.5.0",
];
const MESSAGES: &[&str] = &[
    "request received",
    "loaded cart from cache",
    "cache miss, loading from database",
    "price computed",
    "payment authorized",
    "inventory reserved",
    "request completed",
    "slow query detected",
    "retrying upstream call",
];

fn kv(k: &str, v: Value) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

fn text(k: &str, v: impl Into<String>) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An RFC 3339 timestamp with microseconds (what log files carry).
fn rfc3339(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z", nanos % 1_000_000_000 / 1000)
}

/// The records of `REQUESTS` requests, grouped by service, and the raw JSON
/// lines the same records would take in log files.
fn workload() -> (ExportLogsServiceRequest, Vec<String>) {
    let mut rng = Rng(0x5EED_1095);
    let mut by_service: Vec<Vec<LogRecord>> = vec![Vec::new(); SERVICES.len() + 1];
    let mut raw = Vec::new();
    let mut now = START;
    for _ in 0..REQUESTS {
        now += 1_000_000 + rng.below(9_000_000); // ~200 requests/s
        let trace = rng.bytes(16);
        let service = rng.below(SERVICES.len() as u64) as usize;
        let (method, route) = (rng.pick(METHODS), rng.pick(ROUTES));
        let status = [200, 200, 200, 200, 201, 204, 304, 400, 404, 500][rng.below(10) as usize];
        let ip = format!("10.{}.{}.{}", rng.below(4), rng.below(256), rng.below(256));
        let (bytes, took_ms) = (200 + rng.below(20_000), 1 + rng.below(400));
        let span = rng.bytes(8);

        // The application's records: 2 to 4 per request, one span.
        for i in 0..2 + rng.below(3) {
            let t = now + i * (100_000 + rng.below(2_000_000));
            let msg = rng.pick(MESSAGES);
            let (level, number) = if status >= 500 && i > 0 { ("ERROR", 17) } else { ("INFO", 9) };
            let user = format!("u-{}", rng.below(50_000));
            let duration = rng.below(5000) as f64 / 10.0;
            raw.push(
                serde_json::json!({
                    "timestamp": rfc3339(t), "level": level, "service": SERVICES[service],
                    "trace_id": hex(&trace), "span_id": hex(&span), "message": msg,
                    "http.method": method, "http.route": route, "user.id": user, "duration_ms": duration,
                })
                .to_string(),
            );
            let attrs = vec![
                text("http.method", method),
                text("http.route", route),
                text("user.id", user),
                kv("duration_ms", Value::DoubleValue(duration)),
            ];
            by_service[service].push(LogRecord {
                time_unix_nano: t,
                observed_time_unix_nano: t,
                severity_number: number,
                severity_text: level.into(),
                body: Some(AnyValue { value: Some(Value::StringValue(msg.into())) }),
                trace_id: trace.clone(),
                span_id: span.clone(),
                attributes: attrs,
                ..Default::default()
            });
        }

        // nginx's access record, in its JSON log format; the body is the combined-format line.
        let t = now + took_ms * 1_000_000;
        let agent = rng.pick(AGENTS);
        let line = format!(
            "{ip} - - [{}] \"{method} {route} HTTP/1.1\" {status} {bytes} \"-\" \"{agent}\" {}.{:03}",
            rfc3339(t),
            took_ms / 1000,
            took_ms % 1000
        );
        raw.push(
            serde_json::json!({
                "time": rfc3339(t), "remote_addr": ip, "request": format!("{method} {route} HTTP/1.1"),
                "status": status, "body_bytes_sent": bytes, "http_user_agent": agent,
                "request_time": took_ms as f64 / 1000.0, "trace_id": hex(&trace),
            })
            .to_string(),
        );
        by_service[SERVICES.len()].push(LogRecord {
            time_unix_nano: t,
            observed_time_unix_nano: t,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue { value: Some(Value::StringValue(line)) }),
            trace_id: trace,
            ..Default::default()
        });
    }
    let resource_logs = by_service
        .into_iter()
        .enumerate()
        .map(|(i, records)| ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", SERVICES.get(i).copied().unwrap_or("nginx")),
                    text("deployment.environment", "production"),
                    text("host.name", format!("node-{}", i % 3)),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
            ..Default::default()
        })
        .collect();
    (ExportLogsServiceRequest { resource_logs }, raw)
}

/// Every row of `batches` as one line of text, sorted (order-free comparison).
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let options = FormatOptions::default();
        // Timestamps as integers: the formatter cannot name the "UTC" zone without chrono-tz.
        let columns: Vec<_> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Timestamp(..) => arrow::compute::cast(c, &DataType::Int64).expect("cast"),
                _ => c.clone(),
            })
            .collect();
        let formatters: Vec<ArrayFormatter> =
            columns.iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter")).collect();
        for i in 0..b.num_rows() {
            out.push(formatters.iter().map(|f| f.value(i).to_string()).collect::<Vec<_>>().join("\u{1}"));
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn logs_are_at_least_8x_smaller_than_raw_json_lines_and_lossless() {
    let (req, raw) = workload();
    let converted = logs::convert(&req, 1 << 20);
    assert_eq!(converted.rejected, 0);
    let batch = &converted.writes[0].batch;
    let records = batch.num_rows();
    assert_eq!(records, raw.len());

    let file = encode_batch_with(batch, &EncodingOptions::default()).expect("encode");
    let raw_bytes: usize = raw.iter().map(|l| l.len() + 1).sum();
    let ratio = raw_bytes as f64 / file.len() as f64;
    println!(
        "logs: {records} records, raw JSON lines {:.1} bytes/record, stored {:.1} bytes/record, {ratio:.1}x smaller",
        raw_bytes as f64 / records as f64,
        file.len() as f64 / records as f64,
    );

    let back: Vec<RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file))
            .expect("parquet")
            .build()
            .expect("reader")
            .map(|b| b.expect("batch"))
            .collect();
    assert_eq!(rows(&back), rows(std::slice::from_ref(batch)), "every record reads back as written");
    assert!(ratio >= 8.0, "logs at least 8x smaller than raw JSON lines, got {ratio:.1}x");
}
