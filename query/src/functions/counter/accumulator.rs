//! The counter accumulators: [`SamplesAccumulator`] keeps a group's samples
//! (state: one list per column, merged by concatenation), [`SumAccumulator`]
//! keeps the sum of deltas.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, Float64Array, Int64Array, PrimitiveArray, TimestampNanosecondArray,
};
use datafusion::arrow::compute::sum;
use datafusion::common::cast::{as_float64_array, as_int64_array, as_list_array, as_timestamp_nanosecond_array};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::Accumulator;

use super::Sample;
use crate::functions::args;

/// Collects a group's samples; `output` computes the result from them sorted.
#[derive(Debug)]
pub(super) struct SamplesAccumulator {
    output: fn(&[Sample]) -> Option<f64>,
    with_start: bool,
    times: Vec<i64>,
    values: Vec<f64>,
    starts: Vec<Option<i64>>,
}

impl SamplesAccumulator {
    /// An empty accumulator; `with_start` if a `start_time` argument is given.
    pub(super) fn new(output: fn(&[Sample]) -> Option<f64>, with_start: bool) -> Self {
        Self { output, with_start, times: Vec::new(), values: Vec::new(), starts: Vec::new() }
    }

    /// Append the rows whose value and time are both present.
    fn extend<T: ArrowPrimitiveType<Native = i64>>(
        &mut self,
        values: &Float64Array,
        times: &PrimitiveArray<T>,
        starts: Option<&PrimitiveArray<T>>,
    ) {
        for i in 0..values.len().min(times.len()) {
            if values.is_null(i) || times.is_null(i) {
                continue;
            }
            self.values.push(values.value(i));
            self.times.push(times.value(i));
            if self.with_start {
                self.starts.push(starts.and_then(|s| s.is_valid(i).then(|| s.value(i))));
            }
        }
    }

    fn sorted(&self) -> Vec<Sample> {
        let mut samples: Vec<Sample> = (0..self.times.len())
            .map(|i| Sample {
                time: self.times[i],
                value: self.values[i],
                start: self.starts.get(i).copied().flatten(),
            })
            .collect();
        samples.sort_by(|a, b| a.time.cmp(&b.time).then(a.value.total_cmp(&b.value)));
        samples
    }
}

/// The `(value, time, start_time?)` input columns.
fn input(values: &[ArrayRef]) -> Result<(&Float64Array, &TimestampNanosecondArray, Option<&TimestampNanosecondArray>)> {
    let (Some(value), Some(time)) = (values.first(), values.get(1)) else {
        return exec_err!("counter aggregate called with {} arguments", values.len());
    };
    let start = values.get(2).map(|s| as_timestamp_nanosecond_array(s)).transpose()?;
    Ok((as_float64_array(value)?, as_timestamp_nanosecond_array(time)?, start))
}

impl Accumulator for SamplesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (value, time, start) = input(values)?;
        self.extend(value, time, start);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(times), Some(values)) = (states.first(), states.get(1)) else {
            return exec_err!("counter aggregate state has {} columns", states.len());
        };
        let (times, values) = (as_list_array(times)?, as_list_array(values)?);
        let starts = states.get(2).map(|s| as_list_array(s)).transpose()?;
        for row in 0..times.len() {
            if times.is_null(row) || values.is_null(row) {
                continue;
            }
            let (t, v) = (times.value(row), values.value(row));
            let s = starts.filter(|s| s.is_valid(row)).map(|s| s.value(row));
            if t.len() != v.len() || s.as_ref().is_some_and(|s| s.len() != t.len()) {
                return exec_err!("counter aggregate state lists differ in length");
            }
            self.extend(as_float64_array(&v)?, as_int64_array(&t)?, s.as_ref().map(|s| as_int64_array(s)).transpose()?);
        }
        Ok(())
    }

    /// Sliding windows retract the oldest rows of the frame first, so the
    /// rows to drop are the first ones appended.
    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (value, time, _) = input(values)?;
        let gone = (0..value.len().min(time.len())).filter(|&i| value.is_valid(i) && time.is_valid(i)).count();
        let gone = gone.min(self.times.len());
        self.times.drain(..gone);
        self.values.drain(..gone);
        self.starts.drain(..gone.min(self.starts.len()));
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut state = vec![
            args::list_scalar(Arc::new(Int64Array::from(self.times.clone()))),
            args::list_scalar(Arc::new(Float64Array::from(self.values.clone()))),
        ];
        if self.with_start {
            state.push(args::list_scalar(Arc::new(Int64Array::from(self.starts.clone()))));
        }
        Ok(state)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64((self.output)(&self.sorted())))
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self.times.capacity() * size_of::<i64>()
            + self.values.capacity() * size_of::<f64>()
            + self.starts.capacity() * size_of::<Option<i64>>()
    }
}

