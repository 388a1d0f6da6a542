//! `histogram_increase(counts, time [, start_time])`: how much each bucket of
//! a cumulative explicit-bucket histogram series grew over the group's
//! points, as a `List<UInt64>` (Prometheus' `increase(x_bucket[...])` for
//! every `le` at once).
//!
//! Group by the series (its attribute columns), the time bucket and the
//! bounds; then `histogram_quantile(q, bounds, increase)` is the windowed
//! quantile of that series, and `histogram_quantile_agg(q, bounds, increase)`
//! over the per-series rows the windowed quantile across series (the bucket
//! increases are summed, like `sum by (le)`).
//!
//! Like `increase`: points are sorted by `time`, the bucket-wise steps between
//! neighbours are summed, and a **reset** counts the new point in full. A
//! point is a reset when any of its bucket counts is lower than the previous
//! point's, when it has another number of buckets, or (with the third
//! argument) when its `start_time` differs from the previous point's. Points
//! with a NULL `counts` (stale markers), a NULL item or a NULL `time` are
//! skipped; fewer than two points give NULL. Delta histograms are not
//! differenced: `histogram_merge_counts` sums them.
//!
//! The state keeps the group's points (partitions deliver rows in any order),
//! so partial states merge by concatenation; as a window function the oldest
//! points leave sliding frames first.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, Int64Array, ListArray, PrimitiveArray, TimestampNanosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::cast::{as_int64_array, as_list_array, as_timestamp_nanosecond_array};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use super::args::{self, ListRows};

/// The function's SQL name.
const NAME: &str = "histogram_increase";

/// `histogram_increase(counts, time [, start_time])`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HistogramIncrease {
    signature: Signature,
}

/// The aggregate `histogram_increase`.
pub(crate) fn histogram_increase() -> AggregateUDF {
    AggregateUDF::from(HistogramIncrease { signature: Signature::user_defined(Volatility::Immutable) })
}

impl AggregateUDFImpl for HistogramIncrease {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(args::list_type(DataType::UInt64))
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_arity(&format!("{NAME}(counts, time [, start_time])"), arg_types.len(), 2..=3)?;
        let mut types = vec![
            args::numeric_list(NAME, "counts", &arg_types[0], DataType::UInt64)?,
            args::timestamp(NAME, "time", &arg_types[1])?,
        ];
        if let Some(start) = arg_types.get(2) {
            types.push(args::timestamp(NAME, "start_time", start)?);
        }
        Ok(types)
    }

    /// The state is the group's points: times, counts (a list of lists) and,
    /// with the third argument, start times.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |state: &str, t: DataType| Arc::new(Field::new(format_state_name(args.name, state), t, true));
        let mut fields = vec![
            field("times", args::list_type(DataType::Int64)),
            field("counts", args::list_type(args::list_type(DataType::UInt64))),
        ];
        if args.input_fields.len() == 3 {
            fields.push(field("start_times", args::list_type(DataType::Int64)));
        }
        Ok(fields)
    }

    fn accumulator(&self, acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PointsAccumulator::new(acc_args.exprs.len() == 3)))
    }
}

/// One point of a histogram series.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    time: i64,
    start: Option<i64>,
    counts: Vec<u64>,
}

/// Whether `cur` starts a new histogram after `prev`: a bucket count went
/// down, the number of buckets changed, or the (known) start time changed.
fn is_reset(prev: &Point, cur: &Point) -> bool {
    prev.counts.len() != cur.counts.len()
        || prev.counts.iter().zip(&cur.counts).any(|(p, c)| c < p)
        || matches!((prev.start, cur.start), (Some(a), Some(b)) if a != b)
}

/// The bucket-wise increase over time-sorted `points`: the sum of the steps
/// between neighbours, a reset counting the new point in full. `None` below
/// two points. The result is as long as the longest point; sums saturate.
fn increase(points: &[Point]) -> Option<Vec<u64>> {
    if points.len() < 2 {
        return None;
    }
    let mut total = vec![0u64; points.iter().map(|p| p.counts.len()).max().unwrap_or(0)];
    for pair in points.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let reset = is_reset(prev, cur);
        for (i, (sum, &c)) in total.iter_mut().zip(&cur.counts).enumerate() {
            let base = if reset { 0 } else { prev.counts.get(i).copied().unwrap_or(0) };
            *sum = sum.saturating_add(c.saturating_sub(base));
        }
    }
    Some(total)
}

/// Collects a group's points; the result is computed from them sorted.
#[derive(Debug)]
struct PointsAccumulator {
    with_start: bool,
    points: Vec<Point>,
}

