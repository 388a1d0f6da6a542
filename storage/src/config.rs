//! Storage settings: where segments and manifests live, WAL sync policy,
//! flush thresholds, compaction limits, retention, and the injected clock.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::object::S3Config;

/// When the WAL is fsynced relative to acknowledging a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// fsync before every acknowledgement (group commit shares one fsync).
    Always,
    /// fsync at most this often; a crash can lose the last interval.
    Interval(Duration),
    /// Never fsync (tests and benchmarks only).
    Never,
}

/// A place where a test can make the store stop as if the process died.
///
/// The store returns an error at that point and leaves the files exactly as a
/// crash would; the test then drops the store and reopens the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// Compaction wrote and fsynced the merged segment but did not swap the manifest.
    CompactionBeforeManifestSwap,
    /// The WAL write of the n-th commit group (1-based) stops half way and fails,
    /// as on a full disk: a torn record is left at the end of the file.
    WalShortWriteAt(u64),
    /// The n-th WAL fsync (1-based) fails, as on an I/O error.
    WalSyncErrorAt(u64),
}

/// Storage settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Root of the WAL, manifest and segments (with [`StoreConfig::s3`]: of
    /// the WAL and the staging directory).
    pub data_dir: PathBuf,
    /// Keep segments and manifests in this S3 bucket instead of `data_dir`
    /// (the WAL stays on local disk). Such a store is opened with
    /// [`crate::Store::open_async`].
    pub s3: Option<S3Config>,
    /// WAL sync policy.
    pub sync: SyncPolicy,
    /// Flush the memtable when it holds this many bytes.
    pub flush_bytes: usize,
    /// Flush the memtable when one table's buffer holds this many bytes.
    pub table_flush_bytes: usize,
    /// Flush the memtable when its oldest write is this old.
    pub flush_age: Duration,
    /// Refuse writes (overload) when buffered data exceeds this many bytes.
    pub max_memory_bytes: usize,
    /// Queued write requests before callers wait.
    pub queue_depth: usize,
    /// Compact a (table, day) partition once it has at least this many small segments.
    pub compaction_min_segments: usize,
    /// Most segments merged by one compaction job.
    pub compaction_max_segments: usize,
    /// Most input bytes (segment file sizes) merged by one compaction job;
    /// segments this large or larger are never compacted again.
    pub compaction_max_bytes: u64,
    /// Drop partitions whose whole day is older than this (`None`: keep forever).
    pub retention: Option<Duration>,
    /// Per-table retention, overriding [`StoreConfig::retention`].
    pub table_retention: HashMap<String, Duration>,
    /// Retention of the tables named `{namespace}.{table}` (rollups), keyed by
    /// namespace; `None` keeps them forever. Overrides [`StoreConfig::retention`];
    /// [`StoreConfig::table_retention`] (by full name) overrides it.
    pub namespace_retention: HashMap<String, Option<Duration>>,
    /// How long files of replaced or dropped segments stay on disk for queries
    /// that listed them before they are deleted (and at the latest on next start).
    pub deletion_grace: Duration,
    /// Wall-clock time for retention and the deletion grace period.
    pub clock: Arc<dyn Clock>,
    /// Testing only: stop at this point as if the process crashed.
    pub fail_point: Option<FailPoint>,
}

impl StoreConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            s3: None,
            sync: SyncPolicy::Always,
            flush_bytes: 128 << 20,
            table_flush_bytes: 32 << 20,
            flush_age: Duration::from_secs(300),
            max_memory_bytes: 1 << 30,
            queue_depth: 256,
            compaction_min_segments: 4,
            compaction_max_segments: 32,
            compaction_max_bytes: 256 << 20,
            retention: None,
            table_retention: HashMap::new(),
            namespace_retention: HashMap::new(),
            deletion_grace: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            fail_point: None,
        }
    }

    /// The retention period of `table`: its own, else its namespace's (for
    /// `{namespace}.{table}` names), else the global one.
    pub fn retention_of(&self, table: &str) -> Option<Duration> {
        if let Some(ttl) = self.table_retention.get(table) {
            return Some(*ttl);
        }
        match table.split_once('.').and_then(|(ns, _)| self.namespace_retention.get(ns)) {
            Some(ttl) => *ttl,
            None => self.retention,
        }
    }

    /// Whether any table can have a retention period.
    pub fn has_retention(&self) -> bool {
        self.retention.is_some()
            || !self.table_retention.is_empty()
            || self.namespace_retention.values().any(Option::is_some)
    }
}
