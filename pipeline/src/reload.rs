//! Reload triggers: `POST /api/v1/pipelines/reload`, SIGHUP; and
//! `GET /api/v1/pipelines` (the counters as JSON).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::handle::{Loaded, Pipelines};

/// Reload on a blocking thread (the config file is read), logging the outcome.
pub async fn reload(pipelines: Arc<Pipelines>, trigger: &'static str) -> crate::Result<Loaded> {
    let result = match tokio::task::spawn_blocking(move || pipelines.reload()).await {
        Ok(r) => r,
        Err(e) => Err(crate::Error::Config(format!("reload task failed: {e}"))),
    };
    match &result {
        Ok(l) => tracing::info!(
            trigger,
            metrics = l.metrics,
            logs = l.logs,
            unchanged = l.unchanged,
            generation = l.generation,
            "pipelines reloaded"
        ),
        Err(e) => tracing::error!(trigger, error = %e, "pipelines not reloaded; the running ones stay"),
    }
    result
}

/// `POST /api/v1/pipelines/reload` and `GET /api/v1/pipelines`.
pub fn router(pipelines: Arc<Pipelines>) -> Router {
    Router::new()
        .route("/api/v1/pipelines/reload", post(reload_handler))
        .route("/api/v1/pipelines", get(list_handler))
        .with_state(pipelines)
}

async fn reload_handler(State(p): State<Arc<Pipelines>>) -> Response {
    match reload(p, "http").await {
        Ok(l) => (StatusCode::OK, Json(serde_json::json!({ "status": "reloaded", "loaded": l }))).into_response(),
        Err(e) => {
            let status = if e.is_invalid() { StatusCode::BAD_REQUEST } else { StatusCode::INTERNAL_SERVER_ERROR };
            (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    }
}

async fn list_handler(State(p): State<Arc<Pipelines>>) -> Json<serde_json::Value> {
    let rows: Vec<serde_json::Value> = p
        .stats()
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "signal": s.signal, "position": s.position, "name": s.name, "type": s.kind,
                "items_in": s.items_in, "items_out": s.items_out, "dropped": s.dropped,
                "refused": s.refused, "errors": s.errors,
                "delivered": s.delivery.map(|d| d.delivered),
                "undelivered": s.delivery.map(|d| d.undelivered),
                "queued_bytes": s.delivery.map(|d| d.queued_bytes),
            })
        })
        .collect();
    Json(serde_json::json!({ "processors": rows }))
}

/// Reload on every SIGHUP until the task is aborted.
pub fn reload_on_sighup(pipelines: Arc<Pipelines>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload pipelines with POST /api/v1/pipelines/reload");
                return;
            };
            while hup.recv().await.is_some() {
                let _ = reload(pipelines.clone(), "SIGHUP").await;
            }
        }
        #[cfg(not(unix))]
        drop(pipelines);
    })
}