impl PointsAccumulator {
    fn new(with_start: bool) -> Self {
        Self { with_start, points: Vec::new() }
    }

    /// Append the rows whose counts (without NULL items) and time are present.
    fn extend<T: ArrowPrimitiveType<Native = i64>>(
        &mut self,
        counts: &ArrayRef,
        times: &PrimitiveArray<T>,
        starts: Option<&PrimitiveArray<T>>,
    ) -> Result<()> {
        let rows = ListRows::<UInt64Type>::new(counts)?;
        for i in 0..counts.len().min(times.len()) {
            let Some(c) = rows.get(i).filter(|_| times.is_valid(i)) else { continue };
            let start = if self.with_start { starts.and_then(|s| s.is_valid(i).then(|| s.value(i))) } else { None };
            self.points.push(Point { time: times.value(i), start, counts: c.to_vec() });
        }
        Ok(())
    }

    fn sorted(&self) -> Vec<Point> {
        let mut points = self.points.clone();
        let total = |p: &Point| p.counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
        points.sort_by(|a, b| a.time.cmp(&b.time).then(total(a).cmp(&total(b))));
        points
    }
}

/// The `(counts, time, start_time?)` input columns.
fn input(values: &[ArrayRef]) -> Result<(&ArrayRef, &TimestampNanosecondArray, Option<&TimestampNanosecondArray>)> {
    let (Some(counts), Some(time)) = (values.first(), values.get(1)) else {
        return exec_err!("{NAME} called with {} arguments", values.len());
    };
    let start = values.get(2).map(|s| as_timestamp_nanosecond_array(s)).transpose()?;
    Ok((counts, as_timestamp_nanosecond_array(time)?, start))
}

