//! Server configuration: defaults, then a TOML file, then flags and
//! `TIDEWATER_*` environment variables (later layers win).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tidewater_ingest::metrics::PointLimits;
use tidewater_ingest::IngestLimits;
use tidewater_query::rollup::RollupConfig;
use tidewater_query::QueryConfig;
use tidewater_storage::{S3Config, StoreConfig, SyncPolicy};

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
    /// Rollups (`[[rollups]]`, none by default).
    pub rollups: Vec<RollupSection>,
    /// Alerting: rules, evaluation, notifications (`[alerting]`).
    pub alerting: tidewater_alerting::AlertingConfig,
    /// Directory of dashboard JSON files shown in the UI besides the shipped
    /// ones (empty: only the shipped ones).
    pub dashboards_dir: PathBuf,
    /// Self-monitoring (`[self_monitoring]`).
    pub self_monitoring: SelfMonitoringSection,
    /// Pipeline processors per signal (`[[pipelines.metrics]]`,
    /// `[[pipelines.logs]]`; docs/pipelines.md). Reloaded from `config_file`.
    pub pipelines: tidewater_pipeline::PipelinesConfig,
    /// Authentication (`[auth]`, off by default; docs/security.md).
    pub auth: tidewater_auth::AuthConfig,
    /// TLS on the HTTP, gRPC and PostgreSQL ports (`[tls]`, off by default).
    pub tls: TlsSection,
    /// Timeouts for slow and idle clients (`[timeouts]`).
    pub timeouts: TimeoutsSection,
    /// Per-tenant limits (`[tenancy.limits]`, `[tenancy.tenants.<name>]`;
    /// none by default).
    pub tenancy: tidewater_tenant::TenancyConfig,
    /// The file this config was read from (not a TOML key).
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
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
            rollups: Vec::new(),
            alerting: tidewater_alerting::AlertingConfig::default(),
            dashboards_dir: PathBuf::new(),
            self_monitoring: SelfMonitoringSection::default(),
            pipelines: tidewater_pipeline::PipelinesConfig::default(),
            auth: tidewater_auth::AuthConfig::default(),
            tls: TlsSection::default(),
            timeouts: TimeoutsSection::default(),
            tenancy: tidewater_tenant::TenancyConfig::default(),
            config_file: None,
        }
    }
}

/// `[tls]`: TLS (rustls) on the HTTP, gRPC and PostgreSQL ports. The files
/// are read again on SIGHUP and when their modification time changes.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// Serve TLS, and only TLS, on every port.
    pub enabled: bool,
    /// Certificate chain, PEM (the server's certificate first).
    pub cert_file: PathBuf,
    /// Private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// CA certificates, PEM, for client certificates (mTLS); empty: no
    /// client certificates asked for. When set, clients without a
    /// certificate signed by one of them are refused.
    pub client_ca_file: PathBuf,
    /// Seconds between two checks of the files' modification times (0: only
    /// SIGHUP reloads them).
    pub reload_check_secs: u64,
}

impl Default for TlsSection {
    fn default() -> Self {
        Self {
            enabled: false,
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            client_ca_file: PathBuf::new(),
            reload_check_secs: 5,
        }
    }
}

/// `[timeouts]`: limits for slow and idle clients, with or without TLS.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutsSection {
    /// Seconds a client has to send a whole HTTP request header, from the
    /// connection's start or from the first byte of a later request (and for
    /// the HTTP/2 preface on the gRPC port).
    pub http_header_read_timeout_secs: u64,
    /// Seconds an HTTP keep-alive connection may wait for its next request.
    pub http_idle_timeout_secs: u64,
    /// Seconds a client has to send a whole HTTP request body, from the end
    /// of its header; slower bodies get 408 and the connection is closed.
    pub http_body_read_timeout_secs: u64,
    /// Seconds a client has to complete the TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Seconds between HTTP/2 keep-alive pings on the gRPC port (0: none).
    pub grpc_keepalive_interval_secs: u64,
    /// Seconds to wait for a ping's answer before closing the connection.
    pub grpc_keepalive_timeout_secs: u64,
}

impl Default for TimeoutsSection {
    fn default() -> Self {
        Self {
            http_header_read_timeout_secs: 10,
            http_idle_timeout_secs: 60,
            http_body_read_timeout_secs: 60,
            tls_handshake_timeout_secs: 10,
            grpc_keepalive_interval_secs: 60,
            grpc_keepalive_timeout_secs: 20,
        }
    }
}

