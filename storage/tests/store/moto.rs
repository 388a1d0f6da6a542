//! A real S3-compatible server for tests: `moto_server` (PyPI `moto[server]`,
//! installed by `scripts/test` in the test virtualenv) on 127.0.0.1, one per
//! test, killed when the guard drops. Shared by the storage tests and the
//! end-to-end tests (included with `#[path]`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `moto_server`; killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    addr: String,
}

/// The test virtualenv's Python: `TIDEWATER_TEST_PYTHON`, else the one
/// `scripts/test` makes under the workspace's `target/`.
fn test_python() -> PathBuf {
    if let Ok(p) = std::env::var("TIDEWATER_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().map(|d| d.join("target/test-venv/bin/python")).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("no test virtualenv with moto[server]: run ./scripts/test, or set TIDEWATER_TEST_PYTHON to its python")
    })
}

impl Moto {
    /// Start `moto_server` on a free port and wait until it serves.
    pub fn start() -> Moto {
        let python = test_python();
        let bin = python.with_file_name("moto_server");
        assert!(
            bin.exists(),
            "{} is missing: install tests/python/requirements.txt (moto[server]) into that virtualenv \
             (./scripts/test does)",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        // Reads every line (moto logs each request; a full pipe would stall it).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Running on http://").nth(1) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("moto_server did not report its address within 60 s");
            }
        };
        Moto { child, endpoint: format!("http://{addr}"), addr }
    }

    /// Create a bucket (moto accepts an unsigned `PUT /bucket`).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating bucket {bucket}: {body}");
    }

    /// The keys in `bucket` under `prefix`, sorted (moto answers an unsigned
    /// `ListObjectsV2`; at most 1,000 keys, enough for a test).
    #[allow(dead_code)] // used by the end-to-end tests only
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        assert_eq!(status, 200, "listing {bucket}: {body}");
        let mut keys: Vec<String> =
            body.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(str::to_string).collect();
        keys.sort();
        keys
    }

    /// Send a bodiless HTTP/1.1 request; returns the status code and body.
    fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect to moto");
        write!(s, "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.addr)
            .expect("send");
        let mut answer = String::new();
        s.read_to_string(&mut answer).expect("read");
        let status =
            answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("bad answer: {answer}"));
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, body)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
