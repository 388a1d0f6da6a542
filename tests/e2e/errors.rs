//! Bad input gets a clear answer and nothing else is lost.

use prost::Message;
use serde_json::json;

use crate::server::Server;

#[test]
fn bad_requests_get_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let client = reqwest::blocking::Client::new();

    // Malformed protobuf: 400 with a google.rpc.Status naming the problem.
    let resp = client
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/x-protobuf")
        .body(vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 400);
    let body = resp.bytes().expect("body");
    let status = RpcStatus::decode(body.as_ref()).expect("google.rpc.Status body");
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(status.message.contains("protobuf"), "{}", status.message);

    // Wrong content type: 415.
    let resp = client
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 415);

    // Unknown route: 404 naming the path.
    let resp = client.get(format!("{}/no/such/route", server.url())).send().expect("get");
    assert_eq!(resp.status().as_u16(), 404);
    assert!(resp.text().expect("text").contains("/no/such/route"));

    // SQL on a missing table: 400 naming the table.
    let (status, body) = server.sql_raw("SELECT * FROM no_such_metric");
    assert_eq!(status, 400);
    assert!(body["error"].as_str().expect("error").contains("no_such_metric"), "{body}");

    // Bad SQL: 400.
    let (status, body) = server.sql_raw("SELEC 1");
    assert_eq!(status, 400, "{body}");

    // Missing query: 400.
    let resp = client.post(format!("{}/api/v1/sql", server.url())).json(&json!({})).send().expect("post");
    assert_eq!(resp.status().as_u16(), 400);

    // Health and readiness.
    assert_eq!(client.get(format!("{}/health", server.url())).send().expect("get").status().as_u16(), 200);
    assert_eq!(client.get(format!("{}/ready", server.url())).send().expect("get").status().as_u16(), 200);

    // GET with ?query= and the other formats.
    let resp = client
        .get(format!("{}/api/v1/sql", server.url()))
        .query(&[("query", "SELECT 1 AS one"), ("format", "csv")])
        .send()
        .expect("get");
    assert_eq!(resp.text().expect("text"), "one\n1\n");
    let resp = client
        .post(format!("{}/api/v1/sql?format=arrow", server.url()))
        .header("content-type", "text/plain")
        .body("SELECT 2 AS two")
        .send()
        .expect("post");
    assert_eq!(resp.headers()["content-type"], "application/vnd.apache.arrow.stream");
    assert!(resp.bytes().expect("bytes").starts_with(&[0xff, 0xff, 0xff, 0xff]));
}

/// `google.rpc.Status` as OTLP/HTTP error bodies carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Sends raw bytes as a gRPC message (to send malformed protobuf).
#[derive(Default)]
struct RawCodec;
struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = ();
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        bytes::Buf::advance(src, n);
        Ok(Some(()))
    }
}

/// Send `body` as-is to the metrics `Export` method over gRPC.
fn grpc_export(server: &Server, body: Vec<u8>) -> Result<(), tonic::Status> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut client = tonic::client::Grpc::new(channel);
        client.ready().await.expect("ready");
        let path =
            http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");
        client.unary(tonic::Request::new(body), path, RawCodec).await.map(|_| ())
    })
}

#[test]
fn malformed_grpc_request_is_invalid_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let err = grpc_export(&server, vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]).expect_err("malformed request must fail");
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    assert!(err.message().contains("protobuf"), "{err}");
    // An empty request is a success (OTLP: nothing to store is not an error).
    grpc_export(&server, Vec::new()).expect("empty request succeeds");
}

fn write_config(dir: &std::path::Path, toml: &str) -> String {
    let path = dir.join("tidewater.toml");
    std::fs::write(&path, toml).expect("config");
    path.display().to_string()
}

fn gauge_request(name: &str, t: u64) -> Vec<u8> {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        metric::Data, number_data_point, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            time_unix_nano: t,
                            value: Some(number_data_point::Value::AsDouble(1.0)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn oversized_and_gzip_bomb_requests_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(dir.path(), "[ingest]\nmax_request_bytes = 1048576\n");
    let server = Server::start_with(&dir.path().join("data"), &[("TIDEWATER_CONFIG", &config)]);
    let client = reqwest::blocking::Client::new();
    // 16 MiB of zeros compress to ~16 KiB: refused after decompressing 1 MiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &vec![0u8; 16 << 20]).expect("gzip");
    let bomb = gz.finish().expect("gzip");
    assert!(bomb.len() < 100_000);
    let resp = client
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 413);
    // Uncompressed over the limit: 413 too.
    let resp = client
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/x-protobuf")
        .body(vec![0u8; 2 << 20])
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 413);
    // gRPC over the limit: RESOURCE_EXHAUSTED.
    let err = grpc_export(&server, vec![0u8; 2 << 20]).expect_err("too large");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err}");
    // And the server still takes a normal request.
    let resp = client
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/x-protobuf")
        .body(gauge_request("after.bomb", 1000))
        .send()
        .expect("post");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(server.rows("SELECT value FROM after_bomb"), vec![json!([1.0])]);
}

#[test]
fn overload_answers_429_with_retry_after_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Self-monitoring off: its own writes would take the one-byte budget first.
    let config = write_config(
        dir.path(),
        "[storage]\nmax_memory_bytes = 1\nflush_interval_secs = 1\n[self_monitoring]\ninterval_secs = 0\n",
    );
    let server = Server::start_with(&dir.path().join("data"), &[("TIDEWATER_CONFIG", &config)]);
    let client = reqwest::blocking::Client::new();
    let post = |t: u64| {
        client
            .post(format!("{}/v1/metrics", server.url()))
            .header("content-type", "application/x-protobuf")
            .body(gauge_request("busy", t))
            .send()
            .expect("post")
    };
    assert_eq!(post(1000).status().as_u16(), 200);
    let resp = post(2000);
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    // gRPC: UNAVAILABLE (retryable).
    let err = grpc_export(&server, gauge_request("busy", 3000)).expect_err("overloaded");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err}");
    // Once the memtable is flushed, writes are accepted again; nothing acknowledged was lost.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let status = post(4000).status().as_u16();
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(std::time::Instant::now() < deadline, "still overloaded after 20 s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        server.rows("SELECT CAST(time AS BIGINT) AS t FROM busy ORDER BY t"),
        vec![json!([1000]), json!([4000])]
    );
}
