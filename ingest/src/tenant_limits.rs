//! Per-tenant ingest limits: a samples-per-second rate with a burst (token
//! bucket) and an active-series limit over all of a tenant's tables.
//! Limits come from `[tenancy]`; a tenant without limits costs one map
//! lookup per request and is not tracked.
//!
//! Tracked state is bounded, since tenant names come from clients
//! (`X-Scope-OrgID`): a sweep, at most once a minute, drops tenants idle
//! for the idle TTL (15 minutes) whose state carries nothing forward (a
//! refilled bucket, no active series); past [`DEFAULT_MAX_TRACKED_TENANTS`]
//! new tenants are refused as over the `tracked_tenants` limit. The default
//! tenant and tenants named in `[tenancy.tenants]` are never refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tidewater_storage::TableWrite;
use tidewater_tenant::{TenancyConfig, Tenant};

use crate::cardinality::SeriesLimiter;
use crate::error::{Error, Result};

/// How long a series counts as active for the per-tenant limit (as for the
/// per-table one).
const SERIES_WINDOW: Duration = Duration::from_secs(3600);

/// How long a tenant goes unseen before its state may be dropped.
pub const DEFAULT_IDLE_TTL: Duration = Duration::from_secs(15 * 60);

/// Most tenants with limit state at once; new tenants past it are refused.
pub const DEFAULT_MAX_TRACKED_TENANTS: usize = 10_000;

/// Longest between two sweeps (shorter if the idle TTL is).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Shortest between two sweeps forced by a full map, so that a flood of
/// new tenants does not scan the map on every request.
const FORCED_SWEEP_GAP: Duration = Duration::from_secs(1);

/// When a tenant refused for `tracked_tenants` may retry.
const TRACKED_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Applies `[tenancy]` limits to writes.
#[derive(Debug)]
pub struct TenantLimiter {
    config: TenancyConfig,
    idle_ttl: Duration,
    max_tenants: usize,
    state: Mutex<Tracked>,
}

/// The tenants with limit state.
#[derive(Debug)]
struct Tracked {
    tenants: HashMap<Tenant, Entry>,
    last_sweep: Instant,
}

/// One tenant's limit state.
#[derive(Debug)]
struct Entry {
    last_seen: Instant,
    bucket: Option<Bucket>,
    series: Option<Arc<SeriesLimiter>>,
}

/// A token bucket: `tokens` refill at `rate` per second up to `burst`. A
/// request larger than the burst passes when the bucket is full and leaves
/// it in debt, so big batches are slowed to the rate rather than refused forever.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    rate: f64,
    burst: f64,
}

impl Bucket {
    /// Whether the bucket has refilled by `now`: a new bucket starts full,
    /// so dropping this one then changes nothing.
    fn is_full_at(&self, now: Instant) -> bool {
        self.tokens + now.saturating_duration_since(self.last).as_secs_f64() * self.rate >= self.burst
    }
}

impl Entry {
    /// Whether dropping this entry at `now` loses nothing: idle for
    /// `idle_ttl`, its bucket refilled, and its series limiter (not in use)
    /// holds no series or none still active (all unseen for two windows).
    fn is_prunable(&self, now: Instant, idle_ttl: Duration) -> bool {
        let idle = now.saturating_duration_since(self.last_seen);
        idle >= idle_ttl
            && self.bucket.as_ref().is_none_or(|b| b.is_full_at(now))
            && self
                .series
                .as_ref()
                .is_none_or(|s| Arc::strong_count(s) == 1 && (idle >= 2 * SERIES_WINDOW || s.is_empty()))
    }
}

impl Tracked {
    /// Drop the prunable entries; returns how many.
    fn sweep(&mut self, now: Instant, idle_ttl: Duration) -> usize {
        let before = self.tenants.len();
        self.tenants.retain(|_, e| !e.is_prunable(now, idle_ttl));
        self.last_sweep = now;
        let dropped = before - self.tenants.len();
        if dropped > 0 {
            tracing::debug!(dropped, tracked = self.tenants.len(), "dropped idle tenant limit state");
        }
        dropped
    }

    /// Sweep if the last sweep is at least `gap` ago.
    fn sweep_if_due(&mut self, now: Instant, idle_ttl: Duration, gap: Duration) {
        if now.saturating_duration_since(self.last_sweep) >= gap.min(idle_ttl) {
            self.sweep(now, idle_ttl);
        }
    }
}

impl Default for TenantLimiter {
    fn default() -> Self {
        Self::new(TenancyConfig::default())
    }
}

