//! Security headers on every HTTP answer (the UI included): no MIME
//! sniffing, no framing (clickjacking), no referrer sent onwards. No CORS
//! headers are ever added, so browsers keep other origins out.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;

/// `router` with the security headers added to every response.
pub fn with_security_headers(router: Router) -> Router {
    router.layer(axum::middleware::from_fn(add_headers))
}

async fn add_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
