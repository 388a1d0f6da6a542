//! OTLP attribute values as strings (attribute columns are strings).

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};

/// Render an attribute value: strings as they are, numbers and booleans in
/// their usual text form, bytes as lowercase hex, arrays and maps as JSON.
pub fn to_string(v: &AnyValue) -> Option<String> {
    match v.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        other => Some(match to_json(other) {
            serde_json::Value::String(s) => s,
            j => j.to_string(),
        }),
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::StringValue(s) => serde_json::Value::String(s.clone()),
        Value::BoolValue(b) => serde_json::Value::Bool(*b),
        Value::IntValue(i) => serde_json::Value::from(*i),
        Value::DoubleValue(d) => serde_json::Number::from_f64(*d)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(d.to_string())),
        Value::BytesValue(b) => serde_json::Value::String(hex(b)),
        // An index into a profiles string table; meaningless without it.
        Value::StringValueStrindex(i) => serde_json::Value::from(*i),
        Value::ArrayValue(a) => serde_json::Value::Array(
            a.values.iter().map(|x| x.value.as_ref().map(to_json).unwrap_or_default()).collect(),
        ),
        Value::KvlistValue(kv) => serde_json::Value::Object(
            kv.values.iter().map(|p| (p.key.clone(), p.value.as_ref().map(any_to_json).unwrap_or_default())).collect(),
        ),
    }
}

/// Attributes as a JSON object text (`{"key": value, ...}`).
pub fn to_json_object(attrs: &[KeyValue]) -> String {
    serde_json::Value::Object(
        attrs.iter().map(|p| (p.key.clone(), p.value.as_ref().map(any_to_json).unwrap_or_default())).collect(),
    )
    .to_string()
}

/// Render any value as JSON (strings stay strings, bytes become hex).
pub fn any_to_json(v: &AnyValue) -> serde_json::Value {
    v.value.as_ref().map(to_json).unwrap_or_default()
}

/// Lowercase hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for byte in b {
        s.push(DIGITS[(byte >> 4) as usize] as char);
        s.push(DIGITS[(byte & 15) as usize] as char);
    }
    s
}

/// Iterate `(key, rendered value)` over attributes that have a value.
pub fn pairs(attrs: &[KeyValue]) -> impl Iterator<Item = (&str, String)> {
    attrs.iter().filter_map(|kv| Some((kv.key.as_str(), to_string(kv.value.as_ref()?)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn av(v: Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    #[test]
    fn renders_every_kind() {
        assert_eq!(to_string(&av(Value::StringValue("x".into()))).as_deref(), Some("x"));
        assert_eq!(to_string(&av(Value::IntValue(-3))).as_deref(), Some("-3"));
        assert_eq!(to_string(&av(Value::DoubleValue(1.5))).as_deref(), Some("1.5"));
        assert_eq!(to_string(&av(Value::BoolValue(true))).as_deref(), Some("true"));
        assert_eq!(to_string(&av(Value::BytesValue(vec![0xab, 0x01]))).as_deref(), Some("ab01"));
        let arr =
            Value::ArrayValue(ArrayValue { values: vec![av(Value::IntValue(1)), av(Value::StringValue("a".into()))] });
        assert_eq!(to_string(&av(arr)).as_deref(), Some(r#"[1,"a"]"#));
        let kv = Value::KvlistValue(KeyValueList {
            values: vec![KeyValue { key: "k".into(), value: Some(av(Value::BoolValue(false))), ..Default::default() }],
        });
        assert_eq!(to_string(&av(kv)).as_deref(), Some(r#"{"k":false}"#));
        assert_eq!(to_string(&AnyValue { value: None }), None);
    }
}