impl TenantLimiter {
    /// A limiter for `config`.
    pub fn new(config: TenancyConfig) -> Self {
        Self::with_bounds(config, DEFAULT_IDLE_TTL, DEFAULT_MAX_TRACKED_TENANTS)
    }

    /// A limiter for `config` dropping tenants idle for `idle_ttl` and
    /// tracking at most `max_tenants` (besides the default tenant and those
    /// named in `config`).
    pub fn with_bounds(config: TenancyConfig, idle_ttl: Duration, max_tenants: usize) -> Self {
        let state = Mutex::new(Tracked { tenants: HashMap::new(), last_sweep: Instant::now() });
        Self { config, idle_ttl, max_tenants, state }
    }

    /// `tenant`'s entry, made if new (after an occasional sweep), or
    /// `tracked_tenants` refused if the map is full.
    fn entry<'a>(&self, state: &'a mut Tracked, tenant: &Tenant, now: Instant) -> Result<&'a mut Entry> {
        state.sweep_if_due(now, self.idle_ttl, SWEEP_EVERY);
        let exempt = tenant.is_default() || self.config.tenants.contains_key(tenant.as_str());
        if !exempt && state.tenants.len() >= self.max_tenants && !state.tenants.contains_key(tenant) {
            if now.saturating_duration_since(state.last_sweep) >= FORCED_SWEEP_GAP.min(self.idle_ttl) {
                state.sweep(now, self.idle_ttl);
                if state.tenants.len() >= self.max_tenants {
                    tracing::warn!(max = self.max_tenants, "refusing new tenants: too many tenants with limit state");
                }
            }
            if state.tenants.len() >= self.max_tenants {
                tidewater_telemetry::metrics::INGEST_TENANT_REFUSED.inc(&[tenant.as_str(), "tracked_tenants"]);
                return Err(Error::TenantLimit {
                    tenant: tenant.to_string(),
                    limit: format!("tracked_tenants = {} (tenants with ingest limits at once)", self.max_tenants),
                    retry_after: TRACKED_RETRY_AFTER,
                });
            }
        }
        let e = state.tenants.entry(tenant.clone()).or_insert(Entry { last_seen: now, bucket: None, series: None });
        e.last_seen = now;
        Ok(e)
    }

    /// Take `samples` from `tenant`'s rate, or refuse the whole request with
    /// the time after which it may pass. Called first for every request, so
    /// a new tenant with any limit is admitted (or refused as over
    /// `tracked_tenants`) here.
    pub fn take_samples(&self, tenant: &Tenant, samples: usize) -> Result<()> {
        let limits = self.config.limits_of(tenant);
        if limits.ingest_rate().is_none() && limits.max_active_series().is_none() {
            return Ok(());
        }
        let now = Instant::now();
        let mut state = self.state.lock();
        let entry = self.entry(&mut state, tenant, now)?;
        let Some((rate, burst)) = limits.ingest_rate() else { return Ok(()) };
        let (rate, burst, want) = (rate as f64, burst as f64, samples as f64);
        let b = entry.bucket.get_or_insert(Bucket { tokens: burst, last: now, rate, burst });
        b.tokens = (b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate).min(burst);
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
    /// Returns the refused point count and the reasons, or refuses the whole
    /// request if `tenant` is new and too many tenants are tracked.
    pub fn apply_series_limit(&self, tenant: &Tenant, writes: &mut Vec<TableWrite>) -> Result<(usize, Vec<String>)> {
        let Some(max) = self.config.limits_of(tenant).max_active_series() else { return Ok((0, Vec::new())) };
        let limiter = {
            let mut state = self.state.lock();
            let entry = self.entry(&mut state, tenant, Instant::now())?;
            entry.series.get_or_insert_with(|| Arc::new(SeriesLimiter::new(max as usize, SERIES_WINDOW))).clone()
        };
        let (refused, reasons) = limiter.apply_as_one(writes);
        if refused > 0 {
            tidewater_telemetry::metrics::INGEST_TENANT_REFUSED
                .add(&[tenant.as_str(), "max_active_series"], refused as u64);
        }
        let reasons = reasons.into_iter().map(|r| format!("tenant {tenant}: {r} (max_active_series)")).collect();
        Ok((refused, reasons))
    }

    /// How many tenants have limit state now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state.lock().tenants.len()
    }

    /// Sweep as if it were `now`; returns how many tenants were dropped.
    #[cfg(test)]
    fn sweep_at(&self, now: Instant) -> usize {
        self.state.lock().sweep(now, self.idle_ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Float64Array, RecordBatch, StringDictionaryBuilder};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};
    use tidewater_storage::schema::attribute_type;

    const LATER: Duration = Duration::from_secs(16 * 60);

    fn tenant(name: &str) -> Tenant {
        Tenant::new(name).expect("valid")
    }

    /// A metrics write of one point per host.
    fn write(hosts: &[&str]) -> Vec<TableWrite> {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        hosts.iter().for_each(|h| b.append_value(h));
        let schema =
            Schema::new(vec![Field::new("value", DataType::Float64, true), Field::new("host", attribute_type(), true)]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![Arc::new(Float64Array::from(vec![1.0; hosts.len()])), Arc::new(b.finish())],
        )
        .expect("batch");
        vec![TableWrite { table: "cpu".into(), batch }]
    }

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

    #[test]
    fn an_idle_tenant_is_pruned_once_its_bucket_has_refilled() {
        let l = limiter("[limits]\ningest_samples_per_sec = 100\n");
        let now = Instant::now();
        l.take_samples(&tenant("idle"), 10).expect("within the burst");
        l.take_samples(&tenant("debtor"), 1_000_000).expect("full bucket lets one big batch through");
        assert_eq!(l.tracked(), 2);
        assert_eq!(l.sweep_at(now), 0, "just seen");
        assert_eq!(l.sweep_at(now + LATER), 1, "idle and refilled");
        assert_eq!(l.tracked(), 1, "still in debt: dropping it would forgive the debt");
        assert_eq!(l.sweep_at(now + Duration::from_secs(3 * 3600)), 1, "debt paid off");
        assert_eq!(l.tracked(), 0);
    }

    #[test]
    fn the_cap_refuses_new_tenants_with_a_clear_error() {
        let l = TenantLimiter::with_bounds(
            toml::from_str("[limits]\ningest_samples_per_sec = 100\n[tenants.vip]\n").expect("config"),
            DEFAULT_IDLE_TTL,
            2,
        );
        let now = Instant::now();
        l.take_samples(&tenant("a"), 1).expect("room");
        l.take_samples(&tenant("b"), 1).expect("room");
        let e = l.take_samples(&tenant("c"), 1).expect_err("over the cap");
        assert!(e.to_string().contains("tracked_tenants = 2") && e.to_string().contains("\"c\""), "{e}");
        assert_eq!(e.http_status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(e.is_retryable());
        let e = l.apply_series_limit(&tenant("c"), &mut Vec::new());
        assert!(e.is_ok(), "no series limit: nothing to track");
        l.take_samples(&tenant("a"), 1).expect("known tenants keep flowing");
        l.take_samples(&Tenant::default_tenant(), 1).expect("the default tenant is never refused");
        l.take_samples(&tenant("vip"), 1).expect("configured tenants are never refused");
        assert_eq!(l.tracked(), 4);
        assert_eq!(l.sweep_at(now + LATER), 4);
        l.take_samples(&tenant("c"), 1).expect("room again once idle tenants are dropped");
    }

    #[test]
    fn a_tenant_with_active_series_is_not_pruned() {
        let l = limiter("[limits]\nmax_active_series = 2\n");
        let now = Instant::now();
        let (busy, quiet) = (tenant("busy"), tenant("quiet"));
        for t in [&busy, &quiet] {
            l.take_samples(t, 2).expect("no rate limit");
        }
        assert_eq!(l.apply_series_limit(&busy, &mut write(&["a", "b"])).expect("tracked").0, 0);
        assert_eq!(l.apply_series_limit(&quiet, &mut Vec::new()).expect("tracked").0, 0);
        assert_eq!(l.sweep_at(now + LATER), 1, "only the tenant without series");
        assert_eq!(l.sweep_at(now + SERIES_WINDOW), 0, "series still active");
        let (refused, reasons) = l.apply_series_limit(&busy, &mut write(&["c"])).expect("tracked");
        assert_eq!(refused, 1, "the limit still holds: {reasons:?}");
        assert_eq!(l.sweep_at(Instant::now() + 2 * SERIES_WINDOW), 1, "every series expired");
    }

    #[test]
    fn a_busy_tenant_is_never_pruned() {
        let l = TenantLimiter::with_bounds(
            toml::from_str("[limits]\ningest_samples_per_sec = 1000000\nmax_active_series = 10\n").expect("config"),
            Duration::ZERO,
            1,
        );
        let busy = tenant("busy");
        for _ in 0..100 {
            l.take_samples(&busy, 1).expect("within the rate");
            l.apply_series_limit(&busy, &mut write(&["a"])).expect("tracked");
            assert_eq!(l.sweep_at(Instant::now()), 0);
        }
        assert!(l.take_samples(&tenant("other"), 1).is_err(), "the busy tenant keeps its place");
    }
}
