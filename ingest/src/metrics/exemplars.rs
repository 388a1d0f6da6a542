//! The `exemplars` column: `List<Struct<time, value, trace_id, span_id, attributes>>`.
//!
//! Added to a batch only when some point in it carries exemplars (the table
//! schema grows additively). Ids are lowercase hex; filtered attributes are
//! a JSON object.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, ListArray, StringArray, StructArray, TimestampNanosecondArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, Exemplar};
use tidewater_storage::schema::time_type;

use crate::attributes;

/// Collected exemplars of a batch, row by row.
#[derive(Default)]
pub struct ExemplarColumn {
    offsets: Vec<i32>,
    time: Vec<Option<i64>>,
    value: Vec<Option<f64>>,
    trace_id: Vec<Option<String>>,
    span_id: Vec<Option<String>>,
    attributes: Vec<Option<String>>,
    any: bool,
}

/// The struct fields of one exemplar.
pub fn fields() -> Fields {
    Fields::from(vec![
        Field::new("time", time_type(), true),
        Field::new("value", DataType::Float64, true),
        Field::new("trace_id", DataType::Utf8, true),
        Field::new("span_id", DataType::Utf8, true),
        Field::new("attributes", DataType::Utf8, true),
    ])
}

impl ExemplarColumn {
    /// Record the exemplars of the next row.
    pub fn push(&mut self, exemplars: &[Exemplar]) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        for e in exemplars {
            self.any = true;
            self.time.push(i64::try_from(e.time_unix_nano).ok().filter(|t| *t > 0));
            self.value.push(match e.value {
                Some(exemplar::Value::AsDouble(v)) => Some(v),
                Some(exemplar::Value::AsInt(v)) => Some(v as f64),
                None => None,
            });
            self.trace_id.push((!e.trace_id.is_empty()).then(|| attributes::hex(&e.trace_id)));
            self.span_id.push((!e.span_id.is_empty()).then(|| attributes::hex(&e.span_id)));
            self.attributes
                .push((!e.filtered_attributes.is_empty()).then(|| attributes::to_json_object(&e.filtered_attributes)));
        }
        self.offsets.push(self.time.len() as i32);
    }

    /// The column, or `None` when no row had exemplars.
    pub fn finish(self) -> Option<(Field, ArrayRef)> {
        if !self.any {
            return None;
        }
        let fields = fields();
        let children: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(self.time).with_timezone("UTC")),
            Arc::new(Float64Array::from(self.value)),
            Arc::new(StringArray::from(self.trace_id)),
            Arc::new(StringArray::from(self.span_id)),
            Arc::new(StringArray::from(self.attributes)),
        ];
        let structs = StructArray::new(fields.clone(), children, None);
        let item = Arc::new(Field::new("item", DataType::Struct(fields), true));
        let list = ListArray::new(item.clone(), OffsetBuffer::new(self.offsets.into()), Arc::new(structs), None);
        Some((Field::new("exemplars", DataType::List(item), true), Arc::new(list)))
    }
}
