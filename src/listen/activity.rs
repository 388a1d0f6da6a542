//! What an HTTP/1 connection is doing, for its timeouts: reading a request
//! header (bounded by the header timeout, counted from the connection's
//! start or from the first byte of a later request), answering (unbounded:
//! queries have their own timeout), or idle between two requests (bounded
//! by the idle timeout).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// The phase of one connection and when it began.
#[derive(Debug)]
pub struct Activity {
    base: Instant,
    phase: AtomicU8,
    /// Milliseconds from `base` to the start of the phase.
    since_ms: AtomicU64,
    changed: Notify,
}

impl Default for Activity {
    fn default() -> Self {
        Self { base: Instant::now(), phase: AtomicU8::new(HEAD), since_ms: AtomicU64::new(0), changed: Notify::new() }
    }
}

impl Activity {
    fn set(&self, phase: u8) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.since_ms.store(ms, Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// Bytes came in: when idle, a new request header has begun.
    pub fn bytes_read(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.set(HEAD);
        }
    }

    /// A whole request header was read.
    pub fn request_started(&self) {
        self.set(BUSY);
    }

    /// The answer was sent (or dropped): the connection waits for the next request.
    pub fn response_finished(&self) {
        self.set(IDLE);
    }

    fn snapshot(&self) -> (u8, u64) {
        (self.phase.load(Ordering::Relaxed), self.since_ms.load(Ordering::Relaxed))
    }

    /// Resolves when the connection has been reading one header longer than
    /// `header`, or idle longer than `idle`; says which.
    pub async fn expired(&self, header: Duration, idle: Duration) -> &'static str {
        loop {
            let (phase, since) = self.snapshot();
            let (limit, reason) = match phase {
                HEAD => (header, "request header not received in time"),
                IDLE => (idle, "idle keep-alive connection"),
                _ => {
                    self.changed.notified().await;
                    continue;
                }
            };
            let deadline = self.base + Duration::from_millis(since) + limit;
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    if self.snapshot() == (phase, since) {
                        return reason;
                    }
                }
                _ = self.changed.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn header_then_busy_then_idle_deadlines() {
        let a = Activity::default();
        let (h, i) = (Duration::from_millis(100), Duration::from_millis(300));
        let t = Instant::now();
        assert_eq!(a.expired(h, i).await, "request header not received in time");
        assert!(t.elapsed() >= h && t.elapsed() < i, "{:?}", t.elapsed());
        a.request_started();
        assert!(tokio::time::timeout(i * 2, a.expired(h, i)).await.is_err(), "busy: no deadline");
        a.response_finished();
        let t = Instant::now();
        assert_eq!(a.expired(h, i).await, "idle keep-alive connection");
        assert!(t.elapsed() >= i, "{:?}", t.elapsed());
        a.bytes_read();
        let t = Instant::now();
        assert_eq!(a.expired(h, i).await, "request header not received in time");
        assert!(t.elapsed() >= h && t.elapsed() < i, "{:?}", t.elapsed());
    }
}
