//! `/api/v1/sql`: SQL over HTTP.
//!
//! `POST` with `{"query": "...", "format": "json|csv|arrow"}` or a
//! `text/plain` body, or `GET ?query=...`; `?format=` chooses the encoding,
//! `timeout_ms` (JSON field or query parameter) shortens the timeout.
//! User mistakes get 400 with `{"error": "..."}`; our faults get 500.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::engine::QueryEngine;
use crate::error::Error;
use crate::format;

#[derive(Debug, Default, Deserialize)]
struct Params {
    query: Option<String>,
    format: Option<String>,
    /// Per-request timeout in milliseconds (capped by the server's).
    timeout_ms: Option<u64>,
}

/// Routes for the SQL API.
pub fn router(engine: QueryEngine) -> Router {
    Router::new().route("/api/v1/sql", get(sql_get).post(sql_post)).with_state(engine)
}

async fn sql_get(State(engine): State<QueryEngine>, Query(params): Query<Params>) -> Response {
    run(&engine, params.query, params.format, params.timeout_ms).await
}

async fn sql_post(
    State(engine): State<QueryEngine>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (query, fmt, timeout) = if ct.starts_with("application/json") {
        match serde_json::from_slice::<Params>(&body) {
            Ok(p) => (p.query, p.format, p.timeout_ms),
            Err(e) => return error(&Error::BadRequest(format!("invalid JSON body: {e}"))),
        }
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(s) if !s.trim().is_empty() => (Some(s), None, None),
            Ok(_) => (None, None, None),
            Err(_) => return error(&Error::BadRequest("query is not valid UTF-8".into())),
        }
    };
    run(&engine, query.or(params.query), params.format.or(fmt), params.timeout_ms.or(timeout)).await
}

/// Run and encode. If the client goes away, axum drops this future, which
/// aborts the query (see `QueryEngine::execute_with`).
async fn run(engine: &QueryEngine, query: Option<String>, fmt: Option<String>, timeout_ms: Option<u64>) -> Response {
    let Some(query) = query.filter(|q| !q.trim().is_empty()) else {
        return error(&Error::BadRequest("missing query: send {\"query\": \"SELECT ...\"}".into()));
    };
    let fmt = fmt.unwrap_or_else(|| "json".into()).to_ascii_lowercase();
    if !matches!(fmt.as_str(), "json" | "csv" | "arrow") {
        return error(&Error::BadRequest(format!("unknown format {fmt:?}; use json, csv or arrow")));
    }
    let timeout = timeout_ms.map(std::time::Duration::from_millis);
    let result = match engine.execute_with(&query, timeout).await {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    let (ct, encoded) = match fmt.as_str() {
        "csv" => ("text/csv", format::to_csv(&result.schema, &result.batches)),
        "arrow" => ("application/vnd.apache.arrow.stream", format::to_arrow(&result.schema, &result.batches)),
        _ => ("application/json", format::to_json(&result.schema, &result.batches)),
    };
    match encoded {
        Ok(body) => ([(header::CONTENT_TYPE, ct)], body).into_response(),
        Err(e) => error(&Error::DataFusion(e.into())),
    }
}

fn error(e: &Error) -> Response {
    let status = e.http_status();
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "query failed");
        format!("internal error: {e}")
    } else {
        e.to_string()
    };
    (status, Json(json!({ "error": message }))).into_response()
}
