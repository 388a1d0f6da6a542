//! Segments and manifests in S3: the real binary, configured with
//! `object_store_url` against a real S3-compatible server (`moto_server`,
//! started by the test), takes OTLP pushed by the OpenTelemetry SDK, flushes
//! to the bucket, and answers SQL the same after a restart, after a restart
//! on an empty data directory (another machine), and after a SIGKILL (WAL
//! replay on top of the bucket's segments); the background compaction
//! merges the bucket's segments and deletes the replaced objects.

use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{MetricExporter, WithExportConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;
use serde_json::{json, Value};

use crate::server::Server;

#[path = "../../storage/tests/store/moto.rs"]
mod moto;

const BUCKET: &str = "tidewater-e2e";
const PREFIX: &str = "cluster-a";

/// Push `readings` (room, value) as one gauge export over OTLP/HTTP.
fn push(server: &Server, readings: &[(&str, f64)]) {
    let exporter = MetricExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/metrics", server.url()))
        .with_temporality(Temporality::Delta)
        .build()
        .expect("http exporter");
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter).with_interval(Duration::from_secs(3600)).build())
        .with_resource(Resource::builder_empty().with_service_name("boiler".to_string()).build())
        .build();
    let gauge = provider.meter("e2e").f64_gauge("room.temperature").build();
    for (room, value) in readings {
        gauge.record(*value, &[KeyValue::new("room", room.to_string())]);
    }
    provider.force_flush().expect("export acknowledged");
    provider.shutdown().expect("shutdown");
}

fn start(moto: &moto::Moto, data: &Path, config: &Path) -> Server {
    let toml = format!(
        "[storage]\nobject_store_url = \"s3://{BUCKET}/{PREFIX}\"\ns3_endpoint = \"{}\"\ns3_region = \"us-east-1\"\n\
         s3_allow_http = true\ncompaction_min_segments = 2\ndeletion_grace_secs = 0\n\
         [self_monitoring]\ninterval_secs = 0\n",
        moto.endpoint
    );
    std::fs::write(config, toml).expect("write config");
    let config = config.to_str().expect("utf-8 path");
    Server::start_with(
        data,
        &[("TIDEWATER_CONFIG", config), ("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")],
    )
}

fn rooms(server: &Server) -> Vec<Value> {
    server.rows("SELECT room, value, service_name FROM room_temperature ORDER BY room, value")
}

fn segment_keys(moto: &moto::Moto) -> Vec<String> {
    moto.keys(BUCKET, &format!("{PREFIX}/segments/"))
}

/// Wait (polling, with a deadline) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn otlp_to_s3_survives_restarts_and_compacts_in_the_bucket() {
    let moto = moto::Moto::start();
    moto.create_bucket(BUCKET);
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, config) = (dir.path().join("data"), dir.path().join("tidewater.toml"));

    let server = start(&moto, &data, &config);
    push(&server, &[("kitchen", 21.5), ("attic", 17.25)]);
    let first = vec![json!(["attic", 17.25, "boiler"]), json!(["kitchen", 21.5, "boiler"])];
    assert_eq!(rooms(&server), first);
    // SIGTERM flushes: the segment and the manifest go to the bucket, not to data_dir.
    server.terminate();
    let keys = moto.keys(BUCKET, PREFIX);
    assert!(keys.iter().any(|k| k.starts_with(&format!("{PREFIX}/manifest/"))), "{keys:?}");
    assert_eq!(segment_keys(&moto).len(), 1, "{keys:?}");
    assert!(!data.join("segments").exists() && !data.join("manifest").exists(), "nothing local but the WAL");

    // Another machine: an empty data directory, the same bucket.
    let elsewhere = dir.path().join("elsewhere");
    let server = start(&moto, &elsewhere, &config);
    assert_eq!(rooms(&server), first);
    let segments = server.rows("SELECT table_name, rows FROM system.segments");
    assert_eq!(segments, vec![json!(["room_temperature", 2])]);
    server.terminate();

    // Back on the first machine: new points, then SIGKILL before any flush.
    let server = start(&moto, &data, &config);
    push(&server, &[("cellar", 12.0)]);
    server.kill();
    let server = start(&moto, &data, &config);
    assert!(server.log_lines().iter().any(|l| l.contains("replayed WAL")), "no WAL replay logged");
    let all =
        vec![json!(["attic", 17.25, "boiler"]), json!(["cellar", 12.0, "boiler"]), json!(["kitchen", 21.5, "boiler"])];
    assert_eq!(rooms(&server), all);
    server.terminate();
    // Two segments of one day partition now: the next start compacts them,
    // and with no grace period the replaced objects leave the bucket.
    assert_eq!(segment_keys(&moto).len(), 2);
    let server = start(&moto, &data, &config);
    wait_for("the background compaction", || {
        server.rows("SELECT count(*) FROM system.segments WHERE table_name = 'room_temperature'") == vec![json!([1])]
    });
    wait_for("the replaced objects' deletion", || segment_keys(&moto).len() == 1);
    assert_eq!(rooms(&server), all);
    server.terminate();
    let server = start(&moto, &elsewhere, &config);
    assert_eq!(rooms(&server), all, "the compacted bucket serves another machine too");
    server.terminate();
}
