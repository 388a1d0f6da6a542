//! [`Authenticator`]: which principal a presented secret stands for.
//!
//! argon2 takes tens of milliseconds on purpose, too slow for every request.
//! Each distinct secret is verified once (on a blocking thread, at most
//! [`VERIFY_CONCURRENCY`] at a time, so a flood of wrong secrets cannot take
//! every core), and the outcome, good or bad, is cached under a keyed
//! BLAKE3 hash of the secret (the key is random per process). The cache
//! never holds a secret, and looking a hash up in it reveals nothing about
//! a secret's bytes through timing.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::config::{AuthConfig, TokenConfig};
use crate::credentials::secret_from_authorization;
use crate::error::Result;
use crate::hash::verify;
use crate::scope::{Principal, Scope, TenantRefused};
use tidewater_tenant::Tenant;

/// At most this many argon2 verifications run at once.
pub const VERIFY_CONCURRENCY: usize = 2;
/// Cached outcomes; past this many the cache is emptied and refills.
const MAX_CACHED: usize = 4096;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No credentials, or not in a known form (401 / `UNAUTHENTICATED`).
    Missing,
    /// A secret that matches no token (401 / `UNAUTHENTICATED`).
    Invalid,
    /// A valid token without the needed scope (403 / `PERMISSION_DENIED`).
    Forbidden {
        /// The token's name.
        token: String,
        /// The scope the request needs.
        needed: Scope,
    },
    /// A valid token asking for a tenant it may not act for (403 /
    /// `PERMISSION_DENIED`).
    WrongTenant(TenantRefused),
}

impl Denied {
    /// The message sent to the client (names no secret).
    pub fn message(&self) -> String {
        match self {
            Denied::Missing => "authentication required: send `Authorization: Bearer <token>`".into(),
            Denied::Invalid => "invalid token".into(),
            Denied::Forbidden { token, needed } => format!("token {token:?} lacks the {needed} scope"),
            Denied::WrongTenant(r) => format!("token {:?} may not act for tenant {:?}", r.token, r.tenant),
        }
    }

    /// Whether the client is unknown (401) rather than known but not allowed (403).
    pub fn is_unauthenticated(&self) -> bool {
        !matches!(self, Denied::Forbidden { .. } | Denied::WrongTenant(_))
    }
}

struct Entry {
    hash: String,
    principal: Arc<Principal>,
}

