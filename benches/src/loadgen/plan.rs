//! How a shard's data is cut into requests of about `batch` points.
//!
//! A shard has `units` entities (hosts, services), each producing
//! `per_unit` points per tick. Requests go tick-window by tick-window (so
//! every series is sent in time order): if one tick of all units fits in a
//! batch, a request holds all units for as many ticks as fit (at most
//! `max_ticks`); otherwise it holds one tick for as many units as fit.
//!
//! Every shard of a run gets the same tick windows (sized for the widest
//! shard), so senders that keep pace also stay together in data time.

use std::ops::Range;

/// How requests are cut, the same for every shard of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Points per request, at most (but at least one unit-tick).
    pub batch: usize,
    /// Ticks one request may span, at most.
    pub max_ticks: u64,
    /// Units of the widest shard.
    pub widest: usize,
}

/// The request-by-request walk through (units x ticks).
#[derive(Debug, Clone)]
pub struct Plan {
    units: usize,
    ticks: u64,
    unit_chunk: usize,
    tick_chunk: u64,
    next_tick: u64,
    next_unit: usize,
}

impl Plan {
    /// A plan for `units` entities of `per_unit` points per tick over
    /// `ticks` ticks, cut as `cut` says.
    pub fn new(units: usize, per_unit: usize, ticks: u64, cut: Cut) -> Self {
        let per_unit = per_unit.max(1);
        let batch = cut.batch.max(1);
        let per_tick = units.max(cut.widest).saturating_mul(per_unit);
        let (unit_chunk, tick_chunk) = if per_tick <= batch {
            (units.max(1), ((batch / per_tick.max(1)) as u64).clamp(1, cut.max_ticks.max(1)))
        } else {
            ((batch / per_unit).max(1), 1)
        };
        let ticks = if units == 0 { 0 } else { ticks };
        Self { units, ticks, unit_chunk, tick_chunk, next_tick: 0, next_unit: 0 }
    }

    /// The next request's units and ticks, or `None` when all are sent.
    pub fn next_request(&mut self) -> Option<(Range<usize>, Range<u64>)> {
        if self.next_tick >= self.ticks {
            return None;
        }
        let ticks = self.next_tick..(self.next_tick + self.tick_chunk).min(self.ticks);
        let units = self.next_unit..(self.next_unit + self.unit_chunk).min(self.units);
        self.next_unit = units.end;
        if self.next_unit >= self.units {
            self.next_unit = 0;
            self.next_tick = ticks.end;
        }
        Some((units, ticks))
    }

    /// How many requests the whole plan makes.
    pub fn requests(&self) -> u64 {
        if self.units == 0 {
            return 0;
        }
        let windows = self.ticks.div_ceil(self.tick_chunk);
        windows * self.units.div_ceil(self.unit_chunk) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(batch: usize) -> Cut {
        Cut { batch, max_ticks: u64::MAX, widest: 0 }
    }

    fn all(mut p: Plan) -> Vec<(Range<usize>, Range<u64>)> {
        std::iter::from_fn(|| p.next_request()).collect()
    }

    #[test]
    fn many_ticks_per_request_when_a_tick_fits() {
        // 25 hosts x 10 fields = 250 points per tick; 10,000 -> 40 ticks.
        let p = Plan::new(25, 10, 100, cut(10_000));
        assert_eq!(p.requests(), 3);
        assert_eq!(all(p), [(0..25, 0..40), (0..25, 40..80), (0..25, 80..100)]);
    }

    #[test]
    fn unit_chunks_when_a_tick_does_not_fit() {
        let p = Plan::new(5, 10, 2, cut(20));
        assert_eq!(p.requests(), 6);
        assert_eq!(all(p), [(0..2, 0..1), (2..4, 0..1), (4..5, 0..1), (0..2, 1..2), (2..4, 1..2), (4..5, 1..2)]);
    }

    #[test]
    fn every_unit_tick_once() {
        for (units, per, ticks, batch) in [(7, 3, 11, 5), (1, 1, 1, 1), (3, 10, 9, 1_000), (4, 7, 13, 30)] {
            let p = Plan::new(units, per, ticks, cut(batch));
            let n = p.requests();
            let reqs = all(p);
            assert_eq!(reqs.len() as u64, n);
            let cells: usize = reqs.iter().map(|(u, t)| u.len() * (t.end - t.start) as usize).sum();
            assert_eq!(cells, units * ticks as usize);
            assert!(reqs.iter().all(|(u, t)| u.len() * per * (t.end - t.start) as usize <= batch.max(per)));
        }
        assert!(all(Plan::new(0, 10, 5, cut(10))).is_empty());
    }

    #[test]
    fn shards_share_tick_windows_and_spans_are_capped() {
        // The widest shard has 3 units: 30 points per tick, 10 ticks per request
        // for it and for a 2-unit shard alike.
        let c = Cut { batch: 300, max_ticks: u64::MAX, widest: 3 };
        assert_eq!(all(Plan::new(2, 10, 20, c)), [(0..2, 0..10), (0..2, 10..20)]);
        let capped = Cut { batch: 10_000, max_ticks: 4, widest: 1 };
        assert_eq!(all(Plan::new(1, 10, 10, capped)), [(0..1, 0..4), (0..1, 4..8), (0..1, 8..10)]);
    }
}
