//! Answers of SQL and PromQL queries in one comparable form, and their
//! comparison within a float tolerance.
//!
//! An [`Answer`] maps (key, time) to a value: the key is the query's key
//! columns (`metric=cpu_usage_user,hostname=host_3`), the time is the SQL
//! bucket start, or the PromQL evaluation time minus one step (see
//! [`super::queries`]).

use std::collections::BTreeMap;

use serde_json::Value;

use super::queries::{PromQuery, QueryCase, TimeKey};
use super::{Error, Result};
use crate::time::parse_rfc3339_millis;

/// (key, time ms) -> value.
pub type Answer = BTreeMap<(String, i64), f64>;

/// Relative (and absolute, near zero) tolerance: sums of the same numbers
/// in another order differ in the last bits only.
pub const TOLERANCE: f64 = 1e-9;

fn bad(msg: impl Into<String>) -> Error {
    Error::Answer(msg.into())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "inf" | "+Inf" => Some(f64::INFINITY),
            "-inf" | "-Inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

fn insert(answer: &mut Answer, key: String, time: i64, value: f64) -> Result<()> {
    if answer.insert((key.clone(), time), value).is_some() {
        return Err(bad(format!("two values for {key} at {time}: the key labels do not identify a series")));
    }
    Ok(())
}

/// Read a Tidewater `/api/v1/sql` JSON answer (`{"columns": [...], "rows": [...]}`).
/// The key columns are the case's keys, the time column `t`, the value `v`.
pub fn from_sql(body: &str, case: &QueryCase) -> Result<Answer> {
    let doc: Value = serde_json::from_str(body).map_err(|e| bad(format!("SQL answer is not JSON: {e}")))?;
    if let Some(err) = doc.get("error") {
        return Err(bad(format!("SQL error: {err}")));
    }
    let names: Vec<&str> = doc
        .get("columns")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("SQL answer without columns"))?
        .iter()
        .map(|c| c.get("name").and_then(Value::as_str).unwrap_or(""))
        .collect();
    let col = |name: &str| {
        names.iter().position(|n| *n == name).ok_or_else(|| bad(format!("SQL answer lacks column {name}")))
    };
    let key_cols: Vec<(&str, usize)> = case.keys.iter().map(|k| Ok((*k, col(k)?))).collect::<Result<_>>()?;
    let t_col = match case.time {
        TimeKey::Bucket { .. } => Some(col("t")?),
        TimeKey::Ignore => None,
    };
    let v_col = col("v")?;
    let mut out = Answer::new();
    for row in doc.get("rows").and_then(Value::as_array).ok_or_else(|| bad("SQL answer without rows"))? {
        let cells = row.as_array().ok_or_else(|| bad("SQL row is not an array"))?;
        let cell = |i: usize| cells.get(i).ok_or_else(|| bad("short SQL row"));
        let key = key_cols
            .iter()
            .map(|(label, i)| Ok(format!("{label}={}", cell(*i)?.as_str().unwrap_or_default())))
            .collect::<Result<Vec<_>>>()?
            .join(",");
        let time = match (case.time, t_col) {
            (TimeKey::Bucket { step_ms }, Some(i)) => {
                let text = cell(i)?.as_str().ok_or_else(|| bad("time is not a string"))?;
                let ms = parse_rfc3339_millis(text).ok_or_else(|| bad(format!("time {text:?}")))?;
                ms.div_euclid(step_ms) * step_ms
            }
            _ => 0,
        };
        let v = number(cell(v_col)?).ok_or_else(|| bad(format!("value {:?}", cells.get(v_col))))?;
        insert(&mut out, key, time, v)?;
    }
    Ok(out)
}

