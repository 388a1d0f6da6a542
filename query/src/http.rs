//! `/api/v1/sql`: SQL over HTTP.
//!
//! `POST` with `{"query": "...", "format": "json|csv|arrow"}` or a
//! `text/plain` body, or `GET ?query=...`; `?format=` chooses the encoding,
//! `timeout_ms` (JSON field or query parameter) shortens the timeout.
//! User mistakes get 400 with `{"error": "..."}`; our faults get 500.
//! Answers are streamed batch by batch (see `run` for errors mid-stream).

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use datafusion::arrow::array::RecordBatch;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tidewater_tenant::Tenant;

use crate::engine::{QueryEngine, QueryStream};
use crate::error::Error;
use crate::format::{Encoder, Format};

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

async fn sql_get(
    State(engine): State<QueryEngine>,
    tenant: Option<Extension<Tenant>>,
    Query(params): Query<Params>,
) -> Response {
    run(&engine, &tenant_of(tenant), params.query, params.format, params.timeout_ms).await
}

/// The tenant the auth layer put on the request; the default one when auth is off.
fn tenant_of(tenant: Option<Extension<Tenant>>) -> Tenant {
    tenant.map(|Extension(t)| t).unwrap_or_default()
}

async fn sql_post(
    State(engine): State<QueryEngine>,
    tenant: Option<Extension<Tenant>>,
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
    let tenant = tenant_of(tenant);
    run(&engine, &tenant, query.or(params.query), params.format.or(fmt), params.timeout_ms.or(timeout)).await
}

/// Admit, run and stream the answer. If the client goes away, axum drops
/// this future (or the body stream), which aborts the query.
///
/// The status is chosen once the first batch, the end or an error is known:
/// errors up to then get their own status (400, 408, 429, 500). Later the
/// answer is already 200: a JSON answer then ends with an `"error"` member,
/// a CSV or Arrow answer is cut (the client sees an incomplete body).
async fn run(
    engine: &QueryEngine,
    tenant: &Tenant,
    query: Option<String>,
    fmt: Option<String>,
    timeout_ms: Option<u64>,
) -> Response {
    let Some(query) = query.filter(|q| !q.trim().is_empty()) else {
        return error(&Error::BadRequest("missing query: send {\"query\": \"SELECT ...\"}".into()));
    };
    let fmt = fmt.unwrap_or_else(|| "json".into());
    let Some(format) = Format::parse(&fmt) else {
        return error(&Error::BadRequest(format!("unknown format {fmt:?}; use json, csv or arrow")));
    };
    let timeout = timeout_ms.map(std::time::Duration::from_millis);
    let admission = match engine.admit_as(tenant, &query, timeout) {
        Ok(a) => a,
        Err(e) => return error(&e),
    };
    let mut stream = match engine.run_sql(admission, &query).await {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    let first = match stream.next().await {
        Some(Err(e)) => return error(&e),
        first => first.and_then(Result::ok),
    };
    let encoder = match Encoder::new(format, stream.schema()) {
        Ok(e) => e,
        Err(e) => return error(&Error::DataFusion(e.into())),
    };
    let body = Body::from_stream(chunks(encoder, first, stream));
    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
}

/// The encoded answer, one chunk per batch.
fn chunks(
    encoder: Encoder,
    first: Option<RecordBatch>,
    rest: QueryStream,
) -> impl Stream<Item = Result<Bytes, Error>> + Send + 'static {
    /// Where the answer is: the first batch (None: the result was empty)
    /// not yet encoded, the rest of the stream, or the end.
    enum Next {
        First(Option<RecordBatch>),
        Rest,
        Done,
    }
    futures::stream::unfold((encoder, rest, Next::First(first)), |(mut encoder, mut rest, mut next)| async move {
        loop {
            let item = match next {
                Next::Done => return None,
                Next::First(batch) => Ok(batch),
                Next::Rest => rest.next().await.transpose(),
            };
            let (chunk, after) = match item {
                Ok(Some(batch)) => match encoder.batch(&batch) {
                    Ok(bytes) => (Ok(bytes), Next::Rest),
                    Err(e) => (failed(&mut encoder, Error::DataFusion(e.into())), Next::Done),
                },
                Ok(None) => (encoder.finish().map_err(|e| Error::DataFusion(e.into())), Next::Done),
                Err(e) => (failed(&mut encoder, e), Next::Done),
            };
            next = after;
            match chunk {
                // An empty chunk could read as the end of a chunked body.
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Some((Ok(Bytes::from(bytes)), (encoder, rest, next))),
                Err(e) => return Some((Err(e), (encoder, rest, Next::Done))),
            }
        }
    })
}

/// The end of an answer cut by `e` after its status was sent: a JSON
/// `"error"` member, or (CSV, Arrow) the error itself, which cuts the body.
fn failed(encoder: &mut Encoder, e: Error) -> Result<Vec<u8>, Error> {
    let (_, message) = describe(&e);
    tracing::info!(error = %e, "query failed while its answer was streaming");
    encoder.fail(&message).ok_or(e)
}

/// The status and client-facing message of an error.
fn describe(e: &Error) -> (StatusCode, String) {
    let status = e.http_status();
    let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "query failed");
        format!("internal error: {e}")
    } else {
        e.to_string()
    };
    (status, message)
}

fn error(e: &Error) -> Response {
    let (status, message) = describe(e);
    let mut response = (status, Json(json!({ "error": message }))).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}
