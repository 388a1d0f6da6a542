//! Forward against real local endpoints: an OTLP/HTTP server that fails
//! before it succeeds, a gRPC server, a full queue, a refusing endpoint,
//! gzip bodies, TLS, and draining the queue on shutdown.

use std::io::Read;

use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;

use super::*;
use crate::config::{PipelinesConfig, ProcessorConfig};
use crate::otlp::fixtures::*;

fn forward(endpoint: &str, extra: &str) -> Forward {
    let text = format!(
        "[[pipelines.metrics]]\nname = \"copy\"\ntype = \"forward\"\nendpoint = \"{endpoint}\"\n\
         initial_backoff_ms = 10\nmax_backoff_ms = 50\ntimeout_ms = 2000\n{extra}"
    );
    let c = PipelinesConfig::from_toml(&text, "test").expect("config");
    let ProcessorConfig::Forward(f) = c.metrics[0].0.clone() else { panic!("forward") };
    Forward::start(f, crate::config::Signal::Metrics).expect("starts")
}

fn request() -> ExportMetricsServiceRequest {
    metrics_request(&[("service.name", "api")], vec![gauge("g", vec![point(1, 1.0, vec![]), point(2, 2.0, vec![])])])
}

async fn settle(f: &Forward, want: impl Fn(Delivery) -> bool) -> Delivery {
    for _ in 0..300 {
        let d = f.delivery().expect("delivery");
        if want(d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f.delivery().expect("delivery")
}

/// A received body and its `content-encoding`.
type Received = (Option<String>, Bytes);

#[derive(Clone, Default)]
struct HttpSink {
    calls: Arc<AtomicUsize>,
    /// Answer with this status for the first `fail` calls.
    fail: usize,
    status: u16,
    /// Wait this long before answering.
    delay: Duration,
    /// Bodies received (gunzipped) with their `Content-Encoding`.
    bodies: Arc<Mutex<Vec<Received>>>,
}

impl HttpSink {
    /// The requests received, decoded.
    fn requests(&self) -> Vec<ExportMetricsServiceRequest> {
        let bodies = self.bodies.lock().expect("lock");
        bodies.iter().map(|(_, b)| ExportMetricsServiceRequest::decode(b.as_ref()).expect("decodes")).collect()
    }
}

async fn sink(State(s): State<HttpSink>, headers: HeaderMap, body: Bytes) -> (StatusCode, Vec<u8>) {
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(s.delay).await;
    if n < s.fail {
        return (StatusCode::from_u16(s.status).unwrap_or(StatusCode::BAD_GATEWAY), Vec::new());
    }
    let encoding = headers.get("content-encoding").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = if encoding.as_deref() == Some("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body.as_ref()).read_to_end(&mut out).expect("gzip body");
        Bytes::from(out)
    } else {
        body
    };
    s.bodies.lock().expect("lock").push((encoding, body));
    (StatusCode::OK, ExportMetricsServiceResponse::default().encode_to_vec())
}

async fn http_sink(s: HttpSink) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = axum::Router::new().route("/v1/metrics", axum::routing::post(sink)).with_state(s);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_retries_unavailable_then_delivers_the_same_request() {
    let s = HttpSink { fail: 2, status: 503, ..Default::default() };
    let endpoint = http_sink(s.clone()).await;
    let f = forward(&endpoint, "protocol = \"http\"\n");
    let mut req = request();
    f.metrics(&mut req, &mut Report::default());
    let d = settle(&f, |d| d.delivered == 2).await;
    assert_eq!(d, Delivery { delivered: 2, undelivered: 0, queued_bytes: 0 });
    assert_eq!(s.calls.load(Ordering::SeqCst), 3, "two 503s, then success");
    assert_eq!(s.requests(), [request()]);
}

#[tokio::test]
async fn http_bodies_are_gzipped_unless_compression_is_none() {
    let s = HttpSink::default();
    let endpoint = http_sink(s.clone()).await;
    let gz = forward(&endpoint, "protocol = \"http\"\n");
    gz.metrics(&mut request(), &mut Report::default());
    settle(&gz, |d| d.delivered == 2).await;
    let plain = forward(&endpoint, "protocol = \"http\"\ncompression = \"none\"\n");
    plain.metrics(&mut request(), &mut Report::default());
    settle(&plain, |d| d.delivered == 2).await;
    let encodings: Vec<_> = s.bodies.lock().expect("lock").iter().map(|(e, _)| e.clone()).collect();
    assert_eq!(encodings, [Some("gzip".to_string()), None]);
    assert_eq!(s.requests(), [request(), request()], "the gunzipped body is the request");
    let raw = request().encode_to_vec();
    let packed = client::gzip_body(&raw).expect("gzip");
    assert!(packed.len() < raw.len() + 32 && packed.starts_with(&[0x1f, 0x8b]), "a gzip stream");
}

#[tokio::test]
async fn https_endpoints_speak_tls() {
    // A plain-HTTP server cannot answer a TLS handshake: the copy fails
    // before any request reaches the handler.
    let s = HttpSink::default();
    let endpoint = http_sink(s.clone()).await.replace("http://", "https://");
    let f = forward(&endpoint, "protocol = \"http\"\nmax_attempts = 1\n");
    f.metrics(&mut request(), &mut Report::default());
    let d = settle(&f, |d| d.undelivered == 2).await;
    assert_eq!((d.delivered, d.undelivered), (0, 2));
    assert_eq!(s.calls.load(Ordering::SeqCst), 0);

    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").expect("write");
    let text = format!(
        "[[pipelines.metrics]]\nname = \"c\"\ntype = \"forward\"\nendpoint = \"{endpoint}\"\n\
         protocol = \"http\"\ntls_ca_file = {:?}\n",
        ca.display().to_string()
    );
    let c = PipelinesConfig::from_toml(&text, "test").expect("config");
    let ProcessorConfig::Forward(fc) = c.metrics[0].0.clone() else { panic!("forward") };
    let e = Forward::start(fc, crate::config::Signal::Metrics).expect_err("no certificate in the CA file");
    assert!(e.to_string().contains("tls_ca_file"), "{e}");
}

#[tokio::test]
async fn shutdown_sends_what_is_queued_then_takes_no_more() {
    let s = HttpSink { delay: Duration::from_millis(20), ..Default::default() };
    let endpoint = http_sink(s.clone()).await;
    let f = forward(&endpoint, "protocol = \"http\"\n");
    for _ in 0..5 {
        f.metrics(&mut request(), &mut Report::default());
    }
    let task = f.shutdown(Instant::now() + Duration::from_secs(5)).expect("the sending task");
    task.await.expect("drained");
    let d = f.delivery().expect("delivery");
    assert_eq!(d, Delivery { delivered: 10, undelivered: 0, queued_bytes: 0 }, "all five queued copies sent");
    assert_eq!(s.requests().len(), 5);
    f.metrics(&mut request(), &mut Report::default());
    assert_eq!(f.delivery().expect("delivery").undelivered, 2, "a copy after shutdown is not taken");
    assert!(f.shutdown(Instant::now()).is_none(), "once");
}

#[tokio::test]
async fn shutdown_deadline_counts_the_rest_as_undelivered() {
    // An endpoint that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            open.push(conn);
        }
    });
    let f = forward(&format!("http://{addr}"), "protocol = \"http\"\n");
    for _ in 0..3 {
        f.metrics(&mut request(), &mut Report::default());
    }
    let started = Instant::now();
    let task = f.shutdown(Instant::now() + Duration::from_millis(300)).expect("task");
    task.await.expect("stopped");
    assert!(started.elapsed() < Duration::from_secs(3), "stopped at the deadline: {:?}", started.elapsed());
    assert_eq!(f.delivery().expect("delivery"), Delivery { delivered: 0, undelivered: 6, queued_bytes: 0 });
}

