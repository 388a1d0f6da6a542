//! Server configuration: defaults, then a TOML file, then flags and
//! `TIDEWATER_*` environment variables (later layers win).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tidewater_ingest::metrics::PointLimits;
use tidewater_ingest::IngestLimits;
use tidewater_query::QueryConfig;
use tidewater_storage::{StoreConfig, SyncPolicy};

/// The whole server configuration (the TOML file's shape).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the WAL, manifest and segments.
    pub data_dir: PathBuf,
    /// OTLP/HTTP, SQL API and health endpoints.
    pub http_addr: String,
    /// OTLP/gRPC and Arrow Flight SQL.
    pub grpc_addr: String,
    /// PostgreSQL wire protocol (psql, psycopg, Grafana's PostgreSQL data source).
    pub pg_addr: String,
    /// Storage settings.
    pub storage: StorageSection,
    /// Ingest limits.
    pub ingest: IngestSection,
    /// Query limits.
    pub query: QuerySection,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./tidewater-data"),
            http_addr: "0.0.0.0:4318".into(),
            grpc_addr: "0.0.0.0:4317".into(),
            // 5433, not 5432: a PostgreSQL on the same host keeps its port.
            pg_addr: "0.0.0.0:5433".into(),
            storage: StorageSection::default(),
            ingest: IngestSection::default(),
            query: QuerySection::default(),
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// `always` (fsync before every acknowledgement), `interval`, or `none`.
    pub wal_sync: String,
    /// With `wal_sync = "interval"`: milliseconds between fsyncs.
    pub wal_sync_interval_ms: u64,
    /// Flush the memtable to segments at this many bytes.
    pub flush_bytes: usize,
    /// Flush the memtable when its oldest row is this many seconds old.
    pub flush_interval_secs: u64,
    /// Refuse writes with 429 past this many buffered bytes.
    pub max_memory_bytes: usize,
    /// Compact a day-partition of a table once it has this many segments.
    pub compaction_min_segments: usize,
    /// Most segments merged by one compaction job.
    pub compaction_max_segments: usize,
    /// Most input bytes of one compaction job (bounds its memory and I/O).
    pub compaction_max_bytes: u64,
    /// Drop day-partitions older than this many hours (0: keep forever).
    pub retention_hours: u64,
    /// Per-table retention in hours, overriding `retention_hours`.
    pub table_retention_hours: std::collections::HashMap<String, u64>,
    /// Seconds a replaced segment file is kept for queries still reading it.
    pub deletion_grace_secs: u64,
}

impl Default for StorageSection {
    fn default() -> Self {
        let d = StoreConfig::new(".");
        Self {
            wal_sync: "always".into(),
            wal_sync_interval_ms: 100,
            flush_bytes: d.flush_bytes,
            flush_interval_secs: d.flush_age.as_secs(),
            max_memory_bytes: d.max_memory_bytes,
            compaction_min_segments: d.compaction_min_segments,
            compaction_max_segments: d.compaction_max_segments,
            compaction_max_bytes: d.compaction_max_bytes,
            retention_hours: d.retention.map_or(0, |r| r.as_secs() / 3600),
            table_retention_hours: std::collections::HashMap::new(),
            deletion_grace_secs: d.deletion_grace.as_secs(),
        }
    }
}

/// `[ingest]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSection {
    /// Largest request body after decompression.
    pub max_request_bytes: usize,
    /// Most attributes per point (resource + scope + point).
    pub max_attributes_per_point: usize,
    /// Longest attribute value.
    pub max_attribute_value_len: usize,
    /// Longest metric name or attribute key.
    pub max_name_len: usize,
    /// Active series per table (0: unlimited); points of new series past it are refused.
    pub max_series_per_table: usize,
    /// Ingest requests handled at once; more get 429 / UNAVAILABLE.
    pub max_inflight_requests: usize,
}

impl Default for IngestSection {
    fn default() -> Self {
        let l = IngestLimits::default();
        Self {
            max_request_bytes: l.max_request_bytes,
            max_attributes_per_point: l.point.max_attributes,
            max_attribute_value_len: l.point.max_value_len,
            max_name_len: l.point.max_name_len,
            max_series_per_table: l.max_series_per_table,
            max_inflight_requests: l.max_inflight_requests,
        }
    }
}

