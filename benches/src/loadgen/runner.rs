//! Runs a workload against a target: one generator thread feeds one bounded
//! queue per sender task, round-robin over the shards.
//!
//! The generator blocks when a sender's queue is full, which keeps the
//! senders within `queue_depth` requests of one another in data time
//! (Prometheus refuses samples far behind its newest). With
//! `pregenerate`, every request is encoded before the clock starts, so the
//! timed part measures the server, not the generator. A rate limit paces
//! the total points per second across senders.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::mpsc;

use super::payload::{encode, Payload, Target};
use super::sender::{Outcome, Sender};
use super::stats::{latency_histogram, progress_line, Counters, Latency, Summary};
use super::workload::Shard;
use super::{Error, Result};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Workload name, for the summary.
    pub workload: String,
    /// Transport.
    pub target: Target,
    /// Endpoint (scheme, host, port).
    pub endpoint: String,
    /// Sender tasks (one connection each).
    pub concurrency: usize,
    /// Points per request asked for (for the summary).
    pub batch_size: usize,
    /// Points per second across senders; `None` sends as fast as answered.
    pub rate: Option<f64>,
    /// Retries of one request on 429/503/UNAVAILABLE before it counts as failed.
    pub max_retries: u32,
    /// Print a progress line this often.
    pub progress: Option<Duration>,
    /// Encode every request before sending the first.
    pub pregenerate: bool,
    /// Refuse to pregenerate more than this many bytes of requests.
    pub max_pregenerate_bytes: u64,
    /// Requests queued per sender.
    pub queue_depth: usize,
}

/// Run the shards (one per sender) against the target.
pub async fn run(opts: &RunOptions, shards: Vec<Box<dyn Shard>>) -> Result<Summary> {
    if shards.len() != opts.concurrency || opts.concurrency == 0 {
        return Err(Error::Config(format!("{} shards for concurrency {}", shards.len(), opts.concurrency)));
    }
    let total_requests: u64 = shards.iter().map(|s| s.requests()).sum();
    let mut senders = Vec::with_capacity(opts.concurrency);
    for _ in 0..opts.concurrency {
        senders.push(Sender::connect(opts.target, &opts.endpoint).await?);
    }

    let gen_start = Instant::now();
    let source: Box<dyn Iterator<Item = Result<(usize, Payload)>> + Send> = if opts.pregenerate {
        let (target, limit) = (opts.target, opts.max_pregenerate_bytes);
        let all = tokio::task::spawn_blocking(move || pregenerate(RoundRobin::new(shards, target), limit))
            .await
            .map_err(|e| Error::Internal(format!("generator: {e}")))??;
        Box::new(all.into_iter().map(Ok))
    } else {
        Box::new(RoundRobin::new(shards, opts.target))
    };
    let generate_secs = if opts.pregenerate { gen_start.elapsed().as_secs_f64() } else { 0.0 };

    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let pacer = opts.rate.filter(|r| *r > 0.0).map(|rate| Arc::new(Pacer::new(start, rate)));
    let mut txs = Vec::with_capacity(opts.concurrency);
    let mut workers = Vec::with_capacity(opts.concurrency);
    for sender in senders {
        let (tx, rx) = mpsc::channel::<Payload>(opts.queue_depth.max(1));
        txs.push(tx);
        workers.push(tokio::spawn(worker(rx, sender, counters.clone(), pacer.clone(), opts.max_retries)));
    }
    let points_total = Arc::new(AtomicU64::new(0));
    let dispatcher = {
        let points_total = points_total.clone();
        tokio::task::spawn_blocking(move || dispatch(source, txs, &points_total))
    };
    let progress = opts.progress.map(|every| tokio::spawn(report_progress(every, counters.clone(), total_requests)));

    let mut latencies = latency_histogram()?;
    for w in workers {
        let h = w.await.map_err(|e| Error::Internal(format!("sender task: {e}")))??;
        latencies.add(&h).map_err(|e| Error::Internal(format!("merging latencies: {e}")))?;
    }
    let wall = start.elapsed();
    if let Some(p) = progress {
        p.abort();
    }
    dispatcher.await.map_err(|e| Error::Internal(format!("generator: {e}")))??;

    let acked = Counters::get(&counters.acked);
    Ok(Summary {
        workload: opts.workload.clone(),
        target: opts.target.name().to_string(),
        endpoint: opts.endpoint.clone(),
        concurrency: opts.concurrency,
        batch_size: opts.batch_size,
        points_total: points_total.load(Ordering::Relaxed),
        points_acked: acked,
        points_rejected: Counters::get(&counters.rejected),
        points_failed: Counters::get(&counters.failed_points),
        requests: Counters::get(&counters.requests),
        failed_requests: Counters::get(&counters.failed_requests),
        retries: Counters::get(&counters.retries),
        generate_secs,
        wall_secs: wall.as_secs_f64(),
        points_per_sec: acked as f64 / wall.as_secs_f64().max(1e-9),
        latency: Latency::from_histogram(&latencies),
        first_error: counters.first_error(),
    })
}

