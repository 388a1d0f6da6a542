//! Scopes and the principal a verified token stands for.

use serde::Deserialize;
use tidewater_tenant::Tenant;

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
    /// The token's own tenant: the one its requests act for unless they
    /// name another it may use.
    pub tenant: Tenant,
    /// Further tenants the token may act for, chosen per request by
    /// `X-Scope-OrgID` (or the PostgreSQL database name).
    pub other_tenants: TenantSet,
    /// The token's scopes.
    pub scopes: Vec<Scope>,
}

/// The tenants beyond its own a token may act for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TenantSet {
    /// None: the token acts for its own tenant only.
    #[default]
    None,
    /// These.
    Some(Vec<Tenant>),
    /// Any tenant (`"*"`, for operators).
    Any,
}

impl Principal {
    /// Whether this principal may do what `needed` covers. `admin` allows everything.
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.iter().any(|s| *s == needed || *s == Scope::Admin)
    }

    /// The tenant a request acts for: the one it asks for (`X-Scope-OrgID`)
    /// if the token may use it, else its own. A token limited to its own
    /// tenant may name only that one.
    pub fn tenant_for(&self, asked: Option<&str>) -> Result<Tenant, TenantRefused> {
        let Some(asked) = asked.map(str::trim).filter(|a| !a.is_empty()) else { return Ok(self.tenant.clone()) };
        let refused = || TenantRefused { token: self.name.clone(), tenant: asked.chars().take(64).collect() };
        let tenant = Tenant::new(asked).map_err(|_| refused())?;
        let allowed = tenant == self.tenant
            || match &self.other_tenants {
                TenantSet::None => false,
                TenantSet::Some(list) => list.contains(&tenant),
                TenantSet::Any => true,
            };
        if allowed {
            Ok(tenant)
        } else {
            Err(refused())
        }
    }
}

/// A request named a tenant its token may not act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRefused {
    /// The token's name.
    pub token: String,
    /// The tenant asked for.
    pub tenant: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(scopes: &[Scope]) -> Principal {
        Principal {
            name: "t".into(),
            tenant: Tenant::default_tenant(),
            other_tenants: TenantSet::None,
            scopes: scopes.to_vec(),
        }
    }

    #[test]
    fn a_request_may_name_only_tenants_its_token_allows() {
        let acme = Tenant::new("acme").expect("valid");
        let mut one = p(&[Scope::Read]);
        one.tenant = acme.clone();
        assert_eq!(one.tenant_for(None), Ok(acme.clone()));
        assert_eq!(one.tenant_for(Some("acme")), Ok(acme.clone()));
        assert!(one.tenant_for(Some("other")).is_err(), "a single-tenant token cannot switch");
        assert!(one.tenant_for(Some("default")).is_err());
        let mut some = one.clone();
        some.other_tenants = TenantSet::Some(vec![Tenant::new("b").expect("valid")]);
        assert_eq!(some.tenant_for(Some("b")).map(|t| t.to_string()), Ok("b".into()));
        assert!(some.tenant_for(Some("c")).is_err());
        let mut any = one;
        any.other_tenants = TenantSet::Any;
        assert_eq!(any.tenant_for(Some("c")).map(|t| t.to_string()), Ok("c".into()));
        assert!(any.tenant_for(Some("C~x")).is_err(), "names are still checked");
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
