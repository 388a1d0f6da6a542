//! Tidewater authentication: static tokens with scopes and a tenant, their
//! secrets stored as argon2 PHC strings (`[auth]`), verified once per
//! distinct secret and cached ([`Authenticator`]); an axum middleware for
//! the HTTP port ([`http::protect`]), which also takes the UI's session
//! cookie ([`session`]; set by `POST /api/v1/login`), and a tower layer for
//! the gRPC port ([`grpc::GrpcAuthLayer`]). The PostgreSQL port asks for
//! the token as its password (the query crate calls
//! [`Authenticator::check_secret`] through the server).

mod authenticator;
mod config;
mod credentials;
mod error;
pub mod grpc;
pub mod hash;
mod headers;
pub mod http;
mod login;
mod scope;
pub mod session;

pub use authenticator::{Authenticator, Denied, VERIFY_CONCURRENCY};
pub use config::{AuthConfig, TokenConfig};
pub use credentials::secret_from_authorization;
pub use error::{Error, Result};
pub use headers::with_security_headers;
pub use scope::{Principal, Scope, TenantRefused, TenantSet};
pub use tidewater_tenant::Tenant;
