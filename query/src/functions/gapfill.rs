//! Window functions that fill the empty buckets a gap-filling `LEFT JOIN`
//! leaves: `locf(value)` carries the last non-NULL value forward and
//! `interpolate(value, time)` draws a straight line between the neighbouring
//! non-NULL values. Both work on the window's partition in its `ORDER BY`
//! order (order by the bucket), and ignore the window frame.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, UInt64Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_float64_array, as_int64_array};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};

use super::args;

/// `locf(value)`: last observation carried forward.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Locf {
    signature: Signature,
}

/// The window function `locf`.
pub(crate) fn locf() -> WindowUDF {
    WindowUDF::from(Locf { signature: Signature::any(1, Volatility::Immutable) })
}

impl WindowUDFImpl for Locf {
    fn name(&self) -> &str {
        "locf"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(LocfEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let Some(input) = field_args.get_input_field(0) else { return plan_err!("locf(value) takes one argument") };
        Ok(Arc::new(Field::new(field_args.name(), input.data_type().clone(), true)))
    }
}

#[derive(Debug)]
struct LocfEvaluator;

impl PartitionEvaluator for LocfEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(value) = values.first() else { return exec_err!("locf called without arguments") };
        let nulls = value.logical_nulls();
        let mut last = None;
        let indices: UInt64Array = (0..value.len())
            .map(|i| {
                if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                    last = Some(i as u64);
                }
                last
            })
            .collect();
        Ok(take(value.as_ref(), &indices, None)?)
    }
}

/// `interpolate(value, time)`: linear interpolation over time.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Interpolate {
    signature: Signature,
}

/// The window function `interpolate`.
pub(crate) fn interpolate() -> WindowUDF {
    WindowUDF::from(Interpolate { signature: Signature::user_defined(Volatility::Immutable) })
}

impl WindowUDFImpl for Interpolate {
    fn name(&self) -> &str {
        "interpolate"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_arity("interpolate(value, time)", arg_types.len(), 2..=2)?;
        let time = match &arg_types[1] {
            t if t.is_integer() => DataType::Int64,
            t => args::timestamp("interpolate", "time", t)?,
        };
        Ok(vec![args::float("interpolate", "value", &arg_types[0])?, time])
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(InterpolateEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Float64, true)))
    }
}

#[derive(Debug)]
struct InterpolateEvaluator;

impl PartitionEvaluator for InterpolateEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let [value, time] = values else { return exec_err!("interpolate called with {} arguments", values.len()) };
        let value = as_float64_array(value)?;
        let time = cast(time, &DataType::Int64)?;
        let time = as_int64_array(&time)?;
        let points: Vec<Option<(i64, f64)>> = (0..value.len())
            .map(|i| (value.is_valid(i) && time.is_valid(i)).then(|| (time.value(i), value.value(i))))
            .collect();
        // The nearest known point at or before, and at or after, each row.
        let mut before = Vec::with_capacity(points.len());
        let mut last = None;
        for p in &points {
            last = p.or(last);
            before.push(last);
        }
        let mut after = vec![None; points.len()];
        let mut next = None;
        for (i, p) in points.iter().enumerate().rev() {
            next = p.or(next);
            after[i] = next;
        }
        let out: Float64Array = (0..points.len())
            .map(|i| match (points[i], before[i], after[i]) {
                (Some((_, v)), _, _) => Some(v),
                (None, Some(a), Some(b)) if time.is_valid(i) => Some(line(a, b, time.value(i))),
                _ => None,
            })
            .collect();
        Ok(Arc::new(out))
    }
}

/// The value at `t` on the line through `(t0, v0)` and `(t1, v1)`.
fn line((t0, v0): (i64, f64), (t1, v1): (i64, f64), t: i64) -> f64 {
    if t1 == t0 {
        return v0;
    }
    let frac = (i128::from(t) - i128::from(t0)) as f64 / (i128::from(t1) - i128::from(t0)) as f64;
    v0 + (v1 - v0) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_between_known_points_only() {
        let values: ArrayRef = Arc::new(Float64Array::from(vec![None, Some(10.0), None, None, Some(16.0), None]));
        let times: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![0, 10, 20, 30, 40, 50]));
        let filled = InterpolateEvaluator.evaluate_all(&[values.clone(), times], 6).unwrap();
        let expected = Float64Array::from(vec![None, Some(10.0), Some(12.0), Some(14.0), Some(16.0), None]);
        assert_eq!(as_float64_array(&filled).unwrap(), &expected);
        let carried = LocfEvaluator.evaluate_all(&[values], 6).unwrap();
        let expected = Float64Array::from(vec![None, Some(10.0), Some(10.0), Some(10.0), Some(16.0), Some(16.0)]);
        assert_eq!(as_float64_array(&carried).unwrap(), &expected);
    }
}
