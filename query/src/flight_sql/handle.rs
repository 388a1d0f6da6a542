//! Flight SQL statement handles: self-contained, so the server keeps no
//! state between `CreatePreparedStatement`, `DoPut` (bind) and `DoGet`.
//! Also the parameter plumbing: `?` placeholders and the bound row.

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use tonic::Status;

use super::arrow_status;
use crate::error::{Error, Result};

/// A statement handle: the SQL and, once bound, one row of parameters.
///
/// Layout: `TW1` | u32 LE SQL length | SQL | Arrow IPC stream of the parameters (optional).
pub(super) struct Handle {
    pub(super) sql: String,
    pub(super) params: Option<RecordBatch>,
}

const HANDLE_MAGIC: &[u8] = b"TW1";

impl Handle {
    pub(super) fn encode(&self) -> Result<Bytes, Status> {
        let len = u32::try_from(self.sql.len()).map_err(|_| Status::invalid_argument("query too long"))?;
        let mut out = Vec::with_capacity(HANDLE_MAGIC.len() + 4 + self.sql.len());
        out.extend_from_slice(HANDLE_MAGIC);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(self.sql.as_bytes());
        if let Some(batch) = &self.params {
            let mut w = StreamWriter::try_new(&mut out, &batch.schema()).map_err(arrow_status)?;
            w.write(batch).map_err(arrow_status)?;
            w.finish().map_err(arrow_status)?;
        }
        Ok(out.into())
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Status> {
        let bad = || Status::invalid_argument("not a Tidewater statement handle");
        let rest = bytes.strip_prefix(HANDLE_MAGIC).ok_or_else(bad)?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
        let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| bad())?;
        if rest.len() < len {
            return Err(bad());
        }
        let (sql, params) = rest.split_at(len);
        let sql = String::from_utf8(sql.to_vec()).map_err(|_| bad())?;
        let params = if params.is_empty() {
            None
        } else {
            let mut reader = StreamReader::try_new(params, None).map_err(arrow_status)?;
            reader.next().transpose().map_err(arrow_status)?
        };
        Ok(Self { sql, params })
    }
}

/// `?` placeholders (what ADBC and JDBC send) numbered as `$1`, `$2`, ...
/// (what DataFusion plans). SQL without `?` placeholders is returned as is.
pub(super) fn numbered_placeholders(sql: &str) -> String {
    if !sql.contains('?') {
        return sql.to_string();
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else { return sql.to_string() };
    if !tokens.iter().any(|t| matches!(t, Token::Placeholder(p) if p == "?")) {
        return sql.to_string();
    }
    let mut n = 0;
    tokens
        .into_iter()
        .map(|t| match t {
            Token::Placeholder(p) if p == "?" => {
                n += 1;
                format!("${n}")
            }
            t => t.to_string(),
        })
        .collect()
}

/// Positional parameters (`$1`, `$2`, ...) from the single bound row.
pub(super) fn param_values(batch: &RecordBatch) -> Result<ParamValues> {
    if batch.num_rows() != 1 {
        return Err(Error::BadRequest(format!("bind exactly one row of parameters, not {}", batch.num_rows())));
    }
    let values = batch.columns().iter().map(|c| ScalarValue::try_from_array(c, 0)).collect::<Result<Vec<_>, _>>()?;
    Ok(ParamValues::from(values))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};

    #[test]
    fn handles_round_trip_with_and_without_parameters() {
        let h = Handle { sql: "SELECT $1, $2".into(), params: None };
        let back = Handle::decode(&h.encode().expect("encode")).expect("decode");
        assert_eq!(back.sql, "SELECT $1, $2");
        assert!(back.params.is_none());

        let batch = RecordBatch::try_from_iter([
            ("$1", Arc::new(Int64Array::from(vec![7])) as _),
            ("$2", Arc::new(StringArray::from(vec!["x"])) as _),
        ])
        .expect("batch");
        let h = Handle { sql: "SELECT $1, $2".into(), params: Some(batch.clone()) };
        let back = Handle::decode(&h.encode().expect("encode")).expect("decode");
        assert_eq!(back.params, Some(batch.clone()));
        let ParamValues::List(values) = param_values(&batch).expect("params") else { panic!("positional") };
        assert_eq!(values[0].value, ScalarValue::Int64(Some(7)));
    }

    #[test]
    fn question_marks_become_numbered_placeholders() {
        assert_eq!(
            numbered_placeholders("SELECT a FROM t WHERE b = ? AND c = '?' AND d > ?"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d > $2"
        );
        assert_eq!(numbered_placeholders("SELECT '?'"), "SELECT '?'");
        assert_eq!(numbered_placeholders("SELECT $1"), "SELECT $1");
    }

    #[test]
    fn foreign_handles_are_refused() {
        assert_eq!(Handle::decode(b"SELECT 1").err().map(|s| s.code()), Some(tonic::Code::InvalidArgument));
        assert_eq!(Handle::decode(b"TW1\xff\x00\x00\x00x").err().map(|s| s.code()), Some(tonic::Code::InvalidArgument));
    }
}