/// Requests from each shard in turn until all are done.
struct RoundRobin {
    shards: Vec<Box<dyn Shard>>,
    done: Vec<bool>,
    next: usize,
    target: Target,
}

impl RoundRobin {
    fn new(shards: Vec<Box<dyn Shard>>, target: Target) -> Self {
        let done = vec![false; shards.len()];
        Self { shards, done, next: 0, target }
    }
}

impl Iterator for RoundRobin {
    type Item = Result<(usize, Payload)>;

    fn next(&mut self) -> Option<Self::Item> {
        for _ in 0..self.shards.len() {
            let w = self.next;
            self.next = (self.next + 1) % self.shards.len();
            if self.done[w] {
                continue;
            }
            match self.shards[w].next_batch() {
                Some(batch) => return Some(encode(&batch, self.target).map(|p| (w, p))),
                None => self.done[w] = true,
            }
        }
        None
    }
}

fn pregenerate(source: RoundRobin, limit: u64) -> Result<Vec<(usize, Payload)>> {
    let mut bytes = 0u64;
    let mut out = Vec::new();
    for item in source {
        let (w, p) = item?;
        bytes += p.body.len() as u64;
        if bytes > limit {
            return Err(Error::Config(format!(
                "pregenerated requests exceed {limit} bytes; raise --max-pregenerate-mib or drop --pregenerate"
            )));
        }
        out.push((w, p));
    }
    Ok(out)
}

/// Feed the senders' queues (on a blocking thread: generation is CPU work).
fn dispatch(
    source: Box<dyn Iterator<Item = Result<(usize, Payload)>> + Send>,
    txs: Vec<mpsc::Sender<Payload>>,
    points_total: &AtomicU64,
) -> Result<()> {
    for item in source {
        let (w, payload) = item?;
        points_total.fetch_add(payload.points, Ordering::Relaxed);
        let tx = txs.get(w).ok_or_else(|| Error::Internal(format!("no sender {w}")))?;
        if tx.blocking_send(payload).is_err() {
            return Err(Error::Internal(format!("sender {w} stopped early")));
        }
    }
    Ok(())
}

/// Spreads points over time at a fixed total rate.
struct Pacer {
    start: Instant,
    rate: f64,
    scheduled: AtomicU64,
}

impl Pacer {
    fn new(start: Instant, rate: f64) -> Self {
        Self { start, rate, scheduled: AtomicU64::new(0) }
    }