impl Accumulator for PointsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (counts, time, start) = input(values)?;
        self.extend(counts, time, start)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(times), Some(counts)) = (states.first(), states.get(1)) else {
            return exec_err!("{NAME} state has {} columns", states.len());
        };
        let (times, counts) = (as_list_array(times)?, as_list_array(counts)?);
        let starts = states.get(2).map(|s| as_list_array(s)).transpose()?;
        for row in 0..times.len() {
            if times.is_null(row) || counts.is_null(row) {
                continue;
            }
            let (t, c) = (times.value(row), counts.value(row));
            let s = starts.filter(|s| s.is_valid(row)).map(|s| s.value(row));
            if t.len() != c.len() || s.as_ref().is_some_and(|s| s.len() != t.len()) {
                return exec_err!("{NAME} state lists differ in length");
            }
            self.extend(&c, as_int64_array(&t)?, s.as_ref().map(|s| as_int64_array(s)).transpose()?)?;
        }
        Ok(())
    }

    /// Sliding windows retract the oldest rows of the frame first, so the
    /// points to drop are the first ones appended.
    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (counts, time, _) = input(values)?;
        let rows = ListRows::<UInt64Type>::new(counts)?;
        let gone = (0..counts.len().min(time.len())).filter(|&i| time.is_valid(i) && rows.get(i).is_some()).count();
        self.points.drain(..gone.min(self.points.len()));
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let times = Int64Array::from_iter_values(self.points.iter().map(|p| p.time));
        let counts = ListArray::from_iter_primitive::<UInt64Type, _, _>(
            self.points.iter().map(|p| Some(p.counts.iter().copied().map(Some))),
        );
        let mut state = vec![args::list_scalar(Arc::new(times)), args::list_scalar(Arc::new(counts))];
        if self.with_start {
            let starts: Int64Array = self.points.iter().map(|p| p.start).collect();
            state.push(args::list_scalar(Arc::new(starts)));
        }
        Ok(state)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match increase(&self.sorted()) {
            Some(total) => Ok(args::list_scalar(Arc::new(UInt64Array::from(total)))),
            None => args::null_list(DataType::UInt64),
        }
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self.points.capacity() * size_of::<Point>()
            + self.points.iter().map(|p| p.counts.capacity() * size_of::<u64>()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::histogram::quantile;

    const SEC: i64 = 1_000_000_000;

    fn p(secs: i64, start: Option<i64>, counts: &[u64]) -> Point {
        Point { time: secs * SEC, start, counts: counts.to_vec() }
    }

    /// `(secs, start secs, counts)`; `None` counts are a stale point.
    type Row<'a> = (i64, i64, Option<&'a [u64]>);

    /// One batch of rows.
    fn batch(rows: &[Row]) -> Vec<ArrayRef> {
        let counts = ListArray::from_iter_primitive::<UInt64Type, _, _>(
            rows.iter().map(|r| r.2.map(|c| c.iter().copied().map(Some).collect::<Vec<_>>())),
        );
        let ts = |f: fn(&Row) -> i64| -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from_iter_values(rows.iter().map(|r| f(r) * SEC)))
        };
        vec![Arc::new(counts), ts(|r| r.0), ts(|r| r.1)]
    }

    fn result(acc: &mut PointsAccumulator) -> Option<Vec<u64>> {
        let ScalarValue::List(list) = acc.evaluate().expect("evaluate") else { panic!("not a list") };
        if list.is_null(0) {
            return None;
        }
        let values = list.value(0);
        Some(values.as_any().downcast_ref::<UInt64Array>().expect("u64 items").values().to_vec())
    }

    #[test]
    fn sums_bucket_steps_and_counts_a_reset_in_full() {
        // Buckets (-inf, 1], (1, 2], (2, +inf). The drop at 30 s is a reset:
        // [1, 0, 0] counts in full, then the steps go on from it.
        let points = [
            p(0, None, &[1, 2, 0]),
            p(10, None, &[3, 5, 1]),
            p(20, None, &[4, 5, 3]),
            p(30, None, &[1, 0, 0]),
            p(40, None, &[2, 1, 0]),
        ];
        let inc = increase(&points).expect("two points or more");
        assert_eq!(inc, vec![3 + 1 + 1, 3 + 1, 3]);
        // 12 observations: rank 6 is the 1st of the 4 in (1, 2].
        assert_eq!(quantile(0.5, &[1.0, 2.0], &inc), Some(1.25));
        // Rank 11.88 falls in the +inf bucket: the highest finite bound.
        assert_eq!(quantile(0.99, &[1.0, 2.0], &inc), Some(2.0));
        // Without the reset handling the window would look like [1, -2, 0].
        assert_eq!(increase(&points[3..]), Some(vec![1, 1, 0]));
    }

    #[test]
    fn a_new_start_time_is_a_reset_even_when_counts_rise() {
        let points = [p(0, Some(-1), &[5, 5]), p(10, Some(-1), &[6, 7]), p(20, Some(15), &[8, 9])];
        assert_eq!(increase(&points), Some(vec![1 + 8, 2 + 9]));
        let unknown: Vec<Point> = points.iter().map(|pt| Point { start: None, ..pt.clone() }).collect();
        assert_eq!(increase(&unknown), Some(vec![3, 4]));
        // Another number of buckets is a new layout: counted in full.
        assert_eq!(increase(&[p(0, None, &[5, 5]), p(10, None, &[1, 2, 3])]), Some(vec![1, 2, 3]));
    }

    #[test]
    fn fewer_than_two_points_is_null_and_no_change_is_zero() {
        assert_eq!(increase(&[]), None);
        assert_eq!(increase(&[p(0, None, &[1, 1])]), None);
        let flat = increase(&[p(0, None, &[1, 1]), p(10, None, &[1, 1])]).expect("two points");
        assert_eq!(flat, vec![0, 0]);
        // Nothing observed in the window: the quantile is NULL.
        assert_eq!(quantile(0.5, &[1.0], &flat), None);
    }

    #[test]
    fn partial_states_merge_in_any_order_and_stale_points_are_skipped() {
        let mut late = PointsAccumulator::new(true);
        late.update_batch(&batch(&[(40, 25, Some(&[2, 1, 0])), (30, 25, Some(&[1, 0, 0])), (45, 25, None)]))
            .expect("update");
        let mut early = PointsAccumulator::new(true);
        early
            .update_batch(&batch(&[(10, -1, Some(&[3, 5, 1])), (0, -1, Some(&[1, 2, 0])), (20, -1, Some(&[4, 5, 3]))]))
            .expect("update");
        let mut merged = PointsAccumulator::new(true);
        assert_eq!(result(&mut merged), None);
        for part in [&mut late, &mut early] {
            let state: Vec<ArrayRef> =
                part.state().expect("state").iter().map(|v| v.to_array().expect("array")).collect();
            merged.merge_batch(&state).expect("merge");
        }
        assert_eq!(result(&mut merged), Some(vec![5, 4, 3]));
    }

    #[test]
    fn retract_drops_the_oldest_points() {
        let mut acc = PointsAccumulator::new(false);
        acc.update_batch(&batch(&[
            (0, 0, Some(&[1, 0])),
            (5, 0, None),
            (10, 0, Some(&[2, 1])),
            (20, 0, Some(&[4, 1])),
        ]))
        .expect("update");
        assert_eq!(result(&mut acc), Some(vec![3, 1]));
        acc.retract_batch(&batch(&[(0, 0, Some(&[1, 0])), (5, 0, None)])).expect("retract");
        assert_eq!(result(&mut acc), Some(vec![2, 0]));
    }
}
