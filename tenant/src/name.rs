//! [`Tenant`]: a validated tenant name and its storage naming.

use std::fmt;
use std::sync::Arc;

/// Separates a non-default tenant's name from its table name in storage.
pub const SEPARATOR: char = '~';

/// Longest tenant name.
const MAX_LEN: usize = 64;

/// A validated tenant name (`[a-z0-9_-]`, 1 to 64 characters). Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(Arc<str>);

/// A tenant name that breaks the naming rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTenant(pub String);

impl fmt::Display for InvalidTenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tenant {:?}: use 1 to {MAX_LEN} characters of a-z, 0-9, '_' and '-'", self.0)
    }
}

impl std::error::Error for InvalidTenant {}

impl Tenant {
    /// The name of the tenant every request belongs to when no other is
    /// given (auth off, or a token of the default tenant).
    pub const DEFAULT: &'static str = "default";

    /// A tenant named `name`, if the name is valid.
    pub fn new(name: &str) -> Result<Self, InvalidTenant> {
        let valid = !name.is_empty()
            && name.len() <= MAX_LEN
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            Ok(Self(Arc::from(name)))
        } else {
            Err(InvalidTenant(name.chars().take(MAX_LEN + 1).collect()))
        }
    }

    /// The default tenant.
    pub fn default_tenant() -> Self {
        Self(Arc::from(Self::DEFAULT))
    }

    /// The tenant's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the default tenant.
    pub fn is_default(&self) -> bool {
        &*self.0 == Self::DEFAULT
    }

    /// The storage name of this tenant's table `table` (`table` itself for
    /// the default tenant, `{tenant}~{table}` for the others).
    pub fn storage_name(&self, table: &str) -> String {
        if self.is_default() {
            table.to_string()
        } else {
            format!("{}{SEPARATOR}{table}", self.0)
        }
    }

    /// The tenant-local name of storage name `stored` if this tenant owns it.
    pub fn local_name<'a>(&self, stored: &'a str) -> Option<&'a str> {
        match stored.split_once(SEPARATOR) {
            None if self.is_default() => Some(stored),
            Some((tenant, table)) if !self.is_default() && tenant == &*self.0 => Some(table),
            _ => None,
        }
    }

    /// The tenant owning storage name `stored`.
    pub fn owner_of(stored: &str) -> Tenant {
        match stored.split_once(SEPARATOR) {
            Some((tenant, _)) => Tenant::new(tenant).unwrap_or_else(|_| Tenant::default_tenant()),
            None => Tenant::default_tenant(),
        }
    }
}

impl Default for Tenant {
    fn default() -> Self {
        Self::default_tenant()
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tenant({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["default", "acme", "team-a_2", "a"] {
            assert!(Tenant::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Acme", "a~b", "a.b", "a/b", "a b", &"x".repeat(65)] {
            let e = Tenant::new(bad).expect_err(bad);
            assert!(e.to_string().contains("invalid tenant"), "{e}");
        }
    }

    #[test]
    fn storage_names_keep_tenants_apart() {
        let default = Tenant::default_tenant();
        let acme = Tenant::new("acme").expect("valid");
        let other = Tenant::new("other").expect("valid");
        assert_eq!(default.storage_name("cpu"), "cpu");
        assert_eq!(default.storage_name("rollup_1m.cpu"), "rollup_1m.cpu");
        assert_eq!(acme.storage_name("cpu"), "acme~cpu");
        assert_eq!(acme.local_name("acme~cpu"), Some("cpu"));
        assert_eq!(acme.local_name("cpu"), None);
        assert_eq!(acme.local_name("other~cpu"), None);
        assert_eq!(other.local_name("acme~cpu"), None);
        assert_eq!(default.local_name("acme~cpu"), None);
        assert_eq!(default.local_name("cpu"), Some("cpu"));
        assert_eq!(Tenant::owner_of("acme~cpu"), acme);
        assert_eq!(Tenant::owner_of("cpu"), default);
    }
}
