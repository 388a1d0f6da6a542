//! Every metric Tidewater records about itself. Names follow Prometheus
//! conventions (`_total` counters, `_seconds` and `_bytes` units); label
//! values come from small fixed sets, except `table_name` (one per table,
//! bounded by [`crate::MAX_SERIES_PER_FAMILY`]).

use crate::family::Family;

/// Buckets for disk syncs: 100 µs to 2.5 s.
const FSYNC_BOUNDS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5];
/// Buckets for background jobs: 10 ms to 5 min.
const JOB_BOUNDS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
/// Buckets for queries: 1 ms to 60 s.
const QUERY_BOUNDS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Points (metrics) and records (logs) made durable, by `signal`.
pub static INGEST_POINTS: Family =
    Family::counter("tidewater_ingest_points_total", "Points and log records stored.", &["signal"]);

/// Points refused, by `signal` and `reason` (`invalid`, `series_limit`,
/// `schema_conflict`, `overloaded`).
pub static INGEST_REJECTED: Family = Family::counter(
    "tidewater_ingest_rejected_points_total",
    "Points and log records refused, by reason.",
    &["signal", "reason"],
);

/// Ingest requests refused before their body was read (too many in flight).
pub static INGEST_REFUSED_REQUESTS: Family = Family::counter(
    "tidewater_ingest_refused_requests_total",
    "Ingest requests refused because too many were in flight.",
    &[],
);

/// Samples refused because a tenant went over one of its `[tenancy]`
/// limits (requests, for the rate limit).
pub static INGEST_TENANT_REFUSED: Family = Family::counter(
    "tidewater_ingest_tenant_limited_total",
    "Ingest refused by a per-tenant limit: requests over the rate, points of series over the series limit.",
    &["tenant", "limit"],
);

/// Active series per table (seen in the last one to two hours), as the
/// series limit counts them.
pub static ACTIVE_SERIES: Family =
    Family::gauge("tidewater_active_series", "Active series per table.", &["table_name"]);

/// Duration of WAL fsyncs.
pub static WAL_FSYNC_SECONDS: Family =
    Family::histogram("tidewater_wal_fsync_duration_seconds", "Duration of WAL fsyncs.", &[], FSYNC_BOUNDS);

/// Bytes appended to the WAL.
pub static WAL_WRITTEN_BYTES: Family =
    Family::counter("tidewater_wal_written_bytes_total", "Bytes appended to the WAL.", &[]);

/// Duration of memtable flushes (one per frozen memtable), by `result`.
pub static FLUSH_SECONDS: Family = Family::histogram(
    "tidewater_flush_duration_seconds",
    "Duration of memtable flushes to segments.",
    &["result"],
    JOB_BOUNDS,
);

/// Duration of compaction jobs (one per partition merged), by `result`.
pub static COMPACTION_SECONDS: Family =
    Family::histogram("tidewater_compaction_duration_seconds", "Duration of compaction jobs.", &["result"], JOB_BOUNDS);

/// Duration of queries from admission to the end of their answer, by final
/// `state` (`ok`, `error`, `cancelled`, ...).
pub static QUERY_SECONDS: Family =
    Family::histogram("tidewater_query_duration_seconds", "Duration of queries.", &["state"], QUERY_BOUNDS);

/// Bytes buffered in the memtables, waiting for a flush.
pub static MEMTABLE_BYTES: Family =
    Family::gauge("tidewater_memtable_bytes", "Bytes buffered in memtables awaiting flush.", &[]);

/// Resident memory of the process.
pub static RESIDENT_MEMORY_BYTES: Family =
    Family::gauge("tidewater_process_resident_memory_bytes", "Resident memory of the process.", &[]);

/// Live segments and their bytes.
pub static SEGMENTS: Family = Family::gauge("tidewater_segments", "Live segment files.", &[]);

/// Bytes of the live segments.
pub static SEGMENT_BYTES: Family = Family::gauge("tidewater_segment_bytes", "Bytes of the live segment files.", &[]);

/// Tables in the store.
pub static TABLES: Family = Family::gauge("tidewater_tables", "Tables in the store.", &[]);

/// Seconds since the process started.
pub static UPTIME_SECONDS: Family = Family::gauge("tidewater_uptime_seconds", "Seconds since the server started.", &[]);

/// Points (metrics) and log records through each pipeline processor, by
/// `signal`, `processor` (its configured name), `type` and `outcome` (`in`,
/// `out`, `dropped`, `refused`, `errors`); bounded by the pipeline config.
pub static PIPELINE_ITEMS: Family = Family::counter(
    "tidewater_pipeline_items_total",
    "Points and log records through each pipeline processor, by outcome.",
    &["signal", "processor", "type", "outcome"],
);

/// Points and log records a `forward` processor sent, by `signal`,
/// `processor` and `outcome` (`delivered`, `undelivered`).
pub static PIPELINE_FORWARDED: Family = Family::counter(
    "tidewater_pipeline_forward_items_total",
    "Points and log records forwarded to another endpoint, delivered or not.",
    &["signal", "processor", "outcome"],
);

/// Bytes waiting (or in flight) in a `forward` processor's queue.
pub static PIPELINE_FORWARD_QUEUED_BYTES: Family = Family::gauge(
    "tidewater_pipeline_forward_queued_bytes",
    "Bytes in a forward processor's queue.",
    &["signal", "processor"],
);

/// Every family, in the order `/metrics` lists them.
pub static ALL: &[&Family] = &[
    &INGEST_POINTS,
    &INGEST_REJECTED,
    &INGEST_REFUSED_REQUESTS,
    &INGEST_TENANT_REFUSED,
    &ACTIVE_SERIES,
    &WAL_FSYNC_SECONDS,
    &WAL_WRITTEN_BYTES,
    &FLUSH_SECONDS,
    &COMPACTION_SECONDS,
    &QUERY_SECONDS,
    &MEMTABLE_BYTES,
    &RESIDENT_MEMORY_BYTES,
    &SEGMENTS,
    &SEGMENT_BYTES,
    &TABLES,
    &UPTIME_SECONDS,
    &PIPELINE_ITEMS,
    &PIPELINE_FORWARDED,
    &PIPELINE_FORWARD_QUEUED_BYTES,
];
