//! The UI's login with a session cookie (`POST /api/v1/login`, `/logout`)
//! and its CSRF rule, with reqwest; then the whole flow in headless
//! Chromium: the login form, a wrong and a right token, an Explore result,
//! signing out.

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::{json, Value};

use crate::auth::start;
use crate::server::Server;
use crate::webdriver::Browser;

fn login(server: &Server, body: Value) -> Response {
    Client::new().post(format!("{}/api/v1/login", server.url())).json(&body).send().expect("login")
}

fn set_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn sql(server: &Server) -> RequestBuilder {
    Client::new().post(format!("{}/api/v1/sql", server.url())).json(&json!({ "query": "SELECT 42 AS answer" }))
}

#[test]
fn login_sets_an_http_only_cookie_that_queries_and_logout_clears_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    let origin = server.url();

    // A read token: the token itself in an HttpOnly, SameSite=Strict cookie (no TLS: no Secure).
    let ok = login(&server, json!({ "username": "ignored", "token": t.read }));
    assert_eq!(ok.status().as_u16(), 200);
    let cookie = set_cookie(ok.headers()).expect("Set-Cookie");
    assert_eq!(cookie, format!("tidewater_session={}; HttpOnly; SameSite=Strict; Path=/", t.read));
    let pair = cookie.split(';').next().expect("name=value").to_string();
    assert_eq!(ok.json::<Value>().expect("json")["token"], "reader");

    // The cookie lets a query through: reads as they are, writes from the same origin.
    let get = Client::new()
        .get(format!("{}/api/v1/sql?query=SELECT%2042%20AS%20answer", server.url()))
        .header("cookie", &pair)
        .send()
        .expect("get");
    assert_eq!(get.status().as_u16(), 200);
    let same = sql(&server).header("cookie", &pair).header("origin", &origin).send().expect("sql");
    assert_eq!(same.status().as_u16(), 200);
    assert_eq!(same.json::<Value>().expect("json")["rows"], json!([[42]]));
    let fetch_meta = sql(&server).header("cookie", &pair).header("sec-fetch-site", "same-origin").send().expect("sql");
    assert_eq!(fetch_meta.status().as_u16(), 200);

    // Cross-origin (or unproven) state-changing requests with only the cookie: 403.
    for (name, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site"), ("x-none", "1")] {
        let r = sql(&server).header("cookie", &pair).header(name, value).send().expect("sql");
        assert_eq!(r.status().as_u16(), 403, "{name}: {value}");
    }
    // An Authorization header is still taken as it was (API clients send no Origin).
    let bearer = sql(&server).header("cookie", &pair).bearer_auth(&t.read).send().expect("sql");
    assert_eq!(bearer.status().as_u16(), 200);

    // A wrong token: 401, no cookie, no challenge; a write token lacks the read scope: 403.
    let wrong = login(&server, json!({ "token": "tw_wrong" }));
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(set_cookie(wrong.headers()).is_none() && wrong.headers().get(WWW_AUTHENTICATE).is_none());
    let writer = login(&server, json!({ "token": t.write }));
    assert_eq!(writer.status().as_u16(), 403);
    assert!(set_cookie(writer.headers()).is_none());
    // A form body works too.
    let form = Client::new()
        .post(format!("{}/api/v1/login", server.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username=x&token={}", t.read))
        .send()
        .expect("form login");
    assert_eq!(form.status().as_u16(), 200);

    // A stale cookie: 401; the UI's own calls get no basic-auth challenge, API clients do.
    let stale = "tidewater_session=tw_stale";
    let ui = Client::new()
        .get(format!("{}/api/v1/dashboards", server.url()))
        .header("cookie", stale)
        .header("x-requested-with", "tidewater-ui")
        .send()
        .expect("ui call");
    assert_eq!(ui.status().as_u16(), 401);
    assert!(ui.headers().get(WWW_AUTHENTICATE).is_none());
    let api = Client::new().get(format!("{}/api/v1/dashboards", server.url())).send().expect("api call");
    assert_eq!(api.status().as_u16(), 401);
    assert!(api.headers().get_all(WWW_AUTHENTICATE).iter().any(|v| v.as_bytes().starts_with(b"Basic")));

    // Logout clears the cookie.
    let out = Client::new()
        .post(format!("{}/api/v1/logout", server.url()))
        .header("cookie", &pair)
        .header("origin", &origin)
        .send()
        .expect("logout");
    assert_eq!(out.status().as_u16(), 200);
    let cleared = set_cookie(out.headers()).expect("Set-Cookie");
    assert!(cleared.starts_with("tidewater_session=;") && cleared.contains("Max-Age=0"), "{cleared}");

    let log = server.log_lines().join("\n");
    assert!(!log.contains(t.read.as_str()), "the token leaked into the log");
}

#[test]
fn ui_login_form_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, t) = start(dir.path());
    let browser = Browser::start(1280, 900);
    let base = server.url();

    // No credentials: the page loads (public) and its first API call shows the form.
    browser.goto(&format!("{base}/#/explore?q=SELECT%2042%20AS%20answer&view=table"));
    let form = "return document.getElementById('login') ? true : null;";
    browser.wait_for("the login form", form, Duration::from_secs(30));
    let submit = |token: &str| {
        browser.eval(&format!(
            "document.getElementById('login-token').value = {};
             document.querySelector('#login button[type=submit]').click(); return true;",
            json!(token)
        ));
    };
    submit("tw_wrong");
    let error = browser.wait_for(
        "the login error",
        "const e = document.querySelector('.login-error'); return e && e.textContent ? e.textContent : null;",
        Duration::from_secs(30),
    );
    assert_eq!(error, "invalid token");

    // The read token: the page reloads signed in and Explore shows the result.
    submit(&t.read);
    let cell = browser.wait_for(
        "the explore table",
        "if (document.getElementById('login')) return null;
         const c = document.querySelector('.explore-result table.result tbody td'); return c ? c.textContent : null;",
        Duration::from_secs(60),
    );
    assert_eq!(cell, "42");
    assert_eq!(browser.eval("return document.cookie.includes('tidewater_session')"), false, "the cookie is HttpOnly");

    // Signing out clears the cookie: the form shows again.
    browser.eval("document.querySelector('.sign-out').click(); return true;");
    browser.wait_for("the login form again", form, Duration::from_secs(30));
}
