//! The SQL that rolls up one source table: which columns a rollup table has
//! for each metric kind, and the `SELECT ... GROUP BY` that fills them for a
//! window of buckets.
//!
//! | source | rollup value columns |
//! |---|---|
//! | gauge | `min`, `max`, `avg`, `sum`, `count` of `value` |
//! | cumulative sum | the same, plus `value` and `start_time` of the last point and its time `last_time` |
//! | delta sum | the same, plus `value` = the sum of the deltas |
//! | delta histogram | `count`, `sum` summed, `min`, `max`, `counts` merged (per `bounds`) |
//! | cumulative histogram | the last point's `count`, `sum`, `min`, `max`, `counts`, `start_time`, and `last_time` |
//!
//! Every rollup table has `time` (the bucket start) and the source's
//! attribute columns, which are the GROUP BY keys (with `bounds` for
//! histograms). Points without a value (stale markers) are left out.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tidewater_storage::schema::{attribute_type, is_attribute, time_type, META_KIND, META_TEMPORALITY, TIME};

use super::config::RollupConfig;
use super::{META_ROLLUP, META_ROLLUP_INTERVAL_SECS, META_ROLLUP_SOURCE};
use crate::catalog::{CATALOG, SCHEMA};
use crate::functions::histogram_merge;

/// The metric kinds that have rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceKind {
    /// A gauge.
    Gauge,
    /// A sum (counter or up-down counter).
    Sum {
        /// Cumulative (else delta).
        cumulative: bool,
    },
    /// An explicit-bucket histogram.
    Histogram {
        /// Cumulative (else delta).
        cumulative: bool,
    },
}

impl SourceKind {
    /// The kind of a table from its schema; `None` for kinds without rollups
    /// (exponential histograms, summaries, logs) or a table missing a value
    /// column its kind should have.
    pub(crate) fn of(schema: &Schema) -> Option<Self> {
        let cumulative = schema.metadata().get(META_TEMPORALITY).is_some_and(|t| t == "cumulative");
        let has = |name: &str, t: &DataType| schema.field_with_name(name).is_ok_and(|f| f.data_type() == t);
        let kind = match schema.metadata().get(META_KIND)?.as_str() {
            "gauge" => SourceKind::Gauge,
            "sum" => SourceKind::Sum { cumulative },
            "histogram" => SourceKind::Histogram { cumulative },
            _ => return None,
        };
        let complete = match kind {
            SourceKind::Gauge | SourceKind::Sum { .. } => has("value", &DataType::Float64),
            SourceKind::Histogram { .. } => {
                ["sum", "min", "max"].iter().all(|c| has(c, &DataType::Float64))
                    && has("count", &DataType::UInt64)
                    && ["bounds", "counts"].iter().all(|c| schema.field_with_name(c).is_ok())
            }
        };
        (complete && has(TIME, &time_type())).then_some(kind)
    }

    /// The column whose NULL marks a point without a value.
    fn value_column(self) -> &'static str {
        match self {
            SourceKind::Gauge | SourceKind::Sum { .. } => "value",
            SourceKind::Histogram { .. } => "counts",
        }
    }
}

/// How one source table is rolled up: the select list, the grouping and the
/// rollup table's schema.
#[derive(Debug, Clone)]
pub(crate) struct RollupPlan {
    source: String,
    kind: SourceKind,
    /// `expr AS name`, in the order of [`RollupPlan::schema`].
    select: Vec<String>,
    /// 1-based positions of the GROUP BY keys in `select`.
    group_by: Vec<usize>,
    schema: SchemaRef,
}

