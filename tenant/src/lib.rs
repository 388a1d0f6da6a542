//! Tenants: a tenant is a namespace. Its tables are stored under its own
//! names ([`Tenant::storage_name`]), so the query catalog of one tenant lists
//! and opens only that tenant's tables, and its limits
//! ([`TenantLimits`]) apply to it alone.
//!
//! The [`Tenant::DEFAULT`] tenant keeps the plain table names (`cpu`,
//! `rollup_1m.cpu`, `monitoring.tidewater_…`), so a single-tenant install
//! never sees a prefix. Every other tenant's table `t` is stored as
//! `{tenant}~{t}`; `~` never occurs in a normalised metric or log table
//! name, and tenant names are `[a-z0-9_-]`, so the two never meet.

mod limits;
mod name;

pub use limits::{TenancyConfig, TenantLimits};
pub use name::{InvalidTenant, Tenant, SEPARATOR};
