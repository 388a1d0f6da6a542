//! `tidewater rules check`: rules parsed and their SQL planned against a
//! catalog (the server's own, or a running server's over HTTP), result
//! columns checked for the shape each kind of rule needs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;

use super::{macros, RuleKind, RuleSet};
use crate::error::RuleError;

/// Plans SQL without running it.
#[async_trait]
pub trait Planner: Send + Sync + std::fmt::Debug {
    /// Names and Arrow types (as Arrow prints them) of the result columns.
    async fn columns(&self, sql: &str) -> Result<Vec<(String, String)>, String>;
}

/// Check that `sql` (macros filled in) is one read-only query.
pub fn parse_query(sql: &str) -> Result<(), String> {
    let now = Utc::now();
    let expanded = macros::expand(sql, now, Some(now - chrono::Duration::hours(1)));
    let stmts = DFParser::parse_sql(&expanded).map_err(|e| format!("SQL syntax: {e}"))?;
    match stmts.len() {
        0 => return Err("empty SQL".into()),
        1 => {}
        n => return Err(format!("SQL must be one query, found {n} statements")),
    }
    match stmts.front() {
        Some(Statement::Statement(s)) if matches!(**s, SqlStatement::Query(_)) => Ok(()),
        _ => Err("SQL must be a query (SELECT ...)".into()),
    }
}

/// Whether an Arrow type name is numeric.
pub fn is_numeric(ty: &str) -> bool {
    ["Int", "UInt", "Float", "Decimal"].iter().any(|p| ty.starts_with(p))
}

/// Plan every query of `set` with `planner`; each problem with file, line and reason.
pub async fn check_rules(set: &RuleSet, planner: &dyn Planner, now: DateTime<Utc>) -> Vec<RuleError> {
    let mut errors = Vec::new();
    for g in &set.groups {
        for r in &g.rules {
            for (what, sql) in r.kind.queries() {
                let expanded = macros::expand(sql, now, Some(now - chrono::Duration::hours(1)));
                let problem = match planner.columns(&expanded).await {
                    Err(e) => Some(e),
                    Ok(cols) => shape_problem(&r.kind, &cols),
                };
                if let Some(reason) = problem {
                    errors.push(RuleError {
                        file: g.file.clone(),
                        line: r.line,
                        reason: format!("{} {:?}: {what}: {reason}", r.kind.name(), r.name),
                    });
                }
            }
        }
    }
    errors
}

/// What is missing from a result's columns for this kind of rule.
fn shape_problem(kind: &RuleKind, cols: &[(String, String)]) -> Option<String> {
    let ty = |name: &str| cols.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str());
    match ty("value") {
        None => return Some("the query must return a `value` column".into()),
        Some(t) if !is_numeric(t) => return Some(format!("`value` must be numeric, not {t}")),
        _ => {}
    }
    if let RuleKind::Anomaly(_) = kind {
        match ty("time") {
            Some(t) if t.starts_with("Timestamp") => {}
            Some(t) => return Some(format!("`time` must be a timestamp, not {t}")),
            None => return Some("an anomaly query must return a `time` column".into()),
        }
    }
    None
}
