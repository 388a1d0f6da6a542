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

/// Whether `path` shows server-wide state rather than one tenant's data:
/// `/metrics` (every tenant's table names are in its labels), the alerting
/// APIs (rules and alerts run for the default tenant) and the pipeline
/// APIs. Only requests acting for the default tenant may use them.
pub fn server_wide(path: &str) -> bool {
    path == "/metrics"
        || ["/api/v1/rules", "/api/v1/alerts", "/api/v1/slos", "/api/v1/pipelines"]
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|rest| rest.starts_with('/')))
}

/// The header naming the tenant a request acts for (as in Mimir, Loki,
/// Cortex), honoured when the token may act for it.
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// `router` with every request authenticated by `auth` (the verified
/// [`crate::Principal`] and the [`tidewater_tenant::Tenant`] it acts for go into the
/// request's extensions); None (auth off) leaves the router as it is, and
/// every request acts for the default tenant.
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
    let asked = req.headers().get(TENANT_HEADER).and_then(|v| v.to_str().ok());
    match auth.authorize_tenant(value, needed, asked).await {
        Ok((principal, tenant)) if !tenant.is_default() && server_wide(req.uri().path()) => {
            tracing::debug!(path = %req.uri().path(), token = %principal.name, "server-wide path refused to a tenant");
            let message = format!("{} shows server-wide state; only the default tenant may read it", req.uri().path());
            (StatusCode::FORBIDDEN, Json(serde_json_error(&message))).into_response()
        }
        Ok((principal, tenant)) => {
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(tenant);
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

    #[test]
    fn server_wide_paths_are_known() {
        for p in ["/metrics", "/api/v1/rules", "/api/v1/rules/reload", "/api/v1/alerts", "/api/v1/slos", "/api/v1/pipelines"] {
            assert!(server_wide(p), "{p}");
        }
        for p in ["/api/v1/sql", "/", "/ui/app.js", "/api/v1/dashboards", "/api/v1/rulesx", "/v1/metrics"] {
            assert!(!server_wide(p), "{p}");
        }
    }
}
