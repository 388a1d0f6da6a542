//! Latency statistics of repeated query runs.

use std::time::Duration;

/// The `q` quantile (0..=1) of sorted values by the nearest-rank method.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median and 95th percentile of some runs, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyStats {
    /// Median.
    pub median_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Number of runs.
    pub runs: usize,
}

impl LatencyStats {
    /// Statistics of these run times (`None` without runs).
    pub fn of(runs: &[Duration]) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = runs.iter().map(|d| d.as_secs_f64() * 1_000.0).collect();
        ms.sort_by(f64::total_cmp);
        Some(Self { median_ms: percentile(&ms, 0.5), p95_ms: percentile(&ms, 0.95), runs: ms.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.95), 10.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[3.0], 0.95), 3.0);
        assert!(percentile(&[], 0.5).is_nan());
        let s = LatencyStats::of(&[Duration::from_millis(3), Duration::from_millis(1), Duration::from_millis(2)]);
        assert_eq!(s, Some(LatencyStats { median_ms: 2.0, p95_ms: 3.0, runs: 3 }));
        assert_eq!(LatencyStats::of(&[]), None);
    }
}
