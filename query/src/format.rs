//! Result encodings: JSON (`{"columns":[...],"rows":[[...]]}`), CSV, Arrow IPC stream.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{json, Value};

/// Encode as `{"columns":[{"name","type"}],"rows":[[...]]}`.
///
/// Numbers stay numbers (non-finite floats become the strings `NaN`, `inf`,
/// `-inf`), booleans stay booleans, NULL is `null`, timestamps are RFC 3339
/// strings, everything else is its display form.
pub fn to_json(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let columns: Vec<Value> =
        schema.fields().iter().map(|f| json!({"name": f.name(), "type": f.data_type().to_string()})).collect();
    let mut rows: Vec<Value> = Vec::new();
    let opts = FormatOptions::default().with_null("");
    for batch in batches {
        let formatters: Vec<ArrayFormatter> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts)).collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let cells =
                batch.columns().iter().zip(&formatters).map(|(col, fmt)| cell(col.as_ref(), fmt, row)).collect();
            rows.push(Value::Array(cells));
        }
    }
    serde_json::to_vec(&json!({"columns": columns, "rows": rows})).map_err(|e| ArrowError::JsonError(e.to_string()))
}

fn cell(col: &dyn Array, fmt: &ArrayFormatter, row: usize) -> Value {
    if col.is_null(row) {
        return Value::Null;
    }
    use datafusion::arrow::datatypes::*;
    match col.data_type() {
        DataType::Boolean => Value::Bool(col.as_boolean().value(row)),
        DataType::Int8 => col.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => col.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Float32 => float(f64::from(col.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => float(col.as_primitive::<Float64Type>().value(row)),
        _ => Value::String(fmt.value(row).to_string()),
    }
}

fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map(Value::Number).unwrap_or_else(|| Value::String(v.to_string()))
}

/// Encode as CSV with a header row.
pub fn to_csv(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
        if batches.is_empty() {
            w.write(&RecordBatch::new_empty(schema.clone()))?;
        }
        for b in batches {
            w.write(b)?;
        }
    }
    Ok(out)
}

/// Encode as an Arrow IPC stream.
pub fn to_arrow(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::new();
    {
        let mut w = datafusion::arrow::ipc::writer::StreamWriter::try_new(&mut out, schema)?;
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    Ok(out)
}
