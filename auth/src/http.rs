//! The HTTP side: one axum middleware in front of every route.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

use crate::authenticator::{Authenticator, Denied};
use crate::login::{LOGIN_PATH, LOGOUT_PATH};
use crate::scope::Scope;
use crate::session::{cookie_request_allowed, secret_from_cookies, UI_HEADER, UI_HEADER_VALUE};

/// The scope a request to `path` needs; None for the public paths: the
/// probes (`/health`, `/ready`), the UI's page and files (`/`, `/ui/*`: the
/// same for everyone, no data in them) and the UI's login and logout.
/// Ingest paths need `write`, `…/reload` needs `admin`, everything else
/// (SQL, read APIs, `/metrics`, unknown paths) `read`.
pub fn http_scope(path: &str) -> Option<Scope> {
    match path {
        "/health" | "/ready" | "/" | LOGIN_PATH | LOGOUT_PATH => None,
        p if p.starts_with("/ui/") => None,
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
/// request's extensions), and the UI's `POST /api/v1/login` and
/// `/api/v1/logout` added (their cookie is `Secure` when `tls`: the port
/// speaks TLS only). None (auth off) leaves the router as it is, and every
/// request acts for the default tenant.
pub fn protect(router: Router, auth: Option<Arc<Authenticator>>, tls: bool) -> Router {
    match auth {
        Some(auth) => router
            .merge(crate::login::routes(auth.clone(), tls))
            .layer(axum::middleware::from_fn_with_state(auth, require)),
        None => router,
    }
}

/// The credential of a request: its `Authorization` header, else the UI's
/// session cookie. Never logged.
enum Credential {
    Header(String),
    Cookie(String),
    None,
}

fn credential(req: &Request) -> Credential {
    match req.headers().get(header::AUTHORIZATION) {
        Some(v) => Credential::Header(v.to_str().unwrap_or_default().to_string()),
        None => secret_from_cookies(req.headers()).map_or(Credential::None, Credential::Cookie),
    }
}

async fn require(State(auth): State<Arc<Authenticator>>, mut req: Request, next: Next) -> Response {
    let credential = credential(&req);
    let path = req.uri().path().to_string();
    if matches!(credential, Credential::Cookie(_))
        && path != LOGIN_PATH
        && !cookie_request_allowed(req.method(), req.headers())
    {
        tracing::debug!(%path, method = %req.method(), "cookie-only request from another origin refused");
        let message = "a request carrying only the session cookie must come from the UI's own origin";
        return (StatusCode::FORBIDDEN, Json(serde_json_error(message))).into_response();
    }
    let Some(needed) = http_scope(&path) else {
        return next.run(req).await;
    };
    let asked = req.headers().get(TENANT_HEADER).and_then(|v| v.to_str().ok());
    let outcome = match &credential {
        Credential::Header(value) => auth.authorize_tenant(Some(value), needed, asked).await,
        Credential::Cookie(secret) => auth.check_secret_tenant(secret, needed, asked).await,
        Credential::None => Err(Denied::Missing),
    };
    match outcome {
        Ok((principal, tenant)) if !tenant.is_default() && server_wide(&path) => {
            tracing::debug!(%path, token = %principal.name, "server-wide path refused to a tenant");
            let message = format!("{path} shows server-wide state; only the default tenant may read it");
            (StatusCode::FORBIDDEN, Json(serde_json_error(&message))).into_response()
        }
        Ok((principal, tenant)) => {
            req.extensions_mut().insert(principal);
            req.extensions_mut().insert(tenant);
            next.run(req).await
        }
        Err(denied) => {
            tracing::debug!(%path, reason = %denied.message(), "http request refused");
            let from_ui = req.headers().get(UI_HEADER).is_some_and(|v| v.as_bytes() == UI_HEADER_VALUE.as_bytes());
            refusal(&denied, !from_ui)
        }
    }
}

/// 401 or 403. A 401 carries `WWW-Authenticate` (so API clients, and a
/// browser, know to send a token) when `challenge`; the UI's own calls get
/// none, so the browser shows no dialog and the UI its login form.
fn refusal(denied: &Denied, challenge: bool) -> Response {
    let body = Json(serde_json_error(&denied.message()));
    if denied.is_unauthenticated() {
        let mut r = (StatusCode::UNAUTHORIZED, body).into_response();
        if challenge {
            let h = r.headers_mut();
            h.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"tidewater\""));
            h.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tidewater\", charset=\"UTF-8\""),
            );
        }
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
        assert_eq!(http_scope("/"), None, "the UI's page is public");
        assert_eq!(http_scope("/ui/js/app.js"), None, "so are its files");
        assert_eq!(http_scope("/api/v1/login"), None);
        assert_eq!(http_scope("/api/v1/logout"), None);
        assert_eq!(http_scope("/ui"), Some(Scope::Read));
        assert_eq!(http_scope("/uix/a.js"), Some(Scope::Read));
        assert_eq!(http_scope("/api/v1/dashboards"), Some(Scope::Read));
        assert_eq!(http_scope("/no/such/path"), Some(Scope::Read));
    }

    #[test]
    fn server_wide_paths_are_known() {
        for p in
            ["/metrics", "/api/v1/rules", "/api/v1/rules/reload", "/api/v1/alerts", "/api/v1/slos", "/api/v1/pipelines"]
        {
            assert!(server_wide(p), "{p}");
        }
        for p in ["/api/v1/sql", "/", "/ui/app.js", "/api/v1/dashboards", "/api/v1/rulesx", "/v1/metrics"] {
            assert!(!server_wide(p), "{p}");
        }
    }

    mod middleware {
        use axum::body::Body;
        use axum::http::Request;
        use axum::routing::get;
        use tower::ServiceExt;

        use super::*;
        use crate::config::TokenConfig;
        use crate::hash::hash_token;

        fn app() -> Router {
            let token = TokenConfig {
                name: "reader".into(),
                hash: hash_token("tw_r").expect("hash"),
                scopes: vec![Scope::Read],
                tenant: "default".into(),
                tenants: Vec::new(),
            };
            let auth = Arc::new(Authenticator::new(vec![token]).expect("authenticator"));
            let routes = Router::new().route("/api/v1/sql", get(|| async { "rows" }).post(|| async { "rows" }));
            protect(routes, Some(auth), false)
        }

        async fn call(req: Request<Body>) -> Response {
            app().oneshot(req).await.expect("infallible")
        }

        fn req(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
            let mut b = Request::builder().method(method).uri(path).header("host", "tw:4318");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(Body::from(body.to_string())).expect("request")
        }

        #[tokio::test]
        async fn the_cookie_authenticates_and_cross_origin_writes_are_refused() {
            let cookie = ("cookie", "tidewater_session=tw_r");
            assert_eq!(call(req("GET", "/api/v1/sql", &[cookie], "")).await.status(), StatusCode::OK);
            let same = [cookie, ("origin", "http://tw:4318")];
            assert_eq!(call(req("POST", "/api/v1/sql", &same, "")).await.status(), StatusCode::OK);
            let cross = [cookie, ("origin", "http://evil.example")];
            assert_eq!(call(req("POST", "/api/v1/sql", &cross, "")).await.status(), StatusCode::FORBIDDEN);
            assert_eq!(call(req("POST", "/api/v1/sql", &[cookie], "")).await.status(), StatusCode::FORBIDDEN);
            // A header wins over the cookie, and is not subject to the origin rule.
            let bearer = [cookie, ("authorization", "Bearer tw_r"), ("origin", "http://evil.example")];
            assert_eq!(call(req("POST", "/api/v1/sql", &bearer, "")).await.status(), StatusCode::OK);
            let wrong = [("cookie", "tidewater_session=tw_nope")];
            assert_eq!(call(req("GET", "/api/v1/sql", &wrong, "")).await.status(), StatusCode::UNAUTHORIZED);
        }

        #[tokio::test]
        async fn the_ui_gets_a_401_without_a_challenge() {
            let api = call(req("GET", "/api/v1/sql", &[], "")).await;
            assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(api.headers().get_all(header::WWW_AUTHENTICATE).iter().count(), 2);
            let ui = call(req("GET", "/api/v1/sql", &[("x-requested-with", "tidewater-ui")], "")).await;
            assert_eq!(ui.status(), StatusCode::UNAUTHORIZED);
            assert!(ui.headers().get(header::WWW_AUTHENTICATE).is_none());
        }

        #[tokio::test]
        async fn login_sets_and_logout_clears_the_cookie() {
            let json = [("content-type", "application/json")];
            let ok = call(req("POST", "/api/v1/login", &json, r#"{"token":"tw_r"}"#)).await;
            assert_eq!(ok.status(), StatusCode::OK);
            let set = ok.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert_eq!(set, "tidewater_session=tw_r; HttpOnly; SameSite=Strict; Path=/");
            let form = [("content-type", "application/x-www-form-urlencoded")];
            assert_eq!(call(req("POST", "/api/v1/login", &form, "user=x&token=tw_r")).await.status(), StatusCode::OK);
            let bad = call(req("POST", "/api/v1/login", &json, r#"{"token":"tw_bad"}"#)).await;
            assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
            assert!(bad.headers().get(header::SET_COOKIE).is_none());
            assert!(bad.headers().get(header::WWW_AUTHENTICATE).is_none());
            assert_eq!(call(req("POST", "/api/v1/login", &json, "{}")).await.status(), StatusCode::BAD_REQUEST);
            let out = call(req("POST", "/api/v1/logout", &[("origin", "http://tw:4318")], "")).await;
            assert_eq!(out.status(), StatusCode::OK);
            let set = out.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(set.starts_with("tidewater_session=;") && set.contains("Max-Age=0"), "{set}");
        }
    }
}
