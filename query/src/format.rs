//! Result encodings: JSON (`{"columns":[...],"rows":[[...]]}`), CSV, Arrow
//! IPC stream, written batch by batch ([`Encoder`]).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{json, Value};

/// A result encoding of `/api/v1/sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"columns":[{"name","type"}],"rows":[[...]]}` (see [`Encoder`]).
    Json,
    /// CSV with a header row.
    Csv,
    /// Arrow IPC stream.
    Arrow,
}

impl Format {
    /// `json`, `csv` or `arrow` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            "arrow" => Some(Self::Arrow),
            _ => None,
        }
    }

    /// The `content-type` of an answer in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv",
            Self::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

/// Encodes a result batch by batch, so an answer can be streamed: the
/// header goes out with the first chunk, each batch is one chunk, and
/// [`Encoder::finish`] closes the document.
///
/// JSON: numbers stay numbers (non-finite floats become the strings `NaN`,
/// `inf`, `-inf`), booleans stay booleans, NULL is `null`, timestamps are RFC
/// 3339 strings, everything else is its display form. An answer cut by an
/// error ends with an `"error"` member ([`Encoder::fail`]).
pub struct Encoder {
    schema: SchemaRef,
    state: State,
}

enum State {
    Json { started: bool, any_row: bool },
    Csv { header_written: bool },
    Arrow(Box<StreamWriter<Vec<u8>>>),
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("schema", &self.schema).finish_non_exhaustive()
    }
}

impl Encoder {
    /// An encoder for results of `schema`.
    pub fn new(format: Format, schema: SchemaRef) -> Result<Self, ArrowError> {
        let state = match format {
            Format::Json => State::Json { started: false, any_row: false },
            Format::Csv => State::Csv { header_written: false },
            Format::Arrow => State::Arrow(Box::new(StreamWriter::try_new(Vec::new(), &schema)?)),
        };
        Ok(Self { schema, state })
    }

    /// The bytes for `batch` (the first call also carries the header).
    pub fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        let mut out = Vec::new();
        match &mut self.state {
            State::Json { started, any_row } => {
                json_start(&self.schema, started, &mut out)?;
                json_rows(batch, any_row, &mut out)?;
            }
            State::Csv { header_written } => {
                let mut w = WriterBuilder::new().with_header(!*header_written).build(&mut out);
                w.write(batch)?;
                *header_written = true;
            }
            State::Arrow(w) => {
                w.write(batch)?;
                out = std::mem::take(w.get_mut());
            }
        }
        Ok(out)
    }

    /// The bytes that end a complete answer.
    pub fn finish(&mut self) -> Result<Vec<u8>, ArrowError> {
        let mut out = Vec::new();
        match &mut self.state {
            State::Json { started, .. } => {
                json_start(&self.schema, started, &mut out)?;
                out.extend_from_slice(b"]}");
            }
            State::Csv { header_written } => {
                if !*header_written {
                    let mut w = WriterBuilder::new().with_header(true).build(&mut out);
                    w.write(&RecordBatch::new_empty(self.schema.clone()))?;
                    *header_written = true;
                }
            }
            State::Arrow(w) => {
                w.finish()?;
                out = std::mem::take(w.get_mut());
            }
        }
        Ok(out)
    }

    /// The bytes that end an answer cut short by `message`, if the encoding
    /// can say so: JSON closes `rows` and adds `"error": message`. CSV and
    /// Arrow cannot (`None`): their stream must be cut instead.
    pub fn fail(&mut self, message: &str) -> Option<Vec<u8>> {
        let State::Json { started, .. } = &mut self.state else { return None };
        let mut out = Vec::new();
        json_start(&self.schema, started, &mut out).ok()?;
        out.extend_from_slice(b"],\"error\":");
        serde_json::to_writer(&mut out, message).ok()?;
        out.push(b'}');
        Some(out)
    }
}

