//! Injectable wall-clock time.
//!
//! Retention ("is this partition past its TTL?") and the grace period before
//! replaced segment files are deleted read the time through [`Clock`], so
//! tests drive them with a [`ManualClock`] instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in nanoseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time (ns since 1970-01-01T00:00:00Z).
    fn now_nanos(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now_nanos`.
    pub fn new(now_nanos: i64) -> Self {
        Self { now: AtomicI64::new(now_nanos) }
    }

    /// Set the time.
    pub fn set(&self, now_nanos: i64) {
        self.now.store(now_nanos, Ordering::SeqCst);
    }

    /// Move the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(duration_nanos(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A duration in nanoseconds, saturating at `i64::MAX`.
pub fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(5);
        assert_eq!(c.now_nanos(), 5);
        c.advance(Duration::from_nanos(10));
        assert_eq!(c.now_nanos(), 15);
        c.set(-3);
        assert_eq!(c.now_nanos(), -3);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_nanos() > 1_577_836_800_000_000_000);
    }
}
