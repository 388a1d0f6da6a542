//! Segment pruning by attribute equality: the filters `attr = 'x'`,
//! `attr IN ('x', 'y')` and `attr = 'x' OR attr = 'y'` (what DataFusion
//! turns a short `IN` list into), combined with `AND`, against the values
//! each segment's manifest entry records ([`AttrStats`]).
//!
//! A segment is skipped only when its statistics prove no row can match: a
//! segment without statistics (written before they existed) or without an
//! entry for the column is always read.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use tidewater_storage::manifest::{AttrStats, SegmentMeta};

/// The attribute values the query's filters allow, per column: a row can
/// match only if, for every column here, its value is one of the listed ones.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct AttrFilter {
    allowed: BTreeMap<String, Vec<String>>,
}

impl AttrFilter {
    /// Collect the equality constraints of conjunctive `filters`; anything
    /// else (ranges, `LIKE`, `NOT IN`, functions of columns) is ignored.
    pub fn from_filters(filters: &[Expr]) -> Self {
        let mut f = AttrFilter::default();
        for e in filters {
            f.apply(e);
        }
        f
    }

    /// Whether there is nothing to prune by.
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }

    /// Whether `segment` may hold a matching row.
    pub fn may_match(&self, segment: &SegmentMeta) -> bool {
        let Some(stats) = &segment.attributes else { return true };
        self.allowed.iter().all(|(column, values)| match stats.get(column) {
            Some(s) => values.iter().any(|v| AttrStats::may_contain(s, v)),
            None => true,
        })
    }

    fn apply(&mut self, e: &Expr) {
        if let Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) = e {
            self.apply(left);
            self.apply(right);
            return;
        }
        if let Some((column, mut values)) = allowed_values(e) {
            values.sort_unstable();
            values.dedup();
            match self.allowed.get_mut(&column) {
                // Two constraints on one column: both must hold.
                Some(existing) => existing.retain(|v| values.binary_search(v).is_ok()),
                None => {
                    self.allowed.insert(column, values);
                }
            }
        }
    }
}

/// `(column, values)` if `e` holds only when the column equals one of the values.
fn allowed_values(e: &Expr) -> Option<(String, Vec<String>)> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Eq, right }) => {
            let (column, value) = match (column_name(left), string_literal(right)) {
                (Some(c), Some(v)) => (c, v),
                _ => (column_name(right)?, string_literal(left)?),
            };
            Some((column, vec![value]))
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            let (a, mut values) = allowed_values(left)?;
            let (b, more) = allowed_values(right)?;
            (a == b).then(|| {
                values.extend(more);
                (a, values)
            })
        }
        Expr::InList(list) if !list.negated => {
            let column = column_name(&list.expr)?;
            let values = list.list.iter().map(string_literal).collect::<Option<Vec<_>>>()?;
            Some((column, values))
        }
        _ => None,
    }
}

/// The column `e` reads, unchanged or cast to a string type (a cast keeps
/// the values, so equality on it is equality on the column).
fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Column(c) => Some(c.name.clone()),
        Expr::Cast(c) if is_string(c.field.data_type()) => column_name(&c.expr),
        Expr::TryCast(c) if is_string(c.field.data_type()) => column_name(&c.expr),
        _ => None,
    }
}

fn is_string(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, v) => is_string(v),
        _ => false,
    }
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Literal(v, _) => scalar_string(v),
        Expr::Cast(c) if is_string(c.field.data_type()) => string_literal(&c.expr),
        _ => None,
    }
}

fn scalar_string(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(s.clone())
        }
        ScalarValue::Dictionary(_, inner) => scalar_string(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{cast, col, lit};

    use super::*;

    fn segment(stats: Option<Vec<(&str, AttrStats)>>) -> SegmentMeta {
        SegmentMeta {
            id: 1,
            table: "t".into(),
            partition: "2025-01-01".into(),
            path: "t/2025-01-01/1.parquet".into(),
            min_time: 0,
            max_time: 0,
            rows: 1,
            bytes: 1,
            attributes: stats.map(|s| s.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        }
    }

    fn values(v: &[&str]) -> AttrStats {
        AttrStats::Values(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn equality_in_and_or_prune_by_values_and_ranges() {
        let seg = segment(Some(vec![
            ("host", values(&["a", "b"])),
            ("pod", AttrStats::Range { min: "p10".into(), max: "p20".into() }),
        ]));
        let matches = |filters: Vec<Expr>| AttrFilter::from_filters(&filters).may_match(&seg);
        assert!(matches(vec![col("host").eq(lit("a"))]));
        assert!(!matches(vec![col("host").eq(lit("c"))]));
        assert!(!matches(vec![lit("c").eq(col("host"))]));
        assert!(!matches(vec![cast(col("host"), DataType::Utf8).eq(lit("c"))]));
        let dict = ScalarValue::Dictionary(Box::new(DataType::Int32), Box::new(ScalarValue::from("c")));
        assert!(!matches(vec![col("host").eq(lit(dict))]));
        assert!(matches(vec![col("host").in_list(vec![lit("c"), lit("b")], false)]));
        assert!(!matches(vec![col("host").in_list(vec![lit("c"), lit("d")], false)]));
        assert!(matches(vec![col("host").in_list(vec![lit("c")], true)]), "NOT IN never prunes");
        assert!(!matches(vec![col("host").eq(lit("c")).or(col("host").eq(lit("d")))]));
        assert!(matches(vec![col("host").eq(lit("c")).or(col("pod").eq(lit("p15")))]), "OR across columns");
        assert!(matches(vec![col("pod").eq(lit("p15"))]));
        assert!(!matches(vec![col("pod").eq(lit("p21"))]));
        assert!(!matches(vec![col("host").eq(lit("a")).and(col("pod").eq(lit("p09")))]));
        assert!(!matches(vec![col("host").eq(lit("a")), col("host").eq(lit("b"))]), "a = x AND a = y");
        assert!(matches(vec![col("region").eq(lit("eu"))]), "no statistics for the column");
        assert!(matches(vec![col("host").gt(lit("z"))]), "only equality prunes");
    }

    #[test]
    fn segments_without_statistics_are_never_pruned() {
        let filter = AttrFilter::from_filters(&[col("host").eq(lit("c"))]);
        assert!(!filter.is_empty());
        assert!(filter.may_match(&segment(None)));
        assert!(!filter.may_match(&segment(Some(vec![("host", values(&[]))]))), "all-NULL column");
    }
}
