//! Exponential histograms: `exp_histogram_quantile(q, scale, zero_count,
//! positive_offset, positive_counts, negative_offset, negative_counts)`.
//!
//! With `base = 2^(2^-scale)`, positive bucket `i` (`i = offset + position`)
//! holds values in `(base^i, base^(i+1)]` and negative bucket `i` holds
//! `[-base^(i+1), -base^i)`. Inside a bucket the quantile is interpolated
//! geometrically (linearly in the exponent), which is how the bucket widths
//! grow; the zero bucket answers 0.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, UInt64Type};
use datafusion::common::cast::{as_float64_array, as_int32_array, as_uint64_array};
use datafusion::common::{exec_err, Result};
use datafusion::functions::utils::make_scalar_function;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::args::{self, ListRows};

const USAGE: &str =
    "exp_histogram_quantile(q, scale, zero_count, positive_offset, positive_counts, negative_offset, negative_counts)";

/// One exponential histogram row.
#[derive(Debug, Clone, Copy)]
struct ExpHistogram<'a> {
    scale: i32,
    zero_count: u64,
    positive_offset: i32,
    positive: &'a [u64],
    negative_offset: i32,
    negative: &'a [u64],
}

/// A bucket, by index.
#[derive(Debug, Clone, Copy)]
enum Bucket {
    Negative(i64),
    Zero,
    Positive(i64),
}

impl ExpHistogram<'_> {
    /// `base^exponent`, computed as `2^(exponent * 2^-scale)`.
    fn power(&self, exponent: f64) -> f64 {
        (exponent * (-f64::from(self.scale)).exp2()).exp2()
    }

    /// The value a fraction `frac` of the way through `bucket`, from its low end.
    fn value_at(&self, bucket: Bucket, frac: f64) -> f64 {
        match bucket {
            Bucket::Negative(i) => -self.power(i as f64 + 1.0 - frac),
            Bucket::Zero => 0.0,
            Bucket::Positive(i) => self.power(i as f64 + frac),
        }
    }

    /// Buckets with their counts, lowest values first.
    fn buckets(&self) -> impl Iterator<Item = (u64, Bucket)> + '_ {
        let index = |offset: i32, pos: usize| i64::from(offset) + pos as i64;
        let negative = self
            .negative
            .iter()
            .enumerate()
            .rev()
            .map(move |(p, &c)| (c, Bucket::Negative(index(self.negative_offset, p))));
        let positive =
            self.positive.iter().enumerate().map(move |(p, &c)| (c, Bucket::Positive(index(self.positive_offset, p))));
        negative.chain(std::iter::once((self.zero_count, Bucket::Zero))).chain(positive)
    }

    /// The `q` quantile; `None` if the histogram is empty or `q` is NaN.
    /// `q < 0` gives `-inf`, `q > 1` gives `+inf`, as for explicit buckets.
    fn quantile(&self, q: f64) -> Option<f64> {
        let total: f64 = self.buckets().map(|(c, _)| c as f64).sum();
        if total == 0.0 || q.is_nan() {
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
        for (count, bucket) in self.buckets().filter(|(c, _)| *c > 0) {
            let count = count as f64;
            if below + count >= rank {
                return Some(self.value_at(bucket, (rank - below) / count));
            }
            below += count;
        }
        None
    }
}

/// `exp_histogram_quantile(...)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpHistogramQuantile {
    signature: Signature,
}

/// The scalar `exp_histogram_quantile`.
pub(crate) fn exp_histogram_quantile() -> ScalarUDF {
    ScalarUDF::from(ExpHistogramQuantile { signature: Signature::user_defined(Volatility::Immutable) })
}

impl ScalarUDFImpl for ExpHistogramQuantile {
    fn name(&self) -> &str {
        "exp_histogram_quantile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn coerce_types(&self, t: &[DataType]) -> Result<Vec<DataType>> {
        args::check_arity(USAGE, t.len(), 7..=7)?;
        let f = self.name();
        Ok(vec![
            args::float(f, "q", &t[0])?,
            args::integer(f, "scale", &t[1], DataType::Int32)?,
            args::integer(f, "zero_count", &t[2], DataType::UInt64)?,
            args::integer(f, "positive_offset", &t[3], DataType::Int32)?,
            args::numeric_list(f, "positive_counts", &t[4], DataType::UInt64)?,
            args::integer(f, "negative_offset", &t[5], DataType::Int32)?,
            args::numeric_list(f, "negative_counts", &t[6], DataType::UInt64)?,
        ])
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        make_scalar_function(quantiles, vec![])(&args.args)
    }
}

/// The quantile of every row; NULL where any argument is NULL.
fn quantiles(columns: &[ArrayRef]) -> Result<ArrayRef> {
    let [q, scale, zero_count, positive_offset, positive, negative_offset, negative] = columns else {
        return exec_err!("{USAGE} called with {} arguments", columns.len());
    };
    let (q, scale, zero_count) = (as_float64_array(q)?, as_int32_array(scale)?, as_uint64_array(zero_count)?);
    let (positive_offset, negative_offset) = (as_int32_array(positive_offset)?, as_int32_array(negative_offset)?);
    let (positive, negative) = (ListRows::<UInt64Type>::new(positive)?, ListRows::<UInt64Type>::new(negative)?);
    let row = |i: usize| -> Option<f64> {
        let scalars = [
            q.is_valid(i),
            scale.is_valid(i),
            zero_count.is_valid(i),
            positive_offset.is_valid(i),
            negative_offset.is_valid(i),
        ];
        if scalars.contains(&false) {
            return None;
        }
        let histogram = ExpHistogram {
            scale: scale.value(i),
            zero_count: zero_count.value(i),
            positive_offset: positive_offset.value(i),
            positive: positive.get(i)?,
            negative_offset: negative_offset.value(i),
            negative: negative.get(i)?,
        };
        histogram.quantile(q.value(i))
    };
    Ok(Arc::new((0..q.len()).map(row).collect::<Float64Array>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_interpolated_geometrically() {
        // -3 (bucket 3 at scale 1), -0.75 (bucket -1), 0, 0, 2.5, 2.5 (bucket 2).
        let h = ExpHistogram {
            scale: 1,
            zero_count: 2,
            positive_offset: 2,
            positive: &[2],
            negative_offset: -1,
            negative: &[1, 0, 0, 0, 1],
        };
        let q = |q| h.quantile(q).unwrap();
        assert_eq!(q(0.0), -4.0);
        assert!((-4.0..-2.0f64.powf(1.5)).contains(&q(0.1)));
        assert_eq!(q(0.5), 0.0);
        assert!((2.0..=2.0f64.powf(1.5)).contains(&q(0.9)));
        assert!((q(1.0) - 2.0f64.powf(1.5)).abs() < 1e-12);
        let empty = ExpHistogram { zero_count: 0, positive: &[0], negative: &[], ..h };
        assert_eq!(empty.quantile(0.5), None);
    }
}
