//! `histogram_merge_counts(counts)`: the element-wise sum of the bucket
//! counts of the rows in a group, as a `List<UInt64>`.
//!
//! Group by the bounds too (or filter to one layout): only counts of equal
//! bounds add up to a histogram. Rows with a NULL list or a NULL item are
//! skipped; a shorter list adds to the first buckets only, so the result has
//! the length of the longest list. Sums saturate at `u64::MAX`. Rollups use it
//! to merge delta histograms; `histogram_quantile(q, bounds, merged)` reads the
//! result.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility};

use super::args::{self, ListRows};

/// The function's SQL name.
pub(crate) const NAME: &str = "histogram_merge_counts";

/// `histogram_merge_counts(counts)`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HistogramMergeCounts {
    signature: Signature,
}

/// The aggregate `histogram_merge_counts`.
pub(crate) fn histogram_merge_counts() -> AggregateUDF {
    AggregateUDF::from(HistogramMergeCounts { signature: Signature::user_defined(Volatility::Immutable) })
}

impl AggregateUDFImpl for HistogramMergeCounts {
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
        args::check_arity(&format!("{NAME}(counts)"), arg_types.len(), 1..=1)?;
        Ok(vec![args::numeric_list(NAME, "counts", &arg_types[0], DataType::UInt64)?])
    }

    /// The state is the merged counts so far (NULL before the first row).
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let name = format_state_name(args.name, "counts");
        Ok(vec![Arc::new(Field::new(name, args::list_type(DataType::UInt64), true))])
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<MergedCounts>::default())
    }
}

/// Bucket counts summed element-wise; `None` until a row was added.
#[derive(Debug, Default)]
struct MergedCounts {
    counts: Option<Vec<u64>>,
}

impl MergedCounts {
    fn add(&mut self, columns: &[ArrayRef]) -> Result<()> {
        let [column] = columns else {
            return exec_err!("{NAME} called with {} arguments", columns.len());
        };
        let rows = ListRows::<UInt64Type>::new(column)?;
        for row in (0..column.len()).filter_map(|i| rows.get(i)) {
            let sums = self.counts.get_or_insert_with(Vec::new);
            if sums.len() < row.len() {
                sums.resize(row.len(), 0);
            }
            for (sum, c) in sums.iter_mut().zip(row) {
                *sum = sum.saturating_add(*c);
            }
        }
        Ok(())
    }

    fn value(&self) -> Result<ScalarValue> {
        match &self.counts {
            Some(c) => Ok(args::list_scalar(Arc::new(UInt64Array::from(c.clone())))),
            None => args::null_list(DataType::UInt64),
        }
    }
}

impl Accumulator for MergedCounts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.add(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.value()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.value()
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.counts.as_ref().map_or(0, |c| c.capacity() * size_of::<u64>())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, ListArray};

    use super::*;

    fn lists(rows: Vec<Option<Vec<Option<u64>>>>) -> ArrayRef {
        Arc::new(ListArray::from_iter_primitive::<UInt64Type, _, _>(rows))
    }

    fn merged(acc: &mut MergedCounts) -> Option<Vec<u64>> {
        let ScalarValue::List(list) = acc.evaluate().expect("evaluate") else { panic!("not a list") };
        if list.is_null(0) {
            return None;
        }
        let values = list.value(0);
        Some(values.as_any().downcast_ref::<UInt64Array>().expect("u64 items").values().to_vec())
    }

    #[test]
    fn sums_element_wise_skipping_nulls_and_merging_states() {
        let mut a = MergedCounts::default();
        assert_eq!(merged(&mut a), None);
        a.update_batch(&[lists(vec![
            Some(vec![Some(1), Some(2), Some(3)]),
            None,
            Some(vec![Some(10), None, Some(1)]),
            Some(vec![Some(4), Some(5), Some(6)]),
        ])])
        .expect("update");
        assert_eq!(merged(&mut a), Some(vec![5, 7, 9]));
        let mut b = MergedCounts::default();
        b.update_batch(&[lists(vec![Some(vec![Some(u64::MAX), Some(1)])])]).expect("update");
        let state = b.state().expect("state");
        let state_array = state[0].to_array().expect("state array");
        a.merge_batch(&[state_array]).expect("merge");
        assert_eq!(merged(&mut a), Some(vec![u64::MAX, 8, 9]));
    }
}
