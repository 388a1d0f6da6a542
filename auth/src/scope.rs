//! Scopes and the principal a verified token stands for.

use serde::Deserialize;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Query: SQL over HTTP, Flight SQL, PostgreSQL; the UI; read-only APIs.
    Read,
    /// Ingest: OTLP (gRPC, HTTP), Prometheus remote write.
    Write,
    /// Everything `read` and `write` may do, plus the reload endpoints.
    Admin,
}

impl Scope {
    /// The scope's name as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who a verified token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name (for logs; never the secret).
    pub name: String,
    /// The token's tenant.
    pub tenant: String,
    /// The token's scopes.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// Whether this principal may do what `needed` covers. `admin` allows everything.
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|s| *s == needed || *s == Scope::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(scopes: &[Scope]) -> Principal {
        Principal { name: "t".into(), tenant: "default".into(), scopes: scopes.to_vec() }
    }

    #[test]
    fn admin_allows_everything_and_others_only_their_own() {
        assert!(p(&[Scope::Admin]).allows(Scope::Read));
        assert!(p(&[Scope::Admin]).allows(Scope::Write));
        assert!(p(&[Scope::Read]).allows(Scope::Read));
        assert!(!p(&[Scope::Read]).allows(Scope::Write));
        assert!(!p(&[Scope::Write]).allows(Scope::Read));
        assert!(!p(&[Scope::Read, Scope::Write]).allows(Scope::Admin));
    }
}
