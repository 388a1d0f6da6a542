//! The catalog: the store's metric tables and `logs` under `tidewater.public`,
//! and each rollup's tables under `tidewater.rollup_<name>`.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use tidewater_storage::Store;
use tidewater_tenant::Tenant;

use crate::rollup::{split_storage_name, storage_name};
use crate::table::MetricTable;

/// Catalog name.
pub const CATALOG: &str = "tidewater";
/// Schema holding the metric tables and `logs`.
pub const SCHEMA: &str = "public";

/// Lists one tenant's tables of the store and hands out providers for
/// them. Without a namespace it lists the metric tables (names without a
/// `.`); with one, the tables stored as `{namespace}.{table}` (a rollup), by
/// their short names. Names of other tenants' tables are neither listed
/// nor opened, however they are qualified or spelled.
#[derive(Debug)]
pub struct StoreSchema {
    store: Arc<Store>,
    segments_url: ObjectStoreUrl,
    tenant: Tenant,
    namespace: Option<String>,
}

impl StoreSchema {
    /// A schema provider over `tenant`'s metric tables of `store`.
    pub fn new(store: Arc<Store>, segments_url: ObjectStoreUrl, tenant: Tenant) -> Self {
        Self { store, segments_url, tenant, namespace: None }
    }

    /// A schema provider over the default tenant's tables of `store` stored
    /// as `{namespace}.{table}`.
    pub fn namespaced(store: Arc<Store>, segments_url: ObjectStoreUrl, namespace: &str) -> Self {
        Self { store, segments_url, tenant: Tenant::default_tenant(), namespace: Some(namespace.to_string()) }
    }

    /// The storage name of table `name` of this schema, if it can exist here.
    fn storage_name(&self, name: &str) -> Option<String> {
        if name.contains('.') || name.contains(tidewater_tenant::SEPARATOR) {
            return None;
        }
        let local = match &self.namespace {
            None => name.to_string(),
            Some(ns) => storage_name(ns, name),
        };
        Some(self.tenant.storage_name(&local))
    }

    /// The name in this schema of storage name `stored`, if it belongs here.
    fn local_name<'a>(&self, stored: &'a str) -> Option<&'a str> {
        let local = self.tenant.local_name(stored)?;
        match &self.namespace {
            None => (!local.contains('.')).then_some(local),
            Some(ns) => local.strip_prefix(ns.as_str())?.strip_prefix('.'),
        }
    }
}

#[async_trait]
impl SchemaProvider for StoreSchema {
    fn table_names(&self) -> Vec<String> {
        self.store.table_names().iter().filter_map(|n| self.local_name(n).map(str::to_string)).collect()
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
/// tables in `store`, and the [`MONITORING_SCHEMA`] once it has tables (both
/// the default tenant's: rollups and self-monitoring run for it alone).
pub fn register_rollup_schemas(
    catalog: &dyn CatalogProvider,
    store: &Arc<Store>,
    segments_url: &ObjectStoreUrl,
) -> Result<()> {
    let default = Tenant::default_tenant();
    let names: Vec<String> = store.table_names().into_iter().filter(|n| default.local_name(n).is_some()).collect();
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
