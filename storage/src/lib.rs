//! Tidewater storage engine.
//!
//! Write path: [`Store::write`] hands Arrow batches (one per table) to the
//! group-commit WAL writer ([`wal`]), which appends a checksummed, compressed
//! record, fsyncs, inserts the batches into the [`memtable`] and only then
//! acknowledges. A background flush turns the memtable into sorted, zstd
//! Parquet [`segment`]s, swaps the [`manifest`] atomically and deletes the WAL
//! files the new segments cover. Segments and manifests live in the local data
//! directory or, by configuration, in an S3 bucket ([`object`],
//! [`segment_store`]); the WAL is always local. On start, the manifest is
//! loaded and the WAL files it does not cover are replayed.
//!
//! In the background, [`compaction`] merges the small segments of a (table,
//! day) partition into one, and [`retention`] drops partitions past their
//! TTL; both swap the manifest once and delete the replaced files only after
//! a grace period. Float values that are exact decimals are stored as scaled
//! integers ([`encoding`]).
//!
//! Read path: [`Store::snapshot_table`] returns a consistent view (segments
//! from the manifest plus memtable batches) that the query crate scans;
//! [`Store::table_stats`] feeds system tables.

pub mod clock;
pub mod compaction;
pub mod config;
pub mod encoding;
pub mod error;
pub mod manifest;
pub mod memtable;
pub mod merge;
pub mod object;
pub mod retention;
pub mod schema;
pub mod segment;
pub mod segment_store;
pub mod stats;
mod store;
pub mod wal;
mod wal_writer;

pub use clock::{Clock, ManualClock, SystemClock};
pub use compaction::CompactionSummary;
pub use config::{FailPoint, StoreConfig, SyncPolicy};
pub use error::{Error, ErrorKind, Result};
pub use object::S3Config;
pub use stats::TableStats;
pub use store::{Snapshot, Store, TableSnapshot, TableWrite, WriteOutcome};
