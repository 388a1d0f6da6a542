//! Per-column Parquet encodings, and scaled-integer storage of floats.
//!
//! Most metric values are integers or have a few decimal digits. When every
//! non-null value of a `Float64` column in a segment is exactly `i / 10^k`
//! for one `k` in `0..=4` (and `|i| < 10^18`), the column is stored as Parquet
//! `DECIMAL(18, k)` on an `INT64` physical column (Arrow `Decimal128(18, k)`),
//! delta-encoded. Any Parquet reader gets the exact decimal value; our own
//! readers cast it back to `Float64` with Arrow's cast, which computes
//! `i as f64 / 10^k` — the very expression the check below requires to give
//! the original bits. NaN, infinities and `-0.0` never pass the check, so a
//! column holding one stays `Float64` (byte-stream-split).
//!
//! The table schema (manifest, queries) always says `Float64`; only the
//! file's schema differs. [`to_table_batch`] turns a file batch back into the
//! table's shape.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, Decimal128Array, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};

/// Largest decimal scale tried (values with up to 4 decimal digits).
pub const MAX_SCALE: i8 = 4;
/// Decimal precision of scaled columns: the most that fits a Parquet `INT64`.
pub const DECIMAL_PRECISION: u8 = 18;
/// Exclusive bound on the unscaled integer (`10^18`, precision 18).
const UNSCALED_LIMIT: f64 = 1e18;
/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// How scaled-integer value columns are encoded in Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaledIntEncoding {
    /// `DELTA_BINARY_PACKED`: small for slowly changing series (the default).
    DeltaBinaryPacked,
    /// `BYTE_STREAM_SPLIT`, then zstd.
    ByteStreamSplit,
}

/// Encoding choices for a segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingOptions {
    /// Store exactly representable `Float64` columns as scaled integers.
    pub scaled_floats: bool,
    /// Parquet encoding of scaled columns.
    pub scaled_int_encoding: ScaledIntEncoding,
}

impl Default for EncodingOptions {
    fn default() -> Self {
        Self { scaled_floats: true, scaled_int_encoding: ScaledIntEncoding::DeltaBinaryPacked }
    }
}

/// `10^k` exactly as Arrow's decimal-to-float cast computes it.
fn pow10(k: i8) -> f64 {
    10_f64.powi(i32::from(k))
}

/// The unscaled integer of `v` at scale `k`, if `v` round-trips bit for bit.
pub fn scaled(v: f64, k: i8) -> Option<i64> {
    let m = pow10(k);
    let x = (v * m).round();
    if x.is_nan() || x.abs() >= UNSCALED_LIMIT {
        return None; // also infinities
    }
    let i = x as i64;
    // Arrow's Decimal128 -> Float64 cast computes `i as f64 / 10^k` (from
    // i128; the same value as from i64 for |i| < 10^18).
    ((i as f64 / m).to_bits() == v.to_bits()).then_some(i)
}

/// Finds the smallest scale at which every value seen round-trips.
#[derive(Debug, Clone, Copy)]
pub struct ScaleDetector {
    /// Bit `k` set while scale `k` still works for every value seen.
    feasible: u8,
    /// Whether a non-null value was seen.
    seen: bool,
}

impl Default for ScaleDetector {
    fn default() -> Self {
        Self { feasible: (1u8 << (MAX_SCALE + 1)) - 1, seen: false }
    }
}

impl ScaleDetector {
    /// Take the non-null values of `values` into account.
    pub fn observe(&mut self, values: &Float64Array) {
        for v in values.iter().flatten() {
            if self.feasible == 0 {
                return;
            }
            self.seen = true;
            for k in 0..=MAX_SCALE {
                let bit = 1u8 << k;
                if self.feasible & bit != 0 && scaled(v, k).is_none() {
                    self.feasible &= !bit;
                }
            }
        }
    }

    /// The smallest scale that works for everything seen; `None` if none
    /// does or no non-null value was seen.
    pub fn scale(&self) -> Option<i8> {
        if !self.seen || self.feasible == 0 {
            return None;
        }
        Some(self.feasible.trailing_zeros() as i8)
    }
}

/// The scale for a whole column, if it can be stored as scaled integers.
pub fn detect_scale(values: &Float64Array) -> Option<i8> {
    let mut d = ScaleDetector::default();
    d.observe(values);
    d.scale()
}

/// `values` as `Decimal128(18, scale)`; `None` if a value does not round-trip.
pub fn to_decimal(values: &Float64Array, scale: i8) -> Result<Option<Decimal128Array>> {
    let mut out = Vec::with_capacity(values.len());
    for v in values.iter() {
        match v {
            None => out.push(None),
            Some(v) => match scaled(v, scale) {
                Some(i) => out.push(Some(i128::from(i))),
                None => return Ok(None),
            },
        }
    }
    Ok(Some(Decimal128Array::from(out).with_precision_and_scale(DECIMAL_PRECISION, scale)?))
}