impl RollupPlan {
    /// The plan for `table` (schema `source`) under `rollup`; `None` if the
    /// table's kind has no rollups.
    pub(crate) fn new(rollup: &RollupConfig, table: &str, source: &Schema) -> Option<Self> {
        let kind = SourceKind::of(source)?;
        let mut b = Builder::default();
        let interval_secs = rollup.interval.as_secs();
        b.column(format!("date_bin(INTERVAL '{interval_secs} seconds', {})", ident(TIME)), TIME, time_type(), true);
        let ordered = |c: &str| format!("last_value({} ORDER BY {})", ident(c), ident(TIME));
        let last_time = format!("max({})", ident(TIME));
        let has_start = source.field_with_name("start_time").is_ok_and(|f| f.data_type() == &time_type());
        let f64 = DataType::Float64;
        match kind {
            SourceKind::Gauge | SourceKind::Sum { .. } => {
                for agg in ["min", "max", "avg", "sum"] {
                    b.column(format!("{agg}({})", ident("value")), agg, f64.clone(), false);
                }
                b.column(format!("count({})", ident("value")), "count", DataType::UInt64, false);
                match kind {
                    SourceKind::Sum { cumulative: true } => {
                        b.column(ordered("value"), "value", f64, false);
                        if has_start {
                            b.column(ordered("start_time"), "start_time", time_type(), false);
                        }
                        b.column(last_time, "last_time", time_type(), false);
                    }
                    SourceKind::Sum { cumulative: false } => {
                        b.column(format!("sum({})", ident("value")), "value", f64, false)
                    }
                    _ => {}
                }
            }
            SourceKind::Histogram { cumulative } => {
                let source_type = |c: &str| source.field_with_name(c).map(|f| f.data_type().clone()).ok();
                b.column(ident("bounds"), "bounds", source_type("bounds")?, true);
                let counts_type = source_type("counts")?;
                if cumulative {
                    for (c, t) in
                        [("count", DataType::UInt64), ("sum", f64.clone()), ("min", f64.clone()), ("max", f64)]
                    {
                        b.column(ordered(c), c, t, false);
                    }
                    b.column(ordered("counts"), "counts", counts_type, false);
                    if has_start {
                        b.column(ordered("start_time"), "start_time", time_type(), false);
                    }
                    b.column(last_time, "last_time", time_type(), false);
                } else {
                    b.column(format!("sum({})", ident("count")), "count", DataType::UInt64, false);
                    b.column(format!("sum({})", ident("sum")), "sum", f64.clone(), false);
                    b.column(format!("min({})", ident("min")), "min", f64.clone(), false);
                    b.column(format!("max({})", ident("max")), "max", f64, false);
                    let merge = format!("{}({})", histogram_merge::NAME, ident("counts"));
                    b.column(merge, "counts", counts_type, false);
                }
            }
        }
        // Attributes keep their names unless one collides with a value column.
        for field in source.fields().iter().filter(|f| is_attribute(f)) {
            let mut name = field.name().clone();
            while b.names.contains(&name) {
                name = format!("attr_{name}");
            }
            b.column(ident(field.name()), &name, attribute_type(), true);
        }
        let mut metadata: HashMap<String, String> = source.metadata().clone();
        metadata.insert(META_ROLLUP.into(), rollup.name.clone());
        metadata.insert(META_ROLLUP_INTERVAL_SECS.into(), interval_secs.to_string());
        metadata.insert(META_ROLLUP_SOURCE.into(), table.to_string());
        let schema = Arc::new(Schema::new_with_metadata(b.fields, metadata));
        Some(Self { source: table.to_string(), kind, select: b.select, group_by: b.group_by, schema })
    }

    /// The rollup table's schema (its metadata: the source's plus the rollup's).
    pub(crate) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The rollup of the buckets in `[start, end)` (`start == i64::MIN`: no lower bound).
    pub(crate) fn sql(&self, start: i64, end: i64) -> String {
        let positions: Vec<String> = self.group_by.iter().map(usize::to_string).collect();
        format!(
            "SELECT {} FROM {} WHERE {} GROUP BY {}",
            self.select.join(", "),
            self.from(),
            self.filter(start, end),
            positions.join(", ")
        )
    }

    /// The time of the first point with a value in `[start, end)`.
    pub(crate) fn first_time_sql(&self, start: i64, end: i64) -> String {
        format!("SELECT min({}) FROM {} WHERE {}", ident(TIME), self.from(), self.filter(start, end))
    }

    fn from(&self) -> String {
        format!("{}.{}.{}", ident(CATALOG), ident(SCHEMA), ident(&self.source))
    }

    fn filter(&self, start: i64, end: i64) -> String {
        let mut terms = Vec::with_capacity(3);
        if start != i64::MIN {
            terms.push(format!("{} >= {}", ident(TIME), time_literal(start)));
        }
        terms.push(format!("{} < {}", ident(TIME), time_literal(end)));
        terms.push(format!("{} IS NOT NULL", ident(self.kind.value_column())));
        terms.join(" AND ")
    }
}

