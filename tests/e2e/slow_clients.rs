//! Slow and idle clients (`[timeouts]`), on plain TCP: a slowloris client
//! trickling its request header is cut after the header timeout while a
//! well-behaved client keeps getting answers; an idle keep-alive connection
//! is closed after the idle timeout, one that keeps sending requests is not;
//! a client trickling its request body gets 408 and is cut after the body
//! timeout; a gRPC connection without an HTTP/2 preface is cut.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::server::Server;

const TIMEOUTS: &str =
    "[timeouts]\nhttp_header_read_timeout_secs = 2\nhttp_idle_timeout_secs = 3\nhttp_body_read_timeout_secs = 2\n";

fn start(dir: &Path) -> Server {
    let config = dir.join("tidewater.toml");
    std::fs::write(&config, TIMEOUTS).expect("config");
    Server::start_with(&dir.join("data"), &[("TIDEWATER_CONFIG", config.to_str().expect("utf-8"))])
}

/// True when the server has closed `s` (EOF or reset); false after `wait` without news.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).expect("read timeout");
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return false,
            Err(_) => return true,
        }
    }
}

/// Send one GET /health on `s` and read its whole answer.
fn get_health(s: &mut TcpStream) -> String {
    s.write_all(b"GET /health HTTP/1.1\r\nHost: tidewater\r\n\r\n").expect("write");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("read timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"}") {
        let n = s.read(&mut buf).expect("read answer");
        assert!(n > 0, "closed before the answer: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_slowloris_client_is_cut_while_others_get_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let addr = server.http;
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET /health HTTP/1.1\r\nHost: tidewater\r\n").expect("partial header");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            // One byte of a header line at a time, never the blank line.
            if s.write_all(b"x").is_err() || closed_within(&mut s, Duration::from_millis(300)) {
                return Some(start.elapsed());
            }
        }
        None
    });
    let client = reqwest::blocking::Client::new();
    let mut answered = 0;
    while !slow.is_finished() {
        let status = client.get(format!("{}/health", server.url())).send().expect("health").status();
        assert_eq!(status.as_u16(), 200);
        answered += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    let cut = slow.join().expect("slow client").expect("the slowloris client was never cut");
    assert!(cut >= Duration::from_millis(1500) && cut < Duration::from_secs(6), "cut after {cut:?}");
    assert!(answered >= 4, "the good client got {answered} answers meanwhile");
}

#[test]
fn a_client_trickling_its_body_gets_408_and_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let mut s = TcpStream::connect(server.http).expect("connect");
    s.write_all(
        b"POST /v1/metrics HTTP/1.1\r\nHost: tidewater\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    )
    .expect("header");
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(300))).expect("read timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // One body byte every 300 ms (the whole header came at once): cut by
    // the body timeout (2 s), though the header timeout would not fire.
    let closed = loop {
        if start.elapsed() > Duration::from_secs(10) {
            break false;
        }
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if s.write_all(b" ").is_err() {
                    break true;
                }
            }
            Err(_) => break true,
        }
    };
    let took = start.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(closed, "never closed; got {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request body not received within 2 s"), "{answer}");
    assert!(took >= Duration::from_millis(1800) && took < Duration::from_secs(5), "cut after {took:?}");
    // Bodies that arrive in time are read as usual.
    let client = reqwest::blocking::Client::new();
    let ok = client
        .post(format!("{}/v1/metrics", server.url()))
        .header("content-type", "application/json")
        .body(r#"{"resourceMetrics":[]}"#)
        .send()
        .expect("post");
    assert_eq!(ok.status().as_u16(), 200);
}

#[test]
fn idle_keep_alive_connections_are_closed_busy_ones_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());

    // A request every second for 5 s on one connection: longer than the
    // header timeout, each header arriving in time.
    let mut busy = TcpStream::connect(server.http).expect("connect");
    for _ in 0..5 {
        assert!(get_health(&mut busy).starts_with("HTTP/1.1 200"));
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(get_health(&mut busy).starts_with("HTTP/1.1 200"), "still served after 5 s");

    // Then silence: closed after the idle timeout (3 s), not before the header timeout.
    let start = Instant::now();
    assert!(!closed_within(&mut busy, Duration::from_millis(2200)), "closed before the idle timeout");
    assert!(closed_within(&mut busy, Duration::from_secs(5)), "idle connection never closed");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(2500) && took < Duration::from_secs(6), "closed after {took:?}");

    // A connection that never sends anything counts as a slow header.
    let mut mute = TcpStream::connect(server.http).expect("connect");
    let start = Instant::now();
    assert!(closed_within(&mut mute, Duration::from_secs(8)), "mute connection never closed");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
}

#[test]
fn a_grpc_connection_without_a_preface_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let mut mute = TcpStream::connect(server.grpc).expect("connect");
    mute.write_all(b"PRI * HTTP/2.0\r\n").expect("part of the preface");
    let start = Instant::now();
    assert!(closed_within(&mut mute, Duration::from_secs(8)), "never closed");
    assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
    // Well-behaved gRPC clients are served.
    crate::flight_sql::push_cpu(&server);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let channel =
            tonic::transport::Channel::from_shared(format!("http://{}", server.grpc)).expect("uri").connect().await;
        let mut client = arrow_flight::sql::client::FlightSqlServiceClient::new(channel.expect("connect"));
        client.execute("SELECT 1".into(), None).await.expect("flight sql");
    });
}
