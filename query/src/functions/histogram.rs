//! Explicit-bucket histograms: `histogram_quantile(q, bounds, counts)` on one
//! row and `histogram_quantile_agg(q, bounds, counts)`, which first sums the
//! bucket counts of every row in the group (rows must share their bounds).
//!
//! Buckets are OTLP's: `counts[i]` observations fell in
//! `(bounds[i-1], bounds[i]]`, the first bucket is `(-inf, bounds[0]]` and the
//! last `(bounds[n-1], +inf)`, so `counts` has one entry more than `bounds`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::cast::as_float64_array;
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

use super::args::{self, ListRows};

/// The `q` quantile of one histogram, Prometheus style: find the bucket that
/// holds rank `q * total` and interpolate linearly inside it. The lowest
/// bucket is taken to start at 0 when its bound is positive (else its bound
/// is the answer); a rank in the `+inf` bucket answers the highest finite
/// bound. `q < 0` gives `-inf`, `q > 1` gives `+inf`.
///
/// `None` for an empty histogram, one whose `counts` length is not
/// `bounds.len() + 1`, bounds that are not increasing, or a NaN `q`.
pub(crate) fn quantile(q: f64, bounds: &[f64], counts: &[u64]) -> Option<f64> {
    if !well_formed(bounds, counts) || q.is_nan() {
        return None;
    }
    let total: f64 = counts.iter().map(|&c| c as f64).sum();
    if total == 0.0 {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let rank = q * total;
    let mut below = 0.0;
    for (i, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let count = count as f64;
        if below + count >= rank {
            let Some(&upper) = bounds.get(i) else {
                return bounds.last().copied();
            };
            let lower = match i.checked_sub(1) {
                Some(j) => bounds[j],
                None if upper <= 0.0 => return Some(upper),
                None => 0.0,
            };
            return Some(lower + (upper - lower) * (rank - below) / count);
        }
        below += count;
    }
    None
}

/// One more count than bounds, at least one finite bound, bounds increasing.
fn well_formed(bounds: &[f64], counts: &[u64]) -> bool {
    counts.len() == bounds.len() + 1
        && !bounds.is_empty()
        && bounds.iter().all(|b| b.is_finite())
        && bounds.windows(2).all(|w| w[0] < w[1])
}

/// `(q Float64, bounds List<Float64>, counts List<UInt64>)`, shared by both functions.
fn coerce(func: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    args::check_arity(&format!("{func}(q, bounds, counts)"), arg_types.len(), 3..=3)?;
    Ok(vec![
        args::float(func, "q", &arg_types[0])?,
        args::numeric_list(func, "bounds", &arg_types[1], DataType::Float64)?,
        args::numeric_list(func, "counts", &arg_types[2], DataType::UInt64)?,
    ])
}

/// The rows of `(q, bounds, counts)` columns, `None` where any is NULL.
/// One histogram row: `(q, bounds, counts)`, or `None` where an input is NULL.
type HistogramRow<'a> = Option<(f64, &'a [f64], &'a [u64])>;

fn rows(columns: &[ArrayRef]) -> Result<impl Iterator<Item = HistogramRow<'_>>> {
    let [q, bounds, counts] = columns else {
        return exec_err!("histogram function called with {} arguments", columns.len());
    };
    let q = as_float64_array(q)?;
    let bounds = ListRows::<Float64Type>::new(bounds)?;
    let counts = ListRows::<UInt64Type>::new(counts)?;
    Ok((0..q.len()).map(move |i| Some((q.is_valid(i).then(|| q.value(i))?, bounds.get(i)?, counts.get(i)?))))
}

/// `histogram_quantile(q, bounds, counts)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HistogramQuantile {
    signature: Signature,
}

/// The scalar `histogram_quantile`.
pub(crate) fn histogram_quantile() -> ScalarUDF {
    ScalarUDF::from(HistogramQuantile { signature: Signature::user_defined(Volatility::Immutable) })
}

impl ScalarUDFImpl for HistogramQuantile {
    fn name(&self) -> &str {
        "histogram_quantile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(self.name(), arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let per_row = |columns: &[ArrayRef]| -> Result<ArrayRef> {
            let out: Float64Array = rows(columns)?.map(|r| r.and_then(|(q, b, c)| quantile(q, b, c))).collect();
            Ok(Arc::new(out))
        };
        make_scalar_function(per_row, vec![])(&args.args)
    }
}

