//! Start and stop the real binary on ephemeral ports; query it over HTTP.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// A running `tidewater serve`.
pub struct Server {
    child: Child,
    pub http: SocketAddr,
    pub grpc: SocketAddr,
    /// The PostgreSQL wire protocol port.
    pub pg: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Start on 127.0.0.1:0 (every port) with `data_dir`; waits for the "listening" line.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_with(data_dir, &[])
    }

    /// Like [`Server::start`] with extra environment variables.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidewater"));
        cmd.args(["serve", "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--pg-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("TIDEWATER_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tidewater");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[tidewater] {line}");
                if line.contains("listening") {
                    let _ = tx.send(line.clone());
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("server did not log its listening addresses");
        let addr = |key: &str| -> SocketAddr {
            let start = line.find(key).expect("addr key") + key.len();
            let rest = &line[start..];
            let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
            rest[..end].parse().expect("socket addr")
        };
        Server { http: addr("http_addr="), grpc: addr("grpc_addr="), pg: addr("pg_addr="), child, log }
    }

    /// Base URL of the HTTP port.
    pub fn url(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Run SQL; panics unless the answer is 200. Returns the JSON body.
    pub fn sql(&self, query: &str) -> Value {
        let (status, body) = self.sql_raw(query);
        assert_eq!(status, 200, "query {query:?} failed: {body}");
        body
    }

    /// Run SQL, returning status and JSON body.
    pub fn sql_raw(&self, query: &str) -> (u16, Value) {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/sql", self.url()))
            .json(&serde_json::json!({ "query": query }))
            .send()
            .expect("sql request");
        let status = resp.status().as_u16();
        (status, resp.json().expect("json body"))
    }

    /// The `rows` of a query's answer.
    pub fn rows(&self, query: &str) -> Vec<Value> {
        self.sql(query)["rows"].as_array().expect("rows").clone()
    }

    /// Every log line so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// Send a signal by name (`HUP`, ...) without waiting for anything.
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args([format!("-{name}"), self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "kill -{name}");
    }

    /// The exit status once the process has ended (a crash, during a test), else None.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// SIGKILL: no chance to flush.
    pub fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "tidewater exited with {exit}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
