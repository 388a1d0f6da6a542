//! Rollups (downsampling): per configured level (e.g. `1m`, `1h`), a
//! downsampled copy of every gauge, sum and histogram table, kept up to date
//! bucket by bucket as buckets close, queried as `rollup_<name>.<table>`.
//!
//! - [`config`]: one rollup's settings ([`RollupConfig`]).
//! - [`plan`]: the columns of a rollup table per metric kind and the SQL that
//!   fills a window of buckets from the source table.
//! - [`window`]: bucket arithmetic (epoch-aligned buckets, when one is closed).
//! - [`runner`]: the loop ([`RollupRunner`]) that computes closed windows
//!   through the query engine and writes them with `Store::write`.
//!
//! A rollup table is stored as table `rollup_<name>.<table>`: metric table
//! names never contain a `.`, so the names cannot collide, and the catalog
//! shows these tables only under the schema `rollup_<name>`, never in
//! `public` nor as rollup sources. Their retention is the rollup's own
//! (`StoreConfig::namespace_retention`).

pub mod config;
mod plan;
pub mod runner;
mod window;

pub use config::{set_retention, validate_all, RollupConfig};
pub use runner::{RollupRunner, StepSummary, CHECK_INTERVAL};

/// Prefix of the SQL schemas (and storage namespaces) of rollup tables.
pub const SCHEMA_PREFIX: &str = "rollup_";
/// Schema metadata key of rollup tables: the rollup's name.
pub const META_ROLLUP: &str = "tidewater.rollup";
/// Schema metadata key of rollup tables: the bucket length in seconds.
pub const META_ROLLUP_INTERVAL_SECS: &str = "tidewater.rollup_interval_secs";
/// Schema metadata key of rollup tables: the source table.
pub const META_ROLLUP_SOURCE: &str = "tidewater.rollup_source";

/// The storage name of `table`'s rollup in `schema` (`rollup_1m.cpu`).
pub fn storage_name(schema: &str, table: &str) -> String {
    format!("{schema}.{table}")
}

/// `(schema, table)` of a rollup table's storage name; `None` for other tables.
pub fn split_storage_name(name: &str) -> Option<(&str, &str)> {
    let (schema, table) = name.split_once('.')?;
    (schema.len() > SCHEMA_PREFIX.len() && schema.starts_with(SCHEMA_PREFIX) && !table.is_empty())
        .then_some((schema, table))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn storage_names_split_back() {
        assert_eq!(storage_name("rollup_1m", "cpu"), "rollup_1m.cpu");
        assert_eq!(split_storage_name("rollup_1m.cpu"), Some(("rollup_1m", "cpu")));
        assert_eq!(split_storage_name("cpu"), None);
        assert_eq!(split_storage_name("rollup_.cpu"), None);
        assert_eq!(split_storage_name("other.cpu"), None);
        assert_eq!(split_storage_name("rollup_1m."), None);
    }
}
