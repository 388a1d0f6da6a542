//! The catalog: the store's metric tables and `logs` under `tidewater.public`,
//! and each rollup's tables under `tidewater.rollup_<name>`.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use tidewater_storage::Store;

use crate::rollup::{split_storage_name, storage_name};
use crate::table::MetricTable;

/// Catalog name.
pub const CATALOG: &str = "tidewater";
/// Schema holding the metric tables and `logs`.
pub const SCHEMA: &str = "public";

/// Lists the store's tables and hands out providers for them. Without a
/// namespace it lists the metric tables (names without a `.`); with one, the
/// tables stored as `{namespace}.{table}` (a rollup), by their short names.
#[derive(Debug)]
pub struct StoreSchema {
    store: Arc<Store>,
    segments_url: ObjectStoreUrl,
    namespace: Option<String>,
}

impl StoreSchema {
    /// A schema provider over the metric tables of `store`.
    pub fn new(store: Arc<Store>, segments_url: ObjectStoreUrl) -> Self {
        Self { store, segments_url, namespace: None }
    }

    /// A schema provider over the tables of `store` stored as `{namespace}.{table}`.
    pub fn namespaced(store: Arc<Store>, segments_url: ObjectStoreUrl, namespace: &str) -> Self {
        Self { store, segments_url, namespace: Some(namespace.to_string()) }
    }

    /// The storage name of table `name` of this schema, if it can exist here.
    fn storage_name(&self, name: &str) -> Option<String> {
        match &self.namespace {
            _ if name.contains('.') => None,
            None => Some(name.to_string()),
            Some(ns) => Some(storage_name(ns, name)),
        }
    }
}

#[async_trait]
impl SchemaProvider for StoreSchema {
    fn table_names(&self) -> Vec<String> {
        let names = self.store.table_names().into_iter();
        match &self.namespace {
            None => names.filter(|n| !n.contains('.')).collect(),
            Some(ns) => {
                names.filter_map(|n| n.strip_prefix(ns.as_str())?.strip_prefix('.').map(str::to_string)).collect()
            }
        }
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(stored) = self.storage_name(name) else { return Ok(None) };
        Ok(self.store.table_schema(&stored).map(|schema| {
            Arc::new(MetricTable::new(stored, schema, self.store.clone(), self.segments_url.clone()))
                as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.storage_name(name).is_some_and(|n| self.store.table_schema(&n).is_some())
    }
}

/// The schema of Tidewater's own metrics (stored as `monitoring.<table>`),
/// kept apart from the metrics clients send to `public`.
pub const MONITORING_SCHEMA: &str = tidewater_telemetry::SCHEMA;

/// Register a `rollup_<name>` schema on `catalog` for every rollup that has
/// tables in `store`, and the [`MONITORING_SCHEMA`] once it has tables.
pub fn register_rollup_schemas(
    catalog: &dyn CatalogProvider,
    store: &Arc<Store>,
    segments_url: &ObjectStoreUrl,
) -> Result<()> {
    let names = store.table_names();
    let schemas: BTreeSet<&str> = names
        .iter()
        .filter_map(|n| {
            split_storage_name(n)
                .map(|(s, _)| s)
                .or_else(|| n.strip_prefix(MONITORING_SCHEMA)?.strip_prefix('.').map(|_| MONITORING_SCHEMA))
        })
        .collect();
    for schema in schemas {
        let provider = StoreSchema::namespaced(store.clone(), segments_url.clone(), schema);
        catalog.register_schema(schema, Arc::new(provider))?;
    }
    Ok(())
}
