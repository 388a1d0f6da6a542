//! A real store with request counters, an evaluator on a manual clock, and a
//! local HTTP listener that records what it receives.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use datafusion::arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringDictionaryBuilder, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{Field, Int32Type, Schema};
use tidewater_alerting::clock::ManualClock;
use tidewater_alerting::eval::alert::Alert;
use tidewater_alerting::eval::{AlertSink, EvalConfig, Evaluator};
use tidewater_alerting::history::History;
use tidewater_alerting::rules::LoadOptions;
use tidewater_alerting::state::StateDir;
use tidewater_alerting::Alerting;
use tidewater_query::{QueryConfig, QueryEngine};
use tidewater_storage::schema::META_KIND;
use tidewater_storage::{Store, StoreConfig, TableWrite};

/// Minute `m` after the test epoch.
pub fn at(m: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_750_000_000 + m * 60, 0).single().expect("time")
}

/// A store in `dir` and an engine over it.
pub async fn engine(dir: &Path) -> (Arc<Store>, QueryEngine) {
    let store = Store::open_async(StoreConfig::new(dir)).await.expect("store");
    (store.clone(), QueryEngine::new(store, QueryConfig::default()).expect("engine"))
}

/// Write `http_requests` points: (minute, status, count).
pub async fn requests(store: &Store, points: &[(i64, &str, f64)]) {
    let times: Vec<i64> = points.iter().map(|(m, _, _)| at(*m).timestamp_nanos_opt().expect("ns")).collect();
    let mut status = StringDictionaryBuilder::<Int32Type>::new();
    for (_, s, _) in points {
        status.append_value(s);
    }
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("time", Arc::new(TimestampNanosecondArray::from(times).with_timezone("UTC"))),
        ("value", Arc::new(Float64Array::from(points.iter().map(|p| p.2).collect::<Vec<_>>()))),
        ("status", Arc::new(status.finish())),
    ];
    let fields: Vec<Field> = cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    let meta = HashMap::from([(META_KIND.to_string(), "sum".to_string())]);
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, meta)),
        cols.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("batch");
    let out = store.write(vec![TableWrite { table: "http_requests".into(), batch }]).await.expect("write");
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
}

/// Collects what the evaluator sends.
#[derive(Debug, Default)]
pub struct Capture(pub Mutex<Vec<Alert>>);

impl AlertSink for Capture {
    fn send(&self, alerts: Vec<Alert>) {
        self.0.lock().expect("lock").extend(alerts);
    }
}

impl Capture {
    /// Take what was sent so far: (alertname, state).
    pub fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().expect("lock"))
            .into_iter()
            .map(|a| (a.labels["alertname"].clone(), a.state.as_str().to_string()))
            .collect()
    }
}

/// Alerting over `engine` with rules from `rules_dir`, state in `state_dir`,
/// clock `clock`, sending to `sink`.
pub fn alerting(
    engine: &QueryEngine,
    rules_dir: &Path,
    state_dir: &Path,
    clock: &ManualClock,
    sink: Arc<Capture>,
) -> Arc<Alerting> {
    let ev = Evaluator::new(
        Arc::new(engine.clone()),
        Arc::new(clock.clone()),
        Some(StateDir::new(state_dir)),
        Arc::new(History::new(1000)),
        Some(sink as Arc<dyn AlertSink>),
        EvalConfig::default(),
    );
    Alerting::new(
        Arc::new(ev),
        Some(rules_dir.to_path_buf()),
        LoadOptions::default(),
        Some(Arc::new(engine.clone())),
        None,
    )
}

/// `(alertname-ish key, state)` of every alert instance of every group.
pub fn states(a: &Alerting) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for g in a.groups() {
        for r in g.status().rules {
            for al in r.alerts.alerts() {
                let key = al
                    .labels
                    .iter()
                    .filter(|(k, _)| *k != "alertname")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                out.push((format!("{}{{{key}}}", al.labels["alertname"]), al.state.as_str().to_string()));
            }
        }
    }
    out
}