/// Read a Prometheus HTTP API answer (`matrix` or `vector`) to `query` of `case`.
pub fn from_prom(body: &str, case: &QueryCase, query: &PromQuery) -> Result<Answer> {
    let doc: Value = serde_json::from_str(body).map_err(|e| bad(format!("PromQL answer is not JSON: {e}")))?;
    if doc.get("status").and_then(Value::as_str) != Some("success") {
        return Err(bad(format!("PromQL error: {}", doc.get("error").unwrap_or(&doc))));
    }
    let data = doc.get("data").ok_or_else(|| bad("PromQL answer without data"))?;
    let kind = data.get("resultType").and_then(Value::as_str).unwrap_or("");
    let results = data.get("result").and_then(Value::as_array).ok_or_else(|| bad("PromQL answer without result"))?;
    let shift = match case.time {
        TimeKey::Bucket { step_ms } => Some(step_ms),
        TimeKey::Ignore => None,
    };
    let time_of = |sample: &Value| -> Result<(i64, f64)> {
        let pair = sample.as_array().filter(|p| p.len() == 2).ok_or_else(|| bad("sample is not [time, value]"))?;
        let secs = pair[0].as_f64().ok_or_else(|| bad("sample time is not a number"))?;
        let v = number(&pair[1]).ok_or_else(|| bad(format!("sample value {:?}", pair[1])))?;
        let ms = (secs * 1_000.0).round() as i64;
        Ok((shift.map_or(0, |s| ms - s), v))
    };
    let mut out = Answer::new();
    for r in results {
        let labels = r.get("metric").and_then(Value::as_object);
        let key = case
            .keys
            .iter()
            .map(|k| {
                format!(
                    "{k}={}",
                    labels.and_then(|l| l.get(query.label(k))).and_then(Value::as_str).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        match kind {
            "matrix" => {
                for s in r.get("values").and_then(Value::as_array).ok_or_else(|| bad("matrix without values"))? {
                    let (t, v) = time_of(s)?;
                    insert(&mut out, key.clone(), t, v)?;
                }
            }
            "vector" => {
                let (t, v) = time_of(r.get("value").ok_or_else(|| bad("vector without value"))?)?;
                insert(&mut out, key, t, v)?;
            }
            other => return Err(bad(format!("result type {other:?}"))),
        }
    }
    Ok(out)
}

/// How one answer compares with the reference.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    /// Rows in the reference.
    pub rows: usize,
    /// Reference rows the other answer lacks.
    pub missing: usize,
    /// Rows only the other answer has.
    pub extra: usize,
    /// Rows whose values differ beyond [`TOLERANCE`].
    pub different: usize,
    /// Up to five examples of differences.
    pub examples: Vec<String>,
}

impl Comparison {
    /// Whether the answers agree.
    pub fn agrees(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.different == 0
    }

    /// `agree (60 rows)` or what differs.
    pub fn summary(&self) -> String {
        if self.agrees() {
            format!("agree ({} rows)", self.rows)
        } else {
            format!(
                "DIFFER: {} of {} rows missing, {} extra, {} different values; e.g. {}",
                self.missing,
                self.rows,
                self.extra,
                self.different,
                self.examples.join("; ")
            )
        }
    }
}

/// Whether two values are equal within [`TOLERANCE`] (NaN equals NaN).
pub fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1.0)
}

