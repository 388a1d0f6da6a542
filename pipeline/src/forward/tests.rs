//! Forward against real local endpoints: an OTLP/HTTP server that fails
//! before it succeeds, a gRPC server, a full queue, a refusing endpoint.

use std::sync::atomic::AtomicUsize;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
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

#[derive(Clone, Default)]
struct HttpSink {
    calls: Arc<AtomicUsize>,
    /// Answer with this status for the first `fail` calls.
    fail: usize,
    status: u16,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

async fn sink(State(s): State<HttpSink>, body: Bytes) -> (StatusCode, Vec<u8>) {
    let n = s.calls.fetch_add(1, Ordering::SeqCst);
    if n < s.fail {
        return (StatusCode::from_u16(s.status).unwrap_or(StatusCode::BAD_GATEWAY), Vec::new());
    }
    s.bodies.lock().expect("lock").push(body);
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
    let bodies = s.bodies.lock().expect("lock");
    assert_eq!(ExportMetricsServiceRequest::decode(bodies[0].as_ref()).expect("decodes"), request());
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
async fn grpc_delivers_with_headers() {
    let sink = GrpcSink::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tonic::transport::Server::builder()
        .add_service(MetricsServiceServer::new(sink.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    let f = forward(&format!("http://{addr}"), "headers = { \"x-tenant\" = \"blue\" }\n");
    f.metrics(&mut request(), &mut Report::default());
    let d = settle(&f, |d| d.delivered == 2).await;
    assert_eq!((d.delivered, d.undelivered), (2, 0));
    assert_eq!(sink.0.lock().expect("lock").as_slice(), [request()]);
}
