//! OTLP logs to the `logs` table.
//!
//! | column | from |
//! |---|---|
//! | `time` | `time_unix_nano`, else `observed_time_unix_nano` |
//! | `observed_time` | `observed_time_unix_nano` (NULL if 0) |
//! | `severity_number` | `severity_number` (Int32) |
//! | `severity_text` | `severity_text` (dictionary) |
//! | `body` | string bodies as they are; other AnyValues as JSON text |
//! | `trace_id`, `span_id` | lowercase hex (NULL if empty) |
//! | `flags` | `flags` (UInt32) |
//! | `event_name` | `event_name` (NULL if empty) |
//! | `service_name` | resource attribute `service.name` (dictionary) |
//! | `scope_name`, `scope_version` | instrumentation scope (dictionary) |
//! | `resource` | resource attributes as a JSON object text |
//! | `scope_attributes` | scope attributes as a JSON object text (NULL if none) |
//! | `attributes` | log record attributes as a JSON object text |
//!
//! Segments are sorted by the dictionary columns (`service_name`, ...) then
//! time, so filters on `service_name` and `severity_text` prune well.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Array, RecordBatch, StringArray, StringDictionaryBuilder, TimestampNanosecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use tidewater_storage::schema::{self as cols, time_type};
use tidewater_storage::TableWrite;

use crate::attributes;
use crate::metrics::Converted;

/// The table all log records go to.
pub const LOGS_TABLE: &str = "logs";

#[derive(Default)]
struct LogColumns {
    time: Vec<i64>,
    observed_time: Vec<Option<i64>>,
    severity_number: Vec<i32>,
    severity_text: StringDictionaryBuilder<Int32Type>,
    body: Vec<Option<String>>,
    trace_id: Vec<Option<String>>,
    span_id: Vec<Option<String>>,
    flags: Vec<u32>,
    event_name: Vec<Option<String>>,
    service_name: StringDictionaryBuilder<Int32Type>,
    scope_name: StringDictionaryBuilder<Int32Type>,
    scope_version: StringDictionaryBuilder<Int32Type>,
    resource: Vec<String>,
    scope_attributes: Vec<Option<String>>,
    attributes: Vec<String>,
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn service_name(attrs: &[KeyValue]) -> Option<String> {
    attrs.iter().find(|kv| kv.key == "service.name").and_then(|kv| kv.value.as_ref()).and_then(attributes::to_string)
}

/// Convert an OTLP logs request into one write to the `logs` table.
pub fn convert(req: &ExportLogsServiceRequest, max_body_bytes: usize) -> Converted {
    let mut out = Converted::default();
    let mut c = LogColumns::default();
    for rl in &req.resource_logs {
        let resource_attrs: &[KeyValue] = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or(&[]);
        let resource_json = attributes::to_json_object(resource_attrs);
        let service = service_name(resource_attrs);
        for sl in &rl.scope_logs {
            let scope = sl.scope.as_ref();
            let scope_name = scope.and_then(|s| non_empty(&s.name));
            let scope_version = scope.and_then(|s| non_empty(&s.version));
            let scope_attrs =
                scope.filter(|s| !s.attributes.is_empty()).map(|s| attributes::to_json_object(&s.attributes));
            for r in &sl.log_records {
                let Some(time) = [r.time_unix_nano, r.observed_time_unix_nano].into_iter().find(|t| *t > 0) else {
                    out.reject(1, "log record with neither time_unix_nano nor observed_time_unix_nano".into());
                    continue;
                };
                let Ok(time) = i64::try_from(time) else {
                    out.reject(1, "log record time beyond year 2262".into());
                    continue;
                };
                let body = r.body.as_ref().and_then(|b| match b.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => Some(attributes::any_to_json(b).to_string()),
                });
                if body.as_ref().is_some_and(|b| b.len() > max_body_bytes) {
                    out.reject(1, format!("log body longer than {max_body_bytes} bytes"));
                    continue;
                }
                c.time.push(time);
                c.observed_time.push(i64::try_from(r.observed_time_unix_nano).ok().filter(|t| *t > 0));
                c.severity_number.push(r.severity_number);
                c.severity_text.append_option(non_empty(&r.severity_text));
                c.body.push(body);
                c.trace_id.push((!r.trace_id.is_empty()).then(|| attributes::hex(&r.trace_id)));
                c.span_id.push((!r.span_id.is_empty()).then(|| attributes::hex(&r.span_id)));
                c.flags.push(r.flags);
                c.event_name.push(non_empty(&r.event_name).map(str::to_string));
                c.service_name.append_option(service.as_deref());
                c.scope_name.append_option(scope_name);
                c.scope_version.append_option(scope_version);
                c.resource.push(resource_json.clone());
                c.scope_attributes.push(scope_attrs.clone());
                c.attributes.push(attributes::to_json_object(&r.attributes));
                out.points += 1;
            }
        }
    }
    if out.points > 0 {
        match c.finish() {
            Ok(batch) => out.writes.push(TableWrite { table: LOGS_TABLE.into(), batch }),
            Err(e) => tracing::error!(error = %e, "building the logs batch failed"),
        }
    }
    out
}

