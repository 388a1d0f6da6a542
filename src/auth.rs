//! Wiring `[auth]` into the listeners: the authenticator, the PostgreSQL
//! password check, and the warning for open listeners.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use tidewater_auth::{Authenticator, Scope, Tenant, TenantSet};
use tidewater_query::pgwire::PasswordCheck;

use crate::config::Config;

/// The authenticator for `cfg`, or None when `[auth] enabled` is false.
pub fn authenticator(cfg: &Config) -> Result<Option<Arc<Authenticator>>, String> {
    let auth = Authenticator::from_config(&cfg.auth).map_err(|e| e.to_string())?;
    if let Some(a) = &auth {
        tracing::info!(tokens = ?a, "authentication on");
    }
    Ok(auth)
}

/// Log a warning for each address beyond loopback served without authentication.
pub fn warn_if_open(auth_on: bool, addrs: &[SocketAddr]) {
    if auth_on {
        return;
    }
    for addr in addrs.iter().filter(|a| !a.ip().is_loopback()) {
        tracing::warn!(%addr, "listening beyond loopback without authentication: anyone who can reach this address can write and query; set [auth] enabled = true");
    }
}

/// The PostgreSQL password check: the password is a token with the `read` scope.
pub fn pg_password(auth: &Option<Arc<Authenticator>>) -> Option<Arc<dyn PasswordCheck>> {
    auth.clone().map(|a| Arc::new(PgPassword(a)) as Arc<dyn PasswordCheck>)
}

struct PgPassword(Arc<Authenticator>);

impl PasswordCheck for PgPassword {
    /// The token's own tenant; a token that may act for more tenants picks
    /// one by naming it as the database (`psql -d acme`).
    fn check<'a>(
        &'a self,
        _user: &'a str,
        database: Option<&'a str>,
        password: &'a str,
    ) -> BoxFuture<'a, Option<Tenant>> {
        Box::pin(async move {
            let principal = self.0.check_secret(password, Scope::Read).await.ok()?;
            let asked = database.filter(|_| principal.other_tenants != TenantSet::None);
            principal.tenant_for(asked).ok()
        })
    }
}
