//! Bucket arithmetic: buckets are `[k * interval, (k + 1) * interval)` in
//! nanoseconds since the Unix epoch, so a 1 h rollup has UTC hours.

/// Start of the bucket holding `t`.
pub(crate) fn floor(t: i64, interval: i64) -> i64 {
    t.div_euclid(interval).saturating_mul(interval)
}

/// End of the buckets that are closed at `now`: a bucket is closed once its
/// end plus `lag` has passed, so every bucket starting before the returned
/// time may be rolled up.
pub(crate) fn closed_end(now: i64, lag: i64, interval: i64) -> i64 {
    floor(now.saturating_sub(lag), interval)
}

/// The end of the window starting at `start`: at most `max_buckets` buckets,
/// never past `closed`.
pub(crate) fn window_end(start: i64, closed: i64, interval: i64, max_buckets: u32) -> i64 {
    start.saturating_add(interval.saturating_mul(i64::from(max_buckets))).min(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn buckets_are_epoch_aligned_and_close_after_the_lag() {
        assert_eq!(floor(0, MIN), 0);
        assert_eq!(floor(MIN - 1, MIN), 0);
        assert_eq!(floor(MIN, MIN), MIN);
        assert_eq!(floor(-1, MIN), -MIN);
        // At 10:02:29 with a 30 s lag, buckets before 10:02 are closed...
        let t = 600 * MIN;
        assert_eq!(closed_end(t + 2 * MIN + 29_000_000_000, 30_000_000_000, MIN), t + MIN);
        // ... and at 10:02:30 the 10:01 bucket closes too.
        assert_eq!(closed_end(t + 2 * MIN + 30_000_000_000, 30_000_000_000, MIN), t + 2 * MIN);
        assert_eq!(window_end(t, t + 100 * MIN, MIN, 60), t + 60 * MIN);
        assert_eq!(window_end(t, t + 5 * MIN, MIN, 60), t + 5 * MIN);
        assert_eq!(window_end(i64::MAX - 5, i64::MAX, MIN, 60), i64::MAX);
    }
}
