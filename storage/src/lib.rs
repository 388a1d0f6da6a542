//! Tidewater storage engine.
//!
//! Write path: [`Store::write`] hands Arrow batches (one per table) to the
//! group-commit WAL writer ([`wal`]), which appends a checksummed, compressed
//! record, fsyncs, inserts the batches into the [`memtable`] and only then
//! acknowledges. A background flush turns the memtable into sorted, zstd
//! Parquet [`segment`]s, swaps the [`manifest`] atomically and deletes the WAL
//! files the new segments cover. On start, the manifest is loaded and the WAL
//! files it does not cover are replayed.
//!
//! Read path: [`Store::snapshot`] returns a consistent view (segments from the
//! manifest plus memtable batches) that the query crate scans.

pub mod error;
pub mod manifest;
pub mod memtable;
pub mod schema;
pub mod segment;
mod store;
pub mod wal;
mod wal_writer;

pub use error::{Error, ErrorKind, Result};
pub use store::{Snapshot, Store, StoreConfig, SyncPolicy, TableSnapshot, TableWrite, WriteOutcome};