/// `histogram_quantile_agg(q, bounds, counts)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HistogramQuantileAgg {
    signature: Signature,
}

/// The aggregate `histogram_quantile_agg`.
pub(crate) fn histogram_quantile_agg() -> AggregateUDF {
    AggregateUDF::from(HistogramQuantileAgg { signature: Signature::user_defined(Volatility::Immutable) })
}

impl AggregateUDFImpl for HistogramQuantileAgg {
    fn name(&self) -> &str {
        "histogram_quantile_agg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(self.name(), arg_types)
    }

    /// The state has the input's shape: one merged `(q, bounds, counts)` row.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |state: &str, t: DataType| Arc::new(Field::new(format_state_name(args.name, state), t, true));
        Ok(vec![
            field("q", DataType::Float64),
            field("bounds", args::list_type(DataType::Float64)),
            field("counts", args::list_type(DataType::UInt64)),
        ])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<MergedHistogram>::default())
    }
}

/// The bucket counts of a group summed, with the group's bounds and `q`.
#[derive(Debug, Default)]
struct MergedHistogram {
    q: Option<f64>,
    bounds: Option<Vec<f64>>,
    counts: Vec<u64>,
}

impl MergedHistogram {
    /// Add each well-formed row; rows with NULLs or a malformed shape are
    /// skipped, a different `q` or different bounds are an error.
    fn add(&mut self, columns: &[ArrayRef]) -> Result<()> {
        for (q, bounds, counts) in rows(columns)?.flatten() {
            if !well_formed(bounds, counts) {
                continue;
            }
            match self.q {
                Some(prev) if prev != q => {
                    return exec_err!("histogram_quantile_agg: q must be the same for every row, got {prev} and {q}");
                }
                _ => self.q = Some(q),
            }
            match &self.bounds {
                Some(prev) if prev.as_slice() != bounds => {
                    return exec_err!(
                        "histogram_quantile_agg: rows have different bucket bounds ({prev:?} and {bounds:?}); \
                         group by the bounds or filter to one layout"
                    );
                }
                Some(_) => {}
                None => {
                    self.bounds = Some(bounds.to_vec());
                    self.counts = vec![0; counts.len()];
                }
            }
            for (sum, c) in self.counts.iter_mut().zip(counts) {
                *sum = sum.saturating_add(*c);
            }
        }
        Ok(())
    }
}

impl Accumulator for MergedHistogram {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.add(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let Some(bounds) = &self.bounds else {
            return Ok(vec![
                ScalarValue::Float64(None),
                args::null_list(DataType::Float64)?,
                args::null_list(DataType::UInt64)?,
            ]);
        };
        Ok(vec![
            ScalarValue::Float64(self.q),
            args::list_scalar(Arc::new(Float64Array::from(bounds.clone()))),
            args::list_scalar(Arc::new(UInt64Array::from(self.counts.clone()))),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let result = match (self.q, &self.bounds) {
            (Some(q), Some(bounds)) => quantile(q, bounds, &self.counts),
            _ => None,
        };
        Ok(ScalarValue::Float64(result))
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self.bounds.as_ref().map_or(0, |b| b.capacity() * size_of::<f64>())
            + self.counts.capacity() * size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_like_prometheus() {
        let bounds: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
        let mut counts = vec![100u64; 10];
        counts.push(0);
        assert_eq!(quantile(0.5, &bounds, &counts), Some(50.0));
        assert_eq!(quantile(0.99, &bounds, &counts), Some(99.0));
        assert_eq!(quantile(0.0, &bounds, &counts), Some(0.0));
        assert_eq!(quantile(1.0, &bounds, &counts), Some(100.0));
        assert_eq!(quantile(2.0, &bounds, &counts), Some(f64::INFINITY));
        // Everything in the +inf bucket: the highest finite bound.
        assert_eq!(quantile(0.5, &[1.0, 2.0], &[0, 0, 7]), Some(2.0));
        // A non-positive first bound is the answer for ranks in the first bucket.
        assert_eq!(quantile(0.25, &[-1.0, 2.0], &[2, 2, 0]), Some(-1.0));
        assert_eq!(quantile(0.5, &[1.0, 2.0], &[0, 0, 0]), None);
        assert_eq!(quantile(0.5, &[1.0, 2.0], &[1, 1]), None);
        assert_eq!(quantile(0.5, &[2.0, 1.0], &[1, 1, 1]), None);
    }
}
