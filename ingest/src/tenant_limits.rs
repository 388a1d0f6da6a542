//! Per-tenant ingest limits: a samples-per-second rate with a burst (token
//! bucket) and an active-series limit over all of a tenant's tables.
//! Limits come from `[tenancy]`; a tenant without limits costs one map
//! lookup per request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tidewater_storage::TableWrite;
use tidewater_tenant::{TenancyConfig, Tenant};

use crate::cardinality::SeriesLimiter;
use crate::error::{Error, Result};

/// How long a series counts as active for the per-tenant limit (as for the
/// per-table one).
const SERIES_WINDOW: Duration = Duration::from_secs(3600);

/// Applies `[tenancy]` limits to writes.
#[derive(Debug, Default)]
pub struct TenantLimiter {
    config: TenancyConfig,
    buckets: Mutex<HashMap<Tenant, Bucket>>,
    series: Mutex<HashMap<Tenant, std::sync::Arc<SeriesLimiter>>>,
}

/// A token bucket: `tokens` refill at `rate` per second up to `burst`. A
/// request larger than the burst passes when the bucket is full and leaves
/// it in debt, so big batches are slowed to the rate rather than refused forever.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl TenantLimiter {
    /// A limiter for `config`.
    pub fn new(config: TenancyConfig) -> Self {
        Self { config, ..Self::default() }
    }

    /// Take `samples` from `tenant`'s rate, or refuse the whole request with
    /// the time after which it may pass.
    pub fn take_samples(&self, tenant: &Tenant, samples: usize) -> Result<()> {
        let Some((rate, burst)) = self.config.limits_of(tenant).ingest_rate() else { return Ok(()) };
        let (rate, burst, want) = (rate as f64, burst as f64, samples as f64);
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        let b = buckets.entry(tenant.clone()).or_insert(Bucket { tokens: burst, last: now });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.tokens >= want.min(burst) {
            b.tokens -= want;
            return Ok(());
        }
        let wait = (want.min(burst) - b.tokens) / rate;
        tidewater_telemetry::metrics::INGEST_TENANT_REFUSED.inc(&[tenant.as_str(), "ingest_samples_per_sec"]);
        Err(Error::TenantLimit {
            tenant: tenant.to_string(),
            limit: format!("ingest_samples_per_sec = {rate} (burst {burst})"),
            retry_after: Duration::from_secs_f64(wait.max(0.001)).max(Duration::from_secs(1)),
        })
    }

    /// Drop the rows of `tenant`'s new series past its active-series limit.
    /// Returns the refused point count and the reasons.
    pub fn apply_series_limit(&self, tenant: &Tenant, writes: &mut Vec<TableWrite>) -> (usize, Vec<String>) {
        let Some(max) = self.config.limits_of(tenant).max_active_series() else { return (0, Vec::new()) };
        let limiter = {
            let mut all = self.series.lock();
            all.entry(tenant.clone())
                .or_insert_with(|| std::sync::Arc::new(SeriesLimiter::new(max as usize, SERIES_WINDOW)))
                .clone()
        };
        let (refused, reasons) = limiter.apply_as_one(writes);
        if refused > 0 {
            tidewater_telemetry::metrics::INGEST_TENANT_REFUSED
                .add(&[tenant.as_str(), "max_active_series"], refused as u64);
        }
        let reasons = reasons.into_iter().map(|r| format!("tenant {tenant}: {r} (max_active_series)")).collect();
        (refused, reasons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(text: &str) -> TenantLimiter {
        TenantLimiter::new(toml::from_str(text).expect("config"))
    }

    #[test]
    fn rate_limits_one_tenant_and_not_the_others() {
        let l = limiter("[tenants.acme]\ningest_samples_per_sec = 100\ningest_burst_samples = 200\n");
        let acme = Tenant::new("acme").expect("valid");
        let other = Tenant::new("other").expect("valid");
        l.take_samples(&acme, 150).expect("within the burst");
        let e = l.take_samples(&acme, 100).expect_err("over the burst");
        assert!(e.to_string().contains("ingest_samples_per_sec") && e.to_string().contains("acme"), "{e}");
        assert!(e.is_retryable());
        for _ in 0..100 {
            l.take_samples(&other, 1_000_000).expect("no limit for other tenants");
        }
    }

    #[test]
    fn a_request_larger_than_the_burst_passes_on_a_full_bucket_then_waits() {
        let l = limiter("[limits]\ningest_samples_per_sec = 10\n");
        let t = Tenant::default_tenant();
        l.take_samples(&t, 1000).expect("full bucket lets one big batch through");
        assert!(l.take_samples(&t, 1).is_err(), "then the tenant is in debt");
    }
}