impl LogColumns {
    fn finish(mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let ts = |v: Vec<Option<i64>>| Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC")) as ArrayRef;
        let dict = cols::attribute_type;
        let columns: Vec<(&str, DataType, ArrayRef)> = vec![
            ("time", time_type(), ts(self.time.into_iter().map(Some).collect())),
            ("observed_time", time_type(), ts(self.observed_time)),
            ("severity_number", DataType::Int32, Arc::new(Int32Array::from(self.severity_number))),
            ("severity_text", dict(), Arc::new(self.severity_text.finish())),
            ("body", DataType::Utf8, Arc::new(StringArray::from(self.body))),
            ("trace_id", DataType::Utf8, Arc::new(StringArray::from(self.trace_id))),
            ("span_id", DataType::Utf8, Arc::new(StringArray::from(self.span_id))),
            ("flags", DataType::UInt32, Arc::new(UInt32Array::from(self.flags))),
            ("event_name", DataType::Utf8, Arc::new(StringArray::from(self.event_name))),
            ("service_name", dict(), Arc::new(self.service_name.finish())),
            ("scope_name", dict(), Arc::new(self.scope_name.finish())),
            ("scope_version", dict(), Arc::new(self.scope_version.finish())),
            ("resource", DataType::Utf8, Arc::new(StringArray::from(self.resource))),
            ("scope_attributes", DataType::Utf8, Arc::new(StringArray::from(self.scope_attributes))),
            ("attributes", DataType::Utf8, Arc::new(StringArray::from(self.attributes))),
        ];
        let fields: Vec<Field> = columns.iter().map(|(n, t, _)| Field::new(*n, t.clone(), true)).collect();
        let meta = HashMap::from([(cols::META_KIND.to_string(), "logs".to_string())]);
        RecordBatch::try_new(
            Arc::new(Schema::new_with_metadata(fields, meta)),
            columns.into_iter().map(|(_, _, a)| a).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn kv(k: &str, v: Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    #[test]
    fn records_map_to_columns() {
        let structured = Value::KvlistValue(KeyValueList { values: vec![kv("user", Value::IntValue(7))] });
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Value::StringValue("api".into()))],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    log_records: vec![
                        LogRecord {
                            time_unix_nano: 5,
                            observed_time_unix_nano: 6,
                            severity_number: 17,
                            severity_text: "ERROR".into(),
                            body: Some(AnyValue { value: Some(Value::StringValue("boom".into())) }),
                            trace_id: vec![0xab; 16],
                            span_id: vec![0x01; 8],
                            attributes: vec![kv("http.method", Value::StringValue("GET".into()))],
                            ..Default::default()
                        },
                        LogRecord {
                            observed_time_unix_nano: 9,
                            body: Some(AnyValue { value: Some(structured) }),
                            ..Default::default()
                        },
                        LogRecord::default(),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let c = convert(&req, 1 << 20);
        assert_eq!((c.points, c.rejected), (2, 1));
        let b = &c.writes[0].batch;
        let body = b.column_by_name("body").expect("body").as_string::<i32>();
        assert_eq!(body.value(0), "boom");
        assert_eq!(body.value(1), r#"{"user":7}"#);
        let trace = b.column_by_name("trace_id").expect("trace").as_string::<i32>();
        assert_eq!(trace.value(0), "ab".repeat(16));
        assert!(trace.is_null(1));
        let time = b.column_by_name("time").expect("time").as_primitive::<arrow::datatypes::TimestampNanosecondType>();
        assert_eq!((time.value(0), time.value(1)), (5, 9));
        let attrs = b.column_by_name("attributes").expect("attrs").as_string::<i32>();
        assert_eq!(attrs.value(0), r#"{"http.method":"GET"}"#);
        let res = b.column_by_name("resource").expect("resource").as_string::<i32>();
        assert_eq!(res.value(1), r#"{"service.name":"api"}"#);
    }
}