/// `[self_monitoring]`: Tidewater's own metrics (`/metrics`) written into its
/// own store, for the self-monitoring dashboard.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SelfMonitoringSection {
    /// Seconds between two writes of the self-metrics (0: do not write them;
    /// `/metrics` still works).
    pub interval_secs: u64,
}

impl Default for SelfMonitoringSection {
    fn default() -> Self {
        Self { interval_secs: 10 }
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
    /// ... or when one table's buffer holds this many bytes.
    pub table_flush_bytes: usize,
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
    /// Keep segments and manifests in this S3 bucket (`s3://bucket/prefix`)
    /// instead of `data_dir` (empty: `data_dir`). The WAL stays in
    /// `data_dir`. Credentials come from the `AWS_*` environment variables.
    pub object_store_url: String,
    /// Endpoint of an S3-compatible server (empty: AWS, or `AWS_ENDPOINT`).
    pub s3_endpoint: String,
    /// S3 region (empty: `AWS_REGION`, else `us-east-1`).
    pub s3_region: String,
    /// Allow a plain-HTTP `s3_endpoint`.
    pub s3_allow_http: bool,
}

impl Default for StorageSection {
    fn default() -> Self {
        let d = StoreConfig::new(".");
        Self {
            wal_sync: "always".into(),
            wal_sync_interval_ms: 100,
            flush_bytes: d.flush_bytes,
            table_flush_bytes: d.table_flush_bytes,
            flush_interval_secs: d.flush_age.as_secs(),
            max_memory_bytes: d.max_memory_bytes,
            compaction_min_segments: d.compaction_min_segments,
            compaction_max_segments: d.compaction_max_segments,
            compaction_max_bytes: d.compaction_max_bytes,
            retention_hours: d.retention.map_or(0, |r| r.as_secs() / 3600),
            table_retention_hours: std::collections::HashMap::new(),
            deletion_grace_secs: d.deletion_grace.as_secs(),
            object_store_url: String::new(),
            s3_endpoint: String::new(),
            s3_region: String::new(),
            s3_allow_http: false,
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

/// `[[rollups]]`: a downsampled copy of every gauge, sum and histogram table,
/// queried as `rollup_<name>.<table>`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RollupSection {
    /// Name (a-z, 0-9, _); the SQL schema is `rollup_<name>`.
    pub name: String,
    /// Bucket length in seconds (buckets are aligned to the Unix epoch).
    pub interval_secs: u64,
    /// Seconds after a bucket ends before it is rolled up; later points for it
    /// stay in the source table only.
    pub lag_secs: u64,
    /// Drop day-partitions of the rollup tables older than this many hours
    /// (0: keep forever; the global `retention_hours` does not apply).
    pub retention_hours: u64,
    /// Most buckets rolled up per table and step (bounds memory while catching up).
    pub max_buckets_per_step: u32,
}

impl Default for RollupSection {
    fn default() -> Self {
        let r = RollupConfig::new("", Duration::from_secs(60));
        Self {
            name: String::new(),
            interval_secs: r.interval.as_secs(),
            lag_secs: r.lag.as_secs(),
            retention_hours: 0,
            max_buckets_per_step: r.max_buckets_per_step,
        }
    }
}

impl Config {
    /// Read a TOML file (unknown keys are errors).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut c: Self = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        c.config_file = Some(path.to_path_buf());
        Ok(c)
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
        match self.s3_config() {
            Some(s3) => {
                s3.bucket_and_prefix().map_err(|e| format!("storage.object_store_url: {e}"))?;
            }
            None if !self.storage.s3_endpoint.is_empty() || !self.storage.s3_region.is_empty() => {
                return Err("storage.s3_endpoint and storage.s3_region need storage.object_store_url".into());
            }
            None => {}
        }
        tidewater_query::rollup::validate_all(&self.rollup_configs())?;
        self.alerting.validate().map_err(|e| e.to_string())?;
        self.pipelines.validate().map_err(|e| e.to_string())?;
        self.auth.validate().map_err(|e| e.to_string())?;
        self.tenancy.validate().map_err(|e| format!("tenancy.tenants: {e}"))?;
        self.validate_tls()?;
        Ok(())
    }

    fn validate_tls(&self) -> Result<(), String> {
        let t = &self.timeouts;
        let all = [
            t.http_header_read_timeout_secs,
            t.http_idle_timeout_secs,
            t.http_body_read_timeout_secs,
            t.tls_handshake_timeout_secs,
        ];
        if all.contains(&0) {
            return Err("timeouts.http_header_read_timeout_secs, http_idle_timeout_secs, \
                        http_body_read_timeout_secs and tls_handshake_timeout_secs must be positive"
                .into());
        }
        if self.tls.enabled && (self.tls.cert_file.as_os_str().is_empty() || self.tls.key_file.as_os_str().is_empty()) {
            return Err("tls.enabled needs tls.cert_file and tls.key_file".into());
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
        c.table_flush_bytes = self.storage.table_flush_bytes;
        c.flush_age = Duration::from_secs(self.storage.flush_interval_secs);
        c.max_memory_bytes = self.storage.max_memory_bytes;
        c.compaction_min_segments = self.storage.compaction_min_segments;
        c.compaction_max_segments = self.storage.compaction_max_segments;
        c.compaction_max_bytes = self.storage.compaction_max_bytes;
        let hours = |h: u64| Duration::from_secs(h.saturating_mul(3600));
        c.retention = (self.storage.retention_hours > 0).then(|| hours(self.storage.retention_hours));
        c.table_retention = self.storage.table_retention_hours.iter().map(|(t, h)| (t.clone(), hours(*h))).collect();
        c.deletion_grace = Duration::from_secs(self.storage.deletion_grace_secs);
        c.s3 = self.s3_config();
        tidewater_query::rollup::set_retention(&self.rollup_configs(), &mut c);
        c
    }

    /// The configured rollups.
    pub fn rollup_configs(&self) -> Vec<RollupConfig> {
        let hours = |h: u64| Duration::from_secs(h.saturating_mul(3600));
        self.rollups
            .iter()
            .map(|r| RollupConfig {
                name: r.name.clone(),
                interval: Duration::from_secs(r.interval_secs),
                lag: Duration::from_secs(r.lag_secs),
                retention: (r.retention_hours > 0).then(|| hours(r.retention_hours)),
                max_buckets_per_step: r.max_buckets_per_step,
            })
            .collect()
    }

    /// The object storage settings, when `storage.object_store_url` is set.
    pub fn s3_config(&self) -> Option<S3Config> {
        let s = &self.storage;
        let given = |v: &str| (!v.is_empty()).then(|| v.to_string());
        given(&s.object_store_url).map(|url| S3Config {
            url,
            endpoint: given(&s.s3_endpoint),
            region: given(&s.s3_region),
            allow_http: s.s3_allow_http,
            ..S3Config::default()
        })
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
            tenancy: self.tenancy.clone(),
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
    fn dashboards_dir_and_self_monitoring_parse() {
        let c: Config =
            toml::from_str("dashboards_dir = \"/etc/tw/dashboards\"\n[self_monitoring]\ninterval_secs = 0\n")
                .expect("parses");
        assert_eq!((c.dashboards_dir, c.self_monitoring.interval_secs), (PathBuf::from("/etc/tw/dashboards"), 0));
        assert_eq!(Config::default().self_monitoring.interval_secs, 10);
        assert!(toml::from_str::<Config>("[self_monitoring]\nevery = 1").is_err());
    }

    #[test]
    fn pipelines_parse_with_the_config_and_errors_carry_the_line() {
        let ok = "[[pipelines.metrics]]\nname = \"d\"\ntype = \"filter\"\nmetric_names = [\"debug.*\"]\n";
        let c: Config = toml::from_str(ok).expect("parses");
        c.validate().expect("valid");
        assert_eq!(c.pipelines.metrics.len(), 1);
        let bad = format!("[storage]\nwal_sync = \"always\"\n\n{}", ok.replace("metric_names", "metric_nmes"));
        let e = toml::from_str::<Config>(&bad).expect_err("unknown key").to_string();
        assert!(e.contains("line 4") && e.contains("metric_nmes"), "{e}");
    }

    #[test]
    fn object_store_keys_become_the_s3_config() {
        let text = "[storage]\nobject_store_url = \"s3://b/tw\"\ns3_endpoint = \"http://127.0.0.1:9000\"\n\
                    s3_allow_http = true\n";
        let c: Config = toml::from_str(text).expect("parses");
        c.validate().expect("valid");
        let s3 = c.store_config().s3.expect("s3 set");
        assert_eq!(
            (s3.url.as_str(), s3.endpoint.as_deref(), s3.region, s3.allow_http),
            ("s3://b/tw", Some("http://127.0.0.1:9000"), None, true)
        );
        assert!(Config::default().store_config().s3.is_none(), "local data_dir by default");
        let bad: Config = toml::from_str("[storage]\nobject_store_url = \"/tmp/x\"").expect("parses");
        assert!(bad.validate().unwrap_err().contains("s3://"));
        let orphan: Config = toml::from_str("[storage]\ns3_endpoint = \"http://x\"").expect("parses");
        assert!(orphan.validate().unwrap_err().contains("object_store_url"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
        let c: Config = toml::from_str("[storage]\nwal_sync = \"sometimes\"").expect("parses");
        assert!(c.validate().unwrap_err().contains("wal_sync"));
    }

    #[test]
    fn rollups_parse_validate_and_set_their_retention() {
        let text = "[[rollups]]\nname = \"1m\"\ninterval_secs = 60\nretention_hours = 48\n\n\
                    [[rollups]]\nname = \"1h\"\ninterval_secs = 3600\nlag_secs = 300\n";
        let c: Config = toml::from_str(text).expect("parses");
        c.validate().expect("valid");
        let r = c.rollup_configs();
        assert_eq!(
            (r[0].schema(), r[0].interval, r[0].lag),
            ("rollup_1m".into(), Duration::from_secs(60), Duration::from_secs(60))
        );
        assert_eq!((r[1].lag, r[1].retention), (Duration::from_secs(300), None));
        let s = c.store_config();
        assert_eq!(s.retention_of("rollup_1m.cpu"), Some(Duration::from_secs(48 * 3600)));
        assert_eq!(s.retention_of("rollup_1h.cpu"), None);
        let dup: Config = toml::from_str("[[rollups]]\nname = \"a\"\n[[rollups]]\nname = \"a\"\n").expect("parses");
        assert!(dup.validate().unwrap_err().contains("twice"));
        let unnamed: Config = toml::from_str("[[rollups]]\ninterval_secs = 60\n").expect("parses");
        assert!(unnamed.validate().unwrap_err().contains("name"));
    }

    /// The commented block of the example config starting at `marker`,
    /// uncommented, parsed and validated.
    fn example_block(marker: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tidewater.example.toml");
        let text = std::fs::read_to_string(path).expect("example config");
        let start = text.find(marker).expect("example block");
        let uncommented: String = text[start..]
            .lines()
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("# "))
            .map(|l| format!("{l}\n"))
            .collect();
        let c: Config = toml::from_str(&uncommented).expect("parses");
        c.validate().expect("valid");
        c
    }

    #[test]
    fn tls_and_timeouts_parse_and_validate() {
        let c = example_block("# [tls]");
        assert!(c.tls.enabled && !c.tls.client_ca_file.as_os_str().is_empty());
        assert!(!Config::default().tls.enabled, "off by default");
        assert_eq!(Config::default().timeouts.http_header_read_timeout_secs, 10);
        let no_key: Config = toml::from_str("[tls]\nenabled = true\ncert_file = \"a.pem\"").expect("parses");
        assert!(no_key.validate().unwrap_err().contains("key_file"));
        let zero: Config = toml::from_str("[timeouts]\nhttp_idle_timeout_secs = 0").expect("parses");
        assert!(zero.validate().unwrap_err().contains("positive"));
    }

    #[test]
    fn the_commented_tenancy_example_is_valid() {
        let c = example_block("# [tenancy.limits]");
        let acme = c.tenancy.limits_of(&tidewater_tenant::Tenant::new("acme").expect("valid"));
        assert_eq!(acme.ingest_rate(), Some((5000, 20000)));
        assert_eq!(acme.max_concurrent_queries(), Some(8), "from [tenancy.limits]");
    }

    #[test]
    fn the_commented_rollups_of_the_example_config_are_valid() {
        let c = example_block("# [[rollups]]");
        assert_eq!(c.rollup_configs().iter().map(|r| r.schema()).collect::<Vec<_>>(), ["rollup_1m", "rollup_1h"]);
    }
}
