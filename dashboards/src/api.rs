//! HTTP routes: the UI (`/`, `/ui/*`), the dashboards API and `/metrics`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::assets;
use crate::provisioning::Dashboards;

/// The routes of this crate, serving `dashboards`.
pub fn router(dashboards: Arc<Dashboards>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*path}", get(asset))
        .route("/api/v1/dashboards", get(list))
        .route("/api/v1/dashboards/{uid}", get(one))
        .route("/metrics", get(metrics))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .with_state(dashboards)
}

async fn index() -> Response {
    serve(assets::get("index.html"))
}

async fn asset(Path(path): Path<String>) -> Response {
    serve(assets::get(&path))
}

fn serve(asset: Option<&'static assets::Asset>) -> Response {
    match asset {
        Some(a) => {
            ([(header::CONTENT_TYPE, a.content_type), (header::CACHE_CONTROL, "no-cache")], a.bytes).into_response()
        }
        None => not_found("no such file"),
    }
}

fn not_found(message: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

/// `{"dashboards": [{uid, title, description, tags, panels, source}], "errors": [...]}`.
async fn list(State(d): State<Arc<Dashboards>>) -> Json<serde_json::Value> {
    let items: Vec<serde_json::Value> = d
        .list()
        .into_iter()
        .map(|(d, source)| {
            json!({
                "uid": d.uid,
                "title": d.title,
                "description": d.description,
                "tags": d.tags,
                "panels": d.panels.len(),
                "source": source,
            })
        })
        .collect();
    Json(json!({ "dashboards": items, "errors": d.errors() }))
}

async fn one(State(d): State<Arc<Dashboards>>, Path(uid): Path<String>) -> Response {
    match d.get(&uid) {
        Some(dashboard) => Json(dashboard).into_response(),
        None => not_found(&format!("no dashboard with uid {uid:?}")),
    }
}

/// `{"status": "success", "data": {"version": ...}}`, as Prometheus answers it.
async fn buildinfo() -> Json<serde_json::Value> {
    Json(json!({ "status": "success", "data": { "version": env!("CARGO_PKG_VERSION") } }))
}

/// Prometheus text of every self-metric (collectors run on a blocking thread).
async fn metrics() -> Response {
    match tokio::task::spawn_blocking(|| tidewater_telemetry::prometheus::render(&tidewater_telemetry::gather())).await
    {
        Ok(text) => ([(header::CONTENT_TYPE, tidewater_telemetry::prometheus::CONTENT_TYPE)], text).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "gathering metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": "gathering metrics failed" }))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{to_bytes, Body};
    use http::Request;
    use tower::ServiceExt;

    async fn get_path(path: &str) -> (StatusCode, String, String) {
        let app = router(Arc::new(Dashboards::load(None).expect("dashboards")));
        let resp = app.oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("response");
        let status = resp.status();
        let ct = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = to_bytes(resp.into_body(), 1 << 24).await.expect("body");
        (status, ct, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn serves_the_ui_and_its_assets() {
        let (status, ct, body) = get_path("/").await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
        assert!(body.contains("/ui/js/app.js"), "{body}");
        let (status, ct, _) = get_path("/ui/js/chart.js").await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, "text/javascript; charset=utf-8"));
        assert_eq!(get_path("/ui/js/nope.js").await.0, StatusCode::NOT_FOUND);
        assert_eq!(get_path("/ui/../Cargo.toml").await.0, StatusCode::NOT_FOUND);
        let (status, _, body) = get_path("/api/v1/status/buildinfo").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(&format!("\"version\":\"{}\"", env!("CARGO_PKG_VERSION"))), "{body}");
    }

    #[tokio::test]
    async fn lists_and_gets_dashboards() {
        let (status, _, body) = get_path("/api/v1/dashboards").await;
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        let uids: Vec<&str> =
            v["dashboards"].as_array().expect("list").iter().filter_map(|d| d["uid"].as_str()).collect();
        assert_eq!(uids, ["logs-overview", "service-overview", "tidewater-self-monitoring"]);
        assert_eq!(v["dashboards"][1]["source"]["kind"], "builtin");
        let (status, _, body) = get_path("/api/v1/dashboards/service-overview").await;
        assert_eq!(status, StatusCode::OK);
        let d: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(d["title"], "Service overview");
        assert!(d["panels"].as_array().is_some_and(|p| p.len() >= 4));
        let (status, _, body) = get_path("/api/v1/dashboards/none").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("no dashboard with uid"), "{body}");
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        tidewater_telemetry::metrics::INGEST_POINTS.add(&["metrics"], 7);
        let (status, ct, body) = get_path("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        assert!(body.contains("# TYPE tidewater_ingest_points_total counter"), "{body}");
        assert!(body.contains("tidewater_ingest_points_total{signal=\"metrics\"} "), "{body}");
        assert!(body.contains("tidewater_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} "), "{body}");
    }
}