/// `{"columns":[...],"rows":[` once.
fn json_start(schema: &SchemaRef, started: &mut bool, out: &mut Vec<u8>) -> Result<(), ArrowError> {
    if !*started {
        let columns: Vec<Value> =
            schema.fields().iter().map(|f| json!({"name": f.name(), "type": f.data_type().to_string()})).collect();
        out.extend_from_slice(b"{\"columns\":");
        serde_json::to_writer(&mut *out, &columns).map_err(json_error)?;
        out.extend_from_slice(b",\"rows\":[");
        *started = true;
    }
    Ok(())
}

/// Each row of `batch` as a JSON array, comma-separated.
fn json_rows(batch: &RecordBatch, any_row: &mut bool, out: &mut Vec<u8>) -> Result<(), ArrowError> {
    let opts = FormatOptions::default().with_null("");
    let formatters: Vec<ArrayFormatter> =
        batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts)).collect::<Result<_, _>>()?;
    for row in 0..batch.num_rows() {
        if *any_row {
            out.push(b',');
        }
        *any_row = true;
        let cells: Vec<Value> =
            batch.columns().iter().zip(&formatters).map(|(col, fmt)| cell(col.as_ref(), fmt, row)).collect();
        serde_json::to_writer(&mut *out, &cells).map_err(json_error)?;
    }
    Ok(())
}

fn json_error(e: serde_json::Error) -> ArrowError {
    ArrowError::JsonError(e.to_string())
}

/// Encode a whole result in one buffer.
pub fn encode(format: Format, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut encoder = Encoder::new(format, schema.clone())?;
    let mut out = Vec::new();
    for b in batches {
        out.extend(encoder.batch(b)?);
    }
    out.extend(encoder.finish()?);
    Ok(out)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batches() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("v", DataType::Float64, true),
        ]));
        let b = |n: Vec<i64>, v: Vec<Option<f64>>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(n)), Arc::new(Float64Array::from(v))])
                .expect("batch")
        };
        (schema.clone(), vec![b(vec![1, 2], vec![Some(0.5), None]), b(vec![3], vec![Some(f64::NAN)])])
    }

    #[test]
    fn json_in_chunks_is_one_document() {
        let (schema, batches) = batches();
        let out = encode(Format::Json, &schema, &batches).expect("encode");
        let v: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["rows"], json!([[1, 0.5], [2, null], [3, "NaN"]]));
        assert_eq!(v["columns"][1], json!({"name": "v", "type": "Float64"}));
        let empty: Value = serde_json::from_slice(&encode(Format::Json, &schema, &[]).expect("encode")).expect("json");
        assert_eq!(empty["rows"], json!([]));
    }

    #[test]
    fn a_failed_json_answer_ends_with_an_error_member() {
        let (schema, batches) = batches();
        let mut e = Encoder::new(Format::Json, schema).expect("encoder");
        let mut out = e.batch(&batches[0]).expect("batch");
        out.extend(e.fail("the result has more than max_result_rows = 2 rows").expect("json can fail"));
        let v: Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(v["rows"], json!([[1, 0.5], [2, null]]));
        assert!(v["error"].as_str().is_some_and(|m| m.contains("max_result_rows")), "{v}");
    }

    #[test]
    fn csv_has_one_header_and_arrow_reads_back() {
        let (schema, batches) = batches();
        let csv = String::from_utf8(encode(Format::Csv, &schema, &batches).expect("csv")).expect("utf8");
        assert_eq!(csv, "n,v\n1,0.5\n2,\n3,NaN\n");
        assert_eq!(String::from_utf8(encode(Format::Csv, &schema, &[]).expect("csv")).expect("utf8"), "n,v\n");
        let ipc = encode(Format::Arrow, &schema, &batches).expect("arrow");
        let read = datafusion::arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)
            .expect("reader")
            .collect::<Result<Vec<_>, _>>()
            .expect("batches");
        assert_eq!(read, batches);
        assert!(Encoder::new(Format::Csv, schema).expect("csv").fail("x").is_none());
    }
}
