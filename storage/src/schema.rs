//! Table schemas: the fixed columns, metadata keys, additive evolution.
//!
//! Every table has a `time` column and a set of value columns fixed by its
//! metric kind, plus one `Dictionary(Int32, Utf8)` column per attribute key.
//! Table-level facts (kind, temporality, unit, ...) travel in the Arrow schema
//! metadata, so they survive the WAL (IPC) and the segments (Parquet) unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{Error, Result};

/// Name of the timestamp column every table has.
pub const TIME: &str = "time";
/// Schema metadata key: the metric kind (`gauge`, `sum`, ...).
pub const META_KIND: &str = "tidewater.kind";
/// Schema metadata key: `cumulative` or `delta`.
pub const META_TEMPORALITY: &str = "tidewater.temporality";
/// Schema metadata key: `true` / `false` for sums.
pub const META_MONOTONIC: &str = "tidewater.monotonic";
/// Schema metadata key: the unit as sent.
pub const META_UNIT: &str = "tidewater.unit";
/// Schema metadata key: the description as sent.
pub const META_DESCRIPTION: &str = "tidewater.description";
/// Schema metadata key: the metric name before normalisation.
pub const META_ORIGINAL_NAME: &str = "tidewater.original_name";

/// Metadata keys whose values must agree between writes to one table.
const IDENTITY_KEYS: &[&str] = &[META_KIND];

/// The type of `time` and `start_time` columns.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The type of attribute columns.
pub fn attribute_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Whether a column holds attributes (series identity) rather than values.
pub fn is_attribute(field: &Field) -> bool {
    field.data_type() == &attribute_type()
}

/// Merge `incoming` into `current`: new columns are appended, metadata
/// filled in. Fails if a column changes type or the metric kind differs.
pub fn merge(table: &str, current: &Schema, incoming: &Schema) -> Result<Option<SchemaRef>> {
    for key in IDENTITY_KEYS {
        if let (Some(a), Some(b)) = (current.metadata().get(*key), incoming.metadata().get(*key)) {
            if a != b {
                return Err(Error::SchemaClash {
                    table: table.to_string(),
                    reason: format!("metric is a {a}, cannot also be a {b}"),
                });
            }
        }
    }
    let mut added: Vec<Arc<Field>> = Vec::new();
    for field in incoming.fields() {
        match current.field_with_name(field.name()) {
            Ok(existing) if existing.data_type() != field.data_type() => {
                return Err(Error::SchemaClash {
                    table: table.to_string(),
                    reason: format!(
                        "column {} is {}, cannot also be {}",
                        field.name(),
                        existing.data_type(),
                        field.data_type()
                    ),
                });
            }
            Ok(_) => {}
            Err(_) => added.push(Arc::new(field.as_ref().clone().with_nullable(true))),
        }
    }
    let missing_meta = incoming.metadata().keys().any(|k| !current.metadata().contains_key(k));
    if added.is_empty() && !missing_meta {
        return Ok(None);
    }
    let mut fields: Vec<Arc<Field>> = current.fields().iter().cloned().collect();
    fields.extend(added);
    let mut metadata: HashMap<String, String> = incoming.metadata().clone();
    metadata.extend(current.metadata().clone());
    Ok(Some(Arc::new(Schema::new_with_metadata(fields, metadata))))
}

/// The same schema with every field nullable (table schemas always are:
/// older data reads new columns as NULL).
pub fn all_nullable(schema: &SchemaRef) -> SchemaRef {
    if schema.fields().iter().all(|f| f.is_nullable()) {
        return schema.clone();
    }
    let fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Reshape `batch` to `target`: columns in target order, missing ones NULL.
///
/// `target` must be a superset of the batch's columns with equal types
/// (guaranteed by [`merge`]).
pub fn adapt(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == target.fields() {
        return Ok(RecordBatch::try_new(target.clone(), batch.columns().to_vec())?);
    }
    let rows = batch.num_rows();
    let columns: Vec<ArrayRef> = target
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) => c.clone(),
            None => new_null_array(f.data_type(), rows),
        })
        .collect();
    Ok(RecordBatch::try_new(target.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(cols: &[(&str, DataType)], kind: &str) -> Schema {
        let fields: Vec<Field> = cols.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect();
        Schema::new_with_metadata(fields, HashMap::from([(META_KIND.to_string(), kind.to_string())]))
    }

    #[test]
    fn merge_adds_columns_and_rejects_clashes() {
        let a = schema(&[("time", time_type()), ("value", DataType::Float64)], "gauge");
        let b = schema(&[("time", time_type()), ("host", attribute_type())], "gauge");
        let m = merge("t", &a, &b).expect("merge").expect("changed");
        assert_eq!(m.fields().len(), 3);
        assert!(merge("t", &m, &b).expect("merge").is_none());
        let c = schema(&[("value", DataType::Utf8)], "gauge");
        assert!(merge("t", &a, &c).is_err());
        let d = schema(&[("value", DataType::Float64)], "sum");
        assert!(merge("t", &a, &d).unwrap_err().to_string().contains("cannot also be a sum"));
    }
}