#[tokio::test]
async fn pipelines_shutdown_drains_every_forward() {
    let s = HttpSink::default();
    let endpoint = http_sink(s.clone()).await;
    let text = format!(
        "[[pipelines.metrics]]\nname = \"copy\"\ntype = \"forward\"\nendpoint = \"{endpoint}\"\nprotocol = \"http\"\n\
         [[pipelines.logs]]\nname = \"copy\"\ntype = \"forward\"\nendpoint = \"{endpoint}\"\nprotocol = \"http\"\n"
    );
    let p = crate::Pipelines::new(&PipelinesConfig::from_toml(&text, "test").expect("config"), None).expect("starts");
    for _ in 0..3 {
        p.run_metrics(&mut request());
    }
    p.shutdown(crate::DRAIN_TIMEOUT).await;
    assert_eq!(p.stats()[0].delivery.map(|d| (d.delivered, d.undelivered)), Some((6, 0)));
    assert_eq!(s.requests().len(), 3);
}

#[tokio::test]
async fn refused_copies_are_not_retried_and_count_as_undelivered() {
    let s = HttpSink { fail: usize::MAX, status: 400, ..Default::default() };
    let endpoint = http_sink(s.clone()).await;
    let f = forward(&endpoint, "protocol = \"http\"\n");
    f.metrics(&mut request(), &mut Report::default());
    let d = settle(&f, |d| d.undelivered == 2).await;
    assert_eq!((d.delivered, d.undelivered), (0, 2));
    assert_eq!(s.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let s = HttpSink { fail: usize::MAX, status: 503, ..Default::default() };
    let endpoint = http_sink(s.clone()).await;
    let f = forward(&endpoint, "protocol = \"http\"\nmax_attempts = 3\n");
    f.metrics(&mut request(), &mut Report::default());
    let d = settle(&f, |d| d.undelivered == 2).await;
    assert_eq!(d.undelivered, 2);
    assert_eq!(s.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_full_queue_drops_the_copy_never_the_request() {
    // The queue holds fewer bytes than one request: every copy is dropped.
    let f = forward("http://127.0.0.1:9", "queue_max_bytes = 16\n");
    let mut req = request();
    f.metrics(&mut req, &mut Report::default());
    f.metrics(&mut req, &mut Report::default());
    assert_eq!(req, request(), "the request itself is untouched");
    let d = f.delivery().expect("delivery");
    assert_eq!((d.delivered, d.undelivered, d.queued_bytes), (0, 4, 0));
}

#[derive(Default, Clone)]
struct GrpcSink(Arc<Mutex<Vec<ExportMetricsServiceRequest>>>);

async fn grpc_sink(sink: GrpcSink) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let service = MetricsServiceServer::new(sink).accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let server = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    format!("http://{addr}")
}

#[tonic::async_trait]
impl MetricsService for GrpcSink {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        assert_eq!(request.metadata().get("x-tenant").and_then(|v| v.to_str().ok()), Some("blue"));
        self.0.lock().expect("lock").push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tokio::test]
async fn grpc_delivers_with_headers_plain_or_gzipped() {
    let sink = GrpcSink::default();
    let endpoint = grpc_sink(sink.clone()).await;
    for extra in ["", "compression = \"gzip\"\n"] {
        let f = forward(&endpoint, &format!("headers = {{ \"x-tenant\" = \"blue\" }}\n{extra}"));
        f.metrics(&mut request(), &mut Report::default());
        let d = settle(&f, |d| d.delivered == 2).await;
        assert_eq!((d.delivered, d.undelivered), (2, 0), "{extra}");
    }
    assert_eq!(sink.0.lock().expect("lock").as_slice(), [request(), request()]);
}
