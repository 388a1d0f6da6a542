//! `POST /api/v1/login` and `POST /api/v1/logout`: the UI's session cookie
//! (see [`crate::session`]). Both are public paths: login checks the token
//! itself, logout only clears the cookie.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::authenticator::{Authenticator, Denied};
use crate::scope::Scope;
use crate::session::{clear_cookie, decode, set_cookie};

/// The login path.
pub const LOGIN_PATH: &str = "/api/v1/login";
/// The logout path.
pub const LOGOUT_PATH: &str = "/api/v1/logout";
/// Longest token the login form takes (a cookie holds about 4 KiB).
const MAX_TOKEN_LEN: usize = 2048;

struct Login {
    auth: Arc<Authenticator>,
    secure: bool,
}

/// The two routes; `secure` adds `Secure` to the cookie (the port speaks TLS).
pub(crate) fn routes(auth: Arc<Authenticator>, secure: bool) -> Router {
    Router::new()
        .route(LOGIN_PATH, post(login))
        .route(LOGOUT_PATH, post(logout))
        .with_state(Arc::new(Login { auth, secure }))
}

/// The body: JSON `{"token": ...}` or a form `token=...` (`password` is
/// taken as well; a user name is ignored).
#[derive(Deserialize)]
struct Form {
    #[serde(default, alias = "password")]
    token: String,
}

fn token_from(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if json {
        return Json::<Form>::from_bytes(body).ok().map(|Json(f)| f.token);
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == "token" || *k == "password")
        .and_then(|(_, v)| decode(&v.replace('+', " ")))
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json_object("error", message))).into_response()
}

fn serde_json_object(key: &'static str, value: &str) -> std::collections::BTreeMap<&'static str, String> {
    std::collections::BTreeMap::from([(key, value.to_string())])
}

async fn login(State(l): State<Arc<Login>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = token_from(&headers, &body).map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else {
        return answer(StatusCode::BAD_REQUEST, "send the token as JSON {\"token\": ...} or a form field token=...");
    };
    if token.len() > MAX_TOKEN_LEN {
        return answer(StatusCode::BAD_REQUEST, "token too long for a cookie; use `Authorization: Bearer`");
    }
    match l.auth.check_secret(&token, Scope::Read).await {
        Ok(principal) => {
            tracing::debug!(token = %principal.name, "ui login");
            let mut r = Json(serde_json_object("token", &principal.name)).into_response();
            match HeaderValue::from_str(&set_cookie(&token, l.secure)) {
                Ok(v) => {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    r
                }
                Err(_) => answer(StatusCode::BAD_REQUEST, "the token cannot be stored in a cookie"),
            }
        }
        Err(denied) => {
            tracing::debug!(reason = %denied.message(), "ui login refused");
            let status = if denied.is_unauthenticated() { StatusCode::UNAUTHORIZED } else { StatusCode::FORBIDDEN };
            let message = match denied {
                Denied::Forbidden { .. } => denied.message(),
                _ => "invalid token".into(),
            };
            answer(status, &message)
        }
    }
}

async fn logout(State(l): State<Arc<Login>>) -> Response {
    let mut r = Json(serde_json_object("status", "logged out")).into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(l.secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn the_token_comes_from_json_or_a_form() {
        let json = ct("application/json");
        assert_eq!(token_from(&json, br#"{"token":"tw_a","username":"x"}"#).as_deref(), Some("tw_a"));
        assert_eq!(token_from(&json, br#"{"password":"tw_b"}"#).as_deref(), Some("tw_b"));
        assert_eq!(token_from(&json, b"token=tw_a"), None);
        let form = ct("application/x-www-form-urlencoded");
        assert_eq!(token_from(&form, b"username=me&token=tw_c%2B1+2").as_deref(), Some("tw_c+1 2"));
        assert_eq!(token_from(&form, b"user=me&password=tw_d").as_deref(), Some("tw_d"));
        assert_eq!(token_from(&HeaderMap::new(), b"nothing"), None);
    }
}
