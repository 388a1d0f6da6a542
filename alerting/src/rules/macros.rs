//! Time macros in rule SQL, filled in by the evaluator at each evaluation:
//!
//! | macro | becomes |
//! |---|---|
//! | `$__now` | the evaluation time, as a `TIMESTAMP` literal |
//! | `$__from`, `$__to` | start and end of the rule's window |
//! | `$__timeFilter` | `time > $__from AND time <= $__to` |
//! | `$__range_s` | the window's length in seconds |

use chrono::{DateTime, Utc};

/// Whether `sql` uses the window (`$__timeFilter` or `$__from`).
pub fn uses_window(sql: &str) -> bool {
    sql.contains("$__timeFilter") || sql.contains("$__from")
}

/// A `TIMESTAMP` literal for `t` (UTC, nanoseconds).
pub fn timestamp(t: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%dT%H:%M:%S%.9fZ"))
}

/// Fill in the macros of `sql` for the window `(from, now]` (`from` = `now`
/// when the rule has no window).
pub fn expand(sql: &str, now: DateTime<Utc>, from: Option<DateTime<Utc>>) -> String {
    let from = from.unwrap_or(now);
    let range_s = (now - from).num_milliseconds() as f64 / 1000.0;
    sql.replace("$__timeFilter", "(time > $__from AND time <= $__to)")
        .replace("$__from", &timestamp(from))
        .replace("$__to", &timestamp(now))
        .replace("$__now", &timestamp(now))
        .replace("$__range_s", &format!("{range_s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_window_macros() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").expect("time").with_timezone(&Utc);
        let from = now - chrono::Duration::minutes(5);
        let sql = expand("SELECT count(*) / $__range_s AS value FROM t WHERE $__timeFilter", now, Some(from));
        assert_eq!(
            sql,
            "SELECT count(*) / 300 AS value FROM t WHERE (time > TIMESTAMP '2025-03-01T11:55:00.000000000Z' \
             AND time <= TIMESTAMP '2025-03-01T12:00:00.000000000Z')"
        );
        assert!(uses_window("... $__timeFilter"));
        assert!(!uses_window("SELECT 1 AS value"));
    }
}