/// Collects the select list, grouping keys and output fields.
#[derive(Default)]
struct Builder {
    select: Vec<String>,
    group_by: Vec<usize>,
    fields: Vec<Field>,
    names: Vec<String>,
}

impl Builder {
    fn column(&mut self, expr: String, name: &str, data_type: DataType, group: bool) {
        self.select.push(format!("{expr} AS {}", ident(name)));
        if group {
            self.group_by.push(self.select.len());
        }
        self.fields.push(Field::new(name, data_type, true));
        self.names.push(name.to_string());
    }
}

/// A quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A `Timestamp(ns, UTC)` literal for `nanos`.
fn time_literal(nanos: i64) -> String {
    format!("arrow_cast({nanos}, '{}')", time_type())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn source(kind: &str, temporality: Option<&str>, cols: &[(&str, DataType)]) -> Schema {
        let mut meta = HashMap::from([(META_KIND.to_string(), kind.to_string())]);
        if let Some(t) = temporality {
            meta.insert(META_TEMPORALITY.to_string(), t.to_string());
        }
        let mut fields = vec![Field::new(TIME, time_type(), true)];
        fields.extend(cols.iter().map(|(n, t)| Field::new(*n, t.clone(), true)));
        Schema::new_with_metadata(fields, meta)
    }

    fn names(plan: &RollupPlan) -> Vec<String> {
        plan.schema().fields().iter().map(|f| f.name().clone()).collect()
    }

    #[test]
    fn columns_follow_the_kind_and_attributes_never_collide() {
        let r = RollupConfig::new("1m", Duration::from_secs(60));
        let gauge = source("gauge", None, &[("value", DataType::Float64), ("avg", attribute_type())]);
        let plan = RollupPlan::new(&r, "cpu", &gauge).expect("gauge plan");
        assert_eq!(names(&plan), ["time", "min", "max", "avg", "sum", "count", "attr_avg"]);
        assert_eq!(plan.schema().metadata().get(META_ROLLUP_SOURCE).map(String::as_str), Some("cpu"));
        let sql = plan.sql(0, 60_000_000_000);
        assert!(sql.contains("date_bin(INTERVAL '60 seconds', \"time\")"), "{sql}");
        assert!(sql.contains("FROM \"tidewater\".\"public\".\"cpu\""), "{sql}");
        assert!(sql.ends_with("GROUP BY 1, 7"), "{sql}");
        assert!(!plan.sql(i64::MIN, 0).contains(">="));

        let counter = source(
            "sum",
            Some("cumulative"),
            &[("start_time", time_type()), ("value", DataType::Float64), ("host", attribute_type())],
        );
        let plan = RollupPlan::new(&r, "requests", &counter).expect("sum plan");
        assert_eq!(
            names(&plan),
            ["time", "min", "max", "avg", "sum", "count", "value", "start_time", "last_time", "host"]
        );
        let delta = source("sum", Some("delta"), &[("value", DataType::Float64)]);
        let plan = RollupPlan::new(&r, "d", &delta).expect("delta plan");
        assert_eq!(names(&plan), ["time", "min", "max", "avg", "sum", "count", "value"]);

        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        let hist_cols = [
            ("count", DataType::UInt64),
            ("sum", DataType::Float64),
            ("min", DataType::Float64),
            ("max", DataType::Float64),
            ("bounds", list(DataType::Float64)),
            ("counts", list(DataType::UInt64)),
        ];
        let plan = RollupPlan::new(&r, "h", &source("histogram", Some("delta"), &hist_cols)).expect("histogram");
        assert_eq!(names(&plan), ["time", "bounds", "count", "sum", "min", "max", "counts"]);
        assert!(plan.sql(0, 1).contains("histogram_merge_counts(\"counts\")"));
        assert!(plan.sql(0, 1).ends_with("GROUP BY 1, 2"));

        assert!(RollupPlan::new(&r, "s", &source("summary", None, &[("count", DataType::UInt64)])).is_none());
        assert!(RollupPlan::new(&r, "g", &source("gauge", None, &[])).is_none());
        assert!(RollupPlan::new(&r, "logs", &Schema::new(vec![Field::new(TIME, time_type(), true)])).is_none());
    }
}
