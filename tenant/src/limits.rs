//! `[tenancy]`: limits every tenant gets, and overrides per tenant.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::name::{InvalidTenant, Tenant};

/// Limits of one tenant. Every field is optional: unset (or 0) means no
/// per-tenant limit (the server-wide limits still apply).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimits {
    /// Samples (points, log records) per second this tenant may write.
    pub ingest_samples_per_sec: Option<u64>,
    /// Samples a tenant may write at once above its rate (default: one
    /// second's worth).
    pub ingest_burst_samples: Option<u64>,
    /// Active series over all of the tenant's tables.
    pub max_active_series: Option<u64>,
    /// Queries of this tenant running at once.
    pub max_concurrent_queries: Option<u64>,
    /// Memory one query of this tenant may use, in bytes.
    pub query_memory_bytes: Option<u64>,
    /// Longest a query of this tenant may run, in seconds.
    pub query_timeout_secs: Option<u64>,
    /// Alert rules (threshold, SLO and anomaly) this tenant may have.
    pub max_rules: Option<u64>,
}

fn set(v: Option<u64>) -> Option<u64> {
    v.filter(|v| *v > 0)
}

impl TenantLimits {
    /// These limits, with every unset field taken from `fallback`.
    pub fn or(self, fallback: TenantLimits) -> TenantLimits {
        TenantLimits {
            ingest_samples_per_sec: self.ingest_samples_per_sec.or(fallback.ingest_samples_per_sec),
            ingest_burst_samples: self.ingest_burst_samples.or(fallback.ingest_burst_samples),
            max_active_series: self.max_active_series.or(fallback.max_active_series),
            max_concurrent_queries: self.max_concurrent_queries.or(fallback.max_concurrent_queries),
            query_memory_bytes: self.query_memory_bytes.or(fallback.query_memory_bytes),
            query_timeout_secs: self.query_timeout_secs.or(fallback.query_timeout_secs),
            max_rules: self.max_rules.or(fallback.max_rules),
        }
    }

    /// The ingest rate limit as (samples per second, burst), if any.
    pub fn ingest_rate(&self) -> Option<(u64, u64)> {
        let rate = set(self.ingest_samples_per_sec)?;
        Some((rate, set(self.ingest_burst_samples).unwrap_or(rate)))
    }

    /// The active-series limit, if any.
    pub fn max_active_series(&self) -> Option<u64> {
        set(self.max_active_series)
    }

    /// The query concurrency limit, if any.
    pub fn max_concurrent_queries(&self) -> Option<u64> {
        set(self.max_concurrent_queries)
    }

    /// The per-query memory limit, if any.
    pub fn query_memory_bytes(&self) -> Option<u64> {
        set(self.query_memory_bytes)
    }

    /// The query timeout, if any.
    pub fn query_timeout(&self) -> Option<Duration> {
        set(self.query_timeout_secs).map(Duration::from_secs)
    }

    /// The rule count limit, if any.
    pub fn max_rules(&self) -> Option<u64> {
        set(self.max_rules)
    }
}

/// `[tenancy]` in the server configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TenancyConfig {
    /// Limits of every tenant (`[tenancy.limits]`).
    pub limits: TenantLimits,
    /// Overrides per tenant (`[tenancy.tenants.<name>]`); unset fields
    /// come from `limits`.
    pub tenants: BTreeMap<String, TenantLimits>,
}

impl TenancyConfig {
    /// Check that every tenant named in an override is a valid name.
    pub fn validate(&self) -> Result<(), InvalidTenant> {
        self.tenants.keys().try_for_each(|t| Tenant::new(t).map(|_| ()))
    }

    /// The limits of `tenant`.
    pub fn limits_of(&self, tenant: &Tenant) -> TenantLimits {
        match self.tenants.get(tenant.as_str()) {
            Some(own) => own.or(self.limits),
            None => self.limits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_fall_back_to_the_common_limits() {
        let c: TenancyConfig = toml::from_str(
            "[limits]\ningest_samples_per_sec = 1000\nquery_timeout_secs = 30\n\
             [tenants.acme]\ningest_samples_per_sec = 10\ningest_burst_samples = 50\n\
             [tenants.free]\nquery_timeout_secs = 0\n",
        )
        .expect("parses");
        c.validate().expect("valid");
        let acme = c.limits_of(&Tenant::new("acme").expect("valid"));
        assert_eq!(acme.ingest_rate(), Some((10, 50)));
        assert_eq!(acme.query_timeout(), Some(Duration::from_secs(30)));
        let other = c.limits_of(&Tenant::new("other").expect("valid"));
        assert_eq!(other.ingest_rate(), Some((1000, 1000)));
        let free = c.limits_of(&Tenant::new("free").expect("valid"));
        assert_eq!(free.query_timeout(), None, "0 turns the common limit off for one tenant");
        assert_eq!(TenancyConfig::default().limits_of(&Tenant::default_tenant()).ingest_rate(), None);
    }

    #[test]
    fn bad_names_and_keys_are_refused() {
        let c: TenancyConfig = toml::from_str("[tenants.Acme]\nmax_rules = 1\n").expect("parses");
        assert!(c.validate().is_err());
        assert!(toml::from_str::<TenancyConfig>("[limits]\nno_such = 1\n").is_err());
    }
}