/// The file schema for a table schema: `Float64` columns listed in `scales`
/// become `Decimal128(18, scale)`; metadata is kept.
pub fn file_schema(table_schema: &SchemaRef, scales: &HashMap<String, i8>) -> SchemaRef {
    if scales.is_empty() {
        return table_schema.clone();
    }
    let fields: Vec<Field> = table_schema
        .fields()
        .iter()
        .map(|f| match (f.data_type(), scales.get(f.name())) {
            (DataType::Float64, Some(k)) => {
                f.as_ref().clone().with_data_type(DataType::Decimal128(DECIMAL_PRECISION, *k))
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, table_schema.metadata().clone()))
}

/// Scales for the `Float64` columns of a table-shaped batch (flush path).
pub fn detect_scales(batch: &RecordBatch, options: &EncodingOptions) -> HashMap<String, i8> {
    let mut out = HashMap::new();
    if !options.scaled_floats {
        return out;
    }
    for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
        if let Some(values) = col.as_any().downcast_ref::<Float64Array>() {
            if let Some(k) = detect_scale(values) {
                out.insert(f.name().clone(), k);
            }
        }
    }
    out
}

/// Reshape a table-shaped batch to `file_schema` (columns in the same order),
/// converting `Float64` columns the file stores as decimals.
pub fn to_file_batch(batch: &RecordBatch, file_schema: &SchemaRef) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (f, col) in file_schema.fields().iter().zip(batch.columns()) {
        match (f.data_type(), col.as_any().downcast_ref::<Float64Array>()) {
            (DataType::Decimal128(_, k), Some(values)) => {
                let dec = to_decimal(values, *k)?.ok_or_else(|| {
                    Error::Arrow(arrow::error::ArrowError::ComputeError(format!(
                        "column {} has a value that is not exact at scale {k}",
                        f.name()
                    )))
                })?;
                columns.push(Arc::new(dec) as ArrayRef);
            }
            _ => columns.push(col.clone()),
        }
    }
    Ok(RecordBatch::try_new(file_schema.clone(), columns)?)
}

/// Reshape a batch read from a segment to `target` (the table schema):
/// columns in target order, missing ones NULL, other types (scaled decimals)
/// cast to the table's type.
pub fn to_table_batch(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns: Vec<ArrayRef> = target
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => Ok(cast(c, f.data_type())?),
            None => Ok(new_null_array(f.data_type(), rows)),
        })
        .collect::<Result<_>>()?;
    Ok(RecordBatch::try_new(target.clone(), columns)?)
}

/// Writer settings per column of a file schema, chosen for time series:
/// delta timestamps and integers, byte-stream-split floats, scaled decimals
/// per `options`, dictionary attributes, zstd.
pub fn writer_properties(file_schema: &SchemaRef, options: &EncodingOptions) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for f in file_schema.fields() {
        let col = ColumnPath::from(f.name().as_str());
        let encoding = match f.data_type() {
            DataType::Timestamp(_, _) | DataType::Int64 | DataType::UInt64 => Some(Encoding::DELTA_BINARY_PACKED),
            DataType::Float64 => Some(Encoding::BYTE_STREAM_SPLIT),
            DataType::Decimal128(_, _) => Some(match options.scaled_int_encoding {
                ScaledIntEncoding::DeltaBinaryPacked => Encoding::DELTA_BINARY_PACKED,
                ScaledIntEncoding::ByteStreamSplit => Encoding::BYTE_STREAM_SPLIT,
            }),
            _ => None,
        };
        if let Some(e) = encoding {
            b = b.set_column_dictionary_enabled(col.clone(), false).set_column_encoding(col, e);
        }
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_values_get_the_smallest_scale() {
        assert_eq!(detect_scale(&Float64Array::from(vec![1.0, 2.0, -7.0])), Some(0));
        assert_eq!(detect_scale(&Float64Array::from(vec![Some(1.5), None, Some(2.25)])), Some(2));
        assert_eq!(detect_scale(&Float64Array::from(vec![0.1, 0.2, 99.9999])), Some(4));
        assert_eq!(detect_scale(&Float64Array::from(vec![1e17, 0.0])), Some(0));
    }

    #[test]
    fn inexact_and_special_values_fall_back() {
        for bad in [0.1 + 0.2, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e18, 0.00001, 1.0 / 3.0] {
            assert_eq!(detect_scale(&Float64Array::from(vec![1.0, bad])), None, "{bad}");
        }
        assert_eq!(detect_scale(&Float64Array::from(vec![None::<f64>, None])), None);
        assert_eq!(detect_scale(&Float64Array::from(Vec::<f64>::new())), None);
    }

    #[test]
    fn decimal_round_trip_through_arrow_cast_is_bit_identical() {
        let values: Vec<f64> =
            (-20_000..20_000).map(|i| f64::from(i) / 1000.0).chain([1e13, -123_456.789, 0.0005]).collect();
        let arr = Float64Array::from(values.clone());
        let k = detect_scale(&arr).expect("scalable");
        assert_eq!(k, 4);
        let dec = to_decimal(&arr, k).expect("convert").expect("exact");
        let back = cast(&dec, &DataType::Float64).expect("cast");
        let back = back.as_any().downcast_ref::<Float64Array>().expect("f64");
        for (a, b) in values.iter().zip(back.values().iter()) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a} vs {b}");
        }
    }
}
