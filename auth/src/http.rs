//! The HTTP side: one axum middleware in front of every route.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::authenticator::{Authenticator, Denied};
use crate::scope::Scope;

/// The scope a request to `path` needs; None for the public probes
/// (`/health`, `/ready`). Ingest paths need `write`, `…/reload` needs
/// `admin`, everything else (SQL, the UI, read APIs, `/metrics`, unknown
/// paths) `read`.
pub fn http_scope(path: &str) -> Option<Scope> {
    match path {
        "/health" | "/ready" => None,
        "/v1/metrics" | "/v1/logs" | "/api/v1/write" => Some(Scope::Write),
        p if p.ends_with("/reload") => Some(Scope::Admin),
        _ => Some(Scope::Read),
    }
}

/// `router` with every request authenticated by `auth` (the verified
/// [`crate::Principal`] goes into the request's extensions); None (auth
/// off) leaves the router as it is.
pub fn protect(router: Router, auth: Option<Arc<Authenticator>>) -> Router {
    match auth {
        Some(auth) => router.layer(axum::middleware::from_fn_with_state(auth, require)),
        None => router,
    }
}

async fn require(State(auth): State<Arc<Authenticator>>, mut req: Request, next: Next) -> Response {
    let Some(needed) = http_scope(req.uri().path()) else {
        return next.run(req).await;
    };
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match auth.authorize(value, needed).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(denied) => {
            tracing::debug!(path = %req.uri().path(), reason = %denied.message(), "http request refused");
            refusal(&denied)
        }
    }
}

/// 401 (with `WWW-Authenticate`, so a browser asks for user and token) or 403.
fn refusal(denied: &Denied) -> Response {
    let body = Json(serde_json_error(&denied.message()));
    if denied.is_unauthenticated() {
        let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
        let h = r.headers_mut();
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"tidewater\""));
        h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"tidewater\", charset=\"UTF-8\""));
        r
    } else {
        (StatusCode::FORBIDDEN, body).into_response()
    }
}

fn serde_json_error(message: &str) -> std::collections::BTreeMap<&'static str, String> {
    std::collections::BTreeMap::from([("error", message.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_scopes() {
        assert_eq!(http_scope("/health"), None);
        assert_eq!(http_scope("/ready"), None);
        assert_eq!(http_scope("/v1/metrics"), Some(Scope::Write));
        assert_eq!(http_scope("/v1/logs"), Some(Scope::Write));
        assert_eq!(http_scope("/api/v1/write"), Some(Scope::Write));
        assert_eq!(http_scope("/api/v1/sql"), Some(Scope::Read));
        assert_eq!(http_scope("/api/v1/rules/reload"), Some(Scope::Admin));
        assert_eq!(http_scope("/api/v1/pipelines/reload"), Some(Scope::Admin));
        assert_eq!(http_scope("/ui/app.js"), Some(Scope::Read));
        assert_eq!(http_scope("/no/such/path"), Some(Scope::Read));
    }
}
