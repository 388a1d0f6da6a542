//! Self-monitoring: gauges sampled from the store, and a task that writes
//! every self-metric into the store itself (as `service.name = tidewater`).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tidewater_ingest::Ingester;
use tidewater_storage::Store;
use tidewater_telemetry::metrics;

/// Register the collectors that sample `store` (bytes buffered, segments,
/// tables) and the process (resident memory, uptime) whenever the metrics
/// are read. The store is held weakly: once it is dropped they stop.
pub fn register_collectors(store: &Arc<Store>) {
    tidewater_telemetry::process_start_unix_nanos();
    let started = Instant::now();
    let store: Weak<Store> = Arc::downgrade(store);
    tidewater_telemetry::add_collector(move || {
        metrics::UPTIME_SECONDS.set(&[], started.elapsed().as_secs_f64());
        if let Some(rss) = resident_memory_bytes() {
            metrics::RESIDENT_MEMORY_BYTES.set(&[], rss as f64);
        }
        let Some(store) = store.upgrade() else { return };
        metrics::MEMTABLE_BYTES.set(&[], store.buffered_bytes() as f64);
        let segments = store.segments();
        metrics::SEGMENTS.set(&[], segments.len() as f64);
        metrics::SEGMENT_BYTES.set(&[], segments.iter().map(|s| s.bytes).sum::<u64>() as f64);
        metrics::TABLES.set(&[], store.table_names().len() as f64);
    });
}

/// Resident memory from `/proc/self/status` (Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Every `interval`, write all self-metrics through `ingester` (so they are
/// durable and queryable like any OTLP metric). Runs until aborted.
pub fn spawn_writer(ingester: Ingester, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = write_once(&ingester).await {
                tracing::warn!(error = %e, "writing self-metrics into the store failed; will retry");
            }
        }
    })
}

/// Gather the self-metrics and store them once.
pub async fn write_once(ingester: &Ingester) -> Result<(), String> {
    let families = tokio::task::spawn_blocking(tidewater_telemetry::gather).await.map_err(|e| e.to_string())?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let start = u64::try_from(tidewater_telemetry::process_start_unix_nanos()).unwrap_or(0);
    let req = crate::otlp::request(&families, start, now);
    // Converted directly (not through the client pipeline) and stored under
    // the `monitoring` schema, apart from the clients' tables in `public`.
    let mut converted = tidewater_ingest::metrics::convert(&req, &ingester.limits().point);
    for w in &mut converted.writes {
        w.table = format!("{}.{}", tidewater_telemetry::SCHEMA, w.table);
    }
    let stored = ingester
        .store(&tidewater_ingest::Tenant::default_tenant(), converted, "metrics")
        .await
        .map_err(|e| e.to_string())?;
    if stored.rejected > 0 {
        tracing::warn!(rejected = stored.rejected, reason = %stored.message, "some self-metrics were refused");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidewater_storage::StoreConfig;

    #[tokio::test]
    async fn self_metrics_land_in_the_store_as_tables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(StoreConfig::new(dir.path())).expect("store");
        register_collectors(&store);
        let ingester = Ingester::new(store.clone(), tidewater_ingest::IngestLimits::default());
        metrics::QUERY_SECONDS.observe(&["ok"], 0.01);
        write_once(&ingester).await.expect("first write");
        write_once(&ingester).await.expect("second write");
        let tables = store.table_names();
        assert!(tables.iter().all(|t| t.starts_with("monitoring.")), "only the monitoring schema: {tables:?}");
        for t in [
            "monitoring.tidewater_ingest_points_total",
            "monitoring.tidewater_memtable_bytes",
            "monitoring.tidewater_query_duration_seconds",
        ] {
            assert!(tables.iter().any(|x| x == t), "{t} missing from {tables:?}");
        }
        let rows = |t: &str| {
            store
                .snapshot_table(t)
                .expect("snapshot")
                .map_or(0, |s| s.batches.iter().map(|b| b.num_rows()).sum::<usize>())
        };
        assert_eq!(rows("monitoring.tidewater_uptime_seconds"), 2, "one row per write");
        // The first write's points were counted as ingested by the time of the second.
        assert!(rows("monitoring.tidewater_ingest_points_total") >= 2);
        store.close().await.expect("close");
    }
}
