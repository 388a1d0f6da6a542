//! Dashboards wiring: load the provisioned dashboards, start self-monitoring.

use std::sync::Arc;
use std::time::Duration;

use tidewater_dashboards::{self_monitoring, Dashboards};
use tidewater_ingest::Ingester;
use tidewater_storage::Store;

use crate::config::Config;

/// The shipped dashboards plus those of `dashboards_dir` (read on a
/// blocking thread). An unreadable directory stops the start; bad files are
/// skipped and logged.
pub async fn load(cfg: &Config) -> Result<Arc<Dashboards>, String> {
    let dir = (!cfg.dashboards_dir.as_os_str().is_empty()).then(|| cfg.dashboards_dir.clone());
    let loaded = tokio::task::spawn_blocking(move || Dashboards::load(dir.as_deref()))
        .await
        .map_err(|e| format!("loading dashboards: {e}"))?
        .map_err(|e| format!("dashboards_dir: {e}"))?;
    tracing::info!(dashboards = loaded.list().len(), skipped = loaded.errors().len(), "dashboards loaded");
    Ok(Arc::new(loaded))
}

/// Sample the store for `/metrics`, and write the self-metrics into the
/// store every `self_monitoring.interval_secs` (none when 0).
pub fn start_self_monitoring(
    cfg: &Config,
    store: &Arc<Store>,
    ingester: &Ingester,
) -> Option<tokio::task::JoinHandle<()>> {
    self_monitoring::register_collectors(store);
    let secs = cfg.self_monitoring.interval_secs;
    (secs > 0).then(|| self_monitoring::spawn_writer(ingester.clone(), Duration::from_secs(secs)))
}