/// Verifies secrets against the configured tokens; cheap to clone behind an `Arc`.
pub struct Authenticator {
    tokens: Vec<Entry>,
    key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], Option<Arc<Principal>>>>,
    verifying: Semaphore,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.tokens.iter().map(|t| t.principal.name.as_str()).collect();
        f.debug_struct("Authenticator").field("tokens", &names).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator for `tokens` (checked by [`AuthConfig::validate`]).
    pub fn new(tokens: Vec<TokenConfig>) -> Result<Self> {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        let tokens = tokens
            .into_iter()
            .map(|t| Ok(Entry { principal: Arc::new(t.principal()?), hash: t.hash }))
            .collect::<Result<_>>()?;
        Ok(Self { tokens, key, cache: Mutex::new(HashMap::new()), verifying: Semaphore::new(VERIFY_CONCURRENCY) })
    }

    /// The authenticator for `[auth]`, or None when authentication is off.
    pub fn from_config(cfg: &AuthConfig) -> Result<Option<Arc<Self>>> {
        if !cfg.enabled {
            return Ok(None);
        }
        cfg.validate()?;
        Ok(Some(Arc::new(Self::new(cfg.all_tokens()?)?)))
    }

    /// The principal `secret` belongs to, or None.
    pub async fn authenticate(&self, secret: &str) -> Option<Arc<Principal>> {
        let key = *blake3::keyed_hash(&self.key, secret.as_bytes()).as_bytes();
        if let Some(known) = self.cache.lock().get(&key) {
            return known.clone();
        }
        // A closed semaphore never happens (we never close it); treat it as a refusal.
        let _permit = self.verifying.acquire().await.ok()?;
        // Another request may have verified the same secret while we waited.
        if let Some(known) = self.cache.lock().get(&key) {
            return known.clone();
        }
        let candidates: Vec<(String, Arc<Principal>)> =
            self.tokens.iter().map(|t| (t.hash.clone(), t.principal.clone())).collect();
        let secret = secret.to_string();
        let found = tokio::task::spawn_blocking(move || {
            // Every hash is tried, so the time taken does not tell which token matched.
            let mut found = None;
            for (hash, principal) in candidates {
                if verify(&hash, &secret) && found.is_none() {
                    found = Some(principal);
                }
            }
            found
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "token verification task failed");
            None
        });
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key, found.clone());
        found
    }

    /// Check an `Authorization` value for a request that needs `needed`.
    pub async fn authorize(&self, authorization: Option<&str>, needed: Scope) -> Result<Arc<Principal>, Denied> {
        let secret = authorization.and_then(secret_from_authorization).ok_or(Denied::Missing)?;
        self.check_secret(&secret, needed).await
    }

    /// Check an `Authorization` value for a request that needs `needed` and
    /// acts for the tenant `asked` names (`X-Scope-OrgID`; None: the
    /// token's own). Returns the principal and the tenant to act for.
    pub async fn authorize_tenant(
        &self,
        authorization: Option<&str>,
        needed: Scope,
        asked: Option<&str>,
    ) -> Result<(Arc<Principal>, Tenant), Denied> {
        let principal = self.authorize(authorization, needed).await?;
        let tenant = principal.tenant_for(asked).map_err(Denied::WrongTenant)?;
        Ok((principal, tenant))
    }

    /// Like [`Authenticator::authorize_tenant`] for a bare secret (the UI's
    /// session cookie).
    pub async fn check_secret_tenant(
        &self,
        secret: &str,
        needed: Scope,
        asked: Option<&str>,
    ) -> Result<(Arc<Principal>, Tenant), Denied> {
        let principal = self.check_secret(secret, needed).await?;
        let tenant = principal.tenant_for(asked).map_err(Denied::WrongTenant)?;
        Ok((principal, tenant))
    }

    /// Check a bare secret (a PostgreSQL password) for `needed`.
    pub async fn check_secret(&self, secret: &str, needed: Scope) -> Result<Arc<Principal>, Denied> {
        let principal = self.authenticate(secret).await.ok_or(Denied::Invalid)?;
        if principal.allows(needed) {
            Ok(principal)
        } else {
            Err(Denied::Forbidden { token: principal.name.clone(), needed })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::hash::hash_token;

    fn token(name: &str, secret: &str, scopes: &[Scope]) -> TokenConfig {
        TokenConfig {
            name: name.into(),
            hash: hash_token(secret).expect("hash"),
            scopes: scopes.to_vec(),
            tenant: "default".into(),
            tenants: Vec::new(),
        }
    }

    fn auth() -> Authenticator {
        Authenticator::new(vec![
            token("reader", "r-secret", &[Scope::Read]),
            token("writer", "w-secret", &[Scope::Write]),
        ])
        .expect("valid tokens")
    }

    #[tokio::test]
    async fn secrets_map_to_their_tokens_and_scopes_are_enforced() {
        let a = auth();
        assert_eq!(a.check_secret("r-secret", Scope::Read).await.expect("reader").name, "reader");
        assert_eq!(a.authorize(Some("Bearer w-secret"), Scope::Write).await.expect("writer").name, "writer");
        assert_eq!(
            a.check_secret("r-secret", Scope::Write).await,
            Err(Denied::Forbidden { token: "reader".into(), needed: Scope::Write })
        );
        assert!(matches!(a.check_secret("w-secret", Scope::Read).await, Err(Denied::Forbidden { .. })));
        assert_eq!(a.check_secret("nope", Scope::Read).await, Err(Denied::Invalid));
        assert_eq!(a.authorize(None, Scope::Read).await, Err(Denied::Missing));
        assert_eq!(a.authorize(Some("r-secret"), Scope::Read).await, Err(Denied::Missing));
    }

    #[tokio::test]
    async fn each_secret_is_verified_once_then_served_from_the_cache() {
        let a = auth();
        let first = Instant::now();
        assert!(a.authenticate("r-secret").await.is_some());
        assert!(a.authenticate("wrong").await.is_none());
        let slow = first.elapsed();
        let again = Instant::now();
        for _ in 0..100 {
            assert!(a.authenticate("r-secret").await.is_some());
            assert!(a.authenticate("wrong").await.is_none());
        }
        let cached = again.elapsed();
        assert!(cached < slow, "100 cached checks ({cached:?}) must beat 2 argon2 runs ({slow:?})");
        assert_eq!(a.cache.lock().len(), 2);
        assert!(a.cache.lock().keys().all(|k| k != b"r-secret".as_slice()), "the cache holds hashes only");
    }

    #[test]
    fn debug_output_names_tokens_without_hashes() {
        let text = format!("{:?}", auth());
        assert!(text.contains("reader") && !text.contains("argon2"), "{text}");
    }
}
