//! The catalog: every table in the store under `tidewater.public`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use tidewater_storage::Store;

use crate::table::MetricTable;

/// Catalog name.
pub const CATALOG: &str = "tidewater";
/// Schema holding the metric tables and `logs`.
pub const SCHEMA: &str = "public";

/// Lists the store's tables and hands out providers for them.
#[derive(Debug)]
pub struct StoreSchema {
    store: Arc<Store>,
    segments_url: ObjectStoreUrl,
}

impl StoreSchema {
    /// A schema provider over `store`.
    pub fn new(store: Arc<Store>, segments_url: ObjectStoreUrl) -> Self {
        Self { store, segments_url }
    }
}

#[async_trait]
impl SchemaProvider for StoreSchema {
    fn table_names(&self) -> Vec<String> {
        self.store.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.store.table_schema(name).map(|schema| {
            Arc::new(MetricTable::new(name.to_string(), schema, self.store.clone(), self.segments_url.clone()))
                as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.store.table_schema(name).is_some()
    }
}