    /// Wait until `points` more may be sent.
    async fn wait(&self, points: u64) {
        let before = self.scheduled.fetch_add(points, Ordering::Relaxed);
        let at = self.start + Duration::from_secs_f64(before as f64 / self.rate);
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
}

async fn worker(
    mut rx: mpsc::Receiver<Payload>,
    mut sender: Sender,
    counters: Arc<Counters>,
    pacer: Option<Arc<Pacer>>,
    max_retries: u32,
) -> Result<Histogram<u64>> {
    let mut latencies = latency_histogram()?;
    while let Some(payload) = rx.recv().await {
        if let Some(p) = &pacer {
            p.wait(payload.points).await;
        }
        let mut retries = 0;
        loop {
            let t0 = Instant::now();
            match sender.send(&payload).await {
                Outcome::Acked { rejected } => {
                    let rejected = rejected.min(payload.points);
                    latencies.saturating_record(t0.elapsed().as_micros().min(u128::from(u64::MAX)) as u64);
                    Counters::add(&counters.acked, payload.points - rejected);
                    Counters::add(&counters.rejected, rejected);
                    Counters::add(&counters.requests, 1);
                    break;
                }
                Outcome::Retry { after, reason } if retries < max_retries => {
                    retries += 1;
                    Counters::add(&counters.retries, 1);
                    if retries == 1 {
                        counters.note_error(&format!("retried: {reason}"));
                    }
                    tokio::time::sleep(after).await;
                }
                Outcome::Retry { reason, .. } => {
                    fail(&counters, payload.points, &format!("gave up after {retries} retries: {reason}"));
                    break;
                }
                Outcome::Failed(message) => {
                    fail(&counters, payload.points, &message);
                    break;
                }
            }
        }
    }
    Ok(latencies)
}

fn fail(counters: &Counters, points: u64, message: &str) {
    Counters::add(&counters.failed_points, points);
    Counters::add(&counters.failed_requests, 1);
    counters.note_error(message);
}

async fn report_progress(every: Duration, counters: Arc<Counters>, total: u64) {
    let start = Instant::now();
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // the first tick is immediate
    let mut last = 0;
    loop {
        tick.tick().await;
        let done = Counters::get(&counters.requests) + Counters::get(&counters.failed_requests);
        eprintln!("{}", progress_line(start.elapsed(), &counters, last, every, done, total));
        last = Counters::get(&counters.acked);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::loadgen::workload::{shards, Spec, WorkloadKind};

    /// An HTTP server answering the first `busy` requests with 429 and
    /// `Retry-After: 0`, then every request with `status`.
    async fn fake_server(busy: usize, status: &'static str) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Read the head, then as many body bytes as Content-Length says.
                    loop {
                        let Ok(read) = socket.read(&mut chunk).await else { return };
                        if read == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..read]);
                        let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                        if let Some(head_end) = text.find("\r\n\r\n") {
                            let len = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if buf.len() >= head_end + 4 + len {
                                break;
                            }
                        }
                    }
                    let answer = if n < busy {
                        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 0\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy"
                            .to_string()
                    } else {
                        format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    };
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (format!("http://{addr}"), seen)
    }

    fn options(endpoint: String) -> RunOptions {
        RunOptions {
            workload: "tsbs-cpu".into(),
            target: Target::RemoteWrite,
            endpoint,
            concurrency: 2,
            batch_size: 100,
            rate: None,
            max_retries: 5,
            progress: None,
            pregenerate: false,
            max_pregenerate_bytes: 1 << 30,
            queue_depth: 2,
        }
    }

    fn spec() -> Spec {
        Spec {
            kind: WorkloadKind::TsbsCpu,
            seed: 3,
            scale: 2,
            start_ns: 1_700_000_005_000_000_000,
            interval_ns: 10_000_000_000,
            ticks: 30,
            routes: 0,
            logs_per_tick: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overload_is_retried_and_only_acknowledged_points_count() {
        let (endpoint, seen) = fake_server(3, "204 No Content").await;
        let opts = options(endpoint);
        let summary = run(&opts, shards(&spec(), opts.target, 2, 100, u64::MAX).expect("shards")).await.expect("run");
        assert_eq!(summary.points_total, 2 * 10 * 30);
        assert_eq!(summary.points_acked, summary.points_total);
        assert_eq!((summary.retries, summary.failed_requests, summary.points_failed), (3, 0, 0));
        assert_eq!(summary.requests, 6, "2 senders x 3 requests of 10 ticks");
        assert_eq!(seen.load(Ordering::SeqCst), 6 + 3);
        assert!(summary.first_error.is_some_and(|e| e.contains("429")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_and_exhausted_requests_are_not_acknowledged() {
        let (endpoint, _) = fake_server(0, "400 Bad Request").await;
        let opts = options(endpoint);
        let summary = run(&opts, shards(&spec(), opts.target, 2, 100, u64::MAX).expect("shards")).await.expect("run");
        assert_eq!((summary.points_acked, summary.requests), (0, 0));
        assert_eq!((summary.failed_requests, summary.points_failed), (6, 600));

        let (endpoint, _) = fake_server(usize::MAX, "204 No Content").await;
        let mut opts = options(endpoint);
        opts.max_retries = 2;
        let summary = run(&opts, shards(&spec(), opts.target, 2, 100, u64::MAX).expect("shards")).await.expect("run");
        assert_eq!((summary.points_acked, summary.failed_requests, summary.retries), (0, 6, 12));
    }
}
