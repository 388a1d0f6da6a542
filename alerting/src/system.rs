//! `system.alerts` (current instances and their state) and
//! `system.alert_history` (recent state changes), as DataFusion tables
//! registered into the query engine's `system` schema.

use std::sync::{Arc, Weak};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::TableProvider;
use datafusion::error::Result;
use tidewater_query::system::BatchTable;

use crate::manager::Alerting;

/// Which table.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Alerts,
    History,
}

/// `system.alerts` and `system.alert_history` for `alerting` (held
/// weakly), by name.
pub fn tables(alerting: &Arc<Alerting>) -> Vec<(&'static str, Arc<dyn TableProvider>)> {
    vec![("alerts", table(Kind::Alerts, alerting)), ("alert_history", table(Kind::History, alerting))]
}

/// The `kind` table over `alerting`; empty once the manager is gone.
fn table(kind: Kind, alerting: &Arc<Alerting>) -> Arc<dyn TableProvider> {
    let alerting: Weak<Alerting> = Arc::downgrade(alerting);
    BatchTable::provider(schema(kind), move || match alerting.upgrade() {
        Some(a) => batch(kind, &a),
        None => Ok(RecordBatch::new_empty(schema(kind))),
    })
}

fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn schema(kind: Kind) -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let t = |n: &str, null: bool| Field::new(n, time_type(), null);
    Arc::new(Schema::new(match kind {
        Kind::Alerts => vec![
            s("group_name"),
            s("rule"),
            s("kind"),
            s("alertname"),
            s("state"),
            s("labels"),
            s("annotations"),
            Field::new("value", DataType::Float64, false),
            t("active_at", false),
            t("fired_at", true),
            t("resolved_at", true),
            t("last_sent_at", true),
        ],
        Kind::History => vec![
            t("time", false),
            s("group_name"),
            s("rule"),
            s("labels"),
            s("from_state"),
            s("to_state"),
            Field::new("value", DataType::Float64, false),
        ],
    }))
}

fn ns(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.and_then(|t| t.timestamp_nanos_opt())
}

fn times(v: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(v).with_timezone("UTC"))
}

fn strings(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The rows of the `kind` table now.
fn batch(kind: Kind, a: &Alerting) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = match kind {
        Kind::Alerts => {
            let mut rows = Vec::new();
            for g in a.groups() {
                let st = g.status();
                for (r, s) in g.group().rules.iter().zip(st.rules) {
                    for al in s.alerts.alerts() {
                        rows.push((g.group().name.clone(), r.name.clone(), r.kind.name(), al.clone()));
                    }
                }
            }
            vec![
                strings(rows.iter().map(|r| r.0.clone()).collect()),
                strings(rows.iter().map(|r| r.1.clone()).collect()),
                strings(rows.iter().map(|r| r.2.to_string()).collect()),
                strings(rows.iter().map(|r| r.3.labels.get("alertname").cloned().unwrap_or_default()).collect()),
                strings(rows.iter().map(|r| r.3.state.as_str().to_string()).collect()),
                strings(rows.iter().map(|r| json(&r.3.labels)).collect()),
                strings(rows.iter().map(|r| json(&r.3.annotations)).collect()),
                Arc::new(Float64Array::from(rows.iter().map(|r| r.3.value).collect::<Vec<_>>())),
                times(rows.iter().map(|r| ns(Some(r.3.active_at))).collect()),
                times(rows.iter().map(|r| ns(r.3.fired_at)).collect()),
                times(rows.iter().map(|r| ns(r.3.resolved_at)).collect()),
                times(rows.iter().map(|r| ns(r.3.last_sent_at)).collect()),
            ]
        }
        Kind::History => {
            let h = a.evaluator().history().entries();
            vec![
                times(h.iter().map(|e| ns(Some(e.at))).collect()),
                strings(h.iter().map(|e| e.group.clone()).collect()),
                strings(h.iter().map(|e| e.rule.clone()).collect()),
                strings(h.iter().map(|e| json(&e.labels)).collect()),
                strings(h.iter().map(|e| e.from.as_str().to_string()).collect()),
                strings(h.iter().map(|e| e.to.as_str().to_string()).collect()),
                Arc::new(Float64Array::from(h.iter().map(|e| e.value).collect::<Vec<_>>())),
            ]
        }
    };
    Ok(RecordBatch::try_new(schema(kind), cols)?)
}