/// `delta_increase`: the sum of the deltas, NULL if there are none.
#[derive(Debug, Default)]
pub(super) struct SumAccumulator {
    sum: Option<f64>,
}

impl SumAccumulator {
    /// Add the non-NULL `values`, times `sign`.
    fn add(&mut self, values: Option<&ArrayRef>, sign: f64) -> Result<()> {
        let Some(values) = values else { return exec_err!("delta_increase called without arguments") };
        if let Some(s) = sum(as_float64_array(values)?) {
            *self.sum.get_or_insert(0.0) += sign * s;
        }
        Ok(())
    }
}

impl Accumulator for SumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(values.first(), 1.0)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.add(states.first(), 1.0)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(values.first(), -1.0)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Float64(self.sum)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.sum))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::counter::increase;

    fn accumulator(output: fn(&[Sample]) -> Option<f64>) -> SamplesAccumulator {
        SamplesAccumulator::new(output, true)
    }

    fn update(acc: &mut SamplesAccumulator, rows: &[(i64, f64, i64)]) {
        let secs = |f: fn(&(i64, f64, i64)) -> i64| -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from(rows.iter().map(|r| f(r) * 1_000_000_000).collect::<Vec<_>>()))
        };
        let values: ArrayRef = Arc::new(Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>()));
        acc.update_batch(&[values, secs(|r| r.0), secs(|r| r.2)]).unwrap();
    }

    #[test]
    fn partial_states_merge_in_any_order() {
        // The later half (with the reset) is seen by one partition, the
        // earlier by another; the final merge must sort them.
        let mut late = accumulator(increase);
        update(&mut late, &[(30, 4.0, 25), (40, 6.0, 25)]);
        let mut early = accumulator(increase);
        update(&mut early, &[(10, 20.0, 0), (0, 10.0, 0), (20, 35.0, 0)]);
        let mut merged = accumulator(increase);
        for part in [&mut late, &mut early] {
            let state: Vec<ArrayRef> = part.state().unwrap().iter().map(|v| v.to_array().unwrap()).collect();
            merged.merge_batch(&state).unwrap();
        }
        assert_eq!(merged.evaluate().unwrap(), ScalarValue::Float64(Some(10.0 + 15.0 + 4.0 + 2.0)));
    }

    #[test]
    fn retract_drops_the_oldest_samples() {
        let mut acc = accumulator(increase);
        update(&mut acc, &[(0, 10.0, 0), (10, 20.0, 0), (20, 5.0, 0)]);
        let oldest: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(vec![10.0])),
            Arc::new(TimestampNanosecondArray::from(vec![0])),
            Arc::new(TimestampNanosecondArray::from(vec![0])),
        ];
        acc.retract_batch(&oldest).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Float64(Some(5.0)));
    }

    #[test]
    fn delta_sums_merge() {
        let mut a = SumAccumulator::default();
        a.update_batch(&[Arc::new(Float64Array::from(vec![Some(1.0), None, Some(2.0)]))]).unwrap();
        let mut b = SumAccumulator::default();
        b.merge_batch(&[a.state().unwrap()[0].to_array().unwrap()]).unwrap();
        b.merge_batch(&[Arc::new(Float64Array::from(vec![None]))]).unwrap();
        assert_eq!(b.evaluate().unwrap(), ScalarValue::Float64(Some(3.0)));
        assert_eq!(SumAccumulator::default().evaluate().unwrap(), ScalarValue::Float64(None));
    }
}
