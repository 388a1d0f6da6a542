//! Argument handling shared by the function families: arity checks, the
//! type coercions each argument kind gets, and zero-copy access to the rows
//! of `List<primitive>` columns (histogram bounds and bucket counts).

use std::ops::RangeInclusive;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, AsArray, ListArray, PrimitiveArray};
use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};

/// Fail planning unless `given` arguments fit `arity`; `usage` shows the call.
pub(crate) fn check_arity(usage: &str, given: usize, arity: RangeInclusive<usize>) -> Result<()> {
    if arity.contains(&given) {
        Ok(())
    } else {
        plan_err!("{usage} takes {} to {} arguments, got {given}", arity.start(), arity.end())
    }
}

/// A numeric argument, computed as `Float64`.
pub(crate) fn float(func: &str, arg: &str, t: &DataType) -> Result<DataType> {
    if t.is_numeric() || t == &DataType::Null {
        Ok(DataType::Float64)
    } else {
        plan_err!("{func}: {arg} must be numeric, got {t}")
    }
}

/// An integer argument, computed as `target`.
pub(crate) fn integer(func: &str, arg: &str, t: &DataType, target: DataType) -> Result<DataType> {
    if t.is_integer() || t == &DataType::Null {
        Ok(target)
    } else {
        plan_err!("{func}: {arg} must be an integer, got {t}")
    }
}

/// A timestamp argument, computed in nanoseconds (the time zone is kept).
pub(crate) fn timestamp(func: &str, arg: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Timestamp(_, tz) => Ok(DataType::Timestamp(TimeUnit::Nanosecond, tz.clone())),
        DataType::Null => Ok(DataType::Timestamp(TimeUnit::Nanosecond, None)),
        _ => plan_err!("{func}: {arg} must be a timestamp, got {t}"),
    }
}

/// The `List` type with nullable `item`s of type `item`.
pub(crate) fn list_type(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// A list argument with numeric items, computed as `List<item>`.
pub(crate) fn numeric_list(func: &str, arg: &str, t: &DataType, item: DataType) -> Result<DataType> {
    let inner = match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => f.data_type(),
        DataType::Null => return Ok(list_type(item)),
        _ => return plan_err!("{func}: {arg} must be a list of numbers, got {t}"),
    };
    if inner.is_numeric() || inner == &DataType::Null {
        Ok(list_type(item))
    } else {
        plan_err!("{func}: {arg} must be a list of numbers, got {t}")
    }
}

/// A one-row list scalar holding `array` (the state of list accumulators).
pub(crate) fn list_scalar(array: ArrayRef) -> ScalarValue {
    SingleRowListArrayBuilder::new(array).build_list_scalar()
}

/// A NULL list scalar of type `List<item>`.
pub(crate) fn null_list(item: DataType) -> Result<ScalarValue> {
    ScalarValue::try_from(&list_type(item))
}

/// The rows of a `List<T>` column as slices, without copying.
pub(crate) struct ListRows<'a, T: ArrowPrimitiveType> {
    list: &'a ListArray,
    items: &'a PrimitiveArray<T>,
}

impl<'a, T: ArrowPrimitiveType> ListRows<'a, T> {
    /// View `array`, which must be a `List<T>`.
    pub(crate) fn new(array: &'a ArrayRef) -> Result<Self> {
        let Some(list) = array.as_list_opt::<i32>() else {
            return exec_err!("expected a List, got {}", array.data_type());
        };
        let Some(items) = list.values().as_primitive_opt::<T>() else {
            return exec_err!("expected a List<{}>, got {}", T::DATA_TYPE, array.data_type());
        };
        Ok(Self { list, items })
    }

    /// Row `row`, or `None` if the list is NULL or holds a NULL item.
    pub(crate) fn get(&self, row: usize) -> Option<&'a [T::Native]> {
        if self.list.is_null(row) {
            return None;
        }
        let offsets = self.list.value_offsets();
        let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
        if self.items.null_count() > 0 && (start..end).any(|i| self.items.is_null(i)) {
            return None;
        }
        Some(&self.items.values()[start..end])
    }
}