/// Compare `other` with `reference`.
pub fn compare(reference: &Answer, other: &Answer) -> Comparison {
    let mut c = Comparison { rows: reference.len(), ..Default::default() };
    let example = |c: &mut Comparison, text: String| {
        if c.examples.len() < 5 {
            c.examples.push(text);
        }
    };
    for ((key, t), v) in reference {
        match other.get(&(key.clone(), *t)) {
            None => {
                c.missing += 1;
                example(&mut c, format!("missing {key}@{t} (reference {v})"));
            }
            Some(w) if !close(*v, *w) => {
                c.different += 1;
                example(&mut c, format!("{key}@{t}: {w} vs reference {v}"));
            }
            Some(_) => {}
        }
    }
    for ((key, t), w) in other {
        if !reference.contains_key(&(key.clone(), *t)) {
            c.extra += 1;
            example(&mut c, format!("extra {key}@{t} = {w}"));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::queries::{Eval, PromQuery, METRIC_KEY};

    fn case(keys: Vec<&'static str>, time: TimeKey) -> QueryCase {
        let q = PromQuery { expr: String::new(), eval: Eval::Instant { time_ms: 0 }, name_label: "__name__" };
        QueryCase {
            name: "t",
            description: String::new(),
            sql: String::new(),
            promql: q.clone(),
            metricsql: q,
            keys,
            time,
        }
    }

    #[test]
    fn sql_and_promql_range_answers_agree_after_alignment() {
        let c = case(vec![METRIC_KEY], TimeKey::Bucket { step_ms: 60_000 });
        let sql = r#"{"columns":[{"name":"metric","type":"Utf8"},{"name":"t","type":"Timestamp(ns, \"UTC\")"},{"name":"v","type":"Float64"}],
            "rows":[["cpu_usage_user","2026-11-29T10:00:00Z",42.0],["cpu_usage_user","2026-11-29T10:01:00Z",43.5],["cpu_usage_idle","2026-11-29T10:00:00Z",7]]}"#;
        // PromQL evaluates at the end of each bucket: 10:01:00 and 10:02:00.
        let t1 = 1_795_946_460.0; // 2026-11-29T10:01:00Z
        let prom = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[
              {{"metric":{{"__name__":"cpu_usage_user"}},"values":[[{t1},"42"],[{},"43.50000000001"]]}},
              {{"metric":{{"__name__":"cpu_usage_idle","hostname":"h"}},"values":[[{t1},"7"]]}}]}}}}"#,
            t1 + 60.0
        );
        let a = from_sql(sql, &c).expect("sql");
        let b = from_prom(&prom, &c, &c.promql).expect("prom");
        assert_eq!(a.len(), 3);
        let cmp = compare(&a, &b);
        assert!(cmp.agrees(), "{cmp:?}");
        assert_eq!(cmp.summary(), "agree (3 rows)");

        // Prometheus' `or` form names the metric in a `metric` label.
        let mut or_form = c.promql.clone();
        or_form.name_label = METRIC_KEY;
        let prom = prom.replace("\"__name__\"", "\"metric\"");
        assert!(compare(&a, &from_prom(&prom, &c, &or_form).expect("prom")).agrees());
        // Looking in the wrong label gives every series the same key: refused.
        assert!(from_prom(&prom, &c, &c.promql).is_err());
    }

    #[test]
    fn differences_are_counted() {
        let c = case(vec!["hostname"], TimeKey::Bucket { step_ms: 10_000 });
        let sql = r#"{"columns":[{"name":"hostname"},{"name":"t"},{"name":"v"}],
            "rows":[["h1","2026-11-29T10:00:05Z",1],["h1","2026-11-29T10:00:15Z",2],["h2","2026-11-29T10:00:05Z","NaN"]]}"#;
        let prom = r#"{"status":"success","data":{"resultType":"matrix","result":[
              {"metric":{"hostname":"h1"},"values":[[1795946410,"1"],[1795946420,"2.5"],[1795946430,"3"]]},
              {"metric":{"hostname":"h2"},"values":[[1795946410,"NaN"]]}]}}"#;
        let a = from_sql(sql, &c).expect("sql");
        let b = from_prom(prom, &c, &c.promql).expect("prom");
        let cmp = compare(&a, &b);
        assert_eq!((cmp.rows, cmp.missing, cmp.extra, cmp.different), (3, 0, 1, 1), "{cmp:?}");
        assert!(cmp.summary().starts_with("DIFFER"));
        let mut missing = b.clone();
        missing.remove(&("hostname=h2".to_string(), 1_795_946_400_000));
        assert_eq!(compare(&a, &missing).missing, 1);
    }

    #[test]
    fn instant_vectors_ignore_time() {
        let c = case(vec![METRIC_KEY, "hostname"], TimeKey::Ignore);
        let sql = r#"{"columns":[{"name":"metric"},{"name":"hostname"},{"name":"v"}],"rows":[["m","h1",5.0],["m","h2",6.0]]}"#;
        let prom = r#"{"status":"success","data":{"resultType":"vector","result":[
              {"metric":{"__name__":"m","hostname":"h2","region":"x"},"value":[1796032810.5,"6"]},
              {"metric":{"__name__":"m","hostname":"h1"},"value":[1796032810.5,"5"]}]}}"#;
        assert!(compare(&from_sql(sql, &c).expect("sql"), &from_prom(prom, &c, &c.promql).expect("prom")).agrees());
    }

    #[test]
    fn errors_and_ambiguous_keys_are_refused() {
        let c = case(vec![], TimeKey::Ignore);
        assert!(from_sql(r#"{"error":"no such table"}"#, &c).is_err());
        assert!(from_prom(r#"{"status":"error","error":"parse error"}"#, &c, &c.promql).is_err());
        let two = r#"{"status":"success","data":{"resultType":"vector","result":[
              {"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}}"#;
        assert!(from_prom(two, &c, &c.promql).is_err(), "two series, empty key");
        assert!(close(1e12, 1e12 + 1.0) && !close(1.0, 1.001) && close(f64::NAN, f64::NAN) && !close(0.0, f64::NAN));
    }
}
