//! A server under test as a child process: start, wait until ready, watch
//! its CPU and memory, stop it cleanly and read its final CPU time.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http::Http;
use super::procfs::{sample, ProcSample};
use super::{Error, Result};

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Name for messages.
    pub name: String,
    /// Executable.
    pub program: PathBuf,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment variables added.
    pub env: Vec<(String, String)>,
    /// URL answering 200 once the server is ready.
    pub ready_url: String,
    /// Where stdout and stderr go (appended).
    pub log: PathBuf,
}

impl ServerSpec {
    /// The command line, for the report.
    pub fn command_line(&self) -> String {
        let env: String = self.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        format!("{env}{} {}", self.program.display(), self.args.join(" "))
    }
}

/// What stopping a server measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopped {
    /// Total CPU seconds of the process's life.
    pub cpu_secs: f64,
    /// Largest `VmHWM` seen, bytes.
    pub peak_hwm_bytes: u64,
    /// Seconds from SIGTERM to exit.
    pub shutdown_secs: f64,
}

/// A running server.
pub struct Server {
    spec: ServerSpec,
    child: Child,
    ticks: f64,
    peak_hwm: u64,
    last_cpu: f64,
    stopped: bool,
}

impl Server {
    /// Start the server (it is killed if the handle is dropped while running).
    pub fn start(spec: &ServerSpec, ticks_per_sec: f64) -> Result<Self> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&spec.log)
            .map_err(|e| Error::io(format!("opening {}", spec.log.display()), e))?;
        let log2 = log.try_clone().map_err(|e| Error::io("duplicating a log handle", e))?;
        let child = Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| Error::Process(format!("starting {}: {e}", spec.command_line())))?;
        Ok(Self { spec: spec.clone(), child, ticks: ticks_per_sec, peak_hwm: 0, last_cpu: 0.0, stopped: false })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait until the ready URL answers 2xx; fail if the process exits or `timeout` passes.
    pub fn wait_ready(&mut self, http: &Http, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.stopped = true;
                return Err(Error::Process(format!(
                    "{} exited with {status} while starting; see {}",
                    self.spec.name,
                    self.spec.log.display()
                )));
            }
            if http.get(&self.spec.ready_url, &[]).is_ok_and(|a| a.ok()) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                return Err(Error::Process(format!(
                    "{} not ready after {timeout:?} ({}); see {}",
                    self.spec.name,
                    self.spec.ready_url,
                    self.spec.log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Read CPU and memory now (remembering the peak).
    pub fn sample(&mut self) -> Option<ProcSample> {
        let s = sample(self.pid(), self.ticks)?;
        self.peak_hwm = self.peak_hwm.max(s.hwm_bytes);
        self.last_cpu = s.cpu_secs;
        Some(s)
    }

    /// Largest `VmHWM` seen so far, bytes.
    pub fn peak_hwm(&self) -> u64 {
        self.peak_hwm
    }

    /// Wait until background work ends: two consecutive half-second windows
    /// using under 3 % of one core, or `max` passes. Returns the seconds waited.
    pub fn settle(&mut self, max: Duration) -> f64 {
        let start = Instant::now();
        let window = Duration::from_millis(500);
        let mut quiet = 0;
        let mut before = self.sample().map_or(0.0, |s| s.cpu_secs);
        while start.elapsed() < max && quiet < 2 {
            std::thread::sleep(window);
            let now = self.sample().map_or(before, |s| s.cpu_secs);
            quiet = if now - before < 0.03 * window.as_secs_f64() { quiet + 1 } else { 0 };
            before = now;
        }
        start.elapsed().as_secs_f64()
    }

    /// SIGTERM, then wait for the exit (up to `timeout`, then SIGKILL and an
    /// error). CPU time is read from the exited process before it is reaped.
    pub fn stop(mut self, timeout: Duration) -> Result<Stopped> {
        self.sample();
        let start = Instant::now();
        signal(self.pid(), "TERM")?;
        let mut cpu = self.last_cpu;
        loop {
            match sample(self.pid(), self.ticks) {
                Some(s) if s.zombie => {
                    cpu = s.cpu_secs;
                    break;
                }
                Some(s) => {
                    cpu = s.cpu_secs;
                    self.peak_hwm = self.peak_hwm.max(s.hwm_bytes);
                }
                None => break,
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.stopped = true;
                return Err(Error::Process(format!("{} did not stop within {timeout:?}", self.spec.name)));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let shutdown_secs = start.elapsed().as_secs_f64();
        let status = self.child.wait().map_err(|e| Error::io(format!("waiting for {}", self.spec.name), e))?;
        self.stopped = true;
        if !status.success() {
            return Err(Error::Process(format!(
                "{} exited with {status} on SIGTERM; see {}",
                self.spec.name,
                self.spec.log.display()
            )));
        }
        Ok(Stopped { cpu_secs: cpu, peak_hwm_bytes: self.peak_hwm, shutdown_secs })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Send a signal with `kill(1)` (the workspace forbids `unsafe`, so no libc).
fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status()
        .map_err(|e| Error::Process(format!("kill -{sig} {pid}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Process(format!("kill -{sig} {pid}: {status}")))
    }
}