/// `[query]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct QuerySection {
    /// Memory one query may use.
    pub memory_limit_bytes: usize,
    /// Longest a query may run, in seconds.
    pub timeout_secs: u64,
    /// Queries running at once; more get 429.
    pub max_concurrent_queries: usize,
    /// Most rows one result may have.
    pub max_result_rows: usize,
    /// Threads of the query runtime (separate from ingest, so a runaway
    /// query never delays OTLP acknowledgements).
    pub threads: usize,
}

impl Default for QuerySection {
    fn default() -> Self {
        let q = QueryConfig::default();
        Self {
            memory_limit_bytes: q.memory_limit_bytes,
            timeout_secs: q.timeout.as_secs(),
            max_concurrent_queries: q.max_concurrent_queries,
            max_result_rows: q.max_result_rows,
            threads: 2,
        }
    }
}

impl Config {
    /// Read a TOML file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Check values that would fail later in a confusing way.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.storage.wal_sync.as_str(), "always" | "interval" | "none") {
            return Err(format!("storage.wal_sync must be always, interval or none, not {:?}", self.storage.wal_sync));
        }
        if self.storage.compaction_min_segments < 2 {
            return Err("storage.compaction_min_segments must be at least 2".into());
        }
        if self.ingest.max_request_bytes == 0 {
            return Err("ingest.max_request_bytes must be positive".into());
        }
        if self.query.timeout_secs == 0 {
            return Err("query.timeout_secs must be positive".into());
        }
        Ok(())
    }

    /// Storage settings for the store.
    pub fn store_config(&self) -> StoreConfig {
        let mut c = StoreConfig::new(&self.data_dir);
        c.sync = match self.storage.wal_sync.as_str() {
            "interval" => SyncPolicy::Interval(Duration::from_millis(self.storage.wal_sync_interval_ms.max(1))),
            "none" => SyncPolicy::Never,
            _ => SyncPolicy::Always,
        };
        c.flush_bytes = self.storage.flush_bytes;
        c.flush_age = Duration::from_secs(self.storage.flush_interval_secs);
        c.max_memory_bytes = self.storage.max_memory_bytes;
        c.compaction_min_segments = self.storage.compaction_min_segments;
        c.compaction_max_segments = self.storage.compaction_max_segments;
        c.compaction_max_bytes = self.storage.compaction_max_bytes;
        let hours = |h: u64| Duration::from_secs(h.saturating_mul(3600));
        c.retention = (self.storage.retention_hours > 0).then(|| hours(self.storage.retention_hours));
        c.table_retention = self.storage.table_retention_hours.iter().map(|(t, h)| (t.clone(), hours(*h))).collect();
        c.deletion_grace = Duration::from_secs(self.storage.deletion_grace_secs);
        c
    }

    /// Ingest limits.
    pub fn ingest_limits(&self) -> IngestLimits {
        IngestLimits {
            max_request_bytes: self.ingest.max_request_bytes,
            point: PointLimits {
                max_attributes: self.ingest.max_attributes_per_point,
                max_value_len: self.ingest.max_attribute_value_len,
                max_name_len: self.ingest.max_name_len,
            },
            max_series_per_table: self.ingest.max_series_per_table,
            max_inflight_requests: self.ingest.max_inflight_requests,
        }
    }

    /// Query limits, running on `runtime`.
    pub fn query_config(&self, runtime: Option<tokio::runtime::Handle>) -> QueryConfig {
        QueryConfig {
            memory_limit_bytes: self.query.memory_limit_bytes,
            timeout: Duration::from_secs(self.query.timeout_secs),
            max_concurrent_queries: self.query.max_concurrent_queries,
            max_result_rows: self.query.max_result_rows,
            runtime,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_validates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tidewater.example.toml");
        let c = Config::from_file(&path).expect("example config parses");
        c.validate().expect("example config is valid");
        assert_eq!(c.http_addr, "0.0.0.0:4318");
        assert_eq!(c.pg_addr, "0.0.0.0:5433");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
        let c: Config = toml::from_str("[storage]\nwal_sync = \"sometimes\"").expect("parses");
        assert!(c.validate().unwrap_err().contains("wal_sync"));
    }
}
