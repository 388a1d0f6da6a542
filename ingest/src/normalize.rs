//! Name normalisation: OTel names to SQL-friendly table and column names.
//!
//! Like Prometheus: every character outside `[a-zA-Z0-9_]` becomes `_`, and a
//! leading digit gets a `_` prefix. `http.server.request.duration` becomes
//! `http_server_request_duration`; `service.name` becomes `service_name`.

/// Column names the data model reserves; attributes with these names are
/// stored as `attr_<name>`.
pub const RESERVED_COLUMNS: &[&str] = &[
    "time",
    "start_time",
    "value",
    "count",
    "sum",
    "min",
    "max",
    "bounds",
    "counts",
    "scale",
    "zero_count",
    "zero_threshold",
    "positive_offset",
    "positive_counts",
    "negative_offset",
    "negative_counts",
    "quantiles",
    "quantile_values",
    "exemplars",
];

/// Normalise a metric name to a table name. `None` for an empty name.
pub fn table_name(name: &str) -> Option<String> {
    let n = sanitize(name);
    (!n.is_empty()).then_some(n)
}

/// Like [`table_name`], borrowing `name` when it needs no change.
pub fn table_name_cow(name: &str) -> Option<std::borrow::Cow<'_, str>> {
    if is_plain(name) {
        Some(std::borrow::Cow::Borrowed(name))
    } else {
        table_name(name).map(std::borrow::Cow::Owned)
    }
}

/// Normalise an attribute key to a column name. `None` for an empty key.
pub fn column_name(key: &str) -> Option<String> {
    let n = sanitize(key);
    if n.is_empty() {
        return None;
    }
    if RESERVED_COLUMNS.contains(&n.as_str()) {
        return Some(format!("attr_{n}"));
    }
    Some(n)
}

/// Like [`column_name`], borrowing `key` when it needs no change (the
/// common case: Prometheus label names are already `[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn column_name_cow(key: &str) -> Option<std::borrow::Cow<'_, str>> {
    if is_plain(key) && !RESERVED_COLUMNS.contains(&key) {
        Some(std::borrow::Cow::Borrowed(key))
    } else {
        column_name(key).map(std::borrow::Cow::Owned)
    }
}

/// Whether `name` is already `[a-zA-Z_][a-zA-Z0-9_]*`, so [`sanitize`]
/// would return it unchanged.
fn is_plain(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_prometheus() {
        assert_eq!(table_name("http.server.request.duration").as_deref(), Some("http_server_request_duration"));
        assert_eq!(table_name("2xx-count").as_deref(), Some("_2xx_count"));
        assert_eq!(table_name("").as_deref(), None);
        assert_eq!(column_name("service.name").as_deref(), Some("service_name"));
        assert_eq!(column_name("time").as_deref(), Some("attr_time"));
        assert_eq!(column_name("ünï").as_deref(), Some("_n_"));
        for key in ["host", "service.name", "time", "2xx", "", "ünï", "le"] {
            assert_eq!(column_name_cow(key).map(|c| c.into_owned()), column_name(key), "{key}");
        }
    }
}
