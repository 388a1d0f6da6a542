//! The gRPC side: one tower layer in front of every tonic service (OTLP,
//! Flight SQL). Reads the `authorization` metadata; OTLP needs `write`,
//! everything else `read`. A Flight SQL handshake with basic credentials
//! (`user:token`) answers with `authorization: Bearer <token>`, which
//! Flight SQL clients send on every later call.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::HeaderValue;
use tower::{Layer, Service};

use crate::authenticator::{Authenticator, Denied};
use crate::credentials::secret_from_authorization;
use crate::scope::Scope;

/// The Flight handshake's path.
pub const HANDSHAKE_PATH: &str = "/arrow.flight.protocol.FlightService/Handshake";
const OTLP_PREFIX: &str = "/opentelemetry.proto.collector.";

/// The scope a gRPC method at `path` needs.
pub fn grpc_scope(path: &str) -> Scope {
    if path.starts_with(OTLP_PREFIX) {
        Scope::Write
    } else {
        Scope::Read
    }
}

/// Authenticates every gRPC call (`tonic::transport::Server::layer`).
#[derive(Debug, Clone)]
pub struct GrpcAuthLayer {
    auth: Option<Arc<Authenticator>>,
}

impl GrpcAuthLayer {
    /// A layer checking calls against `auth`; None (auth off) lets every call through.
    pub fn new(auth: Option<Arc<Authenticator>>) -> Self {
        Self { auth }
    }
}

impl<S> Layer<S> for GrpcAuthLayer {
    type Service = GrpcAuth<S>;

    fn layer(&self, inner: S) -> GrpcAuth<S> {
        GrpcAuth { inner, auth: self.auth.clone() }
    }
}

/// The service [`GrpcAuthLayer`] wraps around the tonic routes.
#[derive(Debug, Clone)]
pub struct GrpcAuth<S> {
    inner: S,
    auth: Option<Arc<Authenticator>>,
}

impl<S, B> Service<http::Request<B>> for GrpcAuth<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone that was made ready is the one that serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(auth) = self.auth.clone() else {
            return Box::pin(inner.call(req));
        };
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let value = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
            let asked = req.headers().get(crate::http::TENANT_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
            match auth.authorize_tenant(value.as_deref(), grpc_scope(&path), asked.as_deref()).await {
                Ok((principal, tenant)) => {
                    req.extensions_mut().insert(principal);
                    req.extensions_mut().insert(tenant);
                    let mut response = inner.call(req).await?;
                    if path == HANDSHAKE_PATH {
                        let bearer = value.as_deref().and_then(secret_from_authorization);
                        if let Some(v) = bearer.and_then(|s| HeaderValue::from_str(&format!("Bearer {s}")).ok()) {
                            response.headers_mut().insert(AUTHORIZATION, v);
                        }
                    }
                    Ok(response)
                }
                Err(denied) => {
                    tracing::debug!(%path, reason = %denied.message(), "grpc call refused");
                    Ok(status(&denied).into_http())
                }
            }
        })
    }
}

fn status(denied: &Denied) -> tonic::Status {
    if denied.is_unauthenticated() {
        tonic::Status::unauthenticated(denied.message())
    } else {
        tonic::Status::permission_denied(denied.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_needs_write_and_flight_sql_read() {
        assert_eq!(grpc_scope("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"), Scope::Write);
        assert_eq!(grpc_scope("/opentelemetry.proto.collector.logs.v1.LogsService/Export"), Scope::Write);
        assert_eq!(grpc_scope("/arrow.flight.protocol.FlightService/DoGet"), Scope::Read);
        assert_eq!(grpc_scope(HANDSHAKE_PATH), Scope::Read);
    }
}
