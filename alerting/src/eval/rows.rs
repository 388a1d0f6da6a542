//! Query results -> rows of labels, value and (for series) time.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};

use super::alert::Labels;

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Every column but `value` and `time`, as text (NULL columns left out).
    pub labels: Labels,
    /// The `value` column.
    pub value: f64,
    /// The `time` column in nanoseconds, when there is one.
    pub time: Option<i64>,
}

/// Rows of `batches`; rows whose `value` is NULL are skipped.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Row>, String> {
    let mut out = Vec::new();
    for b in batches {
        let schema = b.schema();
        let vi = schema.index_of("value").map_err(|_| "the query returned no `value` column".to_string())?;
        let values = cast(b.column(vi), &DataType::Float64).map_err(|e| format!("`value` is not numeric: {e}"))?;
        let values = values.as_primitive::<Float64Type>();
        let times = match schema.index_of("time") {
            Ok(i) => {
                let ns = cast(b.column(i), &DataType::Timestamp(TimeUnit::Nanosecond, None))
                    .and_then(|a| cast(&a, &DataType::Int64))
                    .map_err(|e| format!("`time` is not a timestamp: {e}"))?;
                Some(ns)
            }
            Err(_) => None,
        };
        let mut labels = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if i == vi || f.name() == "time" {
                continue;
            }
            let text = cast(b.column(i), &DataType::Utf8).map_err(|e| format!("column {}: {e}", f.name()))?;
            labels.push((f.name().clone(), text));
        }
        for r in 0..b.num_rows() {
            if values.is_null(r) {
                continue;
            }
            let time = match &times {
                Some(t) if !t.is_null(r) => Some(t.as_primitive::<Int64Type>().value(r)),
                _ => None,
            };
            let labels = labels
                .iter()
                .filter(|(_, a)| !a.is_null(r))
                .map(|(n, a)| (n.clone(), a.as_string::<i32>().value(r).to_string()))
                .collect();
            out.push(Row { labels, value: values.value(r), time });
        }
    }
    Ok(out)
}
