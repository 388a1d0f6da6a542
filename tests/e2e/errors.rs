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
    let resp = client.post(format!("{}/v1/metrics", server.url())).header("content-type", "text/plain").body("x").send().expect("post");
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
    let resp = client.get(format!("{}/api/v1/sql", server.url())).query(&[("query", "SELECT 1 AS one"), ("format", "csv")]).send().expect("get");
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

#[test]
fn malformed_grpc_request_is_invalid_argument() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.grpc))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        let mut client = tonic::client::Grpc::new(channel);
        client.ready().await.expect("ready");
        let path = http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");
        let err = client
            .unary(tonic::Request::new(vec![0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), path.clone(), RawCodec)
            .await
            .expect_err("malformed request must fail");
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
        assert!(err.message().contains("protobuf"), "{err}");
        // An empty request is a success (OTLP: nothing to store is not an error).
        client.ready().await.expect("ready");
        client.unary(tonic::Request::new(Vec::new()), path, RawCodec).await.expect("empty request succeeds");
    });
}
