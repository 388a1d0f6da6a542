//! HTTP API in the Prometheus shape: `GET /api/v1/rules`, `GET
//! /api/v1/alerts`, `GET /api/v1/slos`, `POST /api/v1/rules/reload`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::error::Error;
use crate::eval::alert::{Alert, AlertState};
use crate::manager::Alerting;
use crate::rules::RuleKind;

/// The alerting routes.
pub fn router(alerting: Arc<Alerting>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/slos", get(slos))
        .route("/api/v1/rules/reload", post(reload))
        .with_state(alerting)
}

fn ts(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(json!("0001-01-01T00:00:00Z"), |t| json!(t.to_rfc3339_opts(SecondsFormat::Nanos, true)))
}

fn success(data: Value) -> Json<Value> {
    Json(json!({"status": "success", "data": data}))
}

/// An alert as the Prometheus API shows it (resolved ones are left out).
fn alert_json(a: &Alert) -> Value {
    json!({
        "labels": a.labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": ts(Some(a.active_at)),
        "keepFiringSince": a.keep_firing_since.map(|t| ts(Some(t))),
        "value": crate::rules::template::format_value(a.value),
    })
}

async fn rules(State(a): State<Arc<Alerting>>) -> Json<Value> {
    let groups: Vec<Value> = a
        .groups()
        .iter()
        .map(|g| {
            let status = g.status();
            let group = g.group();
            let rules: Vec<Value> = group
                .rules
                .iter()
                .zip(&status.rules)
                .map(|(r, s)| {
                    let active: Vec<&Alert> = s.alerts.alerts().filter(|x| x.state != AlertState::Inactive).collect();
                    let state = if active.iter().any(|x| x.state == AlertState::Firing) {
                        "firing"
                    } else if active.is_empty() {
                        "inactive"
                    } else {
                        "pending"
                    };
                    let query = r.kind.queries().iter().map(|(_, q)| *q).collect::<Vec<_>>().join("\n;\n");
                    json!({
                        "state": state,
                        "name": r.name,
                        "query": query,
                        "duration": r.for_.as_secs_f64(),
                        "keepFiringFor": r.keep_firing_for.as_secs_f64(),
                        "labels": templates_json(&r.labels),
                        "annotations": templates_json(&r.annotations),
                        "alerts": active.iter().map(|x| alert_json(x)).collect::<Vec<_>>(),
                        "health": s.health.as_str(),
                        "lastError": s.last_error.clone().unwrap_or_default(),
                        "type": "alerting",
                        "kind": r.kind.name(),
                        "lastEvaluation": ts(s.last_evaluation),
                        "evaluationTime": s.evaluation_time.as_secs_f64(),
                    })
                })
                .collect();
            json!({
                "name": group.name,
                "file": group.file.display().to_string(),
                "interval": group.interval.as_secs_f64(),
                "limit": group.limit,
                "rules": rules,
                "lastEvaluation": ts(status.last_evaluation),
                "evaluationTime": status.evaluation_time.as_secs_f64(),
                "iterationsMissed": status.iterations_missed,
            })
        })
        .collect();
    success(json!({ "groups": groups }))
}

/// Labels or annotations of a rule as written (templates unrendered).
fn templates_json(t: &crate::rules::template::Templates) -> Value {
    json!(t.iter().map(|(k, v)| (k.clone(), v.source().to_string())).collect::<std::collections::BTreeMap<_, _>>())
}

async fn alerts(State(a): State<Arc<Alerting>>) -> Json<Value> {
    let list: Vec<Value> = a
        .groups()
        .iter()
        .flat_map(|g| {
            g.status()
                .rules
                .iter()
                .flat_map(|r| {
                    r.alerts.alerts().filter(|x| x.state != AlertState::Inactive).map(alert_json).collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    success(json!({ "alerts": list }))
}

async fn slos(State(a): State<Arc<Alerting>>) -> Json<Value> {
    let mut out = Vec::new();
    for g in a.groups() {
        let status = g.status();
        for (r, s) in g.group().rules.iter().zip(&status.rules) {
            if let RuleKind::Slo(spec) = &r.kind {
                out.push(json!({
                    "name": spec.slo,
                    "service": spec.service,
                    "group": g.group().name,
                    "objective": spec.objective,
                    "window": crate::duration::format(spec.window),
                    "health": s.health.as_str(),
                    "lastError": s.last_error.clone().unwrap_or_default(),
                    "status": s.slo,
                }));
            }
        }
    }
    success(json!({ "slos": out }))
}

async fn reload(State(a): State<Arc<Alerting>>) -> impl IntoResponse {
    match a.reload().await {
        Ok(n) => (StatusCode::OK, success(json!({ "groups": n, "warnings": a.reload_status().warnings }))),
        Err(Error::Rules(errors)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "status": "error",
                "errorType": "bad_data",
                "error": format!("{} rule file error(s)", errors.len()),
                "errors": errors,
            })),
        ),
        Err(e) => {
            (StatusCode::BAD_REQUEST, Json(json!({"status": "error", "errorType": "bad_data", "error": e.to_string()})))
        }
    }
}
