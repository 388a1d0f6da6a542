//! The UI's session cookie and the CSRF rule that goes with it.
//!
//! `POST /api/v1/login` stores the token itself in the `tidewater_session`
//! cookie (`HttpOnly; SameSite=Strict; Path=/`, plus `Secure` when the HTTP
//! port speaks TLS); the HTTP middleware takes it as the credential when a
//! request has no `Authorization` header. A browser sends a cookie on its
//! own, so a state-changing request (any method but GET, HEAD, OPTIONS,
//! TRACE) that has only the cookie must show it comes from the UI's own
//! origin ([`cookie_request_allowed`]). The value is never logged.

use axum::http::{header, HeaderMap, Method};

/// The cookie's name.
pub const COOKIE_NAME: &str = "tidewater_session";

/// The header the UI sends with its API calls, so a 401 comes without a
/// `WWW-Authenticate` challenge (which would make the browser show its own
/// basic-auth dialog) and the UI shows its login form instead.
pub const UI_HEADER: &str = "x-requested-with";
/// The value of [`UI_HEADER`] the UI sends.
pub const UI_HEADER_VALUE: &str = "tidewater-ui";

/// The secret in the first non-empty `tidewater_session` cookie of the
/// request's `Cookie` headers, decoded; None when there is none.
pub fn secret_from_cookies(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| name.trim() == COOKIE_NAME)
        .find_map(|(_, value)| decode(value.trim().trim_matches('"')).filter(|s| !s.is_empty()))
}

/// The `Set-Cookie` value that stores `secret` for the session (no expiry:
/// the browser drops it when it closes).
pub fn set_cookie(secret: &str, secure: bool) -> String {
    format!("{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/{}", encode(secret), secure_attr(secure))
}

/// The `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}", secure_attr(secure))
}

fn secure_attr(secure: bool) -> &'static str {
    if secure {
        "; Secure"
    } else {
        ""
    }
}

/// Whether a request authenticated by the cookie alone may go on: safe
/// methods always; others only when the browser says the request comes from
/// the same origin: `Sec-Fetch-Site: same-origin` when the header is there,
/// else an `Origin` whose host (and port) is the request's `Host`.
pub fn cookie_request_allowed(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE) {
        return true;
    }
    same_origin(headers)
}

fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = text("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin");
    }
    let (Some(origin), Some(host)) = (text(header::ORIGIN.as_str()), text(header::HOST.as_str())) else {
        return false;
    };
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| !a.is_empty() && a.eq_ignore_ascii_case(host))
}

/// Bytes a cookie value may hold as they are (RFC 6265 `cookie-octet`),
/// less `%`, which starts an escape.
fn plain(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x24 | 0x26..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// Percent-encode the bytes a cookie value cannot hold (a `tw_` token has
/// none, so it is stored as it is).
fn encode(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len());
    for b in secret.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undo [`encode`] (also used for form bodies, with `+` left as it is).
pub(crate) fn decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header value"));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; tidewater_session=tw_abc-DEF_1; b=2")]);
        assert_eq!(secret_from_cookies(&h).as_deref(), Some("tw_abc-DEF_1"));
        let h = headers(&[("cookie", "a=1"), ("cookie", "tidewater_session=\"tw_x\"")]);
        assert_eq!(secret_from_cookies(&h).as_deref(), Some("tw_x"), "several Cookie headers; quoted value");
        let h = headers(&[("cookie", "tidewater_session=; tidewater_session=tw_y")]);
        assert_eq!(secret_from_cookies(&h).as_deref(), Some("tw_y"), "an empty one is skipped");
        for none in ["", "a=1", "tidewater_sessionx=tw_z", "xtidewater_session=tw_z", "tidewater_session=%zz"] {
            assert_eq!(secret_from_cookies(&headers(&[("cookie", none)])), None, "{none:?}");
        }
        assert_eq!(secret_from_cookies(&HeaderMap::new()), None);
    }

    #[test]
    fn set_cookie_has_the_attributes_and_round_trips_any_token() {
        assert_eq!(set_cookie("tw_abc", false), "tidewater_session=tw_abc; HttpOnly; SameSite=Strict; Path=/");
        assert!(set_cookie("tw_abc", true).ends_with("; Path=/; Secure"));
        assert_eq!(clear_cookie(false), "tidewater_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
        for token in ["tw_abc", "with space;comma,quote\"back\\slash", "100%", "ünï", "a+b/c="] {
            let cookie = set_cookie(token, false);
            let value = cookie.split(';').next().expect("pair");
            assert!(value.bytes().all(|b| b.is_ascii_graphic()), "{value}");
            let h = headers(&[("cookie", value)]);
            assert_eq!(secret_from_cookies(&h).as_deref(), Some(token));
        }
    }

    #[test]
    fn state_changing_cookie_requests_need_the_same_origin() {
        let host = ("host", "127.0.0.1:4318");
        let allowed = |m: Method, h: &[(&'static str, &str)]| cookie_request_allowed(&m, &headers(h));
        // Reading is always allowed (SameSite=Strict keeps cross-site reads cookie-less anyway).
        assert!(allowed(Method::GET, &[host]));
        assert!(allowed(Method::HEAD, &[host, ("origin", "https://evil.example")]));
        // Writing needs proof of the same origin.
        assert!(allowed(Method::POST, &[host, ("origin", "http://127.0.0.1:4318")]));
        assert!(allowed(Method::PUT, &[host, ("origin", "https://127.0.0.1:4318")]));
        assert!(allowed(Method::DELETE, &[host, ("sec-fetch-site", "same-origin")]));
        assert!(!allowed(Method::POST, &[host]), "no Origin, no Sec-Fetch-Site");
        assert!(!allowed(Method::POST, &[host, ("origin", "https://evil.example")]));
        assert!(!allowed(Method::POST, &[host, ("origin", "http://127.0.0.1:4319")]), "another port");
        assert!(!allowed(Method::POST, &[host, ("origin", "null")]));
        assert!(!allowed(Method::POST, &[("origin", "http://127.0.0.1:4318")]), "no Host");
        for site in ["cross-site", "same-site", "none"] {
            let h = [host, ("origin", "http://127.0.0.1:4318"), ("sec-fetch-site", site)];
            assert!(!allowed(Method::POST, &h), "Sec-Fetch-Site: {site} decides");
        }
    }
}
